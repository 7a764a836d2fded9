//! `sheet`: a contact sheet. Contents x styles, or (with presets) styles x presets for one
//! photo, each cell a small render driven by one reused [`Job`] (the model, decoded images and
//! targets carry over from cell to cell), under one progress bar. The sheet PNG stores every
//! cell's settings, so any cell can be rendered large later.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::Args;
use image::RgbImage;
use indicatif::{ProgressBar, ProgressStyle};
use neural_style_studio::grid::Grid;
use neural_style_studio::imageio::save_png;
use neural_style_studio::transfer::spec::preset::{available_presets, find};
use neural_style_studio::transfer::spec::sheet_plan::{cell_work, contents_by_styles, styles_by_presets, SheetCell};
use neural_style_studio::transfer::{Event, Job, Method, RenderSpec};

/// Arguments of `sheet`.
#[derive(Debug, Args)]
pub struct SheetArgs {
    /// Content photos: the rows (one photo when presets are given).
    #[arg(long, required = true)]
    pub content: Vec<PathBuf>,
    /// Style paintings: the columns (the rows when presets are given).
    #[arg(long, required = true)]
    pub style: Vec<PathBuf>,
    /// Presets to compare: the columns, for each style (any case; built-in or saved).
    #[arg(long)]
    pub preset: Vec<String>,
    /// Long side of each cell's render, in pixels.
    #[arg(long, default_value_t = 256)]
    pub size: u32,
    /// Iterations per cell.
    #[arg(long, default_value_t = 100)]
    pub iters: usize,
    /// optimise (each cell optimised for --iters) or instant (each cell the instant look, in a
    /// fraction of a second; with --strength) [default: optimise].
    #[arg(long, value_enum, default_value_t = crate::spec_args::MethodArg::Optimise)]
    pub method: crate::spec_args::MethodArg,
    /// The instant look's strength, 0..1 (--method instant).
    #[arg(long, default_value_t = 1.0)]
    pub strength: f64,
    /// Output PNG.
    #[arg(short, long, default_value = "sheet.png")]
    pub out: PathBuf,
}

/// Runs `sheet`.
pub fn sheet(args: &SheetArgs) -> Result<()> {
    let (grid, cells) = plan(args)?;
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = interrupted.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst)).context("cannot watch for Ctrl+C")?;
    let bar = ProgressBar::new(cells.iter().map(|c| cell_work(&c.spec) as u64).sum());
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {percent:>3}% {msg} [{elapsed_precise} < {eta_precise}]")
            .context("progress bar template")?,
    );
    let mut job = Job::new();
    let mut pictures: Vec<Option<RgbImage>> = vec![None; cells.len()];
    let mut failed = 0;
    for (i, cell) in cells.iter().enumerate() {
        if interrupted.load(Ordering::SeqCst) {
            break;
        }
        let label = format!("{} / {}", grid.rows[cell.row], grid.cols[cell.col]);
        bar.set_message(format!("cell {} of {}: {label}", i + 1, cells.len()));
        match render_cell(&mut job, &cell.spec, &bar, &interrupted) {
            Ok(Some(picture)) => pictures[i] = Some(picture),
            Ok(None) => break,
            Err(e) => {
                failed += 1;
                bar.suspend(|| eprintln!("warning: {label}: {e:#}"));
            }
        }
    }
    bar.finish_and_clear();
    let done = pictures.iter().flatten().count();
    let json = serde_json::to_string(&cells).context("the cells' settings as JSON")?;
    let text = vec![
        ("Software".to_string(), format!("neural-style-studio {}", env!("CARGO_PKG_VERSION"))),
        ("nss:sheet".to_string(), json),
    ];
    save_png(&image::DynamicImage::ImageRgb8(grid.draw(&pictures)?), &args.out, &text)?;
    eprintln!("wrote {} ({} of {} cells)", args.out.display(), done, cells.len());
    if interrupted.load(Ordering::SeqCst) {
        bail!("interrupted: the sheet holds the {done} cells finished");
    }
    if failed == cells.len() {
        bail!("no cell could be rendered");
    }
    Ok(())
}

/// The grid and its cells' settings, row-major.
fn plan(args: &SheetArgs) -> Result<(Grid, Vec<SheetCell>)> {
    let mut base = RenderSpec::default();
    if args.method == crate::spec_args::MethodArg::Instant {
        if !args.preset.is_empty() {
            bail!("presets shape the optimisation, which the instant look does not run: drop --preset, or --method instant");
        }
        base.method = Method::Instant;
        base.instant.strength = args.strength;
    }
    let plan = if args.preset.is_empty() {
        contents_by_styles(&base, &args.content, &args.style, args.size, args.iters)?
    } else {
        let [content] = &args.content[..] else {
            bail!("with --preset the sheet is styles x presets for one photo: give one --content");
        };
        let (all, unreadable) = available_presets();
        if let Some(e) = unreadable {
            eprintln!("warning: {e}");
        }
        let presets = args.preset.iter().map(|n| find(&all, n).cloned()).collect::<Result<Vec<_>, _>>()?;
        styles_by_presets(&base, content, &args.style, &presets, args.size, args.iters)?
    };
    Ok((Grid { rows: plan.rows, cols: plan.cols, cell: plan.size }, plan.cells))
}

/// Renders one cell to the end; `None` when interrupted.
fn render_cell(
    job: &mut Job,
    spec: &RenderSpec,
    bar: &ProgressBar,
    interrupted: &AtomicBool,
) -> Result<Option<RgbImage>> {
    if spec.method == Method::Instant {
        let picture = job.instant(spec)?.to_rgb8();
        bar.inc(1);
        return Ok(Some(picture));
    }
    job.start(spec.clone())?;
    while !job.is_finished() {
        if interrupted.load(Ordering::SeqCst) {
            return Ok(None);
        }
        for event in job.step()? {
            match event {
                Event::Stepped(_) => bar.inc(1),
                Event::Fault(fault) => bar.suspend(|| eprintln!("warning: {fault}.")),
                Event::StageChanged { .. } | Event::Finished => {}
            }
        }
    }
    Ok(Some(job.output()?.to_rgb8()))
}
