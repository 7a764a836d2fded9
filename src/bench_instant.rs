//! `bench-instant`: seconds of the instant look's two networks (the style network once per
//! painting, the transformer once per picture) at given sizes, printed as a table (and JSON).
//! benches/compare_onnx.sh runs onnxruntime on the same sizes for the ratio.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use neural_style_studio::imageio::{fit_long_side, load_rgb, resize, to_unit_tensor};
use neural_style_studio::model::instant::{InstantNet, STYLE_SIDE};
use neural_style_studio::model::{default_device, device_name};

use crate::bench::{median, peak_rss_mib, test_painting, test_photo};

/// Arguments of `bench-instant`.
#[derive(Debug, Args)]
pub struct BenchInstantArgs {
    /// Picture sizes (width x height is the content's aspect at this long side), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "384,512,1024")]
    pub size: Vec<u32>,
    /// Timed passes per size (after one untimed).
    #[arg(long, default_value_t = 5)]
    pub iters: usize,
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
struct Timing {
    size: [u32; 2],
    median_s: f64,
    min_s: f64,
}

/// Runs the benchmark.
pub fn bench_instant(args: &BenchInstantArgs) -> Result<()> {
    let device = default_device();
    let t = Instant::now();
    let net = InstantNet::embedded(&device)?;
    println!(
        "device {}, {} threads; networks loaded in {:.3}s",
        device_name(&device),
        rayon::current_num_threads(),
        t.elapsed().as_secs_f64()
    );
    let photo = args.content.as_deref().map(load_rgb).transpose()?.unwrap_or_else(|| test_photo(1024, 768));
    let painting = args.style.as_deref().map(load_rgb).transpose()?.unwrap_or_else(|| test_painting(1024, 1024));
    let side = STYLE_SIDE as u32;
    let style = to_unit_tensor(&resize(&painting, (side, side)), &device)?;
    let timed = |f: &dyn Fn() -> Result<()>| -> Result<Vec<f64>> {
        f()?;
        (0..args.iters)
            .map(|_| {
                let t = Instant::now();
                f()?;
                Ok(t.elapsed().as_secs_f64())
            })
            .collect()
    };
    let secs = timed(&|| {
        net.style_vector(&style)?;
        Ok(())
    })?;
    let stats = |size: [u32; 2], secs: &[f64]| Timing {
        size,
        median_s: median(secs),
        min_s: secs.iter().copied().fold(f64::INFINITY, f64::min),
    };
    let style_timing = stats([side, side], &secs);
    println!("{:>11} {:>9} {:>8} {:>8}", "pass", "size", "median s", "min s");
    println!(
        "{:>11} {:>9} {:>8.3} {:>8.3}",
        "style",
        format!("{side}x{side}"),
        style_timing.median_s,
        style_timing.min_s
    );
    let vector = net.style_vector(&style)?;
    let mut paints = Vec::new();
    for &size in &args.size {
        let (w, h) = fit_long_side(photo.dimensions(), size);
        let input = to_unit_tensor(&resize(&photo, (w, h)), &device)?;
        let secs = timed(&|| {
            net.paint(&input, &vector)?;
            Ok(())
        })?;
        let t = stats([w, h], &secs);
        println!("{:>11} {:>9} {:>8.3} {:>8.3}", "transformer", format!("{w}x{h}"), t.median_s, t.min_s);
        paints.push(t);
    }
    println!("peak RSS {:.0} MiB", peak_rss_mib());
    if let Some(path) = &args.json {
        let json = serde_json::json!({ "style": style_timing, "transformer": paints });
        std::fs::write(path, serde_json::to_string_pretty(&json)?)?;
    }
    Ok(())
}
