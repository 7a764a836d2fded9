//! Clips in: any clip ffmpeg reads (see `ffmpeg`), else MP4 with Baseline H.264 video (see
//! `h264`); animated GIF, APNG and WebP (through the image crate) and folders of numbered
//! frames; read one frame at a time so that memory does not grow with the clip's length.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use image::{AnimationDecoder, Frames, RgbImage};

use crate::error::{Error, Result};
use crate::notice::Note;
use crate::video::ffmpeg::{self, FfmpegFrames, Probe};
use crate::video::h264::Mp4Frames;

/// What is known of a clip before its frames are decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipInfo {
    /// Frames in the clip.
    pub frames: usize,
    /// Frames per second.
    pub fps: f64,
    /// The first frame's (width, height); every frame must have it.
    pub size: (u32, u32),
    /// Whether the clip has a sound track that can be carried over (any, through ffmpeg; an
    /// MP4's AAC without).
    pub sound: bool,
    /// What the clip is, in words ("HEVC Main, 360x640 (turned 90°), 30 fps, 60 frames").
    pub about: String,
    /// What reading it changes, said to the user: the constant rate a variable one is read at,
    /// HDR tone-mapped to SDR.
    pub notes: Vec<Note>,
}

/// The frame rate of a folder of frames without a `clip.json` beside them.
pub const FOLDER_FPS: f64 = 24.0;

/// The file a folder of frames keeps its frame rate in.
pub const CLIP_JSON: &str = "clip.json";

/// The extensions read as MP4 (ISO media) files.
const MP4S: [&str; 3] = ["mp4", "m4v", "mov"];

/// The extensions of video files offered in pickers (ffmpeg reads more; these are the usual).
pub const VIDEO_EXTENSIONS: &[&str] =
    &["mp4", "m4v", "mov", "mkv", "webm", "avi", "mts", "m2ts", "mpg", "mpeg", "wmv", "flv", "ogv", "3gp"];

/// Whether a file is a clip: a video container, or an animated GIF, WebP or PNG (checked by
/// reading its header: call it off the UI thread).
pub fn is_clip(path: &Path) -> bool {
    clip_by_name(path).unwrap_or_else(|| ClipReader::is_animation(path))
}

/// Whether a file is a clip, as far as its name tells (`None`: a GIF, WebP or PNG, which only
/// its header tells).
pub fn clip_by_name(path: &Path) -> Option<bool> {
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "apng" => Some(true),
        e if VIDEO_EXTENSIONS.contains(&e) => Some(true),
        "gif" | "webp" | "png" => None,
        _ => Some(false),
    }
}

/// The extensions read as animations.
const ANIMATIONS: [&str; 4] = ["gif", "png", "apng", "webp"];

/// A clip being read, frame by frame.
pub struct ClipReader {
    path: PathBuf,
    info: ClipInfo,
    source: Source,
    /// Frames handed out so far.
    read: usize,
    /// The size frames are handed out at.
    size: (u32, u32),
}

enum Source {
    Folder(Vec<PathBuf>),
    Animation(Frames<'static>),
    Mp4(Box<Mp4Frames>),
    Ffmpeg(Box<FfmpegFrames>),
}

impl ClipReader {
    /// Opens the clip at `path` (a folder of frames, an animation, or a video file) and reads
    /// what it is: how many frames it has (an animation is decoded once to count them, a frame at
    /// a time), their rate and size. A clip that cannot be read through is refused here, not at
    /// its first undecodable frame.
    pub fn open(path: &Path) -> Result<Self> {
        let fail = |reason: String| Error::Clip { path: path.to_path_buf(), reason };
        if path.is_dir() {
            let files = frame_files(path)?;
            let first = files.first().ok_or_else(|| fail("the folder holds no frames (PNG or JPEG files)".into()))?;
            let size = image::image_dimensions(first).map_err(|e| fail(format!("{}: {e}", first.display())))?;
            let fps = folder_fps(path)?;
            let about = format!("{} numbered frames, {}x{}", files.len(), size.0, size.1);
            let info = ClipInfo { frames: files.len(), fps, size, sound: false, about, notes: Vec::new() };
            return Ok(ClipReader::new(path, info, Source::Folder(files)));
        }
        let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).unwrap_or_default();
        if ANIMATIONS.contains(&ext.as_str()) {
            return ClipReader::open_animation(path);
        }
        if let Some(ffmpeg) = ffmpeg::find()? {
            if !path.is_file() {
                return Err(fail("there is no such file".into()));
            }
            let probe = Probe::run(&ffmpeg, path)?;
            let mut notes = Vec::new();
            if probe.variable {
                notes.push(Note::ClipVariableRate { fps: probe.rate.fps() });
            }
            if let Some(hdr) = probe.colour.hdr() {
                notes.push(Note::ClipToneMapped { hdr: hdr.to_string() });
            }
            let info = ClipInfo {
                frames: probe.frames,
                fps: probe.rate.fps(),
                size: probe.size,
                sound: probe.audio.is_some(),
                about: format!("{}, read by ffmpeg {}", probe.describe(), ffmpeg.version),
                notes,
            };
            let frames = FfmpegFrames::open(&ffmpeg, path, probe)?;
            return Ok(ClipReader::new(path, info, Source::Ffmpeg(Box::new(frames))));
        }
        if MP4S.contains(&ext.as_str()) {
            let (frames, mp4) = Mp4Frames::open(path)?;
            if mp4.profile != "Baseline" {
                return Err(fail(format!(
                    "its video is H.264 {}, which the built-in decoder (Baseline only) cannot read through: {}",
                    mp4.profile,
                    ffmpeg::install_hint()
                )));
            }
            let about =
                format!("H.264 Baseline, {}x{}, {:.3} fps, {} frames", mp4.size.0, mp4.size.1, mp4.fps, mp4.frames);
            let info = ClipInfo {
                frames: mp4.frames,
                fps: mp4.fps,
                size: mp4.size,
                sound: mp4.audio,
                about,
                notes: Vec::new(),
            };
            return Ok(ClipReader::new(path, info, Source::Mp4(Box::new(frames))));
        }
        Err(fail(unsupported(&ext)))
    }

    fn new(path: &Path, info: ClipInfo, source: Source) -> Self {
        let size = info.size;
        ClipReader { path: path.to_path_buf(), info, source, read: 0, size }
    }

    /// An animated GIF, WebP or APNG, counted in a first pass.
    fn open_animation(path: &Path) -> Result<Self> {
        let fail = |reason: String| Error::Clip { path: path.to_path_buf(), reason };
        // Counted in a first pass (frames decoded and dropped), the frame rate from the delays.
        let (mut frames, mut millis, mut size) = (0usize, 0.0f64, None);
        for frame in animation(path)? {
            let frame = frame.map_err(|e| fail(format!("frame {}: {e}", frames + 1)))?;
            let (n, d) = frame.delay().numer_denom_ms();
            millis += f64::from(n) / f64::from(d.max(1));
            size.get_or_insert(frame.buffer().dimensions());
            frames += 1;
        }
        let size = size.ok_or_else(|| fail("the clip has no frames".into()))?;
        // Browsers show a GIF's delays under 20 ms as 100 ms; a clip with no delays is 10 fps.
        let mean = millis / frames as f64;
        let fps = if mean >= 10.0 { 1000.0 / mean } else { 10.0 };
        let about = format!("an animation, {}x{}, {fps:.3} fps, {frames} frames", size.0, size.1);
        let info = ClipInfo { frames, fps, size, sound: false, about, notes: Vec::new() };
        Ok(ClipReader::new(path, info, Source::Animation(animation(path)?)))
    }

    /// Whether the GIF, WebP or PNG at `path` is an animation (more than a still picture),
    /// from its header.
    pub fn is_animation(path: &Path) -> bool {
        let Ok(file) = File::open(path) else { return false };
        let reader = BufReader::new(file);
        match image::ImageFormat::from_path(path) {
            Ok(image::ImageFormat::Png) => {
                image::codecs::png::PngDecoder::new(reader).is_ok_and(|d| d.is_apng().unwrap_or(false))
            }
            Ok(image::ImageFormat::WebP) => {
                image::codecs::webp::WebPDecoder::new(reader).is_ok_and(|d| d.has_animation())
            }
            // A GIF of one frame is a picture: count up to two frames.
            Ok(image::ImageFormat::Gif) => image::codecs::gif::GifDecoder::new(reader)
                .is_ok_and(|d| d.into_frames().take(2).filter(|f| f.is_ok()).count() == 2),
            _ => false,
        }
    }

    /// What the clip is.
    pub fn info(&self) -> &ClipInfo {
        &self.info
    }

    /// The clip's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Frames handed out so far (the next frame's index).
    pub fn position(&self) -> usize {
        self.read
    }

    /// The next frame, `None` after the last. A frame of another size than the first is refused.
    pub fn next_frame(&mut self) -> Result<Option<RgbImage>> {
        let index = self.read;
        let fail = |reason: String| Error::Clip { path: self.path.clone(), reason };
        let frame = match &mut self.source {
            Source::Folder(files) => match files.get(index) {
                Some(file) => Some(crate::imageio::load_rgb(file)?),
                None => None,
            },
            Source::Animation(frames) => match frames.next() {
                Some(frame) => {
                    let frame = frame.map_err(|e| fail(format!("frame {}: {e}", index + 1)))?;
                    Some(image::DynamicImage::ImageRgba8(frame.into_buffer()).to_rgb8())
                }
                None => None,
            },
            Source::Mp4(frames) => frames.next_frame()?,
            Source::Ffmpeg(frames) => frames.next_frame()?,
        };
        let Some(frame) = frame else {
            if index < self.info.frames {
                return Err(fail(format!("ends after {index} of its {} frames (truncated?)", self.info.frames)));
            }
            return Ok(None);
        };
        let frame = match &self.source {
            Source::Ffmpeg(_) => frame,
            _ => crate::imageio::resize(&frame, self.scaled(frame.dimensions())),
        };
        if frame.dimensions() != self.size {
            let (w, h) = frame.dimensions();
            let (w0, h0) = self.size;
            return Err(fail(format!(
                "frame {} is {w}x{h} but the clip began at {w0}x{h0}: every frame must have one size",
                index + 1
            )));
        }
        self.read += 1;
        Ok(Some(frame))
    }

    /// Hands frames out at `size` (ffmpeg scales them as it decodes; the built-in readers
    /// resize each frame).
    pub fn scale_to(&mut self, size: (u32, u32)) {
        self.size = size;
        if let Source::Ffmpeg(frames) = &mut self.source {
            frames.set_size(size);
        }
    }

    /// The size frames are handed out at.
    pub fn size(&self) -> (u32, u32) {
        self.size
    }

    /// The size to resize a built-in reader's frame of `dims` to: the size asked for, unless the
    /// frame is not the clip's size (then it is refused as it is).
    fn scaled(&self, dims: (u32, u32)) -> (u32, u32) {
        if dims == self.info.size {
            self.size
        } else {
            dims
        }
    }

    /// Decodes every frame up to `end` once (a fresh reader; this one is not moved), so that a
    /// clip which cannot be read through says so before anything is rendered. ffmpeg's clips are
    /// not read twice: it conceals damage, and a clip that ends early says so at its end.
    pub fn check_through(&self, end: usize) -> Result<()> {
        if matches!(self.source, Source::Folder(_) | Source::Ffmpeg(_)) {
            return Ok(());
        }
        let mut reader = ClipReader::open(&self.path)?;
        while reader.position() < end.min(self.info.frames) {
            if reader.next_frame()?.is_none() {
                break;
            }
        }
        Ok(())
    }

    /// Makes frame `index` (from 0) the next one read: ffmpeg starts just before it, a folder
    /// goes there, an animation or a built-in MP4 decodes up to it (from the start if it is
    /// behind).
    pub fn seek(&mut self, index: usize) -> Result<()> {
        match &mut self.source {
            Source::Ffmpeg(frames) => frames.seek(index),
            Source::Folder(_) => {}
            _ => {
                if index < self.read {
                    let size = self.size;
                    *self = ClipReader::open(&self.path)?;
                    self.scale_to(size);
                }
                while self.read < index {
                    if self.next_frame()?.is_none() {
                        break;
                    }
                }
                return Ok(());
            }
        }
        self.read = index;
        Ok(())
    }
}

/// The frames of the animation at `path`, decoded lazily.
fn animation(path: &Path) -> Result<Frames<'static>> {
    let fail = |reason: String| Error::Clip { path: path.to_path_buf(), reason };
    let file = File::open(path).map_err(|e| fail(e.to_string()))?;
    let reader = BufReader::new(file);
    let format = image::ImageFormat::from_path(path).map_err(|e| fail(e.to_string()))?;
    Ok(match format {
        image::ImageFormat::Gif => {
            image::codecs::gif::GifDecoder::new(reader).map_err(|e| fail(e.to_string()))?.into_frames()
        }
        image::ImageFormat::Png => {
            let decoder = image::codecs::png::PngDecoder::new(reader).map_err(|e| fail(e.to_string()))?;
            if !decoder.is_apng().map_err(|e| fail(e.to_string()))? {
                return Err(fail("a still PNG, not an animation: choose it as a photo instead".into()));
            }
            decoder.apng().map_err(|e| fail(e.to_string()))?.into_frames()
        }
        image::ImageFormat::WebP => {
            let decoder = image::codecs::webp::WebPDecoder::new(reader).map_err(|e| fail(e.to_string()))?;
            if !decoder.has_animation() {
                return Err(fail("a still WebP, not an animation: choose it as a photo instead".into()));
            }
            decoder.into_frames()
        }
        other => return Err(fail(format!("{other:?} is not an animation format"))),
    })
}

/// The message for a clip format not read here: what it is and how to convert it.
fn unsupported(ext: &str) -> String {
    let how = "a clip file (read by ffmpeg: MP4, MOV, MKV, WebM...), an animated GIF, WebP or APNG, or a \
               folder of numbered frames";
    match ext {
        "" => format!("not a folder of frames and no extension to tell the format: give {how}"),
        _ if VIDEO_EXTENSIONS.contains(&ext) => format!(".{ext} clips need ffmpeg: {}", ffmpeg::install_hint()),
        _ => format!(".{ext} is not a clip format read here: give {how}"),
    }
}

/// The picture files of a folder of frames, in their numbers' order (frame2 before frame10).
pub fn frame_files(folder: &Path) -> Result<Vec<PathBuf>> {
    let fail = |reason: String| Error::Clip { path: folder.to_path_buf(), reason };
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .map_err(|e| fail(e.to_string()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            let ext = p.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
            matches!(ext.as_deref(), Some("png" | "jpg" | "jpeg")) && p.is_file()
        })
        .collect();
    files.sort_by_cached_key(|p| {
        natural_key(&p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
    });
    Ok(files)
}

/// A name split into text and numbers, so that numbers compare by value.
fn natural_key(name: &str) -> Vec<(String, u64)> {
    let mut key = Vec::new();
    let mut text = String::new();
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            let mut digits = c.to_string();
            while let Some(d) = chars.next_if(char::is_ascii_digit) {
                digits.push(d);
            }
            key.push((std::mem::take(&mut text), digits.parse().unwrap_or(u64::MAX)));
        } else {
            text.push(c);
        }
    }
    key.push((text, 0));
    key
}

/// The frame rate recorded in a folder's `clip.json`, else [`FOLDER_FPS`].
fn folder_fps(folder: &Path) -> Result<f64> {
    #[derive(serde::Deserialize)]
    struct Clip {
        fps: f64,
    }
    let file = folder.join(CLIP_JSON);
    let Ok(text) = std::fs::read_to_string(&file) else { return Ok(FOLDER_FPS) };
    let clip: Clip = serde_json::from_str(&text)
        .map_err(|e| Error::Clip { path: file.clone(), reason: format!("cannot read the frame rate: {e}") })?;
    if !(clip.fps.is_finite() && clip.fps > 0.0 && clip.fps <= 1000.0) {
        return Err(Error::Clip { path: file, reason: format!("frame rate {} is not between 0 and 1000", clip.fps) });
    }
    Ok(clip.fps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_frames_sort_by_number() {
        let mut names = vec!["f10.png", "f2.png", "f1.png", "a.png"];
        names.sort_by_key(|n| natural_key(n));
        assert_eq!(names, ["a.png", "f1.png", "f2.png", "f10.png"]);
    }
}
