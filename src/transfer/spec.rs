//! A complete description of a render (images, sizes, weights, optimiser) and how to turn it into
//! a ready [`Stepper`]. Shared by the command line and the app's worker.

use std::path::PathBuf;
use std::sync::Arc;

use image::RgbImage;

use super::objective::Objective;
use super::stepper::{RunSettings, Stepper};
use super::targets::{PreparedImage, TargetCache};
use crate::error::{Error, Result};
use crate::imageio::{fit_long_side, load_rgb, resize};
use crate::model::{Vgg, WeightsSource};

/// Smallest output long side that still leaves relu5_1 a few pixels (16x downsampling).
pub const MIN_SIZE: u32 = 32;
/// Largest output long side accepted in one piece.
pub const MAX_SIZE: u32 = 4096;

/// Everything that defines a render, as stored in an exported PNG.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RenderSpec {
    /// Content image path.
    pub content: PathBuf,
    /// Style image paths (blend weights are in `objective.style_blend`).
    pub styles: Vec<PathBuf>,
    /// Long side of the output in pixels.
    pub size: u32,
    /// Style images are resized to `size * style_scale` on their long side.
    pub style_scale: f64,
    /// Loss weights.
    pub objective: Objective,
    /// Optimiser and initialisation.
    pub run: RunSettings,
    /// Model weights.
    pub weights: WeightsSource,
}

impl RenderSpec {
    /// Checks sizes and scales before any work is done.
    pub fn validate(&self) -> Result<()> {
        if !(MIN_SIZE..=MAX_SIZE).contains(&self.size) {
            return Err(Error::setting(format!(
                "size must be between {MIN_SIZE} and {MAX_SIZE} pixels, got {}",
                self.size
            )));
        }
        if !(self.style_scale.is_finite() && (0.1..=4.0).contains(&self.style_scale)) {
            return Err(Error::setting(format!("style scale must be between 0.1 and 4, got {}", self.style_scale)));
        }
        if self.styles.is_empty() {
            return Err(Error::setting("at least one style image is needed"));
        }
        self.objective.validate(self.styles.len())
    }

    /// The PNG text chunks documenting how an image was made.
    pub fn png_text(&self, iteration: usize) -> Vec<(String, String)> {
        let mut text = vec![
            ("Software".to_string(), format!("neural-style-studio {}", env!("CARGO_PKG_VERSION"))),
            ("nss:iteration".to_string(), iteration.to_string()),
        ];
        if let Ok(json) = serde_json::to_string(self) {
            text.push(("nss:settings".to_string(), json));
        }
        text
    }
}

/// Decoded source images of a render, before resizing (reused when only the size changes).
#[derive(Debug, Clone)]
pub struct SourceImages {
    /// The content photo.
    pub content: RgbImage,
    /// The style paintings.
    pub styles: Vec<RgbImage>,
}

impl SourceImages {
    /// Reads every image of `spec`.
    pub fn load(spec: &RenderSpec) -> Result<Self> {
        Ok(SourceImages {
            content: load_rgb(&spec.content)?,
            styles: spec.styles.iter().map(|p| load_rgb(p)).collect::<Result<_>>()?,
        })
    }
}

/// Resizes the sources for `spec` and builds a stepper, reusing targets from `cache`.
pub fn build_stepper(
    spec: &RenderSpec,
    sources: &SourceImages,
    net: Arc<Vgg>,
    cache: &mut TargetCache,
) -> Result<Stepper> {
    spec.validate()?;
    let size = fit_long_side(sources.content.dimensions(), spec.size);
    let content = PreparedImage::new(resize(&sources.content, size), &net)?;
    let style_side = ((f64::from(spec.size) * spec.style_scale).round() as u32).max(MIN_SIZE);
    let styles = sources
        .styles
        .iter()
        .map(|s| PreparedImage::new(resize(s, fit_long_side(s.dimensions(), style_side)), &net))
        .collect::<Result<Vec<_>>>()?;
    Stepper::new(net, content, styles, spec.objective.clone(), &spec.run, cache)
}
