//! A task's lock: a file in the shared frames folder, made with an exclusive create (atomic on
//! local and NFS file systems), naming the host and process that render the task. The holder
//! refreshes its modification time as it goes; a lock is stale when its process is gone (on
//! the same host) or it has not been refreshed for [`STALE_AFTER`] (another host, which cannot
//! be asked), and a new run of the task takes it over.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::error::{Error, Result};

/// The holder refreshes its lock at most this often...
pub const REFRESH: Duration = Duration::from_secs(30);

/// ...and a lock not refreshed for this long is stale.
pub const STALE_AFTER: Duration = Duration::from_secs(600);

/// Who holds a lock.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Owner {
    /// The host's name.
    pub host: String,
    /// The process id on that host.
    pub pid: u32,
    /// The scheduler's job, when it runs under one (Slurm's `JOBID_TASK`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
}

impl Owner {
    /// This process.
    pub fn me() -> Self {
        let job = std::env::var("SLURM_ARRAY_JOB_ID")
            .ok()
            .map(|job| format!("{job}_{}", std::env::var("SLURM_ARRAY_TASK_ID").unwrap_or_default()))
            .or_else(|| std::env::var("SLURM_JOB_ID").ok());
        Owner { host: host_name(), pid: std::process::id(), job }
    }
}

/// A lock as found in the folder.
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    /// Its holder.
    pub owner: Owner,
    /// Seconds since it was last refreshed.
    pub age: f64,
}

impl Held {
    /// Whether its holder is gone: a process of this host that has ended, or a lock not
    /// refreshed for [`STALE_AFTER`].
    pub fn is_stale(&self) -> bool {
        if self.age > STALE_AFTER.as_secs_f64() {
            return true;
        }
        self.owner.host == host_name() && !process_alive(self.owner.pid)
    }

    /// "host node3 (pid 4242, refreshed 12 s ago)".
    pub fn describe(&self) -> String {
        format!("host {} (pid {}, refreshed {:.0} s ago)", self.owner.host, self.owner.pid, self.age)
    }
}

/// The lock of task `n` in `folder`, held while it lives; removed when dropped.
#[derive(Debug)]
pub struct TaskLock {
    path: PathBuf,
    refreshed: Instant,
}

impl TaskLock {
    /// Takes task `n`'s lock, over a stale one. Refused, naming the holder, while another
    /// process holds it.
    pub fn acquire(folder: &Path, n: usize) -> Result<Self> {
        let path = lock_path(folder, n);
        if let Some(held) = holder(folder, n) {
            if !held.is_stale() {
                return Err(Error::invalid(format!("task {n} is being rendered by {}", held.describe())));
            }
            // Moved aside, not removed: of two processes taking over, one create below wins.
            let aside = folder.join(format!(".task_{n:04}.lock.stale.{}", std::process::id()));
            if std::fs::rename(&path, &aside).is_ok() {
                let _ = std::fs::remove_file(&aside);
            }
        }
        let fail = |e: std::io::Error| Error::Save { path: path.clone(), reason: e.to_string() };
        let json = serde_json::to_string(&Owner::me()).map_err(|e| fail(std::io::Error::other(e)))?;
        let mut file = match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let who = holder(folder, n).map_or_else(|| "another process".to_string(), |h| h.describe());
                return Err(Error::invalid(format!("task {n} was taken just now by {who}")));
            }
            Err(e) => return Err(fail(e)),
        };
        file.write_all(json.as_bytes()).and_then(|()| file.sync_all()).map_err(fail)?;
        Ok(TaskLock { path, refreshed: Instant::now() })
    }

    /// Tells other processes the holder is alive (at most every [`REFRESH`]).
    pub fn refresh(&mut self) -> Result<()> {
        if self.refreshed.elapsed() < REFRESH {
            return Ok(());
        }
        self.refreshed = Instant::now();
        OpenOptions::new().append(true).open(&self.path).and_then(|file| file.set_modified(SystemTime::now())).map_err(
            |e| Error::Save { path: self.path.clone(), reason: format!("cannot refresh the task's lock: {e}") },
        )
    }
}

impl Drop for TaskLock {
    fn drop(&mut self) {
        // Nothing to report to: a lock left behind is recognised as stale.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The file of task `n`'s lock.
pub fn lock_path(folder: &Path, n: usize) -> PathBuf {
    folder.join(format!("task_{n:04}.lock"))
}

/// Task `n`'s lock, when one is there (and readable: a lock being written reads as none).
pub fn holder(folder: &Path, n: usize) -> Option<Held> {
    let path = lock_path(folder, n);
    let owner: Owner = serde_json::from_str(&std::fs::read_to_string(&path).ok()?).ok()?;
    let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
    let age = SystemTime::now().duration_since(modified).unwrap_or_default().as_secs_f64();
    Some(Held { owner, age })
}

/// This machine's host name ("unknown host" when it cannot be read).
pub fn host_name() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: the buffer is writable for its whole length, which is passed.
    let ok = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) } == 0;
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    match ok && end > 0 {
        true => String::from_utf8_lossy(&buffer[..end]).into_owned(),
        false => "unknown host".to_string(),
    }
}

/// Whether process `pid` of this host is running.
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let result = unsafe { libc::kill(pid, 0) };
    result == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_is_refused_and_a_dead_holders_lock_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let lock = TaskLock::acquire(dir.path(), 3).unwrap();
        let err = TaskLock::acquire(dir.path(), 3).unwrap_err().to_string();
        assert!(err.contains("task 3 is being rendered by host") && err.contains(&std::process::id().to_string()));
        assert!(TaskLock::acquire(dir.path(), 4).is_ok(), "another task's lock is another file");
        drop(lock);
        assert!(holder(dir.path(), 3).is_none(), "a lock is removed when its holder ends");
        // A lock left by a process of this host that has ended (pid far above any in use).
        let dead = Owner { host: host_name(), pid: 4_000_000, job: None };
        std::fs::write(lock_path(dir.path(), 3), serde_json::to_string(&dead).unwrap()).unwrap();
        assert!(holder(dir.path(), 3).unwrap().is_stale());
        let _taken = TaskLock::acquire(dir.path(), 3).unwrap();
        assert_eq!(holder(dir.path(), 3).unwrap().owner.pid, std::process::id());
    }

    #[test]
    fn another_hosts_lock_is_stale_only_once_it_is_not_refreshed() {
        let dir = tempfile::tempdir().unwrap();
        let other = Owner { host: "some-other-node".into(), pid: 1, job: None };
        let path = lock_path(dir.path(), 0);
        std::fs::write(&path, serde_json::to_string(&other).unwrap()).unwrap();
        assert!(!holder(dir.path(), 0).unwrap().is_stale(), "a fresh lock of another host is held");
        assert!(TaskLock::acquire(dir.path(), 0).unwrap_err().to_string().contains("some-other-node"));
        let old = SystemTime::now() - STALE_AFTER - Duration::from_secs(5);
        std::fs::File::options().append(true).open(&path).unwrap().set_modified(old).unwrap();
        assert!(holder(dir.path(), 0).unwrap().is_stale());
        assert!(TaskLock::acquire(dir.path(), 0).is_ok());
    }
}
