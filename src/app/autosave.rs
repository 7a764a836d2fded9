//! Nothing the artist made is lost: the current render (its newest image, with its settings in
//! the PNG exactly as an export stores them) is written in the background every few seconds and
//! on exit, to a file of its own per session. A clean exit after exporting the image shown
//! removes it; otherwise the next start offers it back (a crash, a kill, a close without
//! export). The folder is `$NSS_AUTOSAVE_DIR`, else `autosave` in the user's data folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use image::RgbaImage;

use super::ctx::Ctx;
use super::preview::Versioned;
use super::state::Live;
use super::tasks::Tasks;
use crate::imageio::{attach_alpha, load_picture, save_png};
use crate::notice::Notice;
use crate::transfer::spec::stored::iteration_of;
use crate::transfer::{read_settings, Init, StoredSpec};
use crate::worker::{Command, Frame, Status};

/// Overrides the autosave folder.
pub const AUTOSAVE_DIR_ENV: &str = "NSS_AUTOSAVE_DIR";
/// How often a changed render is written, at most.
pub const EVERY: Duration = Duration::from_secs(5);
/// Writing takes at most this share of the time (a 4096 px print's PNG takes seconds to
/// encode, on a core the render would otherwise use).
const SHARE: u32 = 20;
/// Sessions' files kept at most (the newest); older ones are removed when a session starts.
const KEEP: usize = 5;
/// The run number of a restored frame (the worker's runs count up from 1).
const RESTORED_RUN: u64 = u64::MAX;

/// The default autosave folder (`None` when the system has no data folder).
pub fn default_dir() -> Option<PathBuf> {
    match std::env::var_os(AUTOSAVE_DIR_ENV) {
        Some(dir) => Some(PathBuf::from(dir)),
        None => Some(directories::ProjectDirs::from("", "", "neural-style-studio")?.data_local_dir().join("autosave")),
    }
}

/// A render found from an earlier session.
#[derive(Debug)]
pub struct Recovered {
    /// Its file.
    pub path: PathBuf,
    /// When it was last written.
    pub modified: SystemTime,
    /// Its settings.
    pub stored: Box<StoredSpec>,
    /// Its image.
    pub image: RgbaImage,
    /// Iterations done when it was written.
    pub iteration: usize,
}

/// The autosave state of a session.
pub struct Autosave {
    /// The folder (`None`: autosave is off).
    pub dir: Option<PathBuf>,
    /// This session's file.
    file: Option<PathBuf>,
    /// The frame last written, `(run, iteration, stage)`, and when.
    saved: Option<(u64, usize, usize)>,
    last: Option<Instant>,
    /// Time between writes: [`EVERY`], or longer when writing is slow.
    interval: Duration,
    in_flight: bool,
    /// The frame last exported, and the one being exported.
    pub exported: Option<(u64, usize, usize)>,
    exporting: Option<(u64, usize, usize)>,
    /// A render from an earlier session, offered until restored or discarded.
    pub offer: Option<Box<Recovered>>,
    warned: bool,
    /// When the window's close was held back, until the newest render is written.
    pub closing: Option<Instant>,
}

impl Autosave {
    /// Autosave into `dir` (`None`: off).
    pub fn new(dir: Option<PathBuf>) -> Self {
        let stamp = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        let file = dir.as_ref().map(|d| d.join(format!("session-{}-{}.png", stamp.as_millis(), std::process::id())));
        Autosave {
            dir,
            file,
            saved: None,
            last: None,
            interval: EVERY,
            in_flight: false,
            exported: None,
            exporting: None,
            offer: None,
            warned: false,
            closing: None,
        }
    }
}

/// What identifies a frame for saving.
fn key(frame: &Frame) -> (u64, usize, usize) {
    (frame.run, frame.iteration, frame.stage)
}

/// The newest earlier session's render in `dir`, readable, other than `own`; older ones beyond
/// [`KEEP`] are removed. Runs on a task thread.
pub fn find(dir: &Path, own: Option<&Path>) -> Option<Box<Recovered>> {
    let mut files: Vec<(SystemTime, PathBuf)> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| Some(p.as_path()) != own && p.extension().is_some_and(|e| e == "png"))
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("session-")))
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .collect();
    files.sort_by_key(|f| std::cmp::Reverse(f.0));
    for (_, old) in files.iter().skip(KEEP) {
        // An autosave older than those kept; left behind, it only takes disk space.
        let _ = std::fs::remove_file(old);
    }
    files.into_iter().take(KEEP).find_map(|(modified, path)| {
        let stored = read_settings(&path).ok()?;
        let picture = load_picture(&path).ok()?;
        let image = match &picture.alpha {
            Some(alpha) => attach_alpha(&picture.rgb, alpha),
            None => image::DynamicImage::ImageRgb8(picture.rgb).into_rgba8(),
        };
        let iteration = iteration_of(&path).unwrap_or(0);
        Some(Box::new(Recovered { path, modified, stored: Box::new(stored), image, iteration }))
    })
}

impl Autosave {
    /// Looks for an earlier session's unsaved render (in the background).
    pub(super) fn look_for_earlier(&mut self, tasks: &mut Tasks) {
        let Some(dir) = self.dir.clone() else { return };
        let own = self.file.clone();
        tasks.spawn("autosave", move || find(&dir, own.as_deref()), |app, _, found| app.panels.autosave.offer = found);
    }

    /// Writes the newest frame when it changed and [`EVERY`] has passed (in the background).
    pub(super) fn tick(&mut self, live: &Live, tasks: &mut Tasks) {
        let a = self;
        let (Some(file), Some(frame)) = (&a.file, &live.frame) else { return };
        let due = a.closing.is_some() || a.last.is_none_or(|t| t.elapsed() >= a.interval);
        if a.in_flight || !due || a.saved == Some(key(frame)) || frame.run == RESTORED_RUN {
            return;
        }
        a.in_flight = true;
        a.last = Some(Instant::now());
        a.saved = Some(key(frame));
        let (picture, spec, iteration, path) = (frame.image.clone(), frame.spec.clone(), frame.iteration, file.clone());
        tasks.spawn(
            "autosave",
            move || {
                let clock = Instant::now();
                // The copy and the settings' text are made here, not on the UI thread: a print's
                // frame is tens of megabytes, and a painted mask is encoded as PNG.
                let text = spec.png_text(iteration).map_err(|e| e.to_string())?;
                let image = image::DynamicImage::ImageRgba8((*picture).clone());
                path.parent().map_or(Ok(()), std::fs::create_dir_all).map_err(|e| e.to_string())?;
                save_png(&image, &path, &text).map_err(|e| e.to_string())?;
                Ok(clock.elapsed())
            },
            |app, _, result| {
                let (panels, mut cx) = app.parts();
                panels.autosave.written(result, &mut cx);
            },
        );
    }

    /// An autosave finished (in this long): a failure is said once, and the app goes on.
    fn written(&mut self, result: Result<Duration, String>, cx: &mut Ctx) {
        self.in_flight = false;
        match result {
            Ok(took) => self.interval = EVERY.max(took * SHARE),
            Err(e) if !self.warned => {
                self.warned = true;
                cx.say(Notice::warning(format!("Autosave is not working ({e}); export to keep your work.")));
            }
            Err(_) => {}
        }
    }

    /// The newest frame is being exported; once that succeeds ([`Autosave::export_done`]) a clean
    /// exit need not keep the autosave.
    pub(super) fn exporting(&mut self, live: &Live) {
        self.exporting = live.frame.as_ref().map(key);
    }

    /// An export finished: if it succeeded, its frame is safe.
    pub(super) fn export_done(&mut self, ok: bool) {
        let frame = self.exporting.take();
        if ok {
            self.exported = frame;
        }
    }

    /// Whether the newest frame is neither autosaved (or being saved) nor exported.
    fn unsaved(&self, live: &Live) -> bool {
        let a = self;
        a.file.is_some() && live.frame.as_ref().is_some_and(|f| a.exported != Some(key(f)) && a.saved != Some(key(f)))
    }

    /// The window's close button: while the newest render is unsaved, the window stays open
    /// (and responsive, saying so) until a task has written it, then closes. The UI thread
    /// writes nothing.
    pub(super) fn close_ui(&mut self, ctx: &egui::Context, cx: &mut Ctx) {
        // The iteration under way when the close was asked for is waited for (it pauses
        // after it), unless it takes longer than this: then what was written is kept.
        const ITERATION_WAIT: Duration = Duration::from_secs(5);
        let waiting =
            self.file.is_some() && (self.unsaved(cx.live) || self.in_flight || cx.live.status == Status::Running);
        match self.closing {
            None if waiting && ctx.input(|i| i.viewport().close_requested()) => {
                ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
                self.closing = Some(Instant::now());
                // The picture stops changing while it is written.
                cx.live.worker.send(Command::Pause);
                cx.say(Notice::info("Saving the render before closing…"));
                self.tick(cx.live, cx.tasks);
            }
            // Written (or the write failed, and said so), and the run paused.
            Some(since)
                if !self.in_flight
                    && !self.unsaved(cx.live)
                    && (cx.live.status != Status::Running || since.elapsed() > ITERATION_WAIT) =>
            {
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            }
            _ => {}
        }
    }

    /// On exit: the autosave goes when the image shown was exported (or nothing was made);
    /// otherwise it is written now, to be offered at the next start (only when the app ends
    /// without its close button, which has it written on a task first: see [`Autosave::close_ui`]).
    pub(super) fn on_exit(&self, live: &Live) {
        let a = self;
        let Some(file) = &a.file else { return };
        match &live.frame {
            Some(frame) if a.exported != Some(key(frame)) => {
                if a.saved != Some(key(frame)) {
                    if let Ok(text) = frame.spec.png_text(frame.iteration) {
                        let image = image::DynamicImage::ImageRgba8((*frame.image).clone());
                        // The window is closing: there is nobody left to tell. The autosave
                        // written during the session (every few seconds) stays if this fails.
                        let _ = file.parent().map(std::fs::create_dir_all);
                        let _ = save_png(&image, file, &text);
                    }
                }
            }
            _ => {
                // Nothing unexported to keep; a leftover is offered once more at the next start.
                let _ = std::fs::remove_file(file);
            }
        }
    }

    /// Shows the offered render: its image as the current frame (exportable) and its settings,
    /// set to start from that image, so Start carries on from it. Its file becomes this
    /// session's autosave.
    fn restore(&mut self, cx: &mut Ctx) {
        let Some(r) = self.offer.take() else { return };
        let r = *r;
        let mut spec = r.stored.spec;
        if let Some(own) = self.file.clone() {
            // The restored picture stays on disk as this session's file until it is exported:
            // moved there on a task thread (no file I/O on the UI thread).
            spec.init_image = Some(crate::transfer::ImageRef::new(&own));
            spec.run.init = Init::Image;
            let from = r.path.clone();
            cx.tasks.spawn(
                "autosave",
                move || std::fs::rename(&from, &own).map_err(|e| (from, e.to_string())),
                |app, _, result| {
                    let (panels, mut cx) = app.parts();
                    panels.autosave.adopted(result, &mut cx);
                },
            );
        }
        let image = Arc::new(r.image);
        cx.live.versions += 1;
        cx.live.result = Some(Versioned { image: image.clone(), version: cx.live.versions });
        cx.live.content_img = Some(Versioned { image: image.clone(), version: cx.live.versions });
        cx.settings.spec = spec.clone();
        cx.live.frame = Some(Frame {
            run: RESTORED_RUN,
            image,
            content: cx.live.content_img.as_ref().map(|c| c.image.clone()).unwrap_or_default(),
            iteration: r.iteration,
            total: r.iteration,
            stage: spec.stages().len().saturating_sub(1),
            max_print: None,
            device: "CPU",
            losses: None,
            seconds: 0.0,
            spec: Arc::new(spec),
        });
        self.saved = cx.live.frame.as_ref().map(key);
        cx.say(Notice::info(format!(
            "Restored the render of {} ({} iterations). Export it, or press Start to carry on from it.",
            ago(r.modified),
            r.iteration
        )));
    }

    /// A restored render could not become this session's file: Start carries on from where it
    /// is (it stays there until the artist discards a later offer of it).
    fn adopted(&self, result: Result<(), (PathBuf, String)>, cx: &mut Ctx) {
        let Err((from, why)) = result else { return };
        let spec = &mut cx.settings.spec;
        if spec.init_image.as_ref().map(|i| &i.path) == self.file.as_ref() {
            spec.init_image = Some(crate::transfer::ImageRef::new(&from));
        }
        cx.say(Notice::warning(format!("The restored render stays in {}: {why}", from.display())));
    }

    /// Forgets the offered render and removes its file.
    fn discard(&mut self, tasks: &mut Tasks) {
        if let Some(r) = self.offer.take() {
            tasks.spawn(
                "autosave",
                move || std::fs::remove_file(&r.path).map_err(|e| e.to_string()),
                |app, _, removed| {
                    if let Err(e) = removed {
                        app.notice = Some(Notice::warning(format!("Could not remove it: {e}")));
                    }
                },
            );
        }
    }

    /// The offer of an earlier session's render, above the preview.
    pub(super) fn restore_ui(&mut self, ui: &mut egui::Ui, cx: &mut Ctx) {
        let Some(r) = &self.offer else { return };
        let text = format!("An unsaved render from {} was recovered ({} iterations).", ago(r.modified), r.iteration);
        let mut choice = None;
        ui.horizontal_wrapped(|ui| {
            ui.label(egui::RichText::new(text).color(ui.visuals().warn_fg_color));
            if ui.button("Restore").clicked() {
                choice = Some(true);
            }
            if ui.button("Discard").clicked() {
                choice = Some(false);
            }
        });
        match choice {
            Some(true) => self.restore(cx),
            Some(false) => self.discard(cx.tasks),
            None => {}
        }
    }
}

/// "3 minutes ago" and the like.
fn ago(t: SystemTime) -> String {
    let s = SystemTime::now().duration_since(t).unwrap_or_default().as_secs();
    match s {
        0..=59 => "moments ago".to_string(),
        60..=3599 => format!("{} minute{} ago", s / 60, if s / 60 == 1 { "" } else { "s" }),
        3600..=86_399 => format!("{} hour{} ago", s / 3600, if s / 3600 == 1 { "" } else { "s" }),
        _ => format!("{} day{} ago", s / 86_400, if s / 86_400 == 1 { "" } else { "s" }),
    }
}
