//! The app's files: picking (system dialog or in-app browser), dropping, checking images and
//! reading settings in the background, and exporting.

use std::path::{Path, PathBuf};

use super::browser::Browser;
use super::farm::FarmView;
use super::open_with::{self, Given, Opening};
use super::recent::Used;
use super::tasks::{OpenedSettings, Purpose};
use super::App;
use crate::notice::{combined, Notice};
use crate::transfer::ImageRef;

impl App {
    /// Uses the file at `path` for `purpose`, as if the artist had chosen it: an image decodes
    /// (in the background) into its slot, settings are read, a clip opens, an export is written.
    pub fn open(&mut self, purpose: Purpose, path: impl AsRef<Path>) {
        self.chosen(purpose, path.as_ref().to_path_buf());
    }

    /// Exports the newest frame to `path` as PNG, with its settings, on a background thread;
    /// the result shows up as a notice.
    fn export_to(&mut self, path: PathBuf) {
        let Some(frame) = &self.live.frame else {
            self.notice = Some(Notice::error("Nothing to export yet."));
            return;
        };
        self.tasks.export(frame.image.clone(), frame.spec.clone(), frame.iteration, path);
        self.panels.autosave.exporting(&self.live);
        self.notice = Some(Notice::info("Exporting…"));
    }

    /// Asks for a file for `purpose`: the system's dialog on its own thread, or the in-app
    /// browser when the system has none (or the artist prefers it).
    pub(super) fn pick(&mut self, purpose: Purpose) {
        let nothing = match purpose {
            Purpose::Export => self.live.frame.is_none(),
            Purpose::ExportSnapshot => self.panels.film.selected_file().is_none(),
            _ => false,
        };
        if self.panels.dialog_open || self.panels.browser.is_some() || nothing {
            return;
        }
        let dir = match purpose {
            Purpose::Export | Purpose::ExportSnapshot | Purpose::ClipOut => self.settings.export_dir.clone(),
            _ => self.settings.open_dir.clone(),
        };
        let name = match purpose {
            Purpose::Export => Some(self.export_name()),
            Purpose::ExportSnapshot => {
                self.panels.film.selected_file().and_then(|p| Some(p.file_name()?.to_string_lossy().into_owned()))
            }
            _ => None,
        };
        if self.settings.builtin_browser || self.panels.no_system_dialog {
            self.panels.browser = Some(Browser::open(purpose, dir.as_deref(), name, self.tasks.ctx().clone()));
        } else {
            self.panels.dialog_open = true;
            self.tasks.pick(purpose, dir, name);
        }
    }

    fn export_name(&self) -> String {
        let stem = self
            .settings
            .spec
            .content
            .as_ref()
            .and_then(|c| c.path.file_stem())
            .map_or("stylised".into(), |s| s.to_string_lossy().into_owned());
        format!("{stem}-styled-{}.png", self.live.frame.as_ref().map_or(0, |f| f.iteration))
    }

    /// Shows the in-app browser when it is open and acts on the choice.
    pub(super) fn browser_ui(&mut self, ctx: &egui::Context) {
        let Some(browser) = &mut self.panels.browser else { return };
        if let Some(failure) = browser.take_failure() {
            self.notice = Some(Notice::error(format!("{failure}.")));
        }
        let Some(browser) = &mut self.panels.browser else { return };
        if let Some((purpose, path)) = browser.show(ctx) {
            self.panels.browser = None;
            if let Some(path) = path {
                self.chosen(purpose, path);
            }
        }
    }

    /// Applies what background tasks finished.
    pub(super) fn poll_tasks(&mut self, ctx: &egui::Context) {
        for done in self.tasks.poll() {
            done(self, ctx);
        }
    }

    /// A file dialog closed with `path` (or none); `shown` is false when it answered too fast to
    /// have been shown, and the in-app browser takes over.
    pub(super) fn picked(&mut self, purpose: Purpose, path: Option<PathBuf>, shown: bool) {
        self.panels.dialog_open = false;
        match path {
            Some(path) => self.chosen(purpose, path),
            None if !shown => {
                self.panels.no_system_dialog = true;
                self.notice = Some(Notice::warning(
                    "No system file dialog answered (no desktop portal or zenity): using the built-in file browser.",
                ));
                self.pick(purpose);
            }
            None => {}
        }
    }

    /// Stored settings were read from `path` (with the images they name that are missing or
    /// changed), or why not.
    pub(super) fn settings_read(&mut self, path: PathBuf, result: Result<OpenedSettings, String>) {
        match result {
            Ok((stored, faults)) => {
                self.settings.recent.add(path.clone(), Used::Settings);
                let warning = stored.warning();
                self.settings.spec = stored.spec;
                self.notice = Some(match (faults.first(), warning) {
                    (Some((_, why)), _) => Notice::error(format!("{why}: locate it to use these settings.")),
                    (None, Some(w)) => Notice::warning(format!("Loaded {}; {w}.", file_name(&path))),
                    (None, None) => Notice::info(format!("Loaded the settings of {}.", file_name(&path))),
                });
                self.panels.to_locate = faults;
            }
            Err(e) => self.notice = Some(Notice::error(e)),
        }
    }

    /// Opens files given together (handed over by a later start, or dropped on the window
    /// away from the slots) as the command line does: the settings first, and only once they
    /// are applied the photo or clip and the styles, so the photo the settings name does not
    /// replace the one given with them. `faults` names the files that do not open.
    pub(super) fn open_given(&mut self, mut opening: Opening, mut faults: Vec<String>) {
        faults.append(&mut opening.left_out);
        let warning = not_opened(&faults, &opening);
        match opening.settings.take() {
            Some(settings) => self.tasks.read_settings(&settings, move |app| {
                // The settings' own notice (loaded, or an image to locate) and what was left out.
                let notes: Vec<Notice> = app.notice.take().into_iter().chain(warning).collect();
                app.notice = combined(&notes);
                app.open_rest(opening);
            }),
            None => {
                if warning.is_some() {
                    self.notice = warning;
                }
                self.open_rest(opening);
            }
        }
    }

    /// The photo or clip and the styles of files given together.
    fn open_rest(&mut self, opening: Opening) {
        match opening.content {
            Some(Given::Clip(path)) => self.chosen(Purpose::Clip, path),
            Some(Given::Picture(path)) => self.chosen(Purpose::Content, path),
            _ => {}
        }
        for path in opening.styles {
            self.chosen(Purpose::AddStyle, path);
        }
    }

    /// An export finished: its file, or why not.
    pub(super) fn exported(&mut self, result: Result<PathBuf, String>) {
        self.panels.autosave.export_done(result.is_ok());
        self.notice = Some(match result {
            Ok(p) => Notice::info(format!("Exported {}", p.display())),
            Err(e) => Notice::error(format!("Export failed: {e}")),
        });
    }

    /// A file was chosen for `purpose`.
    fn chosen(&mut self, purpose: Purpose, path: PathBuf) {
        match purpose {
            Purpose::Content | Purpose::AddStyle | Purpose::ReplaceStyle(_) | Purpose::InitImage => {
                self.tasks.decode(&path, Some(purpose));
            }
            Purpose::Settings => self.tasks.read_settings(&path, |_| {}),
            Purpose::Clip => {
                let (panels, mut cx) = self.parts();
                panels.clip.open(&path, &mut cx);
            }
            Purpose::Ffmpeg => {
                let (panels, mut cx) = self.parts();
                panels.ffmpeg.locate(path, &mut cx);
            }
            Purpose::RenderFolder => self.panels.farm = Some(FarmView::new(path)),
            Purpose::ClipOut => {
                let path = if path.extension().is_none() { path.with_extension("mp4") } else { path };
                self.settings.export_dir = path.parent().map(Path::to_path_buf);
                let (panels, mut cx) = self.parts();
                panels.clip.render(path, &mut cx);
            }
            Purpose::Export | Purpose::ExportSnapshot => {
                let path = if path.extension().is_none() { path.with_extension("png") } else { path };
                self.settings.export_dir = path.parent().map(Path::to_path_buf);
                match purpose {
                    Purpose::ExportSnapshot => {
                        let (panels, mut cx) = self.parts();
                        panels.film.export(path, &mut cx);
                    }
                    _ => self.export_to(path),
                }
            }
        }
    }

    /// An image decoded: keep its thumbnail, and put it where it was picked for.
    pub(super) fn decoded(
        &mut self,
        ctx: &egui::Context,
        path: PathBuf,
        purpose: Option<Purpose>,
        thumbnail: Result<image::RgbaImage, String>,
    ) {
        let thumb = match thumbnail {
            Ok(img) => img,
            Err(e) => {
                // A remembered file that is gone simply shows no thumbnail; a pick says why.
                if purpose.is_some() {
                    self.notice = Some(Notice::error(e));
                }
                self.panels.thumbs.0.entry(path).or_insert(None);
                return;
            }
        };
        let tex = ctx.load_texture(
            path.display().to_string(),
            super::preview::to_color_image(&thumb),
            egui::TextureOptions::LINEAR,
        );
        self.panels.thumbs.0.insert(path.clone(), Some(tex));
        let Some(purpose) = purpose else { return };
        self.settings.open_dir = path.parent().map(Path::to_path_buf);
        match purpose {
            Purpose::Content => self.settings.recent.add(path.clone(), Used::Photo),
            Purpose::AddStyle | Purpose::ReplaceStyle(_) => self.settings.recent.add(path.clone(), Used::Painting),
            _ => {}
        }
        let spec = &mut self.settings.spec;
        match purpose {
            Purpose::Content => {
                spec.content = Some(ImageRef::new(&path));
                self.panels.to_locate.retain(|(i, _)| i.is_some());
            }
            Purpose::AddStyle => spec.add_style(&path),
            Purpose::InitImage => {
                spec.init_image = Some(ImageRef::new(&path));
                spec.run.init = crate::transfer::Init::Image;
            }
            Purpose::ReplaceStyle(i) if i < spec.styles.len() => {
                spec.styles[i] = ImageRef::new(&path);
                self.panels.to_locate.retain(|(j, _)| *j != Some(i));
            }
            _ => {}
        }
    }

    /// Files dropped on the window: on the content or style slot they become that; elsewhere
    /// they are sorted on a task (names and headers) and open as files given on the command
    /// line do, except that once there is a photo every picture is a style.
    pub(super) fn handle_drops(&mut self, ctx: &egui::Context) {
        let (files, pos) = ctx.input(|i| (i.raw.dropped_files.clone(), i.pointer.hover_pos()));
        let on = |r: Option<egui::Rect>| pos.zip(r).is_some_and(|(p, r)| r.contains(p));
        let mut elsewhere = Vec::new();
        for file in files.iter().map(|f| f.path().to_path_buf()).filter(|p| !p.as_os_str().is_empty()) {
            if on(self.panels.style_rect) {
                self.chosen(Purpose::AddStyle, file);
            } else if on(self.panels.content_rect) {
                self.chosen(Purpose::Content, file);
            } else {
                elsewhere.push(file);
            }
        }
        if !elsewhere.is_empty() {
            self.tasks.spawn(
                "drop",
                move || open_with::sort(&elsewhere),
                |app, _, (given, faults)| {
                    let opening = Opening::of(given, app.settings.spec.content.is_some());
                    app.open_given(opening, faults);
                },
            );
        }
    }
}

/// The warning naming the files given that do not open (`None`: all do).
fn not_opened(faults: &[String], opening: &Opening) -> Option<Notice> {
    let first = faults.first()?;
    let more = match faults.len() {
        1 => String::new(),
        n => format!(" (and {} more)", n - 1),
    };
    let others = opening.settings.is_some() || opening.content.is_some() || !opening.styles.is_empty();
    let rest = if others { "; the other files are" } else { "" };
    Some(Notice::warning(format!("Not opened: {first}{more}{rest}.")))
}

fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned())
}
