//! The side panel: the run's controls, the settings row, images, clip, styles, masks, weights,
//! optimiser and print.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use egui::{SliderClamping, Ui};

use super::ctx::Ctx;
use super::model::Models;
use super::presets::Presets;
use super::state::Panels;
use super::tasks::Purpose;
use super::tasks::Tasks;
use super::Action;
use crate::notice::Level;
use crate::transfer::{Init, OptimizerKind};
use crate::worker::Status;

/// Image file extensions offered by the open dialogs.
pub const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff"];

/// The panel thumbnails of the images the settings name; `None` while decoding or for a file
/// that cannot be read.
#[derive(Default)]
pub struct Thumbs(pub(super) HashMap<PathBuf, Option<egui::TextureHandle>>);

impl Thumbs {
    /// The thumbnail of `path`, decoded in the background on first request.
    fn get(&mut self, path: &Path, tasks: &mut Tasks) -> Option<egui::TextureHandle> {
        if !self.0.contains_key(path) {
            self.0.insert(path.to_path_buf(), None);
            tasks.decode(path, None);
        }
        self.0.get(path).cloned().flatten()
    }
}

impl Panels {
    /// Left panel: everything the artist sets.
    pub(super) fn side_ui(&mut self, ui: &mut Ui, cx: &mut Ctx) {
        // The run's controls and its messages first, where they are always in view; the settings
        // scroll below them.
        run_controls(ui, cx);
        ui.separator();
        egui::ScrollArea::vertical().show(ui, |ui| {
            self.settings_row(ui, cx);
            ui.separator();
            ui.heading("Content");
            let content = cx.settings.spec.content.as_ref().map(|c| c.path.clone());
            let r = image_slot(&mut self.thumbs, ui, content, cx);
            self.content_rect = Some(r.rect);
            ui.separator();
            ui.heading("Clip");
            self.clip.ui(ui, &self.ffmpeg, cx);
            ui.separator();
            ui.heading("Style");
            self.style_rect = Some(styles_section(&mut self.thumbs, ui, cx));
            egui::CollapsingHeader::new("Masks").show(ui, |ui| self.masks.ui(ui, cx));
            ui.separator();
            weights_section(&mut self.presets, &mut self.models, ui, cx);
            ui.separator();
            optimiser_section(ui, cx);
            ui.separator();
            super::print::print_ui(ui, cx);
        });
    }

    /// Undo and redo, open settings, the file-browser preference, and images the opened settings
    /// could not find.
    fn settings_row(&mut self, ui: &mut Ui, cx: &mut Ctx) {
        ui.horizontal(|ui| {
            if ui.add_enabled(cx.undo.can_undo(), egui::Button::new("Undo")).on_hover_text("Ctrl+Z").clicked() {
                cx.ask(Action::Undo);
            }
            let redo = ui.add_enabled(cx.undo.can_redo(), egui::Button::new("Redo"));
            if redo.on_hover_text("Ctrl+Shift+Z or Ctrl+Y").clicked() {
                cx.ask(Action::Redo);
            }
            if ui.button("Shortcuts").on_hover_text("Every keyboard shortcut (F1 or ?)").clicked() {
                self.shortcuts = !self.shortcuts;
            }
            if ui.button("About").on_hover_text("Version, built-in networks and their licences").clicked() {
                self.about = !self.about;
            }
        });
        ui.horizontal(|ui| {
            if ui.button("Open settings…").on_hover_text("From a PNG exported here, or a JSON file (Ctrl+O)").clicked()
            {
                cx.ask(Action::Pick(Purpose::Settings));
            }
            self.recent.ui(ui, cx);
            if ui
                .button("Open render folder…")
                .on_hover_text("Follow a render on many machines: a clip's frames folder, or a batch's prints")
                .clicked()
            {
                cx.ask(Action::Pick(Purpose::RenderFolder));
            }
            ui.checkbox(&mut cx.settings.builtin_browser, "Built-in file browser")
                .on_hover_text("Pick files inside the app instead of the system's dialog");
        });
        for (slot, why) in &self.to_locate {
            ui.horizontal_wrapped(|ui| {
                ui.label(egui::RichText::new(why).color(ui.visuals().warn_fg_color).small());
                let purpose = slot.map_or(Purpose::Content, Purpose::ReplaceStyle);
                if ui.small_button("Locate…").clicked() {
                    cx.ask(Action::Pick(purpose));
                }
            });
        }
    }
}

/// The content photo's slot (returned: where it was drawn, for dropped files).
fn image_slot(thumbs: &mut Thumbs, ui: &mut Ui, path: Option<PathBuf>, cx: &mut Ctx) -> egui::Response {
    ui.vertical(|ui| {
        if let Some(p) = &path {
            match thumbs.get(p, cx.tasks) {
                Some(tex) => {
                    let size = tex.size_vec2();
                    let scale = (200.0 / size.x).min(120.0 / size.y).min(1.0);
                    ui.image((tex.id(), size * scale));
                }
                None => placeholder(ui, egui::vec2(160.0, 100.0)),
            }
            ui.label(egui::RichText::new(file_name(p)).small());
        } else {
            ui.label(egui::RichText::new("Drop an image here").weak());
        }
        ui.horizontal(|ui| {
            if ui.button("Choose content…").clicked() {
                cx.ask(Action::Pick(Purpose::Content));
            }
            if ui.button("Paste").on_hover_text("A picture or a file copied elsewhere (Ctrl+V)").clicked() {
                cx.ask(Action::Paste(Purpose::Content));
            }
        });
    })
    .response
}

/// Where a thumbnail will be once it has decoded.
fn placeholder(ui: &mut Ui, size: egui::Vec2) {
    let (rect, _) = ui.allocate_exact_size(size, egui::Sense::hover());
    ui.painter().rect_filled(rect, 4.0, ui.visuals().faint_bg_color);
    egui::Spinner::new().paint_at(ui, egui::Rect::from_center_size(rect.center(), egui::vec2(16.0, 16.0)));
}

/// The style paintings with their blends, the instant strength, Add style and Try styles
/// (returned: where they were drawn, for dropped files).
fn styles_section(thumbs: &mut Thumbs, ui: &mut Ui, cx: &mut Ctx) -> egui::Rect {
    let mut remove = None;
    let n = cx.settings.spec.styles.len();
    let top = ui.cursor().min;
    for i in 0..n {
        let path = cx.settings.spec.styles[i].path.clone();
        ui.horizontal(|ui| {
            match thumbs.get(&path, cx.tasks) {
                Some(tex) => {
                    let size = tex.size_vec2();
                    let scale = (64.0 / size.x).min(64.0 / size.y).min(1.0);
                    ui.image((tex.id(), size * scale));
                }
                None => placeholder(ui, egui::vec2(64.0, 48.0)),
            }
            ui.vertical(|ui| {
                ui.label(egui::RichText::new(file_name(&path)).small());
                if let (true, Some(blend)) = (n > 1, cx.settings.spec.objective.style_blend.get_mut(i)) {
                    ui.add(slider(blend, 0.0..=1.0).text(format!("Blend {}", i + 1)));
                }
                ui.horizontal(|ui| {
                    if ui.small_button("Replace…").clicked() {
                        cx.ask(Action::Pick(Purpose::ReplaceStyle(i)));
                    }
                    if ui.small_button("Remove").clicked() {
                        remove = Some(i);
                    }
                });
            });
        });
    }
    if let Some(i) = remove {
        cx.settings.spec.remove_style(i);
    }
    if n == 0 {
        ui.label(egui::RichText::new("Drop a painting here").weak());
    } else {
        let strength = slider(&mut cx.settings.spec.instant.strength, 0.0..=1.0).text("Instant strength");
        ui.add(strength).on_hover_text(super::instant::STRENGTH_HOVER);
    }
    ui.horizontal(|ui| {
        if ui.button("Add style…").clicked() {
            cx.ask(Action::Pick(Purpose::AddStyle));
        }
        let hover = "A picture or a file copied elsewhere (Ctrl+V over this panel)";
        if ui.button("Paste as style").on_hover_text(hover).clicked() {
            cx.ask(Action::Paste(Purpose::AddStyle));
        }
        let ready = cx.settings.spec.content.is_some() && n > 0;
        let hover = "Each style under each preset, small, side by side; click one to use its look";
        if ui.add_enabled(ready, egui::Button::new("Try styles…")).on_hover_text(hover).clicked() {
            cx.ask(Action::TryStyles);
        }
    });
    egui::Rect::from_min_max(top, ui.cursor().min + egui::vec2(ui.available_width(), 0.0))
}

/// The look, presets, weights, size and stages, photo colours, and the Advanced section.
fn weights_section(presets: &mut Presets, models: &mut Models, ui: &mut Ui, cx: &mut Ctx) {
    ui.heading("Weights");
    presets.ui(ui, cx);
    let s = &mut cx.settings.spec;
    let o = &mut s.objective;
    ui.add(slider(&mut o.content_weight, 1e-3..=1e3).logarithmic(true).text("Content weight"));
    ui.add(slider(&mut o.style_weight, 1e-2..=1e5).logarithmic(true).text("Style weight"));
    ui.add(slider(&mut o.tv_weight, 0.0..=1e3).logarithmic(true).smallest_positive(1e-3).text("TV weight"));
    // The further terms the look weighs (the Photo look's photorealism), by their kinds' labels.
    for (name, weight) in o.weights.iter_mut() {
        let label = crate::transfer::loss::kind(name).map_or(name.as_str(), |k| k.label);
        ui.add(slider(weight, 0.0..=1e9).logarithmic(true).smallest_positive(1.0).text(format!("{label} weight")));
    }
    ui.add(slider(&mut s.style_scale, 0.25..=2.0).text("Style scale"));
    ui.add(slider(&mut s.size, 64..=1024).step_by(32.0).text("Size (px)"));
    schedule_ui(&mut s.schedule, s.size, ui);
    ui.horizontal(|ui| {
        use crate::transfer::PreserveColors;
        ui.label("Photo colours").on_hover_text(
            "Luminance: the result's light and dark with the photo's colours (instant). \
             Statistics: the paintings recoloured to the photo's palette before the transfer (restarts).",
        );
        ui.selectable_value(&mut s.preserve_colors, PreserveColors::Off, "Off");
        ui.selectable_value(&mut s.preserve_colors, PreserveColors::Luminance, "Luminance");
        ui.selectable_value(&mut s.preserve_colors, PreserveColors::Histogram, "Statistics");
    });
    egui::CollapsingHeader::new("Advanced").show(ui, |ui| {
        models.ui(ui, cx);
        let s = &mut cx.settings.spec;
        Models::device_ui(&mut s.device, ui);
        super::layers::layers_ui(s, ui);
        ui.checkbox(&mut s.objective.normalize_gradients, "Normalise gradients").on_hover_text(
            "Each layer's pull on the picture scaled to the same size, as neural-style's \
             -normalize_gradients: the style weight then means something else (try 1-10)",
        );
        for (tap, w) in &mut s.objective.style_layers {
            ui.add(slider(w, 0.0..=10.0).text(tap.to_string()));
        }
    });
}

/// The iteration budget and the stages it runs in. Explicit stages (from stored settings or the
/// command line) fix the schedule until the artist returns to the automatic one.
fn schedule_ui(schedule: &mut crate::transfer::Schedule, size: u32, ui: &mut Ui) {
    if schedule.stages.last().is_some_and(|s| s.size != size) {
        // The artist moved the size away from the custom stages' end: back to automatic.
        schedule.stages.clear();
    }
    let custom = !schedule.stages.is_empty();
    ui.add_enabled(!custom, slider(&mut schedule.iterations, 10..=2000).logarithmic(true).text("Iterations"));
    ui.horizontal(|ui| {
        ui.add_enabled_ui(!custom, |ui| {
            ui.label("Stages").on_hover_text(
                "Auto: up to 640 px in one stage; larger pictures settle at 512 px, where the look is \
                 tuned, then grow in steps of at most 2x, adding finer detail with fewer iterations",
            );
            ui.selectable_value(&mut schedule.scales, 0, "Auto");
            ui.selectable_value(&mut schedule.scales, 1, "Single");
            ui.selectable_value(&mut schedule.scales, 2, "2");
            ui.selectable_value(&mut schedule.scales, 3, "3");
        });
    });
    let plan: Vec<String> = schedule.plan(size).iter().map(|s| s.to_string()).collect();
    ui.horizontal_wrapped(|ui| {
        ui.weak(format!("{} (px x iterations)", plan.join(" -> ")));
        if custom && ui.small_button("Use automatic").clicked() {
            schedule.stages.clear();
        }
    });
}

/// The optimiser, its learning rate, averaging, the start and the seed.
fn optimiser_section(ui: &mut Ui, cx: &mut Ctx) {
    let s = &mut cx.settings.spec.run;
    ui.heading("Optimiser");
    ui.horizontal(|ui| {
        let before = s.optimizer;
        ui.selectable_value(&mut s.optimizer, OptimizerKind::Lbfgs, "L-BFGS");
        ui.selectable_value(&mut s.optimizer, OptimizerKind::Adam, "Adam");
        if s.optimizer != before {
            s.lr = s.optimizer.default_lr();
        }
    });
    ui.add(slider(&mut s.lr, 1e-3..=2.0).logarithmic(true).text("Learning rate"));
    let mut averaged = s.average > 0.0;
    let hover = "Show the average of the recent iterations instead of the latest: calmer with Adam \
                 (the Modern look's default)";
    if ui.checkbox(&mut averaged, "Show the average of iterations").on_hover_text(hover).changed() {
        s.average = if averaged { crate::transfer::spec::look::MODERN_AVERAGE } else { 0.0 };
    }
    let mut pick = false;
    ui.horizontal_wrapped(|ui| {
        ui.label("Init");
        ui.selectable_value(&mut s.init, Init::Instant, "Instant")
            .on_hover_text("The instant look: the painting's style on the photo from the first frame");
        ui.selectable_value(&mut s.init, Init::Content, "Content");
        ui.selectable_value(&mut s.init, Init::Grey, "Grey")
            .on_hover_text("Flat grey, as the classic tools start: the most painted look");
        ui.selectable_value(&mut s.init, Init::Noise, "Noise");
        ui.selectable_value(&mut s.init, Init::Style, "Style");
        let hover = "Start from a picture of your choosing: an earlier render, a sketch";
        pick = ui.selectable_label(s.init == Init::Image, "Image…").on_hover_text(hover).clicked();
    });
    let spec = &cx.settings.spec;
    if let Some(image) = spec.init_image.as_ref().filter(|_| spec.run.init == Init::Image) {
        ui.weak(format!("Starts from {}", file_name(&image.path)));
    }
    if pick {
        cx.ask(Action::Pick(Purpose::InitImage));
    }
    let s = &mut cx.settings.spec.run;
    ui.horizontal(|ui| {
        let label = ui.label("Seed");
        ui.add(egui::DragValue::new(&mut s.seed)).labelled_by(label.id);
        ui.checkbox(&mut s.unbounded, "Unbounded (classic)").on_hover_text(
            "Let values go below black and above white while optimising, as the classic tools do. \
             Off: the picture shown and exported is exactly the one optimised.",
        );
    });
}

/// Start, Pause or Resume, Stop, Reset, Export, the message, and the CPU fallback.
fn run_controls(ui: &mut Ui, cx: &mut Ctx) {
    let status = cx.live.status.clone();
    ui.horizontal_wrapped(|ui| {
        if ui.button("Start").clicked() {
            cx.ask(Action::Start);
        }
        let toggle = match status {
            Status::Running | Status::Preparing => Some(("Pause", Action::Pause)),
            Status::Paused => Some(("Resume", Action::Resume)),
            _ => None,
        };
        if let Some((label, action)) = toggle {
            if ui.button(label).clicked() {
                cx.ask(action);
            }
        }
        if ui.add_enabled(matches!(status, Status::Running | Status::Paused), egui::Button::new("Stop")).clicked() {
            cx.ask(Action::Stop);
        }
        if ui.button("Reset").on_hover_text("Restore default weights and settings (keeps the images)").clicked() {
            cx.ask(Action::Reset);
        }
    });
    ui.horizontal(|ui| {
        let made = cx.live.frame.is_some();
        if ui.add_enabled(made, egui::Button::new("Export PNG…")).on_hover_text("Ctrl+S").clicked() {
            cx.ask(Action::Pick(Purpose::Export));
        }
        let hover = "The picture shown, to paste into another program (Ctrl+Shift+C)";
        if ui.add_enabled(made, egui::Button::new("Copy image")).on_hover_text(hover).clicked() {
            cx.ask(Action::CopyImage);
        }
    });
    if let Some(notice) = &cx.notice {
        let color = match notice.level {
            Level::Info => ui.visuals().weak_text_color(),
            Level::Warning => ui.visuals().warn_fg_color,
            Level::Error => ui.visuals().error_fg_color,
        };
        ui.label(egui::RichText::new(&notice.text).color(color));
    }
    Models::cpu_fallback_ui(ui, cx);
}

/// A slider that never changes a value it did not set: settings loaded from a file or the command
/// line may lie outside its range (e.g. 2 iterations), and a running render takes every change.
pub(super) fn slider<'a, N: egui::emath::Numeric>(
    value: &'a mut N,
    range: std::ops::RangeInclusive<N>,
) -> egui::Slider<'a> {
    egui::Slider::new(value, range).clamping(SliderClamping::Edits)
}

fn file_name(p: &std::path::Path) -> String {
    p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned())
}
