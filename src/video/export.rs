//! Clips out: a folder of rendered frames written as an MP4 (H.264), an animated GIF or an APNG
//! (a folder of frames needs no export: it is the output). Frames are read one at a time, and the file appears
//! whole or not at all (written beside its place, then renamed).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, Frame};

use crate::error::{Error, Result};
use crate::imageio::load_rgb;
use crate::video::h264::write_mp4;
pub use crate::video::h264::SoundSource;

/// What a clip is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClipFormat {
    /// A folder of numbered PNG frames.
    Frames,
    /// An animated GIF (256 colours per frame).
    Gif,
    /// An animated PNG (lossless).
    Apng,
    /// An MP4 with H.264 video (and the clip's sound, when it had some).
    Mp4,
}

impl ClipFormat {
    /// The format `out` asks for by its extension (none, or a folder: frames).
    pub fn of(out: &Path) -> Result<Self> {
        let ext = out.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        match ext.as_deref() {
            None => Ok(ClipFormat::Frames),
            Some(_) if out.is_dir() => Ok(ClipFormat::Frames),
            Some("gif") => Ok(ClipFormat::Gif),
            Some("png" | "apng") => Ok(ClipFormat::Apng),
            Some("mp4" | "m4v") => Ok(ClipFormat::Mp4),
            Some(other) => Err(Error::invalid(format!(
                "clips are written as .mp4, .gif, .png (animated) or a folder of frames, not .{other}: write \
                 one of those and convert it, for example `ffmpeg -i out.mp4 out.{other}`"
            ))),
        }
    }
}

/// Writes `frames` (PNG files, all one size) as the clip `out` at `fps` frames per second, with
/// the sound of `sound` where the format carries sound. Returns a note on the sound, if the
/// clip had some.
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
    let dropped = sound.map(|_| "the clip's sound was not kept: only an .mp4 output carries sound".to_string());
    if format == ClipFormat::Frames {
        return Ok(dropped);
    }
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = out.file_name().ok_or_else(|| fail("no file name".into()))?;
    let tmp = dir.join(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
    let mut note = dropped;
    let written = match format {
        ClipFormat::Gif => write_gif(frames, fps, &tmp),
        ClipFormat::Apng => write_apng(frames, fps, &tmp),
        ClipFormat::Mp4 => write_mp4(frames, fps, &tmp, sound).map(|kept| {
            note = sound.map(|_| {
                if kept { "the clip's sound is kept" } else { "the clip's sound could not be read and was not kept" }
                    .to_string()
            });
        }),
        ClipFormat::Frames => Ok(()),
    };
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, out).map_err(|e| fail(e.to_string()))) {
        // The write's error is the one reported; a leftover temporary is harmless.
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(note)
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
