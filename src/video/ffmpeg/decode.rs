//! A clip's frames decoded by ffmpeg and read from its pipe as raw RGB, at a constant frame rate,
//! upright, in SDR, and scaled to the size asked for. A seek starts ffmpeg again just before the
//! frame (input seeking) with the same frame grid as reading from the start, so frame N is the
//! same picture whichever way it is reached.

use std::fs::File;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Stdio};

use image::RgbImage;

use super::{last_line, Ffmpeg, Probe};
use crate::error::{Error, Result};

/// Seconds before a frame that a seek lands, so the frame grid and any frame held over a gap
/// are decoded as when reading from the start.
const SEEK_LEAD: f64 = 1.0;

/// A clip's frames through ffmpeg.
pub struct FfmpegFrames {
    ffmpeg: Ffmpeg,
    path: PathBuf,
    probe: Probe,
    /// The size frames are delivered at.
    size: (u32, u32),
    /// The ffmpeg process and the frame it delivers next, once started.
    running: Option<Running>,
    /// The frame the next read returns.
    next: usize,
}

struct Running {
    child: Child,
    stdout: ChildStdout,
    /// What ffmpeg said, kept in a file so that nothing waits on a second pipe.
    stderr: File,
}

impl FfmpegFrames {
    /// Prepares to read the clip at `path` that `probe` describes, at its own size; refuses an
    /// HDR clip this ffmpeg cannot tone-map.
    pub fn open(ffmpeg: &Ffmpeg, path: &Path, probe: Probe) -> Result<Self> {
        if let Some(hdr) = probe.colour.hdr() {
            if !(ffmpeg.has_filter("zscale") && ffmpeg.has_filter("tonemap")) {
                return Err(Error::Clip {
                    path: path.to_path_buf(),
                    reason: format!(
                        "its transfer is {hdr} (HDR) and this ffmpeg ({}) has no zscale filter to tone-map it \
                         to SDR: use an ffmpeg built with libzimg, or export the clip in SDR first",
                        ffmpeg.version
                    ),
                });
            }
        }
        let size = probe.size;
        Ok(FfmpegFrames { ffmpeg: ffmpeg.clone(), path: path.to_path_buf(), probe, size, running: None, next: 0 })
    }

    /// What ffmpeg found the clip to be.
    pub fn probe(&self) -> &Probe {
        &self.probe
    }

    /// Delivers frames at `size` from the next one on.
    pub fn set_size(&mut self, size: (u32, u32)) {
        if size != self.size {
            self.size = size;
            self.stop();
        }
    }

    /// Makes frame `index` the next one read (ffmpeg starts again there unless it is already).
    pub fn seek(&mut self, index: usize) {
        if index != self.next {
            self.stop();
            self.next = index;
        }
    }

    /// The next frame, `None` after the last.
    pub fn next_frame(&mut self) -> Result<Option<RgbImage>> {
        if self.next >= self.probe.frames {
            return Ok(None);
        }
        if self.running.is_none() {
            self.running = Some(self.start()?);
        }
        let (w, h) = self.size;
        let mut buffer = vec![0u8; w as usize * h as usize * 3];
        let read = match self.running.as_mut() {
            Some(running) => running.stdout.read_exact(&mut buffer),
            None => return Err(Error::internal("ffmpeg was not started")),
        };
        if let Err(e) = read {
            // Its output ended: it has ended, or is ending (killed, or out of frames early).
            let (said, killed) = self.ended();
            if let Some(signal) = killed {
                return Err(self.fail(format!("ffmpeg was stopped (signal {signal}) at frame {}", self.next + 1)));
            }
            if e.kind() == std::io::ErrorKind::UnexpectedEof && said.is_empty() {
                return Ok(None);
            }
            let why = if said.is_empty() { e.to_string() } else { said };
            return Err(self.fail(format!("ffmpeg stopped at frame {}: {why}", self.next + 1)));
        }
        self.next += 1;
        RgbImage::from_raw(w, h, buffer).map(Some).ok_or_else(|| Error::internal("a frame of the wrong length"))
    }

    /// Starts ffmpeg at frame `self.next`.
    fn start(&self) -> Result<Running> {
        let rate = self.probe.rate;
        let from = self.probe.start + self.next as f64 / rate.fps();
        let mut command = self.ffmpeg.command();
        // Timestamps kept as the file has them, so the frame grid is the same after a seek.
        command.arg("-copyts");
        if self.next > 0 {
            command.args(["-ss", &format!("{:.6}", (from - SEEK_LEAD).max(0.0))]);
        }
        command.arg("-i").arg(&self.path);
        command.args(["-map", &format!("0:{}", self.probe.stream), "-an", "-sn", "-dn"]);
        command.args(["-vf", &self.filters(from)]);
        command.args(["-frames:v", &(self.probe.frames - self.next).to_string()]);
        command.args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]);
        let stderr = tempfile::tempfile().map_err(|e| self.fail(format!("no temporary file for ffmpeg: {e}")))?;
        let err = stderr.try_clone().map_err(|e| self.fail(e.to_string()))?;
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(err))
            .spawn()
            .map_err(|e| self.fail(format!("cannot run ffmpeg ({}): {e}", self.ffmpeg.ffmpeg.display())))?;
        let stdout = child.stdout.take().ok_or_else(|| Error::internal("ffmpeg's output pipe"))?;
        Ok(Running { child, stdout, stderr })
    }

    /// The filters from the decoded frames to RGB at the render size, from `from` seconds.
    fn filters(&self, from: f64) -> String {
        let (w, h) = self.size;
        let colour = &self.probe.colour;
        // A constant rate on a grid starting at the stream's start: the same after any seek;
        // the last frame is held a little so that the count promised is always delivered.
        let mut chain =
            vec![format!("fps={}:start_time={from:.6}", self.probe.rate), "tpad=stop_mode=clone:stop=2".to_string()];
        let (matrix, range) = if colour.hdr().is_some() {
            chain.push(
                "zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=hable:desat=0,\
                 zscale=t=bt709:m=bt709:r=tv,format=yuv420p"
                    .to_string(),
            );
            ("bt709", "tv")
        } else {
            (matrix(&colour.matrix, self.probe.size), range(&colour.range))
        };
        chain.push(format!(
            "scale={w}:{h}:flags=lanczos+accurate_rnd+full_chroma_int:in_color_matrix={matrix}:in_range={range}"
        ));
        chain.push("setsar=1,format=rgb24".to_string());
        chain.join(",")
    }

    /// Stops ffmpeg, if it runs, and returns the last thing it said.
    fn stop(&mut self) -> String {
        let Some(mut running) = self.running.take() else { return String::new() };
        // It may have ended on its own; killing an ended process is harmless.
        let _ = running.child.kill();
        let _ = running.child.wait();
        last_said(&mut running.stderr)
    }

    /// Waits for ffmpeg, whose output has ended, and returns the last thing it said and the
    /// signal that killed it, if one did (someone or something stopped it mid-stream).
    fn ended(&mut self) -> (String, Option<i32>) {
        let Some(mut running) = self.running.take() else { return (String::new(), None) };
        let status = running.child.wait().ok();
        #[cfg(unix)]
        let signal = status.and_then(|s| std::os::unix::process::ExitStatusExt::signal(&s));
        #[cfg(not(unix))]
        let signal = status.and(None);
        (last_said(&mut running.stderr), signal)
    }

    fn fail(&self, reason: String) -> Error {
        Error::Clip { path: self.path.clone(), reason }
    }
}

impl Drop for FfmpegFrames {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The last line ffmpeg wrote into `stderr` (empty when it said nothing).
fn last_said(stderr: &mut std::fs::File) -> String {
    let mut said = String::new();
    if stderr.rewind().is_ok() {
        let _ = stderr.read_to_string(&mut said);
    }
    if said.trim().is_empty() {
        String::new()
    } else {
        last_line(&said)
    }
}

/// The YUV matrix to read with: the clip's own, else what its size implies (HD is BT.709).
fn matrix(tagged: &str, (w, h): (u32, u32)) -> &'static str {
    match tagged {
        "bt709" => "bt709",
        "smpte170m" | "bt470bg" => "bt601",
        "bt2020nc" | "bt2020c" => "bt2020",
        "fcc" => "fcc",
        "smpte240m" => "smpte240m",
        _ if w.max(h) >= 1280 || w.min(h) >= 720 => "bt709",
        _ => "bt601",
    }
}

/// The range to read with: the clip's own, else ffmpeg's guess from the pixel format.
fn range(tagged: &str) -> &'static str {
    match tagged {
        "pc" => "full",
        "tv" => "limited",
        _ => "auto",
    }
}
