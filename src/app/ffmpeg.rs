//! ffmpeg in the studio: looked for on a task when the window opens (never in the frame), named
//! by the artist with "Locate ffmpeg…" (remembered), its version in About, and the codec a clip
//! is written with.

use std::path::PathBuf;

use egui::Ui;

use super::ctx::Ctx;
use super::tasks::Purpose;
use super::Action;
use crate::notice::Notice;
use crate::video::ffmpeg::{self, Ffmpeg, Location};

/// What the look-up found: the version and program, `None` when there is none, or why the one
/// named cannot be used.
pub type Found = Result<Option<(String, PathBuf)>, String>;

/// ffmpeg as the app knows it.
#[derive(Default)]
pub struct FfmpegPanel {
    /// The last look-up's answer; `None` while looking.
    pub found: Option<Found>,
}

/// The codecs offered for a clip: (the name `--codec` takes, what the artist reads).
const CODECS: [(Option<&str>, &str); 5] = [
    (None, "From the file's extension"),
    (Some("h264"), "H.264 (plays everywhere)"),
    (Some("hevc"), "HEVC (smaller; MP4, MOV, MKV)"),
    (Some("prores"), "ProRes 422 HQ (for editors; MOV)"),
    (Some("vp9"), "VP9 (for the web; WebM)"),
];

impl FfmpegPanel {
    /// Uses the ffmpeg the settings remember unless the command line or `NSS_FFMPEG` named
    /// one, and looks it up on a task.
    pub(super) fn find(&mut self, cx: &mut Ctx) {
        if let (Location::Auto, Some(path)) = (ffmpeg::location(), cx.settings.ffmpeg.clone()) {
            ffmpeg::choose(Location::Program(path));
        }
        self.found = None;
        cx.tasks.spawn(
            "ffmpeg",
            || ffmpeg::find().map(|f| f.map(|f| (f.version, f.ffmpeg))).map_err(|e| e.to_string()),
            |app, _, found| {
                let failed = matches!(app.panels.clip.info, Some(Err(_)));
                if let Err(e) = &found {
                    app.notice = Some(Notice::warning(e.clone()));
                } else if failed && matches!(found, Ok(Some(_))) {
                    // A clip refused for want of ffmpeg opens now.
                    let (panels, mut cx) = app.parts();
                    panels.clip.reopen(&mut cx);
                }
                app.panels.ffmpeg.found = Some(found);
            },
        );
    }

    /// The artist named the ffmpeg program: looked at on a task, then used and remembered if it
    /// is ffmpeg; if not, it is named and the one before stays in use.
    pub(super) fn locate(&mut self, path: PathBuf, cx: &mut Ctx) {
        let program = path.clone();
        cx.tasks.spawn(
            "locate ffmpeg",
            move || Ffmpeg::at(&program).map_err(|e| e.to_string()),
            move |app, _, found| match found {
                Ok(ffmpeg) => {
                    ffmpeg::choose(Location::Program(path.clone()));
                    app.settings.ffmpeg = Some(path);
                    app.notice =
                        Some(Notice::info(format!("Clips are read and written by ffmpeg {}.", ffmpeg.version)));
                    let (panels, mut cx) = app.parts();
                    panels.ffmpeg.find(&mut cx);
                }
                Err(e) => app.notice = Some(Notice::warning(e)),
            },
        );
    }

    /// One line on ffmpeg for the clip panel, with "Locate ffmpeg…".
    pub(super) fn ui(&self, ui: &mut Ui, cx: &mut Ctx) {
        ui.horizontal_wrapped(|ui| {
            match &self.found {
                None => ui.weak("Looking for ffmpeg…"),
                Some(Ok(Some((version, _)))) => ui.weak(format!("Clips read and written by ffmpeg {version}")),
                Some(Ok(None)) => ui
                    .weak("Without ffmpeg: Baseline MP4, GIF, WebP and APNG clips only")
                    .on_hover_text(ffmpeg::install_hint()),
                Some(Err(e)) => ui.colored_label(ui.visuals().warn_fg_color, e),
            };
            if ui
                .small_button("Locate ffmpeg…")
                .on_hover_text("Choose the ffmpeg program to read and write clips")
                .clicked()
            {
                cx.ask(Action::Pick(Purpose::Ffmpeg));
            }
        });
    }

    /// ffmpeg's line in About.
    pub(super) fn about_ui(&self, ui: &mut Ui) {
        let text = match &self.found {
            None => "ffmpeg: looking…".to_string(),
            Some(Ok(Some((version, path)))) => format!("ffmpeg {version} ({})", path.display()),
            Some(Ok(None)) => format!("ffmpeg: not found; {}", ffmpeg::install_hint()),
            Some(Err(e)) => format!("ffmpeg: {e}"),
        };
        ui.label(text);
    }
}

/// The codec a clip is written with.
pub(super) fn codec_ui(codec: &mut Option<String>, ui: &mut Ui) {
    let shown = CODECS.iter().find(|(name, _)| codec.as_deref() == *name).map_or("From the file's extension", |c| c.1);
    egui::ComboBox::from_label("Codec")
        .selected_text(shown)
        .show_ui(ui, |ui| {
            for (name, text) in CODECS {
                if ui.selectable_label(codec.as_deref() == name, text).clicked() {
                    *codec = name.map(str::to_string);
                }
            }
        })
        .response
        .on_hover_text("By default .mp4 and .mkv are H.264, .mov ProRes 422 HQ, .webm VP9");
}
