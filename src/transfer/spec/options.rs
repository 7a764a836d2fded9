//! The run's options that are not loss weights: how the picture starts, which optimiser moves
//! it, how the photo's colours are kept, and whether it is optimised or painted at once.

use crate::error::{Error, Result};

/// How the optimised image starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Init {
    /// The content image (the default: fastest to a good result).
    Content,
    /// Seeded Gaussian noise in normalised space.
    Noise,
    /// A flat picture of the network's mean colour with a whisper of seeded noise, as the
    /// classic tools start (`randn * 0.001`): the painting takes over and the photo's layout
    /// emerges from it, for the most painted looks.
    Grey,
    /// The (first) style image, resized to the content size.
    Style,
    /// A picture of the artist's choosing (`RenderSpec::init_image`), resized to the content
    /// size: an earlier render to go on from, or a sketch.
    Image,
    /// The instant look (the feed-forward networks' picture, `RenderSpec::instant`) at the
    /// run's size: painted from the start.
    Instant,
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
    /// Let pixel values leave the displayable range while optimising, as the classic tools do
    /// (for comparisons with them). By default the image stays inside it, so the picture shown
    /// and exported is the one whose losses were computed.
    pub unbounded: bool,
    /// Decay of the running average of the iterates that is shown instead of the latest
    /// (0: off; the Modern look uses 0.97, about the last thirty): Adam's iterates jitter, their
    /// average does not.
    pub average: f64,
}

impl Default for RunSettings {
    fn default() -> Self {
        RunSettings {
            optimizer: OptimizerKind::Lbfgs,
            lr: 1.0,
            history: 100,
            init: Init::Content,
            seed: 0,
            tile: None,
            unbounded: false,
            average: 0.0,
        }
    }
}

/// Which optimiser to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum OptimizerKind {
    /// L-BFGS (the default): with a line search inside the displayable box, or as the classic
    /// tools run it when unbounded.
    Lbfgs,
    /// Adam.
    Adam,
}

impl OptimizerKind {
    /// Default learning rate: 1 for L-BFGS (a full quasi-Newton step), 0.02 for Adam.
    pub fn default_lr(self) -> f64 {
        match self {
            OptimizerKind::Lbfgs => 1.0,
            OptimizerKind::Adam => 0.02,
        }
    }

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Lbfgs => "lbfgs",
            OptimizerKind::Adam => "adam",
        }
    }
}

/// How the photo's colours are kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PreserveColors {
    /// The style's colours (the classic result).
    #[default]
    Off,
    /// The result's luminance, the photo's chroma (after optimising; switchable live).
    Luminance,
    /// The style images' colour statistics matched to the photo's (before optimising).
    Histogram,
}

/// How a render is made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Method {
    /// Optimisation (Gatys et al.), starting from `run.init`.
    #[default]
    Optimise,
    /// The feed-forward picture alone, in a fraction of a second.
    Instant,
}

/// Settings of the instant look.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct InstantLook {
    /// 0 keeps the photo's own style, 1 takes the paintings' (the style vector is interpolated
    /// between the photo's and the blend of the paintings').
    pub strength: f64,
}

impl Default for InstantLook {
    fn default() -> Self {
        InstantLook { strength: 1.0 }
    }
}

impl InstantLook {
    /// Checks the strength.
    pub fn validate(&self) -> Result<()> {
        if !(self.strength.is_finite() && (0.0..=1.0).contains(&self.strength)) {
            return Err(Error::invalid(format!("instant strength must be between 0 and 1, got {}", self.strength)));
        }
        Ok(())
    }
}
