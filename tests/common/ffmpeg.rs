//! Clips made by the real ffmpeg for the tests, and what ffprobe says of clips written.
//!
//! These need Debian's `ffmpeg` (`.ci/run` installs it and sets NSS_REQUIRE_FFMPEG, so tests
//! cannot pass by skipping there); elsewhere the tests using them say they skip.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Whether ffmpeg is here; panics when CI requires it and it is not.
pub fn have_ffmpeg() -> bool {
    let found = Command::new("ffmpeg").arg("-version").output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("NSS_REQUIRE_FFMPEG").is_none(),
            "ffmpeg is required (NSS_REQUIRE_FFMPEG) but not found"
        );
        eprintln!("skipped: no ffmpeg on the PATH (apt install ffmpeg)");
    }
    found
}

/// Runs ffmpeg with `args` (quiet, overwriting) and insists it worked.
pub fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg").args(["-v", "error", "-nostdin", "-y"]).args(args).output().unwrap();
    assert!(out.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// ffprobe's answer for one entry of the first stream of `kind` ("v" or "a"), e.g. codec_name.
pub fn probe(path: &Path, kind: &str, entry: &str) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", &format!("{kind}:0"), "-show_entries", &format!("stream={entry}")])
        .args(["-of", "default=noprint_wrappers=1:nokey=1"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Where the sound of `path` ends, in seconds: its last packet's time plus its length.
pub fn sound_seconds(path: &Path) -> f64 {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "a:0", "-show_entries", "packet=pts_time,duration_time"])
        .args(["-of", "csv=p=0"])
        .arg(path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().rfind(|l| !l.trim().is_empty()).unwrap().to_string();
    let (pts, length) = last.split_once(',').unwrap();
    pts.trim().parse::<f64>().unwrap() + length.trim().parse::<f64>().unwrap_or(0.0)
}

/// A 2-second 640x360 30 fps clip as Android phones record it: H.264 High with B-frames, AAC.
pub fn phone_clip(dir: &Path) -> PathBuf {
    let clip = dir.join("phone.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=640x360:rate=30:duration=2",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=2",
        "-c:v",
        "libx264",
        "-profile:v",
        "high",
        "-bf",
        "3",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-shortest",
        clip.to_str().unwrap(),
    ]);
    clip
}

/// Three one-second shots (a test pattern, a zooming Mandelbrot set, a moving pattern of
/// cells), cut together at 10 fps: cuts before frames 11 and 21.
pub fn three_shots(dir: &Path) -> PathBuf {
    let clip = dir.join("shots.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=192x108:rate=10:duration=1",
        "-f",
        "lavfi",
        "-i",
        "mandelbrot=size=192x108:rate=10",
        "-f",
        "lavfi",
        "-i",
        "life=size=192x108:rate=10:mold=10:ratio=0.3",
        "-filter_complex",
        "[1:v]trim=duration=1[m];[2:v]trim=duration=1,format=yuv420p[l];[0:v][m][l]concat=n=3:v=1[v]",
        "-map",
        "[v]",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        clip.to_str().unwrap(),
    ]);
    clip
}

/// A clip meant to loop: a still of the Mandelbrot set scrolled sideways by 16 px a frame over
/// its own width (192x108, 12 frames at 12 fps, H.264 High), so the frame after the last would
/// be the first.
pub fn looping_clip(dir: &Path) -> PathBuf {
    let clip = dir.join("loop.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "mandelbrot=size=192x108:rate=12:start_scale=0.5",
        "-vf",
        "trim=end_frame=1,loop=loop=11:size=1,setpts=N/12/TB,scroll=horizontal=1/12",
        "-frames:v",
        "12",
        "-c:v",
        "libx264",
        "-profile:v",
        "high",
        "-pix_fmt",
        "yuv420p",
        clip.to_str().unwrap(),
    ]);
    clip
}
