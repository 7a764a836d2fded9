//! What a clip is, as ffprobe reads it: its video stream's codec and profile, size as shown
//! (rotation and pixel shape applied), frame rate (a variable one made constant), frame count,
//! colours, and whether it has sound.

use std::path::Path;
use std::process::{Command, Stdio};

use serde::Deserialize;

use super::{last_line, Ffmpeg};
use crate::error::{Error, Result};

/// A frame rate as a fraction (30000/1001 for 29.97).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Numerator.
    pub num: u32,
    /// Denominator.
    pub den: u32,
}

impl Rate {
    /// Reads `30000/1001` (or `25`); `None` for 0/0 and other non-rates.
    pub fn parse(text: &str) -> Option<Rate> {
        let (num, den) = text.split_once('/').unwrap_or((text, "1"));
        let (num, den) = (num.trim().parse().ok()?, den.trim().parse().ok()?);
        (num > 0 && den > 0).then_some(Rate { num, den })
    }

    /// The rate `fps` is closest to: the NTSC rates as n*1000/1001, others to a thousandth.
    pub fn of(fps: f64) -> Rate {
        let ntsc = fps * 1001.0 / 1000.0;
        if (ntsc - ntsc.round()).abs() < 1e-3 && (fps - fps.round()).abs() > 1e-3 {
            return Rate { num: ntsc.round() as u32 * 1000, den: 1001 };
        }
        if (fps - fps.round()).abs() < 1e-6 {
            return Rate { num: fps.round().max(1.0) as u32, den: 1 };
        }
        Rate { num: (fps * 1000.0).round().max(1.0) as u32, den: 1000 }
    }

    /// Frames per second.
    pub fn fps(self) -> f64 {
        f64::from(self.num) / f64::from(self.den)
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.num, self.den)
    }
}

/// The rates cameras record at; a variable rate is made the nearest of these when within 3%.
const STANDARD_RATES: [(u32, u32); 10] =
    [(24000, 1001), (24, 1), (25, 1), (30000, 1001), (30, 1), (48, 1), (50, 1), (60000, 1001), (60, 1), (120, 1)];

/// How a clip's colours are coded, as ffprobe names them (empty: not said).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Colour {
    /// `tv` (limited) or `pc` (full).
    pub range: String,
    /// The YUV matrix: `bt709`, `smpte170m`, `bt2020nc`...
    pub matrix: String,
    /// The transfer: `bt709`, `smpte2084` (PQ), `arib-std-b67` (HLG)...
    pub transfer: String,
    /// Bits per sample (8, 10, 12).
    pub bits: u32,
}

impl Colour {
    /// The HDR transfer's name, when the clip is HDR.
    pub fn hdr(&self) -> Option<&'static str> {
        match self.transfer.as_str() {
            "smpte2084" => Some("PQ (HDR10)"),
            "arib-std-b67" => Some("HLG"),
            _ => None,
        }
    }
}

/// What a clip is.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// The video stream's index in the file.
    pub stream: usize,
    /// The codec and profile in words: "H.264 High", "HEVC Main 10".
    pub codec: String,
    /// The size frames are shown at: rotation and pixel shape applied.
    pub size: (u32, u32),
    /// Degrees the frames are turned when shown (phones store it).
    pub rotation: i32,
    /// The frame rate frames are read at.
    pub rate: Rate,
    /// Whether the clip's own rate varies (then `rate` is the constant one used).
    pub variable: bool,
    /// Frames at `rate`.
    pub frames: usize,
    /// Where the stream starts, in seconds.
    pub start: f64,
    /// How the colours are coded.
    pub colour: Colour,
    /// The sound's codec (ffmpeg's name), if the clip has sound.
    pub audio: Option<String>,
}

#[derive(Deserialize)]
struct Output {
    #[serde(default)]
    streams: Vec<Stream>,
    #[serde(default)]
    format: Format,
}

#[derive(Deserialize, Default)]
struct Format {
    duration: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Stream {
    index: usize,
    codec_type: String,
    codec_name: String,
    profile: Option<String>,
    width: u32,
    height: u32,
    sample_aspect_ratio: Option<String>,
    r_frame_rate: String,
    avg_frame_rate: String,
    nb_frames: Option<String>,
    duration: Option<String>,
    start_time: Option<String>,
    pix_fmt: String,
    bits_per_raw_sample: Option<String>,
    color_range: Option<String>,
    color_space: Option<String>,
    color_transfer: Option<String>,
    side_data_list: Vec<SideData>,
    tags: Tags,
    disposition: Disposition,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SideData {
    rotation: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Tags {
    rotate: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Disposition {
    attached_pic: u8,
}

impl Probe {
    /// Probes the clip at `path` with `ffmpeg`'s ffprobe.
    pub fn run(ffmpeg: &Ffmpeg, path: &Path) -> Result<Probe> {
        let fail = |reason: String| Error::Clip { path: path.to_path_buf(), reason };
        let output = Command::new(&ffmpeg.ffprobe)
            .args(["-v", "error", "-print_format", "json", "-show_streams", "-show_format"])
            .arg(path)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| fail(format!("cannot run ffprobe ({}): {e}", ffmpeg.ffprobe.display())))?;
        if !output.status.success() {
            let err = String::from_utf8_lossy(&output.stderr);
            return Err(fail(format!("ffmpeg cannot read it (ffprobe: {})", last_line(&err))));
        }
        let parsed: Output = serde_json::from_slice(&output.stdout)
            .map_err(|e| fail(format!("ffprobe's answer cannot be read: {e}")))?;
        Probe::from_output(parsed).map_err(fail)
    }

    /// The clip's description from ffprobe's JSON.
    fn from_output(output: Output) -> std::result::Result<Probe, String> {
        let video = output
            .streams
            .iter()
            .find(|s| s.codec_type == "video" && s.disposition.attached_pic == 0)
            .ok_or("it has no video stream")?;
        if video.width == 0 || video.height == 0 {
            return Err(format!("its {} video has no frame size", video.codec_name));
        }
        let codec = codec_words(&video.codec_name, video.profile.as_deref());
        let rotation = video
            .side_data_list
            .iter()
            .find_map(|d| d.rotation)
            .or_else(|| video.tags.rotate.as_deref().and_then(|r| r.parse().ok()))
            .map_or(0, |r: f64| (r.round() as i32).rem_euclid(360));
        let aspect = video.sample_aspect_ratio.as_deref().and_then(|a| Rate::parse(&a.replace(':', "/")));
        let width = match aspect {
            Some(a) if a.num != a.den => (f64::from(video.width) * a.fps()).round() as u32,
            _ => video.width,
        };
        let size = if rotation % 180 == 90 { (video.height, width) } else { (width, video.height) };
        let own = Rate::parse(&video.r_frame_rate);
        let average = Rate::parse(&video.avg_frame_rate);
        let (rate, variable) = match (own, average) {
            (Some(r), Some(a)) if r.fps() > 0.0 && (r.fps() - a.fps()).abs() / r.fps() < 1e-3 => (r, false),
            (_, Some(a)) => (standard(a), true),
            (Some(r), None) if r.fps() <= 240.0 => (r, false),
            _ => return Err(format!("its {codec} video says no frame rate")),
        };
        let seconds = |s: &Option<String>| s.as_deref().and_then(|d| d.parse::<f64>().ok()).filter(|d| *d > 0.0);
        let counted = video.nb_frames.as_deref().and_then(|n| n.parse::<usize>().ok()).filter(|n| *n > 0);
        let duration = seconds(&video.duration).or_else(|| seconds(&output.format.duration));
        let frames = match (variable, counted, duration) {
            (false, Some(n), _) => n,
            (_, _, Some(d)) => (d * rate.fps()).round().max(1.0) as usize,
            (_, Some(n), None) => n,
            (_, None, None) => return Err(format!("its {codec} video says neither its length nor its frames")),
        };
        let bits = video
            .bits_per_raw_sample
            .as_deref()
            .and_then(|b| b.parse().ok())
            .unwrap_or_else(|| pixel_bits(&video.pix_fmt));
        let text = |t: &Option<String>| t.clone().filter(|t| t != "unknown").unwrap_or_default();
        let colour = Colour {
            range: text(&video.color_range),
            matrix: text(&video.color_space),
            transfer: text(&video.color_transfer),
            bits,
        };
        let audio = output.streams.iter().find(|s| s.codec_type == "audio").map(|s| s.codec_name.clone());
        Ok(Probe {
            stream: video.index,
            codec,
            size,
            rotation,
            rate,
            variable,
            frames,
            start: seconds(&video.start_time).unwrap_or(0.0),
            colour,
            audio,
        })
    }

    /// One line on what the clip is: "HEVC Main, 640x360 shown 360x640, 30 fps, 60 frames".
    pub fn describe(&self) -> String {
        let rate = if self.variable {
            format!("a variable frame rate read at {:.3} fps", self.rate.fps())
        } else {
            format!("{:.3} fps", self.rate.fps())
        };
        let turned = if self.rotation != 0 { format!(" (turned {}°)", self.rotation) } else { String::new() };
        format!("{}, {}x{}{turned}, {rate}, {} frames", self.codec, self.size.0, self.size.1, self.frames)
    }
}

/// The nearest standard rate to `rate` when within 3%, else `rate` to a thousandth.
fn standard(rate: Rate) -> Rate {
    let fps = rate.fps();
    STANDARD_RATES
        .iter()
        .map(|&(num, den)| Rate { num, den })
        .min_by(|a, b| (a.fps() - fps).abs().total_cmp(&(b.fps() - fps).abs()))
        .filter(|r| (r.fps() - fps).abs() / fps <= 0.03)
        .unwrap_or_else(|| Rate::of(fps))
}

/// A codec and profile in words.
fn codec_words(codec: &str, profile: Option<&str>) -> String {
    let name = match codec {
        "h264" => "H.264",
        "hevc" => "HEVC",
        "vp9" => "VP9",
        "vp8" => "VP8",
        "av1" => "AV1",
        "prores" => "ProRes",
        "mpeg4" => "MPEG-4",
        "mpeg2video" => "MPEG-2",
        "mjpeg" => "Motion JPEG",
        other => other,
    };
    match profile {
        Some(p) if !p.is_empty() && p != "unknown" => format!("{name} {p}"),
        _ => name.to_string(),
    }
}

/// Bits per sample of a pixel format by its name (`yuv420p10le`: 10).
fn pixel_bits(pix_fmt: &str) -> u32 {
    ["16", "14", "12", "10", "9"]
        .iter()
        .find(|b| pix_fmt.contains(&format!("p{b}")))
        .and_then(|b| b.parse().ok())
        .unwrap_or(8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(json: &str) -> std::result::Result<Probe, String> {
        Probe::from_output(serde_json::from_str(json).unwrap())
    }

    #[test]
    fn a_turned_phone_clip_is_shown_upright() {
        let p = probe(
            r#"{"streams":[{"index":0,"codec_type":"video","codec_name":"hevc","profile":"Main 10","width":1920,
            "height":1080,"r_frame_rate":"30/1","avg_frame_rate":"30/1","nb_frames":"90","pix_fmt":"yuv420p10le",
            "color_transfer":"arib-std-b67","side_data_list":[{"rotation":-90}]},
            {"index":1,"codec_type":"audio","codec_name":"aac"}],"format":{"duration":"3.0"}}"#,
        )
        .unwrap();
        assert_eq!(p.size, (1080, 1920));
        assert_eq!(p.rotation, 270);
        assert_eq!((p.frames, p.variable, p.colour.bits), (90, false, 10));
        assert_eq!(p.colour.hdr(), Some("HLG"));
        assert_eq!(p.audio.as_deref(), Some("aac"));
        assert_eq!(p.codec, "HEVC Main 10");
    }

    #[test]
    fn a_variable_rate_becomes_the_nearest_standard_one_and_frames_follow_the_duration() {
        let p = probe(
            r#"{"streams":[{"index":0,"codec_type":"video","codec_name":"h264","profile":"High","width":640,
            "height":360,"r_frame_rate":"60/1","avg_frame_rate":"2997/100","nb_frames":"80","duration":"2.5",
            "pix_fmt":"yuv420p"}]}"#,
        )
        .unwrap();
        assert!(p.variable);
        assert_eq!(p.rate, Rate { num: 30000, den: 1001 });
        assert_eq!(p.frames, 75);
    }

    #[test]
    fn a_cover_picture_is_not_the_video_and_wide_pixels_widen_the_frame() {
        let p = probe(
            r#"{"streams":[{"index":0,"codec_type":"video","codec_name":"mjpeg","width":300,"height":300,
            "r_frame_rate":"90000/1","avg_frame_rate":"0/0","disposition":{"attached_pic":1}},
            {"index":1,"codec_type":"video","codec_name":"mpeg2video","width":720,"height":576,
            "sample_aspect_ratio":"16:11","r_frame_rate":"25/1","avg_frame_rate":"25/1","pix_fmt":"yuv420p"}],
            "format":{"duration":"2.0"}}"#,
        )
        .unwrap();
        assert_eq!((p.stream, p.size, p.frames), (1, (1047, 576), 50));
        assert!(probe(r#"{"streams":[{"codec_type":"audio","codec_name":"mp3"}]}"#).is_err());
    }

    #[test]
    fn rates_print_and_read_as_fractions() {
        assert_eq!(Rate::of(29.97002997), Rate { num: 30000, den: 1001 });
        assert_eq!(Rate::of(25.0), Rate { num: 25, den: 1 });
        assert_eq!(Rate::of(12.5), Rate { num: 12500, den: 1000 });
        assert_eq!(Rate::parse("24000/1001").map(|r| r.to_string()), Some("24000/1001".into()));
        assert_eq!(Rate::parse("0/0"), None);
    }
}
