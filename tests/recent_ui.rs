//! Recent files in the window: photos, paintings and settings used lately are offered again in
//! the Recent menu, one gone is greyed out with Locate…, and a damaged stored list costs
//! nothing else of the settings.
#![cfg(feature = "app")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::ui::{harness, step_until, tall_harness};
use eframe::Storage;
use egui_kittest::kittest::{NodeT, Queryable};
use neural_style_studio::app::recent::Used;
use neural_style_studio::app::tasks::Purpose;
use neural_style_studio::app::{Launch, Settings};
use neural_style_studio::transfer::RenderSpec;

#[test]
fn photos_paintings_and_settings_used_come_back_from_the_recent_menu_and_a_missing_one_is_greyed() {
    let dir = tempfile::tempdir().unwrap();
    let (photo, other, painting) =
        (dir.path().join("photo.png"), dir.path().join("other.png"), dir.path().join("painting.png"));
    common::content_image(48, 32).save(&photo).unwrap();
    common::content_image(40, 40).save(&other).unwrap();
    common::style_image(40, 40).save(&painting).unwrap();
    let look = dir.path().join("look.json");
    std::fs::write(&look, serde_json::to_string(&RenderSpec::new(&photo, std::slice::from_ref(&painting))).unwrap())
        .unwrap();
    let settings = Settings { spec: RenderSpec::default(), ..Settings::default() };
    let mut h = tall_harness(Launch { settings: Some(settings), ..Launch::default() });

    h.state_mut().open(Purpose::Content, &photo);
    h.state_mut().open(Purpose::AddStyle, &painting);
    step_until(&mut h, 30, "the photo and the painting", |a| a.settings.recent.list().len() == 2);
    h.state_mut().open(Purpose::Settings, &look);
    h.state_mut().open(Purpose::Content, &other);
    step_until(&mut h, 30, "the settings and the other photo", |a| a.settings.recent.list().len() == 4);
    let used: Vec<Used> = h.state().settings.recent.list().iter().map(|r| r.used).collect();
    assert!(used.contains(&Used::Settings) && used.iter().filter(|u| **u == Used::Photo).count() == 2, "{used:?}");
    assert_eq!(h.state().settings.spec.content.as_ref().unwrap().path, other);

    // A recent photo opens again from the menu.
    h.get_by_label("Recent").click();
    h.run_steps(2);
    h.get_by_label("Photo: photo.png").click();
    step_until(&mut h, 30, "the recent photo", |a| a.settings.spec.content.as_ref().is_some_and(|c| c.path == photo));

    // One deleted since is greyed out, with Locate…; the others are not.
    std::fs::remove_file(&painting).unwrap();
    h.get_by_label("Recent").click();
    // The click is taken at the next frame, which starts the look on a task; its answer arrives
    // a frame after the task ends, however slow the machine.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while h.query_by_label("Locate…").is_none() {
        assert!(std::time::Instant::now() < deadline, "the missing painting was never greyed out");
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(h.get_by_label("Painting: painting.png").accesskit_node().is_disabled());
    assert!(!h.get_by_label("Photo: photo.png").accesskit_node().is_disabled());
    assert!(h.query_by_label("Locate…").is_some());
}

#[test]
fn a_damaged_recent_files_list_is_named_and_the_rest_of_the_settings_load() {
    let mut stored: serde_json::Value =
        serde_json::to_value(Settings { print_size: 1234, ..Settings::default() }).unwrap();
    stored["recent"] = serde_json::json!({ "files": "not a list" });
    let settings: Settings = serde_json::from_value(stored).unwrap();
    assert_eq!(settings.print_size, 1234, "the rest of the settings load");
    assert!(settings.recent.list().is_empty());
    let mut h = harness(Launch { settings: Some(settings), ..Launch::default() });
    h.run_steps(2);
    let notice = h.state().notice.clone().expect("the damaged list is named");
    assert!(notice.text.contains("recent files could not be read"), "{}", notice.text);
}

/// The window's store, as eframe keeps it: a string per key, in RON.
#[derive(Default)]
struct Store(std::collections::HashMap<String, String>);

impl Storage for Store {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.into(), value);
    }
    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }
    fn flush(&mut self) {}
}

#[test]
fn recent_files_come_back_from_the_windows_store_and_another_versions_entry_costs_only_itself() {
    let mut settings = Settings { print_size: 1234, ..Settings::default() };
    settings.recent.add("/pictures/photo.jpg".into(), Used::Photo);
    settings.recent.add("/clips/walk.mov".into(), Used::Clip);
    let mut store = Store::default();
    eframe::set_value(&mut store, eframe::APP_KEY, &settings);
    let back: Settings = eframe::get_value(&store, eframe::APP_KEY).expect("the settings come back");
    assert_eq!(back.recent, settings.recent);

    // A later version's kind of entry, written into the stored text.
    let stored = store.get_string(eframe::APP_KEY).unwrap();
    let clip = "used:Clip";
    let stored = stored.replacen(clip, "used:Hologram", 1);
    assert!(stored.contains("Hologram"), "the entry is in the store: {stored}");
    store.set_string(eframe::APP_KEY, stored);
    let mut back: Settings = eframe::get_value(&store, eframe::APP_KEY).expect("the rest of the settings load");
    assert_eq!(back.print_size, 1234);
    let kept: Vec<Used> = back.recent.list().iter().map(|r| r.used).collect();
    assert_eq!(kept, [Used::Photo]);
    assert!(back.recent.take_damaged());
}
