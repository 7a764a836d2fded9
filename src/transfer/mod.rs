//! Losses, targets, optimisers, the render's description and its driver (no threads, no UI).

pub mod adam;
pub mod average;
pub mod bounds;
pub mod colour;
pub mod events;
pub mod gram;
pub mod guide;
pub mod instant;
pub mod job;
pub mod lbfgs;
pub mod look;
pub mod loss;
pub mod mask;
pub mod memory;
pub mod objective;
pub mod optimizer;
pub mod preset;
pub mod schedule;
pub mod sheet;
pub mod sources;
pub mod spec;
pub mod stepper;
pub mod stored;
pub mod targets;
pub mod tiles;

pub use crate::error::Shortage;
pub use colour::PreserveColors;
pub use instant::{InstantLook, Method, Painter};
pub use job::{Event, Fault, Job, Update, MAX_FAULTS};
pub use look::Look;
pub use mask::{Mask, StyleMasks, Unpainted};
pub use memory::{
    available_memory, available_memory_on, estimate, fit_in_memory, largest_fitting, MemoryEstimate, MemoryPlan,
};
pub use objective::{evaluate, evaluate_timed, Losses, Objective, PhaseTimes, CONTENT_TAP, STYLE_TAPS};
pub use optimizer::{Optimizer, OptimizerKind};
pub use preset::Preset;
pub use schedule::{carry_over, coarse_to_fine, seconds_left, upscale, work_done, Stage};
pub use sources::{check_sources, SourceImages};
pub use spec::{ImageRef, RenderSpec, Schedule, SPEC_VERSION};
pub use stepper::{Init, RunSettings, StepReport, Stepper};
pub use stored::{read_settings, settings_from_bytes, StoredSpec};
pub use targets::{PreparedImage, TargetCache, TargetRequest, Targets};
