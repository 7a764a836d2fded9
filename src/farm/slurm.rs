//! What Slurm is handed: a job array script running one task per array index, an assemble
//! job's script, the resources they ask for (from the plan's estimates, with margin), and the
//! reading of what `sbatch --parsable` and `scontrol show job -o` print.

use std::path::Path;

use crate::error::{Error, Result};
use crate::farm::Task;

/// Time limits are the estimate times this, plus [`SPARE_MINUTES`]: an estimate of a few
/// iterations on another machine is a guide, and a task cut short loses its last frame only.
const TIME_MARGIN: f64 = 2.0;

/// Minutes added to every time limit (start-up, a slow file system).
const SPARE_MINUTES: u64 = 10;

/// Memory asked is the estimate times this, plus [`SPARE_MB`].
const MEMORY_MARGIN: f64 = 1.5;

/// Megabytes added to every memory request.
const SPARE_MB: u64 = 512;

/// What each array task asks of Slurm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resources {
    /// CPUs (threads) per task.
    pub cpus: usize,
    /// Memory per task in megabytes.
    pub memory_mb: u64,
    /// Time limit in minutes.
    pub minutes: u64,
}

impl Resources {
    /// Enough for the longest and largest of `tasks` with `cpus` threads each, their estimates
    /// having been timed with `timed_threads`.
    pub fn for_tasks<'a>(tasks: impl IntoIterator<Item = &'a Task>, cpus: usize, timed_threads: usize) -> Self {
        let (seconds, memory) =
            tasks.into_iter().fold((0.0f64, 0u64), |(s, m), task| (s.max(task.seconds), m.max(task.memory)));
        // Fewer threads than the estimate had take longer (about in proportion); more are not
        // counted on.
        let slower = (timed_threads.max(1) as f64 / cpus.max(1) as f64).max(1.0);
        Resources {
            cpus: cpus.max(1),
            memory_mb: (memory as f64 * MEMORY_MARGIN / 1e6).ceil() as u64 + SPARE_MB,
            minutes: (seconds * slower * TIME_MARGIN / 60.0).ceil() as u64 + SPARE_MINUTES,
        }
    }
}

/// The job array's script: array index `n` runs `PROGRAM COMMAND --out OUT --task n` with the
/// task's threads (`command`: `render-video`, or `render`). `indices` lists the tasks
/// submitted (all, or those left).
pub fn array_script(
    (program, command): (&Path, &str),
    out: &Path,
    logs: &Path,
    indices: &[usize],
    resources: Resources,
) -> Result<String> {
    let array = indices.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
    Ok(format!(
        "#!/bin/bash\n\
         # The tasks of a neural-style-studio render, one per array index (render-video --submit slurm).\n\
         #SBATCH --job-name={name}\n\
         #SBATCH --array={array}\n\
         #SBATCH --cpus-per-task={cpus}\n\
         #SBATCH --mem={mem}M\n\
         #SBATCH --time={minutes}\n\
         #SBATCH --output={logs}/task_%a.log\n\
         export RAYON_NUM_THREADS=\"${{SLURM_CPUS_PER_TASK:-{cpus}}}\"\n\
         exec {program} {command} --out {out} --task \"$SLURM_ARRAY_TASK_ID\"\n",
        name = job_name(out),
        cpus = resources.cpus,
        mem = resources.memory_mb,
        minutes = resources.minutes,
        logs = quoted(logs)?,
        program = quoted(program)?,
        out = quoted(out)?,
    ))
}

/// The assemble job's script: exports the clip once the array has finished.
pub fn assemble_script(program: &Path, out: &Path, logs: &Path, frames: usize) -> Result<String> {
    // Encoding reads the frames one at a time: a thread and little memory; a second a frame is
    // slow for an encoder.
    let minutes = (frames as u64).div_ceil(60) + SPARE_MINUTES;
    Ok(format!(
        "#!/bin/bash\n\
         # Exports a neural-style-studio render once its tasks are done (render-video --submit slurm).\n\
         #SBATCH --job-name={name}-assemble\n\
         #SBATCH --cpus-per-task=1\n\
         #SBATCH --mem=2048M\n\
         #SBATCH --time={minutes}\n\
         #SBATCH --output={logs}/assemble.log\n\
         exec {program} render-video --out {out} --assemble\n",
        name = job_name(out),
        logs = quoted(logs)?,
        program = quoted(program)?,
        out = quoted(out)?,
    ))
}

/// The job id in what `sbatch --parsable` printed ("1234" or "1234;cluster").
pub fn job_id(parsable: &str) -> Result<String> {
    let id = parsable.trim().split(';').next().unwrap_or_default();
    match !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
        true => Ok(id.to_string()),
        false => Err(Error::invalid(format!("sbatch printed no job id: {}", parsable.trim()))),
    }
}

/// A job's state as `scontrol show job -o ID` tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobState {
    /// PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT...
    pub state: String,
    /// The Reason field (why it is pending, or how it ended).
    pub reason: String,
    /// The exit code of its script.
    pub exit_code: i32,
}

impl JobState {
    /// Reads `scontrol show job -o` output: one line a job, or one an array's task. An array
    /// is still going while any task is; once all have ended, it is the first that did not
    /// complete, else the last.
    pub fn parse(text: &str) -> Option<Self> {
        let states: Vec<JobState> = text.lines().filter(|l| l.contains("JobState=")).map(JobState::of_line).collect();
        let going = states.iter().find(|s| !s.has_ended());
        let failed = states.iter().find(|s| s.state != "COMPLETED" || s.exit_code != 0);
        going.or(failed).or(states.last()).cloned()
    }

    fn of_line(line: &str) -> Self {
        let field = |key: &str| {
            line.split_whitespace().find_map(|word| word.strip_prefix(key)).map(str::to_string).unwrap_or_default()
        };
        let exit_code = field("ExitCode=").split(':').next().and_then(|c| c.parse().ok()).unwrap_or(0);
        JobState { state: field("JobState="), reason: field("Reason="), exit_code }
    }

    /// Whether the job has ended (for good or not).
    pub fn has_ended(&self) -> bool {
        !matches!(self.state.as_str(), "PENDING" | "RUNNING" | "CONFIGURING" | "COMPLETING" | "SUSPENDED" | "REQUEUED")
    }
}

/// A name Slurm shows in its queue: "nss-" and the output's file name.
fn job_name(out: &Path) -> String {
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let name: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '_' }).collect();
    format!("nss-{name}")
}

fn quoted(path: &Path) -> Result<String> {
    let text = path.to_str().ok_or_else(|| Error::invalid(format!("{} is not UTF-8", path.display())))?;
    shlex::try_quote(text)
        .map(|q| q.into_owned())
        .map_err(|e| Error::invalid(format!("{} cannot be written in a script: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(seconds: f64, memory: u64) -> Task {
        Task { first: 0, end: 10, preroll: 0, seconds, memory, disk: 0 }
    }

    #[test]
    fn resources_cover_the_longest_and_largest_task_with_margin() {
        let tasks = [task(600.0, 1_000_000_000), task(1200.0, 500_000_000)];
        let r = Resources::for_tasks(&tasks, 2, 2);
        assert_eq!(r, Resources { cpus: 2, memory_mb: 1500 + 512, minutes: 40 + 10 });
        let one_thread = Resources::for_tasks(&tasks, 1, 2);
        assert_eq!(one_thread.minutes, 80 + 10, "half the threads of the timing: twice the time");
    }

    #[test]
    fn scripts_quote_paths_and_run_each_array_index_as_its_task() {
        let r = Resources { cpus: 1, memory_mb: 900, minutes: 12 };
        let script = array_script(
            (Path::new("/opt/nss"), "render-video"),
            Path::new("/farm/my clip.mp4"),
            Path::new("/farm/logs"),
            &[0, 2],
            r,
        )
        .unwrap();
        assert!(script.starts_with("#!/bin/bash\n"));
        assert!(script.contains("#SBATCH --array=0,2\n") && script.contains("#SBATCH --mem=900M\n"));
        assert!(script.contains("exec /opt/nss render-video --out '/farm/my clip.mp4' --task \"$SLURM_ARRAY_TASK_ID\""));
        assert!(script.contains("#SBATCH --job-name=nss-my_clip.mp4\n"));
        let assemble = assemble_script(Path::new("/opt/nss"), Path::new("/farm/a.mp4"), Path::new("/l"), 120).unwrap();
        assert!(assemble.contains("--assemble") && assemble.contains("#SBATCH --time=12\n"));
    }

    #[test]
    fn job_ids_and_states_are_read_from_slurms_output() {
        assert_eq!(job_id("1234\n").unwrap(), "1234");
        assert_eq!(job_id("77;cluster\n").unwrap(), "77");
        assert!(job_id("sbatch: error: Batch job submission failed").is_err());
        let text = "JobId=5 JobName=wrap UserId=root(0) JobState=FAILED Reason=NonZeroExitCode Dependency=(null) \
                    ExitCode=3:0 RunTime=00:00:01";
        let state = JobState::parse(text).unwrap();
        assert_eq!(state, JobState { state: "FAILED".into(), reason: "NonZeroExitCode".into(), exit_code: 3 });
        assert!(state.has_ended());
        assert!(!JobState::parse("JobId=6 JobState=PENDING Reason=Dependency ExitCode=0:0").unwrap().has_ended());
        assert_eq!(JobState::parse("slurm_load_jobs error: Invalid job id specified"), None);
        // An array: going while a task is, then the task that failed.
        let array =
            |a: &str, b: &str| format!("JobId=8 ArrayTaskId=0 JobState={a} ExitCode=0:0\nJobId=9 ArrayTaskId=1 {b}");
        assert_eq!(JobState::parse(&array("RUNNING", "JobState=COMPLETED ExitCode=0:0")).unwrap().state, "RUNNING");
        let ended = JobState::parse(&array("COMPLETED", "JobState=FAILED ExitCode=1:0")).unwrap();
        assert_eq!((ended.state.as_str(), ended.exit_code), ("FAILED", 1));
        assert_eq!(JobState::parse(&array("COMPLETED", "JobState=COMPLETED ExitCode=0:0")).unwrap().state, "COMPLETED");
    }
}
