//! Presets in the app: pick a named look (it steers a running render like the sliders do) or
//! save the current one under a name. The artist's presets are read and written in the
//! background ([`super::tasks`]).

use std::path::PathBuf;

use egui::Ui;

use super::ctx::Ctx;
use super::Action;
use crate::notice::Notice;
use crate::transfer::spec::preset::{all_presets, user_presets_path, SpecLook};
use crate::transfer::{Look, Preset};

/// The artist's presets and the name being typed for a new one (runtime state, not persisted:
/// the presets file is the record).
#[derive(Debug, Default)]
pub struct Presets {
    /// Presets from the config folder (empty until read, or when the file is unreadable).
    user: Vec<Preset>,
    /// The built-ins and `user`, as offered (rebuilt when `user` changes, not every frame).
    all: Vec<Preset>,
    /// Where they are kept (`None`: the system has no config folder).
    pub path: Option<PathBuf>,
    /// The name typed for a new preset.
    pub new_name: String,
    /// The file exists but could not be read (damaged, or written by a newer version): it is
    /// kept as it is, so saving a preset over it is refused.
    pub unreadable: bool,
}

impl Presets {
    /// Where the artist's presets live; reading them is started by the app.
    pub fn new() -> Self {
        Presets { path: user_presets_path(), all: all_presets(Vec::new()), ..Presets::default() }
    }

    /// The presets offered: the built-ins, then the artist's.
    pub fn offered(&self) -> &[Preset] {
        &self.all
    }

    /// Replaces the artist's presets.
    fn set_user(&mut self, user: Vec<Preset>) {
        self.all = all_presets(user.clone());
        self.user = user;
    }

    /// The Look row, the preset picker and the "Save preset" row.
    pub(super) fn ui(&mut self, ui: &mut Ui, cx: &mut Ctx) {
        let all = &self.all;
        let spec = &mut cx.settings.spec;
        // The spec's look once per frame, compared with every preset.
        let look = SpecLook::of(spec);
        let current = all.iter().find(|p| p.matches_look(&look)).map_or("Custom", |p| p.name.as_str()).to_string();
        let mut failed = None;
        ui.horizontal(|ui| {
            ui.label("Look").on_hover_text(
                "Classic: Gatys et al. as the classic tools run it (L-BFGS). Modern: after \
             crowsonkb/style-transfer-pytorch, every layer's texture in balance, Adam, the average \
             of the recent iterations shown. Rich: the sliced-Wasserstein style loss, each layer's \
             whole feature distribution matched, which keeps the painting's palette (L-BFGS; no \
             style masks). Sets the weights and the optimiser.",
            );
            for look in Look::ALL {
                let on = spec.objective.look == look;
                if ui.selectable_label(on, look.label()).clicked() && !on {
                    look.apply(spec);
                }
            }
        });
        ui.horizontal(|ui| {
            egui::ComboBox::from_label("Preset").selected_text(current).show_ui(ui, |ui| {
                for preset in all {
                    let picked = ui
                        .selectable_label(preset.matches_look(&look), &preset.name)
                        .on_hover_text(&preset.description);
                    if picked.clicked() {
                        if let Err(e) = preset.apply(spec) {
                            failed = Some(e.to_string());
                        }
                    }
                }
            });
        });
        ui.horizontal(|ui| {
            let name = &mut self.new_name;
            let field = egui::TextEdit::singleline(name).hint_text("Name").desired_width(120.0);
            ui.add(field).on_hover_text("Name for the current look");
            let ready = !name.trim().is_empty() && self.path.is_some();
            if ui.add_enabled(ready, egui::Button::new("Save preset")).clicked() {
                cx.ask(Action::SavePreset(name.trim().to_string()));
            }
        });
        if let Some(e) = failed {
            cx.say(Notice::error(e));
        }
    }

    /// Saves the current look as the artist's preset `name` (replacing one of that name).
    pub(super) fn save(&mut self, name: String, cx: &mut Ctx) {
        let Some(path) = self.path.clone() else { return };
        if self.unreadable {
            cx.say(Notice::error(format!(
                "The presets in {} could not be read, and are kept as they are: move that file aside (or \
                 update the app) to save presets.",
                path.display()
            )));
            return;
        }
        let mut list: Vec<Preset> = self.user.iter().filter(|p| !p.name.eq_ignore_ascii_case(&name)).cloned().collect();
        list.push(Preset::of(&name, "Saved by you", &cx.settings.spec));
        cx.tasks.save_presets(path, list, name);
    }

    /// Takes the artist's presets as read, or says why they could not be (the file is then
    /// kept, and not saved over).
    pub(super) fn loaded(&mut self, read: std::result::Result<Vec<Preset>, String>, cx: &mut Ctx) {
        self.unreadable = read.is_err();
        self.done(read.map(|list| (list, None)), cx);
    }

    /// Takes the result of reading or saving the artist's presets.
    pub(super) fn done(&mut self, done: std::result::Result<(Vec<Preset>, Option<String>), String>, cx: &mut Ctx) {
        match done {
            Ok((list, saved)) => {
                self.set_user(list);
                if let Some(name) = saved {
                    self.new_name.clear();
                    cx.say(Notice::info(format!("Saved the preset \"{name}\".")));
                }
            }
            // The file is kept as it is; the built-ins are still offered.
            Err(e) => cx.say(Notice::warning(e)),
        }
    }
}
