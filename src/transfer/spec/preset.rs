//! Presets: named looks (loss weights, per-layer style weights, style scale, pooling) applied
//! over a render description. A few are built in to help choose; the artist's own are kept in
//! `presets.json` in the user's config folder and shared by the app and the command line.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::model::{Tap, WeightsSource};
use crate::transfer::spec::look::Look;
use crate::transfer::spec::options::Init;
use crate::transfer::spec::RenderSpec;

/// Environment variable naming the folder of `presets.json` instead of the user's config
/// folder (for tests and portable installs).
pub const CONFIG_DIR_ENV: &str = "NSS_CONFIG_DIR";

/// The fields of a [`RenderSpec`] that make a look, as paths into its serde form: how stylised
/// a render is, not what it shows or how it is computed. The one list of them: a field added
/// here travels in every preset saved from then on.
const LOOK_FIELDS: [&[&str]; 12] = [
    &["objective", "content_weight"],
    &["objective", "style_weight"],
    &["objective", "tv_weight"],
    &["objective", "style_layers"],
    &["objective", "look"],
    &["objective", "style_loss"],
    &["objective", "normalize_gradients"],
    &["style_scale"],
    &["pooling"],
    &["run", "init"],
    &["model"],
    &["instant", "strength"],
];

/// A named look: a partial render description, the serde form of the [`LOOK_FIELDS`] it sets,
/// merged over a spec when applied.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Preset {
    /// Shown in the app and matched case-insensitively on the command line.
    pub name: String,
    /// One line on what it does.
    pub description: String,
    /// The fields it sets, as part of a spec's JSON (`{"objective": {"style_weight": 20.0}}`).
    pub settings: serde_json::Value,
}

impl<'de> serde::Deserialize<'de> for Preset {
    /// Today's form, or the first releases' (each field of the look flat beside the name),
    /// migrated by applying it to the default spec.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        struct Current {
            name: String,
            #[serde(default)]
            description: String,
            settings: serde_json::Value,
        }
        let value = serde_json::Value::deserialize(d)?;
        if value.get("settings").is_some() {
            let c: Current = serde_json::from_value(value).map_err(serde::de::Error::custom)?;
            if !c.settings.is_object() {
                return Err(serde::de::Error::custom("a preset's settings must be an object"));
            }
            let preset = Preset { name: c.name, description: c.description, settings: c.settings };
            // Settings of the wrong type (a hand-edited file) are refused here, once.
            preset.apply(&mut RenderSpec::default()).map_err(serde::de::Error::custom)?;
            return Ok(preset);
        }
        let legacy: legacy::Preset = serde_json::from_value(value).map_err(serde::de::Error::custom)?;
        Ok(legacy.migrated())
    }
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

/// The value at `path` in `value`, if any.
fn at<'a>(value: &'a serde_json::Value, path: &[&str]) -> Option<&'a serde_json::Value> {
    path.iter().try_fold(value, |v, key| v.get(key))
}

/// Sets the value at `path` in `value`, making objects on the way.
fn set_at(value: &mut serde_json::Value, path: &[&str], new: serde_json::Value) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut v = value;
    for key in parents {
        if !v.get(key).is_some_and(serde_json::Value::is_object) {
            if let Some(map) = v.as_object_mut() {
                map.insert((*key).to_string(), serde_json::json!({}));
            }
        }
        let Some(next) = v.get_mut(key) else { return };
        v = next;
    }
    if let Some(map) = v.as_object_mut() {
        map.insert((*last).to_string(), new);
    }
}

/// A spec's look fields as a preset compares them (the instant start counted as the photo's).
#[derive(Debug, Clone, PartialEq)]
pub struct SpecLook(serde_json::Value);

impl SpecLook {
    /// The look of `spec`.
    pub fn of(spec: &RenderSpec) -> Self {
        let mut mine = look_of(spec);
        if at(&mine, &["run", "init"]) == Some(&serde_json::json!(Init::Instant)) {
            set_at(&mut mine, &["run", "init"], serde_json::json!(Init::Content));
        }
        SpecLook(mine)
    }
}

/// The look fields of `spec`'s serde form, as a preset stores them.
fn look_of(spec: &RenderSpec) -> serde_json::Value {
    // A picture of the artist's is not a look: such a preset starts from the photo.
    let mut spec = spec.clone();
    if spec.run.init == Init::Image {
        spec.run.init = Init::Content;
    }
    let whole = serde_json::to_value(&spec).unwrap_or_default();
    let mut part = serde_json::json!({});
    for path in LOOK_FIELDS {
        if let Some(v) = at(&whole, path) {
            set_at(&mut part, path, v.clone());
        }
    }
    part
}

impl Preset {
    /// The look of `spec`, under a name.
    pub fn of(name: &str, description: &str, spec: &RenderSpec) -> Self {
        Preset { name: name.to_string(), description: description.to_string(), settings: look_of(spec) }
    }

    /// Sets the look of `spec` to this preset's (images, size, schedule and the rest stay). A
    /// preset read from a file was applied to the default spec once as it was read (see its
    /// `Deserialize`), and the built-ins are made from specs; should one still not fit `spec`,
    /// the spec stays as it was and the error says why.
    pub fn apply(&self, spec: &mut RenderSpec) -> Result<()> {
        let look: Option<Look> =
            at(&self.settings, &["objective", "look"]).and_then(|v| serde_json::from_value(v.clone()).ok());
        let mut next = spec.clone();
        if let Some(look) = look.filter(|&l| l != spec.objective.look) {
            // The look's optimiser and measure first; the weights below are this preset's.
            look.apply(&mut next);
        }
        let mut whole = serde_json::to_value(&next).map_err(|e| Error::internal(format!("a spec as JSON: {e}")))?;
        for path in LOOK_FIELDS {
            if let Some(v) = at(&self.settings, path) {
                set_at(&mut whole, path, v.clone());
            }
        }
        let mut merged: RenderSpec = serde_json::from_value(whole)
            .map_err(|e| Error::invalid(format!("the preset {} does not fit the settings: {e}", self.name)))?;
        // A look that starts from the photo keeps the instant look where it was chosen: that
        // start is the photo already painted, and what is on screen stays on screen.
        if (merged.run.init, spec.run.init) == (Init::Content, Init::Instant) {
            merged.run.init = Init::Instant;
        }
        // Masks are the artist's strokes, not part of a look (and not in its serde form).
        merged.objective.masks = spec.objective.masks.clone();
        *spec = merged;
        Ok(())
    }

    /// Whether `spec` has exactly this look.
    pub fn matches(&self, spec: &RenderSpec) -> bool {
        self.matches_look(&SpecLook::of(spec))
    }

    /// Whether a spec whose look is `look` (see [`SpecLook::of`]) has exactly this preset's: for a
    /// picker comparing one spec with every preset, each frame, without serialising it again.
    pub fn matches_look(&self, look: &SpecLook) -> bool {
        LOOK_FIELDS.iter().all(|path| at(&self.settings, path).is_none_or(|v| at(&look.0, path) == Some(v)))
    }

    /// This preset with `edit` made to the spec it describes (for the built-ins).
    fn with(name: &str, description: &str, edit: impl FnOnce(&mut RenderSpec)) -> Self {
        let mut spec = RenderSpec::default();
        edit(&mut spec);
        Preset::of(name, description, &spec)
    }

    /// The built-in presets, mildest first.
    pub fn builtins() -> Vec<Preset> {
        vec![
            Preset::with("Subtle", "The photo first, with the painting's colour and a light texture", |s| {
                s.objective.style_weight = 20.0;
            }),
            Preset::with("Balanced", "The default: the photo's layout in the painting's texture", |_| {}),
            // jcjohnson/neural-style's defaults on its network: its look comes from the classic
            // VGG19's features and the grey start (docs/looks.md).
            Preset::with("Bold", "Strongly painted, as the classic tools: large swirls across sky and houses", |s| {
                (s.objective.content_weight, s.objective.style_weight, s.objective.tv_weight) = (5.0, 100.0, 1e-3);
                s.run.init = Init::Grey;
                s.model = WeightsSource::ClassicVgg19;
            }),
            Preset::with("Fine texture", "Small, dense brushwork; the photo's shapes stay crisp", |s| {
                s.objective.style_weight = 200.0;
                s.objective.style_layers = layers([2.0, 2.0, 1.0, 0.5, 0.25]);
                s.style_scale = 0.6;
            }),
            Preset::with("Large strokes", "The painting's marks at a larger scale, from its deeper layers", |s| {
                s.objective.style_weight = 300.0;
                s.objective.style_layers = layers([0.5, 0.5, 1.0, 2.0, 2.0]);
                s.style_scale = 1.6;
            }),
            Preset::with(
                "Modern",
                "crowsonkb's recipe: every layer's texture in balance, Adam, a calm averaged picture",
                |s| Look::Modern.apply(s),
            ),
        ]
    }
}

/// The first releases' presets: each field of the look flat beside the name.
mod legacy {
    use super::{Init, Look, RenderSpec, Tap, WeightsSource};
    use crate::model::Pooling;

    /// A preset as first stored (missing fields take the default spec's).
    #[derive(serde::Deserialize)]
    #[serde(default)]
    pub(super) struct Preset {
        name: String,
        description: String,
        content_weight: f64,
        style_weight: f64,
        tv_weight: f64,
        style_layers: Vec<(Tap, f64)>,
        style_scale: f64,
        pooling: Pooling,
        init: Init,
        look: Look,
        normalize_gradients: bool,
        model: WeightsSource,
    }

    impl Default for Preset {
        fn default() -> Self {
            let spec = RenderSpec::default();
            let o = spec.objective;
            Preset {
                name: String::new(),
                description: String::new(),
                content_weight: o.content_weight,
                style_weight: o.style_weight,
                tv_weight: o.tv_weight,
                style_layers: o.style_layers,
                style_scale: spec.style_scale,
                pooling: spec.pooling,
                init: spec.run.init,
                look: o.look,
                normalize_gradients: o.normalize_gradients,
                model: spec.model,
            }
        }
    }

    impl Preset {
        /// Today's preset: this one applied to the default spec, as it was applied then.
        pub(super) fn migrated(self) -> super::Preset {
            let mut spec = RenderSpec::default();
            if self.look != spec.objective.look {
                self.look.apply(&mut spec);
            }
            let o = &mut spec.objective;
            (o.content_weight, o.style_weight, o.tv_weight) = (self.content_weight, self.style_weight, self.tv_weight);
            o.style_layers = self.style_layers;
            o.normalize_gradients = self.normalize_gradients;
            (spec.style_scale, spec.pooling, spec.run.init, spec.model) =
                (self.style_scale, self.pooling, self.init, self.model);
            super::Preset::of(&self.name, &self.description, &spec)
        }
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
        bold.apply(&mut spec).unwrap();
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
        modern.apply(&mut spec).unwrap();
        assert_eq!((spec.objective.look, spec.run.optimizer), (Look::Modern, OptimizerKind::Adam));
        assert!(spec.run.average > 0.0 && modern.matches(&spec));
        Preset::builtins()[2].apply(&mut spec).unwrap();
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
        mine.apply(&mut other).unwrap();
        assert!(other.objective.normalize_gradients && mine.matches(&other));
        Preset::builtins()[1].apply(&mut other).unwrap();
        assert!(!other.objective.normalize_gradients, "Balanced does not normalise");
    }

    #[test]
    fn user_presets_round_trip_and_replace_a_builtin_of_the_same_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("presets.json");
        assert!(load_user_presets(&path).unwrap().is_empty(), "no file: no presets");
        let mine = Preset::with("bold", "", |s| s.objective.style_weight = 5000.0);
        save_user_presets(&path, std::slice::from_ref(&mine)).unwrap();
        let loaded = load_user_presets(&path).unwrap();
        assert_eq!(loaded, vec![mine]);
        let all = all_presets(loaded);
        assert_eq!(all.len(), Preset::builtins().len());
        let mut spec = RenderSpec::default();
        find(&all, "Bold").unwrap().apply(&mut spec).unwrap();
        assert_eq!(spec.objective.style_weight, 5000.0);
    }

    #[test]
    fn presets_saved_by_the_first_releases_are_read_as_the_look_they_set() {
        let old = r#"[{"name": "Swirly", "description": "mine", "style_weight": 500.0, "look": "Modern",
                       "init": "Grey", "style_scale": 1.5}]"#;
        let presets: Vec<Preset> = serde_json::from_str(old).unwrap();
        let mut spec = RenderSpec { size: 333, ..RenderSpec::default() };
        presets[0].apply(&mut spec).unwrap();
        assert_eq!(
            (spec.objective.style_weight, spec.objective.look, spec.run.init),
            (500.0, Look::Modern, Init::Grey)
        );
        assert_eq!((spec.style_scale, spec.size), (1.5, 333));
        assert_eq!(spec.run.optimizer, crate::transfer::OptimizerKind::Adam, "the look brings its optimiser");
        assert!(presets[0].matches(&spec));
        // Saved again, it is today's partial spec.
        let saved = serde_json::to_value(&presets[0]).unwrap();
        assert_eq!(saved["settings"]["objective"]["style_weight"], 500.0);
        assert!(saved.get("style_weight").is_none());
    }

    #[test]
    fn a_preset_carries_the_instant_looks_strength() {
        let mut spec = RenderSpec::default();
        spec.instant.strength = 0.4;
        let mine = Preset::of("Gentle", "", &spec);
        let mut other = RenderSpec::default();
        assert!(!mine.matches(&other));
        mine.apply(&mut other).unwrap();
        assert_eq!(other.instant.strength, 0.4);
        assert!(mine.matches(&other));
    }

    #[test]
    fn a_preset_whose_settings_do_not_fit_a_spec_is_refused_when_read() {
        let bad = r#"[{"name": "Odd", "settings": {"objective": {"style_weight": "lots"}}}]"#;
        let err = serde_json::from_str::<Vec<Preset>>(bad).unwrap_err().to_string();
        assert!(err.contains("Odd") && err.contains("\"lots\""), "{err}");
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
