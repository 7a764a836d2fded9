//! The iteration loop as a resumable stepper: each `step` evaluates the loss and its gradient at
//! the current image and lets the optimiser move it. The objective can be swapped between steps
//! and the image replaced (to resume from any state); no threads, no UI.

use std::sync::Arc;
use std::time::Instant;

use candle_core::Tensor;
use image::RgbImage;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

use super::objective::{evaluate_timed, Losses, Objective, PhaseTimes};
use super::optimizer::{Optimizer, OptimizerKind};
use super::targets::{PreparedImage, TargetCache, TargetRequest, Targets};
use super::tiles::evaluate_tiled;
use crate::error::{Error, Result};
use crate::imageio::{from_tensor, resize, to_tensor};
use crate::model::Vgg;

/// How the optimised image starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Init {
    /// The content image (the default: fastest to a good result).
    Content,
    /// Seeded Gaussian noise in normalised space.
    Noise,
    /// The (first) style image, resized to the content size.
    Style,
    /// A picture of the artist's choosing (`RenderSpec::init_image`), resized to the content
    /// size: an earlier render to go on from, or a sketch.
    Image,
}

/// Settings fixed for the life of a stepper (changing them means a new one).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct RunSettings {
    /// Optimiser.
    pub optimizer: OptimizerKind,
    /// Learning rate (L-BFGS step scale or Adam's lr).
    pub lr: f64,
    /// L-BFGS memory.
    pub history: usize,
    /// Initial image.
    pub init: Init,
    /// Seed for noise initialisation.
    pub seed: u64,
    /// Evaluate in tiles of this side (pixels, rounded up to the pooling grid) to bound memory;
    /// `None`: the whole image at once. The results are the same either way.
    pub tile: Option<u32>,
}

impl Default for RunSettings {
    fn default() -> Self {
        RunSettings { optimizer: OptimizerKind::Lbfgs, lr: 1.0, history: 100, init: Init::Content, seed: 0, tile: None }
    }
}

/// What one step measured: the losses at the image after `iteration` updates.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StepReport {
    /// Updates applied before this evaluation.
    pub iteration: usize,
    /// Losses at that image.
    pub losses: Losses,
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
    x: Tensor,
    /// The image before the last update: its loss was finite, so a fault rolls back to it.
    previous: Option<Tensor>,
    iteration: usize,
    tile: Option<usize>,
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
        let targets = Targets::new(&net, &content, &styles, &request(&objective, tile), cache)?;
        let x = initial_image(&net, &content, &styles, settings)?;
        let optimizer = Optimizer::new(settings.optimizer, settings.lr, settings.history);
        Ok(Stepper { net, content, styles, objective, targets, optimizer, x, previous: None, iteration: 0, tile })
    }

    /// One iteration: evaluate at the current image, then update it. On a non-finite loss the
    /// image rolls back to the last one whose loss was finite; on a non-finite update it stays.
    /// Either way [`Error::NonFinite`] is returned and the optimiser should be reset.
    pub fn step(&mut self) -> Result<StepReport> {
        let start = Instant::now();
        let evaluated = self.evaluate(true);
        if let (Err(Error::NonFinite(_)), Some(previous)) = (&evaluated, self.previous.take()) {
            self.x = previous;
        }
        let (losses, grad, phases) = evaluated?;
        let grad = grad.ok_or_else(|| Error::internal("no gradient"))?;
        let next = self.optimizer.step(&self.x, &grad)?;
        // One reduction over the image: negligible next to the network, and it guarantees the
        // stepper never holds an image it cannot show or resume from.
        if !next.abs()?.sum_all()?.to_scalar::<f32>()?.is_finite() {
            return Err(Error::NonFinite("update"));
        }
        let report = StepReport { iteration: self.iteration, losses, seconds: 0.0, phases };
        self.previous = Some(std::mem::replace(&mut self.x, next));
        self.iteration += 1;
        Ok(StepReport { seconds: start.elapsed().as_secs_f64(), ..report })
    }

    /// Losses at the current image (forward pass only).
    pub fn losses(&self) -> Result<Losses> {
        Ok(self.evaluate(false)?.0)
    }

    /// The losses (and gradient) at the current image, whole or in tiles.
    fn evaluate(&self, want_grad: bool) -> Result<(Losses, Option<Tensor>, PhaseTimes)> {
        match self.tile {
            Some(tile) => evaluate_tiled(&self.net, &self.x, &self.objective, &self.targets, tile, want_grad),
            None => evaluate_timed(&self.net, &self.x, &self.objective, &self.targets, want_grad),
        }
    }

    /// Replaces the objective in place: the image is kept, the optimiser's history is reset
    /// (its curvature or moments describe the old function). Missing targets come from `cache`.
    pub fn set_objective(&mut self, objective: Objective, cache: &mut TargetCache) -> Result<()> {
        if objective == self.objective {
            return Ok(());
        }
        objective.validate(self.styles.len())?;
        let same_layers = objective.content_tap == self.objective.content_tap
            && objective.style_layers.iter().map(|l| l.0).eq(self.objective.style_layers.iter().map(|l| l.0));
        if same_layers {
            if objective.style_blend != self.objective.style_blend {
                self.targets.reblend(&objective.style_blend)?;
            }
        } else {
            let request = request(&objective, self.tile);
            self.targets = Targets::new(&self.net, &self.content, &self.styles, &request, cache)?;
        }
        self.objective = objective;
        self.optimizer.reset();
        Ok(())
    }

    /// The run's targets.
    pub fn targets(&self) -> &Targets {
        &self.targets
    }

    /// The current objective.
    pub fn objective(&self) -> &Objective {
        &self.objective
    }

    /// The optimiser (e.g. to lower Adam's learning rate).
    pub fn optimizer_mut(&mut self) -> &mut Optimizer {
        &mut self.optimizer
    }

    /// Updates applied so far.
    pub fn iteration(&self) -> usize {
        self.iteration
    }

    /// The current normalised image, (1, 3, H, W).
    pub fn x(&self) -> &Tensor {
        &self.x
    }

    /// Resumes from another image of the same size (normalised); resets the optimiser.
    pub fn set_x(&mut self, x: Tensor) -> Result<()> {
        if x.dims() != self.x.dims() {
            return Err(Error::internal(format!("image of shape {:?}, expected {:?}", x.dims(), self.x.dims())));
        }
        self.x = x;
        self.previous = None;
        self.optimizer.reset();
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
    TargetRequest { tile, ..objective.target_request() }
}

fn initial_image(
    net: &Vgg,
    content: &PreparedImage,
    styles: &[PreparedImage],
    settings: &RunSettings,
) -> Result<Tensor> {
    let (w, h) = content.size();
    match settings.init {
        // The job replaces it with the chosen picture, which the stepper does not hold.
        Init::Content | Init::Image => Ok(content.tensor.clone()),
        Init::Style => {
            let style = styles.first().ok_or_else(|| Error::internal("style init needs a style image"))?;
            to_tensor(&resize(&style.rgb, (w, h)), net.device())
        }
        Init::Noise => {
            let mut rng = rand::rngs::StdRng::seed_from_u64(settings.seed);
            let n = 3 * w as usize * h as usize;
            let v: Vec<f32> = (0..n).map(|_| StandardNormal.sample(&mut rng)).collect();
            Ok(Tensor::from_vec(v, (1, 3, h as usize, w as usize), net.device())?)
        }
    }
}
