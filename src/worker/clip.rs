//! Clips on the worker thread ("Render clip"): a [`ClipRender`] stepped one unit of work per loop
//! turn (an iteration, or a fast frame), so commands still apply between them; each frame shown
//! as it evolves, progress over frames published, the clip exported when every frame is done.
//! Cancelling keeps every finished frame; a later Render clip of the same output goes on.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use super::run::State;
use super::{lock, Frame, Status};
use crate::error::Result;
use crate::notice::Notice;
use crate::video::export::{export, ClipFormat};
use crate::video::render::{ClipEvent, ClipRender};
use crate::video::store::{frames_folder, ClipPlan};

/// A clip to render: what, and where to.
#[derive(Debug, Clone)]
pub struct ClipRequest {
    /// The clip, frames and settings.
    pub plan: ClipPlan,
    /// Where the finished clip is written (.mp4, .mov, .webm, .mkv, .gif, .png, or a folder of
    /// frames).
    pub out: PathBuf,
    /// Its codec, over what the extension implies (see `ClipFormat::choose`).
    pub codec: Option<String>,
}

impl ClipRequest {
    /// The folder the frames are written to as they finish (see [`frames_folder`]).
    pub fn folder(&self) -> Result<PathBuf> {
        frames_folder(&self.out)
    }
}

/// How a clip render is going, for the owner.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipProgress {
    /// Frames written, and in all.
    pub frames: (usize, usize),
    /// The frame in progress's iterations done and in all (Quality mode).
    pub iterations: (usize, usize),
    /// Frames written per minute in this session (`None` before the first).
    pub per_minute: Option<f64>,
    /// Seconds left at that pace.
    pub seconds_left: Option<f64>,
    /// The frames folder.
    pub folder: PathBuf,
    /// Where the clip goes.
    pub out: PathBuf,
    /// The clip's frames per second.
    pub fps: f64,
}

/// A clip being rendered.
pub(super) struct ClipRun {
    render: ClipRender,
    out: PathBuf,
    codec: Option<String>,
    started: Instant,
    rendered: usize,
    progress: ClipProgress,
}

impl State {
    /// Starts (or resumes, when its frames folder holds a render of it) the clip `request`; the
    /// live run ends.
    pub(super) fn start_clip(&mut self, request: ClipRequest) -> Result<()> {
        self.running = false;
        self.clip = None;
        self.set_status(Status::Preparing);
        // A format this machine cannot write is refused before any frame is rendered.
        ClipFormat::choose(&request.out, request.codec.as_deref())?.check_writable(&request.out)?;
        let folder = request.folder()?;
        let resumable = crate::video::store::FrameStore::open(&folder)
            .is_ok_and(|s| s.plan().clip == request.plan.clip && s.finished() > 0);
        let (render, notes) = if resumable {
            let render = ClipRender::resume(&folder)?;
            let (done, total) = render.progress();
            (render, vec![Notice::info(format!("Going on with the clip: {done} of {total} frames were done."))])
        } else {
            let (render, notes) = ClipRender::start(&folder, request.plan)?;
            (render, notes.into_iter().map(Notice::from).collect())
        };
        if let Some(notice) = crate::notice::combined(&notes) {
            lock(&self.shared).notice = Some(notice);
        }
        ClipFormat::choose(&request.out, request.codec.as_deref())?.check_size(render.size())?;
        let (done, total) = render.progress();
        let progress = ClipProgress {
            frames: (done, total),
            iterations: (0, 0),
            per_minute: None,
            seconds_left: None,
            folder,
            out: request.out.clone(),
            fps: render.plan().fps,
        };
        lock(&self.shared).clip_progress = Some(progress.clone());
        let (out, codec) = (request.out, request.codec);
        self.clip = Some(ClipRun { render, out, codec, started: Instant::now(), rendered: 0, progress });
        self.set_status(Status::Running);
        Ok(())
    }

    /// Stops the clip render; its finished frames stay in its folder.
    pub(super) fn cancel_clip(&mut self) {
        let Some(clip) = self.clip.take() else { return };
        let (done, total) = clip.render.progress();
        let mut shared = lock(&self.shared);
        shared.clip_progress = None;
        shared.notice = Some(Notice::info(format!(
            "Clip stopped: {done} of {total} frames are kept in {}; Render clip goes on from there.",
            clip.progress.folder.display()
        )));
        shared.status = Status::Stopped;
        drop(shared);
        (self.notify)();
    }

    /// One unit of the clip's work; exports the clip after its last frame.
    pub(super) fn clip_step(&mut self) -> Result<()> {
        let Some(clip) = self.clip.as_mut() else { return Ok(()) };
        let events = match clip.render.step() {
            Ok(events) => events,
            Err(e) => {
                // The frames written stay; the message says how to go on.
                self.clip = None;
                lock(&self.shared).clip_progress = None;
                return Err(e);
            }
        };
        for event in &events {
            match *event {
                ClipEvent::Iteration { done, total, .. } => clip.progress.iterations = (done, total),
                ClipEvent::Frame { .. } => {
                    clip.rendered += 1;
                    clip.progress.iterations = (0, 0);
                }
                ClipEvent::Cut { .. } | ClipEvent::Joined { .. } | ClipEvent::Finished => {}
            }
        }
        let (done, total) = clip.render.progress();
        clip.progress.frames = (done, total);
        if clip.rendered > 0 {
            let per_second = clip.rendered as f64 / clip.started.elapsed().as_secs_f64().max(1e-3);
            clip.progress.per_minute = Some(per_second * 60.0);
            clip.progress.seconds_left = Some((total - done) as f64 / per_second);
        }
        lock(&self.shared).clip_progress = Some(clip.progress.clone());
        if let Some(picture) = clip.render.picture()? {
            let spec = Arc::new(clip.render.plan().spec.clone());
            let image = Arc::new(image::DynamicImage::ImageRgb8(picture).into_rgba8());
            let content = clip.render.input().map_or_else(
                || image.clone(),
                |input| Arc::new(image::DynamicImage::ImageRgb8(input.clone()).into_rgba8()),
            );
            let (iteration, total) = clip.progress.iterations;
            self.publish_frame(Frame {
                run: 0,
                image,
                content,
                iteration,
                total,
                stage: 0,
                max_print: None,
                device: "CPU",
                losses: None,
                seconds: 0.0,
                spec,
            });
        }
        if events.contains(&ClipEvent::Finished) {
            self.finish_clip()?;
        }
        Ok(())
    }

    /// Writes the finished clip and says where.
    fn finish_clip(&mut self) -> Result<()> {
        let Some(clip) = self.clip.take() else { return Ok(()) };
        lock(&self.shared).clip_progress = None;
        let format = ClipFormat::choose(&clip.out, clip.codec.as_deref())?;
        let sound = clip.render.sound();
        let note = export(&clip.render.store().frames(), clip.render.plan().fps, &clip.out, format, sound.as_ref())?;
        let mut text = format!("Clip written to {}", clip.out.display());
        if let Some(note) = note {
            text.push_str(&format!(" ({note})"));
        }
        lock(&self.shared).notice = Some(Notice::info(format!("{text}.")));
        self.set_status(Status::Stopped);
        Ok(())
    }
}
