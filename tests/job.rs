//! The render driver without threads: stages, live changes and numerical faults, as the command
//! line and the worker see them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use neural_style_studio::error::Error;
use neural_style_studio::transfer::{Event, Fault, Job, OptimizerKind, PreserveColors, RenderSpec, Update};

fn spec(dir: &std::path::Path, size: u32, iterations: usize, scales: usize) -> RenderSpec {
    let (content, style) = common::write_pair(dir, 160, 120);
    let mut spec = RenderSpec { size, ..RenderSpec::new(content, &[style]) };
    spec.schedule.iterations = iterations;
    spec.schedule.scales = scales;
    spec
}

/// Steps until the job finishes, collecting every event.
fn drain(job: &mut Job) -> Vec<Event> {
    drain_until_paused(job).0
}

/// Steps until the job finishes or pauses: every event, and the fault that paused it.
fn drain_until_paused(job: &mut Job) -> (Vec<Event>, Option<Fault>) {
    let mut events = Vec::new();
    while !job.is_finished() {
        match job.step() {
            Ok(more) => events.extend(more),
            Err(Error::Paused(fault)) => return (events, Some(fault)),
            Err(e) => panic!("{e}"),
        }
    }
    (events, None)
}

#[test]
fn a_job_runs_its_stages_in_order_and_reports_each_step() {
    let dir = tempfile::tempdir().unwrap();
    let mut job = Job::new();
    job.start(spec(dir.path(), 200, 4, 2)).unwrap();
    assert_eq!(job.output().unwrap().width(), 100, "starts at the coarse stage");
    let events = drain(&mut job);
    let steps: Vec<usize> = events
        .iter()
        .filter_map(|e| match e {
            Event::Stepped(r) => Some(r.iteration),
            _ => None,
        })
        .collect();
    assert_eq!(steps, vec![0, 1, 2, 3]);
    assert_eq!(events[2], Event::StageChanged { index: 1, size: 200 }, "{events:?}");
    assert_eq!(events.last(), Some(&Event::Finished));
    assert_eq!(job.output().unwrap().width(), 200);
    // The spec as run records the images' hashes.
    let ran = job.spec().unwrap();
    assert!(ran.content.as_ref().unwrap().sha256.is_some() && ran.styles[0].sha256.is_some());
    // Nothing happens once finished.
    assert!(job.step().unwrap().is_empty());
}

#[test]
fn live_changes_keep_the_image_and_a_larger_budget_lets_a_finished_run_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut job = Job::new();
    let spec = spec(dir.path(), 64, 2, 1);
    job.start(spec.clone()).unwrap();
    drain(&mut job);
    let before = job.image().unwrap();
    let mut heavier = spec.clone();
    heavier.objective.style_weight = 1e4;
    assert_eq!(job.update(&heavier).unwrap(), Update::Applied);
    assert_eq!(job.update(&heavier).unwrap(), Update::Unchanged);
    assert_eq!(job.image().unwrap(), before, "the image is kept");
    assert_eq!(job.spec().unwrap().objective.style_weight, 1e4, "the spec as run follows");
    heavier.schedule.iterations = 5;
    assert_eq!(job.update(&heavier).unwrap(), Update::Applied);
    assert!(!job.is_finished());
    // What a run cannot take in place is left alone and said.
    let larger = RenderSpec { size: 96, ..heavier.clone() };
    assert_eq!(job.update(&larger).unwrap(), Update::NeedsRestart);
    assert_eq!(job.spec().unwrap().size, 64);
    drain(&mut job);
    assert_eq!(job.done(), 5);
}

#[test]
fn the_average_shown_is_switched_live_and_the_optimiser_goes_on_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = spec(dir.path(), 64, 20, 1);
    spec.run.optimizer = OptimizerKind::Adam;
    spec.run.lr = 0.05;
    let (mut plain, mut switched) = (Job::new(), Job::new());
    plain.start(spec.clone()).unwrap();
    switched.start(spec.clone()).unwrap();
    let step_both = |a: &mut Job, b: &mut Job| {
        a.step().unwrap();
        b.step().unwrap();
    };
    for _ in 0..3 {
        step_both(&mut plain, &mut switched);
    }
    let averaged = RenderSpec {
        run: neural_style_studio::transfer::RunSettings { average: 0.9, ..spec.run.clone() },
        ..spec.clone()
    };
    assert_eq!(switched.update(&averaged).unwrap(), Update::Applied, "no restart");
    assert_eq!(switched.spec().unwrap().run.average, 0.9);
    for _ in 0..4 {
        step_both(&mut plain, &mut switched);
    }
    assert_ne!(switched.image().unwrap(), plain.image().unwrap(), "the average is shown");
    // Switched back: the next picture is the optimiser's own, the same as the run that never
    // showed the average.
    assert_eq!(switched.update(&spec).unwrap(), Update::Applied);
    step_both(&mut plain, &mut switched);
    assert_eq!(switched.image().unwrap(), plain.image().unwrap());
}

#[test]
fn repeated_faults_roll_back_halve_adams_rate_and_pause_on_a_finite_image() {
    let dir = tempfile::tempdir().unwrap();
    let mut job = Job::new();
    let mut spec = spec(dir.path(), 64, 50, 1);
    spec.run.optimizer = OptimizerKind::Adam;
    spec.run.lr = 0.02;
    job.start(spec.clone()).unwrap();
    job.step().unwrap();
    job.step().unwrap();
    let good = job.image().unwrap();
    let mut absurd = spec.clone();
    absurd.objective.style_weight = 1e300;
    job.update(&absurd).unwrap();
    let (events, paused) = drain_until_paused(&mut job);
    let paused = paused.expect("the run pauses");
    let faults: Vec<_> = events
        .into_iter()
        .filter_map(|e| match e {
            Event::Fault(f) => Some(f),
            _ => None,
        })
        .collect();
    // Two faults it goes on after, the third in a row pauses it.
    assert_eq!(faults.len() + 1, neural_style_studio::transfer::MAX_FAULTS as usize);
    assert_eq!(faults.iter().map(|f| f.new_lr.unwrap()).collect::<Vec<_>>(), vec![0.01, 0.005]);
    assert_eq!((paused.new_lr, paused.in_a_row), (Some(0.0025), 3));
    assert!(job.is_paused() && job.step().unwrap().is_empty(), "paused, it does nothing");
    assert_eq!(job.image().unwrap(), good, "rolled back to the last finite image");
    // Fixed and resumed, the same run goes on.
    job.update(&spec).unwrap();
    job.resume();
    let events = job.step().unwrap();
    assert!(matches!(events[0], Event::Stepped(ref r) if r.iteration == 2 && r.losses.total.is_finite()));
}

#[test]
fn cutting_the_budget_during_a_small_stage_moves_on_to_full_size() {
    let dir = tempfile::tempdir().unwrap();
    let mut job = Job::new();
    job.start(spec(dir.path(), 200, 20, 2)).unwrap();
    for _ in 0..4 {
        job.step().unwrap();
    }
    let mut spec = RenderSpec::clone(job.spec().unwrap());
    spec.schedule.iterations = 4; // stages of 2: the coarse one is already overrun
    job.update(&spec).unwrap();
    let events = drain(&mut job);
    assert_eq!(events[0], Event::StageChanged { index: 1, size: 200 }, "{events:?}");
    assert_eq!(events.last(), Some(&Event::Finished));
    assert_eq!(job.output().unwrap().width(), 200, "the result is at full size");
}

/// Mean RGB of an image.
fn mean_colour(img: &image::RgbImage) -> [f64; 3] {
    let n = f64::from(img.width() * img.height());
    let mut m = [0.0; 3];
    for p in img.pixels() {
        for c in 0..3 {
            m[c] += f64::from(p[c]) / n;
        }
    }
    m
}

fn render_with(dir: &std::path::Path, mode: PreserveColors) -> (Job, image::RgbImage) {
    let mut spec = spec(dir, 64, 8, 1);
    spec.objective.style_weight = 1e3;
    spec.preserve_colors = mode;
    let mut job = Job::new();
    job.start(spec).unwrap();
    drain(&mut job);
    let out = job.output().unwrap().to_rgb8();
    (job, out)
}

#[test]
fn keeping_luminance_gives_the_result_the_photos_chroma_and_toggles_without_a_new_run() {
    let dir = tempfile::tempdir().unwrap();
    let (mut job, kept) = render_with(dir.path(), PreserveColors::Luminance);
    let content = job.content().unwrap().clone();
    let chroma = |p: &image::Rgb<u8>| {
        let [r, g, b] = p.0.map(f32::from);
        [128.0 - 0.168_736 * r - 0.331_264 * g + 0.5 * b, 128.0 + 0.5 * r - 0.418_688 * g - 0.081_312 * b]
    };
    let worst = kept
        .pixels()
        .zip(content.pixels())
        .filter(|(k, _)| k.0.iter().all(|&c| c > 4 && c < 251)) // clipped pixels cannot keep it
        .map(|(k, c)| {
            let (a, b) = (chroma(k), chroma(c));
            (a[0] - b[0]).abs().max((a[1] - b[1]).abs())
        })
        .fold(0f32, f32::max);
    assert!(worst <= 2.0, "chroma differs from the photo's by up to {worst}");
    // Off again: the optimised image itself, with the style's colours; no restart needed.
    let done = job.done();
    let mut spec = RenderSpec::clone(job.spec().unwrap());
    spec.preserve_colors = PreserveColors::Off;
    assert_eq!(job.update(&spec).unwrap(), Update::Applied);
    assert_eq!(job.output().unwrap().to_rgb8(), job.image().unwrap());
    assert_ne!(job.image().unwrap(), kept);
    assert_eq!(job.done(), done);
    spec.preserve_colors = PreserveColors::Histogram;
    assert_eq!(job.update(&spec).unwrap(), Update::NeedsRestart, "statistics need a new run");
}

#[test]
fn matching_colour_statistics_moves_the_results_colours_towards_the_photos() {
    let dir = tempfile::tempdir().unwrap();
    let (job, plain) = render_with(dir.path(), PreserveColors::Off);
    let (_, matched) = render_with(dir.path(), PreserveColors::Histogram);
    let photo = mean_colour(job.content().unwrap());
    let distance = |img: &image::RgbImage| {
        let m = mean_colour(img);
        (0..3).map(|c| (m[c] - photo[c]).powi(2)).sum::<f64>().sqrt()
    };
    let (d_plain, d_matched) = (distance(&plain), distance(&matched));
    assert!(
        d_matched < 0.75 * d_plain,
        "mean colour distance to the photo: {d_matched:.1} with matching, {d_plain:.1} without"
    );
}

#[test]
fn a_print_goes_on_from_the_preview_at_a_larger_size_and_cancel_returns_to_the_finished_stage() {
    let dir = tempfile::tempdir().unwrap();
    let mut job = Job::new();
    let preview_spec = spec(dir.path(), 64, 4, 0);
    job.start(preview_spec.clone()).unwrap();
    drain(&mut job);
    let (preview, photo_64) = (job.image().unwrap(), job.content().unwrap().clone());
    let err = job.print(64).unwrap_err().to_string();
    assert!(err.contains("larger than the preview (64 px)"), "{err}");

    job.print(160).unwrap();
    let stages = |job: &Job| job.spec().unwrap().schedule.stages.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(stages(&job), ["64x4", "101x10", "160x10"], "the print's settings describe all it ran");
    assert_eq!((job.spec().unwrap().size, job.stages().1, job.done()), (160, 1, 4));
    assert!(!job.is_finished());
    // It starts from the preview: upscaled with the photo's finer detail added, it is as far
    // from the photo at the new size as the preview was from the photo at its size (a restart
    // from the photo would be at distance 0).
    let first = job.image().unwrap();
    assert_eq!(first.width(), 101);
    let distance = |a: &image::RgbImage, b: &image::RgbImage| {
        a.as_raw().iter().zip(b.as_raw()).map(|(&x, &y)| f64::from(x.abs_diff(y))).sum::<f64>()
            / a.as_raw().len() as f64
    };
    let (now, before) = (distance(&first, job.content().unwrap()), distance(&preview, &photo_64));
    assert!(before > 5.0 && (now / before - 1.0).abs() < 0.3, "{now} vs {before}");
    for _ in 0..3 {
        job.step().unwrap();
    }
    assert_eq!(job.done(), 7);
    // Steered with the preview's spec as the window shows it, the print takes the weights and
    // keeps its own size and stages.
    let mut shown = preview_spec.clone();
    shown.objective.style_weight *= 2.0;
    assert_eq!(job.update(&shown).unwrap(), Update::Applied);
    assert_eq!(
        (job.spec().unwrap().size, job.spec().unwrap().objective.style_weight),
        (160, shown.objective.style_weight)
    );
    assert_eq!(stages(&job), ["64x4", "101x10", "160x10"]);
    let other = RenderSpec {
        run: neural_style_studio::transfer::RunSettings { optimizer: OptimizerKind::Adam, ..shown.run.clone() },
        ..shown.clone()
    };
    assert_eq!(job.update(&other).unwrap(), Update::NeedsRestart);

    // Cancel: back to the preview's image, size, count and settings; the run has ended there.
    assert!(job.cancel_stage().unwrap());
    let again = job.image().unwrap();
    assert_eq!(again.dimensions(), preview.dimensions());
    assert!(again.as_raw().iter().zip(preview.as_raw()).all(|(a, b)| a.abs_diff(*b) <= 1));
    assert_eq!((job.spec().unwrap().size, job.done(), job.is_finished()), (64, 4, true));
    assert_eq!(stages(&job), ["64x4"]);
    assert!(!job.cancel_stage().unwrap(), "nothing left to cancel");
    // Cancelled, it still takes what the window shows in place.
    shown.preserve_colors = PreserveColors::Luminance;
    assert_eq!(job.update(&shown).unwrap(), Update::Applied);
    assert_eq!((job.spec().unwrap().size, job.spec().unwrap().preserve_colors), (64, PreserveColors::Luminance));

    // A print that runs to the end ends at full size; cancelling a finished print does nothing.
    job.print(160).unwrap();
    let events = drain(&mut job);
    assert!(events.contains(&Event::StageChanged { index: 2, size: 160 }), "{events:?}");
    assert_eq!((job.output().unwrap().width(), job.done()), (160, 24));
    assert!(!job.cancel_stage().unwrap());
    assert_eq!(job.output().unwrap().width(), 160);
}
