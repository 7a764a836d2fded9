//! The iteration loop as a resumable stepper: each `step` evaluates the loss and its gradient at
//! the current image and lets the optimiser move it. The objective can be swapped between steps
//! and the image replaced (to resume from any state); no threads, no UI.

use std::sync::Arc;
use std::time::Instant;

use candle_core::Tensor;
use image::RgbImage;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

use crate::error::{Error, Result};
use crate::imageio::{from_tensor, resize, to_tensor};
use crate::model::Vgg;
use crate::transfer::loss::targets::{PreparedImage, TargetCache, TargetRequest, Targets, Temporal};
use crate::transfer::loss::tiles::evaluate_tiled;
use crate::transfer::loss::values::{evaluate_timed, Losses, PhaseTimes};
use crate::transfer::optim::average::Average;
use crate::transfer::optim::bounds::Bounds;
use crate::transfer::optim::Optimizer;
use crate::transfer::spec::objective::Objective;
use crate::transfer::spec::options::{Init, RunSettings};

/// A loss this many times the last one is a fault for an optimiser without a line search.
const JUMP: f64 = 100.0;

/// What one step measured. Each step is one evaluation of the loss and its gradient; the
/// report gives the losses of the current image (the one shown), which is the evaluated image
/// unless the line search rejected it. A run that shows the average of its iterates reports the
/// latest iterate's losses (scoring the average would cost another forward pass each step);
/// [`Stepper::losses`] scores the average.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StepReport {
    /// Evaluations before this one.
    pub iteration: usize,
    /// Losses at the current image.
    pub losses: Losses,
    /// Whether the evaluated image became the current one (false: the line search stepped
    /// back and the image is unchanged).
    pub accepted: bool,
    /// Wall time of the step (evaluation, gradient and update).
    pub seconds: f64,
    /// Where the evaluation's time went (the optimiser update is the rest of `seconds`).
    pub phases: PhaseTimes,
}

/// The optimisation state of one run.
pub struct Stepper {
    net: Arc<Vgg>,
    content: PreparedImage,
    styles: Vec<PreparedImage>,
    objective: Objective,
    targets: Targets,
    optimizer: Optimizer,
    /// The current image: the last one accepted, or the average of those accepted (shown,
    /// exported, carried to the next stage).
    x: Tensor,
    /// Its losses under the current objective, once evaluated.
    current: Option<Losses>,
    /// The next image to evaluate, proposed by the optimiser; a fault drops it.
    trial: Option<Tensor>,
    /// The box the image is kept in, unless the run is unbounded.
    bounds: Option<Bounds>,
    /// The running average of the iterates, shown as the current image when the run asks.
    average: Option<Average>,
    iteration: usize,
    tile: Option<usize>,
    /// Bytes tiled evaluations may spend keeping tiles' activations between their passes.
    tile_cache: u64,
}

impl Stepper {
    /// Prepares a run: computes (or reuses) targets and the initial image.
    pub fn new(
        net: Arc<Vgg>,
        content: PreparedImage,
        styles: Vec<PreparedImage>,
        objective: Objective,
        settings: &RunSettings,
        cache: &mut TargetCache,
    ) -> Result<Self> {
        if !(settings.lr.is_finite() && settings.lr > 0.0) {
            return Err(Error::invalid(format!("learning rate must be > 0, got {}", settings.lr)));
        }
        objective.validate(styles.len())?;
        if settings.tile.is_some_and(|t| t < 16) {
            return Err(Error::invalid("tiles must be at least 16 pixels"));
        }
        let tile = settings.tile.map(|t| t as usize);
        let average = if settings.average == 0.0 { None } else { Some(Average::new(settings.average)?) };
        let targets = Targets::new(&net, &content, &styles, &request(&objective, tile), cache)?;
        let bounds = if settings.unbounded { None } else { Some(Bounds::displayable(net.device())?) };
        let mut x = initial_image(&net, &content, &styles, settings)?;
        if let Some(b) = &bounds {
            x = b.project(&x)?;
        }
        let optimizer = Optimizer::new(settings.optimizer, settings.lr, settings.history, bounds.clone());
        Ok(Stepper {
            net,
            content,
            styles,
            objective,
            targets,
            optimizer,
            x,
            current: None,
            trial: None,
            bounds,
            average,
            iteration: 0,
            tile,
            tile_cache: 0,
        })
    }

    /// One iteration: evaluate the loss and gradient at the optimiser's proposal (the current
    /// image at first) and let the optimiser propose the next. A proposal whose loss is not
    /// finite (or, without a line search, jumps [`JUMP`]-fold) is dropped and the current image
    /// kept: [`Error::NonFinite`] or [`Error::Diverged`] is returned and the optimiser should be
    /// reset. A line search steps back from such a proposal by itself.
    pub fn step(&mut self) -> Result<StepReport> {
        let start = Instant::now();
        let point = self.trial.take().unwrap_or_else(|| self.x.clone());
        let (losses, grad, phases) = match self.evaluate(&point, true) {
            Err(Error::NonFinite(what)) => match self.optimizer.reject()? {
                Some(next) => {
                    self.trial = Some(next);
                    return self.unchanged(start, PhaseTimes::default());
                }
                None => return Err(Error::NonFinite(what)),
            },
            evaluated => evaluated?,
        };
        if self.objective.normalize_gradients {
            // Normalised gradients: the divisors measured where the optimiser (re)starts are
            // held until it starts again, so that it minimises one fixed function.
            let mut held = self.targets.held_divisors().cloned().unwrap_or_default();
            if held.absorb(&losses.divisors()) {
                self.targets.hold_divisors(Some(held));
            }
        }
        if let Some(current) = &self.current {
            if !self.optimizer.searches() && losses.total > JUMP * current.total {
                return Err(Error::Diverged { from: current.total, to: losses.total });
            }
        }
        let grad = grad.ok_or_else(|| Error::internal("no gradient"))?;
        let proposal = self.optimizer.step(&point, losses.total, &grad)?;
        // One reduction over the image: negligible next to the network, and it guarantees the
        // stepper never holds an image it cannot show or resume from.
        if !proposal.next.abs()?.sum_all()?.to_scalar::<f32>()?.is_finite() {
            return Err(Error::NonFinite("update"));
        }
        self.trial = Some(proposal.next);
        if !proposal.accepted {
            return self.unchanged(start, phases);
        }
        self.x = match &mut self.average {
            Some(average) => average.add(&point)?,
            None => point,
        };
        self.current = Some(losses.clone());
        let report = StepReport { iteration: self.iteration, losses, accepted: true, seconds: 0.0, phases };
        self.iteration += 1;
        Ok(StepReport { seconds: start.elapsed().as_secs_f64(), ..report })
    }

    /// The report of a step whose proposal was rejected: the current image and its losses.
    fn unchanged(&mut self, start: Instant, phases: PhaseTimes) -> Result<StepReport> {
        let losses = self.current.clone().ok_or_else(|| Error::internal("a rejected step before any evaluation"))?;
        let report = StepReport { iteration: self.iteration, losses, accepted: false, seconds: 0.0, phases };
        self.iteration += 1;
        Ok(StepReport { seconds: start.elapsed().as_secs_f64(), ..report })
    }

    /// Lets tiled evaluations keep tiles' activations from their first pass to their second in up
    /// to `bytes` (see [`crate::transfer::run::memory::tile_cache`]); the default is none beyond the last tile's.
    pub fn set_tile_cache(&mut self, bytes: u64) {
        self.tile_cache = bytes;
    }

    /// Losses at the current image (forward pass only).
    pub fn losses(&self) -> Result<Losses> {
        Ok(self.evaluate(&self.x, false)?.0)
    }

    /// The losses (and gradient) at `x`, whole or in tiles.
    fn evaluate(&self, x: &Tensor, want_grad: bool) -> Result<(Losses, Option<Tensor>, PhaseTimes)> {
        match self.tile {
            Some(tile) => {
                evaluate_tiled(&self.net, x, &self.objective, &self.targets, tile, want_grad, self.tile_cache)
            }
            None => evaluate_timed(&self.net, x, &self.objective, &self.targets, want_grad),
        }
    }

    /// Replaces the objective in place: the image is kept, the optimiser's history is reset
    /// (its curvature or moments describe the old function). Missing targets come from `cache`.
    pub fn set_objective(&mut self, objective: Objective, cache: &mut TargetCache) -> Result<()> {
        if objective == self.objective {
            return Ok(());
        }
        objective.validate(self.styles.len())?;
        let request = request(&objective, self.tile);
        if request.same_targets(&self::request(&self.objective, self.tile)) {
            if objective.style_blend != self.objective.style_blend || objective.masks != self.objective.masks {
                self.targets.retarget(&objective.style_blend, &objective.masks)?;
            }
        } else {
            let temporal = self.targets.temporal.take();
            self.targets = Targets::new(&self.net, &self.content, &self.styles, &request, cache)?;
            self.targets.temporal = temporal;
        }
        self.objective = objective;
        self.forget();
        Ok(())
    }

    /// Holds the image to a clip's previous frame, warped (`None`: a still picture). The
    /// optimiser starts afresh: the function changed.
    pub fn set_temporal(&mut self, temporal: Option<Temporal>) {
        self.targets.temporal = temporal;
        self.forget();
    }

    /// The run's targets.
    pub fn targets(&self) -> &Targets {
        &self.targets
    }

    /// The current objective.
    pub fn objective(&self) -> &Objective {
        &self.objective
    }

    /// Starts the optimisation afresh from the current image: the optimiser's state, its
    /// proposal and the current losses belong to the old objective or image.
    fn forget(&mut self) {
        self.optimizer.reset();
        self.targets.hold_divisors(None);
        if let Some(average) = &mut self.average {
            average.reset();
        }
        self.trial = None;
        self.current = None;
    }

    /// Shows the running average of the iterates with this decay from the next step on (0: the
    /// latest iterate); the optimiser goes on as it was.
    pub fn set_average(&mut self, decay: f64) -> Result<()> {
        if decay != self.average.as_ref().map_or(0.0, Average::decay) {
            self.average = if decay == 0.0 { None } else { Some(Average::new(decay)?) };
        }
        Ok(())
    }

    /// The optimiser (e.g. to lower Adam's learning rate).
    pub fn optimizer_mut(&mut self) -> &mut Optimizer {
        &mut self.optimizer
    }

    /// Updates applied so far.
    pub fn iteration(&self) -> usize {
        self.iteration
    }

    /// The current normalised image, (1, 3, H, W): the last one accepted.
    pub fn x(&self) -> &Tensor {
        &self.x
    }

    /// Resumes from another image of the same size (normalised); resets the optimiser.
    pub fn set_x(&mut self, x: Tensor) -> Result<()> {
        if x.dims() != self.x.dims() {
            return Err(Error::internal(format!("image of shape {:?}, expected {:?}", x.dims(), self.x.dims())));
        }
        self.x = match &self.bounds {
            Some(b) => b.project(&x)?,
            None => x,
        };
        self.forget();
        Ok(())
    }

    /// The current image as RGB8.
    pub fn image(&self) -> Result<RgbImage> {
        from_tensor(&self.x)
    }

    /// (width, height) of the image being optimised.
    pub fn size(&self) -> (u32, u32) {
        self.content.size()
    }

    /// The content image at the run's size.
    pub fn content(&self) -> &PreparedImage {
        &self.content
    }
}

/// The targets `objective` needs, computed in tiles when the run is tiled.
fn request(objective: &Objective, tile: Option<usize>) -> TargetRequest {
    TargetRequest { tile, ..TargetRequest::of(objective) }
}

fn initial_image(
    net: &Vgg,
    content: &PreparedImage,
    styles: &[PreparedImage],
    settings: &RunSettings,
) -> Result<Tensor> {
    let (w, h) = content.size();
    match settings.init {
        // The job replaces it with the chosen or painted picture, which the stepper does not
        // hold.
        Init::Content | Init::Image | Init::Instant => Ok(content.tensor.clone()),
        Init::Style => {
            let style = styles.first().ok_or_else(|| Error::internal("style init needs a style image"))?;
            to_tensor(&resize(&style.rgb, (w, h)), net.device())
        }
        Init::Noise => noise(settings.seed, (w, h), 1.0, net),
        Init::Grey => noise(settings.seed, (w, h), GREY_NOISE, net),
    }
}

/// Standard deviation of [`Init::Grey`]'s noise in normalised units (about 0.06 of a level in 8
/// bits): enough to break the symmetry of a flat picture, too little to see.
const GREY_NOISE: f32 = 1e-3;

/// Seeded Gaussian noise of standard deviation `std` around 0 (the mean colour), (1, 3, h, w).
fn noise(seed: u64, (w, h): (u32, u32), std: f32, net: &Vgg) -> Result<Tensor> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let n = 3 * w as usize * h as usize;
    let v: Vec<f32> = (0..n)
        .map(|_| {
            let z: f32 = StandardNormal.sample(&mut rng);
            std * z
        })
        .collect();
    Ok(Tensor::from_vec(v, (1, 3, h as usize, w as usize), net.device())?)
}
