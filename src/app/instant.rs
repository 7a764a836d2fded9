//! The instant look in the window: as soon as a photo and a style are chosen (or changed, or
//! the strength or blend moved) and no optimisation is running, the worker paints the
//! feed-forward picture and it shows in a fraction of a second. Start then refines what is on
//! screen (the app starts from the instant look unless the artist picks another start).

use super::settings::Settings;
use super::state::Live;
use crate::transfer::RenderSpec;
use crate::worker::{Command, Status};

/// What was last asked of the worker.
#[derive(Debug, Default)]
pub struct InstantState {
    /// The part of the spec the last instant picture was painted from.
    sent: Option<RenderSpec>,
    /// A picture is being painted (one at a time: a dragged slider sends the newest value
    /// once the previous picture is shown).
    pub(super) in_flight: bool,
}

/// The part of `spec` the instant look depends on.
fn key(spec: &RenderSpec) -> RenderSpec {
    RenderSpec {
        content: spec.content.clone(),
        styles: spec.styles.clone(),
        objective: crate::transfer::Objective { style_blend: spec.objective.style_blend.clone(), ..Default::default() },
        instant: spec.instant.clone(),
        size: spec.size,
        preserve_colors: spec.preserve_colors,
        device: spec.device,
        ..RenderSpec::default()
    }
}

impl Live {
    /// Asks the worker for the instant look of `settings` when the picture on screen should be it.
    pub(super) fn steer_instant(&mut self, settings: &Settings) {
        let spec = &settings.spec;
        let busy = matches!(self.status, Status::Running | Status::Paused | Status::Preparing)
            || self.worker.printing()
            || self.launching;
        if busy || self.instant.in_flight || settings.not_ready().is_some() || spec.validate().is_err() {
            return;
        }
        // The run asked for (even before the worker reports it) and the picture on screen
        // (optimised, or restored from an autosave) stay until their images change.
        let other = |s: &RenderSpec| s.content != spec.content || s.styles != spec.styles;
        let shown = self.frame.as_ref().map(|f| &f.spec);
        let images_changed = self.run_spec.as_ref().is_none_or(other) && shown.is_none_or(|s| other(s));
        let showing_instant = shown.is_some_and(|s| s.method == crate::transfer::Method::Instant);
        if !(images_changed || showing_instant) {
            return;
        }
        let wanted = key(spec);
        if self.instant.sent.as_ref() == Some(&wanted) {
            return;
        }
        self.worker.send(Command::Instant(Box::new(RenderSpec { instant: spec.instant.clone(), ..spec.clone() })));
        self.instant.sent = Some(wanted);
        self.instant.in_flight = true;
    }
}

/// The strength slider's help.
pub(super) const STRENGTH_HOVER: &str = "How much of the painting's style the instant look takes: 0 keeps the \
                                         photo's own, 1 the painting's. Shown at once; Start refines it";
