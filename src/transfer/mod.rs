//! Style transfer without threads or UI, in four parts that import one way
//! (`spec` <- `loss` <- `optim` <- `run`, each only from those before it):
//! - [`spec`]: the description of a render (the spec, its objective and options, looks,
//!   presets, schedules, contact-sheet plans, and the parser of stored settings);
//! - [`loss`]: the loss terms, their targets and the one evaluator over a grid of tiles;
//! - [`optim`]: the optimisers and the box they keep the picture in;
//! - [`run`]: the Job that drives a render, the stepper under it, its images, memory and colours.

pub mod loss;
pub mod optim;
pub mod run;
pub mod spec;

pub use crate::error::Shortage;
pub use loss::targets::{PreparedImage, TargetCache, TargetRequest, Targets};
pub use loss::values::{evaluate, evaluate_timed, Losses, PhaseTimes};
pub use optim::Optimizer;
pub use run::carry::{carry_over, upscale};
pub use run::job::{Event, Fault, Job, Prior, Update, MAX_FAULTS};
pub use run::memory::{
    available_memory, available_memory_on, estimate, fit_in_memory, largest_fitting, MemoryEstimate, MemoryPlan,
};
pub use run::painter::Painter;
pub use run::sources::{check_sources, SourceImages};
pub use run::stepper::{StepReport, Stepper};
pub use spec::look::Look;
pub use spec::mask::{Mask, StyleMasks, Unpainted};
pub use spec::objective::{Objective, StyleLoss, CONTENT_TAP, STYLE_TAPS};
pub use spec::options::{Init, InstantLook, Method, OptimizerKind, PreserveColors, RunSettings};
pub use spec::preset::Preset;
pub use spec::schedule::{coarse_to_fine, seconds_left, work_done, Stage};
pub use spec::stored::{read_settings, settings_from_bytes, StoredSpec};
pub use spec::video::{fast_hold, VideoMode, VideoOptions};
pub use spec::{ImageRef, RenderSpec, Schedule, SPEC_VERSION};
