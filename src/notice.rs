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
pub fn combined(notes: &[Notice]) -> Option<Notice> {
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
        assert_eq!(combined(&[]), None);
        let one = combined(&[Notice::info("tiles of 512 px"), Notice::warning("History shortened.")]).unwrap();
        assert_eq!(one, Notice::warning("Tiles of 512 px. History shortened."));
    }
}
