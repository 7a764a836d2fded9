//! The objective: the loss weights and what each term measures (a plain value the worker may
//! swap between iterations).

use std::collections::BTreeMap;

use super::look::Look;
use super::mask::StyleMasks;
use crate::error::{Error, Result};
use crate::model::Tap;

/// The default style taps, as in Gatys et al.
pub const STYLE_TAPS: [Tap; 5] = [Tap::new(1, 1), Tap::new(2, 1), Tap::new(3, 1), Tap::new(4, 1), Tap::new(5, 1)];
/// The default content tap.
pub const CONTENT_TAP: Tap = Tap::new(4, 2);

/// Weights of the loss terms. Changing any of them changes the function being minimised, so an
/// optimiser's history must be reset, but the image and the cached targets stay valid.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Objective {
    /// Weight of the content term.
    pub content_weight: f64,
    /// Weight of the (summed, per-layer-weighted) style term.
    pub style_weight: f64,
    /// Weight of the total-variation term.
    pub tv_weight: f64,
    /// Weight of the temporal term of a clip's frames: how strongly a frame holds to the one
    /// before it, warped by the motion (no effect on a still picture).
    pub temporal_weight: f64,
    /// Layer whose activations the content term matches.
    pub content_tap: Tap,
    /// Style layers and their weights `w_l`.
    pub style_layers: Vec<(Tap, f64)>,
    /// Blend weights of the style images (normalised to sum 1 when targets are blended).
    pub style_blend: Vec<f64>,
    /// Where each style applies (nothing painted: everywhere, blended).
    #[serde(skip_serializing_if = "is_unmasked")]
    pub masks: StyleMasks,
    /// How each style layer's mismatch is measured (Classic or Modern).
    pub look: Look,
    /// Gram matrices or sliced Wasserstein.
    pub style_loss: StyleLoss,
    /// Scale each term's gradient at its layer to an L1 norm equal to its weight, as
    /// neural-style's `-normalize_gradients` does (the total is then the weighted sum of each
    /// term's loss over its gradient's norm, measured where the optimiser starts and held: see
    /// `Targets::hold_divisors`).
    pub normalize_gradients: bool,
    /// Weights of the further kinds of terms, by name (see `transfer::loss::KINDS`); a kind not
    /// named weighs nothing.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub weights: BTreeMap<String, f64>,
}

/// The temporal weight a clip starts with.
pub const DEFAULT_TEMPORAL_WEIGHT: f64 = 1e3;

fn is_unmasked(masks: &StyleMasks) -> bool {
    *masks == StyleMasks::default()
}

impl Default for Objective {
    fn default() -> Self {
        Objective {
            content_weight: 1.0,
            style_weight: 100.0,
            tv_weight: 0.0,
            temporal_weight: DEFAULT_TEMPORAL_WEIGHT,
            content_tap: CONTENT_TAP,
            style_layers: STYLE_TAPS.iter().map(|&t| (t, 1.0)).collect(),
            style_blend: vec![1.0],
            masks: StyleMasks::default(),
            look: Look::Classic,
            style_loss: StyleLoss::Gram,
            normalize_gradients: false,
            weights: BTreeMap::new(),
        }
    }
}

impl Objective {
    /// Rejects negative or non-finite weights and an empty blend.
    pub fn validate(&self, n_styles: usize) -> Result<()> {
        for name in self.weights.keys() {
            if crate::transfer::loss::kind(name).is_none() {
                return Err(Error::invalid(format!("no loss term is called \"{name}\"")));
            }
        }
        let all = [self.content_weight, self.style_weight, self.tv_weight, self.temporal_weight]
            .into_iter()
            .chain(self.weights.values().copied())
            .chain(self.style_layers.iter().map(|l| l.1))
            .chain(self.style_blend.iter().copied());
        for w in all {
            if !w.is_finite() || w < 0.0 {
                return Err(Error::invalid(format!("weights must be finite and >= 0, got {w}")));
            }
        }
        if self.style_blend.len() != n_styles {
            return Err(Error::invalid(format!(
                "{} style blend weights for {n_styles} style images",
                self.style_blend.len()
            )));
        }
        if n_styles > 0 && self.style_blend.iter().sum::<f64>() <= 0.0 {
            return Err(Error::invalid("style blend weights sum to zero"));
        }
        self.masks.validate(n_styles)
    }

    /// The weight of a further kind of term (0 when not named).
    pub fn weight(&self, name: &str) -> f64 {
        self.weights.get(name).copied().unwrap_or(0.0)
    }

    /// Every tap the objective reads, deepest last.
    pub fn taps(&self) -> Vec<Tap> {
        let mut taps: Vec<Tap> = self.style_layers.iter().map(|l| l.0).collect();
        taps.push(self.content_tap);
        taps.sort();
        taps.dedup();
        taps
    }
}

/// How each style layer's mismatch with the painting is measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum StyleLoss {
    /// Gram matrices (Gatys et al.): second moments of the features, measured as the look says.
    #[default]
    Gram,
    /// Sliced Wasserstein (Heitz et al.): every feature marginal's whole distribution, on fixed
    /// random directions (see `transfer::loss::sliced`).
    Sliced,
}
