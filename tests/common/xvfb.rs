//! An X server of the test's own (Xvfb), for what needs a display: the clipboard, the real
//! window.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// An X server on a display of its own, stopped when dropped.
pub struct Xvfb(Child);

impl Xvfb {
    /// Starts one on a free display; the display's name (":93").
    pub fn start() -> (Xvfb, String) {
        let display = format!(":{}", 90 + std::process::id() % 400);
        let child = Command::new("Xvfb")
            .args([display.as_str(), "-screen", "0", "640x480x24", "-nolisten", "tcp"])
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb is installed (.ci/run installs it)");
        let socket = format!("/tmp/.X11-unix/X{}", &display[1..]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !Path::new(&socket).exists() {
            assert!(Instant::now() < deadline, "Xvfb did not start on {display}");
            std::thread::sleep(Duration::from_millis(50));
        }
        (Xvfb(child), display)
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
