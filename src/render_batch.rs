//! `render --batch FOLDER --out OUT`: every picture of a folder with one look, each written
//! into OUT under its own name with the settings in it, one progress bar over all. The batch is
//! recorded in OUT, so a run stopped anywhere (or a picture that failed) goes on when run
//! again; with `--task N` a farm's task renders its run of pictures, `--status` tells where the
//! tasks stand, `--submit slurm` hands them to Slurm.

use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use neural_style_studio::farm::batch::{Batch, BATCH_JSON};
use neural_style_studio::farm::lock::{host_name, TaskLock};
use neural_style_studio::farm::slurm::Resources;
use neural_style_studio::farm::{failed_path, record_failure, TaskState};
use neural_style_studio::imageio::save_png;
use neural_style_studio::transfer::{ImageRef, Job, Method, RenderSpec};
use neural_style_studio::video::estimate::duration;

use crate::cli::RenderArgs;
use crate::farm_submit::Submission;
use crate::render_farm::task_number;

/// Progress units per picture.
const UNITS: u64 = 1000;

/// Tasks a batch is spread over by default (Slurm's default MaxArraySize is 1001).
const TASKS: usize = 100;

/// Iterations timed for the farm's estimate (after one that warms up).
const TIMED: usize = 3;

/// Runs `render --batch`, or a farm action on the batch recorded in `--out`.
pub fn batch(args: &RenderArgs, interrupted: &AtomicBool) -> Result<()> {
    let out = &args.out;
    if out.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")) {
        bail!("--batch writes a folder of pictures: give --out a folder, not {}", out.display());
    }
    let mut batch = match (Batch::open(out)?, &args.batch) {
        (Some(batch), Some(folder)) if !same_folder(&batch, folder) => bail!(
            "{} holds the batch of another folder ({}): choose another output",
            out.display(),
            batch.pictures[0].parent().unwrap_or(Path::new("")).display()
        ),
        (Some(batch), _) => {
            if !args.spec.is_empty() {
                eprintln!("note: going on with the batch recorded in {} (its settings)", out.display());
            }
            batch
        }
        (None, Some(folder)) => plan(args, folder, interrupted)?,
        (None, None) => bail!(
            "{} on {} holds no batch ({BATCH_JSON}): start one with --batch FOLDER, into a folder every node \
             shares (a node that cannot see it does not share it)",
            out.display(),
            host_name()
        ),
    };
    if args.farm.submit.is_some() && batch.tasks.iter().all(|t| t.seconds == 0.0) {
        // Recorded by a run on one machine: a farm needs the time and memory of a picture.
        let cost = time_a_picture(&batch.spec_of(0))?;
        batch = Batch::new(
            batch.spec_of(0),
            batch.pictures,
            args.tasks.unwrap_or(TASKS),
            cost,
            rayon::current_num_threads(),
        );
        batch.write(out)?;
    }
    if let Some(n) = &args.farm.task {
        return task(&batch, out, task_number(n)?, interrupted);
    }
    if args.farm.status {
        return crate::render_farm::status(out);
    }
    if args.farm.submit.is_some() {
        return submit(args, &batch, interrupted);
    }
    let all = 0..batch.pictures.len();
    let failed = render_pictures(&batch, out, all, interrupted, &mut || Ok(()))?;
    if failed > 0 {
        bail!("{failed} pictures failed (above); run the same command again to retry them");
    }
    Ok(())
}

/// Whether `batch` holds the pictures of `folder`.
fn same_folder(batch: &Batch, folder: &Path) -> bool {
    let folder = std::fs::canonicalize(folder).unwrap_or_else(|_| folder.to_path_buf());
    batch.pictures.first().and_then(|p| p.parent()) == Some(folder.as_path())
}

/// Records a new batch in `out`: the look from the command line, the folder's pictures, and
/// for a farm the time and memory of a picture measured here.
fn plan(args: &RenderArgs, folder: &Path, interrupted: &AtomicBool) -> Result<Batch> {
    if args.spec.content.is_some() {
        bail!("--batch takes the pictures of a folder as the content: leave out --content");
    }
    let pictures = Batch::pictures_of(folder)?;
    let (base, warning) = args.spec.base(crate::spec_args::command_line_default())?;
    if let Some(w) = warning {
        eprintln!("warning: {w}");
    }
    let mut spec = args.spec.apply(base)?;
    spec.content = Some(ImageRef::new(&pictures[0]));
    spec.validate().context("the settings cannot be rendered")?;
    crate::spec_args::ensure_model(&mut spec, interrupted)?;
    for style in spec.styles.iter_mut().chain(spec.init_image.iter_mut()) {
        style.path = crate::render_farm::absolute(&style.path)?;
    }
    // Only a farm needs the time and memory of a picture.
    let cost = match args.farm.submit.is_some() {
        true => time_a_picture(&spec)?,
        false => (0.0, 0),
    };
    let batch = Batch::new(spec, pictures, args.tasks.unwrap_or(TASKS), cost, rayon::current_num_threads());
    batch.write(&args.out)?;
    eprintln!("{} pictures from {} into {}", batch.pictures.len(), folder.display(), args.out.display());
    Ok(batch)
}

/// Seconds and peak memory of a picture at the batch's settings, from a few iterations at
/// full size (each stage counted as if it ran at full size: a limit, not a forecast).
fn time_a_picture(spec: &RenderSpec) -> Result<(f64, u64)> {
    let mut job = Job::new();
    let total = spec.stages().iter().map(|s| s.iterations).sum::<usize>();
    let started = Instant::now();
    if spec.method == Method::Instant {
        job.instant(spec)?;
        return Ok((started.elapsed().as_secs_f64(), peak_memory()));
    }
    let timed = RenderSpec {
        schedule: neural_style_studio::transfer::Schedule { iterations: TIMED + 1, scales: 1, stages: Vec::new() },
        ..spec.clone()
    };
    job.start(timed)?;
    let startup = started.elapsed().as_secs_f64();
    job.step()?;
    let started = Instant::now();
    for _ in 0..TIMED {
        job.step()?;
    }
    let iteration = started.elapsed().as_secs_f64() / TIMED as f64;
    let seconds = startup + total as f64 * iteration;
    eprintln!("a picture takes at most about {} here", duration(seconds));
    Ok((seconds, peak_memory()))
}

fn peak_memory() -> u64 {
    (crate::bench::peak_rss_mib() * 1024.0 * 1024.0) as u64
}

/// Renders the pictures of `range` not yet written, one bar over them; returns how many
/// failed (each said in a line; the others go on). Stopped, it keeps every picture written.
fn render_pictures(
    batch: &Batch,
    out: &Path,
    range: Range<usize>,
    interrupted: &AtomicBool,
    alive: &mut dyn FnMut() -> Result<()>,
) -> Result<usize> {
    let left = batch.left(out, range.clone());
    let done = range.len() - left.len();
    eprintln!("{} pictures, {done} already done", range.len());
    let bar = ProgressBar::new(range.len() as u64 * UNITS);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {percent:>3}% {msg} [{elapsed_precise} < {eta_precise}]")
            .context("progress bar template")?,
    );
    bar.set_position(done as u64 * UNITS);
    bar.reset_eta();
    let mut failed = 0;
    // One job for all: the network is loaded once.
    let mut job = Job::new();
    for (n, &i) in left.iter().enumerate() {
        let base = (done + n) as u64 * UNITS;
        let name = batch.pictures[i].file_name().unwrap_or_default().to_string_lossy().into_owned();
        bar.set_message(name.clone());
        let result = render_one(&mut job, &batch.spec_of(i), &batch.output(out, i), interrupted, &mut |it, total| {
            bar.set_position(base + it as u64 * UNITS / total.max(1) as u64);
            alive()
        });
        match result {
            Ok(true) => bar.set_position(base + UNITS),
            Ok(false) => {
                bar.abandon();
                bail!("stopped: {} of {} pictures are written in {}", done + n, range.len(), out.display());
            }
            Err(e) => {
                failed += 1;
                bar.suspend(|| eprintln!("error: {name}: {e:#}"));
            }
        }
    }
    bar.finish();
    Ok(failed)
}

/// Renders one picture into `to` (written whole or not at all); `Ok(false)` when interrupted.
fn render_one(
    job: &mut Job,
    spec: &RenderSpec,
    to: &Path,
    interrupted: &AtomicBool,
    progress: &mut dyn FnMut(usize, usize) -> Result<()>,
) -> Result<bool> {
    if spec.method == Method::Instant {
        crate::render::write_instant(job, spec, to)?;
        return Ok(true);
    }
    job.start(spec.clone())?;
    while !job.is_finished() {
        if interrupted.load(Ordering::SeqCst) {
            return Ok(false);
        }
        // A fault the run recovers from is not worth a line among a batch's; one that pauses it
        // ends this picture with its message.
        job.step()?;
        progress(job.done(), job.total())?;
    }
    let done = job.done();
    save_png(&job.output()?, to, &job.spec().context("no run")?.png_text(done)?)?;
    Ok(true)
}

/// `--task N`: renders task `n`'s pictures not yet written, holding its lock.
fn task(batch: &Batch, out: &Path, n: usize, interrupted: &AtomicBool) -> Result<()> {
    let range = batch.of_task(n)?;
    let mut lock = TaskLock::acquire(out, n)?;
    let _ = std::fs::remove_file(failed_path(out, n));
    eprintln!("task {n} of {}: pictures {}..{} on {}", batch.tasks.len(), range.start + 1, range.end, host_name());
    let result =
        render_pictures(batch, out, range, interrupted, &mut || Ok(lock.refresh()?)).and_then(|failed| match failed {
            0 => Ok(()),
            _ => bail!("task {n}: {failed} pictures failed"),
        });
    if let Err(e) = &result {
        if !interrupted.load(Ordering::SeqCst) {
            record_failure(out, n, &format!("{e:#}"))?;
        }
    }
    result
}

/// `--submit`: the tasks with pictures left and not running.
fn submit(args: &RenderArgs, batch: &Batch, interrupted: &AtomicBool) -> Result<()> {
    let out = &args.out;
    let left: Vec<usize> = (batch.task_states(out).iter().enumerate())
        .filter(|(_, state)| matches!(state, TaskState::Failed { .. } | TaskState::Left { .. }))
        .map(|(n, _)| n)
        .collect();
    let resources = Resources::for_tasks(left.iter().map(|&n| &batch.tasks[n]), args.farm.cpus_per_task, batch.threads);
    let files = (0..batch.pictures.len()).map(|i| batch.output(out, i)).collect();
    let job = Submission {
        folder: out.clone(),
        command: "render",
        out: out.clone(),
        left,
        tasks: batch.tasks.len(),
        resources,
        assemble: None,
        files: (files, "pictures"),
    };
    crate::farm_submit::submit(job, &args.farm, interrupted)
}
