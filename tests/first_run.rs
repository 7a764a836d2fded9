//! A new artist's first minute: with nothing loaded the window offers the built-in example
//! pairs, and one click unpacks a pair and renders it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::ui::{harness, step_until};

use egui_kittest::kittest::Queryable;
use neural_style_studio::app::{Launch, Settings};
use neural_style_studio::examples::{CAT, STARRY_NIGHT};
use neural_style_studio::notice::Level;
use neural_style_studio::transfer::RenderSpec;

/// Nothing loaded, a small render size so the first frame comes quickly.
fn empty_settings() -> Settings {
    Settings { spec: RenderSpec { size: 64, ..RenderSpec::default() }, ..Settings::default() }
}

#[test]
fn one_click_on_an_example_pair_unpacks_it_and_renders_it() {
    let dir = tempfile::tempdir().unwrap();
    let examples = dir.path().join("examples");
    let launch = Launch { settings: Some(empty_settings()), examples: Some(examples.clone()), ..Launch::default() };
    let mut h = harness(launch);
    h.run_steps(2);
    step_until(&mut h, 30, "the example thumbnails", |a| a.pending_tasks() == 0);
    assert!({
        let a = h.state();
        a.panels.examples.offered(&a.settings)
    });
    assert!(h.query_by_label("Or try an example").is_some());
    assert!(!examples.exists(), "nothing is written before the artist chooses");

    h.get_by_label("Chelsea the cat × The Starry Night").click();
    step_until(&mut h, 120, "the example's first frame", |a| a.live.frame.is_some());
    let app = h.state();
    let spec = &app.settings.spec;
    assert_eq!(spec.content.as_ref().unwrap().path, examples.join("chelsea.jpg"));
    assert_eq!(spec.styles.iter().map(|s| s.path.clone()).collect::<Vec<_>>(), [examples.join("starry_night.jpg")]);
    assert_eq!(std::fs::read(examples.join("chelsea.jpg")).unwrap(), CAT.bytes);
    assert_eq!(std::fs::read(examples.join("starry_night.jpg")).unwrap(), STARRY_NIGHT.bytes);
    let (w, h_px) = app.live.frame.as_ref().unwrap().image.dimensions();
    assert_eq!((w, h_px), (64, 43), "the cat photo's 451x300 shape at the render size");
    let notice = app.notice.as_ref().expect("the credits are shown");
    assert!(notice.text.contains("Stéfan van der Walt") && notice.text.contains("Vincent van Gogh"), "{}", notice.text);
    assert!(!app.panels.examples.offered(&app.settings), "once loaded, the offer is gone");
}

#[test]
fn an_example_folder_that_cannot_be_written_is_one_error_and_nothing_loads() {
    let dir = tempfile::tempdir().unwrap();
    let taken = dir.path().join("a-file");
    std::fs::write(&taken, b"x").unwrap();
    let launch = Launch { settings: Some(empty_settings()), examples: Some(taken), ..Launch::default() };
    let mut h = harness(launch);
    h.run_steps(2);
    step_until(&mut h, 30, "the example thumbnails", |a| a.pending_tasks() == 0);
    h.get_by_label("Eileen Collins × The Kiss").click();
    step_until(&mut h, 30, "the unpack's answer", |a| a.notice.is_some());
    let app = h.state();
    let notice = app.notice.as_ref().unwrap();
    assert_eq!(notice.level, Level::Error);
    assert!(notice.text.starts_with("Could not unpack the example pictures"), "{}", notice.text);
    assert!(
        app.settings.spec.content.is_none() && app.panels.examples.offered(&app.settings),
        "still offered, nothing loaded"
    );
}

#[test]
fn without_an_examples_folder_no_examples_are_offered() {
    let mut h = harness(Launch { settings: Some(empty_settings()), ..Launch::default() });
    h.run_steps(3);
    assert!(!{
        let a = h.state();
        a.panels.examples.offered(&a.settings)
    });
    assert!(h.query_by_label("Or try an example").is_none());
    assert!(h.query_by_label("Pick a content photo and a style painting, then press Start.").is_some());
}
