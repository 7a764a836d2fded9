//! The library's error type: every failure a caller can act on, with a message fit for a user.

use std::path::PathBuf;

/// Errors raised by the engine. Messages are one line and name the file or value at fault.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A tensor operation failed (shape mismatch, device error...).
    #[error("tensor operation failed: {}", first_line(.0))]
    Candle(#[from] candle_core::Error),

    /// An image file could not be read or decoded.
    #[error("cannot read image {path}: {reason}")]
    Image { path: PathBuf, reason: String },

    /// An image could not be encoded or written.
    #[error("cannot write image {path}: {reason}")]
    Save { path: PathBuf, reason: String },

    /// A weights file is unreadable or does not describe the expected network.
    #[error("invalid weights {source_name}: {reason}")]
    Weights { source_name: String, reason: String },

    /// A setting is out of range or inconsistent.
    #[error("invalid setting: {0}")]
    Setting(String),

    /// The optimisation produced a non-finite loss or update; `.0` names which.
    #[error("the {0} became infinite or NaN (weights or learning rate too large?)")]
    NonFinite(&'static str),
}

/// Result alias for the engine.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Shorthand for [`Error::Setting`].
    pub fn setting(msg: impl Into<String>) -> Self {
        Error::Setting(msg.into())
    }
}

/// candle appends a backtrace to some messages when RUST_BACKTRACE is set; users get one line.
fn first_line(e: &candle_core::Error) -> String {
    e.to_string().lines().next().unwrap_or_default().to_string()
}
