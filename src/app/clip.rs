//! A clip in the studio: opened (picker or drop), scrubbed on a timeline (the frame shown
//! becomes the content photo, so the look is steered on any frame exactly as on a photo),
//! rendered frame by frame on the worker with progress over frames, and its finished frames
//! played back in the preview while the rest renders. Decoding, listing and reading frames run
//! on tasks; nothing here waits in the frame.

use std::path::{Path, PathBuf};

use egui::Ui;

use super::ctx::Ctx;
use super::ffmpeg::FfmpegPanel;
use super::settings::ClipSettings;
use super::tasks::Purpose;
use super::tasks::Tasks;
use super::Action;
use crate::notice::Notice;
use crate::transfer::{ImageRef, RenderSpec, VideoMode, VideoOptions};
use crate::video::clip::{ClipInfo, ClipReader};
use crate::video::estimate::duration;
use crate::video::store::{frames_folder, ClipPlan, FrameStore};
use crate::worker::{ClipRequest, Command};

/// The file extensions opened as clips: video files (read by ffmpeg; Baseline MP4 without) and
/// animations.
pub const CLIP_EXTENSIONS: &[&str] = &[
    "mp4", "m4v", "mov", "mkv", "webm", "avi", "mts", "m2ts", "mpg", "mpeg", "wmv", "flv", "ogv", "3gp", "gif", "webp",
    "apng",
];

/// The file extensions a clip is written as (.mov, .webm and .mkv through ffmpeg).
pub const CLIP_OUT_EXTENSIONS: &[&str] = &["mp4", "mov", "webm", "mkv", "gif", "png"];

/// The open clip's state apart from the settings.
#[derive(Default)]
pub struct ClipPanel {
    /// What the clip is, once read, or why it cannot be.
    pub info: Option<Result<ClipInfo, String>>,
    /// A timeline frame is being decoded.
    seeking: bool,
    /// The frame the timeline asks for next, once the one being decoded is in.
    wanted: Option<usize>,
    /// Frames of the output already rendered, and in all, when a render can go on.
    pub resumable: Option<(usize, usize)>,
    /// Playing the finished frames.
    pub playback: Option<super::playback::Playback>,
    /// Where timeline frames are written for the content slot.
    cache: Option<tempfile::TempDir>,
    /// A clip was rendering at the last frame.
    rendering: bool,
    /// The clip's shots, once found (on a task).
    pub shots: Option<Vec<crate::video::shots::Shot>>,
    /// The render's estimate.
    pub estimate: super::clip_estimate::EstimatePanel,
}

impl ClipPanel {
    /// Opens the clip at `path`: reads what it is and shows its first frame as the content.
    pub(super) fn open(&mut self, path: &Path, cx: &mut Ctx) {
        let codec = cx.settings.clip.as_ref().and_then(|c| c.codec.clone());
        cx.settings.clip = Some(ClipSettings { path: path.to_path_buf(), frame: 0, out: None, codec });
        cx.settings.open_dir = path.parent().map(Path::to_path_buf);
        cx.settings.recent.add(path.to_path_buf(), super::recent::Used::Clip);
        self.playback = None;
        self.reopen(cx);
    }

    /// Reads the clip of the settings (at start-up, or when opened) and shows its frame.
    pub(super) fn reopen(&mut self, cx: &mut Ctx) {
        let Some(clip) = cx.settings.clip.clone() else { return };
        self.info = None;
        self.resumable = None;
        self.shots = None;
        self.estimate = Default::default();
        let path = clip.path.clone();
        let size = cx.settings.spec.size;
        cx.tasks.spawn(
            "shots",
            move || super::timeline::find_shots(&path, size),
            |app, _, shots| {
                app.panels.clip.shots = shots;
            },
        );
        let path = clip.path.clone();
        cx.tasks.spawn(
            "clip",
            move || ClipReader::open(&path).map(|r| r.info().clone()).map_err(|e| e.to_string()),
            |app, _, info| {
                if let Err(e) = &info {
                    app.notice = Some(Notice::error(e.clone()));
                }
                app.panels.clip.info = Some(info);
            },
        );
        self.seek(clip.frame, cx);
        if let Some(out) = clip.out {
            check_resumable(out, cx.tasks);
        }
    }

    /// Shows frame `index` (from 0) of the open clip as the content, decoded on a task.
    fn seek(&mut self, index: usize, cx: &mut Ctx) {
        let Some(clip) = cx.settings.clip.as_mut() else { return };
        clip.frame = index;
        if self.seeking {
            self.wanted = Some(index);
            return;
        }
        self.seeking = true;
        let path = clip.path.clone();
        // The folder the frames shown are written to is made (once) by the task, not in the
        // frame; it comes back with the frame and lives as long as the panel.
        let cache = self.cache.take();
        cx.tasks.spawn(
            "seek",
            move || {
                let cache = match cache {
                    Some(cache) => cache,
                    None => match tempfile::Builder::new().prefix("nss-clip-").tempdir() {
                        Ok(cache) => cache,
                        Err(e) => return (None, Err(format!("No temporary folder for the clip's frames: {e}."))),
                    },
                };
                let file = frame_file(&path, index, cache.path());
                (Some(cache), file)
            },
            move |app, _, (cache, file)| {
                let (panels, mut cx) = app.parts();
                let clip = &mut panels.clip;
                clip.seeking = false;
                clip.cache = clip.cache.take().or(cache);
                match file {
                    Ok(file) => cx.tasks.decode(&file, Some(Purpose::Content)),
                    Err(e) => cx.say(Notice::error(e)),
                }
                if let Some(next) = clip.wanted.take() {
                    clip.seek(next, &mut cx);
                }
            },
        );
    }

    /// Renders the open clip into `out` (or goes on with its frames already there); a long
    /// clip asks first, with its estimate.
    pub(super) fn render(&mut self, out: PathBuf, cx: &mut Ctx) {
        let frames = match &self.info {
            Some(Ok(info)) => info.frames,
            _ => 0,
        };
        if frames > super::clip_estimate::ASK_FRAMES {
            self.ask_before_rendering(out, cx);
        } else {
            self.start(out, cx);
        }
    }

    /// Sends the clip render to the worker.
    pub(super) fn start(&mut self, out: PathBuf, cx: &mut Ctx) {
        let Some(clip) = cx.settings.clip.as_mut() else { return };
        clip.out = Some(out.clone());
        let spec = RenderSpec { content: Some(ImageRef::new(&clip.path)), ..cx.settings.spec.clone() };
        if let Err(e) = spec.validate() {
            cx.say(Notice::error(e.to_string()));
            return;
        }
        let plan = ClipPlan { clip: clip.path.clone(), first: 0, end: usize::MAX, fps: 0.0, spec };
        self.resumable = None;
        let codec = clip.codec.clone();
        cx.live.worker.send(Command::RenderClip(Box::new(ClipRequest { plan, out, codec })));
        cx.live.run_spec = None;
        cx.say(Notice::info("Rendering the clip…"));
    }

    /// Notices a clip render that ended (finished, cancelled or failed) and looks whether it
    /// can go on.
    pub(super) fn tick(&mut self, cx: &mut Ctx) {
        let rendering = cx.live.clip_progress().is_some();
        if self.rendering && !rendering {
            if let Some(out) = cx.settings.clip.as_ref().and_then(|c| c.out.clone()) {
                check_resumable(out, cx.tasks);
            }
        }
        self.rendering = rendering;
    }

    /// The clip panel: open, timeline, mode and hold, Render clip with its progress, playback;
    /// with what `ffmpeg` found.
    pub(super) fn ui(&mut self, ui: &mut Ui, ffmpeg: &FfmpegPanel, cx: &mut Ctx) {
        let Some(clip) = cx.settings.clip.clone() else {
            if ui.button("Open clip…").on_hover_text("A video, GIF, WebP or APNG to stylise frame by frame").clicked()
            {
                cx.ask(Action::Pick(Purpose::Clip));
            }
            ffmpeg.ui(ui, cx);
            return;
        };
        let name =
            clip.path.file_name().map_or_else(|| clip.path.display().to_string(), |n| n.to_string_lossy().into());
        ui.horizontal(|ui| {
            ui.label(name);
            if ui.small_button("Close").on_hover_text("Back to a still picture").clicked() {
                cx.settings.clip = None;
                *self = ClipPanel::default();
            }
        });
        let frames = match &self.info {
            None => {
                ui.weak("Reading the clip…");
                return;
            }
            Some(Err(e)) => {
                ui.colored_label(ui.visuals().error_fg_color, e);
                return;
            }
            Some(Ok(info)) => {
                let sound = if info.sound { ", with sound" } else { "" };
                ui.weak(format!("{}{sound}", info.about)).on_hover_text(format!(
                    "{} frames, {:.3} fps, {}x{} as shown",
                    info.frames, info.fps, info.size.0, info.size.1
                ));
                for note in &info.notes {
                    ui.weak(note.to_string());
                }
                info.frames
            }
        };
        if let Some(frame) = super::timeline::timeline_ui(ui, clip.frame, frames, self.shots.as_deref()) {
            self.seek(frame, cx);
        }
        let spec = &mut cx.settings.spec;
        video_options_ui(&mut spec.video, &mut spec.objective.temporal_weight, ui);
        if let Some(clip) = cx.settings.clip.as_mut() {
            super::ffmpeg::codec_ui(&mut clip.codec, ui);
        }
        if cx.live.clip_progress().is_none() {
            self.estimate_ui(ui, cx);
        }
        self.progress_ui(ui, &clip, cx);
    }

    /// Render clip (or its progress and Cancel), and playback of the finished frames.
    fn progress_ui(&mut self, ui: &mut Ui, clip: &ClipSettings, cx: &mut Ctx) {
        match cx.live.clip_progress() {
            Some(p) => {
                let (done, total) = p.frames;
                let within = if p.iterations.1 > 0 { p.iterations.0 as f32 / p.iterations.1 as f32 } else { 0.0 };
                let share = (done as f32 + within) / total.max(1) as f32;
                ui.add(egui::ProgressBar::new(share).text(format!("frame {} of {total}", (done + 1).min(total))));
                let pace = match (p.per_minute, p.seconds_left) {
                    (Some(rate), Some(left)) => format!("{rate:.1} frames/min, {} left", duration(left)),
                    _ => "timing the first frame…".to_string(),
                };
                ui.weak(pace);
                if ui.button("Cancel clip").on_hover_text("Stop; the finished frames are kept").clicked() {
                    cx.live.worker.send(Command::CancelClip);
                }
            }
            None => {
                let label = match (self.resumable, &clip.out) {
                    (Some((done, total)), Some(_)) => format!("Resume clip ({done} of {total} done)"),
                    _ => "Render clip…".to_string(),
                };
                let hover = "Every frame with this look, into a video (MP4, MOV, WebM, MKV), a GIF or an APNG";
                if ui.button(label).on_hover_text(hover).clicked() {
                    match (self.resumable, &clip.out) {
                        (Some(_), Some(out)) => self.render(out.clone(), cx),
                        _ => cx.ask(Action::Pick(Purpose::ClipOut)),
                    }
                }
            }
        }
        if clip.out.is_some() {
            let playing = self.playback.is_some();
            if ui.selectable_label(playing, "Play rendered frames").clicked() {
                self.toggle_playback(cx);
            }
        }
    }
}

/// Looks (on a task) whether `out`'s frames folder holds an unfinished render.
fn check_resumable(out: PathBuf, tasks: &mut Tasks) {
    tasks.spawn(
        "resumable",
        move || {
            let store = FrameStore::open(&frames_folder(&out).ok()?).ok()?;
            let (done, total) = (store.finished(), store.plan().end - store.plan().first);
            (done > 0 && done < total).then_some((done, total))
        },
        |app, _, resumable| app.panels.clip.resumable = resumable,
    );
}

/// Quality or Fast, the hold between frames, and the later frames' budget.
fn video_options_ui(video: &mut VideoOptions, temporal_weight: &mut f64, ui: &mut Ui) {
    ui.horizontal(|ui| {
        ui.selectable_value(&mut video.mode, VideoMode::Quality, "Quality")
            .on_hover_text("Each frame optimised, started from the one before carried along the motion");
        ui.selectable_value(&mut video.mode, VideoMode::Fast, "Fast")
            .on_hover_text("Each frame painted by the instant look, blended with the one before");
    });
    ui.add(egui::Slider::new(temporal_weight, 0.0..=1e4).logarithmic(true).smallest_positive(10.0).text("Steadiness"))
        .on_hover_text(
            "The temporal weight: how strongly each frame holds to the one before (less flicker, softer strokes)",
        );
    if video.mode == VideoMode::Quality {
        ui.add(egui::Slider::new(&mut video.later_iterations, 1..=500).logarithmic(true).text("Iterations per frame"))
            .on_hover_text("For every frame after the first, which runs the whole schedule");
    }
    ui.checkbox(&mut video.looped, "Loop").on_hover_text(
        "For a clip that repeats (a GIF): its first frames are rendered again after the last, joined to it, \
         so the wrap does not jump",
    );
}

/// Frame `index` of the clip at `path`, written as a PNG into `dir` (for the panel to show).
fn frame_file(path: &Path, index: usize, dir: &Path) -> Result<PathBuf, String> {
    let mut reader = ClipReader::open(path).map_err(|e| e.to_string())?;
    reader.seek(index).map_err(|e| e.to_string())?;
    let frame = reader.next_frame().map_err(|e| e.to_string())?.ok_or("the clip has no such frame")?;
    let file = dir.join(format!("frame-{:06}.png", index + 1));
    crate::imageio::save_png(&image::DynamicImage::ImageRgb8(frame), &file, &[]).map_err(|e| e.to_string())?;
    Ok(file)
}
