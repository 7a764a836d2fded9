//! The one driver of a render: a [`Job`] owns the spec, the decoded sources, the model, the
//! target cache and the stepper; it runs the stages, takes live objective changes, survives
//! numerical faults and reports what happened as [`Event`]s. The command line and the app's
//! worker both drive it one step at a time; neither keeps a loop of its own. No threads, no UI.

mod enlarge;
mod frame;
mod instant;

pub use frame::Prior;

use std::sync::Arc;

use image::{DynamicImage, GrayImage, RgbImage};

use crate::transfer::run::colour::{colours_after, colours_before};

use crate::error::{Error, Result};
use crate::imageio::{fit_long_side, resize, to_tensor};
use crate::model::{DeviceChoice, Pooling, Tap, Vgg, WeightsSource};
use crate::notice::Note;
use crate::transfer::loss::targets::{PreparedImage, TargetCache};
use crate::transfer::loss::values::Losses;
use crate::transfer::optim::Optimizer;
use crate::transfer::run::carry::carry_over;
pub use crate::transfer::run::events::{Event, Fault, MAX_FAULTS};
use crate::transfer::run::memory::{available_memory_on, fit_in_memory, stage_memory, tile_cache};
use crate::transfer::run::painter::Painter;
use crate::transfer::run::sources::SourceImages;
use crate::transfer::run::stepper::{StepReport, Stepper};
use crate::transfer::spec::options::Init;
use crate::transfer::spec::schedule::{grow, Stage};
use crate::transfer::spec::{RenderSpec, MIN_SHORT_SIDE, MIN_SIZE};

/// The loaded model, keyed by where it came from.
struct Model {
    source: WeightsSource,
    device: DeviceChoice,
    pooling: Pooling,
    deepest: Tap,
    net: Arc<Vgg>,
    /// Targets computed with this model (a new model needs a new cache).
    cache: TargetCache,
}

/// A run in progress.
struct Run {
    /// The spec as run: hashes recorded, memory adjustments made, current objective.
    spec: Arc<RenderSpec>,
    sources: Arc<SourceImages>,
    stages: Vec<Stage>,
    stage: usize,
    /// Update count at which the current stage began.
    stage_start: usize,
    done: usize,
    stepper: Stepper,
    /// The content's alpha at the current stage's size.
    alpha: Option<GrayImage>,
    faults: u32,
    paused: bool,
    last: Option<StepReport>,
    /// The result of the last finished stage, once a larger one has begun.
    kept: Option<enlarge::Kept>,
    /// Whether the run was taken on as a print: its size and stages are then its own, and the
    /// specs it is steered with (the preview's, as shown) do not change them.
    printed: bool,
}

impl Run {
    fn total(&self) -> usize {
        self.stages.iter().map(|s| s.iterations).sum()
    }

    /// Whether the current stage has run its iterations.
    fn stage_done(&self) -> bool {
        self.stages.get(self.stage).is_none_or(|s| self.done - self.stage_start >= s.iterations)
    }

    /// Whether the last stage has run its iterations.
    fn finished(&self) -> bool {
        self.stage + 1 >= self.stages.len() && self.stage_done()
    }
}

/// What [`Job::update`] did with a spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Update {
    /// There is no run to steer.
    NoRun,
    /// The spec asks for nothing new.
    Unchanged,
    /// Applied in place; the image is kept.
    Applied,
    /// The spec differs in what only a new run can change; nothing was applied.
    NeedsRestart,
}

/// A render's driver; keeps the model, sources and targets between runs so a restart is cheap.
#[derive(Default)]
pub struct Job {
    model: Option<Model>,
    sources: Option<Arc<SourceImages>>,
    run: Option<Run>,
    /// The instant look's networks, on the device they were opened for.
    painter: Option<(DeviceChoice, Arc<Painter>)>,
}

impl Job {
    /// An idle job.
    pub fn new() -> Self {
        Job::default()
    }

    /// The decoded images of `spec` (reused when they are the ones already loaded).
    pub fn sources(&mut self, spec: &RenderSpec) -> Result<Arc<SourceImages>> {
        match &self.sources {
            Some(s) if s.serve(spec) => Ok(s.clone()),
            _ => {
                let loaded = Arc::new(SourceImages::load(spec)?);
                self.sources = Some(loaded.clone());
                Ok(loaded)
            }
        }
    }

    /// Starts a run of `spec` (ending any run in progress). Returns notes for the user when
    /// the spec had to be adjusted to fit in memory, its masks deserve a word, or the instant
    /// start was not possible.
    pub fn start(&mut self, spec: RenderSpec) -> Result<Vec<Note>> {
        self.run = None;
        spec.validate()?;
        let sources = self.sources(&spec)?;
        self.start_with(spec, sources, None)
    }

    /// Starts a run of `spec` on `sources` (decoded already: a clip's frame), from `prior`
    /// when given.
    fn start_with(&mut self, spec: RenderSpec, sources: Arc<SourceImages>, prior: Option<Prior>) -> Result<Vec<Note>> {
        self.run = None;
        let sources = colours_before(spec.preserve_colors, sources);
        let spec = RenderSpec {
            content: Some(sources.content_ref.clone()),
            styles: sources.style_refs.clone(),
            init_image: sources.init.as_ref().map(|(_, r)| r.clone()).or(spec.init_image.clone()),
            ..spec
        };
        let net = self.model_for(&spec)?;
        // Refuse early what the largest stage cannot do; each stage is planned on its own when
        // it starts (tiles and a shorter history only where its size needs them), so the spec
        // keeps what was asked for.
        let plan = fit_in_memory(
            &mut spec.clone(),
            sources.content.dimensions(),
            &net.config(),
            available_memory_on(net.device()),
        )?;
        let stages = spec.stages();
        let model = self.model.as_mut().ok_or_else(|| Error::internal("no model after loading"))?;
        let first = stages.first().ok_or_else(|| Error::internal("a schedule without stages"))?;
        let mut stepper = stepper_at(model, &spec, &sources, *first)?;
        if let Some((picture, _)) = &sources.init {
            stepper.set_x(to_tensor(&resize(picture, stepper.size()), stepper.x().device())?)?;
        }
        // Without the instant look (its networks unreadable, say) the run starts from the photo
        // and says why: the optimiser does not need it.
        let mut fallback = None;
        if let Some(prior) = prior {
            prior.hold(&mut stepper, stages.len())?;
        } else if spec.run.init == Init::Instant && spec.objective.masks.is_active() {
            // The instant look paints the whole photo; where masks keep the photo, a few
            // iterations could not take the paint off again.
            fallback = Some(Note::NoInstantLook { failure: None });
        } else if spec.run.init == Init::Instant {
            match self.painter(spec.device).and_then(|p| p.paint(&sources, &spec, stepper.size())) {
                Ok(painted) => stepper.set_x(to_tensor(&painted, stepper.x().device())?)?,
                Err(e) => fallback = Some(Note::NoInstantLook { failure: Some(e.to_string()) }),
            }
        }
        let alpha = sources.content_alpha_at(stepper.size());
        let masks = spec.objective.masks.warnings(spec.styles.len(), sources.content.dimensions());
        self.run = Some(Run {
            spec: Arc::new(spec),
            sources,
            stages,
            stage: 0,
            stage_start: 0,
            done: 0,
            stepper,
            alpha,
            faults: 0,
            paused: false,
            last: None,
            kept: None,
            printed: false,
        });
        Ok(plan.notes.into_iter().chain(masks).chain(fallback).collect())
    }

    /// One iteration, or the move to the next stage when the current one is done (a call of
    /// its own, so that nothing else happens in it). A non-finite loss or update rolls back to
    /// the last finite image and restarts the optimiser (halving Adam's rate): an
    /// [`Event::Fault`]; after [`MAX_FAULTS`] in a row the run pauses with
    /// [`Error::Paused`], until [`Job::resume`]. Does nothing when there is no run, or it is
    /// paused or finished.
    pub fn step(&mut self) -> Result<Vec<Event>> {
        let mut events = Vec::new();
        match &self.run {
            Some(r) if !r.paused && !r.finished() => {
                // The stage in progress is done (or its budget was cut): move on before stepping.
                if r.stage_done() {
                    return Ok(vec![self.next_stage()?]);
                }
            }
            _ => return Ok(events),
        }
        let run = self.run.as_mut().ok_or_else(|| Error::internal("the run vanished"))?;
        let report = match run.stepper.step() {
            Ok(report) => report,
            Err(Error::NonFinite(what)) => return recover(run, format!("the {what} became infinite or NaN")),
            Err(Error::Diverged { from, to }) => {
                return recover(run, format!("the loss jumped from {from:.3e} to {to:.3e}"))
            }
            Err(e) => return Err(e),
        };
        run.faults = 0;
        events.push(Event::Stepped(StepReport { iteration: run.done, ..report.clone() }));
        run.last = Some(report);
        run.done += 1;
        if run.finished() {
            events.push(Event::Finished);
        }
        // A finished stage moves on at the next call, so that its last image can be shown and
        // saved first.
        Ok(events)
    }

    /// Steers the render toward `spec`. What a run can take in place (whatever
    /// [`RenderSpec::needs_restart`] sets aside: the loss weights and style measure, the
    /// iteration budget, luminance-only colour keeping, the instant look's strength) is applied,
    /// the image kept; a spec that differs in anything else is left alone and answered with
    /// [`Update::NeedsRestart`]. A larger budget lets a finished run go on; a budget already
    /// spent finishes it. A print keeps its own size and stages (the spec it is steered with is
    /// the preview's), also once it has ended or was cancelled.
    pub fn update(&mut self, spec: &RenderSpec) -> Result<Update> {
        let (Some(run), Some(model)) = (self.run.as_mut(), self.model.as_mut()) else { return Ok(Update::NoRun) };
        let print;
        let spec = if run.printed {
            print = RenderSpec { size: run.spec.size, schedule: run.spec.schedule.clone(), ..spec.clone() };
            &print
        } else {
            spec
        };
        if run.spec.needs_restart(spec) {
            return Ok(Update::NeedsRestart);
        }
        let before = Arc::clone(&run.spec);
        if spec.objective != before.objective {
            run.stepper.set_objective(spec.objective.clone(), &mut model.cache)?;
        }
        run.stepper.set_average(spec.run.average)?;
        // The specs differ only where a run takes changes in place (`RenderSpec::needs_restart`)
        // and in the images' recorded hashes: the run takes the new spec and keeps its hashes.
        let ran = Arc::make_mut(&mut run.spec);
        *ran = RenderSpec {
            content: before.content.clone(),
            styles: before.styles.clone(),
            init_image: before.init_image.clone(),
            ..spec.clone()
        };
        if ran.schedule.iterations != before.schedule.iterations {
            run.stages = ran.stages();
        }
        Ok(if *ran == *before { Update::Unchanged } else { Update::Applied })
    }

    /// Replaces the current image with `rgb`, resized (bicubic) to the current stage's size; the
    /// optimiser starts afresh from it. Used to score any image under a spec, and to go on from
    /// an image made elsewhere.
    pub fn set_image(&mut self, rgb: &RgbImage) -> Result<()> {
        let run = self.run.as_mut().ok_or_else(|| Error::internal("the job has no run"))?;
        let size = run.stepper.size();
        let x = to_tensor(&resize(rgb, size), run.stepper.x().device())?;
        run.stepper.set_x(x)
    }

    /// Lets a paused run go on (the fault count starts again).
    pub fn resume(&mut self) {
        if let Some(run) = self.run.as_mut() {
            run.paused = false;
            run.faults = 0;
        }
    }

    /// Whether a run exists.
    pub fn has_run(&self) -> bool {
        self.run.is_some()
    }

    /// Whether the run is paused after repeated faults.
    pub fn is_paused(&self) -> bool {
        self.run.as_ref().is_some_and(|r| r.paused)
    }

    /// Whether the run has spent its budget (true when there is no run).
    pub fn is_finished(&self) -> bool {
        self.run.as_ref().is_none_or(Run::finished)
    }

    /// Updates applied, over all stages.
    pub fn done(&self) -> usize {
        self.run.as_ref().map_or(0, |r| r.done)
    }

    /// Updates the run will apply in all.
    pub fn total(&self) -> usize {
        self.run.as_ref().map_or(0, Run::total)
    }

    /// The stages of the run, and the index of the current one.
    pub fn stages(&self) -> (&[Stage], usize) {
        self.run.as_ref().map_or((&[], 0), |r| (&r.stages, r.stage))
    }

    /// Long side of the current stage, in pixels (0 without a run).
    pub fn stage_size(&self) -> u32 {
        self.run.as_ref().and_then(|r| r.stages.get(r.stage)).map_or(0, |s| s.size)
    }

    /// The spec as run (hashes recorded, the current objective), to store with outputs.
    pub fn spec(&self) -> Option<&Arc<RenderSpec>> {
        self.run.as_ref().map(|r| &r.spec)
    }

    /// The report of the last successful step.
    pub fn last_report(&self) -> Option<&StepReport> {
        self.run.as_ref().and_then(|r| r.last.as_ref())
    }

    /// The model in use.
    pub fn net(&self) -> Option<&Arc<Vgg>> {
        self.model.as_ref().map(|m| &m.net)
    }

    /// The optimised image, RGB8, at the current stage's size (before any colour post-process).
    pub fn image(&self) -> Result<RgbImage> {
        self.current()?.stepper.image()
    }

    /// The current image as it is saved: with the photo's chroma when luminance-only colours
    /// are on, and the content's alpha when it has one.
    pub fn output(&self) -> Result<DynamicImage> {
        let run = self.current()?;
        let rgb = colours_after(run.spec.preserve_colors, run.stepper.image()?, &run.stepper.content().rgb);
        Ok(match &run.alpha {
            Some(alpha) => DynamicImage::ImageRgba8(crate::imageio::attach_alpha(&rgb, alpha)),
            None => DynamicImage::ImageRgb8(rgb),
        })
    }

    /// The content photo at the current stage's size.
    pub fn content(&self) -> Result<&RgbImage> {
        Ok(&self.current()?.stepper.content().rgb)
    }

    /// Losses at the current image (a forward pass).
    pub fn losses(&self) -> Result<Losses> {
        self.current()?.stepper.losses()
    }

    fn current(&self) -> Result<&Run> {
        self.run.as_ref().ok_or_else(|| Error::internal("the job has no run"))
    }

    /// Moves to the next (larger) stage, warm-started from the upscaled current image and
    /// keeping the objective in force.
    fn next_stage(&mut self) -> Result<Event> {
        let (Some(run), Some(model)) = (self.run.as_mut(), self.model.as_mut()) else {
            return Err(Error::internal("no run to continue"));
        };
        let next = *run.stages.get(run.stage + 1).ok_or_else(|| Error::internal("no next stage"))?;
        let size = next.size;
        let mut stepper = stepper_at(model, &run.spec, &run.sources, next)?;
        carry_over(&run.stepper, &mut stepper)?;
        run.kept = Some(enlarge::Kept::of(run)?);
        run.alpha = run.sources.content_alpha_at(stepper.size());
        run.stepper = stepper;
        run.stage += 1;
        run.stage_start = run.done;
        Ok(Event::StageChanged { index: run.stage, size })
    }

    /// The model `spec` names, loaded once per (weights, device, depth, pooling).
    fn model_for(&mut self, spec: &RenderSpec) -> Result<Arc<Vgg>> {
        let deepest = spec.objective.taps().into_iter().max().unwrap_or(Tap::new(5, 1)).max(Tap::new(5, 1));
        let fresh = self.model.as_ref().is_none_or(|m| {
            m.source != spec.model || m.device != spec.device || m.pooling != spec.pooling || m.deepest < deepest
        });
        if fresh {
            self.model = None;
            let mut net = spec.model.load(deepest, &spec.device.open()?)?;
            net.set_pooling(spec.pooling);
            let net = Arc::new(net);
            self.model = Some(Model {
                source: spec.model.clone(),
                device: spec.device,
                pooling: spec.pooling,
                deepest,
                net,
                cache: TargetCache::new(),
            });
        }
        self.model.as_ref().map(|m| m.net.clone()).ok_or_else(|| Error::internal("no model after loading"))
    }
}

/// A stepper for `spec`'s `stage`, reusing targets from the model's cache. Its L-BFGS history
/// is no longer than the stage's iterations (it could not fill more), which leaves the memory
/// plan room for larger tiles; a stage steered longer keeps that history.
fn stepper_at(model: &mut Model, spec: &RenderSpec, sources: &SourceImages, stage: Stage) -> Result<Stepper> {
    let net = model.net.clone();
    let size = stage.size;
    let mut at = RenderSpec { size, ..spec.clone() };
    at.run.history = at.run.history.min(stage.iterations.max(1));
    let available = stage_memory(spec, sources.content.dimensions(), &net.config(), available_memory_on(net.device()));
    let plan = fit_in_memory(&mut at, sources.content.dimensions(), &net.config(), available)?;
    let dims = workable_size("content image", sources.content.dimensions(), size)?;
    let content = PreparedImage::new(resize(&sources.content, dims), &net)?;
    let style_side = ((f64::from(size) * spec.style_scale).round() as u32).max(MIN_SIZE);
    let styles = sources
        .styles
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let dims = workable_size(&format!("style image {}", i + 1), s.dimensions(), style_side)?;
            PreparedImage::new(resize(s, dims), &net)
        })
        .collect::<Result<Vec<_>>>()?;
    let mut stepper = Stepper::new(net, content, styles, spec.objective.clone(), &at.run, &mut model.cache)?;
    stepper.set_tile_cache(tile_cache(&plan, available));
    Ok(stepper)
}

/// After a non-finite step (the stepper kept its last finite image): restart the optimiser more
/// gently, and pause after [`MAX_FAULTS`] in a row.
fn recover(run: &mut Run, problem: String) -> Result<Vec<Event>> {
    run.faults += 1;
    let optimizer = run.stepper.optimizer_mut();
    optimizer.reset();
    let new_lr = match optimizer {
        Optimizer::Adam(adam, _) => {
            let lr = adam.lr() * 0.5;
            adam.set_lr(lr);
            Some(lr)
        }
        Optimizer::Lbfgs(_) => None,
    };
    let fault = Fault { iteration: run.done + 1, problem, in_a_row: run.faults, new_lr };
    run.paused = run.faults >= MAX_FAULTS;
    if run.paused {
        return Err(Error::Paused(fault));
    }
    Ok(vec![Event::Fault(fault)])
}

/// Size of an image fitted to `long_side`; refused when its short side would be too thin for the
/// network's 16x downsampling (small images are simply upscaled).
fn workable_size(what: &str, dims: (u32, u32), long_side: u32) -> Result<(u32, u32)> {
    let fitted = fit_long_side(dims, long_side);
    if fitted.0.min(fitted.1) < MIN_SHORT_SIDE {
        return Err(Error::invalid(format!(
            "the {what} is {}x{} pixels: at {long_side} px its short side would be {} px, and the network \
             needs at least {MIN_SHORT_SIDE}; crop it to a less elongated shape or use a larger size",
            dims.0,
            dims.1,
            fitted.0.min(fitted.1)
        )));
    }
    Ok(fitted)
}
