//! History: a filmstrip of snapshots of the render, taken every [`EVERY`] iterations, when a
//! run ends and before each change of settings. Memory stays bounded: thumbnails in RAM, the full
//! images spilled (as PNGs with their settings, like exports) to a temporary folder removed on
//! exit, at most [`MAX_SNAPSHOTS`] kept. A snapshot can be shown, compared with the live image,
//! exported at full resolution, or used to start a new run with its settings.

use std::path::PathBuf;
use std::sync::Arc;

use egui::Ui;
use image::RgbaImage;

use super::ctx::Ctx;
use super::preview::Versioned;
use super::state::Live;
use super::tasks::{Purpose, Tasks};
use super::Action;
use crate::imageio::save_png;
use crate::notice::Notice;
use crate::transfer::{ImageRef, Init, RenderSpec};
use crate::worker::Frame;

/// Iterations between snapshots of a run.
pub const EVERY: usize = 25;
/// Snapshots kept; the oldest goes (with its file) when another is taken.
pub const MAX_SNAPSHOTS: usize = 48;
/// Height of a thumbnail, in pixels.
const THUMB: u32 = 72;

/// One moment of a render.
pub struct Snapshot {
    /// Unique within the session.
    pub id: u64,
    /// The run and iteration it shows.
    pub run: u64,
    /// Iterations done.
    pub iteration: usize,
    /// Its settings as run.
    pub spec: Arc<RenderSpec>,
    /// The full image's file (written in the background; usable once `spilled`).
    pub path: PathBuf,
    /// Whether the file is written.
    pub spilled: bool,
    /// Its thumbnail, once made (on the snapshot's task thread).
    thumb: Option<egui::TextureHandle>,
}

/// The snapshots of this session and what is shown.
#[derive(Default)]
pub struct Filmstrip {
    /// Where the full images go (removed on drop).
    dir: Option<tempfile::TempDir>,
    /// Oldest first.
    pub snapshots: Vec<Snapshot>,
    next_id: u64,
    /// The snapshot shown instead of the live image, and its full image once loaded.
    pub selected: Option<u64>,
    shown: Option<(u64, Versioned)>,
    /// Show the selected snapshot beside the live image (before/after) instead of alone.
    pub compare: bool,
    /// The last frame captured, `(run, iteration)`.
    last: Option<(u64, usize)>,
    /// A change of settings is pending: capture the current frame before it takes effect.
    pub changing: bool,
    /// A change of settings is under way (a slider held): one snapshot for all of it.
    pub change_open: bool,
}

impl Filmstrip {
    /// A filmstrip whose full images go to a new temporary folder (removed when it is dropped);
    /// without one, snapshots are not taken.
    pub fn new() -> Self {
        Filmstrip { dir: tempfile::Builder::new().prefix("nss-history-").tempdir().ok(), ..Filmstrip::default() }
    }

    /// Whether `frame` should be captured: a new run's first frame, [`EVERY`] iterations on,
    /// the end of a run, or the frame before a change of settings.
    fn wants(&self, frame: &Frame, finished: bool) -> bool {
        match self.last {
            Some((run, it)) if run == frame.run => {
                it != frame.iteration && (self.changing || finished || frame.iteration >= it + EVERY)
            }
            _ => true,
        }
    }

    /// The image to show in place of the live one, if a snapshot is selected and loaded.
    pub fn shown(&self) -> Option<&Versioned> {
        self.shown.as_ref().filter(|(id, _)| Some(*id) == self.selected).map(|(_, v)| v)
    }

    /// Snapshots the current frame before the settings change: once per change (a slider held
    /// down is one change), called when a change is sent or a run restarts.
    pub(super) fn before_change(&mut self, pointer_down: bool, live: &Live, tasks: &mut Tasks) {
        if !self.change_open {
            self.changing = true;
            self.capture(live, tasks);
            self.changing = false;
        }
        self.change_open = pointer_down;
    }

    /// The file of the selected snapshot, once written.
    pub(super) fn selected_file(&self) -> Option<PathBuf> {
        let id = self.selected?;
        self.snapshots.iter().find(|s| s.id == id && s.spilled).map(|s| s.path.clone())
    }

    /// Captures the newest frame when the filmstrip wants it (after each poll of the worker, and
    /// before a change of settings).
    pub(super) fn capture(&mut self, live: &Live, tasks: &mut Tasks) {
        let Some(frame) = &live.frame else { return };
        let finished = frame.iteration >= frame.total;
        if frame.run == u64::MAX || !self.wants(frame, finished) {
            return;
        }
        let Some(dir) = self.dir.as_ref().map(|d| d.path().to_path_buf()) else { return };
        let f = self;
        f.last = Some((frame.run, frame.iteration));
        f.changing = false;
        let id = f.next_id;
        f.next_id += 1;
        let path = dir.join(format!("{id:05}-iteration-{}.png", frame.iteration));
        f.snapshots.push(Snapshot {
            id,
            run: frame.run,
            iteration: frame.iteration,
            spec: frame.spec.clone(),
            path: path.clone(),
            spilled: false,
            thumb: None,
        });
        let trimmed = (f.snapshots.len() > MAX_SNAPSHOTS).then(|| f.snapshots.remove(0).path);
        // The thumbnail, the copy and the PNG are made on the task's thread: a print's frame is
        // tens of megabytes.
        let (picture, spec, iteration) = (frame.image.clone(), frame.spec.clone(), frame.iteration);
        tasks.spawn(
            "snapshot",
            move || {
                if let Some(old) = trimmed {
                    // A snapshot past the strip's length; left behind, it only takes disk space.
                    let _ = std::fs::remove_file(old);
                }
                let (w, h) = picture.dimensions();
                let thumb =
                    image::imageops::thumbnail(picture.as_ref(), (w * THUMB / h.max(1)).clamp(1, 4 * THUMB), THUMB);
                let image = image::DynamicImage::ImageRgba8((*picture).clone());
                let text = spec.png_text(iteration).map_err(|e| e.to_string());
                (thumb, text.and_then(|t| save_png(&image, &path, &t).map_err(|e| e.to_string())))
            },
            move |app, ctx, (thumb, saved)| app.panels.film.spilled(ctx, id, thumb, saved),
        );
    }

    /// A snapshot's thumbnail is made and its file written (or not: it stays a thumbnail only).
    fn spilled(&mut self, ctx: &egui::Context, id: u64, thumb: RgbaImage, result: Result<(), String>) {
        if let Some(s) = self.snapshots.iter_mut().find(|s| s.id == id) {
            s.spilled = result.is_ok();
            let image = super::preview::to_color_image(&thumb);
            s.thumb = Some(ctx.load_texture(format!("snapshot-{id}"), image, Default::default()));
        }
    }

    /// A snapshot's full image was read back for showing.
    fn loaded(&mut self, id: u64, image: Result<RgbaImage, String>, cx: &mut Ctx) {
        match image {
            Ok(image) => {
                cx.live.versions += 1;
                self.shown = Some((id, Versioned { image: Arc::new(image), version: cx.live.versions }));
            }
            Err(e) => cx.say(Notice::error(format!("The snapshot cannot be read: {e}"))),
        }
    }

    /// Shows snapshot `id` instead of the live image (its full image loads in the background).
    fn select(&mut self, id: u64, cx: &mut Ctx) {
        self.selected = Some(id);
        if self.shown.as_ref().is_some_and(|(s, _)| *s == id) {
            return;
        }
        let Some(s) = self.snapshots.iter().find(|s| s.id == id && s.spilled) else { return };
        let path = s.path.clone();
        cx.tasks.spawn(
            "snapshot",
            move || {
                crate::imageio::load_picture(&path).map_err(|e| e.to_string()).map(|p| match &p.alpha {
                    Some(a) => crate::imageio::attach_alpha(&p.rgb, a),
                    None => image::DynamicImage::ImageRgb8(p.rgb).into_rgba8(),
                })
            },
            move |app, _, image| {
                let (panels, mut cx) = app.parts();
                panels.film.loaded(id, image, &mut cx);
            },
        );
    }

    /// Exports the selected snapshot's full image (with its settings) to `path`, in the background.
    pub(super) fn export(&self, path: PathBuf, cx: &mut Ctx) {
        match self.selected_file() {
            Some(from) => {
                cx.tasks.copy_png(from, path);
                cx.say(Notice::info("Exporting…"));
            }
            None => cx.say(Notice::error("No snapshot is selected.")),
        }
    }

    /// Sets up a new run from the selected snapshot: its settings, starting from its image.
    fn start_from(&mut self, id: u64, cx: &mut Ctx) {
        let Some(s) = self.snapshots.iter().find(|s| s.id == id) else { return };
        let mut spec = (*s.spec).clone();
        spec.init_image = Some(ImageRef::new(&s.path));
        spec.run.init = Init::Image;
        cx.settings.spec = spec;
        self.selected = None;
        cx.ask(Action::Start);
    }

    /// The filmstrip under the preview, and what can be done with the selected snapshot.
    pub(super) fn ui(&mut self, ui: &mut Ui, cx: &mut Ctx) {
        if self.snapshots.is_empty() {
            return;
        }
        let mut clicked = None;
        egui::ScrollArea::horizontal().id_salt("filmstrip").stick_to_right(true).show(ui, |ui| {
            ui.horizontal(|ui| {
                for s in &self.snapshots {
                    let selected = self.selected == Some(s.id);
                    let text = egui::RichText::new(format!("iter {}", s.iteration)).small();
                    let button = match &s.thumb {
                        Some(thumb) => {
                            let size = thumb.size_vec2() * (48.0 / thumb.size_vec2().y.max(1.0));
                            egui::Button::image_and_text(egui::Image::new((thumb.id(), size)), text)
                        }
                        None => egui::Button::new(text).min_size(egui::vec2(48.0, 48.0)),
                    }
                    .selected(selected);
                    let hover = "Show this snapshot (click again for the live image)";
                    if ui.add(button).on_hover_text(hover).clicked() {
                        clicked = Some(s.id);
                    }
                }
            });
        });
        if let Some(id) = clicked {
            if self.selected == Some(id) {
                self.selected = None;
            } else {
                self.select(id, cx);
            }
        }
        let Some(id) = self.selected else { return };
        let Some(s) = self.snapshots.iter().find(|s| s.id == id) else { return };
        let (iteration, spilled) = (s.iteration, s.spilled);
        ui.horizontal_wrapped(|ui| {
            ui.label(format!("Snapshot at iteration {iteration}"));
            if ui.button("Back to live").clicked() {
                self.selected = None;
            }
            ui.checkbox(&mut self.compare, "Compare with live")
                .on_hover_text("The snapshot on the left of the divider, the live image on the right");
            if ui.add_enabled(spilled, egui::Button::new("Export snapshot…")).clicked() {
                cx.ask(Action::Pick(Purpose::ExportSnapshot));
            }
            if ui
                .add_enabled(spilled, egui::Button::new("Start from here"))
                .on_hover_text("A new run with this snapshot's settings, starting from its picture")
                .clicked()
            {
                self.start_from(id, cx);
            }
        });
    }
}
