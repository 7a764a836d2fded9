//! The app's state apart from the artist's settings: the render under way ([`Live`]) and the
//! panels' own state ([`Panels`]).

use std::time::{Duration, Instant};

use super::browser::Browser;
use super::panels::Thumbs;
use super::preview::{self, Versioned};
use super::{autosave, examples, filmstrip, instant, masks, model, presets, trystyles, Launch};
use crate::notice::Notice;
use crate::transfer::RenderSpec;
use crate::worker::{ClipProgress, Frame, LossPoint, Status, Worker};

/// The render under way: the worker, what it last showed, and how it is going.
pub struct Live {
    pub(super) worker: Worker,
    /// The newest frame shown.
    pub frame: Option<Frame>,
    /// The picture shown and the content beside it, as textures are made from them.
    pub(super) result: Option<Versioned>,
    pub(super) content_img: Option<Versioned>,
    /// Counts the pictures shown, so that a texture is remade only for a new one.
    pub(super) versions: u64,
    /// Loss points of the current run.
    pub history: Vec<LossPoint>,
    /// The worker's status at the last frame.
    pub status: Status,
    /// The spec of the current run (to tell restarts from in-place changes).
    pub(super) run_spec: Option<RenderSpec>,
    pub(super) started: Option<Instant>,
    pub(super) finished: Option<Duration>,
    /// The instant look last asked for.
    pub(super) instant: instant::InstantState,
    /// Whether the content the app was launched with is still being read (a clip or an image).
    pub(super) launching: bool,
}

impl Live {
    /// Nothing rendered yet, on `worker`.
    pub(super) fn new(worker: Worker) -> Self {
        Live {
            worker,
            frame: None,
            result: None,
            content_img: None,
            versions: 0,
            history: Vec::new(),
            status: Status::Idle,
            run_spec: None,
            started: None,
            finished: None,
            instant: instant::InstantState::default(),
            launching: false,
        }
    }

    /// Pulls the worker's newest frame, history and status (never blocks on compute); a message
    /// from the worker becomes the app's `notice`.
    pub(super) fn poll(&mut self, notice: &mut Option<Notice>) {
        if let Some(frame) = self.worker.take_frame() {
            self.instant.in_flight = false;
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
                self.started = Some(Instant::now());
                self.finished = None;
            }
            self.frame = Some(frame);
        }
        let run = self.frame.as_ref().map(|f| f.run);
        self.history.extend(self.worker.take_history().into_iter().filter(|p| Some(p.run) == run || run.is_none()));
        if let Some(said) = self.worker.take_notice() {
            self.instant.in_flight = false;
            *notice = Some(said);
        }
        let status = self.worker.status();
        if status != self.status {
            if self.status == Status::Preparing {
                // Optimisation time counts from the end of loading and targets.
                self.started = Some(Instant::now());
            }
            if matches!(status, Status::Stopped | Status::Failed(_)) && self.finished.is_none() {
                self.finished = Some(self.elapsed());
            }
            if let Status::Failed(msg) = &status {
                *notice = Some(Notice::error(msg.clone()));
            }
            self.status = status;
        }
    }

    /// Whether a print is being rendered (from the moment it is asked for until it ends).
    pub fn printing(&self) -> bool {
        self.worker.printing()
    }

    /// How the clip render is going, while one renders.
    pub fn clip_progress(&self) -> Option<ClipProgress> {
        self.worker.clip_progress()
    }

    /// How many in-place updates the worker has applied.
    pub fn live_updates(&self) -> u64 {
        self.worker.live_updates()
    }

    /// Whether the worker thread is still running (false once the window has closed).
    pub fn worker_alive(&self) -> bool {
        self.worker.is_alive()
    }

    /// Time since the run started (frozen when it stopped).
    pub fn elapsed(&self) -> Duration {
        self.finished.or_else(|| self.started.map(|s| s.elapsed())).unwrap_or_default()
    }
}

/// What the panels keep between frames.
pub struct Panels {
    pub(super) view: preview::View,
    /// Panel thumbnails of the images the settings name.
    pub(super) thumbs: Thumbs,
    pub(super) fallback_texture: Option<(egui::TextureHandle, u64)>,
    /// The in-app file browser, when open.
    pub(super) browser: Option<Browser>,
    /// A system file dialog is open.
    pub(super) dialog_open: bool,
    /// Whether the system's file dialogs failed to appear this session.
    pub no_system_dialog: bool,
    /// Images named by opened settings that are missing or changed: (style index or None for
    /// the content, why), for the artist to locate.
    pub to_locate: Vec<(Option<usize>, String)>,
    /// Where the content and style slots were drawn (for dropped files).
    pub(super) content_rect: Option<egui::Rect>,
    pub(super) style_rect: Option<egui::Rect>,
    /// Where the preview drew the picture in the last frame (screen points).
    pub preview_rect: Option<egui::Rect>,
    /// The artist's presets.
    pub presets: presets::Presets,
    /// The mask brush and its layers.
    pub masks: masks::MaskEditor,
    /// New masks' stored forms are being made on a task (or one failed: not tried again).
    pub(super) encoding_masks: bool,
    /// Saving the current render in the background, and offering back an unsaved one.
    pub autosave: autosave::Autosave,
    /// Snapshots of the render (history).
    pub film: filmstrip::Filmstrip,
    /// The "Try styles" contact sheet, once asked for.
    pub try_styles: Option<trystyles::TryStyles>,
    /// Long side and iterations of its cells.
    pub try_styles_cells: (u32, usize),
    /// The models on offer and a fetch in progress.
    pub models: model::Models,
    /// The built-in example pairs offered while nothing is loaded.
    pub examples: examples::Offer,
    /// The keyboard shortcuts overlay is shown.
    pub shortcuts: bool,
    /// The About box is shown.
    pub about: bool,
    /// The open clip's timeline, progress and playback.
    pub clip: super::clip::ClipPanel,
    /// A farm render's folder being followed.
    pub farm: Option<super::farm::FarmView>,
    /// ffmpeg, as found.
    pub ffmpeg: super::ffmpeg::FfmpegPanel,
    /// The Recent menu.
    pub recent: super::recent::RecentMenu,
    /// The diagnostics last copied (About's "Copy diagnostics").
    pub diagnostics: Option<String>,
}

impl Panels {
    /// The panels as a window opens, with the folders `launch` names.
    pub(super) fn new(launch: &Launch) -> Self {
        Panels {
            view: preview::View::default(),
            thumbs: Thumbs::default(),
            fallback_texture: None,
            browser: None,
            dialog_open: false,
            no_system_dialog: false,
            to_locate: Vec::new(),
            content_rect: None,
            style_rect: None,
            preview_rect: None,
            presets: presets::Presets::new(),
            masks: masks::MaskEditor::default(),
            encoding_masks: false,
            autosave: autosave::Autosave::new(launch.autosave.clone()),
            film: filmstrip::Filmstrip::new(),
            try_styles: None,
            try_styles_cells: (trystyles::CELL, trystyles::ITERATIONS),
            models: model::Models::default(),
            examples: examples::Offer::new(launch.examples.clone()),
            shortcuts: false,
            about: false,
            clip: super::clip::ClipPanel::default(),
            farm: None,
            ffmpeg: super::ffmpeg::FfmpegPanel::default(),
            recent: super::recent::RecentMenu::default(),
            diagnostics: None,
        }
    }
}
