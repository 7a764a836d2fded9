//! Dense optical flow between two frames: coarse-to-fine, iterated Lucas-Kanade over a window
//! at every pixel (in the manner of Farnebäck's and DIS's pyramids). At each level of a
//! Gaussian pyramid, from the coarsest, the second frame is warped by the flow so far and the
//! remaining motion is solved from the windowed structure tensor, a few times over; the flow is
//! then doubled onto the next finer level. A small damping keeps flat regions at the coarser
//! level's motion instead of amplifying noise.

use rayon::prelude::*;

/// A grey picture, one f32 per pixel (0..1), row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Gray {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// The pixels.
    pub data: Vec<f32>,
}

impl Gray {
    /// The luma (Rec. 601) of an RGB picture.
    pub fn from_rgb(rgb: &image::RgbImage) -> Self {
        let data = rgb
            .pixels()
            .map(|p| (0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2])) / 255.0)
            .collect();
        Gray { width: rgb.width() as usize, height: rgb.height() as usize, data }
    }

    /// The pixel at (x, y), with coordinates clamped to the picture.
    fn at(&self, x: isize, y: isize) -> f32 {
        at(&self.data, self.width, self.height, x, y)
    }

    /// Bilinear sample at (x, y), clamped to the picture's edge.
    pub fn sample(&self, x: f32, y: f32) -> f32 {
        bilinear(&self.data, self.width, self.height, x, y)
    }

    /// Blurred with the binomial kernel [1 4 6 4 1]/16 along both axes.
    fn blur(&self) -> Gray {
        const K: [f32; 5] = [1.0 / 16.0, 4.0 / 16.0, 6.0 / 16.0, 4.0 / 16.0, 1.0 / 16.0];
        let (w, h) = (self.width, self.height);
        let mut rows = vec![0.0; w * h];
        rows.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
            for (x, out) in row.iter_mut().enumerate() {
                *out = (0..5).map(|k| K[k] * self.at(x as isize + k as isize - 2, y as isize)).sum();
            }
        });
        let rows = Gray { width: w, height: h, data: rows };
        let mut data = vec![0.0; w * h];
        data.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
            for (x, out) in row.iter_mut().enumerate() {
                *out = (0..5).map(|k| K[k] * rows.at(x as isize, y as isize + k as isize - 2)).sum();
            }
        });
        Gray { width: w, height: h, data }
    }

    /// Half the size (blurred, then every other pixel).
    fn half(&self) -> Gray {
        let blurred = self.blur();
        let (w, h) = (self.width.div_ceil(2), self.height.div_ceil(2));
        let data = (0..w * h).map(|i| blurred.data[(i / w) * 2 * self.width + (i % w) * 2]).collect();
        Gray { width: w, height: h, data }
    }
}

/// A displacement per pixel: pixel (x, y) of the first frame is at (x + u, y + v) in the second.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Horizontal displacement, row-major.
    pub u: Vec<f32>,
    /// Vertical displacement, row-major.
    pub v: Vec<f32>,
}

impl Flow {
    /// No motion.
    pub fn zero(width: usize, height: usize) -> Self {
        Flow { width, height, u: vec![0.0; width * height], v: vec![0.0; width * height] }
    }

    /// Bilinear sample of (u, v) at (x, y), clamped to the edge.
    pub fn sample(&self, x: f32, y: f32) -> (f32, f32) {
        (bilinear(&self.u, self.width, self.height, x, y), bilinear(&self.v, self.width, self.height, x, y))
    }

    /// This flow on a grid twice as fine (`width` x `height`), its vectors doubled.
    fn upsample(&self, width: usize, height: usize) -> Flow {
        let sx = self.width as f32 / width as f32;
        let sy = self.height as f32 / height as f32;
        let mut out = Flow::zero(width, height);
        for y in 0..height {
            for x in 0..width {
                // Pixel centres line up: x_coarse = (x + 0.5) * s - 0.5.
                let (u, v) = self.sample((x as f32 + 0.5) * sx - 0.5, (y as f32 + 0.5) * sy - 0.5);
                out.u[y * width + x] = u / sx;
                out.v[y * width + x] = v / sy;
            }
        }
        out
    }
}

/// The value of a row-major `w` x `h` field at (x, y), coordinates clamped to the field.
fn at(field: &[f32], w: usize, h: usize, x: isize, y: isize) -> f32 {
    field[y.clamp(0, h as isize - 1) as usize * w + x.clamp(0, w as isize - 1) as usize]
}

/// Bilinear sample of a row-major `w` x `h` field at (x, y), clamped to its edge.
pub fn bilinear(field: &[f32], w: usize, h: usize, x: f32, y: f32) -> f32 {
    let x = x.clamp(0.0, (w - 1) as f32);
    let y = y.clamp(0.0, (h - 1) as f32);
    let (x0, y0) = (x.floor() as isize, y.floor() as isize);
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let top = at(field, w, h, x0, y0) * (1.0 - fx) + at(field, w, h, x0 + 1, y0) * fx;
    let bottom = at(field, w, h, x0, y0 + 1) * (1.0 - fx) + at(field, w, h, x0 + 1, y0 + 1) * fx;
    top * (1.0 - fy) + bottom * fy
}

/// How the flow is estimated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlowParams {
    /// Half-width of the (triangular) window each pixel's motion is solved over.
    pub radius: usize,
    /// Warp-and-solve rounds at each pyramid level.
    pub iterations: usize,
    /// The coarsest level's shorter side is at least this many pixels.
    pub coarsest: usize,
    /// Damping per window pixel, in squared gradient units: how much texture a window needs
    /// before it moves away from the coarser level's motion.
    pub damping: f32,
}

impl Default for FlowParams {
    fn default() -> Self {
        FlowParams { radius: 6, iterations: 3, coarsest: 16, damping: 1e-5 }
    }
}

/// The flow from `a` to `b` (same size): where each pixel of `a` is in `b`.
pub fn flow(a: &Gray, b: &Gray, params: &FlowParams) -> Flow {
    let mut pyramid = vec![(a.blur(), b.blur())];
    while let Some((a, b)) = pyramid.last() {
        if a.width.min(a.height) / 2 < params.coarsest {
            break;
        }
        let next = (a.half(), b.half());
        pyramid.push(next);
    }
    let mut flow: Option<Flow> = None;
    for (a, b) in pyramid.iter().rev() {
        let mut f = match flow {
            Some(coarse) => coarse.upsample(a.width, a.height),
            None => Flow::zero(a.width, a.height),
        };
        for _ in 0..params.iterations {
            refine(a, b, &mut f, params);
            // A median after each round keeps a window that solved badly (too little texture,
            // an occlusion) from spreading its error to its neighbours' warps (Sun, Roth and
            // Black, "Secrets of optical flow estimation").
            f = median(&f);
        }
        flow = Some(f);
    }
    flow.unwrap_or_else(|| Flow::zero(a.width, a.height))
}

/// One Lucas-Kanade round: warps `b` by `f`, solves each pixel's remaining motion from the
/// windowed structure tensor and adds it to `f`.
fn refine(a: &Gray, b: &Gray, f: &mut Flow, params: &FlowParams) {
    let (w, h) = (a.width, a.height);
    let warped = warp_gray(b, f);
    // Per pixel: Ixx, Ixy, Iyy, Ixt, Iyt, with the gradient averaged over both frames; a pixel
    // whose match is outside the second frame says nothing.
    let mut products = vec![[0.0f32; 5]; w * h];
    products.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        for (x, p) in row.iter_mut().enumerate() {
            let i = y * w + x;
            let (tx, ty) = (x as f32 + f.u[i], y as f32 + f.v[i]);
            if tx < 0.0 || ty < 0.0 || tx > (w - 1) as f32 || ty > (h - 1) as f32 {
                continue;
            }
            let (x, y) = (x as isize, y as isize);
            let ix = 0.25 * (a.at(x + 1, y) - a.at(x - 1, y) + warped.at(x + 1, y) - warped.at(x - 1, y));
            let iy = 0.25 * (a.at(x, y + 1) - a.at(x, y - 1) + warped.at(x, y + 1) - warped.at(x, y - 1));
            let it = warped.at(x, y) - a.at(x, y);
            *p = [ix * ix, ix * iy, iy * iy, ix * it, iy * it];
        }
    });
    // A triangular window (a box twice): unlike a box, its frequency response is never
    // negative, so repeated rounds damp the flow's ripples instead of amplifying them.
    let half = (params.radius / 2).max(1);
    let sums = box_sum(&box_sum(&products, w, h, half), w, h, half);
    let n = ((2 * half + 1) as f32).powi(4);
    let damping = params.damping * n;
    for (i, s) in sums.iter().enumerate() {
        let (xx, xy, yy) = (s[0] + damping, s[1], s[2] + damping);
        let det = xx * yy - xy * xy;
        if det <= f32::EPSILON {
            continue;
        }
        // At most a pixel per round: the coarser level found the rest.
        let du = (-(yy * s[3] - xy * s[4]) / det).clamp(-1.0, 1.0);
        let dv = (-(xx * s[4] - xy * s[3]) / det).clamp(-1.0, 1.0);
        f.u[i] += du;
        f.v[i] += dv;
    }
}

/// Each component's median over the 3x3 neighbourhood (edges replicated).
fn median(f: &Flow) -> Flow {
    let (w, h) = (f.width, f.height);
    let filter = |field: &[f32]| {
        let mut out = vec![0.0; w * h];
        out.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
            for (x, o) in row.iter_mut().enumerate() {
                let mut n = [0.0f32; 9];
                for (k, v) in n.iter_mut().enumerate() {
                    *v = at(field, w, h, x as isize + (k % 3) as isize - 1, y as isize + (k / 3) as isize - 1);
                }
                n.sort_unstable_by(f32::total_cmp);
                *o = n[4];
            }
        });
        out
    };
    Flow { width: w, height: h, u: filter(&f.u), v: filter(&f.v) }
}

/// Each pixel's sum over the (2r+1)^2 window around it (edges replicated), by running sums.
fn box_sum(values: &[[f32; 5]], w: usize, h: usize, r: usize) -> Vec<[f32; 5]> {
    let add = |acc: &mut [f32; 5], v: &[f32; 5], sign: f32| {
        for (a, v) in acc.iter_mut().zip(v) {
            *a += sign * v;
        }
    };
    let r = r as isize;
    let clamp = |i: isize, n: usize| i.clamp(0, n as isize - 1) as usize;
    let mut rows = vec![[0.0f32; 5]; w * h];
    rows.par_chunks_mut(w).enumerate().for_each(|(y, out)| {
        let line = &values[y * w..(y + 1) * w];
        let mut acc = [0.0f32; 5];
        for k in -r..=r {
            add(&mut acc, &line[clamp(k, w)], 1.0);
        }
        for (x, o) in out.iter_mut().enumerate() {
            *o = acc;
            let x = x as isize;
            add(&mut acc, &line[clamp(x + r + 1, w)], 1.0);
            add(&mut acc, &line[clamp(x - r, w)], -1.0);
        }
    });
    let mut out = vec![[0.0f32; 5]; w * h];
    // Columns: one running sum per column, walking down the rows.
    let mut acc = vec![[0.0f32; 5]; w];
    for k in -r..=r {
        let row = clamp(k, h);
        for x in 0..w {
            add(&mut acc[x], &rows[row * w + x], 1.0);
        }
    }
    for y in 0..h {
        out[y * w..(y + 1) * w].copy_from_slice(&acc);
        let (enter, leave) = (clamp(y as isize + r + 1, h), clamp(y as isize - r, h));
        for x in 0..w {
            add(&mut acc[x], &rows[enter * w + x], 1.0);
            add(&mut acc[x], &rows[leave * w + x], -1.0);
        }
    }
    out
}

/// `b` sampled where `f` points: the picture of `b` brought into the first frame's place.
pub fn warp_gray(b: &Gray, f: &Flow) -> Gray {
    let (w, h) = (f.width, f.height);
    let mut data = vec![0.0; w * h];
    data.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        for (x, out) in row.iter_mut().enumerate() {
            let i = y * w + x;
            *out = b.sample(x as f32 + f.u[i], y as f32 + f.v[i]);
        }
    });
    Gray { width: w, height: h, data }
}

/// Where the flow `back` (from frame t to frame t-1) can be trusted, from its agreement with
/// `forward` (from t-1 to t), in the manner of Ruder et al.: 0 where a pixel of frame t was
/// hidden in frame t-1 (the two flows do not return to the start), where it comes from outside
/// the frame, or on a motion boundary; 1 elsewhere.
pub fn reliability(back: &Flow, forward: &Flow) -> Vec<f32> {
    let (w, h) = (back.width, back.height);
    let mut out = vec![0.0; w * h];
    out.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        for (x, out) in row.iter_mut().enumerate() {
            let i = y * w + x;
            let (bu, bv) = (back.u[i], back.v[i]);
            let (tx, ty) = (x as f32 + bu, y as f32 + bv);
            if tx < 0.0 || ty < 0.0 || tx > (w - 1) as f32 || ty > (h - 1) as f32 {
                continue;
            }
            let (fu, fv) = forward.sample(tx, ty);
            let (su, sv) = (bu + fu, bv + fv);
            let occluded = su * su + sv * sv > 0.01 * (bu * bu + bv * bv + fu * fu + fv * fv) + 0.5;
            let at = |x: usize, y: usize| (back.u[y * w + x], back.v[y * w + x]);
            let (ux, vx) = if x + 1 < w { at(x + 1, y) } else { (bu, bv) };
            let (uy, vy) = if y + 1 < h { at(x, y + 1) } else { (bu, bv) };
            let gradient = (ux - bu).powi(2) + (vx - bv).powi(2) + (uy - bu).powi(2) + (vy - bv).powi(2);
            let boundary = gradient > 0.01 * (bu * bu + bv * bv) + 0.002;
            *out = if occluded || boundary { 0.0 } else { 1.0 };
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_sums_match_a_direct_sum() {
        let (w, h, r) = (7, 5, 2);
        let values: Vec<[f32; 5]> = (0..w * h).map(|i| [i as f32, 1.0, 0.0, 0.0, (i % 3) as f32]).collect();
        let sums = box_sum(&values, w, h, r);
        for y in 0..h {
            for x in 0..w {
                let mut want = [0.0f32; 5];
                for dy in -(r as isize)..=r as isize {
                    for dx in -(r as isize)..=r as isize {
                        let xx = (x as isize + dx).clamp(0, w as isize - 1) as usize;
                        let yy = (y as isize + dy).clamp(0, h as isize - 1) as usize;
                        for (k, v) in want.iter_mut().enumerate() {
                            *v += values[yy * w + xx][k];
                        }
                    }
                }
                for k in 0..5 {
                    assert!((sums[y * w + x][k] - want[k]).abs() < 1e-3, "({x},{y})[{k}]");
                }
            }
        }
    }
}
