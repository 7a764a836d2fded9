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
}
