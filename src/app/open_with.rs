//! Files given to the app from outside: on its command line (`neural-style-studio photo.jpg
//! painting.png`, which is also how a file manager's "Open with" starts it) or handed over by a
//! later start while a window is open. That later start finds the window's socket in the runtime
//! folder, writes the files' paths to it and exits; the window's listener thread sorts them (a
//! header read each, never in the frame) and the app opens them at its next frame.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use crate::transfer::read_settings;
use crate::video::clip::is_clip;

/// Overrides the runtime folder the window's socket is made in.
pub const RUNTIME_DIR_ENV: &str = "NSS_RUNTIME_DIR";
/// The socket's name in the runtime folder.
const SOCKET: &str = "neural-style-studio.sock";
/// How long a later start waits for the window to take its files.
const ANSWER: Duration = Duration::from_secs(5);

/// What a file given to the app is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Given {
    /// Stored settings: a JSON file, or a PNG this program exported.
    Settings(PathBuf),
    /// A clip: a video, or an animated GIF, WebP or PNG.
    Clip(PathBuf),
    /// A still picture: the photo, or a style.
    Picture(PathBuf),
}

/// Sorts `files` by what they are, from their names and headers (it reads files: call it off
/// the UI thread). A file that is missing or is none of these is named, in the second list,
/// and the others are still given.
pub fn sort(files: &[PathBuf]) -> (Vec<Given>, Vec<String>) {
    let mut given = Vec::new();
    let mut faults = Vec::new();
    for file in files {
        match what(file) {
            Ok(g) => given.push(g),
            Err(why) => faults.push(format!("{}: {why}", file.display())),
        }
    }
    (given, faults)
}

/// What a set of files given opens: the settings to start from, the photo or clip, the styles;
/// and what was left out, named.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Opening {
    /// The last settings file given.
    pub settings: Option<PathBuf>,
    /// The first clip or picture ([`Given::Clip`] or [`Given::Picture`]).
    pub content: Option<Given>,
    /// The further pictures, in order.
    pub styles: Vec<PathBuf>,
    /// Files given that do not open, with why.
    pub left_out: Vec<String>,
}

impl Opening {
    /// Folds `given` into what opens: the last settings file, the first clip or picture as
    /// the content (unless one is `named` already), the further pictures as styles. A second
    /// clip, or a clip after the content, is left out: one opens at a time.
    pub fn of(given: Vec<Given>, named: bool) -> Opening {
        let mut o = Opening::default();
        for g in given {
            match g {
                Given::Settings(path) => {
                    if let Some(earlier) = o.settings.replace(path) {
                        o.left_out.push(format!("{} (only the last settings file opens)", earlier.display()));
                    }
                }
                Given::Clip(path) if named || o.content.is_some() => {
                    o.left_out.push(format!("{} (one photo or clip opens at a time)", path.display()));
                }
                Given::Picture(path) if named || o.content.is_some() => o.styles.push(path),
                content => o.content = Some(content),
            }
        }
        o
    }
}

/// What `file` is, or why it cannot be opened.
fn what(file: &Path) -> Result<Given, String> {
    let meta = std::fs::metadata(file).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        _ => e.to_string(),
    })?;
    if meta.is_dir() {
        return Err("a folder, not a file".into());
    }
    std::fs::File::open(file).map_err(|e| e.to_string())?;
    let ext = file.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    let path = file.to_path_buf();
    if ext == "json" {
        return read_settings(file).map(|_| Given::Settings(path)).map_err(|e| e.to_string());
    }
    if is_clip(file) {
        return Ok(Given::Clip(path));
    }
    if ext == "png" && read_settings(file).is_ok() {
        return Ok(Given::Settings(path));
    }
    match image::ImageReader::open(file).and_then(|r| r.with_guessed_format()).map(|r| r.format()) {
        Ok(Some(_)) => Ok(Given::Picture(path)),
        _ => Err("not a picture, a clip or settings this app reads".into()),
    }
}

/// The runtime folder the window's socket lives in: `NSS_RUNTIME_DIR`, else `XDG_RUNTIME_DIR`
/// (`None`: files are not handed over, and every start opens a window).
pub fn runtime_dir() -> Option<PathBuf> {
    std::env::var_os(RUNTIME_DIR_ENV).or_else(|| std::env::var_os("XDG_RUNTIME_DIR")).map(PathBuf::from)
}

/// Hands `files` (made absolute) to the window listening in `runtime`; true when one took them.
pub fn hand_over(runtime: &Path, files: &[PathBuf]) -> bool {
    let Ok(mut stream) = UnixStream::connect(runtime.join(SOCKET)) else { return false };
    let here = std::env::current_dir().unwrap_or_default();
    let mut message = Vec::new();
    for file in files {
        message.extend_from_slice(here.join(file).as_os_str().as_encoded_bytes());
        // Paths cannot hold a NUL: it separates them.
        message.push(0);
    }
    let sent = stream.set_read_timeout(Some(ANSWER)).and_then(|()| stream.write_all(&message));
    let sent = sent.and_then(|()| stream.shutdown(std::net::Shutdown::Write));
    let mut answer = String::new();
    sent.is_ok() && stream.read_to_string(&mut answer).is_ok() && answer == "ok"
}

/// A window's socket, taking files handed over by later starts.
pub struct Listener {
    path: PathBuf,
    rx: Receiver<(Vec<Given>, Vec<String>)>,
}

impl Listener {
    /// Listens in `runtime` (a socket left by a window that crashed is replaced; one a live
    /// window answers on is not), calling `wake` when files arrive.
    pub fn bind(runtime: &Path, wake: impl Fn() + Send + 'static) -> std::io::Result<Listener> {
        let path = runtime.join(SOCKET);
        if UnixStream::connect(&path).is_ok() {
            return Err(std::io::Error::new(std::io::ErrorKind::AddrInUse, "another window is listening"));
        }
        // Nobody answers on a leftover: it goes.
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)?;
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new().name("nss-open-with".into()).spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let mut message = Vec::new();
                // A caller that never finishes writing does not hold the socket up.
                let read = stream.set_read_timeout(Some(ANSWER)).and_then(|()| stream.read_to_end(&mut message));
                if read.is_err() {
                    continue;
                }
                let files: Vec<PathBuf> = message
                    .split(|&b| b == 0)
                    .filter(|p| !p.is_empty())
                    .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()))
                    .collect();
                if tx.send(sort(&files)).is_err() {
                    // The window has closed.
                    return;
                }
                wake();
                // A later start that gave up waiting only misses the answer.
                let _ = stream.write_all(b"ok");
            }
        })?;
        Ok(Listener { path, rx })
    }

    /// The files handed over since the last call, sorted, with those that could not be read.
    pub fn take(&self) -> Vec<(Vec<Given>, Vec<String>)> {
        self.rx.try_iter().collect()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // The next start opens a window of its own; a socket left behind would be replaced.
        let _ = std::fs::remove_file(&self.path);
    }
}
