//! A render spread over many machines: the clip's frames cut into tasks, shot by shot (frames
//! inside a shot depend on each other through the temporal term, shots do not), long shots
//! optionally in chunks warmed up by a few pre-roll frames. The plan is written once into the
//! frames folder every node shares; each task renders its frames into that folder, resumably,
//! under a lock naming its host and process, and records a failure beside it. Nothing here
//! starts processes: a scheduler (Slurm, a Kubernetes Indexed Job, an ssh loop) runs the tasks.

pub mod batch;
pub mod lock;
pub mod progress;
pub mod slurm;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::video::estimate::Estimate;
use crate::video::shots::Shot;
use crate::video::store::FrameStore;

/// The file holding the farm plan, in the frames folder (beside the render's own plan).
pub const FARM_JSON: &str = "farm.json";

/// The farm plan's format version.
pub const FARM_VERSION: u32 = 1;

/// One task: frames `first..end` (0-based, in one shot), after `preroll` frames before them
/// that are rendered and not written.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Task {
    /// The first frame written.
    pub first: usize,
    /// One past the last frame written.
    pub end: usize,
    /// Frames before `first` rendered to carry the motion in (0 at a shot's first frame).
    pub preroll: usize,
    /// Estimated seconds on the planning machine, with its threads.
    pub seconds: f64,
    /// Estimated peak memory in bytes.
    pub memory: u64,
    /// Estimated bytes of its frames.
    pub disk: u64,
}

impl Task {
    /// "frames 41..60" (from 1, both included).
    pub fn frames(&self) -> String {
        format!("frames {}..{}", self.first + 1, self.end)
    }
}

/// How a render is cut into tasks, kept in [`FARM_JSON`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FarmPlan {
    /// [`FARM_VERSION`] when written.
    pub version: u32,
    /// The longest task, in frames, when long shots are cut into chunks (`None`: one per shot).
    pub chunk: Option<usize>,
    /// Pre-roll frames asked for before each chunk.
    pub preroll: usize,
    /// Threads the estimates were timed with.
    pub threads: usize,
    /// The tasks, in frame order.
    pub tasks: Vec<Task>,
    /// The output's codec when not the one its extension implies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<String>,
}

impl FarmPlan {
    /// Cuts `shots` into tasks (a chunk of a long shot starts with up to `preroll` frames of
    /// the same shot before it) and prices each with `estimate` (timed on this machine with
    /// `threads` threads, peaking at `memory` bytes).
    pub fn new(
        shots: &[Shot],
        (chunk, preroll): (Option<usize>, usize),
        estimate: &Estimate,
        memory: u64,
        threads: usize,
    ) -> Result<Self> {
        if chunk == Some(0) {
            return Err(Error::invalid("--chunk takes a number of frames, at least 1"));
        }
        let frame_bytes = estimate.bytes / estimate.frames.max(1) as f64;
        let later = estimate.overhead + estimate.later_iterations as f64 * estimate.iteration;
        let tasks = shots
            .iter()
            .flat_map(|shot| {
                let step = chunk.unwrap_or(shot.end - shot.first).max(1);
                (shot.first..shot.end).step_by(step).map(move |first| {
                    let end = (first + step).min(shot.end);
                    let preroll = preroll.min(first - shot.first);
                    let rendered = end - first + preroll;
                    Task {
                        first,
                        end,
                        preroll,
                        seconds: estimate.startup + estimate.first_frame + (rendered - 1) as f64 * later,
                        memory,
                        disk: ((end - first) as f64 * frame_bytes) as u64,
                    }
                })
            })
            .collect();
        Ok(FarmPlan { version: FARM_VERSION, chunk, preroll, threads, tasks, codec: None })
    }

    /// Writes the plan into `folder`, which holds the render's plan already.
    pub fn write(&self, folder: &Path) -> Result<()> {
        let path = folder.join(FARM_JSON);
        let fail = |reason: String| Error::Save { path: path.clone(), reason };
        let json = serde_json::to_string_pretty(self).map_err(|e| fail(e.to_string()))?;
        let tmp = folder.join(format!(".{FARM_JSON}.{}.tmp", std::process::id()));
        std::fs::write(&tmp, json).and_then(|()| std::fs::rename(&tmp, &path)).map_err(|e| fail(e.to_string()))
    }

    /// The plan in `folder`. A folder without one is named with what that means on a farm:
    /// the node cannot see the folder the plan was written to.
    pub fn open(folder: &Path) -> Result<Self> {
        let path = folder.join(FARM_JSON);
        let fail = |reason: String| Error::Settings { origin: path.display().to_string(), reason };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::invalid(format!(
                    "{} on {} holds no farm plan ({FARM_JSON}): write one with --plan, on a folder every \
                     node shares (a node that cannot see the plan does not share it)",
                    folder.display(),
                    lock::host_name()
                )))
            }
            Err(e) => return Err(fail(e.to_string())),
        };
        let plan: FarmPlan = serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?;
        if plan.version > FARM_VERSION {
            return Err(fail(format!("written by a newer version (plan version {})", plan.version)));
        }
        Ok(plan)
    }

    /// Task `n`, or a user error naming the range.
    pub fn task(&self, n: usize) -> Result<&Task> {
        self.tasks.get(n).ok_or_else(|| {
            Error::invalid(format!(
                "there is no task {n}: the plan has tasks 0..{}",
                self.tasks.len().saturating_sub(1)
            ))
        })
    }

    /// Frames in all.
    pub fn frames(&self) -> usize {
        self.tasks.iter().map(|t| t.end - t.first).sum()
    }
}

/// Where a task stands, read from the frames folder.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskState {
    /// Every frame is written.
    Done,
    /// A process holds its lock.
    Running {
        /// The process's host.
        host: String,
        /// Its process id.
        pid: u32,
        /// Seconds since the lock was last refreshed.
        age: f64,
        /// Frames written so far.
        done: usize,
    },
    /// Its last run failed, and none holds it now.
    Failed {
        /// The run's error.
        reason: String,
        /// Frames written.
        done: usize,
    },
    /// Not started, or stopped (a stale lock, a cancelled run).
    Left {
        /// Frames written.
        done: usize,
    },
}

/// The frames of each task written so far, and whether it runs or failed.
pub fn task_states(store: &FrameStore, plan: &FarmPlan) -> Vec<TaskState> {
    plan.tasks
        .iter()
        .enumerate()
        .map(|(n, task)| {
            let done = store.clone().narrowed(task.first, task.end).finished();
            if done == task.end - task.first {
                return TaskState::Done;
            }
            if let Some(held) = lock::holder(store.folder(), n) {
                if !held.is_stale() {
                    return TaskState::Running { host: held.owner.host, pid: held.owner.pid, age: held.age, done };
                }
            }
            match std::fs::read_to_string(failed_path(store.folder(), n)) {
                Ok(reason) => TaskState::Failed { reason: reason.trim().to_string(), done },
                Err(_) => TaskState::Left { done },
            }
        })
        .collect()
}

/// The file recording why task `n`'s last run failed.
pub fn failed_path(folder: &Path, n: usize) -> PathBuf {
    folder.join(format!("task_{n:04}.failed"))
}

/// Records that task `n` failed, and why (kept until a run of it starts).
pub fn record_failure(folder: &Path, n: usize, reason: &str) -> Result<()> {
    let path = failed_path(folder, n);
    let tmp = folder.join(format!(".task_{n:04}.failed.{}.tmp", std::process::id()));
    std::fs::write(&tmp, format!("{reason}\n"))
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| Error::Save { path, reason: e.to_string() })
}

/// The clip's sound and frames are exported once every task is done: the tasks that are not,
/// named with their frames missing (empty when all are done).
pub fn missing(store: &FrameStore, plan: &FarmPlan) -> Vec<String> {
    plan.tasks
        .iter()
        .enumerate()
        .filter_map(|(n, task)| {
            let missing = (task.first..task.end).filter(|&i| !store.path(i).is_file()).count();
            (missing > 0).then(|| format!("task {n} ({}: {missing} missing)", task.frames()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn estimate() -> Estimate {
        Estimate { startup: 2.0, later_iterations: 10, ..crate::video::estimate::sample() }
    }

    #[test]
    fn tasks_follow_shots_and_chunks_warm_up_within_their_shot() {
        let shots = [Shot { first: 0, end: 10 }, Shot { first: 10, end: 35 }];
        let whole = FarmPlan::new(&shots, (None, 4), &estimate(), 1 << 30, 2).unwrap();
        let ranges: Vec<_> = whole.tasks.iter().map(|t| (t.first, t.end, t.preroll)).collect();
        assert_eq!(ranges, [(0, 10, 0), (10, 35, 0)], "without chunks a task is a shot, with no pre-roll");
        let chunked = FarmPlan::new(&shots, (Some(10), 4), &estimate(), 1 << 30, 2).unwrap();
        let ranges: Vec<_> = chunked.tasks.iter().map(|t| (t.first, t.end, t.preroll)).collect();
        assert_eq!(ranges, [(0, 10, 0), (10, 20, 0), (20, 30, 4), (30, 35, 4)]);
        let small_preroll = FarmPlan::new(&[Shot { first: 0, end: 12 }], (Some(2), 3), &estimate(), 0, 1).unwrap();
        assert_eq!(small_preroll.tasks[1].preroll, 2, "pre-roll never reaches before the shot");
        assert_eq!(chunked.frames(), 35);
    }

    #[test]
    fn a_task_costs_its_first_frame_then_later_frames_pre_roll_included() {
        let shots = [Shot { first: 0, end: 30 }];
        let plan = FarmPlan::new(&shots, (Some(20), 2), &estimate(), 7, 1).unwrap();
        // 2 s startup + 60 s first frame + 19 later frames x (1 + 10 x 0.5) s
        assert!((plan.tasks[0].seconds - (62.0 + 19.0 * 6.0)).abs() < 1e-9);
        // The chunk renders 2 pre-roll frames and 10 frames: 11 after its first.
        assert!((plan.tasks[1].seconds - (62.0 + 11.0 * 6.0)).abs() < 1e-9);
        assert_eq!(plan.tasks[1].disk, 10_000_000, "10 frames of 1 MB");
        assert!(FarmPlan::new(&shots, (Some(0), 0), &estimate(), 0, 1).is_err());
        assert!(plan.task(2).is_err() && plan.task(1).is_ok());
    }
}
