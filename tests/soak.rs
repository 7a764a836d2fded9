//! Soak: a long run through the worker, as the app drives it, must not creep in memory.
//! Minutes long, so not part of the default test run:
//! `cargo test --release --test soak -- --ignored --nocapture` (figures in docs/reliability.md).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use neural_style_studio::transfer::RenderSpec;
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
    neural_style_studio::tune_allocator(); // as the binary does at start-up
    let dir = tempfile::tempdir().unwrap();
    let (content, style) = common::write_pair(dir.path(), 160, 120);
    let mut spec = RenderSpec { size: 128, ..RenderSpec::new(content, &[style]) };
    spec.schedule.iterations = ITERATIONS;
    let w = Worker::spawn(|| {}).unwrap();
    w.send(Command::Start(Box::new(spec)));
    let started = Instant::now();
    let mut plot = Vec::new(); // the loss history the app keeps for its plot
                               // RSS every 10 iterations. The allocator moves RSS between two levels ~30 MiB apart as
                               // buffers of the size of the L-BFGS history are freed and reused, so each window's level is
                               // its peak: a leak raises the peak of the last window over that of the first.
    let mut samples: Vec<(usize, u64)> = Vec::new();
    let mut iteration = 0;
    loop {
        if let Some(frame) = w.take_frame() {
            iteration = frame.iteration;
        }
        plot.extend(w.take_history());
        if samples.last().is_none_or(|s| iteration >= s.0 + 10) {
            samples.push((iteration, rss_kib()));
            if iteration % 100 < 10 {
                println!("iteration {iteration:5}: RSS {:.1} MiB", samples.last().unwrap().1 as f64 / 1024.0);
            }
        }
        match w.status() {
            Status::Stopped if iteration >= ITERATIONS => break,
            Status::Failed(m) => panic!("run failed: {m}"),
            _ => {}
        }
        assert!(started.elapsed() < Duration::from_secs(3600), "too slow: {iteration} iterations");
        std::thread::sleep(Duration::from_millis(5));
    }
    let peak = |from: usize, to: usize| {
        samples.iter().filter(|s| (from..=to).contains(&s.0)).map(|s| s.1).max().expect("samples in the window")
    };
    // L-BFGS skips pairs that fail the curvature test while the loss still spikes, so its
    // 100-pair memory (2 x 100 image-sized vectors, 28 MiB here) is full only after a few
    // hundred iterations: RSS may rise by that much after iteration 100, and must not rise after.
    let history_kib = 2 * 100 * 3 * 128 * 96 * 4 / 1024;
    let (first, settled, last) = (peak(100, 200), peak(500, 600), peak(ITERATIONS - 100, ITERATIONS));
    let losses: Vec<f64> = plot.iter().map(|p| p.losses.total).collect();
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "{ITERATIONS} iterations in {:.0} s; peak RSS over iterations 100-200 {:.1} MiB, 500-600 {:.1} MiB, \
         the last 100 {:.1} MiB ({:+.2}% on 500-600, {:+.2}% on 100-200); loss {:.3} -> {:.3}",
        started.elapsed().as_secs_f64(),
        mib(first),
        mib(settled),
        mib(last),
        (last as f64 / settled as f64 - 1.0) * 100.0,
        (last as f64 / first as f64 - 1.0) * 100.0,
        losses[0],
        losses[losses.len() - 1]
    );
    assert_eq!(plot.len(), ITERATIONS);
    assert!(losses.iter().all(|l| l.is_finite()));
    assert!(last as f64 <= settled as f64 * 1.05, "RSS grew from {settled} KiB to {last} KiB");
    assert!(last <= first + history_kib + first / 20, "RSS grew from {first} KiB to {last} KiB");
}
