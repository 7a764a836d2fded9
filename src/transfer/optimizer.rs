//! The optimiser chosen for a run.

use candle_core::Tensor;

use super::{adam::Adam, lbfgs::Lbfgs};
use crate::error::Result;

/// Which optimiser to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum OptimizerKind {
    /// L-BFGS without line search (the default).
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

/// A running optimiser.
#[derive(Debug)]
pub enum Optimizer {
    /// L-BFGS state.
    Lbfgs(Lbfgs),
    /// Adam state.
    Adam(Adam),
}

impl Optimizer {
    /// A fresh optimiser; `history` is L-BFGS's memory.
    pub fn new(kind: OptimizerKind, lr: f64, history: usize) -> Self {
        match kind {
            OptimizerKind::Lbfgs => Optimizer::Lbfgs(Lbfgs::new(history, lr)),
            OptimizerKind::Adam => Optimizer::Adam(Adam::new(lr)),
        }
    }

    /// Forgets curvature / moment estimates.
    pub fn reset(&mut self) {
        match self {
            Optimizer::Lbfgs(o) => o.reset(),
            Optimizer::Adam(o) => o.reset(),
        }
    }

    /// Returns the next iterate from `x` and the gradient there.
    pub fn step(&mut self, x: &Tensor, grad: &Tensor) -> Result<Tensor> {
        match self {
            Optimizer::Lbfgs(o) => o.step(x, grad),
            Optimizer::Adam(o) => o.step(x, grad),
        }
    }
}
