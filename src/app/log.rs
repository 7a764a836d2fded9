//! The app's log, to attach to a bug report: a file a day under the data folder's `logs/` (the
//! last [`KEEP_DAYS`] kept), at the level `--log-level` asks for. Every warning and error the
//! artist is shown goes in with its context, runs and exports as they start, and a panic with
//! its backtrace. About's "Copy diagnostics" gathers the version, the build, the device and GPU
//! adapter and the log's last lines.

use std::path::{Path, PathBuf};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{Builder, Rotation};

/// Days of log kept.
pub const KEEP_DAYS: usize = 7;
/// Lines of the log a diagnostics report carries.
pub const REPORT_LINES: usize = 200;
/// The log files' names begin so.
const PREFIX: &str = "neural-style-studio";

/// The folder logs are written to by default (`None`: the system has no data folder).
pub fn default_dir() -> Option<PathBuf> {
    Some(directories::ProjectDirs::from("", "", "neural-style-studio")?.data_local_dir().join("logs"))
}

/// Starts logging at `level` into a file a day in `dir`, and logs panics with their backtrace.
/// Keep the guard for the app's life: dropping it writes out what is buffered. A folder that
/// cannot be written is said in one line (the app goes on without a log).
pub fn init(dir: &Path, level: tracing::Level) -> Result<WorkerGuard, String> {
    let refused = |e: &dyn std::fmt::Display| format!("No log is kept: {} cannot be written ({e}).", dir.display());
    std::fs::create_dir_all(dir).map_err(|e| refused(&e))?;
    let appender = Builder::new()
        .rotation(Rotation::DAILY)
        .filename_prefix(PREFIX)
        .filename_suffix("log")
        .max_log_files(KEEP_DAYS)
        .build(dir)
        .map_err(|e| refused(&e))?;
    let (writer, guard) = tracing_appender::non_blocking(appender);
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_max_level(level)
        .try_init()
        .map_err(|e| format!("No log is kept: {e}."))?;
    let earlier = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let backtrace = std::backtrace::Backtrace::force_capture();
        tracing::error!("panic: {info}\n{backtrace}");
        earlier(info);
    }));
    tracing::info!("neural-style-studio {} started, logging at {level}", env!("CARGO_PKG_VERSION"));
    Ok(guard)
}

/// The last `n` lines of the newest log in `dir` (it reads files: call it off the UI thread).
pub fn last_lines(dir: &Path, n: usize) -> Vec<String> {
    let newest = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|f| f.to_string_lossy().starts_with(PREFIX)))
        .max();
    let text = newest.and_then(|p| std::fs::read_to_string(p).ok()).unwrap_or_default();
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[lines.len().saturating_sub(n)..].to_vec()
}

/// The report "Copy diagnostics" puts on the clipboard: the version, the build's features, the
/// device the last render ran on, the GPU adapter drawing the window, and the log's last lines.
pub fn diagnostics(device: &str, adapter: &str, log: &[String]) -> String {
    let features: Vec<&str> = [
        ("cuda", cfg!(feature = "cuda")),
        ("cudnn", cfg!(feature = "cudnn")),
        ("metal", cfg!(feature = "metal")),
        ("mkl", cfg!(feature = "mkl")),
        ("accelerate", cfg!(feature = "accelerate")),
        ("hub", cfg!(feature = "hub")),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect();
    let mut report = format!(
        "neural-style-studio {}\nbuild: {} {}, features: app{}\ndevice: {device}\nwindow adapter: {adapter}\n",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH,
        features.iter().map(|f| format!(", {f}")).collect::<String>(),
    );
    match log.len() {
        0 => report.push_str("log: none kept\n"),
        n => {
            report.push_str(&format!("last {n} lines of the log:\n"));
            for line in log {
                report.push_str(line);
                report.push('\n');
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_lines_come_from_the_newest_log_and_the_report_carries_them() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(format!("{PREFIX}.2026-12-01.log")), "old\n").unwrap();
        let lines: String = (0..300).map(|i| format!("line {i}\n")).collect();
        std::fs::write(dir.path().join(format!("{PREFIX}.2026-12-06.log")), lines).unwrap();
        std::fs::write(dir.path().join("other.txt"), "not a log\n").unwrap();
        let last = last_lines(dir.path(), REPORT_LINES);
        assert_eq!((last.len(), last[0].as_str(), last[199].as_str()), (200, "line 100", "line 299"));
        let report = diagnostics("CPU", "llvmpipe (Vulkan)", &last);
        assert!(report.starts_with(&format!("neural-style-studio {}", env!("CARGO_PKG_VERSION"))));
        assert!(report.contains("device: CPU") && report.contains("window adapter: llvmpipe"));
        assert!(report.contains("last 200 lines") && report.ends_with("line 299\n"));
        assert!(diagnostics("CPU", "none", &[]).contains("log: none kept"));
        assert!(last_lines(&dir.path().join("nowhere"), 5).is_empty());
    }
}
