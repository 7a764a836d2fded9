//! Video: clips in and out, optical flow between frames, and the driver that renders a clip
//! frame by frame with the [`crate::transfer::Job`], each frame started from the previous
//! result warped by the flow and held to it by the temporal term.

pub mod clip;
pub mod estimate;
pub mod export;
pub mod ffmpeg;
pub mod flow;
pub mod h264;
pub mod render;
pub mod shots;
pub mod store;
pub mod warp;
pub mod wrap;
