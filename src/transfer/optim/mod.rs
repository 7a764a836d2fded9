//! The optimisers that move the picture: L-BFGS (in the displayable box or unbounded), Adam,
//! the running average of the iterates, and the box itself.

pub mod adam;
pub mod average;
pub mod bounds;
pub mod lbfgs;

use candle_core::Tensor;

use self::{adam::Adam, bounds::Bounds, lbfgs::Lbfgs, lbfgs::Proposal};
use crate::error::Result;
use crate::transfer::spec::options::OptimizerKind;

/// A running optimiser.
#[derive(Debug)]
pub enum Optimizer {
    /// L-BFGS state.
    Lbfgs(Lbfgs),
    /// Adam state, and the box its iterates are clamped to.
    Adam(Adam, Option<Bounds>),
}

impl Optimizer {
    /// A fresh optimiser; `history` is L-BFGS's memory; with `bounds` every iterate stays
    /// inside them.
    pub fn new(kind: OptimizerKind, lr: f64, history: usize, bounds: Option<Bounds>) -> Self {
        match kind {
            OptimizerKind::Lbfgs => Optimizer::Lbfgs(Lbfgs::new(history, lr, bounds)),
            OptimizerKind::Adam => Optimizer::Adam(Adam::new(lr), bounds),
        }
    }

    /// Forgets curvature / moment estimates.
    pub fn reset(&mut self) {
        match self {
            Optimizer::Lbfgs(o) => o.reset(),
            Optimizer::Adam(o, _) => o.reset(),
        }
    }

    /// Whether a rising loss is the optimiser's to handle (a line search steps back); otherwise
    /// a loss that jumps is a fault for the caller to roll back.
    pub fn searches(&self) -> bool {
        matches!(self, Optimizer::Lbfgs(o) if o.searches())
    }

    /// Given the loss `f` and gradient at `x` (the last proposal), returns the next point.
    pub fn step(&mut self, x: &Tensor, f: f64, grad: &Tensor) -> Result<Proposal> {
        match self {
            Optimizer::Lbfgs(o) => o.step(x, f, grad),
            Optimizer::Adam(o, bounds) => {
                let next = o.step(x, grad)?;
                let next = match bounds {
                    Some(b) => b.project(&next)?,
                    None => next,
                };
                Ok(Proposal { next, accepted: true })
            }
        }
    }

    /// The last proposal could not be evaluated: a safer one, when the optimiser has one.
    pub fn reject(&mut self) -> Result<Option<Tensor>> {
        match self {
            Optimizer::Lbfgs(o) => o.reject(),
            Optimizer::Adam(..) => Ok(None),
        }
    }
}
