//! Presets: named looks (loss weights, per-layer style weights, style scale, pooling) applied
//! over a render description. A few are built in to help choose; the artist's own are kept in
//! `presets.json` in the user's config folder and shared by the app and the command line.

use std::path::{Path, PathBuf};

use super::look::Look;
use super::spec::RenderSpec;
use super::stepper::Init;
use crate::error::{Error, Result};
use crate::model::{Pooling, Tap, WeightsSource};

/// Environment variable naming the folder of `presets.json` instead of the user's config
/// folder (for tests and portable installs).
pub const CONFIG_DIR_ENV: &str = "NSS_CONFIG_DIR";

/// A named look: the part of a render description that says how stylised it is, not what it
/// shows or how it is computed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Preset {
    /// Shown in the app and matched case-insensitively on the command line.
    pub name: String,
    /// One line on what it does.
    pub description: String,
    /// Content loss weight.
    pub content_weight: f64,
    /// Style loss weight.
    pub style_weight: f64,
    /// Total-variation weight.
    pub tv_weight: f64,
    /// Style layers and their weights, shallow to deep.
    pub style_layers: Vec<(Tap, f64)>,
    /// Style images are resized to the output size times this: above 1, larger strokes.
    pub style_scale: f64,
    /// Pooling between the network's blocks.
    pub pooling: Pooling,
    /// What the optimisation starts from (a grey start lets the painting take over).
    pub init: Init,
    /// The recipe the weights belong to (its measure and optimiser).
    pub look: Look,
    /// Whether each term's gradient is normalised (it changes what the weights mean).
    pub normalize_gradients: bool,
    /// The network whose features define the look (the classic VGG19 paints differently from
    /// VGG16 under the same weights).
    pub model: WeightsSource,
}

impl Default for Preset {
    fn default() -> Self {
        Preset::of("", "", &RenderSpec::default())
    }
}

/// The default style layers with the given weights, relu1_1 to relu5_1.
fn layers(weights: [f64; 5]) -> Vec<(Tap, f64)> {
    (1..=5).map(|b| Tap::new(b, 1)).zip(weights).collect()
}

impl Preset {
    /// The look of `spec`, under a name.
    pub fn of(name: &str, description: &str, spec: &RenderSpec) -> Self {
        let o = &spec.objective;
        Preset {
            name: name.to_string(),
            description: description.to_string(),
            content_weight: o.content_weight,
            style_weight: o.style_weight,
            tv_weight: o.tv_weight,
            style_layers: o.style_layers.clone(),
            style_scale: spec.style_scale,
            pooling: spec.pooling,
            // A picture of the artist's is not a look: such a preset starts from the photo.
            init: if spec.run.init == Init::Image { Init::Content } else { spec.run.init },
            look: spec.objective.look,
            normalize_gradients: spec.objective.normalize_gradients,
            model: spec.model.clone(),
        }
    }

    /// Sets the look of `spec` to this preset's (images, size, schedule and the rest stay).
    pub fn apply(&self, spec: &mut RenderSpec) {
        if spec.objective.look != self.look {
            // The look's optimiser and measure first; the weights below are this preset's.
            self.look.apply(spec);
        }
        let o = &mut spec.objective;
        o.content_weight = self.content_weight;
        o.style_weight = self.style_weight;
        o.tv_weight = self.tv_weight;
        o.style_layers = self.style_layers.clone();
        o.normalize_gradients = self.normalize_gradients;
        spec.style_scale = self.style_scale;
        spec.pooling = self.pooling;
        // A look that starts from the photo keeps the instant look where it was chosen: that
        // start is the photo already painted, and what is on screen stays on screen.
        spec.run.init = match (self.init, spec.run.init) {
            (Init::Content, Init::Instant) => Init::Instant,
            (init, _) => init,
        };
        spec.model = self.model.clone();
    }

    /// Whether `spec` has exactly this look.
    pub fn matches(&self, spec: &RenderSpec) -> bool {
        let mut of = Preset::of("", "", spec);
        if (of.init, self.init) == (Init::Instant, Init::Content) {
            of.init = Init::Content;
        }
        Preset { name: self.name.clone(), description: self.description.clone(), ..of } == *self
    }

    /// The built-in presets, mildest first.
    pub fn builtins() -> Vec<Preset> {
        let base = Preset::default();
        let mut modern = RenderSpec::default();
        Look::Modern.apply(&mut modern);
        vec![
            Preset {
                name: "Subtle".into(),
                description: "The photo first, with the painting's colour and a light texture".into(),
                style_weight: 20.0,
                ..base.clone()
            },
            Preset {
                name: "Balanced".into(),
                description: "The default: the photo's layout in the painting's texture".into(),
                ..base.clone()
            },
            Preset {
                // jcjohnson/neural-style's defaults on its network: its look comes from the
                // classic VGG19's features and the grey start (docs/looks.md).
                name: "Bold".into(),
                description: "Strongly painted, as the classic tools: large swirls across sky and houses".into(),
                content_weight: 5.0,
                style_weight: 100.0,
                tv_weight: 1e-3,
                init: Init::Grey,
                model: WeightsSource::ClassicVgg19,
                ..base.clone()
            },
            Preset {
                name: "Fine texture".into(),
                description: "Small, dense brushwork; the photo's shapes stay crisp".into(),
                style_weight: 200.0,
                style_layers: layers([2.0, 2.0, 1.0, 0.5, 0.25]),
                style_scale: 0.6,
                ..base.clone()
            },
            Preset {
                name: "Large strokes".into(),
                description: "The painting's marks at a larger scale, from its deeper layers".into(),
                style_weight: 300.0,
                style_layers: layers([0.5, 0.5, 1.0, 2.0, 2.0]),
                style_scale: 1.6,
                ..base
            },
            Preset {
                name: "Modern".into(),
                description: "crowsonkb's recipe: every layer's texture in balance, Adam, a calm averaged picture"
                    .into(),
                ..Preset::of("", "", &modern)
            },
        ]
    }
}

/// The preset called `name` (any case) among `presets`; an unknown name lists the known ones.
pub fn find<'a>(presets: &'a [Preset], name: &str) -> Result<&'a Preset> {
    presets.iter().find(|p| p.name.eq_ignore_ascii_case(name.trim())).ok_or_else(|| {
        let names: Vec<&str> = presets.iter().map(|p| p.name.as_str()).collect();
        Error::invalid(format!("no preset called '{name}'; the presets are {}", names.join(", ")))
    })
}

/// Where the artist's presets live: `$NSS_CONFIG_DIR/presets.json`, else `presets.json` in the
/// user's config folder (`None` when the system has none).
pub fn user_presets_path() -> Option<PathBuf> {
    let dir = match std::env::var_os(CONFIG_DIR_ENV) {
        Some(dir) => PathBuf::from(dir),
        None => directories::ProjectDirs::from("", "", "neural-style-studio")?.config_dir().to_path_buf(),
    };
    Some(dir.join("presets.json"))
}

/// The artist's presets from `path` (none when the file does not exist). A file that does not
/// parse is an error naming it and left as it is.
pub fn load_user_presets(path: &Path) -> Result<Vec<Preset>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::invalid(format!("cannot read the presets in {}: {e}", path.display()))),
    };
    serde_json::from_str(&text).map_err(|e| {
        Error::invalid(format!("the presets in {} do not parse ({e}); the file was left as it is", path.display()))
    })
}

/// Writes the artist's presets to `path` atomically (a temporary file renamed over it), making
/// its folder if needed.
pub fn save_user_presets(path: &Path, presets: &[Preset]) -> Result<()> {
    let fail =
        |e: &dyn std::fmt::Display| Error::invalid(format!("cannot save the presets to {}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| fail(&e))?;
    }
    let json = serde_json::to_string_pretty(presets).map_err(|e| Error::internal(format!("presets as JSON: {e}")))?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, json).map_err(|e| fail(&e))?;
    std::fs::rename(&tmp, path).map_err(|e| fail(&e))
}

/// The built-in presets followed by the artist's (an artist's preset with a built-in's name
/// replaces it).
pub fn all_presets(user: Vec<Preset>) -> Vec<Preset> {
    let mut all: Vec<Preset> =
        Preset::builtins().into_iter().filter(|b| !user.iter().any(|u| u.name.eq_ignore_ascii_case(&b.name))).collect();
    all.extend(user);
    all
}

/// Every preset on offer: the built-ins and the artist's from [`user_presets_path`]. A presets
/// file that cannot be read costs only the artist's presets: the error comes back beside the
/// built-ins, for the caller to show.
pub fn available_presets() -> (Vec<Preset>, Option<Error>) {
    match user_presets_path().map(|p| load_user_presets(&p)).transpose() {
        Ok(user) => (all_presets(user.unwrap_or_default()), None),
        Err(e) => (all_presets(Vec::new()), Some(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_found_in_any_case_and_unknown_names_list_the_known_ones() {
        let all = Preset::builtins();
        assert_eq!(find(&all, "bold").unwrap().name, "Bold");
        assert_eq!(find(&all, " FINE TEXTURE ").unwrap().name, "Fine texture");
        let err = find(&all, "wild").unwrap_err().to_string();
        assert!(err.contains("Subtle, Balanced, Bold, Fine texture, Large strokes"), "{err}");
    }

    #[test]
    fn applying_a_preset_sets_the_look_and_keeps_the_rest() {
        let mut spec = RenderSpec { size: 333, ..RenderSpec::default() };
        let bold = Preset::builtins().into_iter().find(|p| p.name == "Bold").unwrap();
        bold.apply(&mut spec);
        assert_eq!((spec.objective.content_weight, spec.objective.style_weight), (5.0, 100.0));
        assert_eq!((spec.run.init, &spec.model), (Init::Grey, &WeightsSource::ClassicVgg19));
        assert_eq!(spec.size, 333);
        assert!(bold.matches(&spec));
        assert!(Preset::builtins()[1].matches(&RenderSpec::default()), "Balanced is the default look");
        assert!(!Preset::builtins()[0].matches(&spec));
    }

    #[test]
    fn a_preset_of_another_look_brings_that_looks_optimiser() {
        use crate::transfer::OptimizerKind;
        let mut spec = RenderSpec::default();
        let modern = Preset::builtins().into_iter().find(|p| p.name == "Modern").unwrap();
        modern.apply(&mut spec);
        assert_eq!((spec.objective.look, spec.run.optimizer), (Look::Modern, OptimizerKind::Adam));
        assert!(spec.run.average > 0.0 && modern.matches(&spec));
        Preset::builtins()[2].apply(&mut spec);
        assert_eq!((spec.objective.look, spec.run.optimizer), (Look::Classic, OptimizerKind::Lbfgs));
        assert_eq!((spec.run.average, spec.objective.style_weight), (0.0, 100.0));
    }

    #[test]
    fn a_preset_keeps_whether_gradients_are_normalised() {
        // Its weights mean something else with normalised gradients: the two travel together.
        let mut spec = RenderSpec::default();
        spec.objective.normalize_gradients = true;
        spec.objective.style_weight = 20.0;
        let mine = Preset::of("Swirls", "", &spec);
        let mut other = RenderSpec::default();
        mine.apply(&mut other);
        assert!(other.objective.normalize_gradients && mine.matches(&other));
        Preset::builtins()[1].apply(&mut other);
        assert!(!other.objective.normalize_gradients, "Balanced does not normalise");
    }

    #[test]
    fn user_presets_round_trip_and_replace_a_builtin_of_the_same_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("presets.json");
        assert!(load_user_presets(&path).unwrap().is_empty(), "no file: no presets");
        let mine = Preset { name: "bold".into(), style_weight: 5000.0, ..Preset::default() };
        save_user_presets(&path, std::slice::from_ref(&mine)).unwrap();
        let loaded = load_user_presets(&path).unwrap();
        assert_eq!(loaded, vec![mine]);
        let all = all_presets(loaded);
        assert_eq!(all.len(), Preset::builtins().len());
        assert_eq!(find(&all, "Bold").unwrap().style_weight, 5000.0);
    }

    #[test]
    fn a_presets_file_that_does_not_parse_is_named_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("presets.json");
        std::fs::write(&path, "{ not json").unwrap();
        let err = load_user_presets(&path).unwrap_err().to_string();
        assert!(err.contains("presets.json") && err.contains("left as it is"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{ not json");
    }
}
