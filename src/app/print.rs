//! The print panel: preview-then-print.

use egui::Ui;

use super::ctx::Ctx;
use super::panels::slider;
use super::Action;
use crate::worker::Status;

/// Preview-then-print: continue the picture at a larger size (up to the largest that fits),
/// with its stage, progress and time left, and a cancel that goes back to the last finished
/// stage.
pub(super) fn print_ui(ui: &mut Ui, cx: &mut Ctx) {
    use crate::transfer::{seconds_left, spec::MAX_SIZE, work_done};
    ui.heading("Print");
    let Some(f) = &cx.live.frame else {
        ui.weak("Start a preview, then render it large here.");
        return;
    };
    let stages = f.spec.stages();
    let now = stages.get(f.stage).map_or(f.spec.size, |s| s.size);
    if cx.printing() {
        ui.label(format!(
            "Stage {} of {} at {now} px, iteration {} of {}",
            f.stage + 1,
            stages.len(),
            f.iteration,
            f.total
        ));
        let left = seconds_left(&stages, f.iteration, f.seconds).round() as u64;
        let eta = if f.seconds > 0.0 { format!("about {}:{:02} left", left / 60, left % 60) } else { String::new() };
        ui.add(egui::ProgressBar::new(work_done(&stages, f.iteration) as f32).text(eta));
        if ui.button("Cancel print").on_hover_text("Stop and go back to the last finished stage").clicked() {
            cx.ask(Action::CancelPrint);
        }
        return;
    }
    let smallest = (now / 32 + 1) * 32;
    let Some(largest) = f.max_print.map(|m| m.min(MAX_SIZE)).filter(|&m| m >= smallest) else {
        ui.weak("No larger size fits in the free memory.");
        return;
    };
    let size = &mut cx.settings.print_size;
    ui.add(slider(size, smallest..=largest).step_by(32.0).text("Print size (px)"));
    ui.weak(format!("Up to {largest} px fits in the free memory"));
    let ready = matches!(cx.live.status, Status::Running | Status::Paused | Status::Stopped);
    let hover = "Continue this picture at the print size: larger stages from the current image, same settings";
    if ui.add_enabled(ready, egui::Button::new("Render print")).on_hover_text(hover).clicked() {
        let size = cx.settings.print_size.clamp(smallest, largest);
        cx.ask(Action::Print(size));
    }
}
