//! 3x3 convolutions with few output channels (the gradient w.r.t. the RGB image: 64 -> 3) as one
//! `gemm` per block of rows followed by a 9-tap gather ("col2im").
//!
//! Winograd and im2col both pay for transforming or unfolding the wide input, which is all the
//! work when there are only 3 outputs. Here each input pixel is multiplied once by a
//! (cin x 9*cout) matrix, giving every tap's contribution, and each output sums the 9
//! contributions of its neighbours.

use rayon::prelude::*;

use super::epilogue::Epilogue;
use super::matmul::matmul;

/// Output rows per block: the products of a block (plus its two halo rows) stay cache-sized.
const BLOCK_ROWS: usize = 16;

/// A kernel packed as a (cin, 9 * cout) matrix, column index `(ky * 3 + kx) * cout + co`.
#[derive(Debug, Clone)]
pub struct ScatterKernel {
    cin: usize,
    cout: usize,
    k: Vec<f32>,
}

impl ScatterKernel {
    /// Packs an OIHW (cout, cin, 3, 3) kernel given as a flat slice.
    pub fn new(oihw: &[f32], cout: usize, cin: usize) -> Self {
        let mut k = vec![0f32; cin * 9 * cout];
        for co in 0..cout {
            for ci in 0..cin {
                for tap in 0..9 {
                    k[ci * 9 * cout + tap * cout + co] = oihw[(co * cin + ci) * 9 + tap];
                }
            }
        }
        ScatterKernel { cin, cout, k }
    }
}

/// `out = epilogue(conv3x3(input) + bias)`, stride 1, zero padding 1; `input` (h, w, cin),
/// `out` (h, w, cout).
pub fn conv3x3(
    k: &ScatterKernel,
    bias: &[f32],
    input: &[f32],
    (h, w): (usize, usize),
    epilogue: Epilogue,
    out: &mut [f32],
) {
    let (cin, cout) = (k.cin, k.cout);
    debug_assert_eq!(input.len(), h * w * cin);
    debug_assert_eq!(out.len(), h * w * cout);
    let block = BLOCK_ROWS * w * cout;
    out.par_chunks_mut(block).enumerate().for_each_init(Vec::new, |p, (b, out_block)| {
        let r0 = b * BLOCK_ROWS;
        let r1 = r0 + out_block.len() / (w * cout);
        // Products of the input rows this block reads: r0 - 1 ..= r1, clipped to the image.
        let (lo, hi) = (r0.saturating_sub(1), (r1 + 1).min(h));
        let n = (hi - lo) * w;
        p.resize(n * 9 * cout, 0.0);
        matmul(p, &input[lo * w * cin..hi * w * cin], &k.k, n, cin, 9 * cout);
        let epilogue = epilogue.slice(b * block, out_block.len());
        let mut acc = vec![0f32; cout];
        for y in r0..r1 {
            for x in 0..w {
                acc.fill(0.0);
                for ky in 0..3 {
                    let Some(sy) = (y + ky).checked_sub(1).filter(|&sy| sy < h) else { continue };
                    for kx in 0..3 {
                        let Some(sx) = (x + kx).checked_sub(1).filter(|&sx| sx < w) else { continue };
                        let at = ((sy - lo) * w + sx) * 9 * cout + (ky * 3 + kx) * cout;
                        acc.iter_mut().zip(&p[at..at + cout]).for_each(|(a, v)| *a += v);
                    }
                }
                let at = ((y - r0) * w + x) * cout;
                epilogue.finish(&mut out_block[at..at + cout], &acc, bias, at);
            }
        }
    });
}
