//! Clips: a generated clip with known motion rendered in both modes flickers less than its
//! frames stylised one by one; clips in and out keep their frames and rate; bad clips are
//! named in one line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::scene::{Motion, Scene};
use neural_style_studio::imageio::{load_rgb, resize, Picture};
use neural_style_studio::transfer::{ImageRef, Init, Job, RenderSpec, SourceImages, VideoMode};
use neural_style_studio::video::clip::ClipReader;
use neural_style_studio::video::render::ClipRender;
use neural_style_studio::video::store::ClipPlan;
use neural_style_studio::video::warp::FlickerMeter;

/// A folder of `n` frames of a textured scene panning right and zooming in, 128x96.
fn write_clip(dir: &Path, n: u32) -> PathBuf {
    let folder = dir.join("clip");
    std::fs::create_dir_all(&folder).unwrap();
    let scene = Scene::new(128, 96, 160, 11);
    let step = Motion { shift: (2.5, 0.5), zoom: 1.01, angle: 0.0 };
    for t in 0..n {
        scene.frame(128, 96, step.times(t)).save(folder.join(format!("f{t}.png"))).unwrap();
    }
    folder
}

fn spec(clip: &Path, style: &Path, mode: VideoMode) -> RenderSpec {
    let mut spec = RenderSpec::new(clip, &[style.to_path_buf()]);
    spec.size = 96;
    spec.schedule.iterations = 40;
    spec.video.mode = mode;
    spec.video.later_iterations = 15;
    spec
}

fn render(folder: &Path, spec: &RenderSpec, frames: usize) -> Vec<PathBuf> {
    let plan = ClipPlan {
        clip: spec.content_path().unwrap().to_path_buf(),
        first: 0,
        end: frames,
        fps: 0.0,
        spec: spec.clone(),
    };
    let (mut render, _) = ClipRender::start(folder, plan).unwrap();
    while !render.is_finished() {
        render.step().unwrap();
    }
    render.store().frames()
}

/// The mean warping error of `outputs` under the motion of `clip`.
fn flicker(clip: &Path, size: u32, outputs: &[PathBuf]) -> f64 {
    let mut reader = ClipReader::open(clip).unwrap();
    let dims = neural_style_studio::imageio::fit_long_side(reader.info().size, size);
    let mut meter = FlickerMeter::new();
    for out in outputs {
        meter.push(&resize(&reader.next_frame().unwrap().unwrap(), dims), &load_rgb(out).unwrap());
    }
    meter.mean().unwrap()
}

#[test]
fn the_fast_mode_flickers_at_most_a_third_as_much_as_frames_painted_one_by_one() {
    let dir = tempfile::tempdir().unwrap();
    let clip = write_clip(dir.path(), 10);
    let style = dir.path().join("style.png");
    common::style_image(128, 128).save(&style).unwrap();
    let held = spec(&clip, &style, VideoMode::Fast);
    let mut alone = held.clone();
    alone.objective.temporal_weight = 0.0;
    let e_held = flicker(&clip, 96, &render(&dir.path().join("held"), &held, 10));
    let e_alone = flicker(&clip, 96, &render(&dir.path().join("alone"), &alone, 10));
    eprintln!("fast: warping error {e_held:.2} held, {e_alone:.2} one by one");
    assert!(e_held <= 0.35 * e_alone, "{e_held:.2} vs {e_alone:.2}");
}

#[test]
fn the_quality_mode_flickers_at_most_a_third_as_much_as_frames_optimised_one_by_one() {
    let dir = tempfile::tempdir().unwrap();
    let clip = write_clip(dir.path(), 4);
    let style = dir.path().join("style.png");
    common::style_image(128, 128).save(&style).unwrap();
    let mut spec = spec(&clip, &style, VideoMode::Quality);
    spec.run.init = Init::Content;
    let held = render(&dir.path().join("held"), &spec, 4);
    // The same frames, each optimised on its own for the first frame's budget.
    let mut reader = ClipReader::open(&clip).unwrap();
    let mut job = Job::new();
    let alone_dir = dir.path().join("alone");
    std::fs::create_dir_all(&alone_dir).unwrap();
    let mut alone = Vec::new();
    for t in 0..4 {
        let frame = reader.next_frame().unwrap().unwrap();
        let sources = SourceImages::around(Picture { rgb: frame, alpha: None }, ImageRef::new(&clip), &spec).unwrap();
        job.start_frame(spec.clone(), Arc::new(sources), None).unwrap();
        while !job.is_finished() {
            job.step().unwrap();
        }
        let path = alone_dir.join(format!("{t}.png"));
        job.output().unwrap().save(&path).unwrap();
        alone.push(path);
    }
    let (e_held, e_alone) = (flicker(&clip, 96, &held), flicker(&clip, 96, &alone));
    eprintln!("quality: warping error {e_held:.2} held, {e_alone:.2} one by one");
    assert!(e_held <= 0.35 * e_alone, "{e_held:.2} vs {e_alone:.2}");
}
