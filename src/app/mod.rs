//! The desktop app (egui/eframe): panels that edit [`Settings`], a [`Worker`] that optimises in
//! the background, and a GPU preview of the newest frame. The UI thread never waits: compute runs
//! on the worker, and file dialogs, decoding and exports on short-lived threads ([`tasks`]).
//!
//! As egui's demo gives each window its own struct, each panel here owns its state and draws
//! itself (`ClipPanel`, `Filmstrip`, `Autosave`, `Presets`, `Models`, `MaskEditor`, …, gathered
//! in `state::Panels`); what they share (the settings, the render under way, the notice, the
//! tasks, undo) is lent to one at a time as a `ctx::Ctx`, and what needs the whole app is asked
//! for as an [`Action`]. The [`App`] itself starts and steers runs, routes files, and applies
//! actions and task completions.

pub mod about;
mod autosave;
mod browser;
mod central;
pub mod clip;
mod clip_estimate;
mod clipboard;
mod ctx;
mod examples;
pub mod farm;
pub mod ffmpeg;
mod files;
mod filmstrip;
mod instant;
pub mod keys;
mod layers;
pub mod log;
mod masks;
mod model;
pub mod open_with;
mod panels;
pub mod playback;
mod presets;
pub mod preview;
mod print;
pub mod recent;
pub mod settings;
mod state;
mod status;
pub mod tasks;
mod timeline;
mod trystyles;
pub mod undo;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use panels::IMAGE_EXTENSIONS;
pub use settings::Settings;

use crate::notice::{self, Notice};
use crate::worker::{Command, Status, Worker};
use tasks::{Purpose, Tasks};

/// The application id: the window's (Wayland app id, X11 class) and the menu entry's name
/// (`neural-style-studio.desktop`), so that a desktop puts the window under its entry and icon.
pub const APP_ID: &str = "neural-style-studio";

/// The window's icon (256 px; every size is drawn by `tools/make_icon.py`).
pub const ICON_PNG: &[u8] = include_bytes!("../../assets/icons/hicolor/256x256/apps/neural-style-studio.png");

/// How the app is launched (from its command line).
#[derive(Debug, Clone, Default)]
pub struct Launch {
    /// Settings to load instead of the remembered ones (fields given on the command line).
    pub settings: Option<Settings>,
    /// Start a run at once.
    pub start: bool,
    /// A warning about the settings given (e.g. fields a settings file held that were ignored).
    pub warning: Option<String>,
    /// Where the current render is saved every few seconds and on exit, and earlier sessions'
    /// unsaved renders are found (`None`: autosave off). See [`autosave_dir`].
    pub autosave: Option<PathBuf>,
    /// Where the built-in example pictures are unpacked when the artist tries one (`None`: no
    /// examples are offered). See [`examples_dir`].
    pub examples: Option<PathBuf>,
    /// The folder the log is written to (`None`: no log is kept); its last lines go into "Copy
    /// diagnostics".
    pub logs: Option<PathBuf>,
    /// Where pictures pasted from the clipboard are kept (`None`: only files can be pasted).
    /// See [`pasted_dir`].
    pub pasted: Option<PathBuf>,
    /// The runtime folder in which the window takes files handed over by later starts
    /// (`None`: it takes none). See [`open_with::runtime_dir`].
    pub runtime: Option<PathBuf>,
}

/// The folder the app autosaves into by default.
pub fn autosave_dir() -> Option<PathBuf> {
    autosave::default_dir()
}

/// The folder pictures pasted from the clipboard are kept in by default.
pub fn pasted_dir() -> Option<PathBuf> {
    clipboard::default_dir()
}

/// The folder the built-in examples are unpacked into by default.
pub fn examples_dir() -> Option<PathBuf> {
    crate::examples::default_dir()
}

/// Something a panel asked for; applied after the panels are drawn.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Choose a file for this purpose.
    Pick(Purpose),
    /// Start (or restart) a run.
    Start,
    /// Pause the run.
    Pause,
    /// Resume the run.
    Resume,
    /// Stop the run.
    Stop,
    /// Continue the current render as a print of this long side.
    Print(u32),
    /// Abandon the print's stage in progress, back to the last finished stage.
    CancelPrint,
    /// Restore default settings, keeping the images.
    Reset,
    /// Save the current look as the artist's preset of this name.
    SavePreset(String),
    /// Render every style under every preset in the "Try styles" window.
    TryStyles,
    /// Go back one change of the settings.
    Undo,
    /// Take the last change undone again.
    Redo,
    /// Open this file for this purpose (a recent file).
    Open(Purpose, PathBuf),
    /// Take the clipboard's picture or file for this purpose (the photo or a style).
    Paste(Purpose),
    /// Put the picture shown on the clipboard.
    CopyImage,
    /// Put the diagnostics for a bug report on the clipboard.
    CopyDiagnostics,
}

/// The application state: what the artist set (persisted between sessions), the render under
/// way, and the panels' own state; with the message shown, the background tasks, and the
/// actions the panels asked for this frame.
pub struct App {
    /// What the user set (persisted).
    pub settings: Settings,
    /// The render under way.
    pub live: state::Live,
    /// The panels' own state.
    pub panels: state::Panels,
    /// The last message for the user.
    pub notice: Option<Notice>,
    tasks: Tasks,
    actions: Vec<Action>,
    /// Undo and redo of the settings.
    pub undo: undo::Undo,
    /// Files handed over by later starts.
    listener: Option<open_with::Listener>,
    /// Pictures and files on the clipboard.
    clipboard: clipboard::Clipboard,
    /// The log's folder, the notice last written to it, and the GPU adapter drawing the window.
    logs: Option<PathBuf>,
    logged: Option<Notice>,
    adapter: Option<String>,
}

impl App {
    /// Creates the app: restores settings, sets up the GPU preview and spawns the worker (the only
    /// failure: the OS refusing a thread).
    pub fn new(cc: &eframe::CreationContext<'_>, launch: Launch) -> std::io::Result<Self> {
        preview::init(cc);
        let remembered: Option<Settings> = cc.storage.and_then(|s| eframe::get_value(s, eframe::APP_KEY));
        let panels = state::Panels::new(&launch);
        let settings = launch.settings.or(remembered).unwrap_or_default();
        let ctx = cc.egui_ctx.clone();
        let worker = Worker::spawn(move || ctx.request_repaint())?;
        let start = undo::Edit { spec: settings.spec.clone(), print_size: settings.print_size };
        let wake = cc.egui_ctx.clone();
        // Without a socket (another window has it, or the folder refuses) every start opens a
        // window of its own, as before.
        let listener = launch
            .runtime
            .as_deref()
            .and_then(|dir| open_with::Listener::bind(dir, move || wake.request_repaint()).ok());
        let mut app = App {
            settings,
            live: state::Live::new(worker),
            panels,
            notice: None,
            tasks: Tasks::new(cc.egui_ctx.clone()),
            actions: Vec::new(),
            undo: undo::Undo::new(start),
            listener,
            clipboard: clipboard::Clipboard::new(launch.pasted.clone()),
            logs: launch.logs.clone(),
            logged: None,
            adapter: None,
        };
        let (panels, mut cx) = app.parts();
        panels.models.check(&mut cx);
        panels.ffmpeg.find(&mut cx);
        panels.autosave.look_for_earlier(cx.tasks);
        if let Some(path) = panels.presets.path.clone() {
            cx.tasks.load_presets(path);
        }
        // A clip given as the content on the command line opens as a clip. Whether a GIF,
        // WebP or PNG is animated is read from its header on a task; a start waits for it.
        let (content, start) = (app.settings.spec.content.as_ref().map(|c| c.path.clone()), launch.start);
        match content.map(|path| (crate::video::clip::clip_by_name(&path), path)) {
            Some((None, path)) => {
                // Until then nothing is painted: not the instant look of what may be a clip,
                // nor one that a start would follow.
                app.live.launching = true;
                app.tasks.spawn(
                    "launch",
                    move || crate::video::clip::is_clip(&path).then_some(path),
                    move |app, _, clip| app.open_launched(clip.as_deref(), start),
                );
            }
            Some((Some(true), path)) => app.open_launched(Some(&path), start),
            _ => app.open_launched(None, start),
        }
        if app.settings.recent.take_damaged() {
            app.notice = Some(Notice::warning(
                "Some recent files could not be read (a damaged list, or another version's): those that could \
                 are kept, and the list is written anew when the settings are next saved.",
            ));
        }
        if let Some(warning) = launch.warning {
            app.notice = Some(Notice::warning(warning));
        }
        Ok(app)
    }

    /// Opens what the app was launched with: `clip` (given as the content) as a clip, or else
    /// the clip of the settings; then starts a run when asked.
    fn open_launched(&mut self, clip: Option<&Path>, start: bool) {
        self.live.launching = false;
        if clip.is_some() {
            self.settings.spec.content = None;
        }
        let (panels, mut cx) = self.parts();
        match clip {
            Some(path) => panels.clip.open(path, &mut cx),
            None => panels.clip.reopen(&mut cx),
        }
        if start {
            self.start();
        }
    }

    /// Opens the files a later start handed over (sorted on the listener's thread) as the
    /// command line does ([`open_with::Opening`]); the window comes to the front. A file that
    /// does not open is named; the others still open.
    fn take_handed_over(&mut self, ctx: &egui::Context) {
        let Some(listener) = &self.listener else { return };
        for (given, faults) in listener.take() {
            self.open_given(open_with::Opening::of(given, false), faults);
            ctx.send_viewport_cmd(egui::ViewportCommand::Focus);
        }
    }

    /// Writes a new warning or error shown to the artist into the log, with the state it came
    /// in (information is logged where it is made).
    fn log_notice(&mut self) {
        if self.notice == self.logged {
            return;
        }
        self.logged.clone_from(&self.notice);
        let Some(n) = &self.notice else { return };
        let (status, run) = (&self.live.status, self.live.frame.as_ref().map(|f| (f.run, f.iteration)));
        match n.level {
            notice::Level::Error => tracing::error!(?status, ?run, "{}", n.text),
            notice::Level::Warning => tracing::warn!(?status, ?run, "{}", n.text),
            notice::Level::Info => tracing::info!("{}", n.text),
        }
    }

    /// Puts the version, build, device, GPU adapter and the log's last lines on the clipboard
    /// (the log is read on a task).
    fn copy_diagnostics(&mut self) {
        let logs = self.logs.clone();
        let device =
            self.live.frame.as_ref().map_or_else(|| self.settings.spec.device.to_string(), |f| f.device.into());
        let adapter = self.adapter.clone().unwrap_or_default();
        self.tasks.spawn(
            "diagnostics",
            move || {
                let lines = logs.map(|dir| log::last_lines(&dir, log::REPORT_LINES)).unwrap_or_default();
                log::diagnostics(&device, &adapter, &lines)
            },
            |app, ctx, report| {
                ctx.copy_text(report.clone());
                app.panels.diagnostics = Some(report);
                app.notice = Some(Notice::info("Copied the diagnostics: paste them into the bug report."));
            },
        );
    }

    /// Makes the stored form of every new mask (a stroke, a fill, a file, a preset) on a task,
    /// so that saving the settings encodes nothing in the frame (but for a mask made in the
    /// last milliseconds). A mask that does not encode is left to saving, which says why.
    fn encode_masks(&mut self) {
        if self.panels.encoding_masks {
            return;
        }
        let masks = self.settings.spec.objective.masks.unencoded();
        if masks.is_empty() {
            return;
        }
        self.panels.encoding_masks = true;
        let encode = move || masks.iter().all(|m| m.encoded().is_ok());
        self.tasks.spawn("mask", encode, |app, _, encoded| app.panels.encoding_masks = !encoded);
    }

    /// Starts (or restarts) a run with the current settings.
    pub fn start(&mut self) {
        if let Some(why) = self.settings.not_ready() {
            self.notice = Some(Notice::error(why));
            return;
        }
        if let Err(e) = self.settings.spec.validate() {
            self.notice = Some(Notice::error(e.to_string()));
            return;
        }
        self.panels.film.before_change(false, &self.live, &mut self.tasks);
        let spec = &self.settings.spec;
        let content = spec.content.as_ref().map(|c| c.path.display().to_string()).unwrap_or_default();
        tracing::info!(content, styles = spec.styles.len(), size = spec.size, look = ?spec.objective.look, "start");
        self.live.worker.send(Command::Start(Box::new(self.settings.spec.clone())));
        self.live.run_spec = Some(self.settings.spec.clone());
        self.live.history.clear();
        self.live.started = Some(Instant::now());
        self.live.finished = None;
        self.notice = None;
        self.live.status = Status::Preparing;
    }

    /// The panels, and the shared parts lent to one of them.
    pub(super) fn parts(&mut self) -> (&mut state::Panels, ctx::Ctx<'_>) {
        let cx = ctx::Ctx {
            settings: &mut self.settings,
            live: &mut self.live,
            notice: &mut self.notice,
            tasks: &mut self.tasks,
            actions: &mut self.actions,
            undo: &mut self.undo,
        };
        (&mut self.panels, cx)
    }

    /// Background tasks (dialogs, decoding, exports) not yet finished.
    pub fn pending_tasks(&self) -> usize {
        self.tasks.pending
    }

    /// Whether the in-app file browser is open.
    pub fn browser_open(&self) -> bool {
        self.panels.browser.is_some()
    }

    /// The size of the frame the egui-texture fallback preview last drew, if it drew one (the
    /// wgpu preview leaves it `None`).
    pub fn fallback_preview_size(&self) -> Option<(u32, u32)> {
        self.panels.fallback_texture.as_ref().map(|(t, _)| {
            let [w, h] = t.size();
            (w as u32, h as u32)
        })
    }

    /// Sends the spec shown to the worker, whose `Job::update` takes in place what a run can (a
    /// running, paused, finished or printing one alike). A change no run can take in place
    /// (`RenderSpec::needs_restart`) restarts a render under way once the user lets go of the
    /// control; a finished one, or a print, waits for the next Start.
    fn steer(&mut self, ctx: &egui::Context) {
        let (Some(run), spec) = (&self.live.run_spec, &self.settings.spec) else { return };
        if *run == *spec || spec.validate().is_err() {
            return;
        }
        let dragging = ctx.input(|i| i.pointer.any_down());
        if run.needs_restart(spec) {
            let active = matches!(self.live.status, Status::Running | Status::Paused | Status::Preparing);
            if active && !dragging && !self.live.worker.printing() {
                self.start();
            }
            return;
        }
        let spec = spec.clone();
        if run.objective != spec.objective {
            self.panels.film.before_change(dragging, &self.live, &mut self.tasks);
        } else if !dragging {
            self.panels.film.change_open = false;
        }
        self.live.worker.send(Command::Update(Box::new(spec.clone())));
        self.live.run_spec = Some(spec);
    }

    fn apply(&mut self, action: Action) {
        match action.clone() {
            Action::Start => self.start(),
            Action::Pause => {
                self.live.worker.send(Command::Pause);
            }
            Action::Resume => {
                self.live.worker.send(Command::Resume);
            }
            Action::Stop => {
                self.live.worker.send(Command::Stop);
            }
            Action::Print(size) => {
                self.live.worker.send(Command::Print(size));
                self.live.finished = None;
                self.notice = None;
            }
            Action::CancelPrint => {
                self.live.worker.send(Command::CancelPrint);
            }
            Action::Reset => {
                self.settings.reset_render();
                self.panels.view = preview::View::default();
            }
            Action::Pick(purpose) => self.pick(purpose),
            Action::SavePreset(name) => {
                let (panels, mut cx) = self.parts();
                panels.presets.save(name, &mut cx);
            }
            Action::TryStyles => {
                let (panels, mut cx) = self.parts();
                trystyles::start(&mut panels.try_styles, panels.try_styles_cells, panels.presets.offered(), &mut cx);
            }
            Action::Open(purpose, path) => self.open(purpose, path),
            Action::Paste(purpose) => self.clipboard.paste(purpose, &mut self.tasks),
            Action::CopyDiagnostics => self.copy_diagnostics(),
            Action::CopyImage => match self.panels.shown_picture(&self.live) {
                Some(picture) => self.clipboard.copy(picture, &mut self.tasks),
                None => self.notice = Some(Notice::error("Nothing to copy yet.")),
            },
            Action::Undo | Action::Redo => {
                let (_, mut cx) = self.parts();
                undo::step(action == Action::Redo, &mut cx);
            }
        }
    }
}

impl eframe::App for App {
    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        if self.adapter.is_none() {
            let info = frame.wgpu_render_state().map(|r| r.adapter.get_info());
            let named = info.map(|i| format!("{} ({:?}, driver {} {})", i.name, i.backend, i.driver, i.driver_info));
            self.adapter = Some(named.unwrap_or_else(|| "none (no wgpu)".into()));
        }
        self.live.poll(&mut self.notice);
        if let Some(sheet) = &mut self.panels.try_styles {
            sheet.poll(&mut self.live, &ctx);
        }
        self.panels.film.capture(&self.live, &mut self.tasks);
        self.poll_tasks(&ctx);
        self.take_handed_over(&ctx);
        self.handle_drops(&ctx);
        let (panels, mut cx) = self.parts();
        panels.keys(&ctx, &mut cx);
        let device = cx.settings.spec.device;
        egui::Panel::bottom("status").show(ui, |ui| status::status_bar(ui, cx.live, device));
        if !panels.film.snapshots.is_empty() {
            egui::Panel::bottom("filmstrip").show(ui, |ui| panels.film.ui(ui, &mut cx));
        }
        egui::Panel::left("controls").resizable(true).default_size(300.0).show(ui, |ui| panels.side_ui(ui, &mut cx));
        egui::CentralPanel::default().show(ui, |ui| panels.central_ui(ui, &mut cx));
        if let Some(sheet) = &mut panels.try_styles {
            sheet.ui(&ctx, &mut cx);
        }
        keys::shortcuts_ui(&mut panels.shortcuts, &ctx);
        if about::about_ui(&mut panels.about, &panels.ffmpeg, &ctx) {
            cx.ask(Action::CopyDiagnostics);
        }
        farm::farm_ui(&mut panels.farm, &mut panels.clip.playback, &ctx);
        panels.clip.long_clip_ui(&ctx, &mut cx);
        self.encode_masks();
        self.browser_ui(&ctx);
        for action in std::mem::take(&mut self.actions) {
            self.apply(action);
        }
        // One gesture is one step: a drag or a stroke is recorded once the pointer is up.
        if !ctx.input(|i| i.pointer.any_down()) {
            self.undo.record(&self.settings.spec, self.settings.print_size);
        }
        let (panels, mut cx) = self.parts();
        panels.clip.tick(&mut cx);
        panels.clip.playback_tick(&ctx, &mut cx);
        if let Some(farm) = &mut panels.farm {
            farm.tick(&ctx, cx.tasks);
        }
        self.steer(&ctx);
        self.live.steer_instant(&self.settings);
        self.panels.autosave.tick(&self.live, &mut self.tasks);
        let (panels, mut cx) = self.parts();
        panels.autosave.close_ui(&ctx, &mut cx);
        self.log_notice();
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.settings);
    }

    fn on_exit(&mut self) {
        self.live.worker.shutdown(Duration::from_secs(1));
        self.panels.autosave.on_exit(&self.live);
    }
}
