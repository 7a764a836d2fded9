//! `bench`: seconds per iteration of the real engine, with FLOP rates and memory, printed as a
//! table (and optionally JSON). Timings stay out of tests; this is the command that measures.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use clap::Args;
use image::{Rgb, RgbImage};
use neural_style_studio::imageio::{fit_long_side, load_rgb, resize};
use neural_style_studio::model::{default_device, device_name, Tap, WeightsSource};
use neural_style_studio::transfer::{Objective, OptimizerKind, PreparedImage, RunSettings, Stepper, TargetCache};

use crate::spec_args::{parse_term_weight, OptimizerArg, StyleLossArg};

/// Arguments of `bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Long sides to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "256,512")]
    pub size: Vec<u32>,
    /// Timed iterations per size (after the warm-up).
    #[arg(long, default_value_t = 10)]
    pub iters: usize,
    /// Untimed iterations first.
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// Optimiser.
    #[arg(long, value_enum, default_value_t = OptimizerArg::Lbfgs)]
    pub optimizer: OptimizerArg,
    /// Measure the classic unbounded optimiser (no projection, no line search).
    #[arg(long)]
    pub unbounded: bool,
    /// Print the breakdown: forward, losses and Grams, backward, the rest (optimiser).
    #[arg(long)]
    pub part: bool,
    /// Use the generic candle path (what GPUs run) instead of the CPU fast path.
    #[arg(long)]
    pub generic: bool,
    /// Evaluate in tiles of this side (exact tiled evaluation, as a print too large to run whole).
    #[arg(long)]
    pub tile: Option<u32>,
    /// With --tile: MiB the tiled evaluation may spend keeping tiles' activations from its first
    /// pass to its second (a render gives it what its memory plan leaves; 0 keeps only the last
    /// tile's, as under a tight budget).
    #[arg(long, default_value_t = 0)]
    pub tile_cache: u64,
    /// The style loss measured (the Rich look's is sliced).
    #[arg(long, value_enum, default_value_t = StyleLossArg::Gram)]
    pub style_loss: StyleLossArg,
    /// A further loss term's weight by name, repeatable: photo=100000 measures the Photo look's
    /// photorealism term beside the others.
    #[arg(long, value_name = "NAME=WEIGHT", value_parser = parse_term_weight)]
    pub term_weight: Vec<(String, f64)>,
    /// Content image (default: a generated 4:3 test picture).
    #[arg(long)]
    pub content: Option<PathBuf>,
    /// Style image (default: a generated pattern).
    #[arg(long)]
    pub style: Option<PathBuf>,
    /// Write the results as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(Debug, serde::Serialize)]
struct SizeResult {
    size: [u32; 2],
    median_s: f64,
    min_s: f64,
    gflop_per_iter: f64,
    gflops_median: f64,
    gflops_best: f64,
    peak_rss_mib: f64,
    forward_s: f64,
    losses_s: f64,
    backward_s: f64,
    rest_s: f64,
}

/// Runs the benchmark.
pub fn bench(args: &BenchArgs) -> Result<()> {
    let device = default_device();
    let mut net = WeightsSource::Embedded.load(Tap::new(5, 1), &device)?;
    net.set_fast_path(!args.generic);
    let path = if net.uses_fast_path() { "cpu-fast" } else { "generic" };
    let net = Arc::new(net);
    let threads = rayon::current_num_threads();
    println!(
        "device {} ({path}), {threads} threads, {} warm-up + {} timed iterations",
        device_name(&device),
        args.warmup,
        args.iters
    );
    if let Some(tile) = args.tile {
        println!("tiles of {tile} px, {} MiB for activations kept between the passes", args.tile_cache);
    }
    println!(
        "{:>9} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9}",
        "size", "median s", "min s", "GFLOP", "GFLOP/s", "best", "RSS MiB"
    );
    let photo = match &args.content {
        Some(p) => load_rgb(p)?,
        None => test_photo(1024, 768),
    };
    let painting = match &args.style {
        Some(p) => load_rgb(p)?,
        None => test_painting(1024, 1024),
    };
    let mut results = Vec::new();
    for &size in &args.size {
        let dims = fit_long_side(photo.dimensions(), size);
        let content = PreparedImage::new(resize(&photo, dims), &net)?;
        let style = PreparedImage::new(resize(&painting, fit_long_side(painting.dimensions(), size)), &net)?;
        let kind = OptimizerKind::from(args.optimizer);
        let weights = args.term_weight.iter().cloned().collect();
        let objective = Objective { style_loss: args.style_loss.into(), weights, ..Objective::default() };
        let settings = RunSettings {
            optimizer: kind,
            lr: kind.default_lr(),
            unbounded: args.unbounded,
            tile: args.tile,
            ..RunSettings::default()
        };
        let mut stepper =
            Stepper::new(net.clone(), content, vec![style], objective.clone(), &settings, &mut TargetCache::new())?;
        stepper.set_tile_cache(args.tile_cache << 20);
        for _ in 0..args.warmup {
            stepper.step()?;
        }
        let reports = (0..args.iters).map(|_| stepper.step()).collect::<Result<Vec<_>, _>>()?;
        let secs: Vec<f64> = reports.iter().map(|r| r.seconds).collect();
        let med = |f: &dyn Fn(&neural_style_studio::transfer::StepReport) -> f64| {
            median(&reports.iter().map(f).collect::<Vec<_>>())
        };
        let gflop = 2.0 * net.forward_flops(dims.0 as usize, dims.1 as usize) / 1e9;
        let (median_s, min_s) = (median(&secs), secs.iter().copied().fold(f64::INFINITY, f64::min));
        let r = SizeResult {
            size: [dims.0, dims.1],
            median_s,
            min_s,
            gflop_per_iter: gflop,
            gflops_median: gflop / median_s,
            gflops_best: gflop / min_s,
            peak_rss_mib: peak_rss_mib(),
            forward_s: med(&|r| r.phases.forward),
            losses_s: med(&|r| r.phases.losses),
            backward_s: med(&|r| r.phases.backward),
            rest_s: med(&|r| r.seconds - r.phases.forward - r.phases.losses - r.phases.backward),
        };
        println!(
            "{:>9} {:>8.3} {:>8.3} {:>8.1} {:>9.1} {:>9.1} {:>9.0}",
            format!("{}x{}", dims.0, dims.1),
            r.median_s,
            r.min_s,
            r.gflop_per_iter,
            r.gflops_median,
            r.gflops_best,
            r.peak_rss_mib
        );
        if args.part {
            println!(
                "          forward {:.3}  losses+Gram {:.3}  backward {:.3}  rest (optimiser) {:.3}",
                r.forward_s, r.losses_s, r.backward_s, r.rest_s
            );
        }
        results.push(r);
    }
    if let Some(json) = &args.json {
        let doc =
            serde_json::json!({ "device": device_name(&device), "path": path, "threads": threads, "results": results });
        std::fs::write(json, serde_json::to_string_pretty(&doc)?)?;
    }
    Ok(())
}

/// Median of `v` (the upper one for even lengths); 0 when empty.
pub(crate) fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s.get(s.len() / 2).copied().unwrap_or(0.0)
}

/// Peak resident memory of this process (VmHWM), in MiB; 0 where /proc is unavailable.
pub(crate) fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}

/// A smooth photo-like test picture (gradients and shapes).
pub(crate) fn test_photo(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
        let grain = (((x * 7 + y * 13) % 17) as f32 - 8.0) * 2.0;
        let v = |a: f32| (a + grain).clamp(0.0, 255.0) as u8;
        if ((fx - 0.6).powi(2) + (fy - 0.4).powi(2)).sqrt() < 0.2 {
            Rgb([v(40.0), v(60.0), v(30.0)])
        } else if fy > 0.7 {
            Rgb([v(90.0), v(120.0 + 60.0 * fx), v(60.0)])
        } else {
            Rgb([v(120.0 + 100.0 * fy), v(160.0 + 60.0 * fy), v(230.0)])
        }
    })
}

/// A stroke-like test pattern.
pub(crate) fn test_painting(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let t = (x as f32 * 0.05 + (y as f32 * 0.03).sin() * 4.0).sin();
        let u = (y as f32 * 0.04 + (x as f32 * 0.02).cos() * 3.0).cos();
        Rgb([(128.0 + 100.0 * t) as u8, (128.0 + 90.0 * u) as u8, (150.0 + 80.0 * t * u) as u8])
    })
}
