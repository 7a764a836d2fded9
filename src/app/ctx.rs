//! What a panel may use besides its own state: the artist's settings, the render under way, the
//! message line, the background tasks and the actions asked for this frame. The app lends it to
//! one panel at a time ([`super::App::parts`]); a panel that needs another panel asks for an
//! [`Action`], applied once the panels are drawn.

use super::settings::Settings;
use super::state::Live;
use super::tasks::Tasks;
use super::undo::Undo;
use super::Action;
use crate::notice::Notice;

/// The app's shared parts, lent to a panel.
pub struct Ctx<'a> {
    /// What the artist set (persisted).
    pub settings: &'a mut Settings,
    /// The render under way.
    pub live: &'a mut Live,
    /// The last message for the artist.
    pub notice: &'a mut Option<Notice>,
    /// Work handed off the UI thread.
    pub tasks: &'a mut Tasks,
    /// What the panels asked for this frame.
    pub actions: &'a mut Vec<Action>,
    /// Undo and redo of the settings.
    pub undo: &'a mut Undo,
}

impl Ctx<'_> {
    /// Shows `notice` in the status bar (replacing the last one).
    pub fn say(&mut self, notice: Notice) {
        *self.notice = Some(notice);
    }

    /// Asks the app for `action` once the panels are drawn.
    pub fn ask(&mut self, action: Action) {
        self.actions.push(action);
    }

    /// Whether a print is being rendered.
    pub fn printing(&self) -> bool {
        self.live.worker.printing()
    }
}
