//! Recent files: the photos, paintings, clips and settings used lately, newest first, kept with
//! the app's settings and offered in a Recent menu. Whether each is still there is looked at on
//! a task when the menu opens (never in the frame); a missing one is greyed out, with Locate….

use std::collections::HashSet;
use std::path::PathBuf;

use egui::Ui;
use serde::{Deserialize, Serialize};

use super::ctx::Ctx;
use super::tasks::Purpose;
use super::Action;

/// Files kept in the list at most.
pub const MAX_RECENT: usize = 12;

/// What a recent file was used as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Used {
    /// The content photo.
    Photo,
    /// A style painting.
    Painting,
    /// A clip.
    Clip,
    /// Stored settings.
    Settings,
}

impl Used {
    /// What it opens as, again.
    fn purpose(self) -> Purpose {
        match self {
            Used::Photo => Purpose::Content,
            Used::Painting => Purpose::AddStyle,
            Used::Clip => Purpose::Clip,
            Used::Settings => Purpose::Settings,
        }
    }

    /// Its name in the menu.
    fn label(self) -> &'static str {
        match self {
            Used::Photo => "Photo",
            Used::Painting => "Painting",
            Used::Clip => "Clip",
            Used::Settings => "Settings",
        }
    }
}

/// A file used lately.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recent {
    /// The file.
    pub path: PathBuf,
    /// What it was used as.
    pub used: Used,
}

/// The recent files, newest first. Stored as a plain list; of a stored list that cannot all be
/// read (damaged, or from another version) the entries that can be are kept, it is flagged, and
/// it is replaced when the settings are next saved.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecentFiles {
    list: Vec<Recent>,
    damaged: bool,
}

impl RecentFiles {
    /// Puts `path` first (once), used as `used`.
    pub fn add(&mut self, path: PathBuf, used: Used) {
        self.list.retain(|r| r.path != path || r.used != used);
        self.list.insert(0, Recent { path, used });
        self.list.truncate(MAX_RECENT);
    }

    /// The files, newest first.
    pub fn list(&self) -> &[Recent] {
        &self.list
    }

    /// Whether the stored list could not be read (said once: the flag is cleared).
    pub fn take_damaged(&mut self) -> bool {
        std::mem::take(&mut self.damaged)
    }
}

impl Serialize for RecentFiles {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.list.serialize(s)
    }
}

impl<'de> Deserialize<'de> for RecentFiles {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// One stored entry, or one that cannot be read (damaged, or another version's).
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Entry {
            Read(Recent),
            Unread(serde::de::IgnoredAny),
        }
        /// Anything at all, so that a damaged list never costs the rest of the settings.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Stored {
            List(Vec<Entry>),
            Damaged(serde::de::IgnoredAny),
        }
        Ok(match Stored::deserialize(d)? {
            Stored::List(entries) => {
                let damaged = entries.iter().any(|e| matches!(e, Entry::Unread(_)));
                let read = entries.into_iter().filter_map(|e| match e {
                    Entry::Read(r) => Some(r),
                    Entry::Unread(_) => None,
                });
                RecentFiles { list: read.take(MAX_RECENT).collect(), damaged }
            }
            Stored::Damaged(_) => RecentFiles { list: Vec::new(), damaged: true },
        })
    }
}

/// The Recent menu's own state: which files were missing when it last looked.
#[derive(Debug, Default)]
pub struct RecentMenu {
    /// Files of the list not found at the last look.
    pub missing: HashSet<PathBuf>,
}

impl RecentMenu {
    /// The Recent menu: each file by what it was used as; one that is gone is greyed out with
    /// Locate… (which asks for it again and forgets the old place).
    pub(super) fn ui(&mut self, ui: &mut Ui, cx: &mut Ctx) {
        let response = ui.menu_button("Recent", |ui| {
            let list = cx.settings.recent.list().to_vec();
            if list.is_empty() {
                ui.weak("No recent files yet");
            }
            for Recent { path, used } in list {
                let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into());
                let text = format!("{}: {name}", used.label());
                if self.missing.contains(&path) {
                    ui.horizontal(|ui| {
                        ui.add_enabled(false, egui::Button::new(text))
                            .on_disabled_hover_text(format!("{} is not there any more", path.display()));
                        if ui.small_button("Locate…").clicked() {
                            cx.settings.recent.list.retain(|r| r.path != path);
                            cx.ask(Action::Pick(used.purpose()));
                            ui.close();
                        }
                    });
                } else if ui.button(text).on_hover_text(path.display().to_string()).clicked() {
                    cx.ask(Action::Open(used.purpose(), path));
                    ui.close();
                }
            }
        });
        if response.response.clicked() {
            self.look(cx);
        }
    }

    /// Looks on a task which of the recent files are gone.
    fn look(&mut self, cx: &mut Ctx) {
        let paths: Vec<PathBuf> = cx.settings.recent.list().iter().map(|r| r.path.clone()).collect();
        cx.tasks.spawn(
            "recent",
            move || paths.into_iter().filter(|p| !p.is_file()).collect::<HashSet<_>>(),
            |app, _, missing| app.panels.recent.missing = missing,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_comes_first_once_and_the_list_is_bounded() {
        let mut r = RecentFiles::default();
        for i in 0..MAX_RECENT + 3 {
            r.add(PathBuf::from(format!("{i}.jpg")), Used::Painting);
        }
        r.add(PathBuf::from("5.jpg"), Used::Painting);
        assert_eq!(r.list().len(), MAX_RECENT);
        assert_eq!(r.list()[0].path, PathBuf::from("5.jpg"));
        assert_eq!(r.list().iter().filter(|e| e.path == std::path::Path::new("5.jpg")).count(), 1);
        // The same file used otherwise is another entry.
        r.add(PathBuf::from("5.jpg"), Used::Photo);
        assert_eq!(r.list()[..2].iter().map(|e| e.used).collect::<Vec<_>>(), [Used::Photo, Used::Painting]);
    }

    #[test]
    fn a_damaged_list_keeps_the_entries_it_can_read_and_is_flagged_once() {
        let mut good = RecentFiles::default();
        good.add(PathBuf::from("a.jpg"), Used::Photo);
        let json = serde_json::to_string(&good).unwrap();
        let back: RecentFiles = serde_json::from_str(&json).unwrap();
        assert_eq!(back, good);
        for damaged in ["{\"x\": 1}", "[{\"path\": 3}]", "\"text\"", "[1, 2]"] {
            let mut read: RecentFiles = serde_json::from_str(damaged).unwrap();
            assert!(read.list().is_empty() && read.take_damaged(), "{damaged}");
            assert!(!read.take_damaged(), "said once");
        }
        // An entry another version wrote costs only itself.
        let mixed = r#"[{"path": "a.jpg", "used": "Photo"}, {"path": "b.jpg", "used": "Hologram"}, 7]"#;
        let mut read: RecentFiles = serde_json::from_str(mixed).unwrap();
        assert_eq!(read.list(), good.list());
        assert!(read.take_damaged());
    }
}
