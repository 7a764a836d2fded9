//! Command-line interface: `render` (headless batch render), `score`, `sheet` and the
//! benchmarks; without a subcommand the app opens. Each reads the render's options as
//! [`SpecArgs`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::spec_args::SpecArgs;

/// Neural style transfer: blend the content of one picture with the style of another.
#[derive(Debug, Parser)]
#[command(name = "neural-style-studio", version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do; without one the app opens.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Settings to open the app with (they replace the remembered ones).
    #[command(flatten)]
    pub app: AppArgs,
}

/// The app's own command line.
#[derive(Debug, Clone, Default, Args)]
pub struct AppArgs {
    /// Settings to apply over the remembered ones.
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Start rendering as soon as the window opens.
    #[arg(long)]
    pub start: bool,
    /// The ffmpeg program that reads and writes clips (a file or its folder; `none`: the
    /// built-in readers only) [default: NSS_FFMPEG, else ffmpeg on the PATH].
    #[arg(long, value_name = "PATH")]
    pub ffmpeg: Option<String>,
    /// Files to open: a photo (the content), further pictures (styles), settings (a JSON
    /// file or a PNG exported here) or a clip. With a window already open, they go to it.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Open a window of its own even when one is open already.
    #[arg(long)]
    pub new_window: bool,
    /// How much goes into the log (a file a day under the data folder's logs/): error, warn,
    /// info, debug or trace.
    #[arg(long, value_name = "LEVEL", default_value = "info")]
    pub log_level: String,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render a stylised image headlessly.
    Render(Box<RenderArgs>),
    /// Measure seconds per iteration, GFLOP/s and memory of the engine.
    Bench(crate::bench::BenchArgs),
    /// Measure the instant look's networks (seconds per pass at each size).
    BenchInstant(crate::bench_instant::BenchInstantArgs),
    /// Print the losses of any image under given settings (total, content, style, TV and the
    /// unweighted style loss of each layer).
    Score(Box<ScoreArgs>),
    /// Render a contact sheet: contents x styles, or styles x presets, each cell small.
    Sheet(crate::sheet::SheetArgs),
    /// Measure flicker and speed of the clip modes against independent frames.
    BenchVideo(Box<crate::bench_video::BenchVideoArgs>),
    /// Measure a clip spread over tasks: two tasks of one thread against one of two, and the
    /// seam between two chunks of a shot with several pre-rolls.
    BenchFarm(Box<crate::bench_farm::BenchFarmArgs>),
    /// Stylise a clip (any video ffmpeg reads, animated GIF, APNG or WebP, or a folder of
    /// frames) without flicker.
    RenderVideo(Box<RenderVideoArgs>),
}

/// Arguments of `render-video`.
#[derive(Debug, Args)]
pub struct RenderVideoArgs {
    /// The render's settings; --content is the clip (a file or a folder of numbered frames).
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Output: an .mp4, .mov, .webm or .mkv (through ffmpeg; an .mp4 without), a .gif, an
    /// animated .png, or a folder of frames. Frames are written as they
    /// finish into OUT.frames/ (or into the folder itself), which --resume continues.
    #[arg(short, long, default_value = "out.gif")]
    pub out: PathBuf,
    /// Quality (optimised frames) or fast (the instant look per frame).
    #[arg(long, value_enum)]
    pub mode: Option<crate::spec_args::VideoModeArg>,
    /// Iterations of each frame after the first, in the quality mode [default: 50].
    #[arg(long)]
    pub later_iterations: Option<usize>,
    /// The frames to render, numbered from 1, as A..B (both included), A.. or ..B.
    #[arg(long)]
    pub frames: Option<String>,
    /// The clip is meant to repeat (a GIF): its first frames are rendered again after the last,
    /// joined to it, so the wrap from the last frame to the first does not jump.
    #[arg(long = "loop")]
    pub looped: bool,
    /// Go on with the render whose frames are in the output's frames folder, with the settings
    /// it began with.
    #[arg(long)]
    pub resume: bool,
    /// Print the clip's shots (`shot N: frames A..B`, from 1, both included) and what tells
    /// each cut, then stop; nothing is rendered.
    #[arg(long)]
    pub list_shots: bool,
    /// Print the time and disk the render would take on this machine, then stop (the estimate
    /// is printed before every render too).
    #[arg(long)]
    pub estimate: bool,
    /// Choose the iterations of each frame after a shot's first (quality mode) so that the
    /// render finishes in about this many minutes on this machine.
    #[arg(long, value_name = "MINUTES")]
    pub finish_in: Option<f64>,
    /// The output's codec, over what its extension implies (.mp4: h264, .mov: prores, .webm:
    /// vp9, .mkv: h264).
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(neural_style_studio::video::export::CODEC_NAMES))]
    pub codec: Option<String>,
    /// The ffmpeg program that reads and writes clips (a file or its folder; `none`: the
    /// built-in readers and writers only) [default: NSS_FFMPEG, else ffmpeg on the PATH].
    #[arg(long, value_name = "PATH")]
    pub ffmpeg: Option<String>,
    /// A clip on many machines.
    #[command(flatten)]
    pub clip_farm: crate::render_farm::ClipFarmArgs,
    /// Rendering on many machines.
    #[command(flatten)]
    pub farm: crate::render_farm::FarmArgs,
}

/// Arguments of `score`.
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// The image to score; it is resized to the content's size at --size.
    #[arg(long)]
    pub image: PathBuf,
    /// The settings to score it under (content, style, size, weights, ...).
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Also write the losses as JSON (keys total, content, style, tv, style_layers).
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Arguments of `render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The render's settings.
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Output PNG.
    #[arg(short, long, default_value = "out.png")]
    pub out: PathBuf,
    /// Also write the image every N iterations (out_0100.png ...).
    #[arg(long)]
    pub save_every: Option<usize>,
    /// Write the loss of every iteration as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Render every picture of this folder with the look given, into the folder --out, each
    /// under its own name as a PNG; run again, it goes on where it stopped.
    #[arg(long, value_name = "FOLDER")]
    pub batch: Option<PathBuf>,
    /// With --batch: the most tasks a farm spreads the pictures over [default: 100].
    #[arg(long, value_name = "N")]
    pub tasks: Option<usize>,
    /// A batch on many machines.
    #[command(flatten)]
    pub farm: crate::render_farm::FarmArgs,
}
