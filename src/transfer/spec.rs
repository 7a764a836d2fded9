//! A complete description of a render (images, sizes, weights, optimiser) and how to turn it into
//! a ready [`Stepper`]. Shared by the command line and the app's worker.

use std::path::PathBuf;
use std::sync::Arc;

use image::{DynamicImage, GrayImage, RgbImage};

use super::objective::Objective;
use super::stepper::{RunSettings, Stepper};
use super::targets::{PreparedImage, TargetCache};
use crate::error::{Error, Result};
use crate::imageio::{attach_alpha, fit_long_side, load_picture, resize, resize_alpha};
use crate::model::{Vgg, WeightsSource};

/// Smallest output long side that still leaves relu5_1 a few pixels (16x downsampling).
pub const MIN_SIZE: u32 = 32;
/// Smallest short side the network accepts: four 2x2 poolings leave relu5_1 one pixel.
pub const MIN_SHORT_SIDE: u32 = 16;
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
    /// The content photo's alpha, re-attached to the output (`None` when opaque).
    pub content_alpha: Option<GrayImage>,
    /// The style paintings.
    pub styles: Vec<RgbImage>,
}

impl SourceImages {
    /// Reads every image of `spec`.
    pub fn load(spec: &RenderSpec) -> Result<Self> {
        let content = load_picture(&spec.content)?;
        Ok(SourceImages {
            content: content.rgb,
            content_alpha: content.alpha,
            styles: spec.styles.iter().map(|p| Ok(load_picture(p)?.rgb)).collect::<Result<_>>()?,
        })
    }

    /// The output as it is saved: `rgb` with the content's alpha when it has one.
    pub fn output(&self, rgb: RgbImage) -> DynamicImage {
        match &self.content_alpha {
            Some(alpha) => DynamicImage::ImageRgba8(attach_alpha(&rgb, alpha)),
            None => DynamicImage::ImageRgb8(rgb),
        }
    }

    /// The content's alpha resized (bicubic) to `size`, to re-attach to outputs of that size;
    /// `None` when the content is opaque.
    pub fn content_alpha_at(&self, (w, h): (u32, u32)) -> Option<GrayImage> {
        let alpha = self.content_alpha.as_ref()?;
        Some(if alpha.dimensions() == (w, h) { alpha.clone() } else { resize_alpha(alpha, (w, h)) })
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
    let size = workable_size("content image", sources.content.dimensions(), spec.size)?;
    let content = PreparedImage::new(resize(&sources.content, size), &net)?;
    let style_side = ((f64::from(spec.size) * spec.style_scale).round() as u32).max(MIN_SIZE);
    let styles = sources
        .styles
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let size = workable_size(&format!("style image {}", i + 1), s.dimensions(), style_side)?;
            PreparedImage::new(resize(s, size), &net)
        })
        .collect::<Result<Vec<_>>>()?;
    Stepper::new(net, content, styles, spec.objective.clone(), &spec.run, cache)
}

/// Size of an image fitted to `long_side`; refused when its short side would be too thin for the
/// network's 16x downsampling (small images are simply upscaled).
fn workable_size(what: &str, dims: (u32, u32), long_side: u32) -> Result<(u32, u32)> {
    let fitted = fit_long_side(dims, long_side);
    if fitted.0.min(fitted.1) < MIN_SHORT_SIDE {
        return Err(Error::setting(format!(
            "the {what} is {}x{} pixels: at {long_side} px its short side would be {} px, and the network \
             needs at least {MIN_SHORT_SIDE}; crop it to a less elongated shape or use a larger size",
            dims.0,
            dims.1,
            fitted.0.min(fitted.1)
        )));
    }
    Ok(fitted)
}
