//! Driving the real app in egui_kittest (the `app` feature's test binaries).

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use neural_style_studio::app::{App, Launch, Settings};
use neural_style_studio::transfer::RenderSpec;

/// The app in a window of `width` x `height` points, rendered by wgpu (lavapipe without a GPU).
pub fn harness_sized(launch: Launch, (width, height): (f32, f32)) -> Harness<'static, App> {
    super::hermetic();
    Harness::builder().with_size(egui::vec2(width, height)).wgpu().build_eframe(move |cc| App::new(cc, launch).unwrap())
}

/// The app in an ordinary window.
pub fn harness(launch: Launch) -> Harness<'static, App> {
    harness_sized(launch, (1100.0, 720.0))
}

/// A window tall enough for the whole side panel to be on screen (a clipped button takes no
/// clicks). The panel's thumbnails decode in the background and push what is below them down
/// when they arrive: the harness waits for them, so a query and its click see the same layout.
pub fn tall_harness(launch: Launch) -> Harness<'static, App> {
    let mut h = harness_sized(launch, (1100.0, 1400.0));
    h.run_steps(2);
    step_until(&mut h, 30, "the thumbnails", |a| a.pending_tasks() == 0);
    h
}

/// Steps the UI (as the event loop would) until `done` holds, failing after `secs`.
pub fn step_until(h: &mut Harness<'static, App>, secs: u64, what: &str, done: impl Fn(&App) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done(h.state()) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; status {:?}, notice {:?}",
            h.state().live.status,
            h.state().notice
        );
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    h.step();
}

/// A file dropped on the window, as the windowing system hands it over.
#[derive(Debug)]
pub struct Dropped(pub std::path::PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

/// The iteration of the frame shown (0 before the first).
pub fn iteration(app: &App) -> usize {
    app.live.frame.as_ref().map_or(0, |f| f.iteration)
}

/// A 96x72 pair written into `dir`, rendered at 64 px for 10 000 iterations (a run that goes on
/// while a test drives it).
pub fn small_settings(dir: &std::path::Path) -> Settings {
    let (content, style) = super::write_pair(dir, 96, 72);
    let mut spec = RenderSpec { size: 64, ..RenderSpec::new(content, &[style]) };
    spec.schedule.iterations = 10_000;
    Settings { spec, ..Settings::default() }
}
