//! The worker thread's loop.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::mpsc::TryRecvError;
use std::sync::{Arc, Mutex};

use image::{GrayImage, RgbImage, RgbaImage};

use super::{lock, Command, Frame, Inbox, LossPoint, Notify, Shared, Status};
use crate::error::{Error, Result};
use crate::imageio::{attach_alpha, fit_long_side, resize};
use crate::model::{default_device, Tap, Vgg, WeightsSource};
use crate::transfer::{
    available_memory, build_stepper, carry_over, coarse_to_fine, fit_in_memory, Optimizer, RenderSpec, SourceImages,
    Stage, StepReport, Stepper, TargetCache,
};

/// A run in progress.
struct Run {
    id: u64,
    stepper: Stepper,
    spec: Arc<RenderSpec>,
    content: Arc<RgbaImage>,
    /// The content's alpha at the current stage's size (resized once per stage, not per frame).
    alpha: Option<GrayImage>,
    /// Coarse-to-fine stages; `stage` is the current one, begun at update `stage_start`.
    stages: Vec<Stage>,
    stage: usize,
    stage_start: usize,
    /// Updates applied over all stages.
    done: usize,
    iterations: usize,
    sources: SourceImages,
    running: bool,
    last: Option<StepReport>,
    failures: u32,
}

/// Everything the worker keeps between runs so that a restart is cheap.
struct State {
    shared: Arc<Mutex<Shared>>,
    notify: Notify,
    model: Option<(WeightsSource, Arc<Vgg>, TargetCache)>,
    sources: Option<(PathBuf, Vec<PathBuf>, SourceImages)>,
    run: Option<Run>,
    next_id: u64,
}

/// After this many consecutive non-finite steps the run pauses for the user to fix the weights.
const MAX_FAILURES: u32 = 3;

pub(crate) fn main_loop(rx: Inbox, shared: Arc<Mutex<Shared>>, notify: Notify) {
    let mut state = State { shared, notify, model: None, sources: None, run: None, next_id: 1 };
    loop {
        let busy = state.run.as_ref().is_some_and(|r| r.running);
        let cmd = if busy {
            match rx.try_recv() {
                Ok(c) => Some(c),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => return,
            }
        } else {
            match rx.recv() {
                Ok(c) => Some(c),
                Err(_) => return,
            }
        };
        // Apply every pending command before the next (long) iteration.
        let outcome = catch_unwind(AssertUnwindSafe(|| match cmd {
            Some(Command::Shutdown) => Ok(false),
            Some(cmd) => state.handle(cmd).map(|()| true),
            None => state.step().map(|()| true),
        }));
        match outcome {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => return,
            Ok(Err(e)) => state.fail(e.to_string()),
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown panic".into());
                state.fail(format!("internal error: {msg}"));
            }
        }
    }
}

impl State {
    fn set_status(&self, status: Status) {
        lock(&self.shared).status = status;
        (self.notify)();
    }

    fn fail(&mut self, msg: String) {
        if let Some(run) = &mut self.run {
            run.running = false;
        }
        self.set_status(Status::Failed(msg));
    }

    fn handle(&mut self, cmd: Command) -> Result<()> {
        match cmd {
            Command::Start { spec, iterations, scales } => self.start(spec, iterations, scales),
            Command::SetObjective(objective) => {
                if let (Some(run), Some((_, _, cache))) = (&mut self.run, &mut self.model) {
                    run.stepper.set_objective(objective, cache)?;
                    lock(&self.shared).objective_updates += 1;
                }
                Ok(())
            }
            Command::Pause => self.set_running(false, Status::Paused),
            Command::Resume => {
                let more = self.run.as_ref().is_some_and(|r| r.done < r.iterations);
                if let Some(run) = &mut self.run {
                    run.failures = 0;
                }
                if more {
                    self.set_running(true, Status::Running)
                } else {
                    Ok(())
                }
            }
            Command::Stop => self.set_running(false, Status::Stopped),
            Command::Shutdown => Ok(()),
        }
    }

    fn set_running(&mut self, running: bool, status: Status) -> Result<()> {
        if let Some(run) = &mut self.run {
            run.running = running;
            self.set_status(status);
        }
        Ok(())
    }

    fn start(&mut self, spec: RenderSpec, iterations: usize, scales: usize) -> Result<()> {
        self.run = None;
        self.set_status(Status::Preparing);
        spec.validate()?;
        let sources = self.sources_for(&spec)?;
        let stages = coarse_to_fine(spec.size, scales, iterations);
        let iterations = stages.iter().map(|s| s.iterations).sum();
        let first = RenderSpec { size: stages[0].size, ..spec.clone() };
        let id = self.next_id;
        self.next_id += 1;
        // Show the photo at once: the model and targets take seconds at large sizes.
        let photo =
            Arc::new(to_rgba(resize(&sources.content, fit_long_side(sources.content.dimensions(), first.size))));
        self.publish_frame(Frame {
            run: id,
            image: photo.clone(),
            content: photo,
            iteration: 0,
            losses: None,
            seconds: 0.0,
            objective: spec.objective.clone(),
            spec: Arc::new(spec.clone()),
        });
        let mut spec = spec;
        let config = self.model_for(&spec.weights)?.0.config();
        let plan = fit_in_memory(&mut spec, sources.content.dimensions(), &config, available_memory())?;
        if let Some(note) = plan.note {
            lock(&self.shared).notice = Some(format!("{note}."));
        }
        let first = RenderSpec { run: spec.run.clone(), ..first };
        let (net, cache) = self.model_for(&spec.weights)?;
        let stepper = build_stepper(&first, &sources, net, cache)?;
        let content = Arc::new(to_rgba(stepper.content().rgb.clone()));
        let alpha = sources.content_alpha_at(stepper.size());
        self.run = Some(Run {
            id,
            stepper,
            spec: Arc::new(spec),
            content,
            alpha,
            stages,
            stage: 0,
            stage_start: 0,
            done: 0,
            iterations,
            sources,
            running: iterations > 0,
            last: None,
            failures: 0,
        });
        // Show the initial image at once, before the first (slow) iteration.
        self.publish()?;
        self.set_status(if iterations > 0 { Status::Running } else { Status::Stopped });
        Ok(())
    }

    fn model_for(&mut self, source: &WeightsSource) -> Result<(Arc<Vgg>, &mut TargetCache)> {
        if self.model.as_ref().is_none_or(|(s, _, _)| s != source) {
            let net = Arc::new(source.load(Tap::new(5, 1), &default_device())?);
            self.model = Some((source.clone(), net, TargetCache::new()));
        }
        let (_, net, cache) = self.model.as_mut().ok_or_else(|| Error::setting("no model"))?;
        Ok((net.clone(), cache))
    }

    fn sources_for(&mut self, spec: &RenderSpec) -> Result<SourceImages> {
        let fresh = self.sources.as_ref().is_none_or(|(c, s, _)| *c != spec.content || *s != spec.styles);
        if fresh {
            let images = SourceImages::load(spec)?;
            self.sources = Some((spec.content.clone(), spec.styles.clone(), images));
        }
        let (_, _, images) = self.sources.as_ref().ok_or_else(|| Error::setting("no images"))?;
        Ok(images.clone())
    }

    fn step(&mut self) -> Result<()> {
        let Some(run) = &mut self.run else { return Ok(()) };
        match run.stepper.step() {
            Ok(report) => {
                run.failures = 0;
                lock(&self.shared).history.push(LossPoint {
                    run: run.id,
                    iteration: run.done,
                    losses: report.losses.clone(),
                });
                run.last = Some(report);
                run.done += 1;
            }
            Err(Error::NonFinite(what)) => {
                // The stepper kept its last finite image: restart the optimiser more gently.
                run.failures += 1;
                run.stepper.optimizer_mut().reset();
                let mut remedy = "restarted the optimiser".to_string();
                if let Optimizer::Adam(adam) = run.stepper.optimizer_mut() {
                    let lr = adam.lr() * 0.5;
                    adam.set_lr(lr);
                    remedy = format!("restarted the optimiser with learning rate {lr:.3}");
                }
                let what = format!("Iteration {}: the {what} became infinite or NaN", run.done + 1);
                let notice = if run.failures >= MAX_FAILURES {
                    run.running = false;
                    format!(
                        "{what} {} times in a row. Paused on the last good image: lower the weights, then Resume.",
                        run.failures
                    )
                } else {
                    format!("{what}; kept the last good image and {remedy}.")
                };
                let paused = !run.running;
                lock(&self.shared).notice = Some(notice);
                self.publish()?;
                if paused {
                    self.set_status(Status::Paused);
                }
                return Ok(());
            }
            Err(e) => return Err(e),
        }
        let finished = run.done >= run.iterations;
        if finished {
            run.running = false;
        } else if run.done - run.stage_start >= run.stages[run.stage].iterations {
            self.next_stage()?;
        }
        self.publish()?;
        if finished {
            self.set_status(Status::Stopped);
        }
        Ok(())
    }

    /// Moves to the next (larger) stage, warm-started from the upscaled current image and
    /// keeping the objective in force.
    fn next_stage(&mut self) -> Result<()> {
        let Some(mut run) = self.run.take() else { return Ok(()) };
        let stage = run.stages[run.stage + 1];
        let spec = RenderSpec { size: stage.size, objective: run.stepper.objective().clone(), ..(*run.spec).clone() };
        let (net, cache) = self.model_for(&spec.weights)?;
        let mut stepper = build_stepper(&spec, &run.sources, net.clone(), cache)?;
        carry_over(&run.stepper, &mut stepper)?;
        run.content = Arc::new(to_rgba(stepper.content().rgb.clone()));
        run.alpha = run.sources.content_alpha_at(stepper.size());
        run.stepper = stepper;
        run.stage += 1;
        run.stage_start = run.done;
        self.run = Some(run);
        Ok(())
    }

    fn publish(&mut self) -> Result<()> {
        let Some(run) = &self.run else { return Ok(()) };
        let frame = Frame {
            run: run.id,
            image: Arc::new(match &run.alpha {
                Some(alpha) => attach_alpha(&run.stepper.image()?, alpha),
                None => to_rgba(run.stepper.image()?),
            }),
            content: run.content.clone(),
            iteration: run.done,
            losses: run.last.as_ref().map(|r| r.losses.clone()),
            seconds: run.last.as_ref().map_or(0.0, |r| r.seconds),
            objective: run.stepper.objective().clone(),
            spec: run.spec.clone(),
        };
        self.publish_frame(frame);
        Ok(())
    }

    fn publish_frame(&self, frame: Frame) {
        lock(&self.shared).frame = Some(frame);
        (self.notify)();
    }
}

fn to_rgba(img: RgbImage) -> RgbaImage {
    image::DynamicImage::ImageRgb8(img).into_rgba8()
}
