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

impl std::fmt::Display for Notice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}
