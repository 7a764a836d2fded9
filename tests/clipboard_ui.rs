//! The clipboard, for real: an X server (Xvfb) started here, and xclip as the other program.
//! A picture copied elsewhere is pasted as the photo (Ctrl+V), a copied file as a style (Paste
//! as style), text that names no file changes nothing, and Copy image puts the picture shown on
//! the clipboard for another program to paste.
#![cfg(feature = "app")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::ui::{step_until, tall_harness};
use common::xvfb::Xvfb;
use egui::{Key, Modifiers};
use egui_kittest::kittest::Queryable;
use neural_style_studio::app::{Launch, Settings};
use neural_style_studio::transfer::RenderSpec;

/// Puts `bytes` on the clipboard as `target`, served by xclip in the background.
fn xclip_in(display: &str, target: &str, bytes: &[u8]) {
    let mut xclip = Command::new("xclip")
        .args(["-selection", "clipboard", "-t", target, "-i"])
        .env("DISPLAY", display)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("xclip is installed (.ci/run installs it)");
    xclip.stdin.take().unwrap().write_all(bytes).unwrap();
    // xclip forks to serve the selection; the parent returns once it has it.
    xclip.wait().unwrap();
}

#[test]
fn pictures_and_files_are_pasted_as_photo_and_style_and_the_picture_shown_is_copied() {
    let (_x, display) = Xvfb::start();
    // The app's clipboard finds the X server as a desktop session would. This binary has this
    // one test, so nothing else reads the environment meanwhile.
    std::env::set_var("DISPLAY", &display);
    std::env::remove_var("WAYLAND_DISPLAY");
    let dir = tempfile::tempdir().unwrap();
    let (photo, painting) = (dir.path().join("photo.png"), dir.path().join("painting.png"));
    common::content_image(64, 48).save(&photo).unwrap();
    common::style_image(48, 48).save(&painting).unwrap();
    let pasted = dir.path().join("pasted");
    let settings = Settings { spec: RenderSpec::default(), ..Settings::default() };
    let mut h = tall_harness(Launch { settings: Some(settings), pasted: Some(pasted.clone()), ..Launch::default() });

    // A picture copied in another program becomes the photo, kept as a PNG in the app's folder.
    xclip_in(&display, "image/png", &std::fs::read(&photo).unwrap());
    h.key_press_modifiers(Modifiers::COMMAND, Key::V);
    step_until(&mut h, 30, "the pasted photo", |a| a.settings.spec.content.is_some());
    let kept = h.state().settings.spec.content.as_ref().unwrap().path.clone();
    assert!(kept.starts_with(&pasted), "{}", kept.display());
    assert_eq!(image::open(&kept).unwrap().into_rgb8(), image::open(&photo).unwrap().into_rgb8());

    // A file copied in a file manager (a URI list) is added as a style.
    let uri = format!("file://{}\n", painting.display());
    xclip_in(&display, "text/uri-list", uri.as_bytes());
    h.get_by_label("Paste as style").click();
    step_until(&mut h, 30, "the pasted style", |a| a.settings.spec.styles.iter().any(|s| s.path == painting));

    // Text that names no file: one line, nothing changed.
    xclip_in(&display, "UTF8_STRING", b"just some words");
    let before = h.state().settings.spec.clone();
    h.get_by_label("Paste").click();
    step_until(&mut h, 30, "the refusal", |a| a.notice.as_ref().is_some_and(|n| n.text.contains("no picture or file")));
    assert_eq!(h.state().settings.spec, before);

    // The picture shown (the instant look, painted as soon as both are chosen) is copied, and
    // another program pastes it.
    step_until(&mut h, 60, "the instant look", |a| a.live.frame.is_some());
    let shown = h.state().live.frame.as_ref().unwrap().image.dimensions();
    h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::C);
    step_until(&mut h, 30, "the copy", |a| a.notice.as_ref().is_some_and(|n| n.text.contains("Copied the picture")));
    let out = Command::new("xclip")
        .args(["-selection", "clipboard", "-t", "image/png", "-o"])
        .env("DISPLAY", &display)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let copied = image::load_from_memory(&out.stdout).expect("a PNG on the clipboard");
    assert_eq!((copied.width(), copied.height()), shown);
}
