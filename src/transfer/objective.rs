//! The objective: loss weights (a plain value the worker may swap between iterations) and the
//! evaluation of the loss and its gradient w.r.t. the image.

use candle_core::Tensor;

use super::gram::gradient_moves;
use super::look::Look;
use super::loss::{evaluate_grid, StyleLoss};
use super::mask::StyleMasks;
use super::targets::{TargetRequest, Targets};
use crate::error::{Error, Result};
use crate::model::{Tap, Vgg};

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
}

fn is_unmasked(masks: &StyleMasks) -> bool {
    *masks == StyleMasks::default()
}

impl Default for Objective {
    fn default() -> Self {
        Objective {
            content_weight: 1.0,
            style_weight: 100.0,
            tv_weight: 0.0,
            content_tap: CONTENT_TAP,
            style_layers: STYLE_TAPS.iter().map(|&t| (t, 1.0)).collect(),
            style_blend: vec![1.0],
            masks: StyleMasks::default(),
            look: Look::Classic,
            style_loss: StyleLoss::Gram,
            normalize_gradients: false,
        }
    }
}

impl Objective {
    /// Rejects negative or non-finite weights and an empty blend.
    pub fn validate(&self, n_styles: usize) -> Result<()> {
        let all = [self.content_weight, self.style_weight, self.tv_weight]
            .into_iter()
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
        if self.style_loss == StyleLoss::Sliced && self.masks.is_active() {
            return Err(Error::invalid(
                "the sliced style loss (the Rich look) does not take style masks yet: clear the masks or use the Gram loss",
            ));
        }
        self.masks.validate(n_styles)
    }

    /// The targets this objective needs.
    pub fn target_request(&self) -> TargetRequest {
        TargetRequest {
            content_tap: self.content_tap,
            style_taps: self.style_layers.iter().map(|l| l.0).collect(),
            blend: self.style_blend.clone(),
            masks: self.masks.clone(),
            style_loss: self.style_loss,
            tile: None,
        }
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

/// Loss values at one image. Components are unweighted; `total` is the weighted sum.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Losses {
    /// content_weight*content + style_weight*style + tv_weight*tv.
    pub total: f64,
    /// mean squared feature difference at the content tap.
    pub content: f64,
    /// sum over style layers of w_l * Gram MSE.
    pub style: f64,
    /// total variation of the normalised image.
    pub tv: f64,
    /// unweighted Gram MSE per style layer, in `Objective::style_layers` order.
    pub style_layers: Vec<f64>,
    /// The divisors of normalised gradients this evaluation used.
    #[serde(skip)]
    pub divisors: Divisors,
}

impl Losses {
    /// Weighs the unweighted terms into the total (`None`: a term whose weight is zero), each
    /// divided by its gradient's divisor when gradients are normalised. A non-finite total is
    /// [`Error::NonFinite`].
    pub(super) fn assemble(
        objective: &Objective,
        content: Option<f64>,
        style_layers: &[Option<f64>],
        tv: f64,
        divisors: &Divisors,
    ) -> Result<Self> {
        let mut losses = Losses {
            content: content.unwrap_or(0.0),
            tv,
            style_layers: style_layers.iter().map(|v| v.unwrap_or(0.0)).collect(),
            divisors: divisors.clone(),
            ..Losses::default()
        };
        losses.style = objective.style_layers.iter().zip(&losses.style_layers).map(|(l, v)| l.1 * v).sum();
        let style: f64 = objective
            .style_layers
            .iter()
            .zip(&losses.style_layers)
            .enumerate()
            .map(|(k, (l, v))| l.1 * v / divisors.style.get(k).copied().flatten().unwrap_or(1.0))
            .sum();
        losses.total = objective.content_weight * losses.content / divisors.content.unwrap_or(1.0)
            + objective.style_weight * style
            + objective.tv_weight * losses.tv;
        if !losses.total.is_finite() {
            return Err(Error::NonFinite("loss"));
        }
        Ok(losses)
    }
}

/// What each term's gradient was divided by when gradients are normalised (`None`: not
/// normalised), content and per style layer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Divisors {
    /// The content term's.
    pub content: Option<f64>,
    /// Each style layer's, in `Objective::style_layers` order.
    pub style: Vec<Option<f64>>,
}

impl Divisors {
    /// Holds each term's divisor in `measured` that is not held yet and was measured from a
    /// gradient that is not zero. A term whose gradient vanishes where the run starts (the
    /// content term, at the photo) is held once it moves: its loss is zero there under any
    /// divisor, so the function minimised so far is unchanged.
    pub fn absorb(&mut self, measured: &Divisors) -> bool {
        let take = |held: &mut Option<f64>, new: Option<f64>| match (*held, new) {
            (None, Some(v)) if gradient_moves(v) => {
                *held = Some(v);
                true
            }
            _ => false,
        };
        let mut changed = take(&mut self.content, measured.content);
        self.style.resize(measured.style.len(), None);
        for (held, &new) in self.style.iter_mut().zip(&measured.style) {
            changed |= take(held, new);
        }
        changed
    }
}

/// Wall time of the phases of one evaluation, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct PhaseTimes {
    /// VGG forward pass.
    pub forward: f64,
    /// Loss terms, Gram matrices and their closed-form gradients.
    pub losses: f64,
    /// Backward pass through VGG.
    pub backward: f64,
}

/// Evaluates the objective at `x` (normalised image, (1, 3, H, W)); with `want_grad` also returns
/// d total / d x through the explicit backward pass.
pub fn evaluate(
    net: &Vgg,
    x: &Tensor,
    objective: &Objective,
    targets: &Targets,
    want_grad: bool,
) -> Result<(Losses, Option<Tensor>)> {
    evaluate_timed(net, x, objective, targets, want_grad).map(|(l, g, _)| (l, g))
}

/// [`evaluate`], also reporting where the time went: the whole image as one tile of
/// [`super::loss::evaluate_grid`].
pub fn evaluate_timed(
    net: &Vgg,
    x: &Tensor,
    objective: &Objective,
    targets: &Targets,
    want_grad: bool,
) -> Result<(Losses, Option<Tensor>, PhaseTimes)> {
    evaluate_grid(net, x, objective, targets, None, want_grad, 0)
}
