//! Clips out: a folder of rendered frames written through ffmpeg (H.264, HEVC, ProRes, VP9, a
//! palette GIF) when it is there, else as an MP4 (Baseline H.264), an animated GIF or an APNG by
//! the built-in writers (a folder of frames needs no export: it is the output). Frames are read one at a time, and the file appears
//! whole or not at all (written beside its place, then renamed).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, Frame};

use crate::error::{Error, Result};
use crate::imageio::load_rgb;
use crate::video::ffmpeg::{self, Codec};
use crate::video::h264::write_mp4;
pub use crate::video::h264::SoundSource;

/// What a clip is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClipFormat {
    /// A folder of numbered PNG frames.
    Frames,
    /// An animated GIF (256 colours per frame; one palette for the clip through ffmpeg).
    Gif,
    /// An animated PNG (lossless).
    Apng,
    /// H.264 video (and the clip's sound, when it had some): libx264 through ffmpeg, else
    /// OpenH264's Baseline in an MP4.
    Mp4,
    /// HEVC video (ffmpeg's libx265).
    Hevc,
    /// ProRes 422 HQ, for editors (ffmpeg).
    ProRes,
    /// VP9 video, for the web (ffmpeg's libvpx).
    Vp9,
}

/// The codecs `--codec` names, as (name, format, the extensions whose containers take it).
const CODECS: [(&str, ClipFormat, &[&str]); 6] = [
    ("h264", ClipFormat::Mp4, &["mp4", "m4v", "mov", "mkv"]),
    ("hevc", ClipFormat::Hevc, &["mp4", "m4v", "mov", "mkv"]),
    ("prores", ClipFormat::ProRes, &["mov", "mkv"]),
    ("vp9", ClipFormat::Vp9, &["webm", "mkv", "mp4"]),
    ("gif", ClipFormat::Gif, &["gif"]),
    ("apng", ClipFormat::Apng, &["png", "apng"]),
];

/// The names `--codec` takes.
pub const CODEC_NAMES: [&str; 6] = ["h264", "hevc", "prores", "vp9", "gif", "apng"];

impl ClipFormat {
    /// The format `out` asks for by its extension (none, or a folder: frames).
    pub fn of(out: &Path) -> Result<Self> {
        ClipFormat::choose(out, None)
    }

    /// The format of `out`: `codec` (one of [`CODEC_NAMES`]) if given, else what the extension
    /// implies (.mp4 H.264, .mov ProRes, .webm VP9, .mkv H.264, .gif, .png animated).
    pub fn choose(out: &Path, codec: Option<&str>) -> Result<Self> {
        let ext = Some(extension(out)).filter(|e| !e.is_empty());
        let Some(ext) = ext.filter(|_| !out.is_dir()) else {
            return match codec {
                None => Ok(ClipFormat::Frames),
                Some(c) => Err(Error::invalid(format!("--codec {c} needs an output file, not a folder of frames"))),
            };
        };
        if let Some(codec) = codec {
            let (_, format, exts) = CODECS
                .iter()
                .find(|(name, ..)| *name == codec)
                .ok_or_else(|| Error::invalid(format!("--codec {codec} is not one of {}", CODEC_NAMES.join(", "))))?;
            if !exts.contains(&ext.as_str()) {
                return Err(Error::invalid(format!(
                    "--codec {codec} cannot be written in a .{ext}: write a .{}",
                    exts.join(" or .")
                )));
            }
            return Ok(*format);
        }
        match ext.as_str() {
            "gif" => Ok(ClipFormat::Gif),
            "png" | "apng" => Ok(ClipFormat::Apng),
            "mp4" | "m4v" | "mkv" => Ok(ClipFormat::Mp4),
            "mov" => Ok(ClipFormat::ProRes),
            "webm" => Ok(ClipFormat::Vp9),
            other => Err(Error::invalid(format!(
                "clips are written as .mp4, .mov, .webm, .mkv, .gif, .png (animated) or a folder of frames, not \
                 .{other}"
            ))),
        }
    }

    /// The format in words, for messages and the app.
    pub fn name(self) -> &'static str {
        match self {
            ClipFormat::Frames => "PNG frames",
            ClipFormat::Gif => "GIF",
            ClipFormat::Apng => "animated PNG",
            ClipFormat::Mp4 => "H.264",
            ClipFormat::Hevc => "HEVC",
            ClipFormat::ProRes => "ProRes 422 HQ",
            ClipFormat::Vp9 => "VP9",
        }
    }

    /// The ffmpeg codec that writes it, if it is one ffmpeg writes.
    fn codec(self) -> Option<Codec> {
        match self {
            ClipFormat::Mp4 => Some(Codec::H264),
            ClipFormat::Hevc => Some(Codec::Hevc),
            ClipFormat::ProRes => Some(Codec::ProRes),
            ClipFormat::Vp9 => Some(Codec::Vp9),
            ClipFormat::Gif => Some(Codec::Gif),
            ClipFormat::Frames | ClipFormat::Apng => None,
        }
    }

    /// Refuses, before anything is rendered, a format this machine cannot write.
    pub fn check_writable(self, out: &Path) -> Result<()> {
        if self.needs_ffmpeg(out) && ffmpeg::find()?.is_none() {
            return Err(Error::invalid(format!(
                "{} in {} is written by ffmpeg: {}; without it, write .mp4 (H.264), .gif or .png",
                self.name(),
                out.display(),
                ffmpeg::install_hint()
            )));
        }
        Ok(())
    }

    /// Refuses, before anything is rendered, frames of `size` the format cannot take: x265
    /// aborts on frames narrower than 64 px (Debian's 3.5, measured: 48 px wide crashes, 64
    /// works), and H.264 in the built-in writer needs 16x16.
    pub fn check_size(self, (w, h): (u32, u32)) -> Result<()> {
        let least = match self {
            ClipFormat::Hevc => (64, 16),
            ClipFormat::Mp4 | ClipFormat::ProRes | ClipFormat::Vp9 => (16, 16),
            ClipFormat::Frames | ClipFormat::Gif | ClipFormat::Apng => (1, 1),
        };
        if w < least.0 || h < least.1 {
            return Err(Error::invalid(format!(
                "{} needs frames of at least {}x{} px and these are {w}x{h}: render larger, or choose another format",
                self.name(),
                least.0,
                least.1
            )));
        }
        Ok(())
    }

    /// Whether only ffmpeg writes it (the built-in writers do H.264 in MP4, GIF and APNG).
    fn needs_ffmpeg(self, out: &Path) -> bool {
        let ext = extension(out);
        match self {
            ClipFormat::Frames | ClipFormat::Apng | ClipFormat::Gif => false,
            ClipFormat::Mp4 => !matches!(ext.as_str(), "mp4" | "m4v"),
            ClipFormat::Hevc | ClipFormat::ProRes | ClipFormat::Vp9 => true,
        }
    }
}

/// Writes `frames` (PNG files, all one size) as the clip `out` at `fps` frames per second, with
/// the sound of `sound` where the format carries sound: through ffmpeg when it is there, else
/// the built-in writers. Returns a note on the sound, if the clip had some.
pub fn export(
    frames: &[PathBuf],
    fps: f64,
    out: &Path,
    format: ClipFormat,
    sound: Option<&SoundSource>,
) -> Result<Option<String>> {
    let fail = |reason: String| Error::Save { path: out.to_path_buf(), reason };
    if frames.is_empty() {
        return Err(fail("no frames were rendered".into()));
    }
    let dropped = sound.map(|_| "the clip's sound was not kept: a folder of frames carries no sound".to_string());
    if format == ClipFormat::Frames {
        return Ok(dropped);
    }
    format.check_writable(out)?;
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = out.file_name().ok_or_else(|| fail("no file name".into()))?;
    let tmp = dir.join(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
    let written = match (format.codec(), ffmpeg::find()?) {
        (Some(codec), Some(ffmpeg)) => ffmpeg::encode(&ffmpeg, frames, fps, &tmp, (muxer(out), codec), sound),
        _ => write_builtin(frames, fps, &tmp, format, sound),
    };
    let note = match written.and_then(|note| std::fs::rename(&tmp, out).map(|()| note).map_err(|e| fail(e.to_string())))
    {
        Ok(note) => note,
        Err(e) => {
            // The write's error is the one reported; a leftover temporary is harmless.
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    Ok(note)
}

/// `out`'s extension in lower case ("" for none).
fn extension(out: &Path) -> String {
    out.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).unwrap_or_default()
}

/// ffmpeg's muxer for `out`'s extension.
fn muxer(out: &Path) -> &'static str {
    match extension(out).as_str() {
        "mov" => "mov",
        "webm" => "webm",
        "mkv" => "matroska",
        "gif" => "gif",
        _ => "mp4",
    }
}

/// The built-in writers: GIF and APNG through the image and png crates, H.264 through OpenH264.
fn write_builtin(
    frames: &[PathBuf],
    fps: f64,
    tmp: &Path,
    format: ClipFormat,
    sound: Option<&SoundSource>,
) -> Result<Option<String>> {
    let dropped = sound.map(|_| {
        format!(
            "the clip's sound was not kept: a{} carries no sound",
            match format {
                ClipFormat::Gif => " GIF",
                _ => "n animated PNG",
            }
        )
    });
    match format {
        ClipFormat::Gif => write_gif(frames, fps, tmp).map(|()| dropped),
        ClipFormat::Apng => write_apng(frames, fps, tmp).map(|()| dropped),
        ClipFormat::Mp4 => write_mp4(frames, fps, tmp, sound).map(|kept| {
            sound.map(|_| {
                if kept {
                    "the clip's sound is kept"
                } else {
                    "the clip's sound (not AAC) was not kept: ffmpeg keeps any"
                }
                .to_string()
            })
        }),
        other => Err(Error::internal(format!("{} has no built-in writer", other.name()))),
    }
}

fn write_gif(frames: &[PathBuf], fps: f64, path: &Path) -> Result<()> {
    let fail = |e: &dyn std::fmt::Display| Error::Save { path: path.to_path_buf(), reason: e.to_string() };
    let file = File::create(path).map_err(|e| fail(&e))?;
    let mut out = BufWriter::new(file);
    {
        // Speed 10 of 30: the quantiser's quality that gifski-like tools call good.
        let mut encoder = GifEncoder::new_with_speed(&mut out, 10);
        encoder.set_repeat(Repeat::Infinite).map_err(|e| fail(&e))?;
        let delay = Delay::from_numer_denom_ms(100_000, (fps * 100.0).round().max(1.0) as u32);
        for file in frames {
            let rgba = image::DynamicImage::ImageRgb8(load_rgb(file)?).to_rgba8();
            encoder.encode_frame(Frame::from_parts(rgba, 0, 0, delay)).map_err(|e| fail(&e))?;
        }
    }
    out.flush().map_err(|e| fail(&e))?;
    out.get_ref().sync_all().map_err(|e| fail(&e))
}

fn write_apng(frames: &[PathBuf], fps: f64, path: &Path) -> Result<()> {
    let fail = |e: &dyn std::fmt::Display| Error::Save { path: path.to_path_buf(), reason: e.to_string() };
    let first = load_rgb(&frames[0])?;
    let (w, h) = first.dimensions();
    let file = File::create(path).map_err(|e| fail(&e))?;
    let mut out = BufWriter::new(file);
    {
        let mut encoder = png::Encoder::new(&mut out, w, h);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let n = u32::try_from(frames.len()).map_err(|e| fail(&e))?;
        encoder.set_animated(n, 0).map_err(|e| fail(&e))?;
        // The delay as a fraction of a second: 100 / (100 fps).
        let den = (fps * 100.0).round().clamp(1.0, f64::from(u16::MAX)) as u16;
        encoder.set_frame_delay(100, den).map_err(|e| fail(&e))?;
        let mut writer = encoder.write_header().map_err(|e| fail(&e))?;
        writer.write_image_data(first.as_raw()).map_err(|e| fail(&e))?;
        for file in &frames[1..] {
            let frame = load_rgb(file)?;
            if frame.dimensions() != (w, h) {
                return Err(fail(&format!("{} is not {w}x{h}", file.display())));
            }
            writer.write_image_data(frame.as_raw()).map_err(|e| fail(&e))?;
        }
        writer.finish().map_err(|e| fail(&e))?;
    }
    out.flush().map_err(|e| fail(&e))?;
    out.get_ref().sync_all().map_err(|e| fail(&e))
}
