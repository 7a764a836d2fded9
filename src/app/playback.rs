//! Playing finished frames in the preview: a clip's rendered frames (listed again at the end of
//! each round, so frames finished meanwhile join in), or a render folder's, followed as its
//! readings add to them. Each frame decodes on a task when it is due.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::clip::ClipPanel;
use super::ctx::Ctx;
use super::preview::Versioned;
use crate::notice::Notice;
use crate::video::store::{frames_folder, FrameStore};

/// The finished frames being played in the preview.
pub struct Playback {
    /// The frames, in order.
    pub files: Vec<PathBuf>,
    next: usize,
    due: Instant,
    loading: bool,
    fps: f64,
    /// The frame on screen.
    pub shown: Option<Versioned>,
    /// Played from an open render folder, whose readings keep `files` up to date: it starts
    /// over at its end (else the clip's output folder is listed again).
    pub follows_folder: bool,
}

impl Playback {
    /// Plays `files` at `fps` from the first, over and over, as a render folder's readings
    /// add to them.
    pub fn following(files: Vec<PathBuf>, fps: f64) -> Self {
        Playback { files, next: 0, due: Instant::now(), loading: false, fps, shown: None, follows_folder: true }
    }
}

impl ClipPanel {
    /// Starts or stops playing the finished frames of the clip's output.
    pub(super) fn toggle_playback(&mut self, cx: &mut Ctx) {
        if self.playback.take().is_some() {
            return;
        }
        let Some(out) = cx.settings.clip.as_ref().and_then(|c| c.out.clone()) else { return };
        cx.tasks.spawn(
            "frames",
            move || FrameStore::open(&frames_folder(&out).ok()?).ok().map(|s| (s.frames(), s.plan().fps)),
            |app, _, listed| match listed {
                Some((files, fps)) if !files.is_empty() => {
                    app.panels.clip.playback = Some(Playback {
                        files,
                        next: 0,
                        due: Instant::now(),
                        loading: false,
                        fps,
                        shown: None,
                        follows_folder: false,
                    });
                }
                _ => app.notice = Some(Notice::info("No frame of the clip is finished yet.")),
            },
        );
    }

    /// Shows the next finished frame when it is due (decoded on a task; the list of frames is
    /// read again at the end, so frames finished meanwhile play on the next round).
    pub(super) fn playback_tick(&mut self, ctx: &egui::Context, cx: &mut Ctx) {
        let Some(play) = self.playback.as_mut() else { return };
        let now = Instant::now();
        if play.loading || now < play.due {
            ctx.request_repaint_after(play.due.saturating_duration_since(now));
            return;
        }
        if play.next >= play.files.len() {
            if play.follows_folder {
                play.next = 0;
                return;
            }
            self.playback = None;
            self.toggle_playback(cx);
            return;
        }
        let file = play.files[play.next].clone();
        play.loading = true;
        play.due = now + Duration::from_secs_f64(1.0 / play.fps.max(1.0));
        cx.tasks.spawn(
            "play",
            move || crate::imageio::load_rgb(&file).map(|f| image::DynamicImage::ImageRgb8(f).into_rgba8()),
            |app, _, frame| {
                let Some(play) = app.panels.clip.playback.as_mut() else { return };
                play.loading = false;
                play.next += 1;
                if let Ok(frame) = frame {
                    app.live.versions += 1;
                    play.shown = Some(Versioned { image: Arc::new(frame), version: app.live.versions });
                }
            },
        );
    }
}
