//! 2x2 max- and scaled average pooling on channels-last (HWC) activations, and their gradients.

use rayon::prelude::*;

/// 2x2/stride-2 max-pool (floor mode) of (h, w, c) into (h/2, w/2, c).
pub fn max_pool(input: &[f32], h: usize, w: usize, c: usize, out: &mut [f32]) {
    let (h2, w2) = (h / 2, w / 2);
    debug_assert_eq!(out.len(), h2 * w2 * c);
    out.par_chunks_mut(w2 * c).enumerate().for_each(|(y, row)| {
        for x in 0..w2 {
            let at = |dy: usize, dx: usize| ((2 * y + dy) * w + 2 * x + dx) * c;
            let (a, b, d, e) = (at(0, 0), at(0, 1), at(1, 0), at(1, 1));
            for ch in 0..c {
                row[x * c + ch] = input[a + ch].max(input[b + ch]).max(input[d + ch]).max(input[e + ch]);
            }
        }
    });
}

/// Gradient of [`max_pool`] into `out` (h, w, c), which must be zero: each output gradient goes
/// to the first maximum of its window (torch's rule); rows/columns dropped by floor mode stay 0.
/// With `relu_input` the input is a ReLU's output and that ReLU's backward is fused in: a window
/// whose maximum is 0 passes no gradient.
pub fn max_pool_backward(
    input: &[f32],
    (h, w, c): (usize, usize, usize),
    relu_input: bool,
    grad: &[f32],
    out: &mut [f32],
) {
    let (h2, w2) = (h / 2, w / 2);
    debug_assert_eq!(out.len(), h * w * c);
    // Each output row pair 2y, 2y+1 is written by exactly one pooled row.
    out.par_chunks_mut(2 * w * c).take(h2).enumerate().for_each(|(y, rows)| {
        for x in 0..w2 {
            for ch in 0..c {
                let g = grad[(y * w2 + x) * c + ch];
                let mut best = (0, 0);
                let mut max = f32::NEG_INFINITY;
                for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                    let v = input[((2 * y + dy) * w + 2 * x + dx) * c + ch];
                    if v > max {
                        max = v;
                        best = (dy, dx);
                    }
                }
                if !(relu_input && max <= 0.0) {
                    rows[(best.0 * w + 2 * x + best.1) * c + ch] = g;
                }
            }
        }
    });
}

/// 2x2/stride-2 average pool (floor mode) of (h, w, c) into (h/2, w/2, c), times `scale`.
pub fn avg_pool(input: &[f32], h: usize, w: usize, c: usize, scale: f32, out: &mut [f32]) {
    let (h2, w2) = (h / 2, w / 2);
    debug_assert_eq!(out.len(), h2 * w2 * c);
    let k = scale / 4.0;
    out.par_chunks_mut(w2 * c).enumerate().for_each(|(y, row)| {
        for x in 0..w2 {
            let at = |dy: usize, dx: usize| ((2 * y + dy) * w + 2 * x + dx) * c;
            let (a, b, d, e) = (at(0, 0), at(0, 1), at(1, 0), at(1, 1));
            for ch in 0..c {
                row[x * c + ch] = (input[a + ch] + input[b + ch] + input[d + ch] + input[e + ch]) * k;
            }
        }
    });
}

/// Gradient of [`avg_pool`] into `out` (h, w, c), which must be zero: each output gradient
/// times `scale / 4` to the four positions of its window. With `relu_input` the input is a
/// ReLU's output and that ReLU's backward is fused in: positions whose value is 0 get nothing.
pub fn avg_pool_backward(
    input: &[f32],
    (h, w, c): (usize, usize, usize),
    relu_input: bool,
    scale: f32,
    grad: &[f32],
    out: &mut [f32],
) {
    let (h2, w2) = (h / 2, w / 2);
    debug_assert_eq!(out.len(), h * w * c);
    let k = scale / 4.0;
    out.par_chunks_mut(2 * w * c).take(h2).enumerate().for_each(|(y, rows)| {
        for x in 0..w2 {
            for ch in 0..c {
                let g = grad[(y * w2 + x) * c + ch] * k;
                for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                    let at = (dy * w + 2 * x + dx) * c + ch;
                    if !(relu_input && input[((2 * y + dy) * w + 2 * x + dx) * c + ch] <= 0.0) {
                        rows[at] = g;
                    }
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_pool_backward_routes_to_the_first_maximum() {
        // (h, w, c) = (3, 3, 1); floor mode drops the last row and column.
        let x = [1f32, 5., 9., 5., 2., 9., 9., 9., 9.];
        let mut pooled = [0f32];
        max_pool(&x, 3, 3, 1, &mut pooled);
        assert_eq!(pooled, [5.]);
        let mut g = [0f32; 9];
        max_pool_backward(&x, (3, 3, 1), false, &[2.], &mut g);
        assert_eq!(g, [0., 2., 0., 0., 0., 0., 0., 0., 0.]);
    }

    #[test]
    fn max_pool_backward_after_relu_drops_windows_whose_maximum_is_zero() {
        // Two 2x2 windows side by side: one all zero (dead ReLUs), one with a positive maximum.
        let x = [0f32, 0., 0., 3., 0., 0., 1., 0.];
        let mut g = [0f32; 8];
        max_pool_backward(&x, (2, 4, 1), true, &[5., 7.], &mut g);
        assert_eq!(g, [0., 0., 0., 7., 0., 0., 0., 0.]);
        let mut g = [0f32; 8];
        max_pool_backward(&x, (2, 4, 1), false, &[5., 7.], &mut g);
        assert_eq!(g, [5., 0., 0., 7., 0., 0., 0., 0.]);
    }

    #[test]
    fn avg_pool_backward_spreads_to_the_window_and_skips_dead_relus() {
        // One 2x2 window (floor mode drops the third column) with one dead ReLU.
        let x = [1f32, 0., 7., 3., 5., 7.];
        let mut pooled = [0f32];
        avg_pool(&x, 2, 3, 1, 2.0, &mut pooled);
        assert_eq!(pooled, [4.5]);
        let mut g = [0f32; 6];
        avg_pool_backward(&x, (2, 3, 1), true, 2.0, &[4.], &mut g);
        assert_eq!(g, [2., 0., 0., 2., 2., 0.]);
        let mut g = [0f32; 6];
        avg_pool_backward(&x, (2, 3, 1), false, 2.0, &[4.], &mut g);
        assert_eq!(g, [2., 2., 0., 2., 2., 0.]);
    }
}
