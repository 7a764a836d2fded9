//! A batch of stills: every picture of a folder rendered with one look into an output folder,
//! each under its own name as a PNG with the settings in it. The batch is recorded in the
//! output folder ([`BATCH_JSON`]) so that a run stopped anywhere goes on where it stopped, and
//! so that the pictures can be spread over a farm's tasks (contiguous runs of pictures).

use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::farm::lock::holder;
use crate::farm::{failed_path, Task, TaskState};
use crate::transfer::{ImageRef, RenderSpec};

/// The file recording the batch, in the output folder.
pub const BATCH_JSON: &str = "batch.json";

/// The batch format's version.
pub const BATCH_VERSION: u32 = 1;

/// Pictures a batch takes from a folder, by extension (any case).
pub const PICTURE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff"];

/// A batch of stills, as recorded in its output folder.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Batch {
    /// [`BATCH_VERSION`] when written.
    pub version: u32,
    /// The look: every setting but the content.
    pub spec: RenderSpec,
    /// The pictures, from the root, in name order.
    pub pictures: Vec<PathBuf>,
    /// Threads the estimates were timed with.
    pub threads: usize,
    /// The farm's tasks: runs of pictures (`first..end` index `pictures`; no pre-roll).
    pub tasks: Vec<Task>,
}

impl Batch {
    /// The pictures of `folder` in name order, from the root; refused when there are none, or
    /// when two would write the same output (`a.jpg` and `a.png`).
    pub fn pictures_of(folder: &Path) -> Result<Vec<PathBuf>> {
        let fail = |reason: String| Error::invalid(format!("{}: {reason}", folder.display()));
        let folder = std::fs::canonicalize(folder).map_err(|e| fail(e.to_string()))?;
        let mut pictures: Vec<PathBuf> = std::fs::read_dir(&folder)
            .map_err(|e| fail(e.to_string()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.is_file() && is_picture(path))
            .collect();
        pictures.sort();
        if pictures.is_empty() {
            return Err(fail(format!("no pictures here ({})", PICTURE_EXTENSIONS.join(", "))));
        }
        for pair in pictures.windows(2) {
            if pair[0].file_stem() == pair[1].file_stem() {
                return Err(fail(format!(
                    "{} and {} would both be written as {}.png: rename one",
                    file_name(&pair[0]),
                    file_name(&pair[1]),
                    pair[0].file_stem().unwrap_or_default().to_string_lossy()
                )));
            }
        }
        Ok(pictures)
    }

    /// A batch of `pictures` with the look `spec`, spread over at most `tasks` tasks, each
    /// priced at `seconds` and `memory` a picture (timed with `threads` threads).
    pub fn new(
        spec: RenderSpec,
        pictures: Vec<PathBuf>,
        tasks: usize,
        (seconds, memory): (f64, u64),
        threads: usize,
    ) -> Self {
        let n = pictures.len();
        let tasks = tasks.clamp(1, n.max(1));
        let tasks = (0..tasks)
            .map(|k| {
                let (first, end) = (k * n / tasks, (k + 1) * n / tasks);
                Task { first, end, preroll: 0, seconds: seconds * (end - first) as f64, memory, disk: 0 }
            })
            .collect();
        Batch { version: BATCH_VERSION, spec: RenderSpec { content: None, ..spec }, pictures, threads, tasks }
    }

    /// The batch recorded in `out`, if any.
    pub fn open(out: &Path) -> Result<Option<Self>> {
        let path = out.join(BATCH_JSON);
        let fail = |reason: String| Error::Settings { origin: path.display().to_string(), reason };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(fail(e.to_string())),
        };
        let batch: Batch = serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?;
        if batch.version > BATCH_VERSION {
            return Err(fail(format!("written by a newer version (batch version {})", batch.version)));
        }
        Ok(Some(batch))
    }

    /// Records the batch in `out` (made if needed).
    pub fn write(&self, out: &Path) -> Result<()> {
        let path = out.join(BATCH_JSON);
        let fail = |reason: String| Error::Save { path: path.clone(), reason };
        std::fs::create_dir_all(out).map_err(|e| fail(e.to_string()))?;
        let json = serde_json::to_string_pretty(self).map_err(|e| fail(e.to_string()))?;
        let tmp = out.join(format!(".{BATCH_JSON}.{}.tmp", std::process::id()));
        std::fs::write(&tmp, json).and_then(|()| std::fs::rename(&tmp, &path)).map_err(|e| fail(e.to_string()))
    }

    /// Where picture `i`'s render is written: its name, as a PNG.
    pub fn output(&self, out: &Path, i: usize) -> PathBuf {
        let stem = self.pictures[i].file_stem().unwrap_or_default().to_string_lossy().into_owned();
        out.join(format!("{stem}.png"))
    }

    /// The settings of picture `i`'s render.
    pub fn spec_of(&self, i: usize) -> RenderSpec {
        RenderSpec { content: Some(ImageRef::new(&self.pictures[i])), ..self.spec.clone() }
    }

    /// The pictures of task `k`, or a user error naming the range.
    pub fn of_task(&self, k: usize) -> Result<Range<usize>> {
        let task = self.tasks.get(k).ok_or_else(|| {
            Error::invalid(format!(
                "there is no task {k}: the batch has tasks 0..{}",
                self.tasks.len().saturating_sub(1)
            ))
        })?;
        Ok(task.first..task.end)
    }

    /// Where each task stands: its pictures written to `out`, its lock, its failure.
    pub fn task_states(&self, out: &Path) -> Vec<TaskState> {
        self.tasks
            .iter()
            .enumerate()
            .map(|(n, task)| {
                let done = task.end - task.first - self.left(out, task.first..task.end).len();
                if done == task.end - task.first {
                    return TaskState::Done;
                }
                if let Some(held) = holder(out, n).filter(|h| !h.is_stale()) {
                    return TaskState::Running { host: held.owner.host, pid: held.owner.pid, age: held.age, done };
                }
                match std::fs::read_to_string(failed_path(out, n)) {
                    Ok(reason) => TaskState::Failed { reason: reason.trim().to_string(), done },
                    Err(_) => TaskState::Left { done },
                }
            })
            .collect()
    }

    /// The pictures of `range` not yet written to `out`.
    pub fn left(&self, out: &Path, range: Range<usize>) -> Vec<usize> {
        range.filter(|&i| !self.output(out, i).is_file()).collect()
    }
}

fn is_picture(path: &Path) -> bool {
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    PICTURE_EXTENSIONS.contains(&ext.as_str())
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap_or_default().to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_are_spread_over_tasks_in_runs_and_keep_their_names() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.jpg", "a.PNG", "c.webp", "notes.txt", "d.tif", "e.png"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let pictures = Batch::pictures_of(dir.path()).unwrap();
        let names: Vec<String> = pictures.iter().map(|p| file_name(p)).collect();
        assert_eq!(names, ["a.PNG", "b.jpg", "c.webp", "d.tif", "e.png"]);
        let batch = Batch::new(RenderSpec::default(), pictures, 2, (10.0, 5), 1);
        assert_eq!((batch.of_task(0).unwrap(), batch.of_task(1).unwrap()), (0..2, 2..5));
        assert!((batch.tasks[1].seconds - 30.0).abs() < 1e-9);
        assert!(batch.of_task(2).unwrap_err().to_string().contains("tasks 0..1"));
        let out = dir.path().join("out");
        assert_eq!(batch.output(&out, 2), out.join("c.png"));
        let many = Batch::new(RenderSpec::default(), batch.pictures.clone(), 50, (1.0, 1), 1);
        assert_eq!(many.tasks.len(), 5, "never more tasks than pictures");
    }

    #[test]
    fn two_pictures_that_would_share_an_output_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a.jpg", "a.png"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let err = Batch::pictures_of(dir.path()).unwrap_err().to_string();
        assert!(err.contains("a.jpg and a.png would both be written as a.png"), "{err}");
        assert!(Batch::pictures_of(&dir.path().join("missing")).is_err());
    }
}
