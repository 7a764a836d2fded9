//! `--submit slurm`: a plan's tasks that are not done as a Slurm job array (a clip's, or a batch
//! of stills'), for a clip an assemble job that runs once they have all succeeded, and with
//! `--wait` one progress bar over every file the tasks write (read from the shared folder)
//! until the last job ends.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use neural_style_studio::farm::slurm::{array_script, assemble_script, job_id, JobState, Resources};

use crate::render_farm::FarmArgs;

/// How often `--wait` looks at the folder and the queue.
const POLL: Duration = Duration::from_secs(2);

/// A plan's tasks to hand to Slurm.
pub struct Submission {
    /// The folder holding the plan: the scripts and the logs are written there.
    pub folder: PathBuf,
    /// The subcommand each task runs (`render-video` or `render`).
    pub command: &'static str,
    /// The output the tasks are given (`--out`).
    pub out: PathBuf,
    /// The tasks to submit: those neither done nor running.
    pub left: Vec<usize>,
    /// Tasks in the plan.
    pub tasks: usize,
    /// What each asks for.
    pub resources: Resources,
    /// A clip's frames, exported by an assemble job after the tasks (`None`: no such job).
    pub assemble: Option<usize>,
    /// The files the tasks write, counted for the progress bar, and what they are ("frames").
    pub files: (Vec<PathBuf>, &'static str),
}

/// Submits the tasks left, and the assemble job; follows them with `--wait`.
pub fn submit(job: Submission, farm: &FarmArgs, interrupted: &AtomicBool) -> Result<()> {
    let program = std::env::current_exe().context("cannot tell where this program is")?;
    let out = absolute_out(&job.out)?;
    let logs = job.folder.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("cannot make {}", logs.display()))?;
    let extra = match &farm.sbatch {
        Some(text) => shlex::split(text).with_context(|| format!("--sbatch: cannot split {text} into arguments"))?,
        None => Vec::new(),
    };
    let mut follow = None;
    let mut after = Vec::new();
    if job.left.is_empty() {
        eprintln!("every task is done or running: nothing to submit but what follows them");
    } else {
        let script = array_script((&program, job.command), &out, &logs, &job.left, job.resources)?;
        let id = sbatch(&extra, &[], &write_script(&job.folder, "slurm_tasks.sh", &script)?)?;
        let r = job.resources;
        eprintln!(
            "submitted {} of {} tasks as Slurm job {id} (each {} CPUs, {} MB, at most {} min; logs in {})",
            job.left.len(),
            job.tasks,
            r.cpus,
            r.memory_mb,
            r.minutes,
            logs.display()
        );
        println!("tasks {id}");
        // The assemble job runs once every task succeeded, and is dropped if one fails.
        after = vec![format!("--dependency=afterok:{id}"), "--kill-on-invalid-dep=yes".to_string()];
        follow = Some(id);
    }
    if let Some(frames) = job.assemble {
        let script = assemble_script(&program, &out, &logs, frames)?;
        let id = sbatch(&extra, &after, &write_script(&job.folder, "slurm_assemble.sh", &script)?)?;
        eprintln!("submitted the assemble job as Slurm job {id}");
        println!("assemble {id}");
        follow = Some(id);
    }
    match follow {
        Some(id) if farm.wait => wait(&job.files, &id, &out, interrupted),
        _ => {
            eprintln!("`{} --out {} --status` tells where the tasks stand", job.command, job.out.display());
            Ok(())
        }
    }
}

/// Follows the render until job `id` (the assemble job, else the array) ends; its status is
/// the result.
fn wait((files, unit): &(Vec<PathBuf>, &str), id: &str, out: &Path, interrupted: &AtomicBool) -> Result<()> {
    let bar = ProgressBar::new(files.len() as u64);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{bar:30}} {{pos}}/{{len}} {unit} {{msg}} [{{elapsed_precise}} < {{eta_precise}}]"
        ))
        .context("progress bar template")?,
    );
    loop {
        bar.set_position(files.iter().filter(|f| f.is_file()).count() as u64);
        match job_state(id)? {
            Some(state) if state.has_ended() => {
                bar.finish();
                if state.state == "COMPLETED" && state.exit_code == 0 {
                    eprintln!("done: {}", out.display());
                    return Ok(());
                }
                bail!(
                    "Slurm job {id} ended {} ({}, exit code {}): a task failed or was cancelled; `--status` names \
                     it, and --submit again goes on",
                    state.state,
                    state.reason,
                    state.exit_code,
                );
            }
            Some(state) => bar.set_message(format!("job {id} {}", state.state.to_lowercase())),
            None => {
                // Slurm forgets a job some minutes after it ends: the files tell.
                bar.finish();
                if files.iter().all(|f| f.is_file()) {
                    return Ok(());
                }
                bail!("Slurm no longer knows job {id} and not every file of {} was written", out.display());
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
