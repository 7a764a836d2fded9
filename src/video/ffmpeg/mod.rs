//! FFmpeg, the way Krita, Kdenlive, Blender and OBS read and write video: the `ffmpeg` and
//! `ffprobe` programs, found on PATH (or named by `--ffmpeg`, `NSS_FFMPEG` or the app's
//! "Locate ffmpeg…"), run as child processes. Frames travel through pipes as raw RGB, already
//! scaled to the render size, so no clip is ever held whole in memory. Without ffmpeg the
//! built-in readers and writers (`h264`, the image crate) still serve the clips they know.

mod decode;
mod encode;
mod probe;

pub use decode::FfmpegFrames;
pub use encode::{encode, Codec};
pub use probe::{Colour, Probe, Rate};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

use crate::error::{Error, Result};

/// Where ffmpeg is looked for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Location {
    /// `NSS_FFMPEG` if set, else the PATH.
    #[default]
    Auto,
    /// This program (ffprobe beside it, else on the PATH).
    Program(PathBuf),
    /// Never: the built-in readers and writers only.
    Off,
}

impl Location {
    /// Reads a location as given on the command line or in `NSS_FFMPEG`: a path, or `none`/`off`.
    pub fn parse(text: &str) -> Location {
        match text.trim() {
            "" => Location::Auto,
            "none" | "off" => Location::Off,
            path => Location::Program(PathBuf::from(path)),
        }
    }
}

/// The ffmpeg programs found, and what they can do.
#[derive(Debug, Clone)]
pub struct Ffmpeg {
    /// The `ffmpeg` program.
    pub ffmpeg: PathBuf,
    /// The `ffprobe` program.
    pub ffprobe: PathBuf,
    /// Its version, as `ffmpeg -version` says it (for example `5.1.9-0+deb12u1`).
    pub version: String,
    /// The filters it has (HDR clips need `zscale` and `tonemap`).
    filters: Vec<String>,
    /// The encoders it has.
    encoders: Vec<String>,
}

/// The location chosen by the program (the command line, the app); `None`: [`Location::Auto`].
static CHOSEN: Mutex<Option<Location>> = Mutex::new(None);

/// What the last look-up found, for its location: asking costs two process starts.
static FOUND: Mutex<Option<(Location, Option<Ffmpeg>)>> = Mutex::new(None);

/// Chooses where ffmpeg is looked for from now on, in this process (`--ffmpeg`, the app's
/// "Locate ffmpeg…").
pub fn choose(location: Location) {
    if let Ok(mut chosen) = CHOSEN.lock() {
        *chosen = Some(location);
    }
}

/// The location in effect: the one chosen, else `NSS_FFMPEG`, else the PATH.
pub fn location() -> Location {
    let chosen = CHOSEN.lock().ok().and_then(|c| c.clone());
    match chosen {
        Some(Location::Auto) | None => {
            std::env::var("NSS_FFMPEG").map(|v| Location::parse(&v)).unwrap_or(Location::Auto)
        }
        Some(other) => other,
    }
}

/// ffmpeg where [`location`] says, if it is there: `Ok(None)` when it is off or not on the PATH;
/// an error when a named program cannot be run (the user asked for it).
pub fn find() -> Result<Option<Ffmpeg>> {
    let location = location();
    if let Ok(found) = FOUND.lock() {
        if let Some((at, ffmpeg)) = found.as_ref() {
            if *at == location {
                return Ok(ffmpeg.clone());
            }
        }
    }
    let ffmpeg = match &location {
        Location::Off => None,
        Location::Auto => search_path(exe("ffmpeg")).and_then(|program| Ffmpeg::at(&program).ok()),
        Location::Program(program) => Some(Ffmpeg::at(program)?),
    };
    if let Ok(mut found) = FOUND.lock() {
        *found = Some((location, ffmpeg.clone()));
    }
    Ok(ffmpeg)
}

impl Ffmpeg {
    /// The ffmpeg program at `program` (a file, or a folder holding it), with its ffprobe.
    pub fn at(program: &Path) -> Result<Ffmpeg> {
        let program = if program.is_dir() { program.join(exe("ffmpeg")) } else { program.to_path_buf() };
        let fail = |reason: String| Error::invalid(format!("ffmpeg at {}: {reason}", program.display()));
        let version = run(&program, &["-hide_banner", "-version"]).map_err(fail)?;
        let version = version
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("ffmpeg version "))
            .and_then(|l| l.split_whitespace().next())
            .ok_or_else(|| fail("it does not say it is ffmpeg (`-version`)".into()))?
            .to_string();
        let beside = program.with_file_name(exe("ffprobe"));
        let ffprobe = if beside.is_file() { Some(beside) } else { search_path(exe("ffprobe")) };
        let ffprobe = ffprobe.ok_or_else(|| fail("no ffprobe beside it or on the PATH".into()))?;
        let listed = |what: &str| -> Vec<String> {
            run(&program, &["-hide_banner", what])
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
                .collect()
        };
        let (filters, encoders) = (listed("-filters"), listed("-encoders"));
        if too_old(&version) {
            return Err(fail(format!(
                "version {version} is too old: the studio needs ffmpeg {}.{} or newer",
                OLDEST.0, OLDEST.1
            )));
        }
        if let Some(missing) = NEEDED_FILTERS.iter().find(|f| !filters.iter().any(|g| g == *f)) {
            return Err(fail(format!("this build has no `{missing}` filter, which reading clips needs")));
        }
        Ok(Ffmpeg { ffmpeg: program, ffprobe, version, filters, encoders })
    }

    /// Whether it has the filter `name`.
    pub fn has_filter(&self, name: &str) -> bool {
        self.filters.iter().any(|f| f == name)
    }

    /// Whether it has the encoder `name`.
    pub fn has_encoder(&self, name: &str) -> bool {
        self.encoders.iter().any(|e| e == name)
    }

    /// A command running ffmpeg quietly: errors only, no banner, never reading the terminal.
    fn command(&self) -> Command {
        let mut command = Command::new(&self.ffmpeg);
        command.args(["-hide_banner", "-nostdin", "-loglevel", "error"]);
        command
    }
}

/// One line naming how to install ffmpeg on this system.
pub fn install_hint() -> String {
    let how = if cfg!(target_os = "macos") {
        "brew install ffmpeg"
    } else if cfg!(target_os = "windows") {
        "winget install ffmpeg"
    } else {
        linux_install()
    };
    format!("install ffmpeg (`{how}`) or name it with --ffmpeg PATH")
}

/// The install command of this Linux distribution's package manager.
fn linux_install() -> &'static str {
    static HOW: OnceLock<&'static str> = OnceLock::new();
    HOW.get_or_init(|| {
        let release = std::fs::read_to_string("/etc/os-release").unwrap_or_default().to_ascii_lowercase();
        let like = |names: &[&str]| {
            release
                .lines()
                .filter(|l| l.starts_with("id=") || l.starts_with("id_like="))
                .any(|l| names.iter().any(|n| l.split(['=', ' ', '"']).any(|w| w == *n)))
        };
        if like(&["debian", "ubuntu"]) {
            "sudo apt install ffmpeg"
        } else if like(&["fedora", "rhel", "centos"]) {
            "sudo dnf install ffmpeg-free"
        } else if like(&["arch"]) {
            "sudo pacman -S ffmpeg"
        } else if like(&["opensuse", "suse"]) {
            "sudo zypper install ffmpeg"
        } else {
            "your package manager's ffmpeg package"
        }
    })
}

/// Runs `program` with `args` and returns what it printed, or why it failed.
fn run(program: &Path, args: &[&str]) -> std::result::Result<String, String> {
    let output =
        Command::new(program).args(args).stdin(Stdio::null()).output().map_err(|e| format!("cannot run it: {e}"))?;
    if !output.status.success() {
        let err = String::from_utf8_lossy(&output.stderr);
        return Err(format!("it failed ({}): {}", output.status, last_line(&err)));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The last line of `text` that says something.
fn last_line(text: &str) -> String {
    text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message").trim().to_string()
}

/// `name` with the platform's executable suffix.
fn exe(name: &str) -> String {
    format!("{name}{}", std::env::consts::EXE_SUFFIX)
}

/// The first `name` on the PATH.
fn search_path(name: String) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(&name)).find(|p| p.is_file())
}

/// The oldest ffmpeg that reads clips as the studio asks (`tpad`'s clone mode came in 4.2,
/// rotation in ffprobe's side data as it is read here in 4.3).
const OLDEST: (u32, u32) = (4, 3);

/// Filters every clip read goes through.
const NEEDED_FILTERS: [&str; 4] = ["fps", "tpad", "scale", "setsar"];

/// Whether a version ffmpeg reports ("5.1.9-0+deb12u1", "n6.1", "4.2.7") is older than
/// [`OLDEST`]. Builds from git ("N-112345-g...", "git-2023-...") are taken as new.
fn too_old(version: &str) -> bool {
    let digits = version.trim_start_matches('n');
    let mut parts = digits.split(|c: char| !c.is_ascii_digit());
    let major = parts.next().and_then(|p| p.parse::<u32>().ok());
    let minor = parts.next().and_then(|p| p.parse::<u32>().ok()).unwrap_or(0);
    major.is_some_and(|major| (major, minor) < OLDEST)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_read_paths_and_off() {
        assert_eq!(Location::parse("none"), Location::Off);
        assert_eq!(Location::parse(" off "), Location::Off);
        assert_eq!(Location::parse(""), Location::Auto);
        assert_eq!(Location::parse("/opt/ff/ffmpeg"), Location::Program(PathBuf::from("/opt/ff/ffmpeg")));
    }

    #[test]
    fn versions_older_than_4_3_are_too_old_and_git_builds_are_not() {
        assert!(too_old("4.2.7") && too_old("3.4.11-0ubuntu0.1") && too_old("n4.1"));
        assert!(!too_old("4.3") && !too_old("5.1.9-0+deb12u1") && !too_old("n6.1") && !too_old("7.0.2"));
        assert!(!too_old("N-112345-gabcdef") && !too_old("git-2023-01-01"));
    }

    #[test]
    fn the_install_hint_names_a_command() {
        let hint = install_hint();
        assert!(hint.contains("ffmpeg") && hint.contains("--ffmpeg"), "{hint}");
    }
}
