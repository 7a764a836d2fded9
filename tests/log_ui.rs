//! The log, for a bug report: an error the artist is shown goes into the day's file with its
//! context, a panic with its backtrace, and About's "Copy diagnostics" gathers the version,
//! build, device, GPU adapter and the log's last lines; a folder that cannot be written is one
//! line and no log.
#![cfg(feature = "app")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::ui::{harness, step_until};
use egui_kittest::kittest::Queryable;
use neural_style_studio::app::log::{init, last_lines};
use neural_style_studio::app::tasks::Purpose;
use neural_style_studio::app::{Launch, Settings};
use neural_style_studio::transfer::RenderSpec;

/// Waits until the log in `dir` holds `text` (it is written by a background thread).
fn logged(dir: &Path, text: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let lines = last_lines(dir, 10_000);
        if lines.iter().any(|l| l.contains(text)) {
            return lines;
        }
        assert!(Instant::now() < deadline, "{text:?} not in the log: {lines:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn errors_shown_and_panics_are_logged_and_copy_diagnostics_gathers_them() {
    let root = tempfile::tempdir().unwrap();
    // A folder that cannot be written: one line, no log.
    let file = root.path().join("a file");
    std::fs::write(&file, "").unwrap();
    let refused = init(&file.join("logs"), tracing::Level::INFO).unwrap_err();
    assert!(refused.starts_with("No log is kept") && !refused.contains('\n'), "{refused}");

    let logs = root.path().join("logs");
    let _guard = init(&logs, tracing::Level::INFO).unwrap();
    let settings = Settings { spec: RenderSpec::default(), ..Settings::default() };
    let mut h = harness(Launch { settings: Some(settings), logs: Some(logs.clone()), ..Launch::default() });
    h.run_steps(2);

    // An error the artist is shown, with the state it came in.
    h.state_mut().open(Purpose::Content, root.path().join("gone.jpg"));
    step_until(&mut h, 30, "the error", |a| a.notice.as_ref().is_some_and(|n| n.text.contains("gone.jpg")));
    h.run_steps(1);
    let lines = logged(&logs, "gone.jpg");
    let line = lines.iter().find(|l| l.contains("gone.jpg")).unwrap();
    assert!(line.contains("ERROR") && line.contains("status=Idle"), "{line}");

    // A panic, with where it happened.
    let panicked = std::thread::spawn(|| panic!("a deliberate panic for the log")).join();
    assert!(panicked.is_err());
    let lines = logged(&logs, "a deliberate panic for the log");
    assert!(lines.iter().any(|l| l.contains("log_ui.rs")), "the backtrace or location is logged");

    // Copy diagnostics, from the About box.
    h.state_mut().panels.about = true;
    h.run_steps(2);
    h.get_by_label("Copy diagnostics").click();
    step_until(&mut h, 30, "the diagnostics", |a| a.panels.diagnostics.is_some());
    let report = h.state().panels.diagnostics.clone().unwrap();
    assert!(report.starts_with(&format!("neural-style-studio {}", env!("CARGO_PKG_VERSION"))), "{report}");
    for part in ["build: ", "device: ", "window adapter: ", "lines of the log:", "gone.jpg", "a deliberate panic"] {
        assert!(report.contains(part), "{part:?} in {report}");
    }
    assert!(!report.contains("window adapter: none"), "the harness draws with wgpu: {report}");
}
