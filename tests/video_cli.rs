//! `render-video`: clips in and out keep their frames and rate, a killed render resumes without
//! rendering its finished frames again, and bad clips or outputs are named in one line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{stderr, write_style};

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use common::scene::{Motion, Scene};
use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, Frame, RgbImage};
use neural_style_studio::video::clip::ClipReader;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn frames(n: u32, w: u32, h: u32) -> Vec<RgbImage> {
    let scene = Scene::new(w, h, 120, 5);
    let step = Motion { shift: (2.0, 0.0), ..Motion::STILL };
    (0..n).map(|t| scene.frame(w, h, step.times(t))).collect()
}

/// An animated GIF of `n` frames at 10 frames per second.
fn write_gif(path: &Path, n: u32) {
    let file = std::fs::File::create(path).unwrap();
    let mut encoder = GifEncoder::new(file);
    encoder.set_repeat(Repeat::Infinite).unwrap();
    for f in frames(n, 96, 64) {
        let rgba = image::DynamicImage::ImageRgb8(f).to_rgba8();
        encoder.encode_frame(Frame::from_parts(rgba, 0, 0, Delay::from_numer_denom_ms(100, 1))).unwrap();
    }
}

fn run(args: &[&str]) -> Output {
    common::binary().args(args).output().unwrap()
}

/// `render-video` of `clip` in the fast mode at 64 px into `out`.
fn fast(clip: &Path, style: &Path, out: &Path) -> Output {
    run(&["render-video", "--content", s(clip), "--style", s(style), "--size", "64", "--mode", "fast", "--out", s(out)])
}

#[test]
fn a_gif_becomes_a_gif_an_apng_and_an_mp4_with_its_frames_rate_and_size() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("clip.gif");
    write_gif(&clip, 5);
    let style = write_style(dir.path());
    for out in ["out.gif", "out.png", "out.mp4"] {
        let out = dir.path().join(out);
        let result = run(&[
            "render-video",
            "--content",
            s(&clip),
            "--style",
            s(&style),
            "--size",
            "80",
            "--mode",
            "fast",
            "--out",
            s(&out),
        ]);
        assert!(result.status.success(), "{}", stderr(&result));
        let mut reader = ClipReader::open(&out).unwrap();
        assert_eq!(reader.info().frames, 5, "{}", out.display());
        assert!((reader.info().fps - 10.0).abs() < 0.01, "{} fps", reader.info().fps);
        // H.264 keeps even sizes: the MP4 loses the last row.
        let size = if out.extension().unwrap() == "mp4" { (80, 52) } else { (80, 53) };
        assert_eq!(reader.info().size, size);
        let first = reader.next_frame().unwrap().unwrap();
        let frame = image::open(
            dir.path().join(format!("{}.frames/frame_000001.png", out.file_name().unwrap().to_string_lossy())),
        )
        .unwrap()
        .to_rgb8();
        if out.extension().unwrap() == "png" {
            assert_eq!(first, frame, "the APNG's first frame is the rendered frame");
        }
    }
    // The MP4 written is a clip to read in turn, and a cut one is named.
    let mp4 = dir.path().join("out.mp4");
    let again = dir.path().join("again.gif");
    let result = fast(&mp4, &style, &again);
    assert!(result.status.success(), "{}", stderr(&result));
    assert_eq!(ClipReader::open(&again).unwrap().info().frames, 5);
    let bytes = std::fs::read(&mp4).unwrap();
    let cut = dir.path().join("cut.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    // (read by ffmpeg, a cut MP4 whose index is whole renders to where it ends, then is named)
    let result = fast(&cut, &style, &dir.path().join("from-cut.gif"));
    assert!(!result.status.success());
    let text = stderr(&result);
    assert!(text.contains("cut.mp4") && !text.contains("panicked"), "{text}");
}

#[test]
fn a_killed_render_resumes_without_rendering_its_finished_frames_again() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("clip");
    std::fs::create_dir_all(&folder).unwrap();
    for (t, f) in frames(4, 96, 64).into_iter().enumerate() {
        f.save(folder.join(format!("{:03}.png", t + 1))).unwrap();
    }
    let style = write_style(dir.path());
    let out = dir.path().join("out.gif");
    let frames_dir = dir.path().join("out.gif.frames");
    let args = [
        "render-video",
        "--content",
        s(&folder),
        "--style",
        s(&style),
        "--size",
        "64",
        "--iters",
        "30",
        "--later-iterations",
        "30",
        "--out",
        s(&out),
    ];
    let mut child = common::binary().args(args).stderr(std::process::Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    while !frames_dir.join("frame_000002.png").exists() {
        assert!(Instant::now() < deadline, "two frames were not written in 5 minutes");
        assert!(child.try_wait().unwrap().is_none(), "the render ended before it was killed");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!out.exists(), "the clip was exported before its frames were done");
    let kept: Vec<(PathBuf, std::time::SystemTime)> = (1..=4)
        .map(|i| frames_dir.join(format!("frame_{i:06}.png")))
        .filter(|p| p.exists())
        .map(|p| (p.clone(), std::fs::metadata(&p).unwrap().modified().unwrap()))
        .collect();
    assert!(kept.len() >= 2 && kept.len() < 4, "{} frames when killed", kept.len());
    // Without --resume the finished frames are not overwritten.
    let refused = run(&args);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("--resume"), "{}", stderr(&refused));
    let resumed = run(&["render-video", "--resume", "--out", s(&out)]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert!(stderr(&resumed).contains(&format!("{} already done", kept.len())), "{}", stderr(&resumed));
    for (path, modified) in &kept {
        assert_eq!(
            std::fs::metadata(path).unwrap().modified().unwrap(),
            *modified,
            "{} was rendered again",
            path.display()
        );
    }
    assert_eq!(ClipReader::open(&out).unwrap().info().frames, 4);
}

#[test]
fn bad_clips_and_outputs_are_named_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let style = write_style(dir.path());
    let out = dir.path().join("out.gif");
    let fails_with = |clip: &Path, out: &Path, words: &[&str]| {
        let result = fast(clip, &style, out);
        let text = stderr(&result);
        assert!(!result.status.success(), "{} rendered", clip.display());
        assert!(words.iter().all(|w| text.contains(w)), "{}: {text}", clip.display());
        assert!(!text.contains("panicked"), "{text}");
        assert_eq!(text.lines().filter(|l| l.starts_with("error")).count(), 1, "{text}");
    };
    // A folder without frames.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    fails_with(&empty, &out, &["no frames"]);
    // A frame of another size halfway.
    let mixed = dir.path().join("mixed");
    std::fs::create_dir_all(&mixed).unwrap();
    for (t, f) in frames(3, 96, 64).into_iter().enumerate() {
        f.save(mixed.join(format!("{t}.png"))).unwrap();
    }
    RgbImage::new(90, 64).save(mixed.join("3.png")).unwrap();
    fails_with(&mixed, &dir.path().join("mixed.gif"), &["frame 4 is 90x64", "96x64"]);
    assert!(dir.path().join("mixed.gif.frames/frame_000003.png").exists(), "the frames before it are kept");
    // A truncated GIF.
    let gif = dir.path().join("clip.gif");
    write_gif(&gif, 4);
    let bytes = std::fs::read(&gif).unwrap();
    let cut = dir.path().join("cut.gif");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    fails_with(&cut, &out, &["cut.gif"]);
    // A container not read here names a conversion.
    let mkv = dir.path().join("clip.mkv");
    std::fs::write(&mkv, b"not read").unwrap();
    fails_with(&mkv, &out, &["clip.mkv", "ffmpeg"]);
    // And a damaged MP4 too.
    let mov = dir.path().join("clip.mov");
    std::fs::write(&mov, b"not read").unwrap();
    fails_with(&mov, &out, &["clip.mov", "ffmpeg"]);
    // An output format not written here.
    fails_with(&gif, &dir.path().join("out.avi"), &[".avi"]);
    // An output folder that cannot be made (its parent is a file), and a read-only one.
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"").unwrap();
    fails_with(&gif, &file.join("out.gif"), &["a-file"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let locked = dir.path().join("locked");
        std::fs::create_dir_all(&locked).unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
        // Root writes anywhere: the check means something only for an ordinary user.
        if std::fs::write(locked.join("probe"), b"").is_err() {
            fails_with(&gif, &locked.join("out.gif"), &["locked"]);
        }
    }
}
