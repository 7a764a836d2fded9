//! A render on many machines: a clip planned into tasks shot by shot, submitted to a real
//! one-node Slurm cluster (started by the test), gives the frames of one machine bit for bit;
//! a task cancelled mid-shot and submitted again keeps its finished frames; bad input is one
//! line and loses nothing.
//!
//! These need Debian's `ffmpeg`, `slurm-wlm` and `munge` (`.ci/run` installs them and sets
//! NSS_REQUIRE_FFMPEG and NSS_REQUIRE_SLURM, so they cannot pass by skipping there).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{stderr, write_style};

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use common::ffmpeg::{have_ffmpeg, three_shots};
use common::slurm::{wait_for, Cluster};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs `cmd` to its end, killed (and the test failed, with `cluster`'s logs) after `limit`.
fn finish(cmd: &mut Command, limit: Duration, cluster: Option<&Cluster>) -> Output {
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(limit) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            // SAFETY: signalling the child this test started.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            let logs = cluster.map(|c| format!("queue:\n{}\n{}", c.queue(), c.logs())).unwrap_or_default();
            panic!("{cmd:?} took over {limit:?}\n{logs}");
        }
    }
}

/// The binary with the cluster's configuration.
fn on(cluster: &Cluster, args: &[&str]) -> Command {
    let mut cmd = common::binary();
    cmd.env("SLURM_CONF", cluster.conf()).args(args);
    cmd
}

/// The render's settings: the clip, the style, small frames.
fn settings<'a>(clip: &'a Path, style: &'a Path, quality: bool) -> Vec<&'a str> {
    // Frames 8..23: the end of the first shot, the second, the start of the third.
    let mut args = vec!["render-video", "--content", s(clip), "--style", s(style), "--frames", "8..23"];
    match quality {
        true => args.extend(["--size", "48", "--iters", "8", "--later-iterations", "3"]),
        false => args.extend(["--size", "64", "--mode", "fast"]),
    }
    args
}

fn frame(folder: &Path, n: usize) -> image::RgbImage {
    image::open(folder.join(format!("frame_{n:06}.png"))).unwrap().to_rgb8()
}

/// A test cluster, a folder, the three-shot clip and the painting in it (`None`: the test
/// skips, having said why).
fn cluster_and_clip() -> Option<(Cluster, tempfile::TempDir, PathBuf, PathBuf)> {
    if !have_ffmpeg() {
        return None;
    }
    let cluster = Cluster::start()?;
    let dir = tempfile::tempdir().unwrap();
    let clip = three_shots(dir.path());
    let style = write_style(dir.path());
    Some((cluster, dir, clip, style))
}

#[test]
fn a_clip_submitted_to_slurm_gives_the_frames_of_one_machine_bit_for_bit() {
    let Some((cluster, dir, clip, style)) = cluster_and_clip() else { return };
    for quality in [false, true] {
        let mode = if quality { "quality" } else { "fast" };
        // One machine.
        let one = dir.path().join(format!("{mode}-one.mp4"));
        let out = finish(
            common::binary().args(settings(&clip, &style, quality)).args(["--out", s(&one)]),
            Duration::from_secs(120),
            None,
        );
        assert!(out.status.success(), "{}", stderr(&out));
        // The farm: one task per shot, each on one CPU.
        let farm = dir.path().join(format!("{mode}-farm.mp4"));
        let mut cmd = on(&cluster, &settings(&clip, &style, quality));
        cmd.args(["--out", s(&farm), "--submit", "slurm", "--wait", "--cpus-per-task", "1"]);
        let out = finish(&mut cmd, Duration::from_secs(150), Some(&cluster));
        let said = stderr(&out);
        assert!(out.status.success(), "{said}\n{}", cluster.logs());
        assert!(said.contains("3 tasks") && said.contains("submitted 3 of 3 tasks as Slurm job"), "{said}");
        assert!(farm.is_file(), "the assemble job wrote the clip");
        let (one_frames, farm_frames) =
            (dir.path().join(format!("{mode}-one.mp4.frames")), PathBuf::from(format!("{}.frames", s(&farm))));
        for n in 8..=23 {
            assert!(frame(&farm_frames, n) == frame(&one_frames, n), "{mode}: frame {n} differs from one machine's");
        }
        let status =
            finish(&mut on(&cluster, &["render-video", "--out", s(&farm), "--status"]), Duration::from_secs(30), None);
        assert!(String::from_utf8_lossy(&status.stdout).contains("16 of 16 frames; tasks: 3 done, 0 running"));
    }
    // sbatch's own refusal is shown, in one line.
    let farm = dir.path().join("refused.mp4");
    let mut cmd = on(&cluster, &settings(&clip, &style, false));
    cmd.args(["--out", s(&farm), "--submit", "slurm", "--sbatch", "--partition=nowhere"]);
    let out = finish(&mut cmd, Duration::from_secs(60), Some(&cluster));
    let said = stderr(&out);
    assert!(!out.status.success());
    assert!(said.contains("sbatch refused") && said.contains("Invalid partition"), "{said}");
}

#[test]
fn a_task_cancelled_mid_shot_and_submitted_again_keeps_its_finished_frames() {
    let Some((cluster, dir, clip, style)) = cluster_and_clip() else { return };
    let farm = dir.path().join("farm.mp4");
    let frames = PathBuf::from(format!("{}.frames", s(&farm)));
    // Long enough frames to be caught mid-shot.
    let args = ["render-video", "--content", s(&clip), "--style", s(&style), "--size", "48", "--iters", "8"];
    let mut cmd = on(&cluster, &args);
    cmd.args(["--frames", "1..14", "--later-iterations", "40", "--out", s(&farm)]);
    cmd.args(["--submit", "slurm", "--cpus-per-task", "1"]);
    let out = finish(&mut cmd, Duration::from_secs(90), Some(&cluster));
    assert!(out.status.success(), "{}", stderr(&out));
    let job = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("tasks ").map(str::to_string))
        .expect("the array's job id");
    // Task 0 is caught with some of its frames written and not all.
    let written = |n: usize| frames.join(format!("frame_{n:06}.png")).is_file();
    wait_for(Duration::from_secs(90), "two frames of task 0", || written(2));
    assert!(!written(10), "task 0 finished before it could be cancelled");
    let out = cluster.command("scancel").arg(&job).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    wait_for(Duration::from_secs(60), "the cancelled job to leave the queue", || !cluster.queue().contains(&job));
    let kept: Vec<(usize, SystemTime)> = (1..=14)
        .filter(|&n| written(n))
        .map(|n| (n, std::fs::metadata(frames.join(format!("frame_{n:06}.png"))).unwrap().modified().unwrap()))
        .collect();
    assert!(kept.len() < 14, "some frames are left to render");
    let status =
        finish(&mut on(&cluster, &["render-video", "--out", s(&farm), "--status"]), Duration::from_secs(30), None);
    let status = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(status.contains("task 0: frames 1..10: left"), "a cancelled task is left, not failed:\n{status}");
    // Submitted again: the tasks left go on from their first frame not written.
    let started = Instant::now();
    let mut cmd =
        on(&cluster, &["render-video", "--out", s(&farm), "--submit", "slurm", "--wait", "--cpus-per-task", "1"]);
    let out = finish(&mut cmd, Duration::from_secs(180), Some(&cluster));
    assert!(out.status.success(), "{}\n{}", stderr(&out), cluster.logs());
    for (n, modified) in kept {
        let now = std::fs::metadata(frames.join(format!("frame_{n:06}.png"))).unwrap().modified().unwrap();
        assert_eq!(now, modified, "frame {n} was rendered again");
    }
    assert!((1..=14).all(written) && farm.is_file());
    eprintln!("resubmitted and finished in {:.0} s", started.elapsed().as_secs_f64());
}

#[test]
fn farm_bad_input_is_one_clear_line_and_loses_nothing() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clip = three_shots(dir.path());
    let style = write_style(dir.path());
    let farm = dir.path().join("farm.mp4");
    let run = |args: &[&str]| finish(common::binary().args(args), Duration::from_secs(60), None);
    let fails = |args: &[&str], says: &[&str]| {
        let out = run(args);
        let said = stderr(&out);
        assert!(!out.status.success(), "{args:?} succeeded");
        for s in says {
            assert!(said.contains(s), "{args:?} should say {s:?}:\n{said}");
        }
    };
    // A task on a machine that cannot see the plan (the output is not shared).
    let host = neural_style_studio::farm::lock::host_name();
    fails(&["render-video", "--out", s(&farm), "--task", "0"], &["holds no farm plan", &host, "every node shares"]);
    let mut plan = settings(&clip, &style, false);
    plan.extend(["--out", s(&farm), "--plan"]);
    let out = run(&plan);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "3", "the number of tasks on stdout");
    fails(&plan, &["holds a render's plan already", "--status"]);
    fails(&["render-video", "--out", s(&farm), "--task", "3"], &["there is no task 3", "tasks 0..2"]);
    fails(&["render-video", "--out", s(&farm), "--task"], &["--task needs a number"]);
    // A scheduler's index when no number is given (here a Kubernetes Indexed Job's).
    let out = finish(
        common::binary().env("JOB_COMPLETION_INDEX", "0").args(["render-video", "--out", s(&farm), "--task"]),
        Duration::from_secs(60),
        None,
    );
    assert!(out.status.success() && stderr(&out).contains("task 0 of 3"), "{}", stderr(&out));
    fails(&["render-video", "--out", s(&farm), "--assemble"], &["task 1 (frames 11..20: 10 missing)", "task 2"]);
    // The style image a node cannot read: named, and the task recorded as failed.
    std::fs::rename(&style, dir.path().join("moved.png")).unwrap();
    fails(&["render-video", "--out", s(&farm), "--task", "1"], &["task 1 (frames 11..20)", s(&style)]);
    let status = run(&["render-video", "--out", s(&farm), "--status"]);
    let status = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(status.contains("task 0: frames 8..10: done"), "{status}");
    assert!(status.contains("task 1: frames 11..20: failed, 0 of 10 frames") && status.contains(s(&style)), "{status}");
    assert!(status.contains("3 of 16 frames; tasks: 1 done, 0 running, 1 failed, 1 left"), "{status}");
    // Without sbatch on the PATH.
    let out = finish(
        common::binary().env("PATH", "/nonexistent").args(["render-video", "--out", s(&farm), "--submit", "slurm"]),
        Duration::from_secs(30),
        None,
    );
    assert!(!out.status.success() && stderr(&out).contains("sbatch is not on the PATH"), "{}", stderr(&out));
    // Nothing was lost: task 0's frames are all there.
    assert!((8..=10).all(|n| Path::new(&format!("{}.frames/frame_{n:06}.png", s(&farm))).is_file()));
}

#[test]
fn a_batch_of_four_stills_runs_as_an_array_and_each_is_the_picture_of_one_machine() {
    let Some(cluster) = Cluster::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let style = write_style(dir.path());
    let photos = dir.path().join("photos");
    std::fs::create_dir(&photos).unwrap();
    for (n, name) in ["dawn.png", "noon.jpg", "dusk.png", "night.png"].iter().enumerate() {
        let photo = common::content_image(64 + 8 * n as u32, 48);
        photo.save(photos.join(name)).unwrap();
    }
    let out = dir.path().join("prints");
    let look = ["--style", s(&style), "--size", "48", "--iters", "6"];
    let mut cmd = on(&cluster, &["render", "--batch", s(&photos), "--out", s(&out)]);
    cmd.args(look).args(["--tasks", "2", "--submit", "slurm", "--wait", "--cpus-per-task", "1"]);
    let done = finish(&mut cmd, Duration::from_secs(120), Some(&cluster));
    assert!(done.status.success(), "{}\n{}", stderr(&done), cluster.logs());
    assert!(stderr(&done).contains("submitted 2 of 2 tasks"), "{}", stderr(&done));
    for name in ["dawn", "noon", "dusk", "night"] {
        let print = out.join(format!("{name}.png"));
        let text = std::fs::read(&print).unwrap();
        assert!(text.windows(8).any(|w| w == b"nss:sett"), "{name}.png carries its settings");
        // The same picture as a render of it on one machine.
        let photo =
            std::fs::read_dir(&photos).unwrap().map(|e| e.unwrap().path()).find(|p| p.file_stem().unwrap() == name);
        let one = dir.path().join(format!("{name}-one.png"));
        let mut cmd = common::binary();
        cmd.args(["render", "--content", s(&photo.unwrap()), "--out", s(&one)]).args(look);
        let rendered = finish(&mut cmd, Duration::from_secs(60), None);
        assert!(rendered.status.success(), "{}", stderr(&rendered));
        let (a, b) = (image::open(&print).unwrap().to_rgb8(), image::open(&one).unwrap().to_rgb8());
        assert!(a == b, "{name}: the farm's print differs from one machine's");
    }
    let status = finish(&mut on(&cluster, &["render", "--out", s(&out), "--status"]), Duration::from_secs(30), None);
    assert!(String::from_utf8_lossy(&status.stdout).contains("4 of 4 pictures; tasks: 2 done"));
}

#[test]
fn a_batch_run_again_renders_only_the_pictures_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let style = write_style(dir.path());
    let photos = dir.path().join("photos");
    std::fs::create_dir(&photos).unwrap();
    for name in ["a.png", "b.png", "c.jpg"] {
        common::content_image(48, 32).save(photos.join(name)).unwrap();
    }
    std::fs::write(photos.join("notes.txt"), "not a picture").unwrap();
    let out = dir.path().join("prints");
    let batch = |out: &Path| {
        let args = ["render", "--batch", s(&photos), "--style", s(&style), "--size", "32", "--iters", "2"];
        finish(common::binary().args(args).args(["--out", s(out)]), Duration::from_secs(60), None)
    };
    let first = batch(&out);
    assert!(first.status.success(), "{}", stderr(&first));
    let names: Vec<String> = ["a", "b", "c"].iter().map(|n| format!("{n}.png")).collect();
    assert!(names.iter().all(|n| out.join(n).is_file()), "each picture under its own name, as a PNG");
    let kept = std::fs::metadata(out.join("a.png")).unwrap().modified().unwrap();
    std::fs::remove_file(out.join("b.png")).unwrap();
    let again = batch(&out);
    assert!(again.status.success() && stderr(&again).contains("3 pictures, 2 already done"), "{}", stderr(&again));
    assert!(out.join("b.png").is_file());
    assert_eq!(std::fs::metadata(out.join("a.png")).unwrap().modified().unwrap(), kept, "a.png was rendered again");
    // Bad input: the output of another folder's batch, an output that is a file name, and a
    // folder with no pictures.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    common::content_image(48, 32).save(other.join("z.png")).unwrap();
    let args = ["render", "--batch", s(&other), "--style", s(&style), "--out", s(&out)];
    let mixed = finish(common::binary().args(args), Duration::from_secs(30), None);
    assert!(
        !mixed.status.success() && stderr(&mixed).contains("holds the batch of another folder"),
        "{}",
        stderr(&mixed)
    );
    let fails = batch(&dir.path().join("x.png"));
    assert!(!fails.status.success() && stderr(&fails).contains("give --out a folder"), "{}", stderr(&fails));
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let none = dir.path().join("none");
    let args = ["render", "--batch", s(&empty), "--style", s(&style), "--out", s(&none)];
    let nothing = finish(common::binary().args(args), Duration::from_secs(30), None);
    assert!(!nothing.status.success() && stderr(&nothing).contains("no pictures here"), "{}", stderr(&nothing));
}
