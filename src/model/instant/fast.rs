//! CPU fast path of the transformer, on channels-last buffers. A k x k convolution is k `gemm`
//! calls that read the reflect-padded input in place: in channels-last layout the k * cin values
//! under one kernel row are contiguous, and the next pixel's start cin further on, so the
//! patch matrix is the input itself with a row stride of cin (no im2col copy). Work is split
//! over blocks of output rows on the cores. candle's generic convolution copies a patch matrix
//! of k * k * cin values per pixel (648 for the last 9x9 layer), which made this network 8x
//! slower than onnxruntime.

use rayon::prelude::*;

/// An activation map, (h, w, c) row-major.
#[derive(Debug, Clone)]
pub(crate) struct Map {
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub data: Vec<f32>,
}

impl Map {
    /// From planes (c, h, w).
    pub(crate) fn from_planes(planes: &[f32], c: usize, h: usize, w: usize) -> Self {
        let mut data = vec![0f32; h * w * c];
        for (ch, plane) in planes.chunks_exact(h * w).enumerate() {
            for (i, &v) in plane.iter().enumerate() {
                data[i * c + ch] = v;
            }
        }
        Map { h, w, c, data }
    }

    /// As planes (c, h, w).
    pub(crate) fn to_planes(&self) -> Vec<f32> {
        let n = self.h * self.w;
        let mut planes = vec![0f32; n * self.c];
        for (i, px) in self.data.chunks_exact(self.c).enumerate() {
            for (ch, &v) in px.iter().enumerate() {
                planes[ch * n + i] = v;
            }
        }
        planes
    }

    /// This map upsampled `up` times (nearest neighbour), then reflect-padded by `pad` on every
    /// side, in one pass.
    pub(crate) fn padded(&self, pad: usize, up: usize) -> Map {
        let (h, w, c) = (self.h * up, self.w * up, self.c);
        let (hp, wp) = (h + 2 * pad, w + 2 * pad);
        let reflect = |i: usize, n: usize| -> usize {
            let i = i as isize - pad as isize;
            let r = if i < 0 {
                -i
            } else if i >= n as isize {
                2 * (n as isize - 1) - i
            } else {
                i
            };
            r.clamp(0, n as isize - 1) as usize
        };
        let cols: Vec<usize> = (0..wp).map(|x| reflect(x, w) / up).collect();
        let mut data = vec![0f32; hp * wp * c];
        data.par_chunks_mut(wp * c).enumerate().for_each(|(y, row)| {
            let src = &self.data[(reflect(y, h) / up) * self.w * c..][..self.w * c];
            for (dst, &sx) in row.chunks_exact_mut(c).zip(&cols) {
                dst.copy_from_slice(&src[sx * c..sx * c + c]);
            }
        });
        Map { h: hp, w: wp, c, data }
    }
}

/// Zero padding by TensorFlow's SAME rule for a k x k kernel at `stride`: the output side is
/// ceil(side / stride), an odd total going to the bottom and right.
pub(crate) fn same_padded(x: &Map, k: usize, stride: usize) -> Map {
    let (th, tw) = (same_total(x.h, k, stride), same_total(x.w, k, stride));
    let (top, left) = (th / 2, tw / 2);
    let (hp, wp, c) = (x.h + th, x.w + tw, x.c);
    let mut data = vec![0f32; hp * wp * c];
    for (y, src) in x.data.chunks_exact(x.w * c).enumerate() {
        data[((y + top) * wp + left) * c..][..x.w * c].copy_from_slice(src);
    }
    Map { h: hp, w: wp, c, data }
}

/// The SAME rule's total padding of a side of `n` for a k-wide kernel at `stride`.
fn same_total(n: usize, k: usize, stride: usize) -> usize {
    ((n.div_ceil(stride) - 1) * stride + k).saturating_sub(n)
}

/// A 3x3 depthwise convolution (one kernel per channel): weights (9, c), bias (c).
#[derive(Debug, Clone)]
pub(crate) struct Depthwise {
    stride: usize,
    taps: Vec<f32>,
    bias: Vec<f32>,
}

impl Depthwise {
    /// From (c, 1, 3, 3) weights and (c) bias.
    pub(crate) fn new(weight: &[f32], bias: Vec<f32>, stride: usize) -> Self {
        let c = bias.len();
        let mut taps = vec![0f32; 9 * c];
        for ch in 0..c {
            for t in 0..9 {
                taps[t * c + ch] = weight[ch * 9 + t];
            }
        }
        Depthwise { stride, taps, bias }
    }

    /// Depthwise convolution with TensorFlow's SAME zero padding (see [`same_padded`]), plus
    /// bias, then ReLU6. Taps that fall in the padding are skipped rather than read from a
    /// padded copy: on the style network's 6x-expanded maps the copy cost as much as the taps.
    pub(crate) fn forward_same_relu6(&self, x: &Map) -> Map {
        let (s, c) = (self.stride, x.c);
        let (ho, wo) = (x.h.div_ceil(s), x.w.div_ceil(s));
        let top = same_total(x.h, 3, s) / 2;
        let left = same_total(x.w, 3, s) / 2;
        let mut out = vec![0f32; ho * wo * c];
        out.par_chunks_mut(wo * c).enumerate().for_each(|(y, row)| self.row_same_relu6(x, y, row, (top, left)));
        Map { h: ho, w: wo, c, data: out }
    }

    /// Output row `y` of [`Self::forward_same_relu6`] into `row`, the padding `(top, left)`:
    /// compiled for AVX2 with fused multiply-adds where the CPU has them (1.5x faster than the
    /// SSE2 build measured on the style network's depthwise layers), else for any x86-64.
    fn row_same_relu6(&self, x: &Map, y: usize, row: &mut [f32], pad: (usize, usize)) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has AVX2 and FMA, checked just above.
            return unsafe { self.row_same_relu6_fma(x, y, row, pad) };
        }
        self.row_same_relu6_in::<false>(x, y, row, pad);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn row_same_relu6_fma(&self, x: &Map, y: usize, row: &mut [f32], pad: (usize, usize)) {
        self.row_same_relu6_in::<true>(x, y, row, pad);
    }

    /// The row's maths; `FUSED` uses `mul_add`, which is only fast where FMA is compiled in.
    #[inline(always)]
    fn row_same_relu6_in<const FUSED: bool>(&self, x: &Map, y: usize, row: &mut [f32], (top, left): (usize, usize)) {
        let (s, c) = (self.stride, x.c);
        for (xo, px) in row.chunks_exact_mut(c).enumerate() {
            px.copy_from_slice(&self.bias);
            for ky in 0..3 {
                let Some(iy) = (y * s + ky).checked_sub(top).filter(|&iy| iy < x.h) else { continue };
                for kx in 0..3 {
                    let Some(ix) = (xo * s + kx).checked_sub(left).filter(|&ix| ix < x.w) else { continue };
                    let src = &x.data[(iy * x.w + ix) * c..][..c];
                    let tap = &self.taps[(ky * 3 + kx) * c..][..c];
                    for ((o, &v), &t) in px.iter_mut().zip(src).zip(tap) {
                        *o = if FUSED { v.mul_add(t, *o) } else { *o + v * t };
                    }
                }
            }
            for o in px.iter_mut() {
                *o = o.clamp(0.0, 6.0);
            }
        }
    }
}

/// A k x k convolution's weights as k matrices (k * cin, cout), one per kernel row: row index
/// kx * cin + ci.
#[derive(Debug, Clone)]
pub(crate) struct PackedKxk {
    k: usize,
    cin: usize,
    cout: usize,
    stride: usize,
    rows: Vec<f32>,
    bias: Vec<f32>,
}

impl PackedKxk {
    /// From (cout, cin, k, k) weights and (cout) bias.
    pub(crate) fn new(oihw: &[f32], bias: Vec<f32>, (cin, cout, k): (usize, usize, usize), stride: usize) -> Self {
        let mut rows = vec![0f32; k * k * cin * cout];
        for co in 0..cout {
            for ci in 0..cin {
                for ky in 0..k {
                    for kx in 0..k {
                        rows[((ky * k + kx) * cin + ci) * cout + co] = oihw[((co * cin + ci) * k + ky) * k + kx];
                    }
                }
            }
        }
        PackedKxk { k, cin, cout, stride, rows, bias }
    }

    /// VALID convolution of an already padded map, plus bias.
    pub(crate) fn forward(&self, x: &Map) -> Map {
        self.forward_clamped(x, f32::NEG_INFINITY, f32::INFINITY)
    }

    /// [`Self::forward`] with every output clamped to `lo..=hi` in the same pass (ReLU is
    /// `0..=inf`, ReLU6 `0..=6`): one pass over the output fewer.
    pub(crate) fn forward_clamped(&self, x: &Map, lo: f32, hi: f32) -> Map {
        debug_assert_eq!(x.c, self.cin);
        let (k, s, cin, cout) = (self.k, self.stride, self.cin, self.cout);
        let (ho, wo) = ((x.h - k) / s + 1, (x.w - k) / s + 1);
        let mut out = vec![0f32; ho * wo * cout];
        // Blocks of output rows: two per core where the map is large, but at least 1024 pixels
        // each (gemm packs the weights again for every call: on the style network's 8x8 maps,
        // splitting made packing the larger part of the work) and at most 4096 (cache-sized).
        let per_block = (ho * wo / (2 * rayon::current_num_threads())).clamp(1024, 4096);
        // A 1x1 convolution's block is one gemm call: at 32 KB of output (L1-sized) its bias
        // and clamp pass reads what gemm just wrote from L1 instead of the 6x-expanded map
        // from memory. Measured on the style network: 30% less time than 4096-pixel blocks.
        let per_block = if k == 1 { (8192 / cout).clamp(16, per_block) } else { per_block };
        let rows_per_block = per_block.div_ceil(wo).clamp(1, ho);
        let krow = k * cin;
        out.par_chunks_mut(rows_per_block * wo * cout).enumerate().for_each(|(b, dst)| {
            let y0 = b * rows_per_block;
            let rows = dst.len() / (wo * cout);
            if k == 1 && s == 1 {
                // A 1x1 convolution is one gemm straight into the output.
                let lhs = &x.data[y0 * x.w * cin..];
                gemm_acc(dst, lhs, cin, &self.rows, rows * wo, cin, cout, false);
            } else if s == 1 {
                // Outputs on the padded width (the last k-1 columns of each row are discarded),
                // so that pixel p of the block reads at (p + ky * w) * cin for every row.
                let m = rows * x.w - (k - 1);
                let mut full = vec![0f32; rows * x.w * cout];
                for ky in 0..k {
                    let lhs = &x.data[(y0 + ky) * x.w * cin..];
                    gemm_acc(&mut full, lhs, cin, &self.rows[ky * krow * cout..][..krow * cout], m, krow, cout, ky > 0);
                }
                for (r, dst_row) in dst.chunks_exact_mut(wo * cout).enumerate() {
                    dst_row.copy_from_slice(&full[r * x.w * cout..][..wo * cout]);
                }
            } else {
                for (r, dst_row) in dst.chunks_exact_mut(wo * cout).enumerate() {
                    for ky in 0..k {
                        let lhs = &x.data[((y0 + r) * s + ky) * x.w * cin..];
                        let rhs = &self.rows[ky * krow * cout..][..krow * cout];
                        gemm_acc(dst_row, lhs, s * cin, rhs, wo, krow, cout, ky > 0);
                    }
                }
            }
            for px in dst.chunks_exact_mut(cout) {
                for (v, b) in px.iter_mut().zip(&self.bias) {
                    *v = (*v + b).clamp(lo, hi);
                }
            }
        });
        Map { h: ho, w: wo, c: cout, data: out }
    }
}

/// `dst (m x n) (+)= lhs (m x k, row stride lhs_rs, column stride 1) * rhs (k x n)`, row-major,
/// on the calling thread; rows of `lhs` may overlap.
#[allow(clippy::too_many_arguments)]
fn gemm_acc(dst: &mut [f32], lhs: &[f32], lhs_rs: usize, rhs: &[f32], m: usize, k: usize, n: usize, accumulate: bool) {
    assert!(dst.len() >= m * n && rhs.len() == k * n && m > 0);
    assert!(lhs.len() >= (m - 1) * lhs_rs + k, "patch rows run past the input");
    // SAFETY: the asserts above bound every element gemm reads (lhs row i spans
    // i * lhs_rs .. i * lhs_rs + k) and writes (dst rows 0..m of n); dst is a distinct mutable
    // borrow, so it does not overlap the inputs.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.as_ptr(),
            1,
            lhs_rs as isize,
            rhs.as_ptr(),
            1,
            n as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// What follows an instance norm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum After {
    Relu,
    Sigmoid,
    Nothing,
}

/// Instance norm in place with per-channel `scale` and `offset`, then `after`.
pub(crate) fn instance_norm(x: &mut Map, scale: &[f32], offset: &[f32], eps: f64, after: After) {
    let c = x.c;
    let n = (x.h * x.w) as f64;
    let mut sum = vec![0f64; c];
    for px in x.data.chunks_exact(c) {
        for (s, &v) in sum.iter_mut().zip(px) {
            *s += f64::from(v);
        }
    }
    let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
    let mut var = vec![0f64; c];
    for px in x.data.chunks_exact(c) {
        for ((s, &v), m) in var.iter_mut().zip(px).zip(&mean) {
            *s += (f64::from(v) - m).powi(2);
        }
    }
    let gain: Vec<f32> = var.iter().zip(scale).map(|(v, &g)| (f64::from(g) / (v / n + eps).sqrt()) as f32).collect();
    let shift: Vec<f32> = mean.iter().zip(&gain).zip(offset).map(|((m, g), o)| o - (*m as f32) * g).collect();
    x.data.par_chunks_mut(c * 1024).for_each(|chunk| {
        for px in chunk.chunks_exact_mut(c) {
            for ((v, g), b) in px.iter_mut().zip(&gain).zip(&shift) {
                let y = *v * g + b;
                *v = match after {
                    After::Relu => y.max(0.0),
                    After::Sigmoid => 1.0 / (1.0 + (-y).exp()),
                    After::Nothing => y,
                };
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_convolution_gives_the_same_bits_on_any_number_of_cores() {
        // A farm task on one core must paint the frames of a render on many: the blocks of
        // output rows change with the cores, each output's sum must not.
        let values = |n: usize, seed: u32| -> Vec<f32> {
            (0..n)
                .map(|i| ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) >> 8) as f32 / 16_777_216.0 - 0.5)
                .collect()
        };
        for (k, stride, cin, cout, side) in [(3, 1, 16, 32, 70), (1, 1, 32, 16, 90), (3, 2, 8, 16, 81)] {
            let conv = PackedKxk::new(&values(cout * cin * k * k, 1), values(cout, 2), (cin, cout, k), stride);
            let x = Map { h: side, w: side + 13, c: cin, data: values(side * (side + 13) * cin, 3) };
            let on = |threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                pool.install(|| conv.forward(&x)).data
            };
            let one = on(1);
            for threads in [2, 3, 8] {
                let other = on(threads);
                assert!(other.iter().zip(&one).all(|(a, b)| a.to_bits() == b.to_bits()), "k {k} on {threads} threads");
            }
        }
    }

    #[test]
    fn padding_reflects_and_upsampling_repeats() {
        let x = Map { h: 1, w: 3, c: 1, data: vec![1., 2., 3.] };
        assert_eq!(x.padded(0, 2).data, vec![1., 1., 2., 2., 3., 3., 1., 1., 2., 2., 3., 3.]);
        let p = x.padded(2, 1);
        assert_eq!((p.h, p.w), (5, 7));
        assert_eq!(&p.data[14..21], &[3., 2., 1., 2., 3., 2., 1.]);
    }
}
