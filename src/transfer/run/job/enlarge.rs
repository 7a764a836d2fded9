//! Preview-then-print: a running render continues at a larger size from the image it has, and
//! a print that is cancelled goes back to the last stage it finished.

use std::sync::Arc;

use image::RgbImage;

use super::{grow, stepper_at, Job, Run};
use crate::error::{Error, Result};
use crate::imageio::to_tensor;
use crate::transfer::run::memory::{available_memory_on, fit_in_memory};
use crate::transfer::spec::{RenderSpec, Schedule};

/// A finished stage's result, kept while a larger stage runs.
pub(super) struct Kept {
    /// The optimised image (before any colour post-process), at the stage's size.
    rgb: RgbImage,
    /// Index of the stage.
    stage: usize,
    /// Updates applied when the stage ended.
    done: usize,
}

impl Kept {
    /// The current stage of `run`, as it stands.
    pub(super) fn of(run: &Run) -> Result<Kept> {
        Ok(Kept { rgb: run.stepper.image()?, stage: run.stage, done: run.done })
    }
}

impl Job {
    /// Continues the current render as a print of long side `size`: the stage in progress ends
    /// where it is (its image is kept, see [`Job::cancel_stage`]), and the stages that take it
    /// to `size` (steps of at most 2x, fewer iterations each) follow, the first warm-started
    /// from it as any stage is. The spec's schedule becomes the stages run so far plus those,
    /// so the print's settings describe it. Returns notes when memory made the plan change.
    pub fn print(&mut self, size: u32) -> Result<Vec<crate::notice::Note>> {
        let (Some(run), Some(model)) = (self.run.as_mut(), self.model.as_mut()) else {
            return Err(Error::invalid("start a render before printing it"));
        };
        let current = run.stages.get(run.stage).copied().ok_or_else(|| Error::internal("no current stage"))?;
        if size <= current.size {
            return Err(Error::invalid(format!(
                "a print is larger than the preview ({} px), got {size} px",
                current.size
            )));
        }
        let mut stages = run.stages[..run.stage].to_vec();
        stages.push(crate::transfer::Stage { iterations: run.done - run.stage_start, ..current });
        stages.extend(grow(current.size, size, run.spec.schedule.iterations));
        let spec = RenderSpec {
            size,
            schedule: Schedule { stages: stages.clone(), ..run.spec.schedule.clone() },
            ..(*run.spec).clone()
        };
        spec.validate()?;
        let plan = fit_in_memory(
            &mut spec.clone(),
            run.sources.content.dimensions(),
            &model.net.config(),
            available_memory_on(model.net.device()),
        )?;
        let mut stepper = stepper_at(model, &spec, &run.sources, stages[run.stage + 1])?;
        crate::transfer::carry_over(&run.stepper, &mut stepper)?;
        run.kept = Some(Kept::of(run)?);
        run.alpha = run.sources.content_alpha_at(stepper.size());
        run.stepper = stepper;
        run.stages = stages;
        run.spec = Arc::new(spec);
        run.stage += 1;
        run.stage_start = run.done;
        run.faults = 0;
        run.paused = false;
        run.printed = true;
        Ok(plan.notes)
    }

    /// Abandons the stage in progress and goes back to the result of the last finished one (the
    /// run then ends there, and its spec says so). Returns false, changing nothing, when no
    /// stage has finished yet, or the run has (nothing is in progress).
    pub fn cancel_stage(&mut self) -> Result<bool> {
        let (Some(run), Some(model)) = (self.run.as_mut(), self.model.as_mut()) else { return Ok(false) };
        if run.finished() {
            return Ok(false);
        }
        let Some(kept) = run.kept.take() else { return Ok(false) };
        let stages = run.stages[..=kept.stage].to_vec();
        let end = stages[kept.stage];
        let spec = RenderSpec {
            size: end.size,
            schedule: Schedule { stages: stages.clone(), ..run.spec.schedule.clone() },
            ..(*run.spec).clone()
        };
        let mut stepper = stepper_at(model, &spec, &run.sources, end)?;
        stepper.set_x(to_tensor(&kept.rgb, stepper.x().device())?)?;
        run.alpha = run.sources.content_alpha_at(stepper.size());
        run.stepper = stepper;
        run.stages = stages;
        run.spec = Arc::new(spec);
        run.stage = kept.stage;
        run.done = kept.done;
        run.stage_start = kept.done.saturating_sub(end.iterations);
        run.last = None;
        Ok(true)
    }
}
