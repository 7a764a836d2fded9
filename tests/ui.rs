//! The real app driven through AccessKit, with the real worker and engine on small images, and
//! rendered by the real wgpu renderer (Mesa lavapipe on machines without a GPU).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::ui::{harness, iteration, small_settings, step_until, tall_harness, Dropped};
use std::time::{Duration, Instant};

use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use neural_style_studio::app::tasks::Purpose;
use neural_style_studio::app::{App, Launch, Settings};
use neural_style_studio::model::WeightsSource;
use neural_style_studio::notice::Level;
use neural_style_studio::transfer::ImageRef;
use neural_style_studio::worker::Status;

fn launch(settings: Settings, start: bool) -> Launch {
    Launch { settings: Some(settings), start, ..Launch::default() }
}

/// Whether the notice shown has this level and starts with `text`.
fn notice_starts(app: &App, level: Level, text: &str) -> bool {
    app.notice.as_ref().is_some_and(|n| n.level == level && n.text.starts_with(text))
}

#[test]
fn start_steer_pause_resume_and_export_through_the_ui() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(Launch::default());
    // Images are injected as a pick or drop would (dialogs cannot run headless).
    let (content, style) = common::write_pair(dir.path(), 96, 72);
    h.state_mut().open(Purpose::Content, &content);
    h.state_mut().open(Purpose::AddStyle, &style);
    // They decode in the background; the window keeps drawing meanwhile.
    step_until(&mut h, 30, "images checked", |a| {
        a.settings.spec.content.is_some() && a.settings.spec.styles.len() == 1
    });
    h.state_mut().settings.spec.size = 64;
    h.state_mut().settings.spec.schedule.iterations = 10_000;
    h.run_steps(2);

    h.get_by_label("Start").click();
    step_until(&mut h, 60, "first frames", |a| iteration(a) >= 2);
    let run = h.state().live.frame.as_ref().unwrap().run;
    let early = h.state().live.frame.as_ref().unwrap().image.clone();
    step_until(&mut h, 60, "more iterations", |a| iteration(a) >= 6);
    assert_ne!(*h.state().live.frame.as_ref().unwrap().image, *early, "the preview evolves");
    assert!(h.state().live.history.len() >= 5, "loss curve gets points");

    // Steer: the style weight reaches the running optimisation without a restart.
    h.get_by_role_and_label(Role::Slider, "Style weight").set_value_accesskit(1000.0);
    step_until(&mut h, 30, "objective update", |a| a.live.live_updates() >= 1);
    let at = iteration(h.state());
    step_until(&mut h, 60, "a frame with the new weight", |a| {
        a.live.frame.as_ref().is_some_and(|f| f.spec.objective.style_weight == 1000.0 && f.iteration > at)
    });
    assert_eq!(h.state().live.frame.as_ref().unwrap().run, run, "same run: no restart");
    assert!(iteration(h.state()) > at, "iterations continue from where they were");

    // Pause and resume.
    h.get_by_label("Pause").click();
    step_until(&mut h, 30, "paused", |a| a.live.status == Status::Paused);
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
    h.state_mut().open(Purpose::Export, out.clone());
    step_until(&mut h, 30, "export", |a| notice_starts(a, Level::Info, "Exported"));
    let img = image::open(&out).unwrap();
    assert_eq!((img.width(), img.height()), (64, 48));
    let reader = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&out).unwrap())).read_info().unwrap();
    let settings = reader.info().utf8_text.iter().find(|t| t.keyword == "nss:settings").unwrap().get_text().unwrap();
    let v: serde_json::Value = serde_json::from_str(&settings).unwrap();
    assert_eq!(v["objective"]["style_weight"], 1000.0);
    assert_eq!(v["size"], 64);
    assert!(reader.info().utf8_text.iter().any(|t| t.keyword == "nss:iteration"));

    h.get_by_label("Stop").click();
    step_until(&mut h, 30, "stopped", |a| a.live.status == Status::Stopped);
}

#[test]
fn size_change_restarts_and_bad_images_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(launch(small_settings(dir.path()), true));
    step_until(&mut h, 60, "first iteration", |a| iteration(a) >= 1);
    let run = h.state().live.frame.as_ref().unwrap().run;
    h.state_mut().settings.spec.size = 96;
    step_until(&mut h, 60, "restart at the new size", |a| {
        a.live.frame.as_ref().is_some_and(|f| f.run != run && f.image.width() == 96)
    });

    let junk = dir.path().join("broken.jpg");
    std::fs::write(&junk, b"\xff\xd8\xff\xe0 truncated").unwrap();
    h.state_mut().open(Purpose::AddStyle, &junk);
    step_until(&mut h, 30, "the broken image reported", |a| a.notice.as_ref().is_some_and(|n| n.level == Level::Error));
    let msg = h.state().notice.clone().unwrap().text;
    assert!(msg.contains("broken.jpg"), "{msg}");
    assert_eq!(h.state().settings.spec.styles.len(), 1, "the broken file was not added");

    // A failed export says why and leaves nothing behind; the image stays in the app.
    let target = dir.path().join("no-such-folder").join("out.png");
    h.state_mut().open(Purpose::Export, target.clone());
    step_until(&mut h, 30, "export failure", |a| notice_starts(a, Level::Error, "Export failed"));
    assert!(h.state().notice.as_ref().unwrap().text.contains("out.png"));
    assert!(!target.exists() && !dir.path().join("no-such-folder").exists());
    assert!(h.state().live.frame.is_some());
    // ... so the user can export elsewhere.
    let elsewhere = dir.path().join("out.png");
    h.state_mut().open(Purpose::Export, elsewhere.clone());
    step_until(&mut h, 30, "second export", |a| notice_starts(a, Level::Info, "Exported"));
    assert_eq!(image::open(&elsewhere).unwrap().width(), 96);
}

#[test]
fn closing_the_window_mid_run_stops_the_worker_promptly() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(launch(small_settings(dir.path()), true));
    step_until(&mut h, 60, "a few iterations", |a| iteration(a) >= 2);
    let per_iteration = Duration::from_secs_f64(h.state().live.frame.as_ref().unwrap().seconds);
    let t = Instant::now();
    eframe::App::on_exit(h.state_mut());
    assert!(!h.state().live.worker_alive());
    assert!(t.elapsed() < per_iteration * 2 + Duration::from_secs(1), "{:?} ({per_iteration:?}/it)", t.elapsed());
}

#[test]
fn window_renders_with_wgpu_like_the_snapshot() {
    // The clip panel names the ffmpeg found; the picture must not depend on this machine's
    // (no other test in this binary opens a clip).
    neural_style_studio::video::ffmpeg::choose(neural_style_studio::video::ffmpeg::Location::Off);
    let dir = tempfile::tempdir().unwrap();
    let mut settings = small_settings(dir.path());
    settings.spec.schedule.iterations = 0; // show the initial image only: a deterministic frame
    let mut h = harness(launch(settings, true));
    step_until(&mut h, 60, "initial frame", |a| a.live.frame.is_some() && a.live.status == Status::Stopped);
    h.run_steps(3);
    assert_eq!(h.state().fallback_preview_size(), None, "the wgpu preview drew it");
    h.snapshot("window_initial_frame");
}

/// A file handed to the app as winit would on a drop.
#[test]
fn dropped_files_become_content_then_style() {
    let dir = tempfile::tempdir().unwrap();
    let (content, style) = common::write_pair(dir.path(), 80, 60);
    let mut h = harness(launch(Settings::default(), false));
    h.input_mut().dropped_files.push(std::sync::Arc::new(Dropped(content.clone())));
    let content_path = |a: &App| a.settings.spec.content.as_ref().map(|c| c.path.clone());
    step_until(&mut h, 30, "content checked", |a| content_path(a).is_some());
    assert_eq!(content_path(h.state()), Some(content.clone()));
    // Dropped on the style area: a style, not a new content image.
    let target = h.get_by_label("Add style…").rect().center();
    h.hover_at(target);
    h.input_mut().dropped_files.push(std::sync::Arc::new(Dropped(style.clone())));
    step_until(&mut h, 30, "style checked", |a| !a.settings.spec.styles.is_empty());
    assert_eq!(content_path(h.state()), Some(content));
    assert_eq!(h.state().settings.spec.styles.len(), 1);
    assert_eq!(h.state().settings.spec.styles[0].path, style);
}

#[test]
fn without_wgpu_the_preview_falls_back_to_an_egui_texture() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = small_settings(dir.path());
    settings.spec.schedule.iterations = 2;
    let launch = launch(settings, true);
    let mut h = {
        common::hermetic();
        Harness::builder().with_size(egui::vec2(900.0, 600.0)).build_eframe(move |cc| App::new(cc, launch).unwrap())
    };
    step_until(&mut h, 60, "run to finish", |a| iteration(a) == 2 && a.live.status == Status::Stopped);
    h.run_steps(2);
    assert_eq!(h.state().live.frame.as_ref().unwrap().image.dimensions(), (64, 48));
    assert_eq!(h.state().fallback_preview_size(), Some((64, 48)), "the egui-texture fallback drew the frame");
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
    settings.spec.content = Some(ImageRef::new(path));
    settings.spec.schedule.iterations = 0; // the initial image: the content itself
    let mut h = harness(launch(settings, true));
    step_until(&mut h, 60, "initial frame", |a| a.live.frame.is_some() && a.live.status == Status::Stopped);
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

#[test]
fn opening_an_exported_png_restores_its_settings_and_asks_for_a_missing_image() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = small_settings(dir.path());
    settings.spec.objective.style_weight = 321.0;
    settings.spec.objective.tv_weight = 0.5;
    settings.spec.run.seed = 7;
    settings.spec.schedule.iterations = 1;
    let mut h = harness(launch(settings.clone(), true));
    step_until(&mut h, 60, "run to finish", |a| iteration(a) == 1 && a.live.status == Status::Stopped);
    let out = dir.path().join("look.png");
    h.state_mut().open(Purpose::Export, out.clone());
    step_until(&mut h, 30, "export", |a| notice_starts(a, Level::Info, "Exported"));

    // Another look, then the exported one back through "Open settings…"'s path.
    h.state_mut().settings.spec.objective.style_weight = 5.0;
    h.state_mut().settings.spec.run.seed = 0;
    h.state_mut().open(Purpose::Settings, &out);
    step_until(&mut h, 30, "settings loaded", |a| notice_starts(a, Level::Info, "Loaded the settings"));
    let spec = h.state().settings.spec.clone();
    assert_eq!((spec.objective.style_weight, spec.objective.tv_weight, spec.run.seed), (321.0, 0.5, 7));
    assert!(spec.content.as_ref().unwrap().sha256.is_some(), "the images' hashes came with the settings");
    assert!(h.state().panels.to_locate.is_empty());

    // Dropping the exported PNG on the preview does the same (a PNG without settings would
    // become an image instead).
    h.state_mut().settings.spec.objective.style_weight = 5.0;
    h.state_mut().notice = None;
    let preview = h.get_by_label("Fit").rect().center() + egui::vec2(0.0, 200.0);
    h.hover_at(preview);
    h.input_mut().dropped_files.push(std::sync::Arc::new(Dropped(out.clone())));
    step_until(&mut h, 30, "settings dropped", |a| notice_starts(a, Level::Info, "Loaded the settings"));
    assert_eq!(h.state().settings.spec.objective.style_weight, 321.0);

    // The style painting has moved: the app names it and offers to locate it.
    let style = spec.styles[0].path.clone();
    let moved = dir.path().join("moved.png");
    std::fs::rename(&style, &moved).unwrap();
    h.state_mut().open(Purpose::Settings, &out);
    step_until(&mut h, 30, "missing image named", |a| !a.panels.to_locate.is_empty());
    let notice = h.state().notice.clone().unwrap();
    assert_eq!(notice.level, Level::Error);
    assert!(notice.text.contains("style image 1") && notice.text.contains("is missing"), "{notice}");
    h.run_steps(2);
    h.get_by_label("Locate…"); // the button is there
                               // Locating it (as the dialog would) replaces the path and clears the request.
    h.state_mut().settings.builtin_browser = true;
    h.get_by_label("Locate…").click();
    step_until(&mut h, 10, "the browser opens", App::browser_open);
}

#[test]
fn without_a_system_file_dialog_the_built_in_browser_opens() {
    // No desktop portal or zenity answers here (as on minimal window managers): the system
    // dialog returns at once with nothing, and the app says so and opens its own browser.
    let dir = tempfile::tempdir().unwrap();
    let mut settings = small_settings(dir.path());
    std::fs::write(dir.path().join("notes.txt"), "not a picture").unwrap();
    std::fs::copy(dir.path().join("content.png"), dir.path().join("holiday.png")).unwrap();
    std::fs::create_dir(dir.path().join("paintings")).unwrap();
    settings.open_dir = Some(dir.path().to_path_buf());
    let mut h = harness(launch(settings, false));
    h.run_steps(2);
    h.get_by_label("Choose content…").click();
    step_until(&mut h, 20, "the fallback browser", App::browser_open);
    // The folder is listed on a thread of its own and shown when the listing arrives: its
    // pictures and folders, not its other files.
    let deadline = Instant::now() + Duration::from_secs(20);
    while h.query_by_label_contains("holiday.png").is_none() {
        assert!(Instant::now() < deadline, "the folder's pictures never showed");
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(h.query_by_label_contains("paintings").is_some());
    assert!(h.query_by_label_contains("notes.txt").is_none());
    let notice = h.state().notice.clone().unwrap();
    assert_eq!(notice.level, Level::Warning);
    assert!(notice.text.contains("built-in file browser"), "{notice}");
    assert!(h.state().panels.no_system_dialog);
    // The window kept drawing while the dialog was tried (nothing ran on the UI thread).
    h.run_steps(2);
    h.get_by_label("Start");
}

#[test]
fn keeping_the_photos_colours_applies_to_the_shown_image_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = small_settings(dir.path());
    settings.spec.schedule.iterations = 8;
    // Adam moves every pixel from the first step (L-BFGS's first steps are tiny).
    settings.spec.run.optimizer = neural_style_studio::transfer::OptimizerKind::Adam;
    settings.spec.run.lr = 0.1;
    let mut h = tall_harness(launch(settings, true));
    step_until(&mut h, 60, "run to finish", |a| iteration(a) == 8 && a.live.status == Status::Stopped);
    let run = h.state().live.frame.as_ref().unwrap().run;
    let styled = h.state().live.frame.as_ref().unwrap().image.clone();
    h.get_by_label("Luminance").click();
    step_until(&mut h, 30, "the recoloured frame", |a| a.live.frame.as_ref().is_some_and(|f| f.image != styled));
    let frame = h.state().live.frame.clone().unwrap();
    assert_eq!((frame.run, frame.iteration), (run, 8), "the same run, not re-optimised");
    assert_eq!(frame.spec.preserve_colors, neural_style_studio::transfer::PreserveColors::Luminance);
    // Its colours are the photo's: every pixel's chroma is close to the content's.
    let chroma = |p: &image::Rgba<u8>| {
        let [r, g, b] = [p[0], p[1], p[2]].map(f32::from);
        [-0.168_736 * r - 0.331_264 * g + 0.5 * b, 0.5 * r - 0.418_688 * g - 0.081_312 * b]
    };
    let off = |img: &image::RgbaImage| {
        img.pixels().zip(frame.content.pixels()).map(|(a, b)| (chroma(a)[0] - chroma(b)[0]).abs()).sum::<f32>()
            / img.len() as f32
    };
    assert!(off(&frame.image) < 0.25 * off(&styled), "{} vs {}", off(&frame.image), off(&styled));
}

#[test]
fn a_print_goes_on_from_the_running_preview_and_cancel_returns_to_the_preview() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = small_settings(dir.path());
    settings.spec.schedule.iterations = 1000;
    settings.print_size = 128;
    let mut h = tall_harness(launch(settings, true));
    step_until(&mut h, 60, "preview frames", |a| iteration(a) >= 4);
    h.get_by_label("Render print").click();
    step_until(&mut h, 60, "the print's first stage running", |a| {
        a.live.printing() && a.live.frame.as_ref().is_some_and(|f| f.image.width() == 128 && f.stage == 1)
    });
    let f = h.state().live.frame.clone().unwrap();
    let preview_iterations = f.spec.schedule.stages[0].iterations;
    assert!(preview_iterations >= 4);
    let stages: Vec<String> = f.spec.schedule.stages.iter().map(|s| s.to_string()).collect();
    assert_eq!(stages, [format!("64x{preview_iterations}"), "128x200".to_string()], "grows from the preview");
    assert_eq!(f.spec.size, 128);
    step_until(&mut h, 60, "print iterations", |a| iteration(a) >= preview_iterations + 2);
    assert!(h.query_by_label("Render print").is_none(), "no second print while one runs");

    h.get_by_label("Cancel print").click();
    step_until(&mut h, 60, "back to the preview", |a| {
        !a.live.printing()
            && a.live.status == Status::Stopped
            && a.live.frame.as_ref().is_some_and(|f| f.image.width() == 64)
    });
    let f = h.state().live.frame.clone().unwrap();
    assert_eq!((f.spec.size, f.iteration), (64, preview_iterations), "the last finished stage, as it was");
    assert!(notice_starts(h.state(), Level::Info, "Print cancelled"));
    // The preview can be printed again.
    assert!(h.query_by_label("Render print").is_some());
}

/// Unfolds the Advanced section of the side panel.
fn open_advanced(h: &mut Harness<'static, App>) {
    h.run_steps(2);
    h.get_by_label("Advanced").click();
    h.run_steps(2);
}

#[test]
fn layers_are_picked_by_name_in_the_advanced_section() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = tall_harness(launch(small_settings(dir.path()), false));
    open_advanced(&mut h);
    h.get_by_label("relu1_2").click();
    h.run_steps(2);
    h.get_by_role_and_label(Role::Button, "relu5_1").click();
    h.run_steps(2);
    let taps: Vec<String> = h.state().settings.spec.objective.style_layers.iter().map(|l| l.0.to_string()).collect();
    assert_eq!(taps, ["relu1_1", "relu1_2", "relu2_1", "relu3_1", "relu4_1"], "added in depth order, removed");
}

#[test]
fn pooling_and_unbounded_pixels_are_chosen_in_the_panel_and_reach_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = tall_harness(launch(small_settings(dir.path()), false));
    open_advanced(&mut h);
    h.get_by_label("Average").click();
    h.get_by_label("Unbounded (classic)").click();
    h.run_steps(2);
    assert_eq!(h.state().settings.spec.pooling, neural_style_studio::model::Pooling::Avg);
    assert!(h.state().settings.spec.run.unbounded);
    h.state_mut().settings.spec.schedule.iterations = 2;
    h.get_by_label("Start").click();
    step_until(&mut h, 60, "the run's frames", |a| {
        a.live.status == Status::Stopped && a.live.frame.as_ref().is_some_and(|f| f.iteration == 2)
    });
    let f = h.state().live.frame.clone().unwrap();
    assert_eq!(f.spec.pooling, neural_style_studio::model::Pooling::Avg, "the run uses average pooling");
    assert!(f.spec.run.unbounded);
}

#[test]
fn a_preset_is_picked_from_the_panel_and_the_current_look_saved_as_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = tall_harness(launch(small_settings(dir.path()), false));
    let file = dir.path().join("config").join("presets.json");
    h.state_mut().panels.presets.path = Some(file.clone());
    h.run_steps(2);
    h.get_by_label("Preset").click();
    h.run_steps(2);
    h.get_by_label("Bold").click();
    h.run_steps(2);
    let spec = h.state().settings.spec.clone();
    assert_eq!((spec.objective.style_weight, &spec.model), (100.0, &WeightsSource::ClassicVgg19), "Bold's look");
    // Save a look of one's own.
    h.state_mut().settings.spec.objective.style_weight = 777.0;
    h.state_mut().panels.presets.new_name = "Mine".into();
    h.run_steps(2);
    h.get_by_label("Save preset").click();
    step_until(&mut h, 30, "saved", |a| notice_starts(a, Level::Info, "Saved the preset"));
    let saved: Vec<neural_style_studio::transfer::Preset> =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].name.as_str(), "Mine");
    assert_eq!(saved[0].settings["objective"]["style_weight"], 777.0, "stored as part of a spec");
    // It is offered with the built-ins and restores its look.
    h.get_by_label("Preset").click();
    h.run_steps(2);
    h.get_by_label("Balanced").click();
    h.run_steps(2);
    assert_eq!(h.state().settings.spec.objective.style_weight, 100.0);
    h.get_by_label("Preset").click();
    h.run_steps(2);
    h.get_by_label("Mine").click();
    h.run_steps(2);
    assert_eq!(h.state().settings.spec.objective.style_weight, 777.0);
}

#[test]
fn the_modern_look_is_one_click_and_the_run_uses_its_recipe() {
    use neural_style_studio::transfer::{Look, OptimizerKind};
    let dir = tempfile::tempdir().unwrap();
    let mut h = tall_harness(launch(small_settings(dir.path()), false));
    h.get_by_label("Modern").click();
    h.run_steps(2);
    let spec = h.state().settings.spec.clone();
    assert_eq!((spec.objective.look, spec.run.optimizer), (Look::Modern, OptimizerKind::Adam));
    assert!(spec.run.average > 0.0, "the average of the iterates is shown");
    h.state_mut().settings.spec.schedule.iterations = 3;
    h.get_by_label("Start").click();
    step_until(&mut h, 60, "the run's frames", |a| {
        a.live.status == Status::Stopped && a.live.frame.as_ref().is_some_and(|f| f.iteration == 3)
    });
    assert_eq!(h.state().live.frame.as_ref().unwrap().spec.objective.look, Look::Modern);
    h.get_by_label("Classic").click();
    h.run_steps(2);
    assert_eq!(h.state().settings.spec.run.optimizer, OptimizerKind::Lbfgs, "back to the classic recipe");
}

#[test]
fn the_photo_look_is_one_click_and_its_photorealism_slider_steers_the_run_without_a_restart() {
    use neural_style_studio::transfer::Look;
    let dir = tempfile::tempdir().unwrap();
    let mut h = tall_harness(launch(small_settings(dir.path()), false));
    h.get_by_label("Photo").click();
    h.run_steps(2);
    let spec = h.state().settings.spec.clone();
    assert_eq!(spec.objective.look, Look::Photo);
    assert!(spec.objective.weight("photo") > 0.0, "the look weighs photorealism");
    h.state_mut().settings.spec.schedule.iterations = 10_000;
    h.get_by_label("Start").click();
    step_until(&mut h, 60, "first frames", |a| a.live.frame.as_ref().is_some_and(|f| f.iteration >= 2));
    let run = h.state().live.frame.as_ref().unwrap().run;
    let reported = h.state().live.history.last().unwrap().losses.of("photo");
    assert!(reported > 0.0, "the photorealism term is reported");
    h.get_by_role_and_label(Role::Slider, "Photorealism weight").set_value_accesskit(1000.0);
    step_until(&mut h, 60, "a frame with the new weight", |a| {
        a.live.frame.as_ref().is_some_and(|f| f.spec.objective.weight("photo") == 1000.0)
    });
    assert_eq!(h.state().live.frame.as_ref().unwrap().run, run, "same run: no restart");
    h.get_by_label("Stop").click();
    h.get_by_label("Classic").click();
    h.run_steps(2);
    assert_eq!(h.state().settings.spec.objective.weight("photo"), 0.0, "the other looks drop it");
    assert!(h.query_by_label("Photorealism weight").is_none(), "and its slider");
}

#[test]
fn the_classic_vgg19_is_chosen_from_the_model_menu_and_the_run_uses_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = tall_harness(launch(small_settings(dir.path()), false));
    open_advanced(&mut h);
    h.get_by_label("Model").click();
    h.run_steps(2);
    h.get_by_label("VGG19 classic (built in)").click();
    h.run_steps(2);
    assert_eq!(h.state().settings.spec.model, WeightsSource::ClassicVgg19);
    h.state_mut().settings.spec.schedule.iterations = 2;
    h.get_by_label("Start").click();
    step_until(&mut h, 60, "the run on VGG19", |a| {
        a.live.status == Status::Stopped && a.live.frame.as_ref().is_some_and(|f| f.iteration == 2)
    });
    assert_eq!(h.state().live.frame.as_ref().unwrap().spec.model, WeightsSource::ClassicVgg19);
}

#[test]
fn a_run_can_start_from_a_chosen_picture() {
    let dir = tempfile::tempdir().unwrap();
    let sketch = dir.path().join("sketch.png");
    image::RgbImage::from_pixel(48, 36, image::Rgb([250, 10, 10])).save(&sketch).unwrap();
    let mut h = tall_harness(launch(small_settings(dir.path()), false));
    h.state_mut().open(Purpose::InitImage, &sketch);
    step_until(&mut h, 30, "the picture checked", |a| a.settings.spec.init_image.is_some());
    assert_eq!(h.state().settings.spec.run.init, neural_style_studio::transfer::Init::Image);
    h.state_mut().settings.spec.schedule.iterations = 0;
    h.get_by_label("Start").click();
    step_until(&mut h, 60, "the run's first image", |a| {
        a.live.status == Status::Stopped && a.live.frame.as_ref().is_some_and(|f| f.spec.init_image.is_some())
    });
    let f = h.state().live.frame.clone().unwrap();
    assert!(f.image.pixels().all(|p| p[0] >= 245 && p[1] <= 15), "the run starts from the picture");
}

#[test]
fn painting_a_mask_on_the_preview_steers_the_running_render_and_clear_removes_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = tall_harness(launch(small_settings(dir.path()), true));
    step_until(&mut h, 60, "preview frames", |a| iteration(a) >= 2);
    let run = h.state().live.frame.as_ref().unwrap().run;
    h.get_by_label("Masks").click();
    h.run_steps(2);
    h.get_by_label("Paint masks").click();
    h.run_steps(2);
    let updates = h.state().live.live_updates();
    // A stroke across the left third of the picture.
    let r = h.state().panels.preview_rect.unwrap();
    let at = |fx: f32| egui::pos2(r.left() + fx * r.width(), r.center().y);
    h.hover_at(at(0.05));
    h.run_steps(1);
    h.drag_at(at(0.05));
    h.run_steps(1);
    for i in 1..=10 {
        h.hover_at(at(0.05 + 0.025 * i as f32));
        h.run_steps(1);
    }
    assert!(!h.state().settings.spec.objective.masks.is_active(), "nothing is committed mid-stroke");
    h.drop_at(at(0.3));
    h.run_steps(2);
    let masks = h.state().settings.spec.objective.masks.clone();
    let mask = masks.get(0).expect("the stroke painted style 1's mask");
    let img = mask.image();
    let (w, hgt) = img.dimensions();
    assert_eq!(w.max(hgt), 1024);
    assert_eq!(img.get_pixel(w / 5, hgt / 2)[0], 255, "painted along the stroke");
    assert_eq!(img.get_pixel(w * 4 / 5, hgt / 2)[0], 0, "the right side is untouched");
    step_until(&mut h, 60, "the worker to take the painted mask", |a| a.live.live_updates() > updates);
    step_until(&mut h, 60, "frames after the stroke", |a| iteration(a) >= 4);
    assert_eq!(h.state().live.frame.as_ref().unwrap().run, run, "steered in place, not restarted");

    h.get_by_label("Clear").click();
    h.run_steps(2);
    assert!(!h.state().settings.spec.objective.masks.is_active());
    h.get_by_label("Fill").click();
    h.run_steps(2);
    assert_eq!(h.state().settings.spec.objective.masks.get(0).map(|m| m.coverage()), Some(1.0));
}

#[test]
fn the_filmstrip_keeps_snapshots_to_show_compare_export_and_start_from() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = small_settings(dir.path());
    settings.spec.schedule.iterations = 60;
    let mut h = tall_harness(launch(settings, true));
    step_until(&mut h, 120, "the run to finish", |a| a.live.status == Status::Stopped && iteration(a) == 60);
    let iterations: Vec<usize> = h.state().panels.film.snapshots.iter().map(|s| s.iteration).collect();
    assert!(iterations.len() >= 3 && iterations.contains(&60), "every 25 iterations and the end: {iterations:?}");
    assert!(iterations.windows(2).all(|w| w[1] > w[0]), "{iterations:?}");
    let live = h.state().live.frame.as_ref().unwrap().image.clone();

    // Show the first snapshot, then compare it with the live image.
    let first = iterations[0];
    step_until(&mut h, 30, "the snapshots written", |a| a.panels.film.snapshots.iter().all(|s| s.spilled));
    h.get_by_label(&format!("iter {first}")).click();
    step_until(&mut h, 30, "the snapshot shown", |a| a.panels.film.shown().is_some());
    let shown = h.state().panels.film.shown().unwrap().image.clone();
    assert_eq!(shown.dimensions(), live.dimensions());
    assert_ne!(*shown, *live, "an earlier picture than the live one");
    h.get_by_label("Compare with live").click();
    h.run_steps(2);
    assert!(h.state().panels.film.compare);

    // Export it: the full image with the settings and iteration it was made with.
    let out = dir.path().join("snapshot.png");
    h.state_mut().open(Purpose::ExportSnapshot, out.clone());
    step_until(&mut h, 30, "the export", |a| notice_starts(a, Level::Info, "Exported"));
    assert_eq!(image::open(&out).unwrap().to_rgba8(), *shown);
    assert_eq!(neural_style_studio::transfer::spec::stored::iteration_of(&out), Some(first));

    // Start a new run from it.
    let runs = h.state().live.frame.as_ref().unwrap().run;
    h.get_by_label("Start from here").click();
    step_until(&mut h, 60, "the new run's frames", |a| a.live.frame.as_ref().is_some_and(|f| f.run > runs));
    let spec = &h.state().settings.spec;
    assert_eq!(spec.run.init, neural_style_studio::transfer::Init::Image);
    assert!(h.state().panels.film.selected.is_none(), "back to the live image");
}

#[test]
fn a_change_of_settings_keeps_a_snapshot_of_the_picture_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = tall_harness(launch(small_settings(dir.path()), true));
    step_until(&mut h, 60, "frames", |a| iteration(a) >= 3);
    h.state_mut().settings.spec.objective.style_weight = 555.0;
    h.run_steps(1);
    let snaps = &h.state().panels.film.snapshots;
    let last = snaps.last().unwrap();
    assert_eq!(last.spec.objective.style_weight, 100.0, "taken under the old settings");
    assert!(last.iteration >= 3);
    let count = snaps.len();
    step_until(&mut h, 60, "more frames", |a| iteration(a) >= last_iteration(a) + 3);
    assert_eq!(h.state().panels.film.snapshots.len(), count, "one snapshot per change");
}

fn last_iteration(app: &App) -> usize {
    app.panels.film.snapshots.last().map_or(0, |s| s.iteration)
}

#[test]
fn try_styles_shows_instant_looks_then_each_preset_optimised_and_a_click_loads_that_look() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = tall_harness(launch(small_settings(dir.path()), false));
    // Small cells keep the test quick; the app's are 160 px x 60 iterations.
    h.state_mut().panels.try_styles_cells = (64, 12);
    h.get_by_label("Try styles…").click();
    h.run_steps(2);
    let t = h.state().panels.try_styles.as_ref().expect("the sheet is planned");
    assert_eq!((t.plan.rows.len(), t.plan.cols.len()), (1, 4), "one style's instant look at four strengths");
    step_until(&mut h, 60, "every instant cell", |a| {
        a.panels.try_styles.as_ref().is_some_and(|t| t.rendered() == 4 && t.progress.is_none())
    });
    h.get_by_label("style / Strength 50%").click();
    h.run_steps(2);
    assert_eq!(h.state().settings.spec.instant.strength, 0.5);
    assert_eq!(h.state().settings.spec.method, neural_style_studio::transfer::Method::Optimise);

    h.get_by_label("Optimised cells").click();
    h.run_steps(2);
    let t = h.state().panels.try_styles.as_ref().expect("the sheet is planned");
    assert_eq!((t.plan.rows.len(), t.plan.cols.len()), (1, 6), "one style x the six built-in presets");
    step_until(&mut h, 240, "every cell", |a| {
        a.panels.try_styles.as_ref().is_some_and(|t| t.rendered() == 6 && t.progress.is_none())
    });
    let bold = "style / Bold";
    h.get_by_label(bold).click();
    h.run_steps(2);
    let spec = &h.state().settings.spec;
    assert_eq!((spec.objective.style_weight, &spec.model), (100.0, &WeightsSource::ClassicVgg19), "Bold's look");
    assert_eq!(spec.size, 64, "the artist's size is kept");
    assert!(notice_starts(h.state(), Level::Info, "Loaded the look of style / Bold"));
}

#[test]
fn a_device_the_build_lacks_fails_with_its_name_and_the_cpu_is_offered() {
    use neural_style_studio::model::DeviceChoice;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = small_settings(dir.path());
    settings.spec.schedule.iterations = 3;
    let mut h = tall_harness(launch(settings, false));
    open_advanced(&mut h);
    h.get_by_label("Device").click();
    h.run_steps(2);
    h.get_by_label("CPU").click();
    h.run_steps(2);
    assert_eq!(h.state().settings.spec.device, DeviceChoice::Cpu);
    if cfg!(feature = "cuda") {
        return;
    }
    // As stored settings from a machine with a GPU would ask.
    h.state_mut().settings.spec.device = DeviceChoice::Cuda(0);
    h.get_by_label("Start").click();
    step_until(&mut h, 60, "the failure", |a| matches!(a.live.status, Status::Failed(_)));
    assert!(notice_starts(h.state(), Level::Error, "invalid setting: cuda:0 is not available"));
    h.get_by_label("Use the CPU").click();
    step_until(&mut h, 60, "the render on the CPU", |a| a.live.status == Status::Stopped && iteration(a) == 3);
    assert_eq!(h.state().live.frame.as_ref().unwrap().spec.device, DeviceChoice::Cpu);
}

#[test]
fn after_three_faults_the_app_pauses_on_the_last_good_picture_and_resumes_once_steered_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = small_settings(dir.path());
    s.spec.run.optimizer = neural_style_studio::transfer::OptimizerKind::Adam;
    s.spec.run.lr = 0.02;
    let mut h = harness(launch(s, true));
    step_until(&mut h, 60, "first frames", |a| iteration(a) >= 2);
    // A weight past any slider (as a hand-edited settings file might carry): every step
    // overflows the gradient.
    h.state_mut().settings.spec.objective.style_weight = 1e300;
    let mut seen = std::collections::HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while h.state().live.status != Status::Paused {
        assert!(Instant::now() < deadline, "never paused; notice {:?}", h.state().notice);
        if let Some(f) = &h.state().live.frame {
            seen.insert(f.iteration, f.image.clone());
        }
        h.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    h.run_steps(2);
    let app = h.state();
    assert!(notice_starts(app, Level::Warning, ""), "{:?}", app.notice);
    assert!(app.notice.as_ref().unwrap().text.contains("paused on the last good image"), "{:?}", app.notice);
    let paused = app.live.frame.clone().unwrap();
    let shown = seen.get(&paused.iteration).expect("the picture paused on was shown before the faults");
    assert_eq!(*paused.image, **shown, "the last good picture, not a broken one");
    // Steered back to a sane weight, Resume carries on from it.
    h.state_mut().settings.spec.objective.style_weight = 100.0;
    h.run_steps(2);
    h.get_by_label("Resume").click();
    step_until(&mut h, 60, "iterations after resuming", |a| {
        a.live.status == Status::Running && iteration(a) > paused.iteration + 1
    });
    assert_eq!(h.state().live.frame.as_ref().unwrap().run, paused.run, "the same run, not a restart");
}

#[test]
fn without_ffmpeg_a_phone_clip_is_refused_when_opened_naming_the_install_command() {
    // ffmpeg makes the clip; the app is then told there is none (as the snapshot test does).
    if !common::ffmpeg::have_ffmpeg() {
        return;
    }
    neural_style_studio::video::ffmpeg::choose(neural_style_studio::video::ffmpeg::Location::Off);
    let dir = tempfile::tempdir().unwrap();
    let clip = common::ffmpeg::phone_clip(dir.path());
    let mut h = harness(launch(small_settings(dir.path()), false));
    h.state_mut().open(Purpose::Clip, &clip);
    step_until(&mut h, 30, "the clip read", |a| a.panels.clip.info.is_some() && a.pending_tasks() == 0);
    assert!(matches!(h.state().panels.clip.info, Some(Err(_))), "refused when opened, not at a later frame");
    let said = h.state().notice.as_ref().map(|n| n.to_string()).unwrap_or_default();
    assert!(said.contains("phone.mp4") && said.contains("High") && said.contains("install ffmpeg"), "{said}");
    // On this system (Debian, as CI runs) the one command that installs it is named, on screen.
    if std::fs::read_to_string("/etc/os-release").is_ok_and(|r| r.contains("ID=debian")) {
        assert!(h.query_all_by_label_contains("sudo apt install ffmpeg").next().is_some(), "{said}");
    }
}
