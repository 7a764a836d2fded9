//! Command-line interface: `render` (headless batch render); without a subcommand the app opens
//! with any settings given on the command line.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use neural_style_studio::app::{Settings, StyleEntry};
use neural_style_studio::model::{Tap, WeightsSource};
use neural_style_studio::transfer::{Init, Objective, OptimizerKind, RenderSpec, RunSettings};

/// Neural style transfer: blend the content of one picture with the style of another.
#[derive(Debug, Parser)]
#[command(name = "neural-style-studio", version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do; without one the app opens.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Settings to open the app with.
    #[command(flatten)]
    pub app: AppArgs,
}

/// Options of the app's own command line: anything given replaces the remembered setting.
#[derive(Debug, Clone, Default, Args)]
pub struct AppArgs {
    /// Content image to load.
    #[arg(long)]
    pub content: Option<PathBuf>,
    /// Style image(s) to load.
    #[arg(long)]
    pub style: Vec<PathBuf>,
    /// Blend weights of the style images.
    #[arg(long, value_delimiter = ',')]
    pub style_blend: Vec<f64>,
    /// Long side of the output, in pixels.
    #[arg(long)]
    pub size: Option<u32>,
    /// Iterations per run.
    #[arg(long)]
    pub iters: Option<usize>,
    /// Weight of the content loss.
    #[arg(long)]
    pub content_weight: Option<f64>,
    /// Weight of the style loss.
    #[arg(long)]
    pub style_weight: Option<f64>,
    /// Weight of the total-variation loss.
    #[arg(long)]
    pub tv_weight: Option<f64>,
    /// Optimiser.
    #[arg(long, value_enum)]
    pub optimizer: Option<OptimizerArg>,
    /// Initial image.
    #[arg(long, value_enum)]
    pub init: Option<InitArg>,
    /// Seed for noise initialisation.
    #[arg(long)]
    pub seed: Option<u64>,
    /// VGG weights (safetensors).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Start rendering as soon as the window opens.
    #[arg(long)]
    pub start: bool,
}

impl AppArgs {
    /// Applies the given options over `base` (the remembered settings); None if nothing given.
    pub fn apply(&self, base: Option<Settings>) -> Option<Settings> {
        let given = self.content.is_some()
            || !self.style.is_empty()
            || self.size.is_some()
            || self.iters.is_some()
            || self.content_weight.is_some()
            || self.style_weight.is_some()
            || self.tv_weight.is_some()
            || self.optimizer.is_some()
            || self.init.is_some()
            || self.seed.is_some()
            || self.weights.is_some();
        if !given {
            return None;
        }
        let mut s = base.unwrap_or_default();
        if let Some(c) = &self.content {
            s.content = Some(c.clone());
        }
        if !self.style.is_empty() {
            s.styles = self
                .style
                .iter()
                .enumerate()
                .map(|(i, p)| StyleEntry { path: p.clone(), blend: self.style_blend.get(i).copied().unwrap_or(1.0) })
                .collect();
        }
        s.size = self.size.unwrap_or(s.size);
        s.iterations = self.iters.unwrap_or(s.iterations);
        s.content_weight = self.content_weight.unwrap_or(s.content_weight);
        s.style_weight = self.style_weight.unwrap_or(s.style_weight);
        s.tv_weight = self.tv_weight.unwrap_or(s.tv_weight);
        if let Some(o) = self.optimizer {
            s.optimizer = o.into();
            s.lr = s.optimizer.default_lr();
        }
        if let Some(i) = self.init {
            s.init = i.into();
        }
        s.seed = self.seed.unwrap_or(s.seed);
        if self.weights.is_some() {
            s.weights = self.weights.clone();
        }
        Some(s)
    }
}

impl From<OptimizerArg> for OptimizerKind {
    fn from(o: OptimizerArg) -> Self {
        match o {
            OptimizerArg::Lbfgs => OptimizerKind::Lbfgs,
            OptimizerArg::Adam => OptimizerKind::Adam,
        }
    }
}

impl From<InitArg> for Init {
    fn from(i: InitArg) -> Self {
        match i {
            InitArg::Content => Init::Content,
            InitArg::Noise => Init::Noise,
            InitArg::Style => Init::Style,
        }
    }
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render a stylised image headlessly.
    Render(RenderArgs),
    /// Measure seconds per iteration, GFLOP/s and memory of the engine.
    Bench(crate::bench::BenchArgs),
}

/// Optimiser choice on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OptimizerArg {
    /// L-BFGS, history 100, no line search.
    Lbfgs,
    /// Adam.
    Adam,
}

/// Initial image choice on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum InitArg {
    /// Start from the content photo.
    Content,
    /// Start from seeded noise.
    Noise,
    /// Start from the first style image.
    Style,
}

/// Settings shared by `render` and (later) the app's own command line.
#[derive(Debug, Clone, Args)]
pub struct SettingsArgs {
    /// Content image (JPEG, PNG, WebP, GIF, BMP, TIFF).
    #[arg(long)]
    pub content: PathBuf,
    /// Style image; repeat for several styles.
    #[arg(long, required = true)]
    pub style: Vec<PathBuf>,
    /// Blend weights of the style images, comma-separated (default: equal).
    #[arg(long, value_delimiter = ',')]
    pub style_blend: Vec<f64>,
    /// Long side of the output, in pixels.
    #[arg(long, default_value_t = 512)]
    pub size: u32,
    /// Style images are resized to size x this on their long side.
    #[arg(long, default_value_t = 1.0)]
    pub style_scale: f64,
    /// Weight of the content loss.
    #[arg(long, default_value_t = 1.0)]
    pub content_weight: f64,
    /// Weight of the style loss.
    #[arg(long, default_value_t = 100.0)]
    pub style_weight: f64,
    /// Weight of the total-variation loss.
    #[arg(long, default_value_t = 0.0)]
    pub tv_weight: f64,
    /// Per-layer style weights for relu1_1,relu2_1,relu3_1,relu4_1,relu5_1.
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub style_layer_weights: Vec<f64>,
    /// Optimiser.
    #[arg(long, value_enum, default_value_t = OptimizerArg::Lbfgs)]
    pub optimizer: OptimizerArg,
    /// Learning rate (default: 1 for L-BFGS, 0.02 for Adam).
    #[arg(long)]
    pub lr: Option<f64>,
    /// L-BFGS history length.
    #[arg(long, default_value_t = 100)]
    pub history: usize,
    /// Initial image.
    #[arg(long, value_enum, default_value_t = InitArg::Content)]
    pub init: InitArg,
    /// Seed for noise initialisation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// VGG16/VGG19 weights as safetensors in torchvision layout (default: the embedded VGG16).
    #[arg(long)]
    pub weights: Option<PathBuf>,
}

/// Arguments of `render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// Number of iterations.
    #[arg(long, default_value_t = 300)]
    pub iters: usize,
    /// Output PNG.
    #[arg(long, default_value = "out.png")]
    pub out: PathBuf,
    /// Also write the image every N iterations (out_0100.png ...).
    #[arg(long)]
    pub save_every: Option<usize>,
    /// Write the loss of every iteration as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Coarse-to-fine stages: each stage doubles the size up to --size, warm-started from the
    /// previous one; the full-size stage runs half of --iters, each smaller one as many.
    /// 1 = single scale, exactly --iters at full size (the classic behaviour).
    #[arg(long, default_value_t = 1)]
    pub scales: usize,
}

impl SettingsArgs {
    /// The engine's render description.
    pub fn to_spec(&self) -> Result<RenderSpec> {
        let mut objective = Objective {
            content_weight: self.content_weight,
            style_weight: self.style_weight,
            tv_weight: self.tv_weight,
            style_blend: if self.style_blend.is_empty() {
                vec![1.0; self.style.len()]
            } else {
                self.style_blend.clone()
            },
            ..Objective::default()
        };
        if !self.style_layer_weights.is_empty() {
            if self.style_layer_weights.len() != objective.style_layers.len() {
                bail!("--style-layer-weights needs {} values (relu1_1 .. relu5_1)", objective.style_layers.len());
            }
            for (layer, &w) in objective.style_layers.iter_mut().zip(&self.style_layer_weights) {
                layer.1 = w;
            }
        }
        let optimizer = OptimizerKind::from(self.optimizer);
        let init = Init::from(self.init);
        let spec = RenderSpec {
            content: self.content.clone(),
            styles: self.style.clone(),
            size: self.size,
            style_scale: self.style_scale,
            objective,
            run: RunSettings {
                optimizer,
                lr: self.lr.unwrap_or(optimizer.default_lr()),
                history: self.history,
                init,
                seed: self.seed,
            },
            weights: self.weights.clone().map_or(WeightsSource::Embedded, WeightsSource::File),
        };
        spec.validate()?;
        Ok(spec)
    }
}

/// The deepest layer the objective can ever read (the app may raise weights later).
pub fn deepest_tap(objective: &Objective) -> Tap {
    objective.taps().into_iter().max().unwrap_or(Tap::new(5, 1))
}
