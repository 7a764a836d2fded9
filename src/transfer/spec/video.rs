//! How a clip is rendered: the part of the render description only clips read. The temporal
//! term's weight is the objective's (`Objective::temporal_weight`), steerable like any weight.

use crate::error::{Error, Result};
use crate::transfer::spec::objective::DEFAULT_TEMPORAL_WEIGHT;

/// Quality or speed, per frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum VideoMode {
    /// Each frame optimised (the first for the whole schedule, the rest for
    /// [`VideoOptions::later_iterations`]), started from the previous result warped by the
    /// motion and held to it by the temporal term.
    #[default]
    Quality,
    /// Each frame painted by the instant look and blended with the previous result warped,
    /// where the motion can be trusted.
    Fast,
}

impl VideoMode {
    /// The mode's name, as the command line spells it.
    pub fn name(self) -> &'static str {
        match self {
            VideoMode::Quality => "quality",
            VideoMode::Fast => "fast",
        }
    }
}

/// A clip's options.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct VideoOptions {
    /// Quality or Fast.
    pub mode: VideoMode,
    /// Iterations of each frame after the first, in the Quality mode (it starts close to its
    /// result: the previous frame's, carried along).
    pub later_iterations: usize,
    /// The clip is meant to repeat (a GIF): its first frames are rendered again, joined to
    /// the last one, so the wrap from the last frame to the first does not jump.
    #[serde(rename = "loop")]
    pub looped: bool,
}

impl Default for VideoOptions {
    fn default() -> Self {
        VideoOptions { mode: VideoMode::Quality, later_iterations: 50, looped: false }
    }
}

impl VideoOptions {
    /// Refuses a later-frame budget of 0 or over 10000.
    pub fn validate(&self) -> Result<()> {
        if !(1..=10_000).contains(&self.later_iterations) {
            return Err(Error::invalid(format!(
                "iterations per later frame must be between 1 and 10000, got {}",
                self.later_iterations
            )));
        }
        Ok(())
    }
}

/// How strongly the Fast mode holds a frame to the previous one under `temporal_weight`: the
/// blend `k` of `(painted + k c warped) / (1 + k c)`, the picture that minimises the squared
/// distance to the painted frame plus `k` times the temporal term. The default weight gives 3
/// (three quarters of the previous frame where the motion is trusted: more keeps less of each
/// frame's brush texture, which repeated warping and averaging soften).
pub fn fast_hold(temporal_weight: f64) -> f32 {
    (3.0 * temporal_weight / DEFAULT_TEMPORAL_WEIGHT) as f32
}
