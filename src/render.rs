//! `render`: drive a [`Job`] to the end, show progress, write the PNG and a JSON log.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use neural_style_studio::error::Error;
use neural_style_studio::imageio::save_png;
use neural_style_studio::model::device_name;
use neural_style_studio::transfer::{Event, Job, Losses, Method, RenderSpec};

use crate::bench::median;
use crate::cli::RenderArgs;

#[derive(serde::Serialize)]
struct IterationLog {
    iter: usize,
    total: f64,
    /// Each kind of term's value (content, style, tv, ...).
    #[serde(flatten)]
    kinds: BTreeMap<&'static str, f64>,
    /// Whether the evaluated image was kept (false: the line search stepped back; the losses
    /// are those of the image kept).
    accepted: bool,
    seconds: f64,
    /// Long side of the stage the iteration ran at.
    stage: u32,
    /// Wall time since the start of the first stage (includes target computation).
    elapsed: f64,
}

impl IterationLog {
    fn new(iter: usize, l: &Losses, accepted: bool, seconds: f64, stage: u32, elapsed: f64) -> Self {
        IterationLog {
            iter,
            total: l.total,
            kinds: l.kinds().into_iter().map(|k| (k, l.of(k))).collect(),
            accepted,
            seconds,
            stage,
            elapsed,
        }
    }
}

#[derive(serde::Serialize)]
struct RunLog<'a> {
    size: [u32; 2],
    device: &'a str,
    iterations: &'a [IterationLog],
}

/// Runs `render`.
pub fn render(args: &RenderArgs) -> Result<()> {
    // Ctrl+C (or a scheduler's SIGTERM) ends the render between iterations and keeps what is
    // done (see below).
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = interrupted.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst)).context("cannot watch for Ctrl+C")?;
    if args.batch.is_some() || args.farm.is_farm() {
        return crate::render_batch::batch(args, &interrupted);
    }
    let (mut spec, warning) = args.spec.to_spec()?;
    if let Some(w) = warning {
        eprintln!("warning: {w}");
    }
    if spec.method == Method::Instant {
        return render_instant(&spec, args);
    }
    crate::spec_args::ensure_model(&mut spec, &interrupted)?;
    let start = Instant::now();
    let mut job = Job::new();
    for note in job.start(spec)? {
        eprintln!("note: {note}");
    }
    let spec = job.spec().context("the job did not start")?.clone();
    let device = job.net().map_or("CPU", |n| device_name(n.device()));
    let stages = job.stages().0.to_vec();
    let plan: Vec<String> = stages.iter().map(|s| format!("{}px x{}", s.size, s.iterations)).collect();
    eprintln!("{} on {device}, {}: {}", spec.run.optimizer.name(), spec.content_path()?.display(), plan.join(" -> "));
    let total = job.total();
    // The bar counts work, not iterations, so that its ETA holds across stages: an iteration
    // costs about its stage's pixel count (a 1024 px iteration four of a 512 px one).
    let cost = |size: u32| (u64::from(size) * u64::from(size)).div_ceil(4096).max(1);
    let n_stages = stages.len();
    let bar = ProgressBar::new(stages.iter().map(|s| s.iterations as u64 * cost(s.size)).sum());
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {percent:>3}% {msg} [{elapsed_precise} < {eta_precise}]")
            .context("progress bar template")?,
    );
    let mut log = Vec::with_capacity(total + 1);
    let mut stopped = false;
    while !job.is_finished() {
        if interrupted.load(Ordering::SeqCst) {
            // A stage cut short is a worse picture than the stage before it finished: keep that.
            bar.abandon();
            job.cancel_stage()?;
            stopped = true;
            break;
        }
        let (mut stage, mut index) = (job.stage_size(), job.stages().1 + 1);
        let events = match job.step() {
            Err(e @ Error::Paused(_)) => {
                bar.abandon();
                let done = job.done();
                save_png(&job.output()?, &args.out, &job.spec().context("no run")?.png_text(done)?)?;
                bail!("{e}; wrote it (iteration {done}) to {} to render again from", args.out.display());
            }
            events => events?,
        };
        for event in events {
            match event {
                Event::Stepped(r) => {
                    let l = &r.losses;
                    bar.set_message(format!(
                        "iteration {}/{total}, stage {index}/{n_stages} at {stage}px, loss {:.4e}, {:.2} s/it",
                        r.iteration + 1,
                        l.total,
                        r.seconds
                    ));
                    bar.inc(cost(stage));
                    let elapsed = start.elapsed().as_secs_f64();
                    log.push(IterationLog::new(r.iteration, l, r.accepted, r.seconds, stage, elapsed));
                    let done = r.iteration + 1;
                    if args.save_every.is_some_and(|n| n > 0 && done % n == 0 && done < total) {
                        let text = job.spec().context("no run")?.png_text(done)?;
                        save_png(&job.output()?, &numbered(&args.out, done), &text)?;
                    }
                }
                // `suspend`, not `println`: the bar hides println when stderr is not a terminal.
                Event::StageChanged { index: i, size } => {
                    (stage, index) = (size, i + 1);
                    bar.suspend(|| eprintln!("stage: {size} px"));
                }
                Event::Fault(fault) => bar.suspend(|| eprintln!("warning: {fault}.")),
                Event::Finished => {}
            }
        }
    }
    if !stopped {
        bar.finish();
    }
    let done = job.done();
    let final_losses = job.losses()?;
    let output = job.output()?;
    let (w, h) = (output.width(), output.height());
    log.push(IterationLog::new(done, &final_losses, true, 0.0, job.stage_size(), start.elapsed().as_secs_f64()));
    save_png(&output, &args.out, &job.spec().context("no run")?.png_text(done)?)?;
    if let Some(json) = &args.json {
        let run = RunLog { size: [w, h], device, iterations: &log };
        std::fs::write(json, serde_json::to_string_pretty(&run)?)
            .with_context(|| format!("cannot write {}", json.display()))?;
    }
    if stopped {
        bail!(
            "interrupted: wrote the last finished stage ({w}x{h}, {done} iterations, loss {:.4}) to {}",
            final_losses.total,
            args.out.display()
        );
    }
    let full: Vec<f64> =
        log.iter().filter(|l| l.stage == spec.size && l.seconds > 0.0).skip(1).map(|l| l.seconds).collect();
    eprintln!(
        "wrote {} ({w}x{h}): loss {:.4} (content {:.4}, style {:.5}) after {done} iterations in {:.1}s, median {:.3} s/iter at full size",
        args.out.display(),
        final_losses.total,
        final_losses.content(),
        final_losses.style(),
        start.elapsed().as_secs_f64(),
        median(&full)
    );
    Ok(())
}

/// `render --method instant`: the feed-forward picture, written with settings that say so.
fn render_instant(spec: &RenderSpec, args: &RenderArgs) -> Result<()> {
    let start = Instant::now();
    let output = write_instant(&mut Job::new(), spec, &args.out)?;
    let seconds = start.elapsed().as_secs_f64();
    if let Some(json) = &args.json {
        let run =
            serde_json::json!({ "size": [output.width(), output.height()], "method": "instant", "seconds": seconds });
        std::fs::write(json, serde_json::to_string_pretty(&run)?)
            .with_context(|| format!("cannot write {}", json.display()))?;
    }
    eprintln!(
        "wrote {} ({}x{}): the instant look (strength {}) in {seconds:.2}s",
        args.out.display(),
        output.width(),
        output.height(),
        spec.instant.strength
    );
    Ok(())
}

/// Paints `spec`'s instant look and writes it to `to` with settings that name the images
/// used; returns the picture.
pub(crate) fn write_instant(job: &mut Job, spec: &RenderSpec, to: &Path) -> Result<image::DynamicImage> {
    let output = job.instant(spec)?;
    let sources = job.sources(spec)?;
    let stored =
        RenderSpec { content: Some(sources.content_ref.clone()), styles: sources.style_refs.clone(), ..spec.clone() };
    save_png(&output, to, &stored.png_text(0)?)?;
    Ok(output)
}

fn numbered(out: &Path, iteration: usize) -> PathBuf {
    let stem = out.file_stem().map_or_else(|| "out".into(), |s| s.to_string_lossy().into_owned());
    out.with_file_name(format!("{stem}_{iteration:04}.png"))
}
