//! Work the UI thread hands off so that a frame never waits: file dialogs, decoding picked images
//! and thumbnails, reading stored settings, writing exports. Each task runs on its own short-lived
//! thread and reports back through one channel; the app polls it every frame.
//!
//! The system's file dialogs go through rfd (a desktop portal, or zenity). Where neither answers
//! (minimal window managers) rfd returns at once with nothing, exactly as if the artist had
//! cancelled; no person cancels a dialog within [`NO_DIALOG`], so a reply that fast means no
//! dialog was shown, and the app falls back to its in-app file browser.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use image::RgbaImage;

use super::App;
use crate::imageio::{fit_long_side, load_rgb, save_png};
use crate::transfer::spec::preset::{load_user_presets, save_user_presets};
use crate::transfer::{check_sources, read_settings, Preset, RenderSpec, StoredSpec};

/// A dialog reply faster than this means no dialog appeared.
pub const NO_DIALOG: Duration = Duration::from_millis(250);
/// Long side of the panel thumbnails.
const THUMB: u32 = 256;

/// Where a picked file goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The content photo.
    Content,
    /// A new style image.
    AddStyle,
    /// Replaces style image N.
    ReplaceStyle(usize),
    /// The picture the optimisation starts from.
    InitImage,
    /// Settings to open (a PNG this program exported, or JSON).
    Settings,
    /// Where to export the current image.
    Export,
    /// Where to export the selected snapshot.
    ExportSnapshot,
    /// A clip to open.
    Clip,
    /// Where to write the rendered clip.
    ClipOut,
    /// The ffmpeg program.
    Ffmpeg,
    /// A farm render's folder (a clip's frames folder, or a batch's prints) to follow.
    RenderFolder,
}

impl Purpose {
    /// File extensions offered for this purpose (lower case).
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Purpose::Export | Purpose::ExportSnapshot => &["png"],
            Purpose::Settings => &["png", "json"],
            Purpose::Clip => super::clip::CLIP_EXTENSIONS,
            Purpose::ClipOut => super::clip::CLIP_OUT_EXTENSIONS,
            Purpose::Ffmpeg | Purpose::RenderFolder => &[],
            _ => super::IMAGE_EXTENSIONS,
        }
    }

    /// Whether the browser lists `path` for this purpose.
    pub(super) fn accepts(self, path: &Path) -> bool {
        match self {
            Purpose::Ffmpeg => return true,
            // A folder is chosen; the files in it are not.
            Purpose::RenderFolder => return false,
            _ => {}
        }
        let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
        ext.is_some_and(|e| self.extensions().contains(&e.as_str()))
    }

    /// Title of the dialog.
    pub fn title(self) -> &'static str {
        match self {
            Purpose::Content => "Choose the content photo",
            Purpose::AddStyle => "Add a style painting",
            Purpose::ReplaceStyle(_) => "Replace the style painting",
            Purpose::InitImage => "Choose the picture to start from",
            Purpose::Settings => "Open settings (PNG or JSON)",
            Purpose::Export => "Export PNG",
            Purpose::ExportSnapshot => "Export the snapshot as PNG",
            Purpose::Clip => "Open a clip",
            Purpose::ClipOut => "Render the clip to (MP4, MOV, WebM, MKV, GIF or animated PNG)",
            Purpose::Ffmpeg => "Locate the ffmpeg program",
            Purpose::RenderFolder => "Open a render folder (a farm's frames folder, or a batch's prints)",
        }
    }

    /// Whether the file is one to write (a save dialog), not one to open.
    pub fn saves(self) -> bool {
        matches!(self, Purpose::Export | Purpose::ExportSnapshot | Purpose::ClipOut)
    }

    /// Whether a folder is chosen, not a file.
    pub fn picks_folder(self) -> bool {
        self == Purpose::RenderFolder
    }
}

/// Stored settings, and the images they name that are missing or changed (style index, or
/// `None` for the content; why).
pub type OpenedSettings = (Box<StoredSpec>, Vec<(Option<usize>, String)>);

/// What a finished task does to the app: its result, applied on the UI thread at the next
/// frame. A task is one value, its work and its completion written together at the spawn.
pub type Completion = Box<dyn FnOnce(&mut App, &egui::Context) + Send>;

/// The channel background tasks report into.
pub struct Tasks {
    tx: Sender<Completion>,
    rx: Receiver<Completion>,
    wake: egui::Context,
    /// Tasks started and not yet reported.
    pub pending: usize,
}

impl Tasks {
    /// A channel whose tasks repaint `ctx` when they finish.
    pub fn new(ctx: egui::Context) -> Self {
        let (tx, rx) = mpsc::channel();
        Tasks { tx, rx, wake: ctx, pending: 0 }
    }

    /// The completions of the tasks finished since the last call.
    pub fn poll(&mut self) -> Vec<Completion> {
        let done: Vec<Completion> = self.rx.try_iter().collect();
        self.pending = self.pending.saturating_sub(done.len());
        done
    }

    /// Runs `work` on its own thread; `then` applies its result to the app on the UI thread
    /// (through [`Tasks::poll`]).
    pub(super) fn spawn<T: Send + 'static>(
        &mut self,
        name: &str,
        work: impl FnOnce() -> T + Send + 'static,
        then: impl FnOnce(&mut App, &egui::Context, T) + Send + 'static,
    ) {
        let (tx, wake) = (self.tx.clone(), self.wake.clone());
        self.pending += 1;
        let spawned = std::thread::Builder::new().name(format!("nss-{name}")).spawn(move || {
            let result = work();
            let done: Completion = Box::new(move |app, ctx| then(app, ctx, result));
            // The app may have closed the receiver on exit: the result has nobody to go to.
            let _ = tx.send(done);
            wake.request_repaint();
        });
        if spawned.is_err() {
            self.pending -= 1;
        }
    }

    /// Opens the system's file dialog for `purpose` on its own thread.
    pub fn pick(&mut self, purpose: Purpose, dir: Option<PathBuf>, file_name: Option<String>) {
        self.spawn(
            "dialog",
            move || {
                let mut dialog = rfd::FileDialog::new().set_title(purpose.title());
                let kind = match purpose {
                    Purpose::Export | Purpose::ExportSnapshot => "PNG",
                    Purpose::Settings => "Settings",
                    Purpose::Clip | Purpose::ClipOut => "Clips",
                    _ => "Images",
                };
                if !purpose.extensions().is_empty() {
                    dialog = dialog.add_filter(kind, purpose.extensions());
                }
                if let Some(dir) = dir {
                    dialog = dialog.set_directory(dir);
                }
                if let Some(name) = file_name {
                    dialog = dialog.set_file_name(name);
                }
                let opened = Instant::now();
                let saving = purpose.saves();
                let path = match (saving, purpose.picks_folder()) {
                    (true, _) => dialog.save_file(),
                    (false, true) => dialog.pick_folder(),
                    (false, false) => dialog.pick_file(),
                };
                let shown = path.is_some() || opened.elapsed() >= NO_DIALOG;
                (path, shown)
            },
            move |app, _, (path, shown)| app.picked(purpose, path, shown),
        );
    }

    /// Decodes `path` and makes its panel thumbnail.
    pub fn decode(&mut self, path: &Path, purpose: Option<Purpose>) {
        let path = path.to_path_buf();
        let file = path.clone();
        self.spawn(
            "decode",
            move || {
                load_rgb(&file).map_err(|e| e.to_string()).map(|img| {
                    let (w, h) = fit_long_side(img.dimensions(), THUMB.min(img.width().max(img.height())));
                    image::DynamicImage::ImageRgb8(image::imageops::thumbnail(&img, w, h)).into_rgba8()
                })
            },
            move |app, ctx, thumbnail| app.decoded(ctx, path, purpose, thumbnail),
        );
    }

    /// Reads the settings stored in `path` and checks the images they name; once they are
    /// applied, `then` runs (files opened together open after the settings they came with).
    pub fn read_settings(&mut self, path: &Path, then: impl FnOnce(&mut App) + Send + 'static) {
        let path = path.to_path_buf();
        let file = path.clone();
        self.spawn(
            "settings",
            move || {
                read_settings(&file).map_err(|e| e.to_string()).map(|stored| {
                    let faults = check_sources(&stored.spec).into_iter().map(|(i, e)| (i, e.to_string())).collect();
                    (Box::new(stored), faults)
                })
            },
            move |app, _, result| {
                app.settings_read(path, result);
                then(app);
            },
        );
    }

    /// The context tasks repaint (and textures are made with).
    pub fn ctx(&self) -> &egui::Context {
        &self.wake
    }

    /// Copies the PNG `from` to `to` (atomically: a temporary file renamed over it).
    pub fn copy_png(&mut self, from: PathBuf, to: PathBuf) {
        self.spawn(
            "export",
            move || {
                let tmp = to.with_extension("png.tmp");
                let copied = std::fs::copy(&from, &tmp).and_then(|_| std::fs::rename(&tmp, &to));
                if copied.is_err() {
                    // The copy's error is the one reported; a leftover temporary is harmless.
                    let _ = std::fs::remove_file(&tmp);
                }
                copied.map(|()| to).map_err(|e| e.to_string())
            },
            |app, _, result| app.exported(result),
        );
    }

    /// Writes `picture` to `path` (atomically, with the settings of `spec` at `iteration`).
    pub fn export(&mut self, picture: Arc<RgbaImage>, spec: Arc<RenderSpec>, iteration: usize, path: PathBuf) {
        self.spawn(
            "export",
            move || {
                // The copy and the settings' text are made here, not on the UI thread: a print
                // is tens of megabytes, and a painted mask is encoded as PNG.
                let text = spec.png_text(iteration).map_err(|e| e.to_string())?;
                let image = image::DynamicImage::ImageRgba8((*picture).clone());
                save_png(&image, &path, &text).map(|()| path).map_err(|e| e.to_string())
            },
            |app, _, result| app.exported(result),
        );
    }
}

impl Tasks {
    /// Reads the artist's presets from `path`.
    pub fn load_presets(&mut self, path: PathBuf) {
        self.spawn(
            "presets",
            move || load_user_presets(&path).map_err(|e| e.to_string()),
            |app, _, result| {
                let (panels, mut cx) = app.parts();
                panels.presets.loaded(result, &mut cx);
            },
        );
    }

    /// Writes `presets` to `path` (atomically); `name` is the one just added.
    pub fn save_presets(&mut self, path: PathBuf, presets: Vec<Preset>, name: String) {
        self.spawn(
            "presets",
            move || save_user_presets(&path, &presets).map(|()| presets).map_err(|e| e.to_string()),
            move |app, _, result| {
                let (panels, mut cx) = app.parts();
                panels.presets.done(result.map(|list| (list, Some(name))), &mut cx);
            },
        );
    }
}
