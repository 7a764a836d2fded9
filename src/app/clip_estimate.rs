//! The clip's estimate before Render clip: time and disk measured on a task (a few iterations
//! at the frame size on this machine, each shot's first frame counted), and "Finish in about N
//! min", which sets the iterations of each later frame to fit. A long clip asks before it
//! starts, showing the estimate.

use std::path::PathBuf;

use egui::Ui;

use super::clip::ClipPanel;
use super::ctx::Ctx;
use crate::notice::Notice;
use crate::transfer::{ImageRef, RenderSpec, VideoMode};
use crate::video::estimate::{duration, Estimate};
use crate::video::store::ClipPlan;
use crate::worker::Status;

/// The estimate as the panel shows it.
#[derive(Default)]
pub struct EstimatePanel {
    /// The last estimate and the settings it was measured with, or why it failed.
    pub estimate: Option<Result<(Estimate, RenderSpec), String>>,
    /// A measurement is running.
    pub measuring: bool,
    /// The time asked for by "Finish in", in minutes.
    pub minutes: f64,
    /// A long clip's render waiting for the artist's answer: its output.
    pub asking: Option<PathBuf>,
}

/// Clips of more frames than this (two minutes at 24 fps) ask before they render.
pub const ASK_FRAMES: usize = 3000;

impl ClipPanel {
    /// Measures, on a task, how long the open clip takes to render with the settings shown.
    fn estimate(&mut self, cx: &mut Ctx) {
        let Some(clip) = cx.settings.clip.as_ref() else { return };
        let spec = RenderSpec { content: Some(ImageRef::new(&clip.path)), ..cx.settings.spec.clone() };
        let plan = ClipPlan { clip: clip.path.clone(), first: 0, end: usize::MAX, fps: 0.0, spec: spec.clone() };
        let shots = self.shots.as_ref().map_or(1, Vec::len);
        self.estimate.measuring = true;
        cx.tasks.spawn(
            "estimate",
            move || Estimate::measure(&plan, shots).map(|e| (e, spec)).map_err(|e| e.to_string()),
            |app, _, estimate| {
                let panel = &mut app.panels.clip.estimate;
                panel.measuring = false;
                if let Ok((e, _)) = &estimate {
                    if panel.minutes <= 0.0 {
                        panel.minutes = (e.seconds() / 60.0).ceil().max(1.0);
                    }
                }
                panel.estimate = Some(estimate);
            },
        );
    }

    /// Asks whether to render the long clip into `out`, measuring its estimate meanwhile.
    pub(super) fn ask_before_rendering(&mut self, out: PathBuf, cx: &mut Ctx) {
        self.estimate.asking = Some(out);
        let current = matches!(&self.estimate.estimate, Some(Ok((_, spec))) if same_work(spec, &cx.settings.spec));
        if !current && !self.estimate.measuring {
            self.estimate(cx);
        }
    }

    /// Sets the iterations per later frame so that the clip finishes in the minutes asked for.
    fn fit(&mut self, cx: &mut Ctx) {
        let panel = &mut self.estimate;
        let Some(Ok((estimate, spec))) = panel.estimate.as_mut() else { return };
        match estimate.later_iterations_within(panel.minutes * 60.0) {
            Some(n) => {
                estimate.later_iterations = n;
                spec.video.later_iterations = n;
                cx.settings.spec.video.later_iterations = n;
            }
            None => cx.say(Notice::warning(format!(
                "The clip cannot finish in {} min here: with one iteration per frame it takes about {}.",
                panel.minutes,
                duration(estimate.seconds_with(1))
            ))),
        }
    }

    /// The estimate's line, its button, and "Finish in" (Quality mode).
    pub(super) fn estimate_ui(&mut self, ui: &mut Ui, cx: &mut Ctx) {
        let busy = matches!(cx.live.status, Status::Running | Status::Preparing) || cx.live.clip_progress().is_some();
        let panel = &self.estimate;
        let current = match &panel.estimate {
            Some(Ok((e, spec))) if same_work(spec, &cx.settings.spec) => Some(e.describe()),
            Some(Ok(_)) => Some("The settings changed since the estimate.".to_string()),
            Some(Err(e)) => Some(e.clone()),
            None => None,
        };
        let measuring = panel.measuring;
        let mut measure = false;
        ui.horizontal_wrapped(|ui| {
            let button = ui.add_enabled(!busy && !measuring, egui::Button::new("Estimate time"));
            let hover = "Times a few iterations at the frame size on this machine (while nothing else renders)";
            measure =
                button.on_hover_text(hover).on_disabled_hover_text("Wait until the render in progress stops").clicked();
            if measuring {
                ui.spinner();
            } else if let Some(text) = current {
                ui.weak(text);
            }
        });
        if measure {
            self.estimate(cx);
        }
        let fits = matches!(&self.estimate.estimate, Some(Ok((_, spec))) if same_work(spec, &cx.settings.spec));
        if fits && cx.settings.spec.video.mode == VideoMode::Quality {
            let mut fit = false;
            ui.horizontal(|ui| {
                ui.label("Finish in about");
                ui.add(egui::DragValue::new(&mut self.estimate.minutes).range(1.0..=100_000.0).suffix(" min"));
                let hover = "Choose the iterations per frame that finish in this time";
                fit = ui.button("Fit time").on_hover_text(hover).clicked();
            });
            if fit {
                self.fit(cx);
            }
        }
    }

    /// The question a long clip asks before it renders: its frames, the estimate (once measured),
    /// Render or Cancel.
    pub(super) fn long_clip_ui(&mut self, ctx: &egui::Context, cx: &mut Ctx) {
        let Some(out) = self.estimate.asking.clone() else { return };
        let frames = match &self.info {
            Some(Ok(info)) => {
                format!("{} frames ({} at {:.3} fps)", info.frames, duration(info.frames as f64 / info.fps), info.fps)
            }
            _ => "This clip".to_string(),
        };
        let (mut render, mut cancel) = (false, false);
        let window = egui::Window::new("Render a long clip?").collapsible(false).resizable(false);
        window.anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO).show(ctx, |ui| {
            ui.label(format!("{frames} to render into {}.", out.display()));
            let panel = &self.estimate;
            match &panel.estimate {
                _ if panel.measuring => {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label("Timing a few iterations on this machine…");
                    });
                }
                Some(Ok((e, _))) => {
                    ui.label(format!("On this machine: {}.", e.describe()));
                }
                Some(Err(e)) => {
                    ui.label(format!("No estimate: {e}"));
                }
                None => {}
            }
            ui.horizontal(|ui| {
                render = ui.add_enabled(!panel.measuring, egui::Button::new("Render")).clicked();
                cancel = ui.button("Cancel").clicked();
            });
        });
        if render {
            self.estimate.asking = None;
            self.start(out, cx);
        } else if cancel {
            self.estimate.asking = None;
        }
    }
}

/// Whether `a` and `b` render a clip with the same work (size, mode, schedule, iterations).
fn same_work(a: &RenderSpec, b: &RenderSpec) -> bool {
    a.size == b.size && a.video == b.video && a.schedule == b.schedule && a.styles.len() == b.styles.len()
}
