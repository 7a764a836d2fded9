//! The keyboard in the real app: Space starts, pauses and resumes; F1 lists every shortcut; Esc
//! closes what is open and cancels a print; the shortcuts work with the built-in browser open.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::ui::{iteration, small_settings, step_until, tall_harness};

use egui::{Key, Modifiers};
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use neural_style_studio::app::keys::SHORTCUTS;
use neural_style_studio::app::{App, Launch, Settings};
use neural_style_studio::worker::Status;

fn press(h: &mut Harness<'static, App>, key: Key) {
    h.key_press_modifiers(Modifiers::NONE, key);
    h.run_steps(2);
}

#[test]
fn space_f1_and_esc_drive_the_render_the_overlay_the_browser_and_a_print() {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings { builtin_browser: true, print_size: 128, ..small_settings(dir.path()) };
    let mut h = tall_harness(Launch { settings: Some(settings), ..Launch::default() });

    press(&mut h, Key::Space);
    step_until(&mut h, 60, "Space to start the render", |a| a.live.status == Status::Running && iteration(a) >= 2);
    press(&mut h, Key::Space);
    step_until(&mut h, 30, "Space to pause it", |a| a.live.status == Status::Paused);
    press(&mut h, Key::Space);
    step_until(&mut h, 30, "Space to resume it", |a| a.live.status == Status::Running);

    // F1 lists every shortcut; Esc closes the list.
    press(&mut h, Key::F1);
    assert!(h.state().panels.shortcuts);
    for (keys, what) in SHORTCUTS {
        let shown = |label: &str| h.query_all_by_label(label).next().is_some();
        assert!(shown(keys) && shown(what), "{keys}: {what}");
    }
    press(&mut h, Key::Escape);
    assert!(!h.state().panels.shortcuts && h.query_by_label(SHORTCUTS[0].1).is_none());

    // With the built-in browser open, Space still pauses, and Esc closes the browser.
    h.get_by_label("Choose content…").click();
    step_until(&mut h, 20, "the built-in browser", App::browser_open);
    press(&mut h, Key::Space);
    step_until(&mut h, 30, "Space to pause under the browser", |a| a.live.status == Status::Paused);
    assert!(h.state().browser_open());
    press(&mut h, Key::Escape);
    assert!(!h.state().browser_open(), "Esc closed the browser");
    press(&mut h, Key::Space);
    step_until(&mut h, 30, "running again", |a| a.live.status == Status::Running);

    // Esc cancels a print and goes back to the preview.
    h.get_by_label("Render print").click();
    step_until(&mut h, 60, "the print running", |a| {
        a.live.printing() && a.live.frame.as_ref().is_some_and(|f| f.image.width() == 128)
    });
    press(&mut h, Key::Escape);
    step_until(&mut h, 60, "back to the preview", |a| {
        !a.live.printing() && a.live.frame.as_ref().is_some_and(|f| f.image.width() == 64)
    });
}
