//! What an evaluation reports (each term's value by name, the time each phase took, the
//! normalisation divisors) and its entry points for the whole image.

use candle_core::Tensor;

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::model::Vgg;
use crate::transfer::loss::evaluate_grid;
use crate::transfer::loss::gram::gradient_moves;
use crate::transfer::loss::targets::Targets;
use crate::transfer::loss::{TermName, CONTENT, STYLE, TV};
use crate::transfer::spec::objective::Objective;

/// One term's value at one image.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TermValue {
    /// Which term.
    #[serde(serialize_with = "as_text")]
    pub name: TermName,
    /// Its loss, unweighted.
    pub value: f64,
    /// Its weight in the total.
    pub weight: f64,
    /// Its share of its kind's weight (see [`super::Place::share`]).
    pub share: f64,
    /// What its gradient was divided by when gradients are normalised.
    pub divisor: Option<f64>,
}

impl TermValue {
    /// What it adds to the total.
    pub fn weighted(&self) -> f64 {
        self.weight * self.value / self.divisor.unwrap_or(1.0)
    }
}

fn as_text<S: serde::Serializer>(name: &TermName, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.collect_str(name)
}

/// Loss values at one image: each term's, named, and the weighted total.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Losses {
    /// The sum of each term's weighted value.
    pub total: f64,
    /// Each term's value, in the evaluator's order (network layers first, then the image's).
    pub terms: Vec<TermValue>,
}

impl Losses {
    /// Sums the terms' weighted values into the total. A non-finite total is
    /// [`Error::NonFinite`].
    pub(super) fn assemble(terms: Vec<TermValue>) -> Result<Self> {
        let total = terms.iter().map(TermValue::weighted).sum::<f64>();
        if !total.is_finite() {
            return Err(Error::NonFinite("loss"));
        }
        Ok(Losses { total, terms })
    }

    /// The value of kind `term`: its terms' values times their shares (0 when it has none).
    pub fn of(&self, term: &str) -> f64 {
        self.terms.iter().filter(|t| t.name.term == term).map(|t| t.share * t.value).sum()
    }

    /// What kind `term` adds to the total.
    pub fn weighted(&self, term: &str) -> f64 {
        self.terms.iter().filter(|t| t.name.term == term).map(TermValue::weighted).sum()
    }

    /// The names of the kinds reported, in order, each once.
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut kinds: Vec<&'static str> = Vec::new();
        for t in &self.terms {
            if !kinds.contains(&t.name.term) {
                kinds.push(t.name.term);
            }
        }
        kinds
    }

    /// The content term's value (mean squared feature difference at the content tap).
    pub fn content(&self) -> f64 {
        self.of(CONTENT)
    }

    /// The style terms' value: the sum over style layers of `w_l` times the layer's loss.
    pub fn style(&self) -> f64 {
        self.of(STYLE)
    }

    /// The total variation of the normalised image.
    pub fn tv(&self) -> f64 {
        self.of(TV)
    }

    /// Each style layer's unweighted loss, `layers` long, in `Objective::style_layers` order (0
    /// for a layer whose weight is zero).
    pub fn style_layers(&self, layers: usize) -> Vec<f64> {
        let mut out = vec![0.0; layers];
        for t in self.terms.iter().filter(|t| t.name.term == STYLE) {
            if let Some(v) = t.name.layer.and_then(|k| out.get_mut(k)) {
                *v = t.value;
            }
        }
        out
    }

    /// The divisors of normalised gradients this evaluation used.
    pub fn divisors(&self) -> Divisors {
        Divisors(self.terms.iter().filter_map(|t| t.divisor.map(|d| (t.name, d))).collect())
    }
}

/// What each term's gradient was divided by when gradients are normalised (a term without one:
/// not normalised).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Divisors(BTreeMap<TermName, f64>);

impl Divisors {
    /// The divisor of term `name`, if any.
    pub fn get(&self, name: TermName) -> Option<f64> {
        self.0.get(&name).copied()
    }

    /// Holds each term's divisor in `measured` that is not held yet and was measured from a
    /// gradient that is not zero. A term whose gradient vanishes where the run starts (the
    /// content term, at the photo) is held once it moves: its loss is zero there under any
    /// divisor, so the function minimised so far is unchanged.
    pub fn absorb(&mut self, measured: &Divisors) -> bool {
        let mut changed = false;
        for (&name, &v) in &measured.0 {
            if !self.0.contains_key(&name) && gradient_moves(v) {
                self.0.insert(name, v);
                changed = true;
            }
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
