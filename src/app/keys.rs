//! The keyboard: every shortcut in one table (which the overlay, F1 or ?, lists), read at the
//! start of each frame, so that they work whatever window is open, the built-in file browser
//! included. A text field being typed in keeps its keys.

use egui::{Key, Modifiers};

use super::ctx::Ctx;
use super::state::Panels;
use super::tasks::Purpose;
use super::Action;
use crate::worker::Status;

/// Every shortcut: its keys and what it does, as the overlay lists them.
pub const SHORTCUTS: &[(&str, &str)] = &[
    ("Space", "Start the render, or pause and resume it"),
    ("Ctrl+Z", "Undo the last change of the settings"),
    ("Ctrl+Shift+Z, Ctrl+Y", "Redo"),
    ("Ctrl+S", "Export the picture as PNG"),
    ("Ctrl+O", "Open settings (an exported PNG or JSON)"),
    ("Ctrl+V", "Paste a picture or file as the photo (over the Style panel: as a style)"),
    ("Ctrl+Shift+C", "Copy the picture shown"),
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
    Paste,
    CopyImage,
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
        take(Modifiers::COMMAND | Modifiers::SHIFT, Key::C, Pressed::CopyImage);
        take(Modifiers::COMMAND, Key::V, Pressed::Paste);

        take(Modifiers::NONE, Key::Space, Pressed::Space);
        take(Modifiers::NONE, Key::Escape, Pressed::Escape);
        take(Modifiers::NONE, Key::F1, Pressed::Help);
        take(Modifiers::SHIFT, Key::Questionmark, Pressed::Help);
        take(Modifiers::NONE, Key::Questionmark, Pressed::Help);
        // The window's own Ctrl+V arrives as a paste of what egui could read (text or a
        // picture); the app reads the clipboard itself, off the UI thread, for files too.
        let before = i.events.len();
        i.events.retain(|e| !matches!(e, egui::Event::Paste(_) | egui::Event::PasteImage(_)));
        if i.events.len() < before {
            out.push(Pressed::Paste);
        }
        out
    })
}

impl Panels {
    /// Acts on this frame's shortcuts.
    pub(super) fn keys(&mut self, ctx: &egui::Context, cx: &mut Ctx) {
        for p in pressed(ctx) {
            match p {
                Pressed::Undo => cx.ask(Action::Undo),
                Pressed::Redo => cx.ask(Action::Redo),
                Pressed::Export => cx.ask(Action::Pick(Purpose::Export)),
                Pressed::Open => cx.ask(Action::Pick(Purpose::Settings)),
                Pressed::Help => self.shortcuts = !self.shortcuts,
                Pressed::Space => match cx.live.status {
                    Status::Running => cx.ask(Action::Pause),
                    Status::Paused => cx.ask(Action::Resume),
                    Status::Preparing => {}
                    Status::Idle | Status::Stopped | Status::Failed(_) => cx.ask(Action::Start),
                },
                Pressed::Escape => self.escape(cx),
                Pressed::CopyImage => cx.ask(Action::CopyImage),
                Pressed::Paste => {
                    // Over the Style panel a picture is a style; elsewhere the photo.
                    let pointer = ctx.input(|i| i.pointer.hover_pos());
                    let on_styles = pointer.zip(self.style_rect).is_some_and(|(p, r)| r.contains(p));
                    cx.ask(Action::Paste(if on_styles { Purpose::AddStyle } else { Purpose::Content }));
                }
            }
        }
    }

    /// Esc: the print in progress goes back to the preview; otherwise the topmost dialog closes.
    fn escape(&mut self, cx: &mut Ctx) {
        if cx.printing() {
            cx.ask(Action::CancelPrint);
        } else if self.shortcuts {
            self.shortcuts = false;
        } else if self.about {
            self.about = false;
        } else if self.browser.is_some() {
            self.browser = None;
        } else if let Some(t) = self.try_styles.as_mut().filter(|t| t.open) {
            t.open = false;
        }
    }
}

/// The shortcuts overlay, while `open`.
pub(super) fn shortcuts_ui(open: &mut bool, ctx: &egui::Context) {
    let mut shown = *open;
    egui::Window::new("Keyboard shortcuts").open(&mut shown).collapsible(false).resizable(false).show(ctx, |ui| {
        egui::Grid::new("shortcuts").num_columns(2).spacing([16.0, 6.0]).striped(true).show(ui, |ui| {
            for (keys, what) in SHORTCUTS {
                ui.strong(*keys);
                ui.label(*what);
                ui.end_row();
            }
        });
    });
    *open &= shown;
}
