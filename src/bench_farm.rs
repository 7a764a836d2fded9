//! `bench-farm`: what spreading a clip over tasks costs and gives, on this machine, in one run.
//! Throughput: the same frames as two tasks of one thread each running side by side, against
//! one task of two threads. Seams: a shot cut into two chunks with 0, 2 and 4 frames of
//! pre-roll, the warping error between the chunks' frames at the seam against the mean between
//! frames inside them (and the same pair in one task). Each task is this program run as a farm
//! runs it (`render-video --out OUT --task N`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use neural_style_studio::imageio::{fit_long_side, load_rgb, resize};
use neural_style_studio::video::clip::ClipReader;
use neural_style_studio::video::flow::{FlowParams, Gray};
use neural_style_studio::video::store::FrameStore;
use neural_style_studio::video::warp::{carry, warping_error};

/// Arguments of `bench-farm`.
#[derive(Debug, Args)]
pub struct BenchFarmArgs {
    /// The clip (one shot over the frames measured).
    #[arg(long)]
    pub content: PathBuf,
    /// The painting.
    #[arg(long)]
    pub style: PathBuf,
    /// Long side of the frames.
    #[arg(long, default_value_t = 256)]
    pub size: u32,
    /// Frames measured, from the first (two chunks of half each).
    #[arg(long, default_value_t = 16)]
    pub frames: usize,
    /// Iterations of each frame after a chunk's first.
    #[arg(long, default_value_t = 20)]
    pub later_iterations: usize,
    /// Iterations of a chunk's first frame.
    #[arg(long, default_value_t = 100)]
    pub iters: usize,
    /// Pre-roll frames tried at the seam.
    #[arg(long, value_delimiter = ',', default_value = "0,2,4")]
    pub prerolls: Vec<usize>,
}

/// Runs `bench-farm`.
pub fn bench_farm(args: &BenchFarmArgs) -> Result<()> {
    let scratch = tempfile::tempdir().context("a scratch folder")?;
    let half = args.frames / 2;
    if half < 2 {
        bail!("--frames must be at least 4 (two chunks of two)");
    }
    println!(
        "{} frames at {} px, Quality, {} iterations after a chunk's first",
        args.frames, args.size, args.later_iterations
    );
    // Throughput: one task of two threads, then two tasks of one thread side by side.
    let one = scratch.path().join("one.mp4");
    plan(args, &one, None, 0)?;
    let seconds = timed(|| Ok(vec![task(&one, 0, 2)?]))?;
    println!("one task, 2 threads: {:.2} frames/min", args.frames as f64 * 60.0 / seconds);
    let mut seams = Vec::new();
    for &preroll in &args.prerolls {
        let out = scratch.path().join(format!("preroll{preroll}.mp4"));
        plan(args, &out, Some(half), preroll)?;
        let seconds = timed(|| Ok(vec![task(&out, 0, 1)?, task(&out, 1, 1)?]))?;
        if preroll == 0 {
            println!("two tasks, 1 thread each: {:.2} frames/min", args.frames as f64 * 60.0 / seconds);
        }
        seams.push((preroll, errors(args, &out)?));
    }
    let whole = errors(args, &one)?;
    let inside = |e: &[f64]| (e.iter().sum::<f64>() - e[half - 1]) / (e.len() - 1) as f64;
    println!("warping error (0-255) between frames {half} and {}, against the mean between others:", half + 1);
    println!("  one task:    {:.2} against {:.2}", whole[half - 1], inside(&whole));
    for (preroll, e) in seams {
        println!(
            "  pre-roll {preroll}: {:.2} against {:.2} ({:.2}x)",
            e[half - 1],
            inside(&e),
            e[half - 1] / inside(&e)
        );
    }
    Ok(())
}

/// Writes the plan of the first `args.frames` frames into `out`'s frames folder.
fn plan(args: &BenchFarmArgs, out: &Path, chunk: Option<usize>, preroll: usize) -> Result<()> {
    let mut cmd = own();
    cmd.args(["render-video", "--content"]).arg(&args.content).arg("--style").arg(&args.style);
    cmd.args(["--size", &args.size.to_string(), "--iters", &args.iters.to_string(), "--mode", "quality"]);
    cmd.args(["--later-iterations", &args.later_iterations.to_string(), "--frames", &format!("1..{}", args.frames)]);
    cmd.arg("--out").arg(out).args(["--plan", "--preroll", &preroll.to_string()]);
    if let Some(chunk) = chunk {
        cmd.args(["--chunk", &chunk.to_string()]);
    }
    let status = cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).status()?;
    if !status.success() {
        bail!("the plan into {} failed", out.display());
    }
    Ok(())
}

fn task(out: &Path, n: usize, threads: usize) -> Result<Child> {
    let mut cmd = own();
    cmd.env("RAYON_NUM_THREADS", threads.to_string()).arg("render-video").arg("--out").arg(out);
    cmd.args(["--task", &n.to_string()]).stderr(std::process::Stdio::null());
    cmd.spawn().context("cannot start a task")
}

/// Seconds from starting the tasks until every one has ended (each must succeed).
fn timed(start: impl FnOnce() -> Result<Vec<Child>>) -> Result<f64> {
    let started = Instant::now();
    let mut children = start()?;
    for child in &mut children {
        if !child.wait()?.success() {
            bail!("a task failed");
        }
    }
    Ok(started.elapsed().as_secs_f64())
}

/// The warping error of each consecutive pair of the frames in `out`'s frames folder.
fn errors(args: &BenchFarmArgs, out: &Path) -> Result<Vec<f64>> {
    let folder = PathBuf::from(format!("{}.frames", out.display()));
    let store = FrameStore::open(&folder)?;
    let mut reader = ClipReader::open(&args.content)?;
    let size = fit_long_side(reader.info().size, args.size);
    reader.scale_to(size);
    let mut previous: Option<(Gray, image::RgbImage)> = None;
    let mut errors = Vec::new();
    for i in 0..args.frames {
        let input = resize(&reader.next_frame()?.context("the clip ended")?, size);
        let output = load_rgb(&store.path(i))?;
        let grey = Gray::from_rgb(&input);
        if let Some((before, last)) = &previous {
            let (warped, reliable) = carry(before, &grey, last, &FlowParams::default());
            errors.push(warping_error(&output, &warped, &reliable).context("no pixel of the pair is trusted")?);
        }
        previous = Some((grey, output));
    }
    Ok(errors)
}

fn own() -> Command {
    Command::new(std::env::current_exe().unwrap_or_else(|_| PathBuf::from("neural-style-studio")))
}
