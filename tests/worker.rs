//! The worker thread without a UI: coarse-to-fine stages, failures, and recovery.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use neural_style_studio::transfer::{Objective, RenderSpec};
use neural_style_studio::worker::{Command, Frame, Status, Worker};

fn spec(dir: &std::path::Path, size: u32) -> RenderSpec {
    let (content, style) = common::write_pair(dir, 160, 120);
    RenderSpec { size, ..RenderSpec::new(content, &[style]) }
}

/// The start command for `spec` with this schedule.
fn start(mut spec: RenderSpec, iterations: usize, scales: usize) -> Command {
    spec.schedule.iterations = iterations;
    spec.schedule.scales = scales;
    Command::Start(Box::new(spec))
}

/// Collects frames until `done` says stop, failing after `secs`.
fn frames_until(w: &Worker, secs: u64, done: impl Fn(&[Frame], &Status) -> bool) -> Vec<Frame> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut frames = Vec::new();
    loop {
        frames.extend(w.take_frame());
        let status = w.status();
        if done(&frames, &status) {
            return frames;
        }
        assert!(Instant::now() < deadline, "timed out; status {status:?}, {} frames", frames.len());
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn coarse_to_fine_stages_run_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let w = Worker::spawn(|| {}).unwrap();
    // 400 px: two stages, 200 px then 400 px, 2 iterations each.
    w.send(start(spec(dir.path(), 400), 4, 2));
    let frames = frames_until(&w, 120, |_, s| *s == Status::Stopped);
    let last = w.take_frame().or_else(|| frames.last().cloned()).unwrap();
    assert_eq!(last.iteration, 4);
    assert_eq!(last.image.dimensions(), (400, 300));
    assert_eq!(last.content.dimensions(), (400, 300), "split view content follows the stage");
    let first = &frames[0];
    assert_eq!(first.iteration, 0);
    assert_eq!(first.image.dimensions(), (200, 150), "starts at the coarse stage");
    assert!(frames.iter().all(|f| f.run == first.run));
    let history = w.take_history();
    assert_eq!(history.iter().map(|p| p.iteration).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
}

#[test]
fn a_failed_start_is_reported_and_the_worker_stays_usable() {
    let dir = tempfile::tempdir().unwrap();
    let w = Worker::spawn(|| {}).unwrap();
    let mut bad = spec(dir.path(), 64);
    bad.content = Some(neural_style_studio::transfer::ImageRef::new(dir.path().join("missing.jpg")));
    w.send(start(bad, 3, 1));
    frames_until(&w, 30, |_, s| matches!(s, Status::Failed(m) if m.contains("missing.jpg")));
    w.send(start(spec(dir.path(), 64), 2, 1));
    let frames = frames_until(&w, 60, |_, s| *s == Status::Stopped);
    assert!(frames.iter().any(|f| f.iteration == 2));
}

#[test]
fn dropping_the_worker_mid_run_ends_its_thread_promptly() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Worker::spawn(|| {}).unwrap();
    w.send(start(spec(dir.path(), 64), 100_000, 1));
    let frames = frames_until(&w, 60, |f, _| f.iter().any(|f| f.iteration >= 2));
    let iteration = Duration::from_secs_f64(frames.last().unwrap().seconds);
    let t = Instant::now();
    w.shutdown(Duration::from_secs(5));
    assert!(!w.is_alive());
    // It finishes the iteration under way, then exits: well under a second after it.
    assert!(t.elapsed() < iteration * 2 + Duration::from_secs(1), "took {:?} ({iteration:?}/it)", t.elapsed());
}

#[test]
fn absurd_weights_are_rolled_back_reported_and_paused_until_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let w = Worker::spawn(|| {}).unwrap();
    let mut spec = spec(dir.path(), 64);
    (spec.schedule.iterations, spec.schedule.scales) = (100_000, 1);
    w.send(Command::Start(Box::new(spec.clone())));
    frames_until(&w, 60, |f, _| f.iter().any(|f| f.iteration >= 2));
    let absurd = RenderSpec { objective: Objective { style_weight: 1e300, ..spec.objective.clone() }, ..spec.clone() };
    w.send(Command::Update(Box::new(absurd)));
    let frames = frames_until(&w, 60, |_, s| *s == Status::Paused);
    let notice = w.take_notice().expect("the fault is reported");
    assert_eq!(notice.level, neural_style_studio::notice::Level::Warning);
    assert!(
        notice.text.contains("infinite or NaN") && notice.text.contains("paused on the last good image"),
        "{notice}"
    );
    let last = frames.last().expect("a frame after the fault").clone();
    let iteration = last.iteration;
    // The image on screen is a real one, not a blank from NaNs.
    let distinct: std::collections::HashSet<_> = last.image.pixels().map(|p| p.0).collect();
    assert!(distinct.len() > 50, "{} colours", distinct.len());

    // The user lowers the weight and resumes: the same run continues from that image.
    w.send(Command::Update(Box::new(spec.clone())));
    w.send(Command::Resume);
    let more = frames_until(&w, 60, |f, _| f.iter().any(|f| f.iteration >= iteration + 2));
    assert!(more.iter().all(|f| f.run == last.run));
    assert!(w.take_history().iter().all(|p| p.losses.total.is_finite()));
    assert!(matches!(w.status(), Status::Running));
}

#[test]
fn frames_of_a_transparent_photo_keep_its_alpha() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = spec(dir.path(), 64);
    let rgb = common::content_image(160, 120);
    let cutout = image::RgbaImage::from_fn(160, 120, |x, y| {
        let [r, g, b] = rgb.get_pixel(x, y).0;
        image::Rgba([r, g, b, if x < 80 { 255 } else { 0 }])
    });
    let path = dir.path().join("cutout.png");
    cutout.save(&path).unwrap();
    spec.content = Some(neural_style_studio::transfer::ImageRef::new(path));
    let w = Worker::spawn(|| {}).unwrap();
    w.send(start(spec, 2, 1));
    let frames = frames_until(&w, 60, |f, s| *s == Status::Stopped && f.iter().any(|f| f.iteration == 2));
    let last = frames.iter().find(|f| f.iteration == 2).unwrap();
    assert_eq!(last.image.dimensions(), (64, 48));
    assert_eq!(last.image.get_pixel(5, 20)[3], 255);
    assert_eq!(last.image.get_pixel(60, 20)[3], 0);
}

#[test]
fn a_contact_sheet_renders_its_cells_while_the_live_run_waits_and_then_goes_on() {
    use neural_style_studio::transfer::spec::sheet_plan::styles_by_presets;
    use neural_style_studio::transfer::Preset;
    let dir = tempfile::tempdir().unwrap();
    let live = spec(dir.path(), 64);
    let content = live.content.clone().unwrap().path;
    let style = live.styles[0].path.clone();
    let w = Worker::spawn(|| {}).unwrap();
    w.send(start(live.clone(), 100_000, 1));
    frames_until(&w, 60, |f, _| f.last().is_some_and(|f| f.iteration >= 2));
    let presets = Preset::builtins();
    let plan = styles_by_presets(&live, &content, &[style], &presets[..2], 48, 4).unwrap();
    w.send(Command::Sheet(Box::new(plan)));
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut cells = Vec::new();
    let mut paused_during = false;
    while cells.len() < 2 {
        assert!(Instant::now() < deadline, "cells: {}", cells.len());
        if w.sheet_progress().is_some() {
            paused_during |= w.status() == Status::Paused;
        }
        cells.extend(w.take_sheet_cells());
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(paused_during, "the live run waits while the sheet renders");
    assert_eq!(cells.iter().map(|c| c.0).collect::<Vec<_>>(), [0, 1]);
    assert!(cells.iter().all(|c| c.1.dimensions() == (48, 36)));
    assert_ne!(cells[0].1, cells[1].1, "two looks, two pictures");
    // The sheet is over and the live run goes on from where it was.
    let before = w.take_frame().map_or(0, |f| f.iteration);
    frames_until(&w, 60, |f, s| *s == Status::Running && f.last().is_some_and(|f| f.iteration > before.max(2)));
    assert_eq!(w.sheet_progress(), None);
}
