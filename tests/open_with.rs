//! Files given from outside: sorted by what they are (a missing or unreadable one named, the
//! others still opening), folded as a command line opens them, and handed by a second start to
//! the window already open.
#![cfg(feature = "app")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::ui::{harness, step_until};
use egui_kittest::kittest::Queryable;
use image::{DynamicImage, Rgba, RgbaImage};
use neural_style_studio::app::open_with::{sort, Given, Opening};
use neural_style_studio::app::{Launch, Settings};
use neural_style_studio::imageio::save_png;
use neural_style_studio::transfer::RenderSpec;

/// A photo, a painting, settings as JSON and in an exported PNG, a two-frame GIF, a text
/// file, a folder, and a name that is no file, in `dir`.
fn files(dir: &Path) -> [PathBuf; 8] {
    let photo = dir.join("photo.png");
    common::content_image(48, 32).save(&photo).unwrap();
    let painting = dir.join("painting.jpg");
    common::style_image(40, 40).save(&painting).unwrap();
    let spec = RenderSpec::new(&photo, std::slice::from_ref(&painting));
    let json = dir.join("look.json");
    std::fs::write(&json, serde_json::to_string(&spec).unwrap()).unwrap();
    let exported = dir.join("exported.png");
    let picture = DynamicImage::ImageRgb8(common::content_image(24, 16));
    save_png(&picture, &exported, &spec.png_text(7).unwrap()).unwrap();
    let gif = dir.join("loop.gif");
    let frames = (0..2u8).map(|i| image::Frame::new(RgbaImage::from_pixel(8, 8, Rgba([i * 100, 50, 50, 255]))));
    let file = std::fs::File::create(&gif).unwrap();
    image::codecs::gif::GifEncoder::new(file).encode_frames(frames).unwrap();
    let notes = dir.join("notes.txt");
    std::fs::write(&notes, "not a picture").unwrap();
    let folder = dir.join("folder");
    std::fs::create_dir(&folder).unwrap();
    [photo, painting, json, exported, gif, notes, folder, dir.join("missing.png")]
}

#[test]
fn files_are_sorted_by_what_they_are_and_those_that_do_not_open_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let [photo, painting, json, exported, gif, notes, folder, missing] = files(dir.path());
    let all = [photo.clone(), painting.clone(), json.clone(), exported.clone(), gif.clone(), notes, folder, missing];
    let (given, faults) = sort(&all);
    assert_eq!(
        given,
        [
            Given::Picture(photo),
            Given::Picture(painting),
            Given::Settings(json),
            Given::Settings(exported),
            Given::Clip(gif)
        ]
    );
    assert_eq!(faults.len(), 3, "{faults:?}");
    assert!(faults[0].contains("notes.txt") && faults[0].contains("not a picture"), "{}", faults[0]);
    assert!(faults[1].contains("folder") && faults[1].contains("a folder"), "{}", faults[1]);
    assert!(faults[2].contains("missing.png") && faults[2].contains("no such file"), "{}", faults[2]);
}

#[test]
fn the_first_picture_is_the_photo_further_ones_styles_and_the_last_settings_file_wins() {
    let p = |n: &str| PathBuf::from(n);
    let given = vec![
        Given::Settings(p("a.json")),
        Given::Picture(p("photo.jpg")),
        Given::Picture(p("one.jpg")),
        Given::Clip(p("clip.mp4")),
        Given::Picture(p("two.jpg")),
        Given::Settings(p("b.png")),
    ];
    let o = Opening::of(given.clone(), false);
    assert_eq!(o.settings, Some(p("b.png")));
    assert_eq!(o.content, Some(Given::Picture(p("photo.jpg"))));
    assert_eq!(o.styles, [p("one.jpg"), p("two.jpg")]);
    assert!(o.left_out.len() == 2, "{:?}", o.left_out);
    assert!(o.left_out[0].contains("clip.mp4") && o.left_out[1].contains("a.json"), "{:?}", o.left_out);
    // With a photo named by --content, every picture given is a style.
    let named = Opening::of(given, true);
    assert_eq!((named.content, named.styles.len()), (None, 3));
    // A clip alone opens as the content.
    let clip = Opening::of(vec![Given::Clip(p("clip.mp4")), Given::Picture(p("style.jpg"))], false);
    assert_eq!((clip.content, clip.styles), (Some(Given::Clip(p("clip.mp4"))), vec![p("style.jpg")]));
}

#[test]
fn a_second_start_hands_its_files_to_the_window_already_open() {
    let dir = tempfile::tempdir().unwrap();
    let [photo, painting, .., missing] = files(dir.path());
    let runtime = tempfile::tempdir().unwrap();
    let settings = Settings { spec: RenderSpec::default(), ..Settings::default() };
    let launch = Launch { settings: Some(settings), runtime: Some(runtime.path().to_path_buf()), ..Launch::default() };
    let mut h = harness(launch);
    h.run_steps(2);

    // The second start is the real program: it finds the window's socket, hands over and exits
    // without opening a window (no display is needed for it).
    let started = Instant::now();
    let out = common::binary()
        .env("NSS_RUNTIME_DIR", runtime.path())
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .current_dir(dir.path())
        .args(["photo.png", "painting.jpg", "missing.png"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("window already open"));
    assert!(started.elapsed() < Duration::from_secs(10), "handing over took {:?}", started.elapsed());

    step_until(&mut h, 60, "the handed files to open", |a| {
        let spec = &a.settings.spec;
        spec.content.as_ref().is_some_and(|c| c.path == photo) && spec.styles.iter().any(|s| s.path == painting)
    });
    let notice = h.state().notice.clone().expect("the missing file is named");
    assert!(notice.text.contains(&missing.display().to_string()), "{}", notice.text);
    assert_eq!(h.state().settings.spec.styles.len(), 1, "the photo is not also a style");

    // With the window gone, a start opens its own: the socket is removed, not answered.
    drop(h);
    assert!(!runtime.path().join("neural-style-studio.sock").exists());
}

#[test]
fn files_dropped_together_open_like_a_command_line_and_the_settings_never_replace_the_photo_given() {
    let dir = tempfile::tempdir().unwrap();
    let [photo, painting, _, _, _, notes, ..] = files(dir.path());
    // Settings whose images take long to check (a large painting is read and hashed), dropped
    // with a small photo that decodes at once: the photo must win, as on the command line.
    let (slow_photo, large) = (dir.path().join("their-photo.png"), dir.path().join("large-painting.png"));
    common::content_image(40, 30).save(&slow_photo).unwrap();
    // A small painting with a long tail after its end, which decoders ignore.
    common::style_image(40, 40).save(&large).unwrap();
    let mut bytes = std::fs::read(&large).unwrap();
    bytes.resize(256 << 20, 0);
    std::fs::write(&large, bytes).unwrap();
    let slow = dir.path().join("slow.json");
    let spec = RenderSpec::new(&slow_photo, std::slice::from_ref(&large));
    std::fs::write(&slow, serde_json::to_string(&spec).unwrap()).unwrap();

    let settings = Settings { spec: RenderSpec::default(), ..Settings::default() };
    let mut h = harness(Launch { settings: Some(settings), ..Launch::default() });
    h.run_steps(2);
    let away_from_the_slots = h.get_by_label("Fit").rect().center() + egui::vec2(0.0, 200.0);
    h.hover_at(away_from_the_slots);
    for file in [&slow, &photo, &painting, &notes] {
        h.input_mut().dropped_files.push(std::sync::Arc::new(common::ui::Dropped(file.clone())));
    }
    step_until(&mut h, 60, "the dropped files", |a| {
        a.pending_tasks() == 0 && a.settings.spec.styles.iter().any(|s| s.path == painting)
    });
    let spec = &h.state().settings.spec;
    assert_eq!(spec.content.as_ref().unwrap().path, photo, "the photo dropped, not the settings' photo");
    let styles: Vec<&Path> = spec.styles.iter().map(|s| s.path.as_path()).collect();
    assert_eq!(styles, [large.as_path(), painting.as_path()], "the settings' painting, then the one dropped");
    step_until(&mut h, 60, "the instant look", |a| a.live.frame.is_some());
    let notice = h.state().notice.clone().expect("the text file is named");
    assert!(notice.text.starts_with("Loaded the settings of slow.json."), "{}", notice.text);
    assert!(notice.text.contains("notes.txt") && notice.text.contains("the other files are"), "{}", notice.text);

    // Once there is a photo, a picture dropped away from the slots is a style.
    let other = dir.path().join("other.png");
    common::style_image(30, 30).save(&other).unwrap();
    h.input_mut().dropped_files.push(std::sync::Arc::new(common::ui::Dropped(other.clone())));
    step_until(&mut h, 30, "the dropped style", |a| a.settings.spec.styles.len() == 3);
    assert_eq!(h.state().settings.spec.content.as_ref().unwrap().path, photo);
    assert_eq!(h.state().settings.spec.styles[2].path, other);
}

/// Kills the window when the test ends, whatever happened.
struct Window(std::process::Child);

impl Drop for Window {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn files_given_on_the_command_line_open_in_the_real_window_and_a_second_start_goes_to_it() {
    let (_x, display) = common::xvfb::Xvfb::start();
    let dir = tempfile::tempdir().unwrap();
    files(dir.path());
    let home = tempfile::tempdir().unwrap();
    let (runtime, autosave) = (home.path().join("run"), home.path().join("autosave"));
    std::fs::create_dir(&runtime).unwrap();
    let start = |args: &[&str]| {
        let mut cmd = common::binary();
        cmd.env("DISPLAY", &display)
            .env_remove("WAYLAND_DISPLAY")
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("NSS_RUNTIME_DIR", &runtime)
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("NSS_AUTOSAVE_DIR", &autosave)
            .current_dir(dir.path())
            .args(args);
        cmd
    };
    // The real program in a real window: a photo, a painting and a missing file, as a file
    // manager's "Open with" gives them, with render options on top.
    let window = start(&["photo.png", "painting.jpg", "missing.png", "--size", "64", "--iters", "400", "--start"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut window = Window(window);

    // What it renders is autosaved every few seconds, with its settings in the PNG.
    let deadline = Instant::now() + Duration::from_secs(180);
    let stored = loop {
        assert!(window.0.try_wait().unwrap().is_none(), "the window closed");
        let saved = std::fs::read_dir(&autosave)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "png"));
        if let Some(stored) = saved.and_then(|p| neural_style_studio::transfer::read_settings(&p).ok()) {
            break stored.spec;
        }
        assert!(Instant::now() < deadline, "nothing was autosaved");
        std::thread::sleep(Duration::from_millis(250));
    };
    let name = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(name(&stored.content.as_ref().unwrap().path), "photo.png");
    assert_eq!(stored.styles.iter().map(|s| name(&s.path)).collect::<Vec<_>>(), ["painting.jpg"]);
    assert_eq!(stored.size, 64, "the options apply on top of the files");

    // A second start hands its file to this window and exits without opening another.
    let out = start(&["painting.jpg"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("window already open"));
    assert!(window.0.try_wait().unwrap().is_none(), "the first window is still open");

    // With --new-window it opens a window of its own: it is still running a moment later.
    let second = start(&["painting.jpg", "--new-window"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut second = Window(second);
    std::thread::sleep(Duration::from_secs(3));
    assert!(second.0.try_wait().unwrap().is_none(), "--new-window opened its own window");
}
