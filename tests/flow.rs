//! Optical flow on generated clips with known motion: translation, zoom and rotation of a
//! textured scene, up to 8 px per frame.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::scene::{Motion, Scene};
use neural_style_studio::video::flow::{flow, reliability, FlowParams, Gray};

const W: u32 = 256;
const H: u32 = 192;

/// Average endpoint error of the estimated flow between frames 0 and 1 of `motion`, over the
/// pixels whose true match lies inside the second frame, and the largest true displacement.
fn endpoint_error(motion: Motion) -> (f32, f32) {
    let scene = Scene::new(W, H, 500, 7);
    let a = scene.frame(W, H, Motion::STILL);
    let b = scene.frame(W, H, motion);
    let f = flow(&Gray::from_rgb(&a), &Gray::from_rgb(&b), &FlowParams::default());
    let (mut sum, mut n, mut largest) = (0.0, 0usize, 0.0f32);
    for y in 0..H {
        for x in 0..W {
            let p = (x as f32, y as f32);
            let q = motion.apply(p, W, H);
            if q.0 < 0.0 || q.1 < 0.0 || q.0 > (W - 1) as f32 || q.1 > (H - 1) as f32 {
                continue;
            }
            let (tu, tv) = (q.0 - p.0, q.1 - p.1);
            let i = (y * W + x) as usize;
            sum += ((f.u[i] - tu).powi(2) + (f.v[i] - tv).powi(2)).sqrt();
            n += 1;
            largest = largest.max((tu * tu + tv * tv).sqrt());
        }
    }
    eprintln!("{motion:?}: average endpoint error {:.3} px (largest motion {largest:.1} px)", sum / n as f32);
    (sum / n as f32, largest)
}

#[test]
fn flow_of_a_translation_is_within_half_a_pixel() {
    let (epe, largest) = endpoint_error(Motion { shift: (6.0, -5.0), ..Motion::STILL });
    assert!(largest > 7.5);
    assert!(epe <= 0.5, "average endpoint error {epe:.3} px");
}

#[test]
fn flow_of_a_zoom_is_within_half_a_pixel() {
    let (epe, largest) = endpoint_error(Motion { zoom: 1.05, ..Motion::STILL });
    assert!(largest > 7.5, "{largest}");
    assert!(epe <= 0.5, "average endpoint error {epe:.3} px");
}

#[test]
fn flow_of_a_rotation_is_within_half_a_pixel() {
    let (epe, largest) = endpoint_error(Motion { angle: 2.8f32.to_radians(), ..Motion::STILL });
    assert!(largest > 7.5, "{largest}");
    assert!(epe <= 0.5, "average endpoint error {epe:.3} px");
}

#[test]
fn flow_of_still_frames_is_zero() {
    let (epe, _) = endpoint_error(Motion::STILL);
    assert!(epe < 0.05, "{epe}");
}

#[test]
fn pixels_entering_the_frame_are_unreliable_and_the_rest_reliable() {
    // A pan to the right by 6 px: the first 6 columns of frame 1 come from outside frame 0.
    let scene = Scene::new(W, H, 500, 3);
    let motion = Motion { shift: (6.0, 0.0), ..Motion::STILL };
    let (a, b) = (Gray::from_rgb(&scene.frame(W, H, Motion::STILL)), Gray::from_rgb(&scene.frame(W, H, motion)));
    let params = FlowParams::default();
    let (forward, back) = (flow(&a, &b, &params), flow(&b, &a, &params));
    let c = reliability(&back, &forward);
    let at = |x: u32, y: u32| c[(y * W + x) as usize];
    let entering: f32 = (20..H - 20).flat_map(|y| (0..4).map(move |x| (x, y))).map(|(x, y)| at(x, y)).sum();
    assert_eq!(entering, 0.0, "pixels from outside the frame marked reliable");
    let inside: Vec<f32> =
        (20..H - 20).flat_map(|y| (20..W - 20).map(move |x| (x, y))).map(|(x, y)| at(x, y)).collect();
    let share = inside.iter().sum::<f32>() / inside.len() as f32;
    assert!(share > 0.95, "only {share:.3} of the interior is reliable");
}
