//! Where a farm render stands, read from its shared folder alone (a clip's frames folder with
//! its plan, or a batch's output folder): each task's state, the files written, and for a clip
//! the frames finished in order, to play. Read by `--status` and the app's render folder view.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::farm::batch::{Batch, BATCH_JSON};
use crate::farm::{task_states, FarmPlan, Task, TaskState, FARM_JSON};
use crate::video::store::FrameStore;

/// What a render folder holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A clip's frames.
    Clip,
    /// A batch of stills.
    Batch,
}

/// A farm render's progress.
#[derive(Debug, Clone)]
pub struct Progress {
    /// A clip or a batch.
    pub kind: Kind,
    /// Each task and where it stands.
    pub tasks: Vec<(Task, TaskState)>,
    /// Files written (frames or prints).
    pub written: usize,
    /// Files in all.
    pub total: usize,
    /// The files written, in order (a clip's frames; a batch's prints).
    pub finished: Vec<PathBuf>,
    /// A clip's frame rate (0 for a batch).
    pub fps: f64,
}

impl Progress {
    /// Reads the render in `folder`: a clip's frames folder holding a farm plan, or a batch's
    /// output folder.
    pub fn read(folder: &Path) -> Result<Self> {
        if folder.join(FARM_JSON).is_file() {
            let plan = FarmPlan::open(folder)?;
            let store = FrameStore::open(folder)?;
            let states = task_states(&store, &plan);
            let finished: Vec<PathBuf> =
                plan.tasks.iter().flat_map(|t| t.first..t.end).map(|i| store.path(i)).filter(|p| p.is_file()).collect();
            return Ok(Progress {
                kind: Kind::Clip,
                tasks: plan.tasks.into_iter().zip(states).collect(),
                written: finished.len(),
                total: store.plan().end - store.plan().first,
                finished,
                fps: store.plan().fps,
            });
        }
        if let Some(batch) = Batch::open(folder)? {
            let states = batch.task_states(folder);
            let finished: Vec<PathBuf> =
                (0..batch.pictures.len()).map(|i| batch.output(folder, i)).filter(|p| p.is_file()).collect();
            return Ok(Progress {
                kind: Kind::Batch,
                written: finished.len(),
                total: batch.pictures.len(),
                tasks: batch.tasks.into_iter().zip(states).collect(),
                finished,
                fps: 0.0,
            });
        }
        Err(Error::invalid(format!(
            "{} holds no farm render: a clip's frames folder with {FARM_JSON} (render-video --plan), or a batch's \
             output folder with {BATCH_JSON} (render --batch)",
            folder.display()
        )))
    }

    /// Tasks done, running, failed and left.
    pub fn counts(&self) -> [usize; 4] {
        let mut counts = [0; 4];
        for (_, state) in &self.tasks {
            counts[match state {
                TaskState::Done => 0,
                TaskState::Running { .. } => 1,
                TaskState::Failed { .. } => 2,
                TaskState::Left { .. } => 3,
            }] += 1;
        }
        counts
    }
}

/// One line for a task's state: "done", "running on node3 (pid 42, seen 5 s ago), 3 of 10
/// frames", "failed, 0 of 10 frames: why", "left, 2 of 10 frames".
pub fn describe(task: &Task, state: &TaskState, unit: &str) -> String {
    let all = task.end - task.first;
    match state {
        TaskState::Done => "done".to_string(),
        TaskState::Running { host, pid, age, done } => {
            format!("running on {host} (pid {pid}, seen {age:.0} s ago), {done} of {all} {unit}")
        }
        TaskState::Failed { reason, done } => format!("failed, {done} of {all} {unit}: {reason}"),
        TaskState::Left { done } => format!("left, {done} of {all} {unit}"),
    }
}
