//! Settings stored by this program, read back: the `nss:settings` text chunk of an exported PNG,
//! or a JSON settings file. This is a parser of untrusted input: anything it is given yields a
//! spec or one clear error, never a panic. Fields it does not know (a newer version's) are
//! skipped and named; the unversioned layout of the first releases is migrated.

use std::io::Cursor;
use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::transfer::spec::{RenderSpec, SETTINGS_KEY, SPEC_VERSION};

/// Largest settings file or PNG read for its settings.
pub const MAX_SETTINGS_BYTES: u64 = 256 << 20;

/// A spec read from stored settings, with what was left out of it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSpec {
    /// The settings, as far as this version understands them.
    pub spec: RenderSpec,
    /// Dotted names of the fields that were not understood and were skipped.
    pub ignored: Vec<String>,
    /// The version the settings were written with.
    pub version: u32,
}

impl StoredSpec {
    /// One line for the user about what was not loaded, if anything was not.
    pub fn warning(&self) -> Option<String> {
        let newer = (self.version > SPEC_VERSION).then(|| {
            format!(
                "the settings were written by a newer version (layout {}, this one reads {SPEC_VERSION})",
                self.version
            )
        });
        let ignored = (!self.ignored.is_empty()).then(|| format!("ignored {}", self.ignored.join(", ")));
        match (newer, ignored) {
            (None, None) => None,
            (Some(n), Some(i)) => Some(format!("{n}; {i}")),
            (Some(one), None) | (None, Some(one)) => Some(one),
        }
    }
}

/// Reads the settings stored in `path`: a PNG written by this program, or a JSON settings file.
pub fn read_settings(path: &Path) -> Result<StoredSpec> {
    let origin = path.display().to_string();
    let fail = |reason: String| Error::Settings { origin: origin.clone(), reason };
    if path.is_dir() {
        return Err(fail("it is a folder".into()));
    }
    let len = std::fs::metadata(path).map_err(|e| fail(e.to_string()))?.len();
    if len > MAX_SETTINGS_BYTES {
        return Err(fail(format!("the file is {} MiB, too large for settings", len >> 20)));
    }
    let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    settings_from_bytes(&bytes, &origin)
}

/// The `nss:iteration` text chunk of a PNG this program wrote: how many iterations made it.
pub fn iteration_of(path: &Path) -> Option<usize> {
    let file = std::fs::File::open(path).ok()?;
    let decoder = png::Decoder::new_with_limits(std::io::BufReader::new(file), png::Limits { bytes: 64 << 20 });
    let reader = decoder.read_info().ok()?;
    let chunk = reader.info().utf8_text.iter().find(|t| t.keyword == "nss:iteration")?;
    chunk.get_text().ok()?.parse().ok()
}

/// [`read_settings`] for bytes in memory; `origin` names them in errors.
pub fn settings_from_bytes(bytes: &[u8], origin: &str) -> Result<StoredSpec> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        settings_from_png(bytes, origin)
    } else {
        let text = std::str::from_utf8(bytes).map_err(|_| Error::Settings {
            origin: origin.into(),
            reason: "neither a PNG nor a JSON settings file".into(),
        })?;
        settings_from_json(text, origin)
    }
}

/// The settings in a PNG's `nss:settings` text chunk.
pub fn settings_from_png(bytes: &[u8], origin: &str) -> Result<StoredSpec> {
    let fail = |reason: String| Error::Settings { origin: origin.into(), reason };
    // Only the text is wanted: the pixels are never decoded.
    let decoder = png::Decoder::new_with_limits(Cursor::new(bytes), png::Limits { bytes: 64 << 20 });
    let reader = decoder.read_info().map_err(|e| fail(format!("not a readable PNG ({e})")))?;
    let info = reader.info();
    let chunk = info.utf8_text.iter().find(|t| t.keyword == SETTINGS_KEY);
    let text = match chunk {
        Some(chunk) => chunk.get_text().map_err(|e| fail(format!("its settings chunk is damaged ({e})")))?,
        None => {
            return Err(fail(
                "the PNG holds no settings (it was not exported by neural-style-studio, or its text was stripped)"
                    .into(),
            ))
        }
    };
    settings_from_json(&text, origin)
}

/// Parses settings JSON (any version): known fields are read, unknown ones skipped and named.
pub fn settings_from_json(text: &str, origin: &str) -> Result<StoredSpec> {
    let fail = |reason: String| Error::Settings { origin: origin.into(), reason };
    let value: Value = serde_json::from_str(text).map_err(|e| {
        let what = if e.is_eof() { "the settings are cut off" } else { "the settings are not valid JSON" };
        fail(format!("{what} (line {}, column {})", e.line(), e.column()))
    })?;
    let Value::Object(mut object) = value else {
        return Err(fail("the settings are not a JSON object".into()));
    };
    let version = match object.get("version") {
        None => 0,
        Some(v) => v
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| fail(format!("'version' must be a whole number, got {v}")))?,
    };
    if version == 0 {
        migrate_v0(&mut object);
    }
    let given = Value::Object(object);
    let mut spec: RenderSpec = serde_path_to_error::deserialize(&given).map_err(|e| {
        let path = e.path().to_string();
        fail(format!("'{path}': {}", e.into_inner()))
    })?;
    let understood = serde_json::to_value(&spec).map_err(|e| Error::internal(format!("settings as JSON: {e}")))?;
    let mut ignored = Vec::new();
    unknown_fields(&given, &understood, "", &mut ignored);
    spec.version = SPEC_VERSION;
    Ok(StoredSpec { spec, ignored, version })
}

/// The first releases wrote `content`/`styles` as bare paths and the model under `weights`.
fn migrate_v0(object: &mut Map<String, Value>) {
    let as_ref = |v: Value| match v {
        Value::String(path) => serde_json::json!({ "path": path }),
        other => other,
    };
    if let Some(content) = object.remove("content") {
        object.insert("content".into(), as_ref(content));
    }
    if let Some(Value::Array(styles)) = object.remove("styles") {
        object.insert("styles".into(), Value::Array(styles.into_iter().map(as_ref).collect()));
    }
    if let Some(weights) = object.remove("weights") {
        object.insert("model".into(), weights);
    }
}

/// Names (dotted) the object keys of `given` that `understood` lacks; recurses into objects and
/// arrays of objects that both have.
fn unknown_fields(given: &Value, understood: &Value, prefix: &str, out: &mut Vec<String>) {
    match (given, understood) {
        (Value::Object(g), Value::Object(u)) => {
            for (key, value) in g {
                let name = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                match u.get(key) {
                    Some(known) => unknown_fields(value, known, &name, out),
                    // An optional field left out when empty (an image without a hash) is known.
                    None if key == "sha256" => {}
                    None => out.push(name),
                }
            }
        }
        (Value::Array(g), Value::Array(u)) => {
            for (i, (a, b)) in g.iter().zip(u).enumerate() {
                unknown_fields(a, b, &format!("{prefix}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written() -> String {
        let spec = RenderSpec::new("c.png", &["s.png".into()]);
        serde_json::to_string(&spec).unwrap()
    }

    #[test]
    fn settings_written_by_this_version_read_back_whole() {
        let stored = settings_from_json(&written(), "t").unwrap();
        assert_eq!(stored.spec, RenderSpec::new("c.png", &["s.png".into()]));
        assert!(stored.ignored.is_empty() && stored.warning().is_none());
    }

    #[test]
    fn a_newer_version_loads_what_is_known_and_names_the_rest() {
        let mut v: Value = serde_json::from_str(&written()).unwrap();
        v["version"] = 7.into();
        v["glaze"] = serde_json::json!({"amount": 3});
        v["objective"]["mask_feather"] = 2.into();
        v["size"] = 300.into();
        let stored = settings_from_json(&v.to_string(), "t").unwrap();
        assert_eq!(stored.spec.size, 300);
        assert_eq!(stored.version, 7);
        assert_eq!(stored.ignored, vec!["glaze".to_string(), "objective.mask_feather".to_string()]);
        let warning = stored.warning().unwrap();
        assert!(warning.contains("newer version") && warning.contains("objective.mask_feather"), "{warning}");
    }

    #[test]
    fn the_first_releases_unversioned_layout_is_migrated() {
        let v0 = r#"{"content":"/p/c.jpg","styles":["/p/s.jpg"],"size":256,"style_scale":1.0,
            "objective":{"content_weight":1.0,"style_weight":50.0,"tv_weight":0.0,
              "content_tap":{"block":4,"conv":2},"style_layers":[],"style_blend":[1.0]},
            "run":{"optimizer":"Adam","lr":0.02,"history":100,"init":"Noise","seed":3},"weights":"Embedded"}"#;
        let stored = settings_from_json(v0, "old.png").unwrap();
        assert_eq!(stored.version, 0);
        let spec = stored.spec;
        assert_eq!(spec.content_path().unwrap(), Path::new("/p/c.jpg"));
        assert_eq!(spec.styles[0].path, Path::new("/p/s.jpg"));
        assert_eq!((spec.objective.style_weight, spec.run.seed), (50.0, 3));
    }

    #[test]
    fn numbers_survive_a_round_trip_exactly() {
        // Found by fuzzing (fuzz/seeds/read_settings/crash-round-trip.json): without exact float
        // parsing, 1.1111e23 came back one unit in the last place off after writing and reading,
        // so re-rendering from stored settings could differ from the original.
        let text = include_str!("../../../fuzz/seeds/read_settings/crash-round-trip.json");
        let stored = settings_from_json(text, "t").unwrap();
        let again = settings_from_json(&serde_json::to_string(&stored.spec).unwrap(), "t").unwrap();
        assert_eq!(again.spec, stored.spec);
        assert_eq!(stored.spec.objective.style_weight, 111_111_111_111_111_111_111_150.0);
    }

    #[test]
    fn damaged_settings_are_refused_with_one_clear_line() {
        let text = written();
        let cases = [
            (&text[..text.len() / 2], "cut off"),
            ("[1, 2]", "not a JSON object"),
            ("{\"version\": -1}", "'version'"),
            ("{\"version\": 1, \"size\": \"big\"}", "'size'"),
            ("{\"version\": 1, \"objective\": {\"style_weight\": [1]}}", "'objective.style_weight'"),
            ("not json", "not valid JSON"),
        ];
        for (input, expect) in cases {
            let msg = settings_from_json(input, "x.json").unwrap_err().to_string();
            assert!(msg.starts_with("cannot use the settings in x.json") && msg.contains(expect), "{input}: {msg}");
            assert_eq!(msg.lines().count(), 1, "{msg}");
        }
    }

    #[test]
    fn a_png_without_settings_is_named_as_such() {
        let mut bytes = Vec::new();
        image::RgbImage::new(4, 4).write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png).unwrap();
        let msg = settings_from_bytes(&bytes, "plain.png").unwrap_err().to_string();
        assert!(msg.contains("plain.png") && msg.contains("holds no settings"), "{msg}");
        let msg = settings_from_bytes(&bytes[..20], "cut.png").unwrap_err().to_string();
        assert!(msg.contains("not a readable PNG"), "{msg}");
    }
}
