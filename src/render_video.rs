//! `render-video`: drive a [`ClipRender`] over a clip's frames with one progress bar, writing
//! frames as they finish, and export the clip when every frame is done. Ctrl+C stops between
//! steps and keeps every finished frame; `--resume` goes on from there.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use neural_style_studio::video::export::{export, ClipFormat};
use neural_style_studio::video::render::{ClipEvent, ClipRender};
use neural_style_studio::video::store::{frames_folder, ClipPlan};

use crate::cli::RenderVideoArgs;

/// Progress units per frame.
const UNITS: u64 = 1000;

/// Runs `render-video`.
pub fn render_video(args: &RenderVideoArgs) -> Result<()> {
    if args.list_shots {
        return crate::video_plan::list_shots(args);
    }
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = interrupted.clone();
    // Ctrl+C, and the SIGTERM a scheduler sends to cancel a task.
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst)).context("cannot watch for Ctrl+C")?;
    if args.farm.is_farm() || args.clip_farm.plan || args.clip_farm.assemble {
        return crate::render_farm::farm(args, &interrupted);
    }
    let format = ClipFormat::choose(&args.out, args.codec.as_deref())?;
    format.check_writable(&args.out)?;
    let folder = frames_folder(&args.out)?;
    let mut render = if args.resume {
        if !args.spec.is_empty()
            || args.mode.is_some()
            || args.later_iterations.is_some()
            || args.frames.is_some()
            || args.looped
        {
            eprintln!("note: resuming with the settings the render began with ({})", folder.display());
        }
        ClipRender::resume(&folder)?
    } else {
        let mut plan = new_plan(args, &interrupted)?;
        crate::video_plan::estimate(args, &mut plan)?;
        if args.estimate {
            return Ok(());
        }
        let (render, notes) = ClipRender::start(&folder, plan)?;
        for note in notes {
            eprintln!("note: {note}");
        }
        render
    };
    format.check_size(render.size())?;
    let plan = render.plan().clone();
    let resume = format!("`render-video --resume --out {}` goes on", args.out.display());
    drive(&mut render, &interrupted, &resume, &mut || Ok(()))?;
    let sound = render.sound();
    if let Some(note) = export(&render.store().frames(), plan.fps, &args.out, format, sound.as_ref())? {
        eprintln!("note: {note}");
    }
    match format {
        ClipFormat::Frames => eprintln!("wrote frames to {}", folder.display()),
        _ => eprintln!("wrote {} (frames kept in {})", args.out.display(), folder.display()),
    }
    Ok(())
}

/// The plan of a new render from the command line's settings (the model fetched if needed).
pub fn new_plan(args: &RenderVideoArgs, interrupted: &AtomicBool) -> Result<ClipPlan> {
    let (mut spec, warning) = args.spec.to_spec()?;
    if let Some(w) = warning {
        eprintln!("warning: {w}");
    }
    if let Some(mode) = args.mode {
        spec.video.mode = mode.into();
    }
    spec.video.later_iterations = args.later_iterations.unwrap_or(spec.video.later_iterations);
    spec.video.looped |= args.looped;
    spec.validate().context("the settings cannot be rendered")?;
    crate::spec_args::ensure_model(&mut spec, interrupted)?;
    let clip = spec.content_path()?.to_path_buf();
    let (first, end) = frame_range(args.frames.as_deref())?;
    Ok(ClipPlan { clip, first, end, fps: 0.0, spec })
}

/// Steps `render` to its end with one progress bar, calling `alive` between steps. Stopped by
/// `interrupted` or an error, it says what is kept and that `goes_on` (a command) goes on.
pub fn drive(
    render: &mut ClipRender,
    interrupted: &AtomicBool,
    goes_on: &str,
    alive: &mut dyn FnMut() -> Result<()>,
) -> Result<()> {
    let plan = render.plan().clone();
    let (done, total) = render.progress();
    eprintln!(
        "{} mode, {} frames at {}x{} from {}{}",
        plan.spec.video.mode.name(),
        total,
        render.size().0,
        render.size().1,
        plan.clip.display(),
        if done > 0 { format!(", {done} already done") } else { String::new() }
    );
    let bar = ProgressBar::new(total as u64 * UNITS);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {percent:>3}% {msg} [{elapsed_precise} < {eta_precise}]")
            .context("progress bar template")?,
    );
    bar.set_position(done as u64 * UNITS);
    bar.reset_eta();
    let started = Instant::now();
    let mut rendered = 0usize;
    let folder = render.store().folder().to_path_buf();
    let stopped = |render: &ClipRender| {
        let (done, total) = render.progress();
        format!("stopped: {done} of {total} frames are kept in {}; {goes_on}", folder.display())
    };
    while !render.is_finished() {
        if interrupted.load(Ordering::SeqCst) {
            bar.abandon();
            bail!(stopped(render));
        }
        let events = match render.step() {
            Ok(events) => events,
            Err(e) => {
                bar.abandon();
                return Err(anyhow::Error::new(e).context(stopped(render)));
            }
        };
        if let Err(e) = alive() {
            bar.abandon();
            return Err(e.context(stopped(render)));
        }
        for event in events {
            let (done, total) = render.progress();
            let per_minute = if rendered > 0 { rendered as f64 * 60.0 / started.elapsed().as_secs_f64() } else { 0.0 };
            match event {
                ClipEvent::Iteration { frame, done: it, total: its } => {
                    bar.set_position(done as u64 * UNITS + it as u64 * UNITS / its.max(1) as u64);
                    bar.set_message(format!(
                        "frame {}/{total}, iteration {it}/{its}, {per_minute:.1} frames/min",
                        frame + 1
                    ));
                }
                ClipEvent::Frame { index, seconds } => {
                    rendered += 1;
                    bar.set_position(done as u64 * UNITS);
                    bar.set_message(format!("frame {} in {seconds:.1} s, {per_minute:.1} frames/min", index + 1));
                }
                ClipEvent::Cut { frame } => bar.suspend(|| eprintln!("frame {}: a cut, a new shot begins", frame + 1)),
                ClipEvent::Joined { frames: 0 } => bar.suspend(|| {
                    eprintln!("note: the last frame and the first are different shots: the loop keeps its cut")
                }),
                ClipEvent::Joined { frames } => bar
                    .suspend(|| eprintln!("the loop is joined: frames 1..{frames} rendered again from the last frame")),
                ClipEvent::Finished => {}
            }
        }
    }
    bar.finish();
    let seconds = started.elapsed().as_secs_f64();
    if rendered > 0 {
        eprintln!("{rendered} frames in {seconds:.1} s ({:.2} frames/s)", rendered as f64 / seconds);
    }
    Ok(())
}

/// `--frames A..B` (from 1, both included) as a 0-based half-open range; `None`: all.
pub fn frame_range(text: Option<&str>) -> Result<(usize, usize)> {
    let Some(text) = text else { return Ok((0, usize::MAX)) };
    let Some((a, b)) = text.split_once("..") else { bail!("--frames takes A..B, A.. or ..B (from 1), got {text}") };
    let number = |s: &str, default: usize| -> Result<usize> {
        if s.trim().is_empty() {
            return Ok(default);
        }
        s.trim().parse::<usize>().with_context(|| format!("--frames: {s} is not a frame number"))
    };
    let (first, last) = (number(a, 1)?, number(b, usize::MAX)?);
    if first == 0 || last < first {
        bail!("--frames {text}: frames are numbered from 1 and the range must not be empty");
    }
    Ok((first - 1, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_ranges_count_from_one_and_include_both_ends() {
        assert_eq!(frame_range(Some("3..5")).unwrap(), (2, 5));
        assert_eq!(frame_range(Some("..4")).unwrap(), (0, 4));
        assert_eq!(frame_range(Some("2..")).unwrap(), (1, usize::MAX));
        assert_eq!(frame_range(None).unwrap(), (0, usize::MAX));
        assert!(frame_range(Some("0..3")).is_err());
        assert!(frame_range(Some("5..3")).is_err());
        assert!(frame_range(Some("7")).is_err());
    }
}
