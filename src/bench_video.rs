//! `bench-video`: flicker and speed of the clip modes on a real clip, each against the same
//! frames stylised independently, in one run. Flicker is the mean warping error of the output
//! (|o_t+1 - warp(o_t)| over the pixels the input clip's flow trusts, 0-255); speed is seconds
//! per frame after the first, and peak memory. A clip read through ffmpeg is also rendered from
//! a folder of the same frames (PNG at the clip's size), to show what reading it costs.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use neural_style_studio::imageio::{fit_long_side, load_rgb, resize, Picture};
use neural_style_studio::transfer::{ImageRef, Job, RenderSpec, SourceImages, VideoMode};
use neural_style_studio::video::clip::ClipReader;
use neural_style_studio::video::render::{ClipEvent, ClipRender};
use neural_style_studio::video::store::{ClipPlan, FrameStore};
use neural_style_studio::video::warp::FlickerMeter;

use crate::bench::peak_rss_mib;
use crate::spec_args::SpecArgs;

/// Arguments of `bench-video`.
#[derive(Debug, Args)]
pub struct BenchVideoArgs {
    /// The settings (--content is the clip, --style the painting; --size 384 is the target's).
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Frames of the clip to render, from the first.
    #[arg(long, default_value_t = 8)]
    pub frames: usize,
    /// Iterations of each later frame in the quality mode [default: 50].
    #[arg(long)]
    pub later_iterations: Option<usize>,
    /// Keep the rendered frames here (one folder per variant) to look at.
    #[arg(long)]
    pub keep: Option<PathBuf>,
    /// Only the fast mode (the quality mode takes minutes).
    #[arg(long)]
    pub fast_only: bool,
}

/// One variant's numbers.
struct Measured {
    name: &'static str,
    first: f64,
    later: f64,
    flicker: f64,
}

/// Runs `bench-video`.
pub fn bench_video(args: &BenchVideoArgs) -> Result<()> {
    let (mut spec, _) = args.spec.to_spec()?;
    spec.video.later_iterations = args.later_iterations.unwrap_or(spec.video.later_iterations);
    let clip = spec.content_path()?.to_path_buf();
    let scratch = tempfile::tempdir().context("a scratch folder")?;
    let root = args.keep.clone().unwrap_or_else(|| scratch.path().to_path_buf());
    let fast = RenderSpec {
        video: neural_style_studio::transfer::VideoOptions { mode: VideoMode::Fast, ..spec.video.clone() },
        ..spec.clone()
    };
    let quality = RenderSpec {
        video: neural_style_studio::transfer::VideoOptions { mode: VideoMode::Quality, ..spec.video.clone() },
        ..spec.clone()
    };
    let still = |s: &RenderSpec| {
        let mut s = s.clone();
        s.objective.temporal_weight = 0.0;
        s
    };
    let mut rows = vec![
        clip_variant("fast, independent", &still(&fast), &clip, args.frames, &root.join("fast-independent"))?,
        clip_variant("fast", &fast, &clip, args.frames, &root.join("fast"))?,
    ];
    let reading = match ClipReader::open(&clip)?.info().about.contains("ffmpeg") {
        true => Some(reading_cost(&fast, &clip, args.frames, &root, &rows[1])?),
        false => None,
    };
    if !args.fast_only {
        rows.push(independent(
            "quality, independent",
            &quality,
            &clip,
            args.frames,
            &root.join("quality-independent"),
        )?);
        rows.push(clip_variant("quality", &quality, &clip, args.frames, &root.join("quality"))?);
    }
    let size = fit_long_side(ClipReader::open(&clip)?.info().size, spec.size);
    println!(
        "clip {} ({} frames at {}x{}), temporal weight {}",
        clip.display(),
        args.frames,
        size.0,
        size.1,
        spec.objective.temporal_weight
    );
    println!(
        "{:<22} {:>9} {:>14} {:>9} {:>14} {:>15}",
        "variant", "first s", "later s/frame", "frames/s", "warping error", "vs independent"
    );
    for pair in rows.chunks(2) {
        for row in pair {
            let ratio = row.flicker / pair[0].flicker;
            println!(
                "{:<22} {:>9.2} {:>14.2} {:>9.2} {:>14.2} {:>15.3}",
                row.name,
                row.first,
                row.later,
                1.0 / row.later,
                row.flicker,
                ratio
            );
        }
    }
    if let Some((folder, through)) = reading {
        println!(
            "fast from a folder of the same frames: {folder:.3} s/frame; read through ffmpeg {through:.3} s/frame ({:+.1}%)",
            100.0 * (through / folder - 1.0)
        );
    }
    println!("peak memory {:.0} MiB", peak_rss_mib());
    Ok(())
}

/// Seconds per later frame of the fast mode from a folder of the clip's first `frames` frames
/// (PNG at the clip's own size), and through ffmpeg (`fast`, measured before), rendered again
/// after the folder so that neither has the machine's caches to itself.
fn reading_cost(fast: &RenderSpec, clip: &Path, frames: usize, root: &Path, measured: &Measured) -> Result<(f64, f64)> {
    let folder = root.join("frames-of-the-clip");
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).with_context(|| format!("cannot make {}", folder.display()))?;
    let mut reader = ClipReader::open(clip)?;
    for n in 1..=frames {
        let Some(frame) = reader.next_frame()? else { break };
        frame.save(folder.join(format!("frame{n:05}.png"))).context("a frame of the folder")?;
    }
    let from_folder = clip_variant("fast, from frames", fast, &folder, frames, &root.join("fast-from-frames"))?;
    let again = clip_variant("fast", fast, clip, frames, &root.join("fast"))?;
    Ok((from_folder.later, 0.5 * (measured.later + again.later)))
}

/// A variant rendered by the clip driver into `folder`.
fn clip_variant(name: &'static str, spec: &RenderSpec, clip: &Path, frames: usize, folder: &Path) -> Result<Measured> {
    // A variant measured before in this folder is replaced; a folder that is not there is fine.
    let _ = std::fs::remove_dir_all(folder);
    let plan = ClipPlan { clip: clip.to_path_buf(), first: 0, end: frames, fps: 0.0, spec: spec.clone() };
    let (mut render, _) = ClipRender::start(folder, plan)?;
    let mut seconds = Vec::new();
    while !render.is_finished() {
        for event in render.step()? {
            if let ClipEvent::Frame { seconds: s, .. } = event {
                seconds.push(s);
            }
        }
    }
    let outputs: Vec<PathBuf> = render.store().frames();
    measured(name, &seconds, clip, spec, &outputs)
}

/// Each frame rendered on its own by the Job, from the spec's start, no temporal term.
fn independent(name: &'static str, spec: &RenderSpec, clip: &Path, frames: usize, folder: &Path) -> Result<Measured> {
    // A variant measured before in this folder is replaced; a folder that is not there is fine.
    let _ = std::fs::remove_dir_all(folder);
    let mut reader = ClipReader::open(clip)?;
    let size = fit_long_side(reader.info().size, spec.size);
    reader.scale_to(size);
    let store = FrameStore::create(
        folder,
        ClipPlan { clip: clip.to_path_buf(), first: 0, end: frames, fps: reader.info().fps, spec: spec.clone() },
    )?;
    let mut job = Job::new();
    let mut sources: Option<SourceImages> = None;
    let mut seconds = Vec::new();
    for index in 0..frames {
        let Some(frame) = reader.next_frame()? else { break };
        let started = Instant::now();
        let frame = resize(&frame, size);
        let s = match &sources {
            Some(s) => s.with_content(frame, ImageRef::new(clip)),
            None => SourceImages::around(Picture { rgb: frame, alpha: None }, ImageRef::new(clip), spec)?,
        };
        sources = Some(s.clone());
        job.start_frame(spec.clone(), Arc::new(s), None)?;
        while !job.is_finished() {
            job.step()?;
        }
        store.save(index, &job.output()?.to_rgb8())?;
        seconds.push(started.elapsed().as_secs_f64());
    }
    measured(name, &seconds, clip, spec, &store.frames())
}

fn measured(
    name: &'static str,
    seconds: &[f64],
    clip: &Path,
    spec: &RenderSpec,
    outputs: &[PathBuf],
) -> Result<Measured> {
    let mut reader = ClipReader::open(clip)?;
    let size = fit_long_side(reader.info().size, spec.size);
    reader.scale_to(size);
    let mut meter = FlickerMeter::new();
    for output in outputs {
        let input = reader.next_frame()?.context("the clip ended")?;
        meter.push(&resize(&input, size), &load_rgb(output)?);
    }
    let later = &seconds[1.min(seconds.len())..];
    Ok(Measured {
        name,
        first: seconds.first().copied().unwrap_or(0.0),
        later: later.iter().sum::<f64>() / later.len().max(1) as f64,
        flicker: meter.mean().context("fewer than two frames")?,
    })
}
