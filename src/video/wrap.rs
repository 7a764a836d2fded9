//! Loops: a clip meant to repeat (a GIF) jumps where it wraps from its last frame to its first,
//! because the first frame was rendered with nothing before it and the last one carries the
//! strokes of every frame before it. After the last frame, the first frames are rendered again
//! as if the clip went on: the first of them held to the last frame carried along the motion,
//! each next one to the one before, and pulled step by step back to its first rendering, so the
//! last one rendered again meets the frame after it (rendered the first time) without a seam.

use image::RgbImage;

/// How many first frames a loop renders again at most: enough to spread the difference
/// between the two renderings of a frame over steps smaller than the clip's own change.
pub const JOIN_FRAMES: usize = 8;

/// How many first frames a loop of `frames` frames renders again.
pub fn frames_to_join(frames: usize) -> usize {
    JOIN_FRAMES.min(frames.saturating_sub(1))
}

/// How much of its first rendering frame `i` (0-based) of the `k` rendered again keeps: none
/// at the wrap, rising evenly towards the frame after the join, which keeps it all.
pub fn share_kept(i: usize, k: usize) -> f32 {
    i as f32 / k.max(1) as f32
}

/// What a Quality frame rendered again is held to, and how strongly per pixel: the previous
/// result `carried` onto it where the motion is trusted (`reliable`), and its `first`
/// rendering with weight `share` everywhere. Per pixel the weight is `c (1 - s) + s` and the
/// target the two pictures mixed in those proportions.
pub fn join_target(carried: &RgbImage, reliable: &[f32], first: &RgbImage, share: f32) -> (RgbImage, Vec<f32>) {
    let mut target = first.clone();
    let mut weights = Vec::with_capacity(reliable.len());
    for ((t, c), &r) in target.pixels_mut().zip(carried.pixels()).zip(reliable) {
        let from_carried = r * (1.0 - share);
        let weight = from_carried + share;
        if weight > 0.0 {
            for ch in 0..3 {
                let v = (f32::from(c[ch]) * from_carried + f32::from(t[ch]) * share) / weight;
                t[ch] = v.round().clamp(0.0, 255.0) as u8;
            }
        }
        weights.push(weight);
    }
    (target, weights)
}

/// `a` mixed with `b`, `b` taking the share `t` (0..1).
pub fn mix(a: &RgbImage, b: &RgbImage, t: f32) -> RgbImage {
    let mut out = a.clone();
    for (o, q) in out.pixels_mut().zip(b.pixels()) {
        for ch in 0..3 {
            o[ch] = (f32::from(o[ch]) * (1.0 - t) + f32::from(q[ch]) * t).round() as u8;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_join_keeps_none_of_the_first_rendering_at_the_wrap_and_nearly_all_at_its_end() {
        assert_eq!(frames_to_join(1), 0);
        assert_eq!(frames_to_join(2), 1);
        assert_eq!(frames_to_join(100), JOIN_FRAMES);
        assert_eq!(share_kept(0, 8), 0.0);
        assert_eq!(share_kept(7, 8), 0.875);
    }

    #[test]
    fn the_target_follows_the_carried_picture_where_trusted_and_the_first_rendering_by_its_share() {
        let carried = RgbImage::from_pixel(3, 1, image::Rgb([200, 100, 0]));
        let first = RgbImage::from_pixel(3, 1, image::Rgb([0, 100, 200]));
        // Trusted, half trusted, not trusted; the first rendering kept at a quarter.
        let (target, weights) = join_target(&carried, &[1.0, 0.5, 0.0], &first, 0.25);
        assert_eq!(target.get_pixel(0, 0).0, [150, 100, 50]);
        assert_eq!(weights, vec![1.0, 0.625, 0.25]);
        assert_eq!(target.get_pixel(1, 0).0, [120, 100, 80]);
        assert_eq!(target.get_pixel(2, 0).0, [0, 100, 200], "untrusted: the first rendering alone");
        // At the wrap nothing of the first rendering: an untrusted pixel is free.
        let (target, weights) = join_target(&carried, &[1.0, 0.0, 0.0], &first, 0.0);
        assert_eq!(weights, vec![1.0, 0.0, 0.0]);
        assert_eq!(target.get_pixel(0, 0).0, [200, 100, 0]);
        assert_eq!(mix(&carried, &first, 0.25).get_pixel(0, 0).0, [150, 100, 50]);
    }
}
