//! A clip's frame through the Job: the frame is the content picture, decoded by the caller,
//! and the run starts from the previous frame's result carried onto this one by the motion,
//! held to it by the temporal term where the motion can be trusted.

use std::sync::Arc;

use image::RgbImage;

use super::Job;
use crate::error::{Error, Result};
use crate::imageio::{resize, to_tensor};
use crate::notice::Note;
use crate::transfer::loss::targets::Temporal;
use crate::transfer::run::sources::SourceImages;
use crate::transfer::run::stepper::Stepper;
use crate::transfer::spec::RenderSpec;

/// Where a frame starts and what holds it to the frame before, at the frame's render size.
#[derive(Debug, Clone)]
pub struct Prior {
    /// The picture the optimiser starts from.
    pub start: RgbImage,
    /// The previous frame's result, warped onto this frame.
    pub warped: RgbImage,
    /// Per pixel (row-major), 1 where the motion can be trusted, 0 where not.
    pub reliable: Vec<f32>,
}

impl Prior {
    /// Sets the stepper's image and temporal term; a run of more than one stage is refused
    /// (the prior has one size).
    pub(super) fn hold(self, stepper: &mut Stepper, stages: usize) -> Result<()> {
        if stages != 1 {
            return Err(Error::invalid("a clip's later frames render in one stage (set scales to 1)"));
        }
        let size = stepper.size();
        if self.start.dimensions() != size || self.warped.dimensions() != size {
            return Err(Error::internal(format!("a prior of {:?} for a frame of {size:?}", self.warped.dimensions())));
        }
        let device = stepper.x().device().clone();
        stepper.set_x(to_tensor(&self.start, &device)?)?;
        stepper.set_temporal(Some(Temporal::new(&self.warped, &self.reliable, &device)?));
        Ok(())
    }
}

impl Job {
    /// Starts a run of `spec` on a clip's frame, `sources` holding the frame as the content
    /// (see [`SourceImages::with_content`]), from `prior` when there is a frame before it.
    pub fn start_frame(
        &mut self,
        spec: RenderSpec,
        sources: Arc<SourceImages>,
        prior: Option<Prior>,
    ) -> Result<Vec<Note>> {
        spec.validate()?;
        self.sources = Some(sources.clone());
        self.start_with(spec, sources, prior)
    }

    /// The instant look of `sources` under `spec` at `size` (the whole picture, no colour
    /// post-process): a clip's frame in the fast mode.
    pub fn paint(&mut self, spec: &RenderSpec, sources: &SourceImages, size: (u32, u32)) -> Result<RgbImage> {
        let painted = self.painter(spec.device)?.paint(sources, spec, size)?;
        Ok(if painted.dimensions() == size { painted } else { resize(&painted, size) })
    }
}
