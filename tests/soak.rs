//! Soak: a long run through the worker, as the app drives it, must not creep in memory.
//! Minutes long, so not part of the default test run:
//! `cargo test --release --test soak -- --ignored --nocapture` (figures in docs/reliability.md).

mod common;

use std::time::{Duration, Instant};

use neural_style_studio::model::WeightsSource;
use neural_style_studio::transfer::{Objective, RenderSpec, RunSettings};
use neural_style_studio::worker::{Command, Status, Worker};

const ITERATIONS: usize = 2000;

/// Resident memory of this process in KiB (Linux).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("VmRSS value")
}

#[test]
#[ignore = "minutes long; run with --ignored"]
fn two_thousand_iterations_keep_memory_flat() {
    let dir = tempfile::tempdir().unwrap();
    let (content, style) = common::write_pair(dir.path(), 160, 120);
    let spec = RenderSpec {
        content,
        styles: vec![style],
        size: 128,
        style_scale: 1.0,
        objective: Objective::default(),
        run: RunSettings::default(),
        weights: WeightsSource::Embedded,
    };
    let w = Worker::spawn(|| {}).unwrap();
    w.send(Command::Start { spec, iterations: ITERATIONS, scales: 1 });
    let started = Instant::now();
    let mut plot = Vec::new(); // the loss history the app keeps for its plot
    let mut samples: Vec<(usize, u64)> = Vec::new();
    let mut iteration = 0;
    let mut next_sample = 100;
    loop {
        if let Some(frame) = w.take_frame() {
            iteration = frame.iteration;
        }
        plot.extend(w.take_history());
        if iteration >= next_sample {
            samples.push((iteration, rss_kib()));
            println!("iteration {iteration:5}: RSS {:.1} MiB", samples.last().unwrap().1 as f64 / 1024.0);
            next_sample += 100;
        }
        match w.status() {
            Status::Stopped if iteration >= ITERATIONS => break,
            Status::Failed(m) => panic!("run failed: {m}"),
            _ => {}
        }
        assert!(started.elapsed() < Duration::from_secs(3600), "too slow: {iteration} iterations");
        std::thread::sleep(Duration::from_millis(5));
    }
    let end = rss_kib();
    let after_100 = samples[0].1;
    let losses: Vec<f64> = plot.iter().map(|p| p.losses.total).collect();
    println!(
        "{ITERATIONS} iterations in {:.0} s; RSS after {} iterations {:.1} MiB, at the end {:.1} MiB ({:+.2}%); loss {:.3} -> {:.3}",
        started.elapsed().as_secs_f64(),
        samples[0].0,
        after_100 as f64 / 1024.0,
        end as f64 / 1024.0,
        (end as f64 / after_100 as f64 - 1.0) * 100.0,
        losses[0],
        losses[losses.len() - 1]
    );
    assert_eq!(plot.len(), ITERATIONS);
    assert!(losses.iter().all(|l| l.is_finite()));
    assert!(end as f64 <= after_100 as f64 * 1.05, "RSS grew from {after_100} KiB to {end} KiB");
}
