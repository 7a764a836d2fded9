//! Clips written by ffmpeg: the rendered frames piped in as raw RGB, encoded as H.264, HEVC,
//! ProRes, VP9 or a palette GIF, with the source clip's sound copied (or re-encoded where the
//! container does not take its codec) and cut to the frames rendered.

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use super::{last_line, Ffmpeg, Probe, Rate};
use crate::error::{Error, Result};
use crate::imageio::load_rgb;
use crate::video::h264::SoundSource;

/// H.264's constant rate factor: painted strokes kept (see docs/video.md, "Writing clips").
pub const H264_CRF: u32 = 16;

/// HEVC's constant rate factor, about H.264's quality at a smaller size.
pub const HEVC_CRF: u32 = 18;

/// VP9's constant quality.
pub const VP9_CRF: u32 = 24;

/// A video codec ffmpeg writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// H.264 (libx264), yuv420p: plays everywhere.
    H264,
    /// HEVC (libx265), tagged hvc1 for Apple's players.
    Hevc,
    /// ProRes 422 HQ (10-bit 4:2:2), for editors.
    ProRes,
    /// VP9 (libvpx), for the web.
    Vp9,
    /// A GIF with a palette made from the clip's own colours.
    Gif,
}

impl Codec {
    /// The encoder ffmpeg needs.
    fn encoder(self) -> &'static str {
        match self {
            Codec::H264 => "libx264",
            Codec::Hevc => "libx265",
            Codec::ProRes => "prores_ks",
            Codec::Vp9 => "libvpx-vp9",
            Codec::Gif => "gif",
        }
    }
}

/// Encodes `frames` (PNG files, one size) at `fps` into `out` with ffmpeg's `muxer`
/// (`mp4`, `mov`, `webm`, `matroska`, `gif`), with `sound` where the container takes sound.
/// Returns a note on the sound, when there was some to carry.
pub fn encode(
    ffmpeg: &Ffmpeg,
    frames: &[PathBuf],
    fps: f64,
    out: &Path,
    (muxer, codec): (&str, Codec),
    sound: Option<&SoundSource>,
) -> Result<Option<String>> {
    let fail = |reason: String| Error::Save { path: out.to_path_buf(), reason };
    if !ffmpeg.has_encoder(codec.encoder()) {
        return Err(fail(format!("this ffmpeg ({}) has no {} encoder", ffmpeg.version, codec.encoder())));
    }
    let first = load_rgb(frames.first().ok_or_else(|| fail("no frames were rendered".into()))?)?;
    let (w, h) = first.dimensions();
    let mut command = ffmpeg.command();
    let size = format!("{w}x{h}");
    let rate = Rate::of(fps).to_string();
    command.args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-video_size", &size, "-framerate", &rate, "-i", "-"]);
    let (input, output, note) = match sound {
        Some(sound) if muxer != "gif" => sound_args(ffmpeg, sound, muxer)?,
        Some(_) => (Vec::new(), Vec::new(), Some("the clip's sound was not kept: a GIF carries no sound".into())),
        None => (Vec::new(), Vec::new(), None),
    };
    command.args(&input);
    command.args(["-map", "0:v:0"]);
    command.args(&output);
    command.args(video_args(codec));
    command.args(["-f", muxer, "-y"]).arg(out);
    let stderr = tempfile::tempfile().map_err(|e| fail(format!("no temporary file for ffmpeg: {e}")))?;
    let err = stderr.try_clone().map_err(|e| fail(e.to_string()))?;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::from(err))
        .spawn()
        .map_err(|e| fail(format!("cannot run ffmpeg ({}): {e}", ffmpeg.ffmpeg.display())))?;
    let fed = feed(&mut child, frames, (w, h));
    let status = child.wait().map_err(|e| fail(e.to_string()))?;
    if !status.success() || fed.is_err() {
        let mut said = String::new();
        let mut stderr = stderr;
        if stderr.rewind().is_ok() {
            let _ = stderr.read_to_string(&mut said);
        }
        // A frame that could not be read is the error to report; else what ffmpeg said.
        fed?;
        return Err(fail(format!("ffmpeg failed ({status}): {}", last_line(&said))));
    }
    Ok(note)
}

/// Writes every frame into ffmpeg's input, then closes it.
fn feed(child: &mut std::process::Child, frames: &[PathBuf], size: (u32, u32)) -> Result<()> {
    let mut stdin = child.stdin.take().ok_or_else(|| Error::internal("ffmpeg's input pipe"))?;
    for file in frames {
        let frame = load_rgb(file)?;
        if frame.dimensions() != size {
            let _ = child.kill();
            return Err(Error::Save {
                path: file.clone(),
                reason: format!(
                    "the frame is {}x{}, not {}x{} as the first",
                    frame.width(),
                    frame.height(),
                    size.0,
                    size.1
                ),
            });
        }
        // A write that fails means ffmpeg stopped: what it said is the reason.
        if stdin.write_all(frame.as_raw()).is_err() {
            break;
        }
    }
    Ok(())
}

/// The encoder's arguments for `codec`.
fn video_args(codec: Codec) -> Vec<String> {
    let even = "crop=trunc(iw/2)*2:trunc(ih/2)*2";
    // RGB to BT.709 YUV, said in the file, so players convert back with the same matrix.
    let bt709 = "scale=out_color_matrix=bt709:out_range=tv:flags=accurate_rnd+full_chroma_int";
    let tags = ["-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv"];
    let mut args: Vec<String> = Vec::new();
    let mut push = |items: &[&str]| args.extend(items.iter().map(|s| s.to_string()));
    match codec {
        Codec::H264 => {
            push(&["-vf", &format!("{even},{bt709},format=yuv420p")]);
            push(&["-c:v", "libx264", "-preset", "slow", "-crf", &H264_CRF.to_string(), "-movflags", "+faststart"]);
            push(&tags);
        }
        Codec::Hevc => {
            push(&["-vf", &format!("{even},{bt709},format=yuv420p")]);
            push(&["-c:v", "libx265", "-preset", "medium", "-crf", &HEVC_CRF.to_string(), "-tag:v", "hvc1"]);
            push(&["-x265-params", "log-level=error", "-movflags", "+faststart"]);
            push(&tags);
        }
        Codec::ProRes => {
            push(&["-vf", &format!("{even},{bt709},format=yuv422p10le")]);
            push(&["-c:v", "prores_ks", "-profile:v", "3", "-vendor", "apl0"]);
            push(&tags);
        }
        Codec::Vp9 => {
            push(&["-vf", &format!("{even},{bt709},format=yuv420p")]);
            push(&["-c:v", "libvpx-vp9", "-crf", &VP9_CRF.to_string(), "-b:v", "0", "-row-mt", "1"]);
            push(&["-deadline", "good", "-cpu-used", "2"]);
            push(&tags);
        }
        Codec::Gif => {
            // One palette from the whole clip's colours, dithered: the painted look survives.
            push(&["-vf", "split[a][b];[a]palettegen=stats_mode=full[p];[b][p]paletteuse=dither=sierra2_4a"]);
            push(&["-loop", "0"]);
        }
    }
    args
}

/// The input and output arguments taking `sound`'s sound into the muxer, and a note on what
/// became of it.
fn sound_args(ffmpeg: &Ffmpeg, sound: &SoundSource, muxer: &str) -> Result<(Vec<String>, Vec<String>, Option<String>)> {
    let probe = Probe::run(ffmpeg, &sound.clip)?;
    let Some(codec) = probe.audio else { return Ok((Vec::new(), Vec::new(), None)) };
    let copied: &[&str] = match muxer {
        "mp4" => &["aac", "mp3", "ac3", "eac3", "opus", "alac"],
        "mov" => &["aac", "mp3", "ac3", "eac3", "alac", "pcm_s16le", "pcm_s24le", "pcm_s16be", "pcm_s24be"],
        "webm" => &["opus", "vorbis"],
        _ => &["aac", "mp3", "ac3", "eac3", "opus", "vorbis", "flac", "alac", "pcm_s16le", "pcm_s24le"],
    };
    let (output, note) = if copied.contains(&codec.as_str()) {
        (vec!["-c:a", "copy"], format!("the clip's sound ({codec}) is kept"))
    } else {
        let (encoder, name, bitrate) =
            if muxer == "webm" { ("libopus", "Opus", "128k") } else { ("aac", "AAC", "192k") };
        (
            vec!["-c:a", encoder, "-b:a", bitrate],
            format!("the clip's sound ({codec}) is re-encoded as {name}: a .{muxer} does not take {codec}"),
        )
    };
    let mut input: Vec<String> =
        vec!["-ss".into(), format!("{:.6}", sound.from), "-to".into(), format!("{:.6}", sound.to), "-i".into()];
    input.push(sound.clip.to_string_lossy().into_owned());
    let mut output: Vec<String> = output.into_iter().map(String::from).collect();
    output.splice(0..0, ["-map".to_string(), "1:a:0".to_string()]);
    Ok((input, output, Some(note)))
}
