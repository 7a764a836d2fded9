//! The studio's settings: what the panels edit, what is remembered between sessions, and how they
//! become a render for the worker.

use std::path::PathBuf;

use crate::model::WeightsSource;
use crate::transfer::{Init, Objective, OptimizerKind, RenderSpec, RunSettings, STYLE_TAPS};

/// A style image and its blend weight.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StyleEntry {
    /// File path.
    pub path: PathBuf,
    /// Relative weight in the blend of style targets.
    pub blend: f64,
}

/// Everything the user sets. Persisted with eframe's storage.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Content image.
    pub content: Option<PathBuf>,
    /// Style images.
    pub styles: Vec<StyleEntry>,
    /// Output long side in pixels.
    pub size: u32,
    /// Style images are resized to size x this.
    pub style_scale: f64,
    /// Content loss weight.
    pub content_weight: f64,
    /// Style loss weight.
    pub style_weight: f64,
    /// Total-variation weight.
    pub tv_weight: f64,
    /// Weights of relu1_1 .. relu5_1.
    pub layer_weights: [f64; 5],
    /// Optimiser.
    pub optimizer: OptimizerKind,
    /// Learning rate.
    pub lr: f64,
    /// Initial image.
    pub init: Init,
    /// Noise seed.
    pub seed: u64,
    /// Iterations per run.
    pub iterations: usize,
    /// Coarse-to-fine stages (1 = single scale).
    pub scales: usize,
    /// Optional weights file (None = embedded VGG16).
    pub weights: Option<PathBuf>,
    /// Folder of the last opened image.
    pub open_dir: Option<PathBuf>,
    /// Folder of the last export.
    pub export_dir: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            content: None,
            styles: Vec::new(),
            size: 384,
            style_scale: 1.0,
            content_weight: 1.0,
            style_weight: 100.0,
            tv_weight: 0.0,
            layer_weights: [1.0; 5],
            optimizer: OptimizerKind::Lbfgs,
            lr: 1.0,
            init: Init::Content,
            seed: 0,
            iterations: 300,
            scales: 1,
            weights: None,
            open_dir: None,
            export_dir: None,
        }
    }
}

impl Settings {
    /// The loss weights (changeable while a run goes on).
    pub fn objective(&self) -> Objective {
        Objective {
            content_weight: self.content_weight,
            style_weight: self.style_weight,
            tv_weight: self.tv_weight,
            style_layers: STYLE_TAPS.iter().copied().zip(self.layer_weights).collect(),
            style_blend: self.styles.iter().map(|s| s.blend).collect(),
            ..Objective::default()
        }
    }

    /// The full render, or why it cannot start yet.
    pub fn spec(&self) -> Result<RenderSpec, String> {
        let content = self.content.clone().ok_or("Pick a content image first.")?;
        if self.styles.is_empty() {
            return Err("Add at least one style image.".into());
        }
        let spec = RenderSpec {
            content,
            styles: self.styles.iter().map(|s| s.path.clone()).collect(),
            size: self.size,
            style_scale: self.style_scale,
            objective: self.objective(),
            run: RunSettings { optimizer: self.optimizer, lr: self.lr, history: 100, init: self.init, seed: self.seed },
            weights: self.weights.clone().map_or(WeightsSource::Embedded, WeightsSource::File),
        };
        spec.validate().map_err(|e| e.to_string())?;
        Ok(spec)
    }

    /// Whether going from `self` to `other` needs a new run (new images, size, model, optimiser
    /// or init), rather than an in-place objective change.
    pub fn needs_restart(&self, other: &Settings) -> bool {
        let paths = |s: &Settings| (s.content.clone(), s.styles.iter().map(|e| e.path.clone()).collect::<Vec<_>>());
        paths(self) != paths(other)
            || self.size != other.size
            || self.style_scale != other.style_scale
            || self.optimizer != other.optimizer
            || self.lr != other.lr
            || self.init != other.init
            || self.seed != other.seed
            || self.scales != other.scales
            || self.weights != other.weights
    }
}
