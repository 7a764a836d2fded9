//! The library's error type: every failure a caller can act on, with a message fit for a user.
//! Mistakes in what the user asked for ([`Error::Invalid`] and the file errors) are kept apart
//! from broken invariants of the engine ([`Error::Internal`]), which are bugs to report.

use std::path::PathBuf;

/// Errors raised by the engine. Messages are one line and name the file or value at fault.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A tensor operation failed (shape mismatch, device error...).
    #[error("tensor operation failed: {}", first_line(.0))]
    Candle(#[from] candle_core::Error),

    /// An image file could not be read or decoded.
    #[error("cannot read image {path}: {reason}")]
    Image {
        /// The file.
        path: PathBuf,
        /// Why, in a few words.
        reason: String,
    },

    /// A clip could not be read: its container, codec or frames.
    #[error("cannot read clip {path}: {reason}")]
    Clip {
        /// The file or folder.
        path: PathBuf,
        /// Why, in a few words, and what to do.
        reason: String,
    },

    /// An image could not be encoded or written.
    #[error("cannot write image {path}: {reason}")]
    Save {
        /// The file.
        path: PathBuf,
        /// Why, in a few words.
        reason: String,
    },

    /// A weights file is unreadable or does not describe the expected network.
    #[error("invalid weights {source_name}: {reason}")]
    Weights {
        /// The file (or "embedded vgg16").
        source_name: String,
        /// Why, in a few words.
        reason: String,
    },

    /// Stored settings (a PNG's text chunk or a JSON file) cannot be used.
    #[error("cannot use the settings in {origin}: {reason}")]
    Settings {
        /// Where the settings came from.
        origin: String,
        /// Why, in a few words.
        reason: String,
    },

    /// An image named by stored settings is not there, or is not the one the settings were made
    /// with.
    #[error("the {role} {path} {problem}")]
    SourceChanged {
        /// "content image" or "style image N".
        role: String,
        /// The path the settings name.
        path: PathBuf,
        /// "is missing" or "has changed since the settings were saved (its sha256 differs)".
        problem: String,
    },

    /// A setting is out of range or inconsistent (the user's to fix).
    #[error("invalid setting: {0}")]
    Invalid(String),

    /// The render does not fit in memory, even with the adjustments the engine may make.
    #[error("{0}")]
    Memory(Shortage),

    /// The optimisation produced a non-finite loss or update; `.0` names which.
    #[error("the {0} became infinite or NaN (weights or learning rate too large?)")]
    NonFinite(&'static str),

    /// The loss jumped by orders of magnitude in one step (an optimiser without a line search
    /// overshooting).
    #[error("the loss jumped from {from:.4e} to {to:.4e} (weights or learning rate too large?)")]
    Diverged {
        /// The loss of the current image.
        from: f64,
        /// The loss of the image the optimiser proposed.
        to: f64,
    },

    /// The run paused on its last good image after [`crate::transfer::MAX_FAULTS`] numerical
    /// faults in a row (the weights or the learning rate are too large); it can be resumed once
    /// they are fixed. Made in one place, `Job::step`; each driver decides what pausing means.
    #[error("{}; paused on the last good image: lower the weights or the learning rate", .0.cause())]
    Paused(crate::transfer::Fault),

    /// A frame of a clip failed; the frames before it are kept.
    #[error("frame {frame}: {source}; the frames before it are kept")]
    Frame {
        /// The frame (1-based).
        frame: usize,
        /// What went wrong.
        source: Box<Error>,
    },

    /// A model could not be fetched (offline, network, or a damaged download).
    #[error("cannot get the model {model}: {reason}")]
    Download {
        /// Which model.
        model: String,
        /// Why, in a few words.
        reason: String,
    },

    /// The user cancelled a long operation.
    #[error("cancelled")]
    Cancelled,

    /// An invariant of the engine broke: a bug, not something the user did.
    #[error("internal error: {0} (please report this)")]
    Internal(String),
}

/// Result alias for the engine.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Shorthand for [`Error::Invalid`]: the user asked for something that cannot be done.
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::Invalid(msg.into())
    }

    /// Shorthand for [`Error::Internal`]: an invariant broke.
    pub fn internal(msg: impl Into<String>) -> Self {
        Error::Internal(msg.into())
    }

    /// Whether the user can fix this by changing settings or files (anything but an internal
    /// error or a device failure).
    pub fn is_user_error(&self) -> bool {
        match self {
            Error::Frame { source, .. } => source.is_user_error(),
            e => !matches!(e, Error::Internal(_) | Error::Candle(_)),
        }
    }
}

/// candle appends a backtrace to some messages when RUST_BACKTRACE is set; users get one line.
fn first_line(e: &candle_core::Error) -> String {
    e.to_string().lines().next().unwrap_or_default().to_string()
}

/// Why a render was refused for memory: what it needs, what there is, and the largest size that
/// would fit (by steps of 32 px), if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shortage {
    /// Long side asked for, in pixels.
    pub size: u32,
    /// Estimated bytes the render needs.
    pub needed: u64,
    /// Bytes available when it was checked.
    pub available: u64,
    /// The largest long side that fits, if any does.
    pub fits: Option<u32>,
}

impl std::fmt::Display for Shortage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "a {} px render needs about {} of memory but only {} is free; ",
            self.size,
            gib(self.needed),
            gib(self.available)
        )?;
        match self.fits {
            Some(size) => write!(f, "{size} px fits"),
            None => write!(f, "close other programs and try again"),
        }
    }
}

/// Bytes as GiB with one decimal, for messages.
pub(crate) fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::Fault;

    #[test]
    fn a_paused_fault_in_a_frame_reads_as_one_line_naming_the_frame_the_cause_and_the_remedy() {
        let fault =
            Fault { iteration: 7, problem: "the loss became infinite or NaN".into(), in_a_row: 3, new_lr: None };
        let e = Error::Frame { frame: 4, source: Box::new(Error::Paused(fault)) };
        assert_eq!(
            e.to_string(),
            "frame 4: Iteration 7: the loss became infinite or NaN 3 times in a row; paused on the last good \
             image: lower the weights or the learning rate; the frames before it are kept"
        );
        assert!(e.is_user_error());
        let broken = Error::Frame { frame: 1, source: Box::new(Error::internal("x")) };
        assert!(!broken.is_user_error());
    }
}
