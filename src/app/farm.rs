//! A farm render's folder in the studio ("Open render folder…"): a clip's frames folder or a
//! batch's prints, written by tasks on other machines. A window shows the frames written and
//! each task's state, read again every few seconds on a task (never in the frame), and plays the
//! finished frames (or shows the finished prints) in the preview while the rest render.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::playback::Playback;
use super::tasks::Tasks;
use crate::farm::progress::{describe, Kind, Progress};

/// How often the folder is read again while its window is open.
const REFRESH: Duration = Duration::from_secs(3);

/// An open render folder.
pub struct FarmView {
    /// The folder.
    pub folder: PathBuf,
    /// What it held at the last reading, or why it could not be read.
    pub progress: Option<Result<Progress, String>>,
    reading: bool,
    next: Instant,
}

impl FarmView {
    /// Follows `folder` (a clip's frames folder with a farm plan, or a batch's output folder).
    pub fn new(folder: PathBuf) -> Self {
        FarmView { folder, progress: None, reading: false, next: Instant::now() }
    }

    /// Reads the folder again when it is due (on a task).
    pub(super) fn tick(&mut self, ctx: &egui::Context, tasks: &mut Tasks) {
        let view = self;
        let now = Instant::now();
        if view.reading || now < view.next {
            ctx.request_repaint_after(view.next.saturating_duration_since(now).max(Duration::from_millis(100)));
            return;
        }
        view.reading = true;
        let folder = view.folder.clone();
        tasks.spawn(
            "farm",
            move || Progress::read(&folder).map_err(|e| e.to_string()),
            |app, _, progress| {
                let Some(view) = app.panels.farm.as_mut() else { return };
                view.reading = false;
                view.next = Instant::now() + REFRESH;
                // Frames finished meanwhile join the playback's next round.
                if let (Ok(p), Some(play)) = (&progress, app.panels.clip.playback.as_mut()) {
                    if play.follows_folder {
                        play.files.clone_from(&p.finished);
                    }
                }
                view.progress = Some(progress);
            },
        );
    }

    /// Starts or stops `playback` of the folder's finished frames (a batch's prints, a second
    /// each).
    fn toggle_playback(&self, playback: &mut Option<Playback>) {
        if playback.take().is_some() {
            return;
        }
        let Some(Ok(progress)) = &self.progress else { return };
        let fps = match progress.kind {
            Kind::Clip => progress.fps,
            Kind::Batch => 1.0,
        };
        *playback = Some(Playback::following(progress.finished.clone(), fps));
    }
}

/// The render folder's window, while one is open: frames written, the tasks, and `playback` of
/// the finished ones.
pub(super) fn farm_ui(farm: &mut Option<FarmView>, playback: &mut Option<Playback>, ctx: &egui::Context) {
    let Some(view) = farm else { return };
    let mut open = true;
    let mut toggle = false;
    let playing = playback.as_ref().is_some_and(|p| p.follows_folder);
    egui::Window::new("Render folder").open(&mut open).default_width(420.0).show(ctx, |ui| {
        ui.weak(view.folder.display().to_string());
        match &view.progress {
            None => {
                ui.weak("Reading the folder…");
            }
            Some(Err(e)) => {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            Some(Ok(progress)) => toggle = progress_ui(ui, progress, playing),
        }
    });
    if toggle {
        view.toggle_playback(playback);
    }
    if !open {
        *farm = None;
        if playing {
            *playback = None;
        }
    }
}

/// The frames written, the tasks' counts and states, and the playback toggle (returns whether
/// it was clicked).
fn progress_ui(ui: &mut egui::Ui, progress: &Progress, playing: bool) -> bool {
    let (unit, play) = match progress.kind {
        Kind::Clip => ("frames", "Play finished frames"),
        Kind::Batch => ("pictures", "Show finished prints"),
    };
    let share = progress.written as f32 / progress.total.max(1) as f32;
    ui.add(egui::ProgressBar::new(share).text(format!("{} of {} {unit}", progress.written, progress.total)));
    let [done, running, failed, left] = progress.counts();
    ui.label(format!("Tasks: {done} done, {running} running, {failed} failed, {left} left"));
    egui::ScrollArea::vertical().max_height(240.0).show(ui, |ui| {
        egui::Grid::new("farm-tasks").striped(true).show(ui, |ui| {
            for (n, (task, state)) in progress.tasks.iter().enumerate() {
                ui.label(format!("Task {n}"));
                ui.label(format!("{} {}..{}", unit, task.first + 1, task.end));
                ui.label(describe(task, state, unit));
                ui.end_row();
            }
        });
    });
    !progress.finished.is_empty() && ui.selectable_label(playing, play).clicked()
}
