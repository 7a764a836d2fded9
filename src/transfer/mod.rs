//! Losses, targets, optimisers and the resumable iteration loop (no threads, no UI).

pub mod adam;
pub mod gram;
pub mod lbfgs;
pub mod memory;
pub mod objective;
pub mod optimizer;
pub mod schedule;
pub mod spec;
pub mod stepper;
pub mod targets;

pub use memory::{available_memory, estimate, fit_in_memory, MemoryEstimate, MemoryPlan};
pub use objective::{evaluate, evaluate_timed, Losses, Objective, PhaseTimes, CONTENT_TAP, STYLE_TAPS};
pub use optimizer::{Optimizer, OptimizerKind};
pub use schedule::{carry_over, coarse_to_fine, upscale, Stage};
pub use spec::{build_stepper, RenderSpec, SourceImages};
pub use stepper::{Init, RunSettings, StepReport, Stepper};
pub use targets::{PreparedImage, TargetCache, Targets};
