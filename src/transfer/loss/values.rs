//! What an evaluation reports (the losses, the time each phase took, the normalisation
//! divisors) and its entry points for the whole image.

use candle_core::Tensor;

use crate::error::{Error, Result};
use crate::model::Vgg;
use crate::transfer::loss::evaluate_grid;
use crate::transfer::loss::gram::gradient_moves;
use crate::transfer::loss::targets::Targets;
use crate::transfer::spec::objective::Objective;

/// Loss values at one image. Components are unweighted; `total` is the weighted sum.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Losses {
    /// content_weight*content + style_weight*style + tv_weight*tv + temporal_weight*temporal.
    pub total: f64,
    /// mean squared feature difference at the content tap.
    pub content: f64,
    /// sum over style layers of w_l * Gram MSE.
    pub style: f64,
    /// total variation of the normalised image.
    pub tv: f64,
    /// a clip frame's weighted mean squared difference from the previous frame warped (0 for
    /// a still picture).
    #[serde(default)]
    pub temporal: f64,
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
        (tv, temporal): (f64, f64),
        divisors: &Divisors,
    ) -> Result<Self> {
        let mut losses = Losses {
            content: content.unwrap_or(0.0),
            tv,
            temporal,
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
            + objective.tv_weight * losses.tv
            + objective.temporal_weight * losses.temporal;
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
/// [`crate::transfer::loss::evaluate_grid`].
pub fn evaluate_timed(
    net: &Vgg,
    x: &Tensor,
    objective: &Objective,
    targets: &Targets,
    want_grad: bool,
) -> Result<(Losses, Option<Tensor>, PhaseTimes)> {
    evaluate_grid(net, x, objective, targets, None, want_grad, 0)
}
