//! A textured scene that can be photographed under any motion: a sum of coloured Gaussian blobs
//! over a gradient, evaluated at continuous coordinates, so every frame of a generated clip is
//! exact and the true motion between frames is known.

use image::{Rgb, RgbImage};

/// Blobs scattered over a plane.
pub struct Scene {
    blobs: Vec<([f32; 2], f32, [f32; 3])>,
}

/// A camera motion about the frame's centre: the scene point at p appears at
/// `centre + zoom * R(angle) * (p - centre) + shift`.
#[derive(Debug, Clone, Copy)]
pub struct Motion {
    /// Translation in pixels.
    pub shift: (f32, f32),
    /// Scale factor.
    pub zoom: f32,
    /// Rotation in radians.
    pub angle: f32,
}

impl Motion {
    /// No motion.
    pub const STILL: Motion = Motion { shift: (0.0, 0.0), zoom: 1.0, angle: 0.0 };

    /// This motion applied `k` times.
    pub fn times(self, k: u32) -> Motion {
        Motion {
            shift: (self.shift.0 * k as f32, self.shift.1 * k as f32),
            zoom: self.zoom.powi(k as i32),
            angle: self.angle * k as f32,
        }
    }

    /// Where the scene point `p` appears, in a `w` x `h` frame.
    pub fn apply(&self, p: (f32, f32), w: u32, h: u32) -> (f32, f32) {
        let c = (w as f32 / 2.0, h as f32 / 2.0);
        let (dx, dy) = (p.0 - c.0, p.1 - c.1);
        let (s, co) = self.angle.sin_cos();
        (c.0 + self.zoom * (co * dx - s * dy) + self.shift.0, c.1 + self.zoom * (s * dx + co * dy) + self.shift.1)
    }

    /// The inverse motion: which scene point appears at `q`.
    pub fn invert(&self, q: (f32, f32), w: u32, h: u32) -> (f32, f32) {
        let c = (w as f32 / 2.0, h as f32 / 2.0);
        let (dx, dy) = ((q.0 - self.shift.0 - c.0) / self.zoom, (q.1 - self.shift.1 - c.1) / self.zoom);
        let (s, co) = self.angle.sin_cos();
        (c.0 + co * dx + s * dy, c.1 - s * dx + co * dy)
    }
}

impl Scene {
    /// `count` blobs over a `w` x `h` area (and a margin around it), from `seed`.
    pub fn new(w: u32, h: u32, count: usize, seed: u64) -> Scene {
        let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let mut next = || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 33) as f32 / (1u64 << 31) as f32
        };
        let blobs = (0..count)
            .map(|_| {
                let p = [(next() * 1.4 - 0.2) * w as f32, (next() * 1.4 - 0.2) * h as f32];
                let r = 2.0 + 8.0 * next();
                let c = [next() * 2.0 - 1.0, next() * 2.0 - 1.0, next() * 2.0 - 1.0];
                (p, r, c)
            })
            .collect();
        Scene { blobs }
    }

    /// The scene's colour at point p (0..255).
    pub fn colour(&self, p: (f32, f32)) -> [f32; 3] {
        let mut c = [110.0 + 0.1 * p.0, 120.0, 140.0 - 0.1 * p.1];
        for (q, r, k) in &self.blobs {
            let d2 = (p.0 - q[0]).powi(2) + (p.1 - q[1]).powi(2);
            if d2 > 9.0 * r * r {
                continue;
            }
            let g = (-d2 / (2.0 * r * r)).exp() * 90.0;
            for ch in 0..3 {
                c[ch] += g * k[ch];
            }
        }
        c
    }

    /// The frame seen under `motion`.
    pub fn frame(&self, w: u32, h: u32, motion: Motion) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let c = self.colour(motion.invert((x as f32, y as f32), w, h));
            Rgb(c.map(|v| v.round().clamp(0.0, 255.0) as u8))
        })
    }
}
