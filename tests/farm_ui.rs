//! A render on many machines followed in the real window: "Open render folder…" on a clip's
//! frames folder shows the frames written and each task's state, read again as tasks finish
//! elsewhere, and plays the finished frames; a batch's prints show the same way; a folder that
//! holds no farm render says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::ffmpeg::{have_ffmpeg, three_shots};
use common::ui::{harness, step_until};
use egui_kittest::kittest::Queryable;
use neural_style_studio::app::farm::FarmView;
use neural_style_studio::app::{App, Launch};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn run(args: &[&str]) {
    let out = common::binary().args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn on_screen(h: &egui_kittest::Harness<'static, App>, text: &str) -> bool {
    h.query_all_by_label_contains(text).next().is_some()
}

/// Waits for the folder's next reading to say `text`.
fn reads(h: &mut egui_kittest::Harness<'static, App>, text: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !on_screen(h, text) {
        assert!(std::time::Instant::now() < deadline, "the render folder never said {text:?}");
        h.step();
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_farm_render_folder_shows_its_tasks_follows_them_and_plays_the_finished_frames() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clip = three_shots(dir.path());
    let style = dir.path().join("style.png");
    common::style_image(96, 96).save(&style).unwrap();
    let out = dir.path().join("farm.mp4");
    let settings = ["--content", s(&clip), "--style", s(&style), "--size", "64", "--mode", "fast"];
    run(&[&["render-video", "--frames", "8..23", "--out", s(&out), "--plan"], &settings[..]].concat());
    run(&["render-video", "--out", s(&out), "--task", "0"]);
    run(&["render-video", "--out", s(&out), "--task", "1"]);
    let mut h = harness(Launch::default());
    let frames = dir.path().join("farm.mp4.frames");
    h.state_mut().panels.farm = Some(FarmView::new(frames.clone()));
    reads(&mut h, "13 of 16 frames");
    assert!(on_screen(&h, "Tasks: 2 done, 0 running, 0 failed, 1 left"));
    assert!(on_screen(&h, "left, 0 of 3 frames"), "task 2's row");
    h.get_by_label("Play finished frames").click();
    step_until(&mut h, 30, "a finished frame on screen", |a| {
        a.panels.clip.playback.as_ref().is_some_and(|p| p.shown.is_some())
    });
    assert_eq!(h.state().panels.clip.playback.as_ref().unwrap().files.len(), 13);
    h.render().unwrap().save(dir.path().join("farm_window.png")).unwrap();
    if let Ok(keep) = std::env::var("NSS_KEEP_SCREENSHOT") {
        std::fs::copy(dir.path().join("farm_window.png"), keep).unwrap();
    }
    // The last task finishes elsewhere: the window and the playback follow.
    run(&["render-video", "--out", s(&out), "--task", "2"]);
    reads(&mut h, "16 of 16 frames");
    assert!(on_screen(&h, "Tasks: 3 done"));
    assert_eq!(h.state().panels.clip.playback.as_ref().unwrap().files.len(), 16);

    // A batch's prints.
    let photos = dir.path().join("photos");
    std::fs::create_dir(&photos).unwrap();
    for name in ["one.png", "two.png"] {
        common::content_image(48, 32).save(photos.join(name)).unwrap();
    }
    let prints = dir.path().join("prints");
    run(&["render", "--batch", s(&photos), "--style", s(&style), "--size", "32", "--iters", "2", "--out", s(&prints)]);
    h.state_mut().panels.farm = Some(FarmView::new(prints));
    reads(&mut h, "2 of 2 pictures");
    assert!(on_screen(&h, "Show finished prints"));
    // A folder with no farm render in it.
    h.state_mut().panels.farm = Some(FarmView::new(photos));
    reads(&mut h, "holds no farm render");
}
