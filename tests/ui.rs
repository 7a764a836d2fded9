//! The real app driven through AccessKit, with the real worker and engine on small images, and
//! rendered by the real wgpu renderer (Mesa lavapipe on machines without a GPU).

mod common;

use std::time::{Duration, Instant};

use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use neural_style_studio::app::{App, Launch, Settings};
use neural_style_studio::worker::Status;

fn harness(launch: Launch) -> Harness<'static, App> {
    Harness::builder().with_size(egui::vec2(1100.0, 720.0)).wgpu().build_eframe(move |cc| App::new(cc, launch).unwrap())
}

/// Steps the UI (as the event loop would) until `done` holds, failing after `secs`.
fn step_until(h: &mut Harness<'static, App>, secs: u64, what: &str, done: impl Fn(&App) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done(h.state()) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; status {:?}, message {:?}",
            h.state().status,
            h.state().message
        );
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    h.step();
}

fn iteration(app: &App) -> usize {
    app.frame.as_ref().map_or(0, |f| f.iteration)
}

fn small_settings(dir: &std::path::Path) -> Settings {
    let (content, style) = common::write_pair(dir, 96, 72);
    let mut s = Settings { size: 64, iterations: 10_000, ..Settings::default() };
    s.content = Some(content);
    s.styles = vec![neural_style_studio::app::StyleEntry { path: style, blend: 1.0 }];
    s
}

#[test]
fn start_steer_pause_resume_and_export_through_the_ui() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(Launch::default());
    // Images are injected as a pick or drop would (dialogs cannot run headless).
    let (content, style) = common::write_pair(dir.path(), 96, 72);
    h.state_mut().set_content(&content);
    h.state_mut().add_style(&style);
    h.state_mut().settings.size = 64;
    h.state_mut().settings.iterations = 10_000;
    h.run_steps(2);

    h.get_by_label("Start").click();
    step_until(&mut h, 60, "first frames", |a| iteration(a) >= 2);
    let run = h.state().frame.as_ref().unwrap().run;
    let early = h.state().frame.as_ref().unwrap().image.clone();
    step_until(&mut h, 60, "more iterations", |a| iteration(a) >= 6);
    assert_ne!(*h.state().frame.as_ref().unwrap().image, *early, "the preview evolves");
    assert!(h.state().history.len() >= 5, "loss curve gets points");

    // Steer: the style weight reaches the running optimisation without a restart.
    h.get_by_role_and_label(Role::Slider, "Style weight").set_value_accesskit(1000.0);
    step_until(&mut h, 30, "objective update", |a| a.objective_updates() >= 1);
    let at = iteration(h.state());
    step_until(&mut h, 60, "a frame with the new weight", |a| {
        a.frame.as_ref().is_some_and(|f| f.objective.style_weight == 1000.0 && f.iteration > at)
    });
    assert_eq!(h.state().frame.as_ref().unwrap().run, run, "same run: no restart");
    assert!(iteration(h.state()) > at, "iterations continue from where they were");

    // Pause and resume.
    h.get_by_label("Pause").click();
    step_until(&mut h, 30, "paused", |a| a.status == Status::Paused);
    std::thread::sleep(Duration::from_millis(300));
    h.step();
    let paused_at = iteration(h.state());
    std::thread::sleep(Duration::from_millis(500));
    h.step();
    assert_eq!(iteration(h.state()), paused_at, "no progress while paused");
    h.get_by_label("Resume").click();
    step_until(&mut h, 60, "resumed progress", |a| iteration(a) > paused_at + 1);

    // Export: an atomic PNG with the settings as text chunks.
    let out = dir.path().join("export.png");
    h.state_mut().export_to(out.clone());
    step_until(&mut h, 30, "export", |a| a.message.as_ref().is_some_and(|m| m.0.starts_with("Exported")));
    let img = image::open(&out).unwrap();
    assert_eq!((img.width(), img.height()), (64, 48));
    let reader = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&out).unwrap())).read_info().unwrap();
    let settings = reader.info().utf8_text.iter().find(|t| t.keyword == "nss:settings").unwrap().get_text().unwrap();
    let v: serde_json::Value = serde_json::from_str(&settings).unwrap();
    assert_eq!(v["objective"]["style_weight"], 1000.0);
    assert_eq!(v["size"], 64);
    assert!(reader.info().utf8_text.iter().any(|t| t.keyword == "nss:iteration"));

    h.get_by_label("Stop").click();
    step_until(&mut h, 30, "stopped", |a| a.status == Status::Stopped);
}

#[test]
fn size_change_restarts_and_bad_images_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(Launch { settings: Some(small_settings(dir.path())), start: true });
    step_until(&mut h, 60, "first iteration", |a| iteration(a) >= 1);
    let run = h.state().frame.as_ref().unwrap().run;
    h.state_mut().settings.size = 96;
    step_until(&mut h, 60, "restart at the new size", |a| {
        a.frame.as_ref().is_some_and(|f| f.run != run && f.image.width() == 96)
    });

    let junk = dir.path().join("broken.jpg");
    std::fs::write(&junk, b"\xff\xd8\xff\xe0 truncated").unwrap();
    h.state_mut().add_style(&junk);
    h.step();
    let (msg, is_error) = h.state().message.clone().unwrap();
    assert!(is_error && msg.contains("broken.jpg"), "{msg}");
    assert_eq!(h.state().settings.styles.len(), 1, "the broken file was not added");

    // A failed export says why and leaves nothing behind; the image stays in the app.
    let target = dir.path().join("no-such-folder").join("out.png");
    h.state_mut().export_to(target.clone());
    step_until(&mut h, 30, "export failure", |a| a.message.as_ref().is_some_and(|m| m.0.starts_with("Export failed")));
    assert!(h.state().message.as_ref().unwrap().0.contains("out.png"));
    assert!(!target.exists() && !dir.path().join("no-such-folder").exists());
    assert!(h.state().frame.is_some());
    // ... so the user can export elsewhere.
    let elsewhere = dir.path().join("out.png");
    h.state_mut().export_to(elsewhere.clone());
    step_until(&mut h, 30, "second export", |a| a.message.as_ref().is_some_and(|m| m.0.starts_with("Exported")));
    assert_eq!(image::open(&elsewhere).unwrap().width(), 96);
}

#[test]
fn closing_the_window_mid_run_stops_the_worker_promptly() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(Launch { settings: Some(small_settings(dir.path())), start: true });
    step_until(&mut h, 60, "a few iterations", |a| iteration(a) >= 2);
    let per_iteration = Duration::from_secs_f64(h.state().frame.as_ref().unwrap().seconds);
    let t = Instant::now();
    eframe::App::on_exit(h.state_mut());
    assert!(!h.state().worker_alive());
    assert!(t.elapsed() < per_iteration * 2 + Duration::from_secs(1), "{:?} ({per_iteration:?}/it)", t.elapsed());
}

#[test]
fn window_renders_with_wgpu_like_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = small_settings(dir.path());
    settings.iterations = 0; // show the initial image only: a deterministic frame
    let mut h = harness(Launch { settings: Some(settings), start: true });
    step_until(&mut h, 60, "initial frame", |a| a.frame.is_some() && a.status == Status::Stopped);
    h.run_steps(3);
    h.snapshot("window_initial_frame");
}

/// A file handed to the app as winit would on a drop.
#[derive(Debug)]
struct Dropped(std::path::PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

#[test]
fn dropped_files_become_content_then_style() {
    let dir = tempfile::tempdir().unwrap();
    let (content, style) = common::write_pair(dir.path(), 80, 60);
    let mut h = harness(Launch { settings: Some(Settings::default()), start: false });
    h.input_mut().dropped_files.push(std::sync::Arc::new(Dropped(content.clone())));
    h.run_steps(2);
    assert_eq!(h.state().settings.content.as_deref(), Some(content.as_path()));
    // Dropped on the style area: a style, not a new content image.
    let target = h.get_by_label("Add style…").rect().center();
    h.hover_at(target);
    h.input_mut().dropped_files.push(std::sync::Arc::new(Dropped(style.clone())));
    h.run_steps(2);
    assert_eq!(h.state().settings.content.as_deref(), Some(content.as_path()));
    assert_eq!(h.state().settings.styles.len(), 1);
    assert_eq!(h.state().settings.styles[0].path, style);
}

#[test]
fn without_wgpu_the_preview_falls_back_to_an_egui_texture() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = small_settings(dir.path());
    settings.iterations = 2;
    let launch = Launch { settings: Some(settings), start: true };
    let mut h =
        Harness::builder().with_size(egui::vec2(900.0, 600.0)).build_eframe(move |cc| App::new(cc, launch).unwrap());
    step_until(&mut h, 60, "run to finish", |a| iteration(a) == 2 && a.status == Status::Stopped);
    h.run_steps(2);
    assert_eq!(h.state().frame.as_ref().unwrap().image.dimensions(), (64, 48));
    h.get_by_label("Export PNG…"); // the window, preview included, keeps drawing
}

#[test]
fn transparent_parts_of_a_cut_out_photo_show_the_checkerboard_in_the_preview() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = small_settings(dir.path());
    // Left half opaque green; right half magenta but fully transparent (the export drops it).
    let cutout = image::RgbaImage::from_fn(96, 72, |x, _| {
        if x < 48 {
            image::Rgba([0, 200, 0, 255])
        } else {
            image::Rgba([255, 0, 255, 0])
        }
    });
    let path = dir.path().join("cutout.png");
    cutout.save(&path).unwrap();
    settings.content = Some(path);
    settings.iterations = 0; // the initial image: the content itself
    let mut h = harness(Launch { settings: Some(settings), start: true });
    step_until(&mut h, 60, "initial frame", |a| a.frame.is_some() && a.status == Status::Stopped);
    h.run_steps(3);
    let shot = h.render().unwrap();
    // Only the central panel (the side panel's thumbnail is not the preview), in physical pixels.
    let left = h.get_by_label("Before/after").rect().left() * shot.width() as f32 / 1100.0;
    let count = |want: fn(&image::Rgba<u8>) -> bool| {
        shot.enumerate_pixels().filter(|(x, _, p)| *x as f32 >= left && want(p)).count()
    };
    let green = count(|p| p[1] > 150 && p[0] < 60 && p[2] < 60);
    let magenta = count(|p| p[0] > 150 && p[2] > 150 && p[1] < 60);
    assert!(green > 1000, "the opaque half is shown ({green} green pixels)");
    assert_eq!(magenta, 0, "the transparent half's hidden colour must not show");
}
