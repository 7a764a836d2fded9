//! A camera's clip in the real window, through ffmpeg: it opens with what it is said, the
//! timeline shows its shots, any frame is the content photo, Render clip writes the codec
//! chosen, About names the ffmpeg used, and Locate ffmpeg takes another program (one that is
//! not ffmpeg is named, and the one before stays in use). A long clip asks before it renders,
//! showing its estimate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::ffmpeg::{ffmpeg, have_ffmpeg, probe, three_shots};
use common::ui::{step_until, tall_harness};
use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;
use neural_style_studio::app::tasks::Purpose;
use neural_style_studio::app::{Launch, Settings};
use neural_style_studio::transfer::{RenderSpec, VideoMode};
use neural_style_studio::video::clip::ClipReader;

#[test]
fn a_clip_with_cuts_opens_shows_its_shots_and_renders_with_the_codec_chosen() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clip = three_shots(dir.path());
    let style = dir.path().join("style.png");
    common::style_image(96, 96).save(&style).unwrap();
    let mut spec = RenderSpec { size: 64, ..RenderSpec::new(dir.path().join("unused.png"), &[style]) };
    spec.content = None;
    spec.video.mode = VideoMode::Fast;
    let mut h = tall_harness(Launch { settings: Some(Settings { spec, ..Settings::default() }), ..Launch::default() });
    h.state_mut().open(Purpose::Clip, &clip);
    step_until(&mut h, 60, "the clip and its shots", |a| {
        a.panels.clip.info.is_some() && a.panels.clip.shots.is_some() && a.pending_tasks() == 0
    });
    assert_eq!(h.state().panels.clip.shots.as_ref().unwrap().len(), 3);
    let on_screen = |h: &egui_kittest::Harness<'static, neural_style_studio::app::App>, text: &str| {
        h.query_all_by_label_contains(text).next().is_some()
    };
    assert!(on_screen(&h, "H.264 High"), "the clip is described");
    assert!(on_screen(&h, "Shot 1 of 3"), "the shots are shown");
    // Frame 15 (shot 2) as the content photo: the picture ffmpeg gives for it.
    h.get_by_role_and_label(Role::Slider, "Frame").set_value_accesskit(15.0);
    step_until(&mut h, 30, "frame 15 as the content", |a| {
        a.settings.spec.content.as_ref().is_some_and(|c| c.path.ends_with("frame-000015.png")) && a.pending_tasks() == 0
    });
    assert!(on_screen(&h, "Shot 2 of 3"));
    let shown = image::open(&h.state().settings.spec.content.as_ref().unwrap().path).unwrap().to_rgb8();
    let mut reader = ClipReader::open(&clip).unwrap();
    reader.seek(14).unwrap();
    assert_eq!(shown, reader.next_frame().unwrap().unwrap());
    // The estimate, in the quality mode, and the iterations that finish in the time asked for.
    h.state_mut().settings.spec.video.mode = VideoMode::Quality;
    h.run();
    h.get_by_label("Estimate time").click();
    step_until(&mut h, 120, "the estimate", |a| a.panels.clip.estimate.estimate.is_some() && a.pending_tasks() == 0);
    assert!(on_screen(&h, "30 frames in 3 shots"), "{:?}", h.state().panels.clip.estimate.estimate);
    let (estimate, _) = h.state().panels.clip.estimate.estimate.clone().unwrap().unwrap();
    let budget = estimate.seconds_with(3) + 0.5 * estimate.iteration * 27.0;
    h.state_mut().panels.clip.estimate.minutes = budget / 60.0;
    h.run();
    h.get_by_label("Fit time").click();
    h.run();
    let chosen = h.state().settings.spec.video.later_iterations;
    assert_eq!(chosen, 3, "the most iterations per later frame within {budget:.1} s");
    h.state_mut().settings.spec.video.mode = VideoMode::Fast;
    h.run();
    // HEVC chosen in the Codec menu, rendered into an .mp4.
    h.get_by_label("Codec").click();
    h.run();
    h.get_by_label("HEVC (smaller; MP4, MOV, MKV)").click();
    h.run();
    assert_eq!(h.state().settings.clip.as_ref().unwrap().codec.as_deref(), Some("hevc"));
    let out = dir.path().join("styled.mp4");
    h.state_mut().open(Purpose::ClipOut, out.clone());
    step_until(&mut h, 300, "the clip written", |a| out.exists() && a.live.clip_progress().is_none());
    assert_eq!(probe(&out, "v", "codec_name"), "hevc");
    assert_eq!(ClipReader::open(&out).unwrap().info().frames, 30);
    // About names the ffmpeg in use.
    h.state_mut().panels.about = true;
    h.run();
    assert!(on_screen(&h, "ffmpeg 5."), "About names the ffmpeg in use");
    // A program that is not ffmpeg is named; the ffmpeg on the PATH is then located again.
    let not_ffmpeg = dir.path().join("ffmpeg");
    std::fs::write(&not_ffmpeg, "#!/bin/sh\necho hello\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&not_ffmpeg, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    h.state_mut().open(Purpose::Ffmpeg, not_ffmpeg.clone());
    step_until(&mut h, 30, "the look-up", |a| a.pending_tasks() == 0);
    let said = h.state().notice.as_ref().map(|n| n.to_string()).unwrap_or_default();
    assert!(said.contains("does not say it is ffmpeg") && said.contains(not_ffmpeg.to_str().unwrap()), "{said}");
    let real =
        String::from_utf8(std::process::Command::new("sh").args(["-c", "command -v ffmpeg"]).output().unwrap().stdout)
            .unwrap();
    assert_eq!(h.state().settings.ffmpeg, None, "the program that is not ffmpeg is not remembered");
    assert!(matches!(h.state().panels.ffmpeg.found, Some(Ok(Some(_)))), "the ffmpeg before stays in use");
    h.state_mut().open(Purpose::Ffmpeg, real.trim());
    step_until(&mut h, 30, "ffmpeg located", |a| a.settings.ffmpeg.is_some() && a.pending_tasks() == 0);
    assert!(matches!(h.state().panels.ffmpeg.found, Some(Ok(Some(_)))));
    assert_eq!(h.state().settings.ffmpeg.as_deref(), Some(std::path::Path::new(real.trim())));
}

#[test]
fn a_long_clip_asks_before_it_renders_showing_its_estimate() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("long.mp4");
    let long = ["-f", "lavfi", "-i", "testsrc2=size=64x36:rate=30", "-frames:v", "3010", "-c:v", "libx264"];
    ffmpeg(&[&long[..], &["-preset", "ultrafast", "-pix_fmt", "yuv420p", clip.to_str().unwrap()]].concat());
    let style = dir.path().join("style.png");
    common::style_image(96, 96).save(&style).unwrap();
    let mut spec = RenderSpec { size: 32, ..RenderSpec::new(dir.path().join("unused.png"), &[style]) };
    spec.content = None;
    spec.video.mode = VideoMode::Fast;
    let mut h = tall_harness(Launch { settings: Some(Settings { spec, ..Settings::default() }), ..Launch::default() });
    h.state_mut().open(Purpose::Clip, &clip);
    step_until(&mut h, 120, "the clip and its shots", |a| {
        a.panels.clip.info.is_some() && a.panels.clip.shots.is_some() && a.pending_tasks() == 0
    });
    let out = dir.path().join("long.gif");
    let frames = dir.path().join("long.gif.frames");
    h.state_mut().open(Purpose::ClipOut, out.clone());
    step_until(&mut h, 60, "the estimate", |a| a.panels.clip.estimate.estimate.is_some() && a.pending_tasks() == 0);
    let on_screen = |h: &egui_kittest::Harness<'static, neural_style_studio::app::App>, text: &str| {
        h.query_all_by_label_contains(text).next().is_some()
    };
    assert!(on_screen(&h, "Render a long clip?") && on_screen(&h, "3010 frames"), "the question, with the frames");
    assert!(on_screen(&h, "On this machine: about"), "{:?}", h.state().panels.clip.estimate.estimate);
    assert!(h.state().live.clip_progress().is_none() && !frames.exists(), "nothing starts before the answer");
    h.get_by_label("Cancel").click();
    h.run();
    assert!(!on_screen(&h, "Render a long clip?"));
    assert!(h.state().live.clip_progress().is_none() && !frames.exists(), "Cancel starts nothing");
    // Asked again, and Render: it starts.
    h.state_mut().open(Purpose::ClipOut, out);
    h.run();
    h.get_by_label("Render").click();
    step_until(&mut h, 60, "the render started", |a| a.live.clip_progress().is_some_and(|p| p.frames.0 > 0));
    h.get_by_label("Cancel clip").click();
    step_until(&mut h, 60, "the render stopped", |a| a.live.clip_progress().is_none());
    assert!(frames.join("frame_000001.png").exists());
}
