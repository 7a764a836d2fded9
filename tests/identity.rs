//! The app's identity: the icon in every size a desktop asks for, the window's icon and id
//! matching the menu entry, `--version`, and the About box with the networks' licences.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::ui::harness;

use egui_kittest::kittest::Queryable;
use neural_style_studio::app::about::{LEARNED_FROM, MODELS};
use neural_style_studio::app::clip::CLIP_EXTENSIONS;
use neural_style_studio::app::{Launch, APP_ID, ICON_PNG, IMAGE_EXTENSIONS};

#[test]
fn the_icon_comes_in_every_size_and_the_menu_entry_names_the_window_and_the_icon() {
    for n in [16u32, 24, 32, 48, 64, 128, 256, 512] {
        let path = format!("assets/icons/hicolor/{n}x{n}/apps/{APP_ID}.png");
        let icon = image::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!((icon.width(), icon.height()), (n, n), "{path}");
        assert!(icon.color().has_alpha(), "{path}: rounded corners need transparency");
    }
    let window = eframe::icon_data::from_png_bytes(ICON_PNG).expect("the window's icon decodes as eframe reads it");
    assert_eq!((window.width, window.height), (256, 256));
    let entry = std::fs::read_to_string(format!("assets/{APP_ID}.desktop")).unwrap();
    for line in [&format!("Icon={APP_ID}"), &format!("StartupWMClass={APP_ID}"), "Exec=neural-style-studio %F"] {
        assert!(entry.lines().any(|l| l == line), "{line} in the menu entry");
    }
    // "Open with" offers the app for every kind of file it opens.
    let types = entry.lines().find_map(|l| l.strip_prefix("MimeType=")).expect("a MimeType line");
    let types: Vec<&str> = types.split(';').filter(|t| !t.is_empty()).collect();
    let opened = IMAGE_EXTENSIONS.iter().chain(CLIP_EXTENSIONS).chain(&["json"]);
    for ext in opened {
        let mime = match *ext {
            "jpg" | "jpeg" => "image/jpeg",
            "png" => "image/png",
            "apng" => "image/apng",
            "webp" => "image/webp",
            "gif" => "image/gif",
            "bmp" => "image/bmp",
            "tif" | "tiff" => "image/tiff",
            "mp4" | "m4v" => "video/mp4",
            "mov" => "video/quicktime",
            "mkv" => "video/x-matroska",
            "webm" => "video/webm",
            "avi" => "video/x-msvideo",
            "mts" | "m2ts" => "video/mp2t",
            "mpg" | "mpeg" => "video/mpeg",
            "wmv" => "video/x-ms-wmv",
            "flv" => "video/x-flv",
            "ogv" => "video/ogg",
            "3gp" => "video/3gpp",
            "json" => "application/json",
            other => panic!("no MIME type known for .{other}: add it here and to the menu entry"),
        };
        assert!(types.contains(&mime), "{mime} (.{ext}) in the menu entry's MimeType");
    }
}

#[test]
fn version_prints_the_crates_version() {
    let o = common::binary().arg("--version").output().unwrap();
    assert!(o.status.success());
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), format!("neural-style-studio {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn the_about_box_shows_the_version_the_networks_licences_and_what_we_learned_from() {
    let mut h = harness(Launch::default());
    h.run_steps(2);
    h.get_by_label("About").click();
    h.run_steps(2);
    assert!(h.query_by_label(&format!("neural-style-studio {}", env!("CARGO_PKG_VERSION"))).is_some());
    for (name, _, licence) in MODELS {
        assert!(h.query_by_label(name).is_some() && h.query_by_label(licence).is_some(), "{name}");
    }
    for work in LEARNED_FROM {
        assert!(h.query_by_label(work).is_some(), "{work}");
    }
}

#[test]
fn a_presets_file_from_a_newer_version_is_named_and_kept_not_saved_over() {
    common::hermetic();
    let dir = std::path::PathBuf::from(std::env::var_os("NSS_CONFIG_DIR").unwrap());
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("presets.json");
    let newer = r#"{"version": 9, "presets": [{"name": "From the future"}]}"#;
    std::fs::write(&file, newer).unwrap();
    let mut h = harness(Launch::default());
    common::ui::step_until(&mut h, 30, "the presets read", |a| a.notice.is_some());
    let notice = h.state().notice.clone().unwrap();
    assert!(notice.text.contains("presets.json") && notice.text.contains("left as it is"), "{notice}");
    h.state_mut().panels.presets.new_name = "Mine".into();
    h.run_steps(2);
    h.get_by_label("Save preset").click();
    h.run_steps(3);
    let notice = h.state().notice.clone().unwrap();
    assert!(notice.text.contains("kept as they are"), "{notice}");
    common::ui::step_until(&mut h, 30, "no task left", |a| a.pending_tasks() == 0);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), newer, "the newer file is untouched");
}
