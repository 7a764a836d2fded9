//! The desktop app (egui/eframe): panels that edit [`Settings`], a [`Worker`] that optimises in
//! the background, and a GPU preview of the newest frame. The UI thread never waits on compute.

mod panels;
pub mod preview;
pub mod settings;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use candle_core::Device;
use image::RgbaImage;

pub use panels::IMAGE_EXTENSIONS;
pub use settings::{Settings, StyleEntry};

use crate::imageio::{load_rgb, save_png};
use crate::model::default_device;
use crate::transfer::Objective;
use crate::worker::{Command, Frame, LossPoint, Status, Worker};
use preview::Versioned;

/// How the app is launched (from its command line).
#[derive(Debug, Clone, Default)]
pub struct Launch {
    /// Settings to load instead of the remembered ones (fields given on the command line).
    pub settings: Option<Settings>,
    /// Start a run at once.
    pub start: bool,
}

/// Something a panel asked for; applied after the panels are drawn.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Open a file dialog: "content", "style" or "style:<index>" (replace).
    Pick(String),
    /// Start (or restart) a run.
    Start,
    /// Pause the run.
    Pause,
    /// Resume the run.
    Resume,
    /// Stop the run.
    Stop,
    /// Restore default settings, keeping the images.
    Reset,
    /// Ask for a file name and export.
    ExportDialog,
}

/// The application state.
pub struct App {
    /// What the user set.
    pub settings: Settings,
    worker: Worker,
    device: Device,
    /// The newest frame shown.
    pub frame: Option<Frame>,
    result: Option<Versioned>,
    content_img: Option<Versioned>,
    versions: u64,
    /// Loss points of the current run.
    pub history: Vec<LossPoint>,
    /// The worker's status at the last frame.
    pub status: Status,
    /// Settings of the current run (to tell restarts from in-place changes).
    run_settings: Option<Settings>,
    sent_objective: Option<Objective>,
    started: Option<Instant>,
    finished: Option<Duration>,
    view: preview::View,
    /// Panel thumbnails; None for a remembered file that can no longer be read.
    thumbs: HashMap<PathBuf, Option<egui::TextureHandle>>,
    pending_thumbs: Vec<(PathBuf, RgbaImage)>,
    fallback_texture: Option<(egui::TextureHandle, u64)>,
    /// Last message for the user, and whether it is an error.
    pub message: Option<(String, bool)>,
    exports: Vec<Receiver<Result<PathBuf, String>>>,
    actions: Vec<Action>,
    content_rect: Option<egui::Rect>,
    style_rect: Option<egui::Rect>,
    show_plot: bool,
}

impl App {
    /// Creates the app: restores settings, sets up the GPU preview and spawns the worker (the only
    /// failure: the OS refusing a thread).
    pub fn new(cc: &eframe::CreationContext<'_>, launch: Launch) -> std::io::Result<Self> {
        preview::init(cc);
        let remembered: Option<Settings> = cc.storage.and_then(|s| eframe::get_value(s, eframe::APP_KEY));
        let settings = launch.settings.or(remembered).unwrap_or_default();
        let ctx = cc.egui_ctx.clone();
        let worker = Worker::spawn(move || ctx.request_repaint())?;
        let mut app = App {
            settings,
            worker,
            device: default_device(),
            frame: None,
            result: None,
            content_img: None,
            versions: 0,
            history: Vec::new(),
            status: Status::Idle,
            run_settings: None,
            sent_objective: None,
            started: None,
            finished: None,
            view: preview::View::default(),
            thumbs: HashMap::new(),
            pending_thumbs: Vec::new(),
            fallback_texture: None,
            message: None,
            exports: Vec::new(),
            actions: Vec::new(),
            content_rect: None,
            style_rect: None,
            show_plot: true,
        };
        if launch.start {
            app.start();
        }
        Ok(app)
    }

    /// Sets the content image (as a pick or a drop would).
    pub fn set_content(&mut self, path: &Path) {
        if self.check_image(path) {
            self.settings.content = Some(path.to_path_buf());
        }
    }

    /// Adds a style image with blend weight 1.
    pub fn add_style(&mut self, path: &Path) {
        if self.check_image(path) {
            self.settings.styles.push(StyleEntry { path: path.to_path_buf(), blend: 1.0 });
        }
    }

    /// Starts (or restarts) a run with the current settings.
    pub fn start(&mut self) {
        match self.settings.spec() {
            Ok(spec) => {
                self.worker.send(Command::Start {
                    spec,
                    iterations: self.settings.iterations,
                    scales: self.settings.scales,
                });
                self.run_settings = Some(self.settings.clone());
                self.sent_objective = Some(self.settings.objective());
                self.history.clear();
                self.started = Some(Instant::now());
                self.finished = None;
                self.message = None;
                self.status = Status::Preparing;
            }
            Err(msg) => self.message = Some((msg, true)),
        }
    }

    /// Writes the newest frame to `path` as PNG (with the settings as text chunks) on a
    /// background thread; the result shows up as a message.
    pub fn export_to(&mut self, path: PathBuf) {
        let Some(frame) = &self.frame else {
            self.message = Some(("Nothing to export yet.".into(), true));
            return;
        };
        let image = image::DynamicImage::ImageRgba8((*frame.image).clone());
        let mut spec = (*frame.spec).clone();
        spec.objective = frame.objective.clone();
        let text = spec.png_text(frame.iteration);
        let (tx, rx) = mpsc::channel();
        self.exports.push(rx);
        std::thread::spawn(move || {
            let r = save_png(&image, &path, &text).map(|()| path).map_err(|e| e.to_string());
            let _ = tx.send(r);
        });
        self.message = Some(("Exporting…".into(), false));
    }

    /// How many in-place objective updates the worker has applied.
    pub fn objective_updates(&self) -> u64 {
        self.worker.objective_updates()
    }

    /// Whether the worker thread is still running (false once the window has closed).
    pub fn worker_alive(&self) -> bool {
        self.worker.is_alive()
    }

    /// Time since the run started (frozen when it stopped).
    pub fn elapsed(&self) -> Duration {
        self.finished.or_else(|| self.started.map(|s| s.elapsed())).unwrap_or_default()
    }

    /// Decodes `path` once: on success remembers its folder and keeps a thumbnail for the panel.
    fn check_image(&mut self, path: &Path) -> bool {
        match load_rgb(path) {
            Ok(img) => {
                self.settings.open_dir = path.parent().map(Path::to_path_buf);
                let (w, h) = crate::imageio::fit_long_side(img.dimensions(), 256.min(img.width().max(img.height())));
                let thumb = image::DynamicImage::ImageRgb8(image::imageops::thumbnail(&img, w, h)).into_rgba8();
                self.pending_thumbs.push((path.to_path_buf(), thumb));
                true
            }
            Err(e) => {
                self.message = Some((e.to_string(), true));
                false
            }
        }
    }

    /// The panel thumbnail of an image picked this session, or of a remembered one (decoded on
    /// first display; an unreadable remembered file simply shows no thumbnail).
    fn thumbnail(&mut self, ctx: &egui::Context, path: &Path) -> Option<egui::TextureHandle> {
        if !self.thumbs.contains_key(path) && !self.pending_thumbs.iter().any(|(p, _)| p == path) {
            let readable = self.check_image(path);
            if !readable {
                self.message = None;
                self.thumbs.insert(path.to_path_buf(), None);
            }
        }
        for (p, img) in self.pending_thumbs.drain(..) {
            let tex =
                ctx.load_texture(p.display().to_string(), preview::to_color_image(&img), egui::TextureOptions::LINEAR);
            self.thumbs.insert(p, Some(tex));
        }
        self.thumbs.get(path).cloned().flatten()
    }

    /// Pulls the worker's newest frame, history and status (never blocks on compute).
    fn poll_worker(&mut self) {
        if let Some(frame) = self.worker.take_frame() {
            let new_run = self.frame.as_ref().is_none_or(|f| f.run != frame.run);
            self.versions += 1;
            self.result = Some(Versioned { image: frame.image.clone(), version: self.versions });
            let resized = self.content_img.as_ref().is_some_and(|c| c.image.dimensions() != frame.content.dimensions());
            if new_run || resized || self.content_img.is_none() {
                self.content_img = Some(Versioned { image: frame.content.clone(), version: self.versions });
                if new_run {
                    self.history.retain(|p| p.run == frame.run);
                }
            }
            if new_run {
                // Optimisation time counts from the first image, not from loading and targets.
                self.started = Some(Instant::now());
                self.finished = None;
            }
            self.frame = Some(frame);
        }
        let run = self.frame.as_ref().map(|f| f.run);
        self.history.extend(self.worker.take_history().into_iter().filter(|p| Some(p.run) == run || run.is_none()));
        if let Some(notice) = self.worker.take_notice() {
            self.message = Some((notice, true));
        }
        let status = self.worker.status();
        if status != self.status {
            if matches!(status, Status::Stopped | Status::Failed(_)) && self.finished.is_none() {
                self.finished = Some(self.elapsed());
            }
            if let Status::Failed(msg) = &status {
                self.message = Some((msg.clone(), true));
            }
            self.status = status;
        }
        let mut finished = Vec::new();
        self.exports.retain(|rx| match rx.try_recv() {
            Ok(r) => {
                finished.push(r);
                false
            }
            Err(mpsc::TryRecvError::Empty) => true,
            Err(mpsc::TryRecvError::Disconnected) => false,
        });
        for r in finished {
            self.message = Some(match r {
                Ok(p) => (format!("Exported {}", p.display()), false),
                Err(e) => (format!("Export failed: {e}"), true),
            });
        }
    }

    /// Sends weight changes in place, or restarts when images/size/model/init changed.
    fn steer(&mut self, ctx: &egui::Context) {
        let active = matches!(self.status, Status::Running | Status::Paused | Status::Preparing);
        let Some(run) = &self.run_settings else { return };
        if !active {
            return;
        }
        if run.needs_restart(&self.settings) {
            // Restart once the user lets go of the slider, not on every drag step.
            if !ctx.input(|i| i.pointer.any_down()) {
                self.start();
            }
            return;
        }
        let objective = self.settings.objective();
        if self.sent_objective.as_ref() != Some(&objective) && objective.validate(self.settings.styles.len()).is_ok() {
            self.worker.send(Command::SetObjective(objective.clone()));
            self.sent_objective = Some(objective);
        }
    }

    fn apply(&mut self, action: Action) {
        match action {
            Action::Start => self.start(),
            Action::Pause => {
                self.worker.send(Command::Pause);
            }
            Action::Resume => {
                self.worker.send(Command::Resume);
            }
            Action::Stop => {
                self.worker.send(Command::Stop);
            }
            Action::Reset => {
                let keep =
                    (self.settings.content.clone(), self.settings.styles.clone(), self.settings.open_dir.clone());
                self.settings = Settings { content: keep.0, styles: keep.1, open_dir: keep.2, ..Settings::default() };
                self.view = preview::View::default();
            }
            Action::Pick(kind) => self.pick(&kind),
            Action::ExportDialog => self.export_dialog(),
        }
    }

    fn pick(&mut self, kind: &str) {
        let mut dialog = rfd::FileDialog::new().add_filter("Images", IMAGE_EXTENSIONS);
        if let Some(dir) = &self.settings.open_dir {
            dialog = dialog.set_directory(dir);
        }
        // A closed dialog (or no portal service) returns None: nothing changes.
        let Some(path) = dialog.pick_file() else { return };
        match kind {
            "content" => self.set_content(&path),
            "style" => self.add_style(&path),
            other => {
                let index = other.strip_prefix("style:").and_then(|i| i.parse::<usize>().ok());
                if let Some(i) = index.filter(|&i| i < self.settings.styles.len()) {
                    if self.check_image(&path) {
                        self.settings.styles[i].path = path;
                    }
                }
            }
        }
    }

    fn export_dialog(&mut self) {
        if self.frame.is_none() {
            return;
        }
        let stem = self
            .settings
            .content
            .as_deref()
            .and_then(Path::file_stem)
            .map_or("stylised".into(), |s| s.to_string_lossy().into_owned());
        let iteration = self.frame.as_ref().map_or(0, |f| f.iteration);
        let mut dialog =
            rfd::FileDialog::new().add_filter("PNG", &["png"]).set_file_name(format!("{stem}-styled-{iteration}.png"));
        if let Some(dir) = &self.settings.export_dir {
            dialog = dialog.set_directory(dir);
        }
        if let Some(mut path) = dialog.save_file() {
            if path.extension().is_none() {
                path.set_extension("png");
            }
            self.settings.export_dir = path.parent().map(Path::to_path_buf);
            self.export_to(path);
        }
    }

    fn handle_drops(&mut self, ctx: &egui::Context) {
        let (files, pos) = ctx.input(|i| (i.raw.dropped_files.clone(), i.pointer.hover_pos()));
        for file in files.iter().map(|f| f.path().to_path_buf()).filter(|p| !p.as_os_str().is_empty()) {
            let on = |r: Option<egui::Rect>| pos.zip(r).is_some_and(|(p, r)| r.contains(p));
            if on(self.style_rect) || (self.settings.content.is_some() && !on(self.content_rect)) {
                self.add_style(&file);
            } else {
                self.set_content(&file);
            }
        }
    }
}

impl eframe::App for App {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        self.poll_worker();
        self.handle_drops(&ctx);
        if ui.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND, egui::Key::S)) {
            self.actions.push(Action::ExportDialog);
        }
        egui::Panel::bottom("status").show(ui, |ui| panels::status_bar(self, ui));
        egui::Panel::left("controls").resizable(true).default_size(300.0).show(ui, |ui| panels::side_panel(self, ui));
        egui::CentralPanel::default().show(ui, |ui| {
            egui::CollapsingHeader::new("Loss curves")
                .default_open(self.show_plot)
                .show(ui, |ui| panels::loss_plot(self, ui));
            ui.horizontal(|ui| {
                let mut split = self.view.split.is_some();
                if ui.checkbox(&mut split, "Before/after").changed() {
                    self.view.split = split.then_some(0.5);
                }
                if ui.button("Fit").clicked() {
                    self.view.fit();
                }
            });
            match (&self.result, &self.content_img) {
                (Some(r), Some(c)) => preview::show(ui, &mut self.view, r, c, &mut self.fallback_texture),
                _ => {
                    ui.centered_and_justified(|ui| {
                        ui.label("Pick a content photo and a style painting, then press Start.");
                    });
                }
            }
        });
        for action in std::mem::take(&mut self.actions) {
            self.apply(action);
        }
        self.steer(&ctx);
        if !self.exports.is_empty() {
            ctx.request_repaint_after(Duration::from_millis(50));
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.settings);
    }

    fn on_exit(&mut self) {
        self.worker.shutdown(Duration::from_secs(1));
    }
}
