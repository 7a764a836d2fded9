//! Messages for the user that are not failures of a command: what the engine adjusted, faults it
//! recovered from, results of background work. The app shows them; the command line prints them.

/// How much a notice matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Done as asked (an export finished).
    Info,
    /// Something was adjusted or recovered from; the work goes on.
    Warning,
    /// Something the user asked for did not happen.
    Error,
}

/// A message for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// How much it matters.
    pub level: Level,
    /// One or two sentences.
    pub text: String,
}

impl Notice {
    /// An informational notice.
    pub fn info(text: impl Into<String>) -> Self {
        Notice { level: Level::Info, text: text.into() }
    }

    /// A warning.
    pub fn warning(text: impl Into<String>) -> Self {
        Notice { level: Level::Warning, text: text.into() }
    }

    /// An error.
    pub fn error(text: impl Into<String>) -> Self {
        Notice { level: Level::Error, text: text.into() }
    }
}

/// The notices in `notes` as one, for a place that shows one at a time: the gravest level, the
/// texts as sentences in order (`None`: no notes).
pub fn combined<N: Clone + Into<Notice>>(notes: &[N]) -> Option<Notice> {
    let notes: Vec<Notice> = notes.iter().cloned().map(Into::into).collect();
    let level = notes.iter().map(|n| n.level).max()?;
    let sentence = |t: &str| {
        let mut chars = t.trim().chars();
        let first: String = chars.next().map(|c| c.to_uppercase().collect()).unwrap_or_default();
        let rest: String = chars.collect();
        let end = if rest.ends_with(['.', '!', '?']) { "" } else { "." };
        format!("{first}{rest}{end}")
    };
    let text = notes.iter().map(|n| sentence(&n.text)).collect::<Vec<_>>().join(" ");
    Some(Notice { level, text })
}

/// What the engine tells the user about a render it adjusted or a clip it reads: a kind with its
/// facts, so that callers and tests can tell one from another; the words are made at the edge,
/// by `Display` (and [`Notice::from`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Note {
    /// L-BFGS's history was shortened to keep its own memory under `within` bytes.
    HistoryCapped {
        /// Entries asked for.
        from: usize,
        /// Entries kept.
        to: usize,
        /// The render's long side, in pixels.
        size: u32,
        /// The bound on the history's memory, in bytes.
        within: u64,
    },
    /// L-BFGS's history was shortened so that the render fits in `within` bytes.
    HistoryFitted {
        /// Entries asked for.
        from: usize,
        /// Entries kept.
        to: usize,
        /// The render's long side, in pixels.
        size: u32,
        /// The memory it now fits in, in bytes.
        within: u64,
    },
    /// The image is evaluated in tiles so that it fits in memory (the same picture).
    Tiled {
        /// The tile's side, in pixels.
        tile: u32,
    },
    /// Style `style` (1-based) has a mask that is all black: it applies nowhere.
    MaskBlank {
        /// The style, 1-based.
        style: usize,
    },
    /// Style `style` (1-based) has a mask of another shape than the photo: it is stretched.
    MaskStretched {
        /// The style, 1-based.
        style: usize,
        /// The mask's size.
        mask: (u32, u32),
        /// The photo's size.
        photo: (u32, u32),
    },
    /// Masks are painted but style `style` (1-based) has none: it applies nowhere.
    MaskMissing {
        /// The style, 1-based.
        style: usize,
    },
    /// The run started from the photo instead of the instant look, because of masks (`None`)
    /// or of the given failure.
    NoInstantLook {
        /// Why the look could not be painted; `None`: it does not follow masks.
        failure: Option<String>,
    },
    /// A clip's frame rate varies; it is read at a constant rate.
    ClipVariableRate {
        /// The rate it is read at.
        fps: f64,
    },
    /// A clip's HDR is tone-mapped to SDR.
    ClipToneMapped {
        /// The transfer function ("PQ", "HLG").
        hdr: String,
    },
    /// What a clip is ("H.264 High, 1920x1080, 30 fps..., read by ffmpeg 7.1").
    Clip {
        /// The clip described.
        about: String,
    },
    /// What a clip render will write, and where.
    ClipFrames {
        /// Frames to render.
        frames: usize,
        /// Their size.
        size: (u32, u32),
        /// Frames per second.
        fps: f64,
        /// About how many bytes they take.
        bytes: f64,
        /// The folder they go to.
        folder: std::path::PathBuf,
        /// For a loop: how many of the first frames are rendered again to join the last.
        join: Option<usize>,
    },
}

impl Note {
    /// How much it matters: an adjustment of what was asked is a warning, the rest information.
    pub fn level(&self) -> Level {
        match self {
            Note::Clip { .. }
            | Note::ClipFrames { .. }
            | Note::ClipVariableRate { .. }
            | Note::ClipToneMapped { .. } => Level::Info,
            _ => Level::Warning,
        }
    }
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::error::gib;
        match self {
            Note::HistoryCapped { from, to, size, within } => write!(
                f,
                "L-BFGS history shortened from {from} to {to} at {size} px to keep its memory under {}",
                gib(*within)
            ),
            Note::HistoryFitted { from, to, size, within } => write!(
                f,
                "L-BFGS history shortened from {from} to {to} so that a {size} px render fits in {}",
                gib(*within)
            ),
            Note::Tiled { tile } => {
                write!(f, "evaluated in tiles of {tile} px so that it fits in memory (the same picture)")
            }
            Note::MaskBlank { style } => write!(f, "the mask of style {style} is all black: it applies nowhere"),
            Note::MaskStretched { style, mask, photo } => write!(
                f,
                "the mask of style {style} is {}x{} and the photo {}x{}: it is stretched to fit",
                mask.0, mask.1, photo.0, photo.1
            ),
            Note::MaskMissing { style } => write!(f, "style {style} has no mask: it applies nowhere"),
            Note::NoInstantLook { failure: None } => {
                write!(f, "started from the photo: the instant look does not follow masks")
            }
            Note::NoInstantLook { failure: Some(e) } => write!(f, "started from the photo: no instant look ({e})"),
            Note::ClipVariableRate { fps } => {
                write!(f, "the clip's frame rate varies: read at a constant {fps:.3} fps")
            }
            Note::ClipToneMapped { hdr } => write!(f, "the clip's {hdr} HDR is tone-mapped to SDR"),
            Note::Clip { about } => write!(f, "the clip: {about}"),
            Note::ClipFrames { frames, size, fps, bytes, folder, join } => {
                write!(
                    f,
                    "{frames} frames at {}x{}, {fps:.3} fps: about {} of frames in {}",
                    size.0,
                    size.1,
                    crate::video::estimate::human_bytes(*bytes),
                    folder.display()
                )?;
                match join {
                    Some(n) => write!(f, "; a loop: the first {n} frames are rendered again to join the last"),
                    None => Ok(()),
                }
            }
        }
    }
}

impl From<Note> for Notice {
    fn from(note: Note) -> Self {
        Notice { level: note.level(), text: note.to_string() }
    }
}

impl std::fmt::Display for Notice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_notices_keep_the_gravest_level_and_every_text_as_a_sentence() {
        assert_eq!(combined::<Notice>(&[]), None);
        let one = combined(&[Notice::info("tiles of 512 px"), Notice::warning("History shortened.")]).unwrap();
        assert_eq!(one, Notice::warning("Tiles of 512 px. History shortened."));
    }
}
