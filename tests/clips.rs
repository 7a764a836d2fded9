//! Clips as cameras make them, through the real ffmpeg: H.264 High with B-frames, HEVC in a MOV
//! turned 90°, a variable frame rate, 10-bit HDR; every frame read, a seek landing on the same
//! picture as reading from the start, and clips written as H.264, HEVC, ProRes, VP9 and GIF with
//! their sound. Without ffmpeg such clips are refused at open, naming the install command.
//!
//! These tests need Debian's `ffmpeg` (`.ci/run` installs it and sets NSS_REQUIRE_FFMPEG, so
//! they cannot pass by skipping there); elsewhere they say they skip.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{stderr, write_style};

use std::path::Path;
use std::process::Output;

use common::ffmpeg::{ffmpeg, have_ffmpeg, looping_clip, phone_clip, probe, sound_seconds, three_shots};
use image::RgbImage;
use neural_style_studio::notice::Note;
use neural_style_studio::video::clip::ClipReader;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Every frame of `clip` at `size`, read from the start.
fn all_frames(clip: &Path, size: (u32, u32)) -> Vec<RgbImage> {
    let mut reader = ClipReader::open(clip).unwrap();
    reader.scale_to(size);
    let mut frames = Vec::new();
    while let Some(frame) = reader.next_frame().unwrap() {
        frames.push(frame);
    }
    frames
}

/// Mean absolute difference per channel value.
fn mean_difference(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let sum: u64 = a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| u64::from(x.abs_diff(*y))).sum();
    sum as f64 / a.as_raw().len() as f64
}

#[test]
fn a_phone_clip_in_h264_high_reads_every_frame_and_a_seek_lands_on_the_same_picture() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clip = phone_clip(dir.path());
    let reader = ClipReader::open(&clip).unwrap();
    let info = reader.info().clone();
    assert_eq!((info.frames, info.size, info.sound), (60, (640, 360), true), "{info:?}");
    assert!((info.fps - 30.0).abs() < 1e-9);
    assert!(info.about.contains("H.264 High") && info.about.contains("ffmpeg"), "{}", info.about);
    let frames = all_frames(&clip, (160, 90));
    assert_eq!(frames.len(), 60);
    for index in [0usize, 12, 31, 59] {
        let mut reader = ClipReader::open(&clip).unwrap();
        reader.scale_to((160, 90));
        reader.seek(index).unwrap();
        assert_eq!(reader.next_frame().unwrap().unwrap(), frames[index], "frame {} after a seek", index + 1);
    }
    // A seek back, on the same reader, too.
    let mut reader = ClipReader::open(&clip).unwrap();
    reader.scale_to((160, 90));
    reader.seek(40).unwrap();
    reader.next_frame().unwrap();
    reader.seek(5).unwrap();
    assert_eq!(reader.next_frame().unwrap().unwrap(), frames[5]);
    // The pictures are the clip's: ffmpeg's own PNG of frame 13 at full size agrees.
    let png = dir.path().join("13.png");
    ffmpeg(&["-i", s(&clip), "-vf", "select=eq(n\\,12)", "-frames:v", "1", s(&png)]);
    let mut reader = ClipReader::open(&clip).unwrap();
    reader.seek(12).unwrap();
    let ours = reader.next_frame().unwrap().unwrap();
    let theirs = image::open(&png).unwrap().to_rgb8();
    assert!(mean_difference(&ours, &theirs) < 3.0, "{}", mean_difference(&ours, &theirs));
}

#[test]
fn an_iphone_style_hevc_mov_turned_90_degrees_is_read_upright() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let flat = dir.path().join("flat.mov");
    let turned = dir.path().join("turned.mov");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x180:rate=30:duration=1",
        "-c:v",
        "libx265",
        "-x265-params",
        "log-level=error",
        "-pix_fmt",
        "yuv420p",
        "-tag:v",
        "hvc1",
        s(&flat),
    ]);
    ffmpeg(&["-i", s(&flat), "-c", "copy", "-metadata:s:v:0", "rotate=90", s(&turned)]);
    let reader = ClipReader::open(&turned).unwrap();
    assert_eq!(reader.info().size, (180, 320), "{:?}", reader.info());
    assert!(reader.info().about.contains("HEVC") && reader.info().about.contains("turned"), "{}", reader.info().about);
    let upright = all_frames(&turned, (180, 320));
    let lying = all_frames(&flat, (320, 180));
    assert_eq!(upright.len(), 30);
    // A quarter turn of the stored picture, one way or the other, and not a squashed copy.
    let turns = [image::imageops::rotate90(&lying[7]), image::imageops::rotate270(&lying[7])];
    let best = turns.iter().map(|t| mean_difference(&upright[7], t)).fold(f64::MAX, f64::min);
    assert!(best < 2.0, "the upright frame is no quarter turn of the stored one ({best})");
}

#[test]
fn a_variable_frame_rate_is_read_at_a_constant_one_and_said() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("vfr.mp4");
    // 60 fps with frames dropped irregularly: 30 frames a second on average, never evenly.
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x180:rate=60:duration=3",
        "-vf",
        "select='lt(mod(n\\,4)\\,2)+eq(mod(n\\,11)\\,3)'",
        "-fps_mode",
        "vfr",
        "-c:v",
        "libx264",
        s(&clip),
    ]);
    let info = ClipReader::open(&clip).unwrap().info().clone();
    assert!(info.notes.iter().any(|n| matches!(n, Note::ClipVariableRate { fps } if *fps == info.fps)), "{info:?}");
    let frames = all_frames(&clip, (96, 54));
    assert_eq!(frames.len(), info.frames, "{info:?}");
    assert!((info.frames as f64 - 3.0 * info.fps).abs() <= 2.0, "{info:?}");
    for index in [1usize, 20, info.frames - 1] {
        let mut reader = ClipReader::open(&clip).unwrap();
        reader.scale_to((96, 54));
        reader.seek(index).unwrap();
        assert_eq!(reader.next_frame().unwrap().unwrap(), frames[index], "frame {} after a seek", index + 1);
    }
}

#[test]
fn a_10_bit_hdr_clip_is_tone_mapped_to_sdr_and_said() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("hdr.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x180:rate=25:duration=1",
        "-vf",
        "format=yuv420p10le",
        "-c:v",
        "libx265",
        "-x265-params",
        "log-level=error:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc",
        "-color_primaries",
        "bt2020",
        "-color_trc",
        "smpte2084",
        "-colorspace",
        "bt2020nc",
        s(&clip),
    ]);
    let info = ClipReader::open(&clip).unwrap().info().clone();
    assert!(info.notes.contains(&Note::ClipToneMapped { hdr: "PQ (HDR10)".into() }), "{info:?}");
    let frames = all_frames(&clip, (160, 90));
    assert_eq!(frames.len(), 25);
    let mean = frames[0].as_raw().iter().map(|v| f64::from(*v)).sum::<f64>() / frames[0].as_raw().len() as f64;
    assert!((20.0..235.0).contains(&mean), "a tone-mapped frame is neither black nor white (mean {mean})");
}

fn run(args: &[&str]) -> Output {
    common::binary().args(args).output().unwrap()
}

/// `render-video` of `clip` in the fast mode at `size` px into `out`, with `more` options.
fn fast(clip: &Path, style: &Path, size: &str, out: &Path, more: &[&str]) -> Output {
    let args = ["render-video", "--content", s(clip), "--style", s(style), "--size", size, "--mode", "fast"];
    run(&[&args[..], more, &["--out", s(out)]].concat())
}

#[test]
fn render_video_writes_h264_hevc_prores_vp9_and_gif_with_the_clips_sound() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clip = phone_clip(dir.path());
    let style = write_style(dir.path());
    let render = |out: &Path, codec: Option<&str>| {
        let codec = codec.map_or(Vec::new(), |c| vec!["--codec", c]);
        let result = fast(&clip, &style, "96", out, &[&["--frames", "1..12"][..], &codec].concat());
        assert!(result.status.success(), "{}: {}", out.display(), stderr(&result));
        stderr(&result)
    };
    let first = dir.path().join("out.mp4");
    let said = render(&first, None);
    assert!(said.contains("H.264 High"), "the clip is described: {said}");
    // Each format rendered and written.
    let cases = [
        ("out.mp4", None, "h264", Some("aac")),
        ("hevc.mp4", Some("hevc"), "hevc", Some("aac")),
        ("out.mov", None, "prores", Some("aac")),
        ("out.webm", None, "vp9", Some("opus")),
        ("out.gif", None, "gif", None),
    ];
    for (name, codec, video, audio) in cases {
        let out = dir.path().join(name);
        if name != "out.mp4" {
            render(&out, codec);
        }
        assert_eq!(probe(&out, "v", "codec_name"), video, "{name}");
        assert_eq!(probe(&out, "a", "codec_name"), audio.unwrap_or(""), "{name}");
        let reader = ClipReader::open(&out).unwrap();
        assert_eq!(reader.info().frames, 12, "{name}: {:?}", reader.info());
        // A GIF's delays are whole hundredths of a second: 30 fps is 3 or 4 of them.
        let tolerance = if video == "gif" { 3.5 } else { 0.05 };
        assert!((reader.info().fps - 30.0).abs() < tolerance, "{name}: {:?}", reader.info());
        if audio.is_some() {
            let seconds = sound_seconds(&out);
            assert!((seconds - 0.4).abs() < 0.1, "{name}: the sound is cut to the 12 frames ({seconds} s)");
        }
    }
    // The H.264 keeps the rendered frames' strokes: its luma is close to the PNG frame's (the
    // colour planes are halved by 4:2:0 at any bit rate, so they are not the measure).
    let mut reader = ClipReader::open(&first).unwrap();
    let decoded = reader.next_frame().unwrap().unwrap();
    let frame = image::open(dir.path().join("out.mp4.frames/frame_000001.png")).unwrap().to_rgb8();
    let luma = |img: &RgbImage| -> Vec<f64> {
        img.pixels().map(|p| 0.2126 * f64::from(p[0]) + 0.7152 * f64::from(p[1]) + 0.0722 * f64::from(p[2])).collect()
    };
    let (a, b) = (luma(&decoded), luma(&frame));
    let difference = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum::<f64>() / a.len() as f64;
    // 2.3 measured at CRF 16 on these 96 px frames, which are all strokes.
    assert!(difference < 3.0, "mean luma difference {difference}");
    // A codec its container cannot hold is refused before rendering.
    let refused = fast(&clip, &style, "64", &dir.path().join("prores.mp4"), &["--codec", "prores"]);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains(".mov"), "{}", stderr(&refused));
    assert!(!dir.path().join("prores.mp4.frames").exists(), "refused before any frame");
}

#[test]
fn without_ffmpeg_a_high_profile_clip_is_refused_at_open_naming_the_install_command() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clip = phone_clip(dir.path());
    let style = write_style(dir.path());
    let off = ["--ffmpeg", "none"];
    let result = fast(&clip, &style, "64", &dir.path().join("out.gif"), &off);
    let text = stderr(&result);
    assert!(!result.status.success());
    assert!(text.contains("phone.mp4") && text.contains("High") && text.contains("install ffmpeg"), "{text}");
    assert!(!dir.path().join("out.gif.frames").exists(), "refused before any frame");
    // A WebM output needs ffmpeg too, and says so before rendering.
    let gif = dir.path().join("in.gif");
    ffmpeg(&["-f", "lavfi", "-i", "testsrc2=size=96x64:rate=10:duration=0.5", s(&gif)]);
    let result = fast(&gif, &style, "64", &dir.path().join("out.webm"), &off);
    assert!(!result.status.success());
    assert!(stderr(&result).contains("install ffmpeg"), "{}", stderr(&result));
    // The built-in writers still make an MP4 (Baseline) from a GIF, read back without ffmpeg.
    let mp4 = dir.path().join("builtin.mp4");
    let result = fast(&gif, &style, "64", &mp4, &off);
    assert!(result.status.success(), "{}", stderr(&result));
    assert_eq!(probe(&mp4, "v", "profile"), "Constrained Baseline");
}

#[test]
fn cuts_are_found_and_nothing_is_carried_across_them() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clip = three_shots(dir.path());
    let listed = run(&["render-video", "--content", s(&clip), "--size", "96", "--list-shots"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    let lines: Vec<String> =
        String::from_utf8_lossy(&listed.stdout).lines().map(|l| l.split(" (").next().unwrap().to_string()).collect();
    assert_eq!(lines, ["shot 1: frames 1..10", "shot 2: frames 11..20", "shot 3: frames 21..30"]);
    // The fast mode holds each frame to the one before, except across a cut: frame 11 of the
    // whole clip is frame 11 painted alone.
    let style = write_style(dir.path());
    let render = |out: &Path, frames: &str| {
        let result = fast(&clip, &style, "64", out, &["--frames", frames]);
        assert!(result.status.success(), "{}", stderr(&result));
        stderr(&result)
    };
    let said = render(&dir.path().join("all"), "1..12");
    assert!(said.contains("frame 11: a cut"), "{said}");
    render(&dir.path().join("alone"), "11..11");
    let frame = |folder: &str, n: u32| image::open(dir.path().join(folder).join(format!("frame_{n:06}.png"))).unwrap();
    assert_eq!(frame("all", 11).to_rgb8(), frame("alone", 11).to_rgb8(), "the cut's frame carries nothing");
    // Within a shot the hold is at work: frame 12 is not frame 12 painted alone.
    render(&dir.path().join("alone12"), "12..12");
    assert_ne!(frame("all", 12).to_rgb8(), frame("alone12", 12).to_rgb8());
    // Quality: the cut's frame runs the whole schedule from its own start, as frame 11 alone.
    let quality = |out: &str, frames: &str| {
        let base = ["render-video", "--content", s(&clip), "--style", s(&style), "--size", "48", "--iters", "8"];
        let result =
            run(&[&base[..], &["--later-iterations", "3", "--frames", frames, "--out"], &[s(&dir.path().join(out))]]
                .concat());
        assert!(result.status.success(), "{}", stderr(&result));
    };
    quality("q-all", "10..11");
    quality("q-alone", "11..11");
    assert_eq!(frame("q-all", 11).to_rgb8(), frame("q-alone", 11).to_rgb8(), "Quality: frame 11 as rendered alone");
    // A loop from frame 12 back to frame 9 wraps across a cut: nothing is joined.
    let looped = fast(&clip, &style, "64", &dir.path().join("looped"), &["--frames", "9..12", "--loop"]);
    assert!(looped.status.success(), "{}", stderr(&looped));
    assert!(stderr(&looped).contains("different shots: the loop keeps its cut"), "{}", stderr(&looped));
    assert_eq!(frame("looped", 12).to_rgb8(), frame("all", 12).to_rgb8(), "frames 11 and 12 as without the loop");
}

#[test]
fn the_estimate_is_printed_before_the_first_frame_and_finish_in_fits_the_budget() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clip = three_shots(dir.path());
    let style = write_style(dir.path());
    let base = ["render-video", "--content", s(&clip), "--style", s(&style), "--size", "48", "--iters", "6"];
    let estimated = run(&[&base[..], &["--estimate", "--out", s(&dir.path().join("e.gif"))]].concat());
    let text = stderr(&estimated);
    assert!(estimated.status.success(), "{text}");
    assert!(text.contains("estimate: about") && text.contains("30 frames in 3 shots"), "{text}");
    assert!(!dir.path().join("e.gif.frames").exists(), "--estimate renders nothing");
    // A budget too small for even one iteration per frame is refused with the time it needs.
    let refused = run(&[&base[..], &["--finish-in", "0.001", "--out", s(&dir.path().join("f.gif"))]].concat());
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("cannot finish in"), "{}", stderr(&refused));
}

/// The warping error of each pair of consecutive output frames in `folder` (frames of `clip`
/// at the output's size), and of the wrap from the last frame to the first.
fn wrap_and_pairs(clip: &Path, folder: &Path) -> (f64, Vec<f64>) {
    use neural_style_studio::video::flow::{FlowParams, Gray};
    use neural_style_studio::video::warp::{carry, warping_error};
    let mut outputs = Vec::new();
    while let Ok(frame) = image::open(folder.join(format!("frame_{:06}.png", outputs.len() + 1))) {
        outputs.push(frame.to_rgb8());
    }
    let inputs = all_frames(clip, outputs[0].dimensions());
    assert_eq!(inputs.len(), outputs.len());
    let error = |a: usize, b: usize| {
        let (warped, reliable) =
            carry(&Gray::from_rgb(&inputs[a]), &Gray::from_rgb(&inputs[b]), &outputs[a], &FlowParams::default());
        warping_error(&outputs[b], &warped, &reliable).unwrap()
    };
    let n = outputs.len();
    (error(n - 1, 0), (0..n - 1).map(|i| error(i, i + 1)).collect())
}

#[test]
fn a_loop_wraps_from_its_last_frame_to_its_first_without_a_jump() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clip = looping_clip(dir.path());
    let style = write_style(dir.path());
    let quality = ["--iters", "12", "--later-iterations", "6"];
    for (mode, more) in [("fast", &[][..]), ("quality", &quality[..])] {
        let render = |name: &str, looped: bool| {
            let out = dir.path().join(format!("{mode}-{name}"));
            let looping: &[&str] = if looped { &["--loop"] } else { &[] };
            let base = ["render-video", "--content", s(&clip), "--style", s(&style), "--size", "96", "--mode", mode];
            let result = run(&[&base[..], more, looping, &["--out", s(&out)]].concat());
            assert!(result.status.success(), "{}", stderr(&result));
            (out, stderr(&result))
        };
        if mode == "fast" {
            // Without --loop the wrap jumps (measured in Quality too: 4.4x the mean pair).
            let (plain, _) = render("plain", false);
            let (wrap, pairs) = wrap_and_pairs(&clip, &plain);
            let mean = pairs.iter().sum::<f64>() / pairs.len() as f64;
            eprintln!("{mode} without --loop: wrap {wrap:.2}, pairs {mean:.2} on average");
            assert!(wrap > 1.5 * mean, "{mode}: the jump a loop removes is there without it");
        }
        let (looped, said) = render("looped", true);
        assert!(said.contains("the loop is joined: frames 1..8"), "{said}");
        let (wrap, pairs) = wrap_and_pairs(&clip, &looped);
        let mean = pairs.iter().sum::<f64>() / pairs.len() as f64;
        let most = pairs.iter().copied().fold(0.0, f64::max);
        eprintln!("{mode} with --loop: wrap {wrap:.2}, pairs {mean:.2} on average, {most:.2} at most");
        assert!(wrap <= 1.5 * mean, "{mode}: the wrap {wrap:.2} against {mean:.2} between other frames");
        // Nothing of the join is left behind: its frames replaced the first renderings.
        assert!(!looped.join("loop_000001.png").exists());
    }
}

#[test]
fn a_loop_resumed_before_or_within_its_join_gives_the_frames_of_one_uninterrupted_render() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clip = looping_clip(dir.path());
    let style = write_style(dir.path());
    let whole = dir.path().join("whole");
    let result = fast(&clip, &style, "96", &whole, &["--loop"]);
    assert!(result.status.success(), "{}", stderr(&result));
    let frames = |folder: &Path| -> Vec<Vec<u8>> {
        (1..=12).map(|n| image::open(folder.join(format!("frame_{n:06}.png"))).unwrap().to_rgb8().into_raw()).collect()
    };
    // Stopped after the last frame (here: rendered without the loop, which is then asked for),
    // and stopped after three frames of the join (their files as the join writes them).
    for joined in [0, 3] {
        let out = dir.path().join(format!("stopped{joined}"));
        let result = fast(&clip, &style, "96", &out, &[]);
        assert!(result.status.success(), "{}", stderr(&result));
        let plan = out.join("render.json");
        let text = std::fs::read_to_string(&plan).unwrap().replace("\"loop\": false", "\"loop\": true");
        std::fs::write(&plan, text).unwrap();
        for n in 1..=joined {
            std::fs::copy(whole.join(format!("frame_{n:06}.png")), out.join(format!("loop_{n:06}.png"))).unwrap();
        }
        let resumed = run(&["render-video", "--resume", "--out", s(&out)]);
        assert!(resumed.status.success(), "{}", stderr(&resumed));
        assert!(stderr(&resumed).contains(&format!("{} already done", 12 + joined)), "{}", stderr(&resumed));
        assert_eq!(frames(&out), frames(&whole), "resumed with {joined} frames of the join done");
    }
}

/// The pids of the processes called `name` whose parent is `parent` (from /proc).
#[cfg(target_os = "linux")]
fn children_named(parent: u32, name: &str) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // pid (comm) state ppid ...
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else { continue };
        let ppid = stat[close + 2..].split(' ').nth(1).and_then(|p| p.parse::<u32>().ok());
        if &stat[open + 1..close] == name && ppid == Some(parent) {
            found.extend(stat[..open].trim().parse::<i32>().ok());
        }
    }
    found
}

#[cfg(target_os = "linux")]
#[test]
fn ffmpeg_killed_mid_stream_keeps_the_finished_frames_and_resume_finishes_the_clip() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clip = phone_clip(dir.path());
    let style = write_style(dir.path());
    let out = dir.path().join("out");
    let args = ["render-video", "--content", s(&clip), "--style", s(&style), "--size", "64", "--mode", "fast"];
    let render =
        common::binary().args(args).args(["--out", s(&out)]).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let fifth = out.join("frame_000005.png");
    let started = std::time::Instant::now();
    while !fifth.exists() {
        assert!(started.elapsed().as_secs() < 60, "no fifth frame");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let decoders = children_named(render.id(), "ffmpeg");
    assert_eq!(decoders.len(), 1, "one ffmpeg reads the clip");
    // SAFETY: kill(2) on a pid this test found as the render's child; no memory is involved.
    assert_eq!(unsafe { libc::kill(decoders[0], libc::SIGKILL) }, 0);
    let stopped = render.wait_with_output().unwrap();
    let said = stderr(&stopped);
    assert!(!stopped.status.success());
    assert!(said.contains("ffmpeg was stopped (signal 9)") && said.contains("--resume"), "{said}");
    let kept: Vec<_> = (1..=60).map(|n| out.join(format!("frame_{n:06}.png"))).take_while(|f| f.exists()).collect();
    assert!(kept.len() >= 5 && kept.len() < 60, "{} frames kept", kept.len());
    let times: Vec<_> = kept.iter().map(|f| std::fs::metadata(f).unwrap().modified().unwrap()).collect();
    let resumed = run(&["render-video", "--resume", "--out", s(&out)]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert!(out.join("frame_000060.png").exists());
    let after: Vec<_> = kept.iter().map(|f| std::fs::metadata(f).unwrap().modified().unwrap()).collect();
    assert_eq!(times, after, "the frames kept are not rendered again");
}

#[test]
fn a_file_without_video_or_that_ffmpeg_cannot_read_is_refused_in_one_line_naming_it() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let style = write_style(dir.path());
    let sound = dir.path().join("sound.mp4");
    ffmpeg(&["-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", s(&sound)]);
    let broken = dir.path().join("broken.mp4");
    let bytes: Vec<u8> = (0..20_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(&broken, bytes).unwrap();
    for (clip, why) in [(&sound, "no video stream"), (&broken, "broken.mp4")] {
        let out = dir.path().join("out.gif");
        let result = fast(clip, &style, "64", &out, &[]);
        let said = stderr(&result);
        assert!(!result.status.success());
        assert!(said.contains(why) && !said.contains("panicked"), "{said}");
        assert!(said.lines().filter(|l| l.starts_with("error")).count() == 1, "{said}");
        assert!(!dir.path().join("out.gif.frames").exists(), "refused before any frame");
    }
}
