//! MP4 clips with H.264 video: demuxed and muxed by the `mp4` crate, decoded and encoded by
//! OpenH264 (built from source, so no system library is needed). OpenH264 decodes the
//! Constrained Baseline profile (and the Main and High profiles without interlacing); it
//! encodes Constrained Baseline. An AAC sound track is carried from the clip read to the clip
//! written, cut to the frames rendered.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use image::RgbImage;
use mp4::{AacConfig, AvcConfig, MediaConfig, Mp4Config, Mp4Reader, Mp4Sample, Mp4Writer, TrackConfig, TrackType};
use openh264::decoder::Decoder;
use openh264::encoder::{BitRate, Encoder, EncoderConfig, FrameRate, FrameType};
use openh264::formats::{RgbSliceU8, YUVBuffer, YUVSource};
use openh264::OpenH264API;

use crate::error::{Error, Result};

/// The time units per frame of the video written (the track's timescale is `fps * TICKS`).
const TICKS: u32 = 1000;

/// Bits per pixel and frame the encoder aims at.
const BITS_PER_PIXEL: f64 = 1.0;

/// An MP4 clip's H.264 frames, decoded one sample at a time.
pub struct Mp4Frames {
    path: PathBuf,
    reader: Mp4Reader<BufReader<File>>,
    track: u32,
    next_sample: u32,
    samples: u32,
    /// Bytes of each NAL unit's length in a sample.
    length_size: usize,
    decoder: Decoder,
    /// The parameter sets in Annex B form, fed before the first sample.
    parameters: Option<Vec<u8>>,
    decoded: VecDeque<RgbImage>,
    flushed: bool,
    /// The stream's H.264 profile, named (for a frame that cannot be decoded).
    profile: &'static str,
}

/// What an MP4's video track holds.
pub struct Mp4Info {
    /// Frames (samples) in the track.
    pub frames: usize,
    /// Frames per second.
    pub fps: f64,
    /// Width and height.
    pub size: (u32, u32),
    /// Whether it has an AAC sound track.
    pub audio: bool,
    /// The H.264 profile, named ("Baseline", "High").
    pub profile: &'static str,
}

impl Mp4Frames {
    /// Opens the MP4 at `path` and finds its H.264 track.
    pub fn open(path: &Path) -> Result<(Self, Mp4Info)> {
        let fail = |reason: String| Error::Clip { path: path.to_path_buf(), reason };
        let file = File::open(path).map_err(|e| fail(e.to_string()))?;
        let size = file.metadata().map_err(|e| fail(e.to_string()))?.len();
        let reader = Mp4Reader::read_header(BufReader::new(file), size).map_err(|e| {
            fail(format!(
                "not a readable MP4 ({e}): if it plays elsewhere, convert it, for example \
                 `ffmpeg -i {} -c:v libx264 clip.mp4`",
                path.display()
            ))
        })?;
        let video = reader.tracks().values().find(|t| t.track_type().is_ok_and(|k| k == TrackType::Video));
        let track = video.ok_or_else(|| fail("it has no video track".into()))?;
        let Some(avc1) = &track.trak.mdia.minf.stbl.stsd.avc1 else {
            let kind = track.box_type().map(|b| b.to_string()).unwrap_or_else(|_| "unknown".into());
            return Err(fail(format!(
                "its video is {kind}, which the built-in decoder does not read: {}",
                crate::video::ffmpeg::install_hint()
            )));
        };
        let mut parameters = Vec::new();
        for nal in avc1.avcc.sequence_parameter_sets.iter().chain(&avc1.avcc.picture_parameter_sets) {
            parameters.extend_from_slice(&[0, 0, 0, 1]);
            parameters.extend_from_slice(&nal.bytes);
        }
        let profile = match avc1.avcc.avc_profile_indication {
            66 => "Baseline",
            77 => "Main",
            88 => "Extended",
            100 => "High",
            _ => "a high-bit-depth or 4:2:2 profile",
        };
        let info = Mp4Info {
            frames: track.sample_count() as usize,
            fps: frame_rate(track),
            size: (u32::from(track.width()), u32::from(track.height())),
            audio: reader.tracks().values().any(|t| t.audio_profile().is_ok()),
            profile,
        };
        if info.frames == 0 {
            return Err(fail("the clip has no frames".into()));
        }
        let decoder = Decoder::new().map_err(|e| fail(format!("cannot start the H.264 decoder: {e}")))?;
        let frames = Mp4Frames {
            path: path.to_path_buf(),
            track: track.track_id(),
            next_sample: 1,
            samples: track.sample_count(),
            length_size: usize::from(avc1.avcc.length_size_minus_one & 3) + 1,
            reader,
            decoder,
            parameters: Some(parameters),
            decoded: VecDeque::new(),
            flushed: false,
            profile,
        };
        Ok((frames, info))
    }

    /// The next frame in display order, `None` after the last.
    pub fn next_frame(&mut self) -> Result<Option<RgbImage>> {
        let fail = |reason: String| Error::Clip { path: self.path.clone(), reason };
        while self.decoded.is_empty() {
            if self.next_sample > self.samples {
                if self.flushed {
                    return Ok(None);
                }
                self.flushed = true;
                let rest = self.decoder.flush_remaining().map_err(|e| fail(format!("decoding: {e}")))?;
                let rest: Vec<RgbImage> = rest.iter().map(to_rgb).collect();
                self.decoded.extend(rest);
                continue;
            }
            let id = self.next_sample;
            self.next_sample += 1;
            let sample = self
                .reader
                .read_sample(self.track, id)
                .map_err(|e| fail(format!("frame {id}: {e} (truncated?)")))?
                .ok_or_else(|| fail(format!("frame {id} is missing (truncated?)")))?;
            let mut packet = self.parameters.take().unwrap_or_default();
            annex_b(&sample.bytes, self.length_size, &mut packet).map_err(|e| fail(format!("frame {id}: {e}")))?;
            let profile = self.profile;
            let picture = self.decoder.decode(&packet).map_err(|e| {
                let hint = if profile == "Baseline" {
                    "damaged?".to_string()
                } else {
                    format!(
                        "the clip is {profile} H.264 and this decoder (OpenH264) reads Baseline without \
                         B-frames: convert it, for example `ffmpeg -i clip.mp4 -c:v libx264 -profile:v \
                         baseline clip-baseline.mp4`"
                    )
                };
                fail(format!("frame {id} cannot be decoded ({}): {hint}", first_words(&e.to_string())))
            })?;
            if let Some(yuv) = picture {
                let rgb = to_rgb(&yuv);
                self.decoded.push_back(rgb);
            }
        }
        Ok(self.decoded.pop_front())
    }
}

/// Frames per second of a video track: its samples over its media duration (the `mp4` crate's
/// own rounds to whole frames per second, and 23.976 is not 23).
fn frame_rate(track: &mp4::Mp4Track) -> f64 {
    let mdhd = &track.trak.mdia.mdhd;
    if mdhd.duration == 0 || mdhd.timescale == 0 {
        return track.frame_rate();
    }
    f64::from(track.sample_count()) * f64::from(mdhd.timescale) / mdhd.duration as f64
}

/// The start of a decoder's message, before its diagnostics.
fn first_words(message: &str) -> String {
    message.split(". ").next().unwrap_or(message).trim_end_matches('.').to_string()
}

/// A decoded picture as RGB.
fn to_rgb(yuv: &impl DecodedPicture) -> RgbImage {
    let (w, h) = yuv.size();
    let mut rgb = vec![0u8; w * h * 3];
    yuv.rgb8(&mut rgb);
    RgbImage::from_raw(w as u32, h as u32, rgb).unwrap_or_else(|| RgbImage::new(w as u32, h as u32))
}

/// What [`to_rgb`] needs of a decoded picture.
trait DecodedPicture {
    fn size(&self) -> (usize, usize);
    fn rgb8(&self, target: &mut [u8]);
}

impl DecodedPicture for openh264::decoder::DecodedYUV<'_> {
    fn size(&self) -> (usize, usize) {
        self.dimensions()
    }
    fn rgb8(&self, target: &mut [u8]) {
        self.write_rgb8(target);
    }
}

/// Appends the NAL units of an MP4 sample (each after its length) to `out` in Annex B form
/// (each after a start code).
fn annex_b(sample: &[u8], length_size: usize, out: &mut Vec<u8>) -> std::result::Result<(), String> {
    let mut at = 0;
    while at < sample.len() {
        if at + length_size > sample.len() {
            return Err("a NAL unit's length is cut off".into());
        }
        let len = sample[at..at + length_size].iter().fold(0usize, |n, &b| (n << 8) | usize::from(b));
        at += length_size;
        let nal = sample.get(at..at + len).ok_or("a NAL unit is cut off")?;
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(nal);
        at += len;
    }
    Ok(())
}

/// The NAL units of an Annex B stream, start codes removed.
fn nal_units(stream: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= stream.len() {
        if stream[i] == 0 && stream[i + 1] == 0 && stream[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    starts
        .iter()
        .enumerate()
        .map(|(k, &s)| {
            let mut end = starts.get(k + 1).map_or(stream.len(), |&n| n - 3);
            // A four-byte start code leaves a zero behind the unit before it.
            while end > s && stream[end - 1] == 0 && k + 1 < starts.len() {
                end -= 1;
            }
            &stream[s..end]
        })
        .collect()
}

/// Where the sound of a clip written comes from: an MP4's AAC track, between two times.
#[derive(Debug, Clone)]
pub struct SoundSource {
    /// The MP4 read.
    pub clip: PathBuf,
    /// Seconds from which the sound is kept.
    pub from: f64,
    /// Seconds until which it is kept.
    pub to: f64,
}

/// Writes `frames` (PNG files, all one size) as an H.264 MP4 at `fps` to `path`, with the
/// sound of `sound` when it has an AAC track. Frames of odd width or height lose their last
/// column or row (H.264's colour planes are half size). Returns whether sound was written.
pub fn write_mp4(frames: &[PathBuf], fps: f64, path: &Path, sound: Option<&SoundSource>) -> Result<bool> {
    let fail = |e: &dyn std::fmt::Display| Error::Save { path: path.to_path_buf(), reason: e.to_string() };
    let first = crate::imageio::load_rgb(frames.first().ok_or_else(|| fail(&"no frames"))?)?;
    let (w, h) = (first.width() & !1, first.height() & !1);
    if w < 16 || h < 16 {
        return Err(fail(&format!("frames of {w}x{h} are too small for H.264 (16x16 at least)")));
    }
    // About a bit a pixel: painted pictures are all detail, which a baseline encoder at the
    // usual rates (0.1-0.3) smears away (measured: 24 dB at 0.3, see docs/video.md).
    let bits = (f64::from(w * h) * fps * BITS_PER_PIXEL).clamp(2e5, 6e7) as u32;
    // Every frame is kept: the rate control may not skip one to meet the bit rate.
    let config = EncoderConfig::new()
        .bitrate(BitRate::from_bps(bits))
        .max_frame_rate(FrameRate::from_hz(fps as f32))
        .skip_frames(false);
    let mut encoder = Encoder::with_api_config(OpenH264API::from_source(), config).map_err(|e| fail(&e))?;
    let timescale = (fps * f64::from(TICKS)).round().max(1.0) as u32;
    let file = File::create(path).map_err(|e| fail(&e))?;
    let brands = ["isom", "iso2", "avc1", "mp41"].iter().filter_map(|b| b.parse().ok()).collect();
    let major = "isom".parse().map_err(|e| fail(&e))?;
    let mut writer = Mp4Writer::write_start(
        BufWriter::new(file),
        &Mp4Config { major_brand: major, minor_version: 512, compatible_brands: brands, timescale: 1000 },
    )
    .map_err(|e| fail(&e))?;
    let mut track_added = false;
    for (i, file) in frames.iter().enumerate() {
        let frame = crate::imageio::load_rgb(file)?;
        let frame = if frame.dimensions() == (w, h) {
            frame
        } else if frame.width() & !1 == w && frame.height() & !1 == h {
            image::imageops::crop_imm(&frame, 0, 0, w, h).to_image()
        } else {
            return Err(fail(&format!("{} is not {}x{}", file.display(), first.width(), first.height())));
        };
        let yuv = YUVBuffer::from_rgb8_source(RgbSliceU8::new(frame.as_raw(), (w as usize, h as usize)));
        debug_assert_eq!(yuv.dimensions(), (w as usize, h as usize));
        let stream = encoder.encode(&yuv).map_err(|e| fail(&e))?;
        let is_sync = matches!(stream.frame_type(), FrameType::IDR | FrameType::I);
        let annex = stream.to_vec();
        let mut sample = Vec::with_capacity(annex.len());
        let (mut sps, mut pps) = (None, None);
        for nal in nal_units(&annex) {
            match nal.first().map(|b| b & 0x1f) {
                Some(7) => sps = Some(nal.to_vec()),
                Some(8) => pps = Some(nal.to_vec()),
                Some(_) => {
                    let len = u32::try_from(nal.len()).map_err(|e| fail(&e))?;
                    sample.extend_from_slice(&len.to_be_bytes());
                    sample.extend_from_slice(nal);
                }
                None => {}
            }
        }
        if sample.is_empty() {
            return Err(fail(&format!("the encoder gave nothing for frame {}", i + 1)));
        }
        if !track_added {
            let (Some(sps), Some(pps)) = (sps, pps) else {
                return Err(fail(&"the encoder gave no parameter sets with its first frame"));
            };
            let avc = AvcConfig { width: w as u16, height: h as u16, seq_param_set: sps, pic_param_set: pps };
            let track = TrackConfig {
                track_type: TrackType::Video,
                timescale,
                language: "und".into(),
                media_conf: MediaConfig::AvcConfig(avc),
            };
            writer.add_track(&track).map_err(|e| fail(&e))?;
            track_added = true;
        }
        let sample = Mp4Sample {
            start_time: i as u64 * u64::from(TICKS),
            duration: TICKS,
            rendering_offset: 0,
            is_sync,
            bytes: bytes::Bytes::from(sample),
        };
        writer.write_sample(1, &sample).map_err(|e| fail(&e))?;
    }
    let sound = match sound {
        Some(source) => copy_sound(source, &mut writer).map_err(|e| fail(&e))?,
        None => false,
    };
    writer.write_end().map_err(|e| fail(&e))?;
    let mut out = writer.into_writer();
    out.flush().map_err(|e| fail(&e))?;
    out.get_ref().sync_all().map_err(|e| fail(&e))?;
    Ok(sound)
}

/// Adds the AAC track of `source` between its times to `writer` as track 2; false when the
/// clip has none.
fn copy_sound<W: Write + std::io::Seek>(source: &SoundSource, writer: &mut Mp4Writer<W>) -> mp4::Result<bool> {
    let file = File::open(&source.clip)?;
    let size = file.metadata()?.len();
    let mut reader = Mp4Reader::read_header(BufReader::new(file), size)?;
    let Some(track) = reader.tracks().values().find(|t| t.audio_profile().is_ok()) else { return Ok(false) };
    let config = AacConfig {
        bitrate: track.bitrate(),
        profile: track.audio_profile()?,
        freq_index: track.sample_freq_index()?,
        chan_conf: track.channel_config()?,
    };
    let (id, timescale, count) = (track.track_id(), track.timescale(), track.sample_count());
    writer.add_track(&TrackConfig {
        track_type: TrackType::Audio,
        timescale,
        language: track.language().to_string(),
        media_conf: MediaConfig::AacConfig(config),
    })?;
    let (from, to) = ((source.from * f64::from(timescale)) as u64, (source.to * f64::from(timescale)) as u64);
    for sample_id in 1..=count {
        let Some(sample) = reader.read_sample(id, sample_id)? else { break };
        if sample.start_time < from {
            continue;
        }
        if sample.start_time >= to {
            break;
        }
        let shifted = Mp4Sample { start_time: sample.start_time - from, ..sample };
        writer.write_sample(2, &shifted)?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annex_b_and_length_prefixed_units_convert_both_ways() {
        let sample = [0, 0, 0, 2, 0x65, 0xAA, 0, 0, 0, 3, 0x41, 0, 7];
        let mut annex = Vec::new();
        annex_b(&sample, 4, &mut annex).unwrap();
        assert_eq!(annex, [0, 0, 0, 1, 0x65, 0xAA, 0, 0, 0, 1, 0x41, 0, 7]);
        assert_eq!(nal_units(&annex), vec![&[0x65, 0xAA][..], &[0x41, 0, 7][..]]);
        assert!(annex_b(&[0, 0, 0, 9, 1], 4, &mut Vec::new()).is_err());
    }

    /// An MP4 holding only an AAC track of `n` samples of 1024 ticks at 44.1 kHz, each sample's
    /// bytes its number.
    fn sound_only(path: &Path, n: u32) {
        let file = File::create(path).unwrap();
        let config = Mp4Config {
            major_brand: "isom".parse().unwrap(),
            minor_version: 512,
            compatible_brands: vec!["isom".parse().unwrap()],
            timescale: 1000,
        };
        let mut writer = Mp4Writer::write_start(BufWriter::new(file), &config).unwrap();
        writer
            .add_track(&TrackConfig {
                track_type: TrackType::Audio,
                timescale: 44100,
                language: "und".into(),
                media_conf: MediaConfig::AacConfig(AacConfig::default()),
            })
            .unwrap();
        for i in 0..n {
            let sample = Mp4Sample {
                start_time: u64::from(i) * 1024,
                duration: 1024,
                rendering_offset: 0,
                is_sync: true,
                bytes: bytes::Bytes::from(vec![i as u8; 8]),
            };
            writer.write_sample(1, &sample).unwrap();
        }
        writer.write_end().unwrap();
    }

    #[test]
    fn frames_written_as_mp4_read_back_close_with_the_sound_of_their_time_span() {
        let dir = tempfile::tempdir().unwrap();
        let frames: Vec<PathBuf> = (0..6)
            .map(|t| {
                let path = dir.path().join(format!("{t}.png"));
                RgbImage::from_fn(67, 48, |x, y| {
                    image::Rgb([(x * 3 + t * 9) as u8, (y * 5) as u8, ((x + y) * 2) as u8])
                })
                .save(&path)
                .unwrap();
                path
            })
            .collect();
        // 88 sound samples of 1024 ticks at 44.1 kHz: about 2 s.
        let sound = dir.path().join("sound.mp4");
        sound_only(&sound, 88);
        let out = dir.path().join("out.mp4");
        let source = SoundSource { clip: sound, from: 0.5, to: 1.0 };
        assert!(write_mp4(&frames, 12.0, &out, Some(&source)).unwrap());
        let (mut clip, info) = Mp4Frames::open(&out).unwrap();
        assert_eq!((info.frames, info.size, info.audio), (6, (66, 48), true));
        assert!((info.fps - 12.0).abs() < 1e-6, "{} fps", info.fps);
        for (t, path) in frames.iter().enumerate() {
            let decoded = clip.next_frame().unwrap().unwrap();
            let original = crate::imageio::load_rgb(path).unwrap();
            let mse: f64 = decoded
                .pixels()
                .zip(image::imageops::crop_imm(&original, 0, 0, 66, 48).to_image().pixels())
                .flat_map(|(a, b)| (0..3).map(move |c| (f64::from(a[c]) - f64::from(b[c])).powi(2)))
                .sum::<f64>()
                / (66.0 * 48.0 * 3.0);
            let psnr = 10.0 * (255.0f64.powi(2) / mse.max(1e-9)).log10();
            assert!(psnr > 28.0, "frame {t}: PSNR {psnr:.1} dB");
        }
        assert!(clip.next_frame().unwrap().is_none());
        // The sound between 0.5 s and 1 s: samples 22..=43 (start times 22528..44032 ticks).
        let file = File::open(&out).unwrap();
        let size = file.metadata().unwrap().len();
        let mut reader = Mp4Reader::read_header(BufReader::new(file), size).unwrap();
        let track = reader.tracks().values().find(|t| t.audio_profile().is_ok()).unwrap();
        let (id, count) = (track.track_id(), track.sample_count());
        let first = reader.read_sample(id, 1).unwrap().unwrap();
        assert_eq!((count, first.start_time, first.bytes[0]), (22, 0, 22));
    }
}
