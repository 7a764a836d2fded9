//! The status bar (device, state, stage, iteration, speed, time left, losses) and the loss
//! curves of the run under way.

use egui::Ui;
use egui_plot::{Legend, Line, Plot, PlotPoints};

use super::state::Live;
use crate::worker::Status;

/// Bottom status bar: the device, the state, the stage, iteration, speed and time, the losses.
pub(super) fn status_bar(ui: &mut Ui, live: &Live, device: crate::model::DeviceChoice) {
    ui.horizontal(|ui| {
        let device = match (&live.frame, device) {
            (Some(f), _) => f.device.to_string(),
            (None, crate::model::DeviceChoice::Auto) if !cfg!(any(feature = "cuda", feature = "metal")) => "CPU".into(),
            (None, choice) => choice.to_string(),
        };
        ui.label(format!("Device: {device}"));
        ui.separator();
        let state = match &live.status {
            Status::Idle => "Idle".to_string(),
            Status::Preparing => "Preparing…".to_string(),
            Status::Running => "Running".to_string(),
            Status::Paused => "Paused".to_string(),
            Status::Stopped => "Stopped".to_string(),
            Status::Failed(_) => "Error".to_string(),
        };
        ui.label(state);
        if let Some(f) = live.frame.as_ref().filter(|f| f.spec.method == crate::transfer::Method::Instant) {
            ui.separator();
            let (w, h) = f.image.dimensions();
            ui.label(format!("Instant look, {w}x{h}, painted in {:.2} s: Start refines it", f.seconds));
        } else if let Some(f) = &live.frame {
            ui.separator();
            let stages = f.spec.stages();
            if stages.len() > 1 {
                let size = stages.get(f.stage).map_or(f.spec.size, |s| s.size);
                ui.label(format!("Stage {} of {} ({size} px)", f.stage + 1, stages.len()));
                ui.separator();
            }
            ui.label(format!("Iteration {} of {}", f.iteration, f.total));
            if f.seconds > 0.0 {
                ui.separator();
                ui.label(format!("{:.2} it/s", 1.0 / f.seconds));
                if live.status == Status::Running {
                    let left = crate::transfer::seconds_left(&stages, f.iteration, f.seconds).round() as u64;
                    ui.separator();
                    ui.label(format!("about {}:{:02} left", left / 60, left % 60));
                }
            }
            ui.separator();
            let t = live.elapsed().as_secs();
            ui.label(format!("{:02}:{:02}", t / 60, t % 60));
            if let Some(l) = &f.losses {
                ui.separator();
                ui.label(format!("loss {:.3e}  content {:.3e}  style {:.3e}", l.total, l.content(), l.style()));
            }
        }
    });
}

/// The colours of the loss curves of each kind of term, in the order the losses report them.
const KIND_COLOURS: [egui::Color32; 5] = [
    egui::Color32::from_rgb(90, 160, 255),
    egui::Color32::from_rgb(240, 190, 60),
    egui::Color32::from_rgb(120, 200, 120),
    egui::Color32::from_rgb(190, 130, 230),
    egui::Color32::from_rgb(80, 200, 200),
];

/// Loss curves against iteration, log scale.
pub(super) fn loss_plot(ui: &mut Ui, live: &Live) {
    let series = |f: &dyn Fn(&crate::transfer::Losses) -> f64| -> PlotPoints {
        live.history
            .iter()
            .filter_map(|p| {
                let v = f(&p.losses);
                (v > 0.0).then(|| [p.iteration as f64, v.log10()])
            })
            .collect()
    };
    if live.history.is_empty() {
        ui.add_sized(
            [ui.available_width(), 140.0],
            egui::Label::new(egui::RichText::new("Loss curves appear once a run iterates.").weak()),
        );
        return;
    }
    Plot::new("losses")
        .height(140.0)
        .legend(Legend::default())
        // The plot shows log10 of each (weighted) loss; label only whole decades.
        .y_axis_formatter(|mark, _| {
            let v = mark.value;
            if (v - v.round()).abs() < 1e-6 {
                format!("1e{v:.0}")
            } else {
                String::new()
            }
        })
        .show(ui, |plot| {
            // Each kind of term as it weighs in the total.
            let kinds = live.history.last().map(|p| p.losses.kinds()).unwrap_or_default();
            for (i, kind) in kinds.into_iter().enumerate() {
                let label = format!("{} × w", crate::transfer::loss::kind(kind).map_or(kind, |k| k.label));
                let line = Line::new(label, series(&|l| l.weighted(kind)));
                plot.line(line.color(KIND_COLOURS[i % KIND_COLOURS.len()]));
            }
            plot.line(Line::new("total", series(&|l| l.total)).color(egui::Color32::from_rgb(240, 80, 80)).width(2.0));
        });
}
