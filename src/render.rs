//! `render`: optimise (optionally coarse-to-fine), show progress, write the PNG and a JSON log.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use neural_style_studio::imageio::save_png;
use neural_style_studio::model::{default_device, device_name};
use neural_style_studio::transfer::{
    available_memory, build_stepper, carry_over, coarse_to_fine, fit_in_memory, SourceImages, TargetCache,
};

use crate::bench::median;
use crate::cli::{deepest_tap, RenderArgs};

#[derive(serde::Serialize)]
struct IterationLog {
    iter: usize,
    total: f64,
    content: f64,
    style: f64,
    tv: f64,
    seconds: f64,
    /// Long side of the stage the iteration ran at.
    stage: u32,
    /// Wall time since the start of the first stage (includes target computation).
    elapsed: f64,
}

#[derive(serde::Serialize)]
struct RunLog<'a> {
    size: [u32; 2],
    device: &'a str,
    iterations: &'a [IterationLog],
}

/// Runs `render`.
pub fn render(args: &RenderArgs) -> Result<()> {
    let spec = args.settings.to_spec()?;
    let device = default_device();
    let sources = SourceImages::load(&spec)?;
    let net = Arc::new(spec.weights.load(deepest_tap(&spec.objective), &device)?);
    let mut spec = spec;
    let plan = fit_in_memory(&mut spec, sources.content.dimensions(), &net.config(), available_memory())?;
    if let Some(note) = &plan.note {
        eprintln!("note: {note}");
    }
    let mut cache = TargetCache::new();
    let stages = coarse_to_fine(spec.size, args.scales, args.iters);
    let total: usize = stages.iter().map(|s| s.iterations).sum();
    let plan: Vec<String> = stages.iter().map(|s| format!("{}px x{}", s.size, s.iterations)).collect();
    eprintln!(
        "{} on {}, {}: {}",
        spec.run.optimizer.name(),
        device_name(&device),
        spec.content.display(),
        plan.join(" -> ")
    );
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} [{elapsed_precise} < {eta_precise}]")
            .context("progress bar template")?,
    );
    let start = Instant::now();
    let mut log = Vec::with_capacity(total + 1);
    let mut done = 0;
    let mut stepper: Option<neural_style_studio::transfer::Stepper> = None;
    for stage in &stages {
        let stage_spec = neural_style_studio::transfer::RenderSpec { size: stage.size, ..spec.clone() };
        let mut s = build_stepper(&stage_spec, &sources, net.clone(), &mut cache)?;
        if let Some(previous) = stepper.take() {
            carry_over(&previous, &mut s)?;
        }
        for _ in 0..stage.iterations {
            let r = s.step().with_context(|| format!("iteration {done}"))?;
            let l = &r.losses;
            bar.set_message(format!("{}px loss {:.4e} {:.2} it/s", stage.size, l.total, 1.0 / r.seconds));
            bar.inc(1);
            log.push(IterationLog {
                iter: done,
                total: l.total,
                content: l.content,
                style: l.style,
                tv: l.tv,
                seconds: r.seconds,
                stage: stage.size,
                elapsed: start.elapsed().as_secs_f64(),
            });
            done += 1;
            if args.save_every.is_some_and(|n| n > 0 && done % n == 0 && done < total) {
                save_png(&sources.output(s.image()?), &numbered(&args.out, done), &stage_spec.png_text(done))?;
            }
        }
        stepper = Some(s);
    }
    bar.finish();
    let stepper = stepper.context("no stage to run")?;
    let (w, h) = stepper.size();
    let final_losses = stepper.losses()?;
    log.push(IterationLog {
        iter: done,
        total: final_losses.total,
        content: final_losses.content,
        style: final_losses.style,
        tv: final_losses.tv,
        seconds: 0.0,
        stage: spec.size,
        elapsed: start.elapsed().as_secs_f64(),
    });
    save_png(&sources.output(stepper.image()?), &args.out, &spec.png_text(done))?;
    if let Some(json) = &args.json {
        let run = RunLog { size: [w, h], device: device_name(&device), iterations: &log };
        std::fs::write(json, serde_json::to_string_pretty(&run)?)
            .with_context(|| format!("cannot write {}", json.display()))?;
    }
    let full: Vec<f64> =
        log.iter().filter(|l| l.stage == spec.size && l.seconds > 0.0).skip(1).map(|l| l.seconds).collect();
    eprintln!(
        "wrote {} ({w}x{h}): loss {:.4} (content {:.4}, style {:.5}) after {done} iterations in {:.1}s, median {:.3} s/iter at full size",
        args.out.display(),
        final_losses.total,
        final_losses.content,
        final_losses.style,
        start.elapsed().as_secs_f64(),
        median(&full)
    );
    Ok(())
}

fn numbered(out: &Path, iteration: usize) -> PathBuf {
    let stem = out.file_stem().map_or_else(|| "out".into(), |s| s.to_string_lossy().into_owned());
    out.with_file_name(format!("{stem}_{iteration:04}.png"))
}
