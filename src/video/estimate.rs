//! How long a clip render will take and how much disk its frames need, before the first frame:
//! a few optimiser iterations (or instant-look paintings) and a flow timed at the frame size
//! on this machine, then counted over the plan (each shot's first frame runs the whole
//! schedule, the rest `later_iterations`). Also the budget of iterations that finishes in a
//! given time.

use std::sync::Arc;
use std::time::Instant;

use crate::error::{Error, Result};
use crate::imageio::{fit_long_side, Picture};
use crate::transfer::{seconds_left, ImageRef, Init, Job, Prior, RenderSpec, Schedule, SourceImages, VideoMode};
use crate::video::clip::ClipReader;
use crate::video::flow::{FlowParams, Gray};
use crate::video::shots::CutDetector;
use crate::video::store::ClipPlan;
use crate::video::warp::carry;
use crate::video::wrap::frames_to_join;

/// Iterations timed (after one that warms the caches up)...
const TIMED: usize = 4;

/// ...unless they have taken this many seconds: at phone sizes an iteration takes many seconds,
/// and one or two tell as much.
const ENOUGH_SECONDS: f64 = 5.0;

/// A PNG frame of a painted picture takes about this share of its raw RGB bytes.
pub const PNG_SHARE: f64 = 0.7;

/// What a clip render will cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// Frames to render.
    pub frames: usize,
    /// Shots among them (each first frame runs the whole schedule in Quality mode).
    pub shots: usize,
    /// A loop's first frames rendered again (as later frames) to join the last one.
    pub rejoined: usize,
    /// Seconds spent once, before the first frame: the style's targets.
    pub startup: f64,
    /// Seconds of a shot's first frame.
    pub first_frame: f64,
    /// Seconds of any other frame, beside its iterations (flow, the frame's start).
    pub overhead: f64,
    /// Seconds of an optimiser iteration at the frame size (0 in Fast mode).
    pub iteration: f64,
    /// Iterations of each later frame (0 in Fast mode).
    pub later_iterations: usize,
    /// Bytes of the finished frames.
    pub bytes: f64,
}

impl Estimate {
    /// Times the render of `plan` (frames `first..end`, clamped to the clip) with `shots` shots
    /// on this machine: reads its first two frames and runs a few iterations at their size.
    pub fn measure(plan: &ClipPlan, shots: usize) -> Result<Estimate> {
        let spec = &plan.spec;
        spec.validate()?;
        let mut reader = ClipReader::open(&plan.clip)?;
        let info = reader.info().clone();
        let frames = plan.end.min(info.frames).saturating_sub(plan.first);
        if frames == 0 {
            return Err(Error::invalid(format!("no frames of the clip's {} are in the range", info.frames)));
        }
        let size = fit_long_side(info.size, spec.size);
        reader.scale_to(size);
        reader.seek(plan.first)?;
        let ended = || Error::Clip { path: plan.clip.clone(), reason: "it has no frames to time".into() };
        let a = reader.next_frame()?.ok_or_else(ended)?;
        let b = reader.next_frame()?.unwrap_or_else(|| a.clone());
        let clip = ImageRef::new(&plan.clip);
        let first_sources =
            Arc::new(SourceImages::around(Picture { rgb: a.clone(), alpha: None }, clip.clone(), spec)?);
        let next_sources = Arc::new(first_sources.with_content(b.clone(), clip));
        let started = Instant::now();
        let _ = carry(&Gray::from_rgb(&a), &Gray::from_rgb(&b), &a, &FlowParams::default());
        let flow = started.elapsed().as_secs_f64();
        let bytes = frames as f64 * f64::from(size.0 * size.1) * 3.0 * PNG_SHARE;
        let mut job = Job::new();
        let shots = shots.clamp(1, frames);
        let rejoined = if spec.video.looped { frames_to_join(frames) } else { 0 };
        if spec.video.mode == VideoMode::Fast {
            job.paint(spec, &first_sources, size)?;
            let started = Instant::now();
            job.paint(spec, &next_sources, size)?;
            let per_frame = started.elapsed().as_secs_f64() + flow;
            return Ok(Estimate {
                frames,
                shots,
                rejoined,
                startup: 0.0,
                first_frame: per_frame,
                overhead: per_frame,
                iteration: 0.0,
                later_iterations: 0,
                bytes,
            });
        }
        let timed =
            RenderSpec { schedule: Schedule { iterations: TIMED + 2, scales: 1, stages: Vec::new() }, ..spec.clone() };
        // Iterations are timed as later frames run them: from the frame before, held to it by
        // the temporal term (a fresh start's first iterations are cheaper).
        // Once per render: the style's targets (and its instant look's style vector).
        let started = Instant::now();
        job.start_frame(timed.clone(), first_sources, None)?;
        let startup = started.elapsed().as_secs_f64();
        // A picture for the next frame to start from and be held to.
        let started = Instant::now();
        for _ in 0..TIMED + 2 {
            job.step()?;
            if started.elapsed().as_secs_f64() > ENOUGH_SECONDS {
                break;
            }
        }
        let before = job.image()?;
        let reliable = vec![1.0; size.0 as usize * size.1 as usize];
        let prior = Prior { start: before.clone(), warped: before, reliable };
        let started = Instant::now();
        if spec.run.init == Init::Instant {
            // A later frame paints where the motion is not trusted.
            job.paint(spec, &next_sources, size)?;
        }
        let _ = CutDetector::new().push(&b);
        job.start_frame(timed, next_sources, Some(prior))?;
        let overhead = started.elapsed().as_secs_f64() + flow;
        job.step()?;
        let started = Instant::now();
        let mut timed_steps = 0;
        while timed_steps < TIMED && (timed_steps == 0 || started.elapsed().as_secs_f64() < ENOUGH_SECONDS) {
            job.step()?;
            timed_steps += 1;
        }
        let iteration = started.elapsed().as_secs_f64() / timed_steps as f64;
        // The first frame's schedule, each stage's iterations costing by its area.
        let stages = spec.stages();
        let area = |side: u32| f64::from(side) * f64::from(side);
        let long = size.0.max(size.1);
        let first_stage = stages.first().map_or(long, |s| s.size);
        let first_frame = seconds_left(&stages, 0, iteration * area(first_stage) / area(long)) + overhead;
        Ok(Estimate {
            frames,
            shots,
            rejoined,
            startup,
            first_frame,
            overhead,
            iteration,
            later_iterations: spec.video.later_iterations,
            bytes,
        })
    }

    /// Seconds the whole render takes.
    pub fn seconds(&self) -> f64 {
        self.seconds_with(self.later_iterations)
    }

    /// Seconds it takes with `later` iterations on each frame after a shot's first.
    pub fn seconds_with(&self, later: usize) -> f64 {
        let later_frames = self.later_frames();
        self.startup
            + self.shots as f64 * self.first_frame
            + later_frames * (self.overhead + later as f64 * self.iteration)
    }

    /// The most iterations per later frame that finish within `seconds` (at least 1), `None` in
    /// Fast mode or when even one does not fit.
    pub fn later_iterations_within(&self, seconds: f64) -> Option<usize> {
        if self.iteration <= 0.0 {
            return None;
        }
        let later_frames = self.later_frames();
        if later_frames == 0.0 {
            return Some(self.later_iterations);
        }
        let left = seconds - self.startup - self.shots as f64 * self.first_frame - later_frames * self.overhead;
        let n = (left / (later_frames * self.iteration)).floor();
        (n >= 1.0).then_some(n as usize)
    }

    /// Frames rendered from the one before: all but each shot's first, and a loop's join.
    fn later_frames(&self) -> f64 {
        (self.frames - self.shots + self.rejoined) as f64
    }

    /// One line: "about 12 min for 300 frames in 3 shots, 45 MB of frames".
    pub fn describe(&self) -> String {
        let shots = if self.shots == 1 { "1 shot".to_string() } else { format!("{} shots", self.shots) };
        format!(
            "about {} for {} frames in {shots} ({} frames/min after the first), {} of frames",
            duration(self.seconds()),
            self.frames,
            format_rate(self),
            human_bytes(self.bytes)
        )
    }
}

fn format_rate(e: &Estimate) -> String {
    let per_frame = e.overhead + e.later_iterations as f64 * e.iteration;
    format!("{:.1}", 60.0 / per_frame.max(1e-6))
}

/// Seconds as "1 h 5 min", "4 min" or "12 s".
pub fn duration(seconds: f64) -> String {
    let s = seconds.round() as u64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s.div_ceil(60)),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

/// Bytes in a unit a person reads (MB, GB).
pub fn human_bytes(bytes: f64) -> String {
    if bytes >= 1e9 {
        format!("{:.1} GB", bytes / 1e9)
    } else {
        format!("{:.0} MB", (bytes / 1e6).max(1.0))
    }
}

/// An estimate for tests: 100 frames in 2 shots, first frames 60 s, later ones 1 s plus 50
/// iterations of 0.5 s, 100 MB.
#[cfg(test)]
pub(crate) fn sample() -> Estimate {
    Estimate {
        frames: 100,
        shots: 2,
        rejoined: 0,
        startup: 0.0,
        first_frame: 60.0,
        overhead: 1.0,
        iteration: 0.5,
        later_iterations: 50,
        bytes: 1e8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn estimate() -> Estimate {
        sample()
    }

    #[test]
    fn first_frames_of_shots_and_later_frames_add_up() {
        // 2 x 60 s + 98 x (1 + 50 x 0.5) s
        assert!((estimate().seconds() - (120.0 + 98.0 * 26.0)).abs() < 1e-9);
        // A loop renders its first 8 frames again, as later frames.
        let looped = Estimate { rejoined: 8, ..estimate() };
        assert!((looped.seconds() - (120.0 + 106.0 * 26.0)).abs() < 1e-9);
    }

    #[test]
    fn the_iterations_that_fit_a_time_finish_within_it() {
        let e = estimate();
        let budget = 1200.0;
        let n = e.later_iterations_within(budget).unwrap();
        assert!(e.seconds_with(n) <= budget && e.seconds_with(n + 1) > budget, "{n}");
        assert_eq!(e.later_iterations_within(200.0), None, "the first frames alone take 120 s, the rest 98 s more");
        assert_eq!(duration(3725.0), "1 h 2 min");
    }
}
