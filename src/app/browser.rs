//! The in-app file browser (egui_file), used when the system has no file dialog or the artist
//! prefers it. Folders are listed on a thread of their own, never in a frame: a folder on a
//! slow or network disk shows empty for the moment its listing takes, then fills in.

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use egui_file::vfs::VfsFile;
use egui_file::{Filter, Vfs};

use super::tasks::Purpose;

/// The in-app file browser.
pub struct Browser {
    dialog: egui_file::FileDialog,
    purpose: Purpose,
    listings: Arc<Mutex<Listings>>,
}

impl Browser {
    /// Opens the browser for `purpose` in `dir`; `wake` is repainted when a listing arrives.
    pub fn open(purpose: Purpose, dir: Option<&Path>, file_name: Option<String>, wake: egui::Context) -> Self {
        let listings = Arc::new(Mutex::new(Listings::default()));
        let fs = ThreadedFs { listings: listings.clone(), wake };
        let dialog = match (purpose.saves(), purpose.picks_folder()) {
            (true, _) => egui_file::FileDialog::save_file(),
            (false, true) => egui_file::FileDialog::select_folder(),
            (false, false) => egui_file::FileDialog::open_file(),
        };
        let mut dialog = dialog
            .with_fs(Box::new(fs))
            .title(purpose.title())
            .id(egui::Id::unique("nss-file-browser"))
            .show_files_filter(Box::new(move |path: &Path| purpose.accepts(path)));
        if let Some(dir) = dir {
            dialog = dialog.initial_path(dir);
        }
        if let Some(name) = file_name {
            dialog = dialog.default_filename(name);
        }
        dialog.open();
        Browser { dialog, purpose, listings }
    }

    /// A new folder or a rename that failed since the last call, in words.
    pub fn take_failure(&mut self) -> Option<String> {
        lock(&self.listings).failed.take()
    }

    /// Shows the browser; returns `Some(path or None)` once the artist chose or cancelled.
    pub fn show(&mut self, ctx: &egui::Context) -> Option<(Purpose, Option<PathBuf>)> {
        let dir = self.dialog.directory().to_path_buf();
        let arrived = {
            let l = lock(&self.listings);
            l.waiting.as_ref() == Some(&dir) && l.ready.contains_key(&dir)
        };
        if arrived {
            // Shows the folder again, now from its listing.
            self.dialog.set_path(dir);
        }
        match self.dialog.show(ctx).state() {
            egui_file::State::Open => None,
            egui_file::State::Selected => Some((self.purpose, self.dialog.path().map(Path::to_path_buf))),
            egui_file::State::Cancelled | egui_file::State::Closed => Some((self.purpose, None)),
        }
    }
}

/// Folder listings read in the background, waiting to be shown.
#[derive(Default)]
struct Listings {
    /// Listings read and not yet shown.
    ready: HashMap<PathBuf, io::Result<Vec<Entry>>>,
    /// Folders being read.
    reading: HashSet<PathBuf>,
    /// The folder shown empty until its listing arrives.
    waiting: Option<PathBuf>,
    /// A change (a new folder, a rename) that failed, for the app to say.
    failed: Option<String>,
}

fn lock(listings: &Mutex<Listings>) -> MutexGuard<'_, Listings> {
    // A listing thread that panicked leaves plain data behind: still usable.
    listings.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One file or folder of a listing.
#[derive(Debug, Clone)]
struct Entry {
    path: PathBuf,
    name: String,
    dir: bool,
    file: bool,
    selected: bool,
}

impl VfsFile for Entry {
    fn is_file(&self) -> bool {
        self.file
    }

    fn is_dir(&self) -> bool {
        self.dir
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn selected(&self) -> bool {
        self.selected
    }

    fn set_selected(&mut self, selected: bool) {
        self.selected = selected;
    }

    fn get_file_name(&self) -> &str {
        &self.name
    }
}

/// The file system as the browser sees it: folders are listed on their own thread.
struct ThreadedFs {
    listings: Arc<Mutex<Listings>>,
    wake: egui::Context,
}

impl ThreadedFs {
    /// Lists `dir` on a thread of its own (once at a time per folder).
    fn read_in_background(&self, dir: &Path) {
        if !lock(&self.listings).reading.insert(dir.to_path_buf()) {
            return;
        }
        let (listings, wake, folder) = (self.listings.clone(), self.wake.clone(), dir.to_path_buf());
        let spawned = std::thread::Builder::new().name("nss-browse".into()).spawn(move || {
            let entries = list(&folder);
            let mut l = lock(&listings);
            l.reading.remove(&folder);
            l.ready.insert(folder, entries);
            drop(l);
            wake.request_repaint();
        });
        if let Err(e) = spawned {
            let mut l = lock(&self.listings);
            l.reading.remove(dir);
            l.ready.insert(dir.to_path_buf(), Err(e));
        }
    }
}

impl ThreadedFs {
    /// Makes a change in the folder `dir` on a thread of its own, then lists the folder again
    /// there (so the listing shown follows the change); a failure is kept for the app to say.
    fn change_in_background(&self, dir: &Path, change: impl FnOnce() -> io::Result<()> + Send + 'static) {
        {
            let mut l = lock(&self.listings);
            l.ready.remove(dir);
            l.reading.insert(dir.to_path_buf());
        }
        let (listings, wake, folder) = (self.listings.clone(), self.wake.clone(), dir.to_path_buf());
        let spawned = std::thread::Builder::new().name("nss-browse".into()).spawn(move || {
            let failed = change().err();
            let entries = list(&folder);
            let mut l = lock(&listings);
            l.reading.remove(&folder);
            l.ready.insert(folder, entries);
            l.failed = failed.map(|e| e.to_string()).or(l.failed.take());
            drop(l);
            wake.request_repaint();
        });
        if let Err(e) = spawned {
            let mut l = lock(&self.listings);
            l.reading.remove(dir);
            l.failed = Some(e.to_string());
        }
    }
}

impl Vfs for ThreadedFs {
    // Making a folder and renaming happen on a thread, as listings do; the dialog's answer
    // comes back with the folder's next listing, a failure as the app's notice.
    fn create_dir(&self, path: &Path) -> io::Result<()> {
        let (dir, made) = (path.parent().unwrap_or(path).to_path_buf(), path.to_path_buf());
        self.change_in_background(&dir, move || {
            std::fs::create_dir(&made)
                .map_err(|e| io::Error::new(e.kind(), format!("Cannot make the folder {}: {e}", made.display())))
        });
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let (dir, from, to) = (from.parent().unwrap_or(from).to_path_buf(), from.to_path_buf(), to.to_path_buf());
        self.change_in_background(&dir, move || {
            std::fs::rename(&from, &to).map_err(|e| {
                io::Error::new(e.kind(), format!("Cannot rename {} to {}: {e}", from.display(), to.display()))
            })
        });
        Ok(())
    }

    fn read_folder(
        &self,
        path: &Path,
        show_system_files: bool,
        show_files_filter: &Filter<PathBuf>,
        #[cfg(unix)] show_hidden: bool,
        #[cfg(windows)] _show_drives: bool,
    ) -> io::Result<Vec<Box<dyn VfsFile>>> {
        #[cfg(not(unix))]
        let show_hidden = true;
        let taken = {
            let mut l = lock(&self.listings);
            let taken = l.ready.remove(path);
            l.waiting = if taken.is_some() { None } else { Some(path.to_path_buf()) };
            taken
        };
        let Some(entries) = taken else {
            self.read_in_background(path);
            return Ok(Vec::new());
        };
        Ok(entries?
            .into_iter()
            .filter(|e| e.dir || ((show_system_files || e.file) && show_files_filter(&e.path)))
            .filter(|e| show_hidden || !e.name.starts_with('.'))
            .map(|e| Box::new(e) as Box<dyn VfsFile>)
            .collect())
    }
}

/// The files and folders in `dir`, folders first, each group by name.
fn list(dir: &Path) -> io::Result<Vec<Entry>> {
    let mut entries: Vec<Entry> = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| {
            let path = e.path();
            // Followed through links, as the system's dialogs do.
            let kind = std::fs::metadata(&path).ok().map(|m| m.file_type());
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            Entry {
                name,
                dir: kind.is_some_and(|k| k.is_dir()),
                file: kind.is_some_and(|k| k.is_file()),
                selected: false,
                path,
            }
        })
        .collect();
    entries.sort_by(|a, b| b.dir.cmp(&a.dir).then_with(|| a.name.cmp(&b.name)));
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(files: &[Box<dyn VfsFile>]) -> Vec<&str> {
        files.iter().map(|f| f.get_file_name()).collect()
    }

    #[test]
    fn a_folder_is_listed_on_another_thread_then_shown_once_folders_first() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.png"), b"").unwrap();
        std::fs::write(dir.path().join("a.png"), b"").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"").unwrap();
        std::fs::write(dir.path().join(".hidden.png"), b"").unwrap();
        std::fs::create_dir(dir.path().join("z")).unwrap();
        let fs = ThreadedFs { listings: Arc::default(), wake: egui::Context::default() };
        let pictures: Filter<PathBuf> = Box::new(|p: &Path| p.extension().is_some_and(|e| e == "png"));
        let read = || fs.read_folder(dir.path(), false, &pictures, false).unwrap();
        assert!(read().is_empty(), "nothing is read on the calling thread");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !lock(&fs.listings).ready.contains_key(dir.path()) {
            assert!(std::time::Instant::now() < deadline, "the listing never arrived");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(names(&read()), ["z", "a.png", "b.png"]);
        // Shown once: the next look (Refresh) reads the folder again.
        assert!(read().is_empty());
        let missing = dir.path().join("gone");
        assert!(fs.read_folder(&missing, false, &pictures, false).unwrap().is_empty());
        while !lock(&fs.listings).ready.contains_key(&missing) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(fs.read_folder(&missing, false, &pictures, false).is_err(), "a folder that cannot be read says so");
    }

    #[test]
    fn a_new_folder_and_a_rename_happen_on_another_thread_and_a_failure_is_kept_to_be_said() {
        let dir = tempfile::tempdir().unwrap();
        let fs = ThreadedFs { listings: Arc::default(), wake: egui::Context::default() };
        let pictures: Filter<PathBuf> = Box::new(|_: &Path| true);
        let listed = |fs: &ThreadedFs| {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while !lock(&fs.listings).ready.contains_key(dir.path()) {
                assert!(std::time::Instant::now() < deadline, "the listing never arrived");
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            names(&fs.read_folder(dir.path(), false, &pictures, false).unwrap()).join(" ")
        };
        fs.create_dir(&dir.path().join("new")).unwrap();
        assert_eq!(listed(&fs), "new", "listed again after the change");
        fs.rename(&dir.path().join("new"), &dir.path().join("old")).unwrap();
        assert_eq!(listed(&fs), "old");
        assert!(lock(&fs.listings).failed.is_none());
        fs.create_dir(&dir.path().join("old")).unwrap();
        assert_eq!(listed(&fs), "old");
        let failed = lock(&fs.listings).failed.take().expect("the failure is kept");
        assert!(failed.starts_with("Cannot make the folder") && failed.contains("old"), "{failed}");
    }
}
