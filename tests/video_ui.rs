//! A clip in the real window: the timeline shows the chosen frame as the content photo, Render
//! clip writes every frame and the clip with progress over frames, Cancel keeps the finished
//! frames and Resume goes on without rendering them again, and the finished frames play back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::scene::{Motion, Scene};
use common::ui::{step_until, tall_harness};
use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;
use image::codecs::gif::{GifEncoder, Repeat};
use image::{AnimationDecoder, Delay, Frame};
use neural_style_studio::app::tasks::Purpose;
use neural_style_studio::app::{Launch, Settings};
use neural_style_studio::transfer::{RenderSpec, VideoMode};
use neural_style_studio::video::clip::ClipReader;

/// A 5-frame GIF of a panning scene, 96x64 at 10 fps.
fn write_gif(path: &Path) {
    let scene = Scene::new(96, 64, 120, 9);
    let mut encoder = GifEncoder::new(std::fs::File::create(path).unwrap());
    encoder.set_repeat(Repeat::Infinite).unwrap();
    for t in 0..5 {
        let rgba =
            image::DynamicImage::ImageRgb8(scene.frame(96, 64, Motion { shift: (2.0, 0.0), ..Motion::STILL }.times(t)))
                .to_rgba8();
        encoder.encode_frame(Frame::from_parts(rgba, 0, 0, Delay::from_numer_denom_ms(100, 1))).unwrap();
    }
}

fn settings(dir: &Path, mode: VideoMode) -> (Settings, PathBuf) {
    let clip = dir.join("clip.gif");
    write_gif(&clip);
    let style = dir.join("style.png");
    common::style_image(96, 96).save(&style).unwrap();
    let mut spec = RenderSpec { size: 64, ..RenderSpec::new(dir.join("unused.png"), &[style]) };
    spec.content = None;
    spec.schedule.iterations = 30;
    spec.video.mode = mode;
    spec.video.later_iterations = 30;
    (Settings { spec, ..Settings::default() }, clip)
}

#[test]
fn an_animated_gif_launched_as_the_content_opens_as_a_clip() {
    let dir = tempfile::tempdir().unwrap();
    let (mut settings, clip) = settings(dir.path(), VideoMode::Fast);
    settings.spec.content = Some(neural_style_studio::transfer::ImageRef::new(&clip));
    // Whether the GIF is animated is read from its header on a task, not in App::new.
    let mut h = tall_harness(Launch { settings: Some(settings), ..Launch::default() });
    step_until(&mut h, 30, "the clip open with its first frame", |a| {
        a.settings.clip.as_ref().is_some_and(|c| c.path == clip)
            && a.settings.spec.content.as_ref().is_some_and(|c| c.path.ends_with("frame-000001.png"))
    });
}

#[test]
fn the_timeline_shows_the_chosen_frame_as_the_content_photo() {
    let dir = tempfile::tempdir().unwrap();
    let (settings, clip) = settings(dir.path(), VideoMode::Fast);
    let mut h = tall_harness(Launch { settings: Some(settings), ..Launch::default() });
    h.state_mut().open(Purpose::Clip, &clip);
    step_until(&mut h, 30, "the clip's first frame", |a| {
        a.panels.clip.info.is_some()
            && a.settings.spec.content.as_ref().is_some_and(|c| c.path.ends_with("frame-000001.png"))
    });
    h.get_by_role_and_label(Role::Slider, "Frame").set_value_accesskit(4.0);
    step_until(&mut h, 30, "frame 4 as the content", |a| {
        a.settings.spec.content.as_ref().is_some_and(|c| c.path.ends_with("frame-000004.png")) && a.pending_tasks() == 0
    });
    let shown = image::open(&h.state().settings.spec.content.as_ref().unwrap().path).unwrap().to_rgb8();
    let gif =
        image::codecs::gif::GifDecoder::new(std::io::BufReader::new(std::fs::File::open(&clip).unwrap())).unwrap();
    let fourth = gif.into_frames().nth(3).unwrap().unwrap();
    assert_eq!(shown, image::DynamicImage::ImageRgba8(fourth.into_buffer()).to_rgb8());
    assert_eq!(h.state().settings.clip.as_ref().unwrap().frame, 3);
}

#[test]
fn render_clip_is_cancelled_keeping_its_frames_resumed_without_redoing_them_and_played_back() {
    let dir = tempfile::tempdir().unwrap();
    let (settings, clip) = settings(dir.path(), VideoMode::Quality);
    let mut h = tall_harness(Launch { settings: Some(settings), ..Launch::default() });
    h.state_mut().open(Purpose::Clip, &clip);
    step_until(&mut h, 30, "the clip", |a| a.panels.clip.info.is_some() && a.pending_tasks() == 0);
    let out = dir.path().join("styled.gif");
    let folder = dir.path().join("styled.gif.frames");
    h.state_mut().open(Purpose::ClipOut, out.clone());
    step_until(&mut h, 300, "the first frame written", |_| folder.join("frame_000001.png").exists());
    // The progress names the frames.
    step_until(&mut h, 30, "the progress", |a| a.live.clip_progress().is_some_and(|p| p.frames.1 == 5));
    h.get_by_label("Cancel clip").click();
    step_until(&mut h, 30, "the render to stop", |a| a.live.clip_progress().is_none());
    let kept: Vec<(PathBuf, std::time::SystemTime)> = (1..=5)
        .map(|i| folder.join(format!("frame_{i:06}.png")))
        .filter(|p| p.exists())
        .map(|p| (p.clone(), std::fs::metadata(&p).unwrap().modified().unwrap()))
        .collect();
    assert!(!kept.is_empty() && kept.len() < 5, "{} frames kept", kept.len());
    assert!(!out.exists());
    // The finished frames play in the preview.
    h.get_by_label("Play rendered frames").click();
    step_until(&mut h, 30, "a played frame", |a| a.panels.clip.playback.as_ref().is_some_and(|p| p.shown.is_some()));
    h.get_by_label("Play rendered frames").click();
    // Resume goes on from the first frame not written.
    let label = format!("Resume clip ({} of 5 done)", kept.len());
    step_until(&mut h, 30, "the resume offer", |a| a.panels.clip.resumable.is_some());
    h.get_by_label(&label).click();
    step_until(&mut h, 600, "the clip written", |_| out.exists());
    for (path, modified) in &kept {
        assert_eq!(
            std::fs::metadata(path).unwrap().modified().unwrap(),
            *modified,
            "{} rendered again",
            path.display()
        );
    }
    assert_eq!(ClipReader::open(&out).unwrap().info().frames, 5);
    assert!(h.state().notice.as_ref().is_some_and(|n| n.to_string().contains("styled.gif")), "{:?}", h.state().notice);
}
