//! `render-video --submit slurm`: the plan's tasks that are not done as a Slurm job array, an
//! assemble job that runs once they have all succeeded, and with `--wait` one progress bar over
//! every frame (read from the shared frames folder) until the assemble job ends.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use neural_style_studio::farm::slurm::{array_script, assemble_script, job_id, JobState, Resources};
use neural_style_studio::farm::{self, FarmPlan, TaskState};
use neural_style_studio::video::store::FrameStore;

use crate::cli::RenderVideoArgs;

/// How often `--wait` looks at the folder and the queue.
const POLL: Duration = Duration::from_secs(2);

/// Submits the tasks left and the assemble job; follows them with `--wait`.
pub fn submit(args: &RenderVideoArgs, folder: &Path, interrupted: &AtomicBool) -> Result<()> {
    let plan = FarmPlan::open(folder)?;
    let store = FrameStore::open(folder)?;
    let mut left = Vec::new();
    for (n, state) in farm::task_states(&store, &plan).into_iter().enumerate() {
        match state {
            TaskState::Done => {}
            TaskState::Running { host, pid, .. } => {
                eprintln!("note: task {n} is running on {host} (pid {pid}): not submitted again")
            }
            TaskState::Failed { .. } | TaskState::Left { .. } => left.push(n),
        }
    }
    let program = std::env::current_exe().context("cannot tell where this program is")?;
    let out = absolute_out(&args.out)?;
    let logs = folder.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("cannot make {}", logs.display()))?;
    let extra = match &args.farm.sbatch {
        Some(text) => shlex::split(text).with_context(|| format!("--sbatch: cannot split {text} into arguments"))?,
        None => Vec::new(),
    };
    let mut after = Vec::new();
    if left.is_empty() {
        eprintln!("every task is done or running: only the assemble job is submitted");
    } else {
        let resources =
            Resources::for_tasks(left.iter().map(|&n| &plan.tasks[n]), args.farm.cpus_per_task, plan.threads);
        let script = write_script(folder, "slurm_tasks.sh", &array_script(&program, &out, &logs, &left, resources)?)?;
        let id = sbatch(&extra, &[], &script)?;
        eprintln!(
            "submitted {} of {} tasks as Slurm job {id} (each {} CPUs, {} MB, at most {} min; logs in {})",
            left.len(),
            plan.tasks.len(),
            resources.cpus,
            resources.memory_mb,
            resources.minutes,
            logs.display()
        );
        println!("tasks {id}");
        // The assemble job runs once every task succeeded, and is dropped if one fails.
        after = vec![format!("--dependency=afterok:{id}"), "--kill-on-invalid-dep=yes".to_string()];
    }
    let script = write_script(folder, "slurm_assemble.sh", &assemble_script(&program, &out, &logs, plan.frames())?)?;
    let assemble = sbatch(&extra, &after, &script)?;
    eprintln!("submitted the assemble job as Slurm job {assemble}");
    println!("assemble {assemble}");
    if args.farm.wait {
        return wait(&store, &plan, &assemble, &out, interrupted);
    }
    eprintln!("`render-video --out {} --status` tells where the tasks stand", args.out.display());
    Ok(())
}

/// Follows the render until the assemble job ends; its status is the result.
fn wait(store: &FrameStore, plan: &FarmPlan, assemble: &str, out: &Path, interrupted: &AtomicBool) -> Result<()> {
    let bar = ProgressBar::new(plan.frames() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} frames {msg} [{elapsed_precise} < {eta_precise}]")
            .context("progress bar template")?,
    );
    let frames: Vec<PathBuf> = plan.tasks.iter().flat_map(|t| t.first..t.end).map(|i| store.path(i)).collect();
    loop {
        bar.set_position(frames.iter().filter(|f| f.is_file()).count() as u64);
        let state = job_state(assemble)?;
        match &state {
            Some(state) if state.has_ended() => {
                bar.finish();
                if state.state == "COMPLETED" && state.exit_code == 0 {
                    eprintln!("wrote {}", out.display());
                    return Ok(());
                }
                bail!(
                    "the assemble job {assemble} ended {} ({}, exit code {}): a task failed or was cancelled; \
                     `render-video --out {} --status` names it, and --submit again goes on",
                    state.state,
                    state.reason,
                    state.exit_code,
                    out.display()
                );
            }
            Some(state) => bar.set_message(format!("assemble job {}", state.state.to_lowercase())),
            None => {
                // Slurm forgets a job some minutes after it ends: the output tells.
                bar.finish();
                if out.exists() {
                    return Ok(());
                }
                bail!("Slurm no longer knows job {assemble} and {} was not written", out.display());
            }
        }
        for _ in 0..POLL.as_millis() / 100 {
            if interrupted.load(Ordering::SeqCst) {
                bar.abandon();
                bail!("stopped following; the jobs go on (scancel stops them)");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Runs `sbatch --parsable`; its job id, or its own message.
fn sbatch(extra: &[String], after: &[String], script: &Path) -> Result<String> {
    let output = match Command::new("sbatch").arg("--parsable").args(extra).args(after).arg(script).output() {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "sbatch is not on the PATH: submit from a machine of the Slurm cluster, or run each task with \
             `render-video --out OUT --task N`"
        ),
        Err(e) => return Err(e).context("cannot run sbatch"),
    };
    if !output.status.success() {
        bail!("sbatch refused {}: {}", script.display(), String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(job_id(&String::from_utf8_lossy(&output.stdout))?)
}

/// The job's state (`None` once Slurm has forgotten it).
fn job_state(id: &str) -> Result<Option<JobState>> {
    let output = Command::new("scontrol").args(["show", "job", "-o", id]).output().context("cannot run scontrol")?;
    Ok(JobState::parse(&String::from_utf8_lossy(&output.stdout)))
}

fn write_script(folder: &Path, name: &str, text: &str) -> Result<PathBuf> {
    let path = folder.join(name);
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// `out` from the root (its folder exists; the file need not).
fn absolute_out(out: &Path) -> Result<PathBuf> {
    let name = out.file_name().context("the output has no file name")?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Ok(crate::render_farm::absolute(parent)?.join(name))
}
