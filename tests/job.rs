//! The render driver without threads: stages, live changes and numerical faults, as the command
//! line and the worker see them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use neural_style_studio::transfer::{Event, Job, OptimizerKind, RenderSpec};

fn spec(dir: &std::path::Path, size: u32, iterations: usize, scales: usize) -> RenderSpec {
    let (content, style) = common::write_pair(dir, 160, 120);
    let mut spec = RenderSpec { size, ..RenderSpec::new(content, &[style]) };
    spec.schedule.iterations = iterations;
    spec.schedule.scales = scales;
    spec
}

/// Steps until the job finishes or pauses, collecting every event.
fn drain(job: &mut Job) -> Vec<Event> {
    let mut events = Vec::new();
    while !job.is_finished() && !job.is_paused() {
        events.extend(job.step().unwrap());
    }
    events
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
    let heavier = neural_style_studio::transfer::Objective { style_weight: 1e4, ..spec.objective.clone() };
    job.set_objective(heavier).unwrap();
    assert_eq!(job.image().unwrap(), before, "the image is kept");
    assert_eq!(job.spec().unwrap().objective.style_weight, 1e4, "the spec as run follows");
    job.set_iterations(5);
    assert!(!job.is_finished());
    drain(&mut job);
    assert_eq!(job.done(), 5);
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
    job.set_objective(neural_style_studio::transfer::Objective { style_weight: 1e300, ..spec.objective.clone() })
        .unwrap();
    let faults: Vec<_> = drain(&mut job)
        .into_iter()
        .filter_map(|e| match e {
            Event::Fault(f) => Some(f),
            _ => None,
        })
        .collect();
    assert_eq!(faults.len(), neural_style_studio::transfer::MAX_FAULTS as usize);
    assert_eq!(faults.iter().map(|f| f.new_lr.unwrap()).collect::<Vec<_>>(), vec![0.01, 0.005, 0.0025]);
    assert!(faults.last().unwrap().paused && job.is_paused());
    assert_eq!(job.image().unwrap(), good, "rolled back to the last finite image");
    // Fixed and resumed, the same run goes on.
    job.set_objective(spec.objective.clone()).unwrap();
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
    job.set_iterations(4); // stages of 2: the coarse one is already overrun
    let events = drain(&mut job);
    assert_eq!(events[0], Event::StageChanged { index: 1, size: 200 }, "{events:?}");
    assert_eq!(events.last(), Some(&Event::Finished));
    assert_eq!(job.output().unwrap().width(), 200, "the result is at full size");
}
