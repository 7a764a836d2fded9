//! CPU fast path for the VGG trunk: activations in HWC layout (channels last, batch 1) and 3x3
//! convolutions as im2col over blocks of rows plus one `gemm` call per block, with bias and ReLU
//! fused. candle's CPU conv2d spends most of its time in a scattered im2col; here each block's
//! im2col copies contiguous channel runs and stays cache-sized, and the two cores work on
//! different blocks.

use candle_core::{Layout, Storage};
use rayon::prelude::*;

use crate::error::{Error, Result};

pub use super::epilogue::{vectorised, Epilogue};
pub use super::matmul::matmul;
pub use super::pool::{avg_pool, avg_pool_backward, max_pool, max_pool_backward};
use super::scatter::{self, ScatterKernel};
use super::winograd::{self, WinogradKernel};

/// Convolution weights packed as a (9*cin, cout) row-major matrix, row index (ky*3+kx)*cin + ci.
#[derive(Debug, Clone)]
pub struct PackedConv {
    /// Input channels.
    pub cin: usize,
    /// Output channels.
    pub cout: usize,
    /// (9*cin, cout) weights for im2col, or empty when `winograd` is used.
    weights: Vec<f32>,
    /// The kernel in the Winograd domain, for layers with enough input channels.
    winograd: Option<WinogradKernel>,
    /// The kernel as one (cin, 9*cout) matrix, for layers with few outputs.
    scatter: Option<ScatterKernel>,
    /// (cout) bias, or empty for none.
    bias: Vec<f32>,
}

/// Fewest input channels for which Winograd beats im2col (conv1_1, with 3, does not gain: its
/// products are too thin for the transforms to pay off).
const MIN_WINOGRAD_CIN: usize = 16;
/// Most output channels for which one gemm plus a 9-tap gather beats Winograd (the image
/// gradient, 64 -> 3: 25 ms -> 12 ms at 512 px).
const MAX_SCATTER_COUT: usize = 4;
/// Output tile of the Winograd variant used (see `winograd.rs`).
const WINOGRAD_TILE: usize = 4;

impl PackedConv {
    /// Packs an OIHW (cout, cin, 3, 3) kernel given as a flat slice: for a gemm and gather when
    /// it has few outputs and many inputs, for Winograd F(4x4, 3x3) when it has at least 16
    /// input channels, and for im2col otherwise.
    pub fn new(oihw: &[f32], cout: usize, cin: usize, bias: Vec<f32>) -> Self {
        if cout <= MAX_SCATTER_COUT && cin >= MIN_WINOGRAD_CIN {
            return Self::scatter(oihw, cout, cin, bias);
        }
        if cin >= MIN_WINOGRAD_CIN {
            return Self::winograd(oihw, cout, cin, bias, WINOGRAD_TILE);
        }
        Self::im2col(oihw, cout, cin, bias)
    }

    /// Packs for Winograd F(m x m, 3x3), m = 2 or 4.
    pub fn winograd(oihw: &[f32], cout: usize, cin: usize, bias: Vec<f32>, m: usize) -> Self {
        let winograd = Some(WinogradKernel::new(oihw, cout, cin, m));
        PackedConv { cin, cout, weights: Vec::new(), winograd, scatter: None, bias }
    }

    /// Packs for one gemm per block of rows and a 9-tap gather (see `scatter.rs`).
    pub fn scatter(oihw: &[f32], cout: usize, cin: usize, bias: Vec<f32>) -> Self {
        let scatter = Some(ScatterKernel::new(oihw, cout, cin));
        PackedConv { cin, cout, weights: Vec::new(), winograd: None, scatter, bias }
    }

    /// Packs for im2col + gemm whatever the channel count (the reference the Winograd path is
    /// tested against).
    pub fn im2col(oihw: &[f32], cout: usize, cin: usize, bias: Vec<f32>) -> Self {
        let mut weights = vec![0f32; 9 * cin * cout];
        for o in 0..cout {
            for i in 0..cin {
                for k in 0..9 {
                    weights[(k * cin + i) * cout + o] = oihw[(o * cin + i) * 9 + k];
                }
            }
        }
        PackedConv { cin, cout, weights, winograd: None, scatter: None, bias }
    }
}

/// Bytes of im2col scratch per block: small enough to stay in cache alongside the weights.
const BLOCK_BYTES: usize = 1 << 20;

/// `out = epilogue(conv3x3(input) + bias)`, stride 1, zero padding 1. `input` is (h, w, cin),
/// `out` (h, w, cout).
pub fn conv3x3(conv: &PackedConv, input: &[f32], h: usize, w: usize, epilogue: Epilogue, out: &mut [f32]) {
    let (cin, cout) = (conv.cin, conv.cout);
    debug_assert_eq!(input.len(), h * w * cin);
    debug_assert_eq!(out.len(), h * w * cout);
    if let Some(kernel) = &conv.winograd {
        return winograd::conv3x3(kernel, &conv.bias, input, (h, w), epilogue, out);
    }
    if let Some(kernel) = &conv.scatter {
        return scatter::conv3x3(kernel, &conv.bias, input, (h, w), epilogue, out);
    }
    let k = 9 * cin;
    let rows = (BLOCK_BYTES / (4 * w * k)).clamp(1, h);
    let block = rows * w * cout;
    out.par_chunks_mut(block).enumerate().for_each_init(Vec::new, |col, (b, out_block)| {
        let r0 = b * rows;
        let nrows = out_block.len() / (w * cout);
        im2col(input, h, w, cin, r0, nrows, col);
        matmul(out_block, col, &conv.weights, nrows * w, k, cout);
        let epilogue = epilogue.slice(b * block, out_block.len());
        let mut y = vec![0f32; cout];
        for (p, px) in out_block.chunks_exact_mut(cout).enumerate() {
            y.copy_from_slice(px);
            epilogue.finish(px, &y, &conv.bias, p * cout);
        }
    });
}

/// `n` f32 values of a CPU storage from the layout's start: the data of a contiguous (or
/// channels-last) tensor, read in place instead of copied out.
pub fn storage_f32<'a>(storage: &'a Storage, layout: &Layout, n: usize) -> Result<&'a [f32]> {
    let Storage::Cpu(cpu) = storage else {
        return Err(Error::internal("a CPU kernel got a tensor on another device"));
    };
    let start = layout.start_offset();
    cpu.as_slice::<f32>()?.get(start..start + n).ok_or_else(|| Error::internal("tensor storage too short"))
}

/// The row chunks [`xtx`] aims for.
const XTX_CHUNKS: usize = 16;

/// `X^T X` (c x c) of a row-major (rows x c) matrix: the Gram matrix of channels-last
/// activations. The sum over rows is split into chunks that the cores reduce separately (a single
/// gemm call cannot spread a 64 x 64 result over cores when rows run into the hundreds of
/// thousands).
pub fn xtx(x: &[f32], rows: usize, c: usize) -> Vec<f32> {
    debug_assert_eq!(x.len(), rows * c);
    // Chunks split by the rows alone, never by the cores: the sum's order, and so its bits, are
    // the same on every machine (a farm's task on one core renders the frames of a render on
    // many). Up to 16 chunks keep 16 cores busy; at most 8192 rows keep the partial sums in
    // cache; at least 512 keep a chunk worth its thread.
    let chunk_rows = rows.div_ceil(XTX_CHUNKS).clamp(512, 8192).min(rows).max(1);
    // The result is symmetric: only the blocks on and above the diagonal are multiplied (3 of 4
    // for 2 x 2 blocks, 10 of 16 for 4 x 4) and the others mirrored.
    let nb = match c {
        c if c >= 128 && c % 4 == 0 => 4,
        c if c >= 32 && c % 2 == 0 => 2,
        _ => 1,
    };
    let bs = c / nb;
    // Partial sums are collected in chunk order and added in that order: the result does not
    // depend on how the work was split between threads (runs stay reproducible).
    let partials: Vec<Vec<f32>> = x
        .par_chunks(chunk_rows * c)
        .map(|chunk| {
            let mut acc = vec![0f32; c * c];
            let n = chunk.len() / c;
            for bi in 0..nb {
                for bj in bi..nb {
                    // SAFETY: the chunk is n x c row-major; the lhs is its columns
                    // bi*bs..(bi+1)*bs read as a (bs x n) transpose and the rhs its columns
                    // bj*bs.. as (n x bs), both through strides that stay inside the chunk. The
                    // destination is the (bs x bs) block (bi, bj) of the c x c acc, distinct
                    // from the chunk.
                    unsafe {
                        gemm::gemm(
                            bs,
                            bs,
                            n,
                            acc.as_mut_ptr().add(bi * bs * c + bj * bs),
                            1,
                            c as isize,
                            false,
                            chunk.as_ptr().add(bi * bs),
                            c as isize,
                            1,
                            chunk.as_ptr().add(bj * bs),
                            1,
                            c as isize,
                            0.0,
                            1.0,
                            false,
                            false,
                            false,
                            gemm::Parallelism::None,
                        );
                    }
                }
            }
            acc
        })
        .collect();
    let mut sum = vec![0f32; c * c];
    for p in &partials {
        sum.iter_mut().zip(p).for_each(|(s, p)| *s += p);
    }
    // Mirror the blocks below the diagonal.
    for i in 0..c {
        for j in 0..i {
            if i / bs != j / bs {
                sum[i * c + j] = sum[j * c + i];
            }
        }
    }
    sum
}

/// Fills `col` with the (nrows*w, 9*cin) patches of rows r0..r0+nrows (zero outside the image).
fn im2col(input: &[f32], h: usize, w: usize, cin: usize, r0: usize, nrows: usize, col: &mut Vec<f32>) {
    let k = 9 * cin;
    col.clear();
    col.resize(nrows * w * k, 0.0);
    for r in 0..nrows {
        let y = r0 + r;
        for x in 0..w {
            let dst = &mut col[(r * w + x) * k..(r * w + x + 1) * k];
            for ky in 0..3 {
                let sy = y + ky;
                if sy == 0 || sy > h {
                    continue; // padding row: stays zero
                }
                let sy = sy - 1;
                for kx in 0..3 {
                    let sx = x + kx;
                    if sx == 0 || sx > w {
                        continue;
                    }
                    let src = (sy * w + sx - 1) * cin;
                    let d = (ky * 3 + kx) * cin;
                    dst[d..d + cin].copy_from_slice(&input[src..src + cin]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    fn lcg(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
            })
            .collect()
    }

    fn hwc_to_nchw(v: &[f32], h: usize, w: usize, c: usize) -> Tensor {
        Tensor::from_slice(v, (1, h, w, c), &Device::Cpu).unwrap().permute((0, 3, 1, 2)).unwrap().contiguous().unwrap()
    }

    /// Max abs difference between our conv (bias, ReLU as asked) and candle's conv2d.
    fn conv_error(pack: fn(&[f32], usize, usize, Vec<f32>) -> PackedConv, shape: [usize; 4], relu: bool) -> f32 {
        let [h, w, cin, cout] = shape;
        let x = lcg(h * w * cin, 1);
        let k = lcg(cout * cin * 9, 2);
        let b = lcg(cout, 3);
        let conv = pack(&k, cout, cin, b.clone());
        let mut out = vec![0f32; h * w * cout];
        conv3x3(&conv, &x, h, w, if relu { Epilogue::Relu } else { Epilogue::Linear }, &mut out);
        let kt = Tensor::from_slice(&k, (cout, cin, 3, 3), &Device::Cpu).unwrap();
        let bt = Tensor::from_slice(&b, (1, cout, 1, 1), &Device::Cpu).unwrap();
        let mut reference = hwc_to_nchw(&x, h, w, cin).conv2d(&kt, 1, 1, 1, 1).unwrap().broadcast_add(&bt).unwrap();
        if relu {
            reference = reference.relu().unwrap();
        }
        let ours = hwc_to_nchw(&out, h, w, cout);
        ours.sub(&reference).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap()
    }

    #[test]
    fn conv3x3_matches_candle_conv2d_including_borders() {
        let err = conv_error(PackedConv::new, [7, 9, 5, 6], true);
        assert!(err < 1e-5, "{err}");
    }

    #[test]
    fn winograd_matches_candle_conv2d_on_odd_and_even_sizes() {
        // Odd sides leave half-empty edge tiles; several blocks of tile rows; with and without
        // ReLU (the backward pass uses none).
        let f2 = |k: &[f32], cout, cin, b| PackedConv::winograd(k, cout, cin, b, 2);
        let f4 = |k: &[f32], cout, cin, b| PackedConv::winograd(k, cout, cin, b, 4);
        // [h, w, cin, cout]: the first three have fewer than 128 tiles (one block, products split
        // over the cores), the last two more (blocks of tile rows).
        let shapes = [[7, 9, 16, 24], [10, 6, 32, 16], [33, 17, 64, 8], [70, 66, 16, 8], [75, 41, 24, 16]];
        for (shape, relu) in shapes.into_iter().zip([true, false, true, false, true]) {
            let conv = PackedConv::new(&lcg(shape[3] * shape[2] * 9, 2), shape[3], shape[2], Vec::new());
            assert!(conv.winograd.is_some(), "{shape:?} takes the Winograd path");
            // Values are O(1) sums of cin*9 products of O(0.25): a few ulps of those.
            for (name, pack) in [("F2", f2 as fn(&[f32], usize, usize, Vec<f32>) -> PackedConv), ("F4", f4)] {
                let err = conv_error(pack, shape, relu);
                assert!(err < 2e-5 * shape[2] as f32, "{name} {shape:?}: {err}");
            }
            let im2col = conv_error(PackedConv::im2col, shape, relu);
            assert!(im2col < 2e-5 * shape[2] as f32, "{shape:?}: im2col {im2col}");
        }
    }

    #[test]
    fn few_output_convolutions_match_candle_conv2d_across_row_blocks() {
        // 37 rows span three 16-row blocks, each with halo rows; the image gradient has 3 outputs.
        for (shape, relu) in [([37, 13, 64, 3], false), ([5, 7, 16, 1], true), ([17, 4, 24, 4], false)] {
            let conv = PackedConv::new(&lcg(shape[3] * shape[2] * 9, 2), shape[3], shape[2], Vec::new());
            assert!(conv.scatter.is_some(), "{shape:?} takes the gemm-and-gather path");
            let err = conv_error(PackedConv::scatter, shape, relu);
            assert!(err < 2e-5 * shape[2] as f32, "{shape:?}: {err}");
        }
    }

    #[test]
    fn xtx_matches_a_plain_sum() {
        // 5 channels: one block; 64: 2 x 2 blocks; 128: 4 x 4 (mirrored below the diagonal).
        for (c, pairs) in
            [(5, [(0, 0), (1, 3), (4, 2)]), (64, [(0, 63), (63, 0), (40, 7)]), (128, [(127, 1), (5, 90), (70, 70)])]
        {
            xtx_matches_on(c, &pairs);
        }
    }

    fn xtx_matches_on(c: usize, pairs: &[(usize, usize)]) {
        let rows = 20_000;
        let x = lcg(rows * c, 4);
        let g = xtx(&x, rows, c);
        for &(i, j) in pairs {
            let want: f64 = (0..rows).map(|r| f64::from(x[r * c + i]) * f64::from(x[r * c + j])).sum();
            assert!((f64::from(g[i * c + j]) - want).abs() < 1e-3 * want.abs().max(1.0), "{i},{j}");
        }
    }

    #[test]
    fn xtx_gives_the_same_bits_on_any_number_of_cores() {
        // A farm task on one core must give the frames of a render on many.
        for (rows, c) in [(9216, 64), (700, 128), (40_000, 32)] {
            let x = lcg(rows * c, 9);
            let on = |threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                pool.install(|| xtx(&x, rows, c))
            };
            let one = on(1);
            for threads in [2, 3, 8] {
                assert!(
                    on(threads).iter().zip(&one).all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{rows}x{c} on {threads}"
                );
            }
        }
    }

    #[test]
    fn masked_epilogue_equals_the_linear_output_times_the_relu_mask() {
        // The backward's fused ReLU: zero exactly where the mask is <= 0, on both conv paths.
        let (h, w, cin, cout) = (9, 11, 16, 8);
        let x = lcg(h * w * cin, 5);
        let k = lcg(cout * cin * 9, 6);
        let mask: Vec<f32> = lcg(h * w * cout, 7).iter().map(|v| v.max(0.0)).collect();
        let packs = [PackedConv::new, PackedConv::im2col, PackedConv::scatter];
        for conv in packs.map(|pack| pack(&k, cout, cin, Vec::new())) {
            let mut linear = vec![0f32; h * w * cout];
            conv3x3(&conv, &x, h, w, Epilogue::Linear, &mut linear);
            let mut masked = vec![1f32; h * w * cout];
            conv3x3(&conv, &x, h, w, Epilogue::MaskedBy(&mask), &mut masked);
            for ((l, m), mk) in linear.iter().zip(&masked).zip(&mask) {
                assert_eq!(*m, if *mk > 0.0 { *l } else { 0.0 });
            }
        }
    }
}
