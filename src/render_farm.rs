//! `render-video` on many machines: `--plan` cuts the render into tasks (shots, chunks of long
//! shots) and writes the plan into the output's frames folder; `--task N` renders one of them
//! there (resumable, under a lock); `--status` tells where each stands; `--assemble` exports
//! the clip once every frame is there; `--submit slurm` hands them to Slurm
//! ([`crate::farm_submit`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use neural_style_studio::farm::lock::{host_name, TaskLock};
use neural_style_studio::farm::progress::{describe, Kind, Progress};
use neural_style_studio::farm::slurm::Resources;
use neural_style_studio::farm::{self, FarmPlan, TaskState, FARM_JSON};
use neural_style_studio::imageio::fit_long_side;
use neural_style_studio::video::clip::ClipReader;
use neural_style_studio::video::estimate::{duration, human_bytes, Estimate};
use neural_style_studio::video::export::{export, ClipFormat};
use neural_style_studio::video::render::ClipRender;
use neural_style_studio::video::shots::CutDetector;
use neural_style_studio::video::store::{frames_folder, FrameStore, PLAN_JSON};

use crate::cli::RenderVideoArgs;
use crate::farm_submit::Submission;
use crate::render_video::{drive, new_plan};

/// Schedulers `--submit` hands tasks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scheduler {
    /// Slurm: a job array of the tasks, and an assemble job after it.
    Slurm,
}

/// `render-video`'s options for a clip on many machines (beside [`FarmArgs`]).
#[derive(Debug, Clone, Default, Args)]
pub struct ClipFarmArgs {
    /// Write the render's plan for many machines into the output's frames folder (its shots,
    /// chunks, settings, and each task's estimate) and print the number of tasks.
    #[arg(long)]
    pub plan: bool,
    /// With --plan: cut shots longer than N frames into chunks of N (each warmed up by
    /// --preroll frames; its frames then differ slightly from one machine's at the seam).
    #[arg(long, value_name = "N")]
    pub chunk: Option<usize>,
    /// With --chunk: frames rendered before each chunk to carry the motion in, not written.
    #[arg(long, value_name = "P", default_value_t = 2)]
    pub preroll: usize,
    /// Export the clip once every task's frames are there, else name the tasks missing.
    #[arg(long)]
    pub assemble: bool,
}

/// Options for rendering on many machines, of `render-video` and `render --batch`.
#[derive(Debug, Clone, Default, Args)]
pub struct FarmArgs {
    /// Render task N of the plan in the output's folder (from 0) [default:
    /// SLURM_ARRAY_TASK_ID, else JOB_COMPLETION_INDEX]. What is finished is skipped.
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "")]
    pub task: Option<String>,
    /// List the tasks done, running (host, age), failed and left.
    #[arg(long)]
    pub status: bool,
    /// Hand the plan's tasks that are not done to a scheduler (a plan is written first when
    /// there is none; a clip gets an assemble job after them).
    #[arg(long, value_enum, value_name = "SCHEDULER")]
    pub submit: Option<Scheduler>,
    /// With --submit: follow the jobs with one progress bar, and exit with their status.
    #[arg(long)]
    pub wait: bool,
    /// With --submit: more arguments for sbatch (partition, account...), as one string.
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
    pub sbatch: Option<String>,
    /// With --submit: CPUs (threads) for each task.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub cpus_per_task: usize,
}

impl FarmArgs {
    /// Whether any of them asks for a farm action.
    pub fn is_farm(&self) -> bool {
        self.task.is_some() || self.status || self.submit.is_some()
    }
}

/// Runs the farm action `args` asks for.
pub fn farm(args: &RenderVideoArgs, interrupted: &AtomicBool) -> Result<()> {
    let folder = frames_folder(&args.out)?;
    let farm = &args.farm;
    let clip = &args.clip_farm;
    if clip.plan {
        plan(args, &folder, interrupted)?;
        if farm.submit.is_none() {
            return Ok(());
        }
    }
    if let Some(n) = &farm.task {
        return task(args, &folder, task_number(n)?, interrupted);
    }
    if clip.assemble {
        return assemble(args, &folder);
    }
    if farm.status {
        return status(&folder);
    }
    if farm.submit.is_some() {
        if !folder.join(FARM_JSON).is_file() && !clip.plan {
            plan(args, &folder, interrupted)?;
        }
        return submit(args, &folder, interrupted);
    }
    Ok(())
}

/// `--submit`: the tasks neither done nor running, and the assemble job.
fn submit(args: &RenderVideoArgs, folder: &Path, interrupted: &AtomicBool) -> Result<()> {
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
    let resources = Resources::for_tasks(left.iter().map(|&n| &plan.tasks[n]), args.farm.cpus_per_task, plan.threads);
    let frames = plan.tasks.iter().flat_map(|t| t.first..t.end).map(|i| store.path(i)).collect();
    let job = Submission {
        folder: folder.to_path_buf(),
        command: "render-video",
        out: args.out.clone(),
        left,
        tasks: plan.tasks.len(),
        resources,
        assemble: Some(plan.frames()),
        files: (frames, "frames"),
    };
    crate::farm_submit::submit(job, &args.farm, interrupted)
}

/// `--plan`: finds the shots, times the render here, and writes the tasks.
fn plan(args: &RenderVideoArgs, folder: &Path, interrupted: &AtomicBool) -> Result<()> {
    if folder.join(FARM_JSON).exists() || folder.join(PLAN_JSON).exists() {
        bail!(
            "{} holds a render's plan already: `render-video --out {} --status` shows it; choose another output",
            folder.display(),
            args.out.display()
        );
    }
    let format = ClipFormat::choose(&args.out, args.codec.as_deref())?;
    format.check_writable(&args.out)?;
    let mut plan = new_plan(args, interrupted)?;
    if plan.spec.video.looped {
        bail!("a loop's join needs its last frame rendered first: render a loop on one machine (without --plan)");
    }
    // Every node reads the images where the plan names them.
    plan.clip = absolute(&plan.clip)?;
    for image in plan.spec.content.iter_mut().chain(plan.spec.styles.iter_mut()).chain(plan.spec.init_image.iter_mut())
    {
        image.path = absolute(&image.path)?;
    }
    let mut reader = ClipReader::open(&plan.clip)?;
    let info = reader.info().clone();
    reader.scale_to(fit_long_side(info.size, plan.spec.size));
    let range = (plan.first, plan.end.min(info.frames));
    let (shots, _) = crate::video_plan::scan(&mut reader, range, CutDetector::new())?;
    drop(reader);
    let estimate = Estimate::measure(&plan, shots.len()).context("timing the render")?;
    let memory = (crate::bench::peak_rss_mib() * 1024.0 * 1024.0) as u64;
    let threads = rayon::current_num_threads();
    let tasks = FarmPlan::new(&shots, (args.clip_farm.chunk, args.clip_farm.preroll), &estimate, memory, threads)?;
    let (render, notes) = ClipRender::start(folder, plan)?;
    for note in notes {
        eprintln!("note: {note}");
    }
    drop(render);
    let tasks = FarmPlan { codec: args.codec.clone(), ..tasks };
    tasks.write(folder)?;
    let longest = tasks.tasks.iter().map(|t| t.seconds).fold(0.0, f64::max);
    let disk: u64 = tasks.tasks.iter().map(|t| t.disk).sum();
    eprintln!(
        "{} frames in {} shots: {} tasks; the longest about {} here ({threads} threads), each at most {} of memory, \
         {} of frames in all",
        tasks.frames(),
        shots.len(),
        tasks.tasks.len(),
        duration(longest),
        human_bytes(memory as f64),
        human_bytes(disk as f64)
    );
    for (n, task) in tasks.tasks.iter().enumerate() {
        let preroll =
            if task.preroll > 0 { format!(" after {} frames of pre-roll", task.preroll) } else { String::new() };
        eprintln!("task {n}: {}{preroll}, about {}", task.frames(), duration(task.seconds));
    }
    println!("{}", tasks.tasks.len());
    Ok(())
}

/// `--task N`: renders task `n`'s frames not yet written, holding its lock.
fn task(args: &RenderVideoArgs, folder: &Path, n: usize, interrupted: &AtomicBool) -> Result<()> {
    let plan = FarmPlan::open(folder)?;
    let task = plan.task(n)?.clone();
    let mut lock = TaskLock::acquire(folder, n)?;
    // A new run: the last one's failure is history.
    let _ = std::fs::remove_file(farm::failed_path(folder, n));
    eprintln!("task {n} of {}: {} on {}", plan.tasks.len(), task.frames(), host_name());
    let goes_on = format!("`render-video --out {} --task {n}` goes on", args.out.display());
    let result = ClipRender::part(folder, (task.first, task.end), task.preroll)
        .map_err(anyhow::Error::new)
        .and_then(|mut render| drive(&mut render, interrupted, &goes_on, &mut || Ok(lock.refresh()?)));
    if let Err(e) = &result {
        if !interrupted.load(std::sync::atomic::Ordering::SeqCst) {
            farm::record_failure(folder, n, &format!("{e:#}"))?;
        }
    }
    drop(lock);
    result.with_context(|| format!("task {n} ({})", task.frames()))
}

/// `--assemble`: exports the clip from the frames of every task.
fn assemble(args: &RenderVideoArgs, folder: &Path) -> Result<()> {
    let plan = FarmPlan::open(folder)?;
    let store = FrameStore::open(folder)?;
    let missing = farm::missing(&store, &plan);
    if !missing.is_empty() {
        bail!(
            "not every frame is there: {}; `render-video --out {} --status` tells more",
            missing.join(", "),
            args.out.display()
        );
    }
    let format = ClipFormat::choose(&args.out, args.codec.as_deref().or(plan.codec.as_deref()))?;
    format.check_writable(&args.out)?;
    let clip = store.plan();
    let sound = ClipReader::open(&clip.clip)?.info().sound.then(|| clip.sound());
    if let Some(note) = export(&store.frames(), clip.fps, &args.out, format, sound.as_ref())? {
        eprintln!("note: {note}");
    }
    eprintln!("wrote {} from {} frames of {} tasks", args.out.display(), plan.frames(), plan.tasks.len());
    Ok(())
}

/// `--status` of a clip's or a batch's render folder: one line a task, then the counts.
pub fn status(folder: &Path) -> Result<()> {
    let progress = Progress::read(folder)?;
    let (unit, things) = match progress.kind {
        Kind::Clip => ("frames", "frames"),
        Kind::Batch => ("pictures", "pictures"),
    };
    for (n, (task, state)) in progress.tasks.iter().enumerate() {
        println!("task {n}: {things} {}..{}: {}", task.first + 1, task.end, describe(task, state, unit));
    }
    let [done, running, failed, left] = progress.counts();
    println!(
        "{} of {} {unit}; tasks: {done} done, {running} running, {failed} failed, {left} left",
        progress.written, progress.total
    );
    Ok(())
}

/// The task number given, else the scheduler's.
pub fn task_number(given: &str) -> Result<usize> {
    let (text, origin) = match given {
        "" => match ["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"]
            .iter()
            .find_map(|name| std::env::var(name).ok().map(|v| (v, *name)))
        {
            Some((value, name)) => (value, name.to_string()),
            None => bail!(
                "--task needs a number: none given, and neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX is set"
            ),
        },
        n => (n.to_string(), "--task".to_string()),
    };
    text.trim().parse().with_context(|| format!("{origin}: {text} is not a task number"))
}

/// `path` from the root, as another machine reads it (it must exist).
pub fn absolute(path: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(path).with_context(|| format!("cannot read {}", path.display()))
}
