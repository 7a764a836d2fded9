//! The one description of a render: images (with their sha256), sizes, the stage schedule, the
//! objective, the optimiser and the model. The command line, the app's settings, PNG metadata
//! and presets all read and write it. It is versioned and every field has a default, so settings
//! written by this version still load after fields are added.

pub mod look;
pub mod mask;
pub mod objective;
pub mod options;
pub mod preset;
pub mod schedule;
pub mod sheet_plan;
pub mod stored;
pub mod video;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::model::{DeviceChoice, Pooling, WeightsSource};
use crate::transfer::spec::objective::Objective;
use crate::transfer::spec::options::PreserveColors;
use crate::transfer::spec::options::RunSettings;
use crate::transfer::spec::options::{InstantLook, Method};
use crate::transfer::spec::schedule::{automatic, coarse_to_fine, Stage};
use crate::transfer::spec::video::VideoOptions;

/// Version of the spec's layout this build writes. Version 0 is the unversioned layout of the
/// first releases (`content` and `styles` as bare paths, `weights` for the model).
pub const SPEC_VERSION: u32 = 1;
/// Smallest output long side that still leaves relu5_1 a few pixels (16x downsampling).
pub const MIN_SIZE: u32 = 32;
/// Smallest short side the network accepts: four 2x2 poolings leave relu5_1 one pixel.
pub const MIN_SHORT_SIDE: u32 = 16;
/// Largest output long side accepted (larger renders run in tiles when memory requires).
pub const MAX_SIZE: u32 = 8192;

/// An input image: its path, and the sha256 of the file the render used (filled in when the
/// render loads it; checked when stored settings are reused).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ImageRef {
    /// Where the file is.
    pub path: PathBuf,
    /// Lower-case hex SHA-256 of the file's bytes, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl ImageRef {
    /// A reference to `path` with no recorded hash.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        ImageRef { path: path.into(), sha256: None }
    }
}

/// How many iterations run, and at which sizes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Schedule {
    /// The iteration budget: at the working size of the automatic schedule ([`automatic`]), or
    /// at full size with `scales` stages ([`coarse_to_fine`]).
    pub iterations: usize,
    /// 0: the automatic schedule (single scale up to 640 px, multi-scale above); 1: single
    /// scale; N: N stages, each twice the size of the one before. Settings written before the
    /// automatic schedule existed say 1 and so render as they did.
    pub scales: usize,
    /// Explicit stages, smallest first, ending at the output size: when present they replace
    /// the two fields above.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<Stage>,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule { iterations: 300, scales: 0, stages: Vec::new() }
    }
}

impl Schedule {
    /// The stages of a render of long side `size`, smallest first.
    pub fn plan(&self, size: u32) -> Vec<Stage> {
        match self.scales {
            _ if !self.stages.is_empty() => self.stages.clone(),
            0 => automatic(size, self.iterations),
            n => coarse_to_fine(size, n, self.iterations),
        }
    }

    fn validate(&self, size: u32) -> Result<()> {
        if self.scales > 8 {
            return Err(Error::invalid(format!("scales must be between 0 (automatic) and 8, got {}", self.scales)));
        }
        if self.stages.len() > 8 {
            return Err(Error::invalid(format!("at most 8 stages, got {}", self.stages.len())));
        }
        let list = || self.stages.iter().map(Stage::to_string).collect::<Vec<_>>().join(",");
        if let Some(bad) = self.stages.iter().find(|s| !(MIN_SIZE..=MAX_SIZE).contains(&s.size)) {
            return Err(Error::invalid(format!(
                "stage sizes must be between {MIN_SIZE} and {MAX_SIZE} pixels, got {bad} in {}",
                list()
            )));
        }
        if self.stages.windows(2).any(|w| w[1].size < w[0].size) {
            return Err(Error::invalid(format!("stages go from small to large, got {}", list())));
        }
        if self.stages.last().is_some_and(|s| s.size != size) {
            return Err(Error::invalid(format!("the last stage ({}) must be the output size ({size} px)", list())));
        }
        Ok(())
    }
}

/// Everything that defines a render, as stored in an exported PNG.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct RenderSpec {
    /// Layout version ([`SPEC_VERSION`] when written by this build).
    pub version: u32,
    /// The content photo (`None` until one is chosen).
    pub content: Option<ImageRef>,
    /// The style paintings (their blend weights are `objective.style_blend`).
    pub styles: Vec<ImageRef>,
    /// The picture the optimisation starts from when `run.init` is `Image`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_image: Option<ImageRef>,
    /// Long side of the output in pixels.
    pub size: u32,
    /// Style images are resized to `size * style_scale` on their long side.
    pub style_scale: f64,
    /// Iterations and stages.
    pub schedule: Schedule,
    /// Loss weights: the part a running render can change in place.
    pub objective: Objective,
    /// Optimiser, learning rate, history, initial image and seed.
    pub run: RunSettings,
    /// Model weights.
    pub model: WeightsSource,
    /// How the network pools between blocks (max as trained, or average as Gatys et al. also
    /// used): part of the model, so a change recomputes the targets.
    pub pooling: Pooling,
    /// Where to compute.
    pub device: DeviceChoice,
    /// Whether and how the photo's colours are kept.
    pub preserve_colors: PreserveColors,
    /// Optimisation, or the instant look alone.
    pub method: Method,
    /// The instant look's settings (for `Method::Instant` and `Init::Instant`).
    pub instant: InstantLook,
    /// How a clip is rendered (only clips read it).
    pub video: VideoOptions,
}

impl Default for RenderSpec {
    fn default() -> Self {
        RenderSpec {
            version: SPEC_VERSION,
            content: None,
            styles: Vec::new(),
            init_image: None,
            size: 512,
            style_scale: 1.0,
            schedule: Schedule::default(),
            objective: Objective { style_blend: Vec::new(), ..Objective::default() },
            run: RunSettings::default(),
            model: WeightsSource::Embedded,
            pooling: Pooling::Max,
            device: DeviceChoice::Auto,
            preserve_colors: PreserveColors::Off,
            method: Method::Optimise,
            instant: InstantLook::default(),
            video: VideoOptions::default(),
        }
    }
}

impl RenderSpec {
    /// A spec for `content` and `styles` (equal blend), everything else default.
    pub fn new(content: impl Into<PathBuf>, styles: &[PathBuf]) -> Self {
        let mut spec = RenderSpec { content: Some(ImageRef::new(content)), ..RenderSpec::default() };
        for s in styles {
            spec.add_style(s);
        }
        spec
    }

    /// Appends a style image with blend weight 1.
    pub fn add_style(&mut self, path: &Path) {
        self.styles.push(ImageRef::new(path));
        self.objective.style_blend.push(1.0);
    }

    /// Removes style image `index` and its blend weight (out of range: nothing happens).
    pub fn remove_style(&mut self, index: usize) {
        if index < self.styles.len() {
            self.styles.remove(index);
            if index < self.objective.style_blend.len() {
                self.objective.style_blend.remove(index);
            }
            self.objective.masks.remove(index);
        }
    }

    /// Replaces the style images (equal blend, no masks).
    pub fn set_styles(&mut self, paths: &[PathBuf]) {
        self.styles = paths.iter().map(ImageRef::new).collect();
        self.objective.style_blend = vec![1.0; paths.len()];
        self.objective.masks.masks.clear();
    }

    /// The content photo's path, or a user error if none is chosen.
    pub fn content_path(&self) -> Result<&Path> {
        self.content.as_ref().map(|c| c.path.as_path()).ok_or_else(|| Error::invalid("no content image is chosen"))
    }

    /// The stages this spec runs, smallest first.
    pub fn stages(&self) -> Vec<Stage> {
        self.schedule.plan(self.size)
    }

    /// Checks sizes, scales, images and weights before any work is done.
    pub fn validate(&self) -> Result<()> {
        self.content_path()?;
        if !(MIN_SIZE..=MAX_SIZE).contains(&self.size) {
            return Err(Error::invalid(format!(
                "size must be between {MIN_SIZE} and {MAX_SIZE} pixels, got {}",
                self.size
            )));
        }
        if !(self.style_scale.is_finite() && (0.1..=4.0).contains(&self.style_scale)) {
            return Err(Error::invalid(format!("style scale must be between 0.1 and 4, got {}", self.style_scale)));
        }
        if self.styles.is_empty() {
            return Err(Error::invalid("at least one style image is needed"));
        }
        self.schedule.validate(self.size)?;
        if self.run.init == crate::transfer::spec::options::Init::Image && self.init_image.is_none() {
            return Err(Error::invalid("starting from an image needs the image (--init-image PATH)"));
        }
        if !(self.run.lr.is_finite() && self.run.lr > 0.0) {
            return Err(Error::invalid(format!("learning rate must be > 0, got {}", self.run.lr)));
        }
        if self.run.history == 0 || self.run.history > 10_000 {
            return Err(Error::invalid(format!(
                "L-BFGS history must be between 1 and 10000, got {}",
                self.run.history
            )));
        }
        if self.run.tile.is_some_and(|t| !(16..=MAX_SIZE).contains(&t)) {
            return Err(Error::invalid(format!(
                "tiles must be between 16 and {MAX_SIZE} pixels, got {}",
                self.run.tile.unwrap_or(0)
            )));
        }
        self.instant.validate()?;
        self.video.validate()?;
        self.objective.validate(self.styles.len())
    }

    /// The spec with the parts a running render can take in place (the objective's weights and
    /// measures, the iteration budget, the instant strength, the average shown, luminance-only
    /// colour keeping) and the recorded hashes set aside: two specs that differ only there
    /// describe the same run. The one list of what changes live (`Job::update` takes the rest).
    fn restart_key(&self) -> RenderSpec {
        let unhashed = |i: &ImageRef| ImageRef::new(&i.path);
        RenderSpec {
            version: SPEC_VERSION,
            content: self.content.as_ref().map(unhashed),
            styles: self.styles.iter().map(unhashed).collect(),
            init_image: self.init_image.as_ref().map(unhashed),
            // Weights steer a run in place; which layers are matched needs new targets and
            // perhaps a deeper network.
            objective: Objective {
                content_tap: self.objective.content_tap,
                style_layers: self.objective.style_layers.iter().map(|&(tap, _)| (tap, 0.0)).collect(),
                ..Objective::default()
            },
            schedule: Schedule { iterations: 0, ..self.schedule.clone() },
            // Which picture is shown (the iterate or the average of the recent ones) changes
            // nothing the optimiser holds.
            run: RunSettings { average: 0.0, ..self.run.clone() },
            // The strength shapes the starting picture only: a run under way has moved on.
            instant: InstantLook::default(),
            // Read by the clip driver between frames, never by a run.
            video: VideoOptions::default(),
            preserve_colors: match self.preserve_colors {
                PreserveColors::Luminance => PreserveColors::Off,
                other => other,
            },
            ..self.clone()
        }
    }

    /// Whether going from `self` (the running render) to `other` needs a new run, rather than an
    /// in-place change (see `restart_key`).
    pub fn needs_restart(&self, other: &RenderSpec) -> bool {
        self.restart_key() != other.restart_key()
    }

    /// The PNG text chunks documenting how an image was made. The spec is plain data, so
    /// serialising it cannot fail; if it ever did, the error says so rather than dropping it.
    pub fn png_text(&self, iteration: usize) -> Result<Vec<(String, String)>> {
        let json = serde_json::to_string(self).map_err(|e| Error::internal(format!("settings as JSON: {e}")))?;
        Ok(vec![
            ("Software".to_string(), format!("neural-style-studio {}", env!("CARGO_PKG_VERSION"))),
            ("nss:iteration".to_string(), iteration.to_string()),
            (SETTINGS_KEY.to_string(), json),
        ])
    }
}

/// Keyword of the PNG text chunk holding the spec as JSON.
pub const SETTINGS_KEY: &str = "nss:settings";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_round_trips_through_json_with_its_version() {
        let mut spec = RenderSpec::new("c.png", &["a.jpg".into(), "b.jpg".into()]);
        spec.objective.style_blend = vec![0.7, 0.3];
        spec.run.seed = 9;
        let json = serde_json::to_string(&spec).unwrap();
        assert!(json.contains("\"version\":1"), "{json}");
        let back: RenderSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(back, spec);
    }

    #[test]
    fn missing_fields_take_their_defaults() {
        let spec: RenderSpec = serde_json::from_str(r#"{"version":1,"size":256,"objective":{"tv_weight":2}}"#).unwrap();
        assert_eq!(spec.size, 256);
        assert_eq!(spec.objective.tv_weight, 2.0);
        assert_eq!(spec.objective.style_weight, 100.0);
        assert_eq!(spec.run, RunSettings::default());
        assert_eq!(spec.schedule, Schedule::default());
    }

    #[test]
    fn only_changes_outside_the_objective_and_budget_need_a_restart() {
        let base = RenderSpec::new("c.png", &["s.png".into()]);
        let mut live = base.clone();
        live.objective.style_weight = 1e4;
        live.objective.style_layers[2].1 = 0.0;
        live.schedule.iterations = 5;
        live.content.as_mut().unwrap().sha256 = Some("ab".into());
        live.preserve_colors = PreserveColors::Luminance;
        live.run.average = 0.97;
        assert!(!base.needs_restart(&live));
        for change in [
            |s: &mut RenderSpec| s.size = 256,
            |s: &mut RenderSpec| s.style_scale = 2.0,
            |s: &mut RenderSpec| s.schedule.scales = 2,
            |s: &mut RenderSpec| s.schedule.stages = vec![Stage { size: 512, iterations: 5 }],
            |s: &mut RenderSpec| s.run.seed = 1,
            |s: &mut RenderSpec| s.run.lr = 0.5,
            |s: &mut RenderSpec| s.model = WeightsSource::File("w.safetensors".into()),
            |s: &mut RenderSpec| s.device = DeviceChoice::Cpu,
            |s: &mut RenderSpec| s.add_style(Path::new("t.png")),
            |s: &mut RenderSpec| s.preserve_colors = PreserveColors::Histogram,
            |s: &mut RenderSpec| s.objective.content_tap = crate::model::Tap::new(2, 2),
            |s: &mut RenderSpec| s.objective.style_layers.truncate(2),
        ] {
            let mut other = base.clone();
            change(&mut other);
            assert!(base.needs_restart(&other), "{other:?}");
        }
    }

    #[test]
    fn validation_names_the_first_problem() {
        let ok = RenderSpec::new("c.png", &["s.png".into()]);
        ok.validate().unwrap();
        let msg = |f: fn(&mut RenderSpec)| {
            let mut s = ok.clone();
            f(&mut s);
            s.validate().unwrap_err().to_string()
        };
        assert!(msg(|s| s.content = None).contains("no content image"));
        assert!(msg(|s| s.size = 8).contains("size must be between"));
        assert!(msg(|s| s.styles.clear()).contains("at least one style"));
        assert!(msg(|s| s.run.lr = f64::NAN).contains("learning rate"));
        assert!(msg(|s| s.objective.style_blend.push(1.0)).contains("blend"));
        fn stages(s: &mut RenderSpec, list: &[(u32, usize)]) {
            s.schedule.stages = list.iter().map(|&(size, iterations)| Stage { size, iterations }).collect();
        }
        assert!(msg(|s| stages(s, &[(1024, 5), (512, 5)])).contains("small to large"));
        assert!(msg(|s| stages(s, &[(256, 5)])).contains("must be the output size (512 px)"));
        assert!(msg(|s| stages(s, &[(8, 5), (512, 5)])).contains("8x5 in 8x5,512x5"));
    }

    #[test]
    fn stored_single_scale_settings_keep_their_schedule_and_new_ones_are_automatic() {
        let old: Schedule = serde_json::from_str(r#"{"iterations":300,"scales":1}"#).unwrap();
        assert_eq!(old.plan(1024), vec![Stage { size: 1024, iterations: 300 }]);
        let new = RenderSpec { size: 1024, ..RenderSpec::default() };
        assert_eq!(new.stages().iter().map(|s| s.size).collect::<Vec<_>>(), vec![512, 1024]);
        let json = serde_json::to_string(&new.schedule).unwrap();
        assert!(!json.contains("stages"), "{json}");
    }
}
