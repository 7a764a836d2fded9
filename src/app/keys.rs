//! The keyboard: every shortcut in one table (which the overlay, F1 or ?, lists), read at the
//! start of each frame, so that they work whatever window is open, the built-in file browser
//! included. A text field being typed in keeps its keys.

use egui::{Key, Modifiers};

use super::tasks::Purpose;
use super::{Action, App};
use crate::worker::Status;

/// Every shortcut: its keys and what it does, as the overlay lists them.
pub const SHORTCUTS: &[(&str, &str)] = &[
    ("Space", "Start the render, or pause and resume it"),
    ("Ctrl+Z", "Undo the last change of the settings"),
    ("Ctrl+Shift+Z, Ctrl+Y", "Redo"),
    ("Ctrl+S", "Export the picture as PNG"),
    ("Ctrl+O", "Open settings (an exported PNG or JSON)"),
    ("Esc", "Cancel the print in progress, or close the open dialog"),
    ("F1, ?", "Show or hide this list"),
    ("Mouse wheel, drag, double-click", "Zoom about the cursor, pan, fit the preview"),
];

/// What the keys pressed this frame ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pressed {
    Space,
    Undo,
    Redo,
    Export,
    Open,
    Escape,
    Help,
}

/// Takes this frame's shortcuts out of the input, in the order they were pressed.
fn pressed(ctx: &egui::Context) -> Vec<Pressed> {
    if ctx.egui_wants_keyboard_input() {
        return Vec::new();
    }
    ctx.input_mut(|i| {
        let mut out = Vec::new();
        let mut take = |m: Modifiers, k: Key, p: Pressed| {
            if i.consume_key(m, k) {
                out.push(p);
            }
        };
        // Shift+Z first: Ctrl+Z would match it too.
        take(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z, Pressed::Redo);
        take(Modifiers::COMMAND, Key::Y, Pressed::Redo);
        take(Modifiers::COMMAND, Key::Z, Pressed::Undo);
        take(Modifiers::COMMAND, Key::S, Pressed::Export);
        take(Modifiers::COMMAND, Key::O, Pressed::Open);
        take(Modifiers::NONE, Key::Space, Pressed::Space);
        take(Modifiers::NONE, Key::Escape, Pressed::Escape);
        take(Modifiers::NONE, Key::F1, Pressed::Help);
        take(Modifiers::SHIFT, Key::Questionmark, Pressed::Help);
        take(Modifiers::NONE, Key::Questionmark, Pressed::Help);
        out
    })
}

impl App {
    /// Acts on this frame's shortcuts.
    pub(super) fn keys(&mut self, ctx: &egui::Context) {
        for p in pressed(ctx) {
            match p {
                Pressed::Undo => self.actions.push(Action::Undo),
                Pressed::Redo => self.actions.push(Action::Redo),
                Pressed::Export => self.actions.push(Action::Pick(Purpose::Export)),
                Pressed::Open => self.actions.push(Action::Pick(Purpose::Settings)),
                Pressed::Help => self.panels.shortcuts = !self.panels.shortcuts,
                Pressed::Space => match self.live.status {
                    Status::Running => self.actions.push(Action::Pause),
                    Status::Paused => self.actions.push(Action::Resume),
                    Status::Preparing => {}
                    Status::Idle | Status::Stopped | Status::Failed(_) => self.actions.push(Action::Start),
                },
                Pressed::Escape => self.escape(),
            }
        }
    }

    /// Esc: the print in progress goes back to the preview; otherwise the topmost dialog closes.
    fn escape(&mut self) {
        if self.printing() {
            self.actions.push(Action::CancelPrint);
        } else if self.panels.shortcuts {
            self.panels.shortcuts = false;
        } else if self.panels.about {
            self.panels.about = false;
        } else if self.panels.browser.is_some() {
            self.panels.browser = None;
        } else if let Some(t) = self.panels.try_styles.as_mut().filter(|t| t.open) {
            t.open = false;
        }
    }

    /// The shortcuts overlay, when asked for.
    pub(super) fn shortcuts_ui(&mut self, ctx: &egui::Context) {
        let mut open = self.panels.shortcuts;
        egui::Window::new("Keyboard shortcuts").open(&mut open).collapsible(false).resizable(false).show(ctx, |ui| {
            egui::Grid::new("shortcuts").num_columns(2).spacing([16.0, 6.0]).striped(true).show(ui, |ui| {
                for (keys, what) in SHORTCUTS {
                    ui.strong(*keys);
                    ui.label(*what);
                    ui.end_row();
                }
            });
        });
        self.panels.shortcuts &= open;
    }
}
