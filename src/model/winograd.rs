//! Winograd F(m x m, 3 x 3) convolution on HWC activations (Lavin & Gray, 2015), m = 2 or 4.
//!
//! Each m x m block of outputs comes from an a x a input tile (a = m + 2). In the transformed
//! domain the 3x3 convolution becomes a^2 independent matrix products, (tiles x cin) by
//! (cin x cout), so an output pixel costs a^2 / m^2 multiply-adds per (cin, cout) pair instead of
//! 9: 4 for F(2x2) (2.25x fewer), 2.25 for F(4x4) (4x fewer). The transforms are a few additions
//! per value with small coefficients (+-1, +-1/2 for F(2x2); up to 8 and 1/24 for F(4x4), whose
//! f32 error is still ~1e-6 relative on VGG's activations).
//!
//! Work is split over blocks of tile rows: each block transforms its input tiles into a^2
//! matrices, runs a^2 `gemm` calls and transforms the products back into its output rows, all in
//! per-thread scratch sized to stay in cache.

use rayon::prelude::*;

use super::epilogue::{vectorised, Epilogue};
use super::matmul::matmul;

/// Output tile size and transform matrices of one Winograd variant (row-major).
#[derive(Debug)]
struct Variant {
    m: usize,
    /// B^T, a x a.
    bt: &'static [f32],
    /// G, a x 3.
    g: &'static [f32],
    /// A^T, m x a.
    at: &'static [f32],
}

const F2: Variant = Variant {
    m: 2,
    bt: &[1., 0., -1., 0., 0., 1., 1., 0., 0., -1., 1., 0., 0., 1., 0., -1.],
    g: &[1., 0., 0., 0.5, 0.5, 0.5, 0.5, -0.5, 0.5, 0., 0., 1.],
    at: &[1., 1., 1., 0., 0., 1., -1., -1.],
};

const F4: Variant = Variant {
    m: 4,
    #[rustfmt::skip]
    bt: &[
        4., 0., -5., 0., 1., 0.,
        0., -4., -4., 1., 1., 0.,
        0., 4., -4., -1., 1., 0.,
        0., -2., -1., 2., 1., 0.,
        0., 2., -1., -2., 1., 0.,
        0., 4., 0., -5., 0., 1.,
    ],
    #[rustfmt::skip]
    g: &[
        1. / 4., 0., 0.,
        -1. / 6., -1. / 6., -1. / 6.,
        -1. / 6., 1. / 6., -1. / 6.,
        1. / 24., 1. / 12., 1. / 6.,
        1. / 24., -1. / 12., 1. / 6.,
        0., 0., 1.,
    ],
    #[rustfmt::skip]
    at: &[
        1., 1., 1., 1., 1., 0.,
        0., 1., -1., 2., -2., 0.,
        0., 1., 1., 4., 4., 0.,
        0., 1., -1., 8., -8., 1.,
    ],
};

impl Variant {
    fn a(&self) -> usize {
        self.m + 2
    }

    /// The variant with output tiles of `m` x `m` (2 or 4; anything else means 4).
    fn of(m: usize) -> &'static Variant {
        match m {
            2 => &F2,
            _ => &F4,
        }
    }
}

/// Kernels transformed to the Winograd domain: a^2 matrices of (cin, cout), row-major, index
/// `(xi * cin + ci) * cout + co` for transformed position xi = a * row + column.
#[derive(Debug, Clone)]
pub struct WinogradKernel {
    cin: usize,
    cout: usize,
    m: usize,
    u: Vec<f32>,
}

/// Scratch bytes per block (transformed inputs and products together).
const BLOCK_BYTES: usize = 8 << 20;
/// Fewest tiles per block: deep layers have few tiles per row and wide (cin x cout) kernels, and
/// `gemm` runs far below peak on products of fewer rows (measured: conv4 at 512 px takes 42 ms
/// with 48-tile blocks and 31 ms with 128-tile ones; 0.89 -> 0.83 s per iteration overall).
const MIN_TILES: usize = 128;

impl WinogradKernel {
    /// Transforms an OIHW (cout, cin, 3, 3) kernel, `U = G g G^T` per (cout, cin) pair, for
    /// output tiles of `m` x `m` (2 or 4; anything else means 4).
    pub fn new(oihw: &[f32], cout: usize, cin: usize, m: usize) -> Self {
        let v = Variant::of(m);
        let a = v.a();
        let mut u = vec![0f32; a * a * cin * cout];
        for co in 0..cout {
            for ci in 0..cin {
                let g = &oihw[(co * cin + ci) * 9..(co * cin + ci + 1) * 9];
                // t = G g (a x 3), then U = t G^T (a x a), accumulated in f64.
                let t: Vec<f64> = (0..a * 3)
                    .map(|i| (0..3).map(|k| f64::from(v.g[(i / 3) * 3 + k]) * f64::from(g[k * 3 + i % 3])).sum())
                    .collect();
                for r in 0..a {
                    for c in 0..a {
                        let value: f64 = (0..3).map(|k| t[r * 3 + k] * f64::from(v.g[c * 3 + k])).sum();
                        u[((r * a + c) * cin + ci) * cout + co] = value as f32;
                    }
                }
            }
        }
        WinogradKernel { cin, cout, m: v.m, u }
    }
}

/// `out = epilogue(conv3x3(input) + bias)`, stride 1, zero padding 1; `input` (h, w, cin),
/// `out` (h, w, cout), `bias` empty or (cout).
pub fn conv3x3(
    k: &WinogradKernel,
    bias: &[f32],
    input: &[f32],
    (h, w): (usize, usize),
    epilogue: Epilogue,
    out: &mut [f32],
) {
    let v = Variant::of(k.m);
    let (cin, cout, m, a) = (k.cin, k.cout, v.m, v.a());
    debug_assert_eq!(input.len(), h * w * cin);
    debug_assert_eq!(out.len(), h * w * cout);
    let tiles_w = w.div_ceil(m);
    let tiles_h = h.div_ceil(m);
    if tiles_h * tiles_w < MIN_TILES {
        return few_tiles(k, v, bias, input, (h, w), epilogue, out);
    }
    let per_tile_row = a * a * tiles_w * (cin + cout) * 4;
    // As many tile rows as fit in a block, but at least MIN_TILES tiles; and at least two
    // blocks, so that both cores work.
    let trows = (BLOCK_BYTES / per_tile_row).max(MIN_TILES.div_ceil(tiles_w)).clamp(1, tiles_h.div_ceil(2).max(1));
    let block = m * trows * w * cout;
    out.par_chunks_mut(block).enumerate().for_each(|(b, out_block)| {
        SCRATCH.with_borrow_mut(|(tv, tm)| {
            let rows = out_block.len() / (w * cout); // output rows in this block
            let nt = rows.div_ceil(m) * tiles_w;
            // Every element is written before it is read, so stale contents are harmless.
            tv.resize(a * a * nt * cin, 0.0);
            tm.resize(a * a * nt * cout, 0.0);
            vectorised(|| input_transform(v, input, (h, w, cin), b * trows, nt, tv));
            for xi in 0..a * a {
                let lhs = &tv[xi * nt * cin..(xi + 1) * nt * cin];
                let rhs = &k.u[xi * cin * cout..(xi + 1) * cin * cout];
                let dst = &mut tm[xi * nt * cout..(xi + 1) * nt * cout];
                matmul(dst, lhs, rhs, nt, cin, cout);
            }
            let epilogue = epilogue.slice(b * block, out_block.len());
            vectorised(|| output_transform(v, tm, nt, (rows, w, cout), bias, epilogue, out_block));
        });
    });
}

/// [`conv3x3`] when the whole image has fewer than `MIN_TILES` tiles (the deepest layers): one
/// block, with the a^2 products split over the cores instead of the tiles, since two blocks
/// would give each gemm too few rows. The transforms are small enough for one thread.
fn few_tiles(
    k: &WinogradKernel,
    v: &Variant,
    bias: &[f32],
    input: &[f32],
    (h, w): (usize, usize),
    epilogue: Epilogue,
    out: &mut [f32],
) {
    let (cin, cout, a) = (k.cin, k.cout, v.a());
    let nt = h.div_ceil(v.m) * w.div_ceil(v.m);
    // Taken out of the thread-local rather than borrowed, so no borrow is held while other
    // threads work.
    let (mut tv, mut tm) = SCRATCH.with_borrow_mut(std::mem::take);
    tv.resize(a * a * nt * cin, 0.0);
    tm.resize(a * a * nt * cout, 0.0);
    vectorised(|| input_transform(v, input, (h, w, cin), 0, nt, &mut tv));
    tm.par_chunks_mut(nt * cout).enumerate().for_each(|(xi, dst)| {
        let lhs = &tv[xi * nt * cin..(xi + 1) * nt * cin];
        matmul(dst, lhs, &k.u[xi * cin * cout..(xi + 1) * cin * cout], nt, cin, cout);
    });
    vectorised(|| output_transform(v, &tm, nt, (h, w, cout), bias, epilogue, out));
    SCRATCH.with_borrow_mut(|s| *s = (tv, tm));
}

thread_local! {
    /// Per-thread transform buffers, kept between calls: fresh multi-megabyte buffers for every
    /// block would cost a page fault per 4 KiB on every iteration.
    static SCRATCH: std::cell::RefCell<(Vec<f32>, Vec<f32>)> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// `V = B^T d B` for the `nt` tiles starting at tile row `ty0`, into `tv` laid out as a^2
/// matrices of (tiles, cin). Positions outside the image read as zero. Every step is an
/// operation on whole channel vectors, which the compiler vectorises.
#[inline(always)]
fn input_transform(
    v: &Variant,
    input: &[f32],
    (h, w, cin): (usize, usize, usize),
    ty0: usize,
    nt: usize,
    tv: &mut [f32],
) {
    let (m, a) = (v.m, v.a());
    let tiles_w = w.div_ceil(m);
    let zeros = vec![0f32; cin];
    let mut tt = vec![0f32; a * a * cin];
    let mut d: Vec<&[f32]> = vec![&zeros; a * a];
    for t in 0..nt {
        let (ty, tx) = (ty0 + t / tiles_w, t % tiles_w);
        // The a x a channel vectors of the tile, from row m*ty - 1 and column m*tx - 1.
        for (i, slot) in d.iter_mut().enumerate() {
            let (y, x) = ((m * ty + i / a) as isize - 1, (m * tx + i % a) as isize - 1);
            *slot = if y < 0 || x < 0 || y >= h as isize || x >= w as isize {
                &zeros
            } else {
                let p = (y as usize * w + x as usize) * cin;
                &input[p..p + cin]
            };
        }
        // tt = B^T d: tt[r][c] = sum_i bt[r][i] d[i][c].
        for (rc, out) in tt.chunks_exact_mut(cin).enumerate() {
            let (r, c) = (rc / a, rc % a);
            combine(out, (0..a).map(|i| (v.bt[r * a + i], d[i * a + c])));
        }
        // V = tt B: V[r][c] = sum_j tt[r][j] bt[c][j], straight into the a^2 matrices.
        for rc in 0..a * a {
            let (r, c) = (rc / a, rc % a);
            let at = (rc * nt + t) * cin;
            combine(
                &mut tv[at..at + cin],
                (0..a).map(|j| (v.bt[c * a + j], &tt[(r * a + j) * cin..(r * a + j + 1) * cin])),
            );
        }
    }
}

/// `Y = A^T M A` per tile, plus bias and the epilogue, into the `rows` output rows of `out`.
#[inline(always)]
fn output_transform(
    v: &Variant,
    tm: &[f32],
    nt: usize,
    (rows, w, cout): (usize, usize, usize),
    bias: &[f32],
    epilogue: Epilogue,
    out: &mut [f32],
) {
    let (m, a) = (v.m, v.a());
    let tiles_w = w.div_ceil(m);
    let mut s = vec![0f32; m * a * cout];
    let mut y = vec![0f32; cout];
    for t in 0..nt {
        let (ty, tx) = (t / tiles_w, t % tiles_w);
        let mat = |xi: usize| &tm[(xi * nt + t) * cout..(xi * nt + t + 1) * cout];
        // s = A^T M: s[r][c] = sum_i at[r][i] M[i][c].
        for (rc, out) in s.chunks_exact_mut(cout).enumerate() {
            let (r, c) = (rc / a, rc % a);
            combine(out, (0..a).map(|i| (v.at[r * a + i], mat(i * a + c))));
        }
        for r in 0..m {
            let oy = m * ty + r;
            if oy >= rows {
                break;
            }
            for c in 0..m {
                let ox = m * tx + c;
                if ox >= w {
                    break;
                }
                // Y[r][c] = sum_j s[r][j] at[c][j].
                combine(&mut y, (0..a).map(|j| (v.at[c * a + j], &s[(r * a + j) * cout..(r * a + j + 1) * cout])));
                let at = (oy * w + ox) * cout;
                epilogue.finish(&mut out[at..at + cout], &y, bias, at);
            }
        }
    }
}

/// `out = sum of coefficient * vector` over the terms with a non-zero coefficient, in one pass
/// over `out` (the transforms have at most 4 non-zero terms per row for F(4x4), 3 for F(2x2)).
#[inline(always)]
fn combine<'a>(out: &mut [f32], terms: impl Iterator<Item = (f32, &'a [f32])>) {
    let mut c = [0f32; 6];
    let mut x: [&[f32]; 6] = [&[]; 6];
    let mut n = 0;
    for (coef, v) in terms.filter(|t| t.0 != 0.0) {
        (c[n], x[n]) = (coef, &v[..out.len()]);
        n += 1;
    }
    let len = out.len();
    match n {
        0 => out.fill(0.0),
        1 => out.iter_mut().zip(x[0]).for_each(|(o, a)| *o = c[0] * a),
        2 => {
            let (a, b) = (&x[0][..len], &x[1][..len]);
            for i in 0..len {
                out[i] = c[0] * a[i] + c[1] * b[i];
            }
        }
        3 => {
            let (a, b, d) = (&x[0][..len], &x[1][..len], &x[2][..len]);
            for i in 0..len {
                out[i] = c[0] * a[i] + c[1] * b[i] + c[2] * d[i];
            }
        }
        _ => {
            let (a, b, d, e) = (&x[0][..len], &x[1][..len], &x[2][..len], &x[3][..len]);
            for i in 0..len {
                out[i] = c[0] * a[i] + c[1] * b[i] + c[2] * d[i] + c[3] * e[i];
            }
            for k in 4..n {
                out.iter_mut().zip(&x[k][..len]).for_each(|(o, v)| *o += c[k] * v);
            }
        }
    }
}
