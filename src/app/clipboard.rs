//! Pictures on the clipboard. Ctrl+V (or Paste, Paste as style) takes a copied picture, a copied
//! file or a list of file URIs as the photo or a style; a pasted picture is kept as a PNG in the
//! app's data folder, since settings name their images by file. Copy image (Ctrl+Shift+C) puts
//! the picture shown on the clipboard. Every clipboard call runs on a task thread: another
//! program's clipboard can take seconds to answer, and a print's PNG is large. One clipboard
//! handle lives as long as the app, because on X11 the app itself serves what it copied.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use image::RgbaImage;
use sha2::{Digest, Sha256};

use super::tasks::{Purpose, Tasks};
use crate::imageio::save_png;
use crate::notice::Notice;

/// The longest side of a picture taken from the clipboard, in pixels.
pub const MAX_PASTED_SIDE: usize = 16384;

/// The app's clipboard for pictures and files.
pub struct Clipboard {
    /// Made on first use (on a task), kept for the app's life.
    handle: Arc<Mutex<Option<arboard::Clipboard>>>,
    /// Where pasted pictures are kept (`None`: only files can be pasted).
    dir: Option<PathBuf>,
}

impl Clipboard {
    /// A clipboard whose pasted pictures are kept in `dir`.
    pub fn new(dir: Option<PathBuf>) -> Self {
        Clipboard { handle: Arc::new(Mutex::new(None)), dir }
    }

    /// Takes what the clipboard holds as `purpose` (the photo or a style); when it holds
    /// nothing usable, one line says so and nothing changes.
    pub(super) fn paste(&self, purpose: Purpose, tasks: &mut Tasks) {
        let (handle, dir) = (self.handle.clone(), self.dir.clone());
        tasks.spawn(
            "paste",
            move || pasted(&handle, dir.as_deref()),
            move |app, _, result| match result {
                Ok(path) => app.open(purpose, path),
                Err(why) => app.notice = Some(Notice::warning(why)),
            },
        );
    }

    /// Puts `picture` on the clipboard.
    pub(super) fn copy(&self, picture: Arc<RgbaImage>, tasks: &mut Tasks) {
        let handle = self.handle.clone();
        tasks.spawn(
            "copy",
            move || {
                let (w, h) = picture.dimensions();
                let image = arboard::ImageData {
                    width: w as usize,
                    height: h as usize,
                    bytes: std::borrow::Cow::Borrowed(picture.as_raw().as_slice()),
                };
                with_clipboard(&handle, |c| c.set_image(image).map_err(|e| e.to_string())).map(|()| (w, h))
            },
            |app, _, copied| {
                app.notice = Some(match copied {
                    Ok((w, h)) => Notice::info(format!("Copied the picture ({w}x{h}) to the clipboard.")),
                    Err(e) => Notice::error(format!("Could not copy the picture: {e}")),
                })
            },
        );
    }
}

/// Runs `f` on the app's clipboard handle, made on first use.
fn with_clipboard<T>(
    handle: &Mutex<Option<arboard::Clipboard>>,
    f: impl FnOnce(&mut arboard::Clipboard) -> Result<T, String>,
) -> Result<T, String> {
    // A task that panicked while holding it left the handle as it was: it is still usable.
    let mut guard = handle.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let clipboard = match guard.as_mut() {
        Some(c) => c,
        None => guard.insert(arboard::Clipboard::new().map_err(|e| format!("no clipboard ({e})"))?),
    };
    f(clipboard)
}

/// The file the clipboard's content opens as: a copied file, a file URI, or a copied picture
/// written into `dir`.
fn pasted(handle: &Mutex<Option<arboard::Clipboard>>, dir: Option<&Path>) -> Result<PathBuf, String> {
    let nothing = "The clipboard holds no picture or file to paste.".to_string();
    with_clipboard(handle, |c| {
        if let Some(file) = c.get().file_list().ok().and_then(|files| files.into_iter().next()) {
            return Ok(file);
        }
        if let Ok(image) = c.get_image() {
            return keep(&image, dir);
        }
        let text = c.get_text().map_err(|_| nothing.clone())?;
        text.lines().find_map(file_of).ok_or(nothing)
    })
    .map_err(|e| if e.starts_with("no clipboard") { format!("Cannot paste: {e}.") } else { e })
}

/// The file a line of copied text names: a `file://` URI or an absolute path.
fn file_of(line: &str) -> Option<PathBuf> {
    let line = line.trim();
    let path = match line.strip_prefix("file://") {
        // A URI's host part ("file://localhost/...") is empty or this machine.
        Some(rest) => {
            let rest = rest.strip_prefix("localhost").unwrap_or(rest);
            PathBuf::from(percent_encoding::percent_decode_str(rest).decode_utf8().ok()?.into_owned())
        }
        None => PathBuf::from(line),
    };
    path.is_absolute().then_some(path)
}

/// Writes a pasted picture into `dir` as PNG (refusing one too large to render).
fn keep(image: &arboard::ImageData, dir: Option<&Path>) -> Result<PathBuf, String> {
    let (w, h) = (image.width, image.height);
    if w.max(h) > MAX_PASTED_SIDE {
        return Err(format!(
            "The pasted picture is {w}x{h} px: larger than the {MAX_PASTED_SIDE} px the studio takes. Nothing changed."
        ));
    }
    let dir = dir.ok_or("There is no folder to keep a pasted picture in: paste a file instead.")?;
    let picture = u32::try_from(w)
        .ok()
        .zip(u32::try_from(h).ok())
        .and_then(|(w, h)| RgbaImage::from_raw(w, h, image.bytes.to_vec()))
        .ok_or("The clipboard's picture is damaged. Nothing changed.")?;
    std::fs::create_dir_all(dir).map_err(|e| format!("Cannot keep the pasted picture in {}: {e}", dir.display()))?;
    // Named by what it holds: the same picture pasted again is the file kept before, so the
    // folder grows only with new pictures (each may be named by settings and recent files).
    // (Hashed in place: a picture may be a gigabyte, and is not copied again for its name.)
    let digest = Sha256::new().chain_update(format!("{w}x{h}")).chain_update(picture.as_raw()).finalize();
    let name: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let path = dir.join(format!("pasted-{name}.png"));
    if !path.is_file() {
        save_png(&image::DynamicImage::ImageRgba8(picture), &path, &[]).map_err(|e| e.to_string())?;
    }
    Ok(path)
}

/// The folder pasted pictures are kept in by default (`None`: the system has no data folder).
pub fn default_dir() -> Option<PathBuf> {
    Some(directories::ProjectDirs::from("", "", "neural-style-studio")?.data_local_dir().join("pasted"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copied_text_names_a_file_by_uri_or_absolute_path_and_nothing_else() {
        assert_eq!(file_of("file:///home/a/My%20Photo.jpg"), Some(PathBuf::from("/home/a/My Photo.jpg")));
        assert_eq!(file_of("file://localhost/tmp/x.png"), Some(PathBuf::from("/tmp/x.png")));
        assert_eq!(file_of("  /tmp/y.png "), Some(PathBuf::from("/tmp/y.png")));
        assert_eq!(file_of("hello"), None);
        assert_eq!(file_of("https://example.com/a.png"), None);
    }

    #[test]
    fn a_picture_too_large_is_refused_in_one_line_and_the_same_picture_pasted_twice_is_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let huge = arboard::ImageData { width: MAX_PASTED_SIDE + 1, height: 2, bytes: vec![0; 8].into() };
        let e = keep(&huge, Some(dir.path())).unwrap_err();
        assert!(e.contains("larger than") && !e.contains('\n'), "{e}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let damaged = arboard::ImageData { width: 4, height: 4, bytes: vec![0; 7].into() };
        assert!(keep(&damaged, Some(dir.path())).unwrap_err().contains("damaged"));
        let fine = arboard::ImageData { width: 2, height: 1, bytes: vec![255, 0, 0, 255, 0, 0, 255, 255].into() };
        let path = keep(&fine, Some(dir.path())).unwrap();
        assert_eq!(image::open(&path).unwrap().into_rgba8().as_raw(), &[255, 0, 0, 255, 0, 0, 255, 255]);
        // The same picture pasted again is the same file; another is a new one.
        assert_eq!(keep(&fine, Some(dir.path())).unwrap(), path);
        let tall = arboard::ImageData { width: 1, height: 2, bytes: fine.bytes.clone() };
        assert_ne!(keep(&tall, Some(dir.path())).unwrap(), path);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
