//! neural-style-studio: Gatys et al. neural style transfer on candle.
//!
//! Layers point one way: [`model`] (VGG and its weights) -> [`transfer`] (losses, optimisers,
//! the resumable stepper). The library never spawns threads or touches a UI.

pub mod error;
pub mod imageio;
pub mod model;
pub mod transfer;

pub use error::{Error, Result};
pub mod app;
pub mod worker;
