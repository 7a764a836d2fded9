//! Before a clip renders: its shots listed (`--list-shots`), its time and disk estimated on this
//! machine, and the iterations per frame that finish in a given time (`--finish-in`).

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use neural_style_studio::imageio::fit_long_side;
use neural_style_studio::transfer::VideoMode;
use neural_style_studio::video::clip::ClipReader;
use neural_style_studio::video::estimate::{duration, Estimate};
use neural_style_studio::video::shots::{self, Shot};
use neural_style_studio::video::store::ClipPlan;

use crate::cli::RenderVideoArgs;
use crate::render_video::frame_range;

/// `--list-shots`: the clip's shots at the render size, one line each, with the measures that
/// told each cut and the largest change within shots.
pub fn list_shots(args: &RenderVideoArgs) -> Result<()> {
    // Only the clip and the size matter: no style is needed to find the shots.
    let (base, _) = args.spec.base(crate::spec_args::command_line_default())?;
    let spec = args.spec.apply(base)?;
    let clip = spec.content_path()?.to_path_buf();
    let mut reader = ClipReader::open(&clip)?;
    let info = reader.info().clone();
    eprintln!("{}", info.about);
    reader.scale_to(fit_long_side(info.size, spec.size));
    let (first, end) = frame_range(args.frames.as_deref())?;
    let (shots, changes) = scan(&mut reader, (first, end.min(info.frames)), shots::CutDetector::thorough())?;
    for (n, shot) in shots.iter().enumerate() {
        let why = match changes.get(shot.first - first).copied().flatten() {
            Some(c) if n > 0 => match c.explained {
                Some(e) => format!(" (cut: colours moved {:.2}, the flow explains {e:.2})", c.colour),
                None => format!(" (cut: colours moved {:.2})", c.colour),
            },
            _ => String::new(),
        };
        println!("shot {}: frames {}..{}{why}", n + 1, shot.first + 1, shot.end);
    }
    let within: Vec<_> = changes.iter().flatten().filter(|c| !c.is_cut()).collect();
    if let (Some(colour), Some(explained)) =
        (within.iter().map(|c| c.colour).reduce(f64::max), within.iter().filter_map(|c| c.explained).reduce(f64::min))
    {
        eprintln!("within shots: colours moved at most {colour:.2}, the flow explained at least {explained:.2}");
    }
    Ok(())
}

/// The shots of frames `first..end`, with a progress bar.
pub(crate) fn scan(
    reader: &mut ClipReader,
    (first, end): (usize, usize),
    detector: shots::CutDetector,
) -> Result<(Vec<Shot>, Vec<Option<shots::Change>>)> {
    let bar = ProgressBar::new(end.saturating_sub(first) as u64);
    bar.set_style(
        ProgressStyle::with_template("finding shots {bar:30} {pos}/{len} frames [{eta_precise}]")
            .context("template")?,
    );
    let found = shots::find(reader, (first, end), detector, |i| bar.set_position((i - first) as u64))?;
    bar.finish_and_clear();
    Ok(found)
}

/// Prints the time and disk `plan` will take on this machine, and with `--finish-in` sets its
/// iterations per frame to fit.
pub fn estimate(args: &RenderVideoArgs, plan: &mut ClipPlan) -> Result<()> {
    // A shot's first frame runs the whole schedule in Quality mode only: Fast needs no scan.
    let shots = if plan.spec.video.mode == VideoMode::Quality {
        let mut reader = ClipReader::open(&plan.clip)?;
        let info = reader.info().clone();
        reader.scale_to(fit_long_side(info.size, plan.spec.size));
        scan(&mut reader, (plan.first, plan.end.min(info.frames)), shots::CutDetector::new())?.0.len()
    } else {
        1
    };
    let mut estimate = Estimate::measure(plan, shots).context("timing the render")?;
    eprintln!("estimate: {} ({:.0} s)", estimate.describe(), estimate.seconds());
    if let Some(minutes) = args.finish_in {
        if plan.spec.video.mode != VideoMode::Quality {
            bail!("--finish-in chooses the iterations per frame of the quality mode; the fast mode has none");
        }
        let Some(later) = estimate.later_iterations_within(minutes * 60.0) else {
            bail!(
                "{} frames cannot finish in {minutes} min here: with one iteration per frame they take about {}",
                estimate.frames,
                duration(estimate.seconds_with(1))
            );
        };
        plan.spec.video.later_iterations = later;
        estimate.later_iterations = later;
        eprintln!(
            "to finish in {minutes} min: {later} iterations per frame after each shot's first ({})",
            estimate.describe()
        );
    }
    Ok(())
}
