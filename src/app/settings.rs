//! The studio's settings: the render's spec (the one description of a render) plus the app's
//! own preferences. Persisted with eframe's storage.

use std::path::PathBuf;

use crate::transfer::{Init, RenderSpec};

/// The render settings a new window starts with: the engine's defaults, starting from the
/// instant look (what is on screen before Start is what Start refines).
pub fn default_spec() -> RenderSpec {
    let mut spec = RenderSpec::default();
    spec.run.init = Init::Instant;
    spec
}

/// What the artist sets and what the app remembers between sessions.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The render.
    pub spec: RenderSpec,
    /// Folder of the last opened image.
    pub open_dir: Option<PathBuf>,
    /// Folder of the last export.
    pub export_dir: Option<PathBuf>,
    /// Use the in-app file browser instead of the system's dialogs.
    pub builtin_browser: bool,
    /// Long side of a print ("Render print"), in pixels.
    pub print_size: u32,
    /// The clip open, if any.
    pub clip: Option<ClipSettings>,
    /// The ffmpeg program the artist located ("Locate ffmpeg…"); `None`: the PATH's.
    pub ffmpeg: Option<PathBuf>,
    /// The photos, paintings, clips and settings used lately.
    pub recent: super::recent::RecentFiles,
}

/// The clip open in the studio.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClipSettings {
    /// The clip.
    pub path: PathBuf,
    /// The frame shown (from 0).
    pub frame: usize,
    /// Where it was last rendered to.
    pub out: Option<PathBuf>,
    /// The codec the clip is written with (one of `video::export::CODEC_NAMES`); `None`: the
    /// one its file's extension implies.
    #[serde(default)]
    pub codec: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            spec: default_spec(),
            open_dir: None,
            export_dir: None,
            builtin_browser: false,
            print_size: 2048,
            clip: None,
            ffmpeg: None,
            recent: Default::default(),
        }
    }
}

impl Settings {
    /// Restores the default render settings, keeping the images, the painted masks and the
    /// preferences.
    pub fn reset_render(&mut self) {
        let defaults = default_spec();
        let spec = &mut self.spec;
        let blend = vec![1.0; spec.styles.len()];
        let masks = std::mem::take(&mut spec.objective.masks);
        *spec = RenderSpec { content: spec.content.take(), styles: std::mem::take(&mut spec.styles), ..defaults };
        spec.objective.style_blend = blend;
        spec.objective.masks = masks;
    }

    /// Why the render cannot start yet, in the artist's words, or `None` if it can.
    pub fn not_ready(&self) -> Option<&'static str> {
        if self.spec.content.is_none() {
            Some("Pick a content image first.")
        } else if self.spec.styles.is_empty() {
            Some("Add at least one style image.")
        } else {
            None
        }
    }
}
