//! Winograd F(2x2, 3x3) convolution on HWC activations (Lavin & Gray, 2015).
//!
//! Each 2x2 block of outputs comes from a 4x4 input tile. In the transformed domain the 3x3
//! convolution becomes 16 independent matrix products, (tiles x cin) by (cin x cout), so one
//! output pixel costs 16/4 = 4 multiply-adds per (cin, cout) pair instead of 9 (2.25x fewer).
//! The transforms themselves are additions only (coefficients 0, +-1, +-1/2), which keeps f32
//! results within a few ulps of the direct convolution.
//!
//! Work is split over blocks of tile rows: each block transforms its input tiles into 16
//! matrices, runs 16 `gemm` calls and transforms the products back into its output rows, all in
//! per-thread scratch sized to stay in cache.

use rayon::prelude::*;

/// Kernels transformed to the Winograd domain: 16 matrices of (cin, cout), row-major, index
/// `(xi * cin + ci) * cout + co` for transformed position xi = 4 * row + column.
#[derive(Debug, Clone)]
pub struct WinogradKernel {
    cin: usize,
    cout: usize,
    u: Vec<f32>,
}

/// Scratch bytes per block (transformed inputs and products together).
const BLOCK_BYTES: usize = 2 << 20;

impl WinogradKernel {
    /// Transforms an OIHW (cout, cin, 3, 3) kernel: `U = G g G^T` per (cout, cin) pair.
    pub fn new(oihw: &[f32], cout: usize, cin: usize) -> Self {
        const G: [[f32; 3]; 4] = [[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]];
        let mut u = vec![0f32; 16 * cin * cout];
        for co in 0..cout {
            for ci in 0..cin {
                let g = &oihw[(co * cin + ci) * 9..(co * cin + ci + 1) * 9];
                // t = G g (4x3), then U = t G^T (4x4).
                let mut t = [[0f32; 3]; 4];
                for (r, row) in t.iter_mut().enumerate() {
                    for (c, v) in row.iter_mut().enumerate() {
                        *v = (0..3).map(|k| G[r][k] * g[k * 3 + c]).sum();
                    }
                }
                for r in 0..4 {
                    for c in 0..4 {
                        let v: f32 = (0..3).map(|k| t[r][k] * G[c][k]).sum();
                        u[((r * 4 + c) * cin + ci) * cout + co] = v;
                    }
                }
            }
        }
        WinogradKernel { cin, cout, u }
    }

    /// Input channels.
    pub fn cin(&self) -> usize {
        self.cin
    }
}

/// `out = relu?(conv3x3(input) + bias)`, stride 1, zero padding 1; `input` (h, w, cin), `out`
/// (h, w, cout), `bias` empty or (cout).
pub fn conv3x3(k: &WinogradKernel, bias: &[f32], input: &[f32], h: usize, w: usize, relu: bool, out: &mut [f32]) {
    let (cin, cout) = (k.cin, k.cout);
    debug_assert_eq!(input.len(), h * w * cin);
    debug_assert_eq!(out.len(), h * w * cout);
    let tiles_w = w.div_ceil(2);
    let tiles_h = h.div_ceil(2);
    let per_tile_row = 16 * tiles_w * (cin + cout) * 4;
    // At least two blocks so that both cores work, otherwise as many tile rows as fit.
    let trows = (BLOCK_BYTES / per_tile_row).clamp(1, tiles_h.div_ceil(2).max(1));
    out.par_chunks_mut(2 * trows * w * cout).enumerate().for_each_init(
        || (Vec::new(), Vec::new()),
        |(v, m), (b, out_block)| {
            let ty0 = b * trows;
            let rows = out_block.len() / (w * cout); // output rows in this block
            let nt = rows.div_ceil(2) * tiles_w;
            v.clear();
            v.resize(16 * nt * cin, 0.0);
            m.clear();
            m.resize(16 * nt * cout, 0.0);
            input_transform(input, h, w, cin, ty0, rows.div_ceil(2), v);
            for xi in 0..16 {
                let lhs = &v[xi * nt * cin..(xi + 1) * nt * cin];
                let rhs = &k.u[xi * cin * cout..(xi + 1) * cin * cout];
                let dst = &mut m[xi * nt * cout..(xi + 1) * nt * cout];
                // SAFETY: lhs is nt x cin, rhs cin x cout, dst nt x cout, row-major with the
                // strides given, and dst does not overlap the inputs.
                unsafe {
                    gemm::gemm(
                        nt,
                        cout,
                        cin,
                        dst.as_mut_ptr(),
                        1,
                        cout as isize,
                        false,
                        lhs.as_ptr(),
                        1,
                        cin as isize,
                        rhs.as_ptr(),
                        1,
                        cout as isize,
                        0.0,
                        1.0,
                        false,
                        false,
                        false,
                        gemm::Parallelism::None,
                    );
                }
            }
            output_transform(m, nt, w, cout, rows, bias, relu, out_block);
        },
    );
}

/// `V = B^T d B` for every 4x4 tile of tile rows `ty0..ty0+nty`, into `v` laid out as 16
/// matrices of (tiles, cin). Positions outside the image read as zero. Every step is an
/// operation on whole channel vectors, which the compiler vectorises.
fn input_transform(input: &[f32], h: usize, w: usize, cin: usize, ty0: usize, nty: usize, v: &mut [f32]) {
    let tiles_w = w.div_ceil(2);
    let nt = nty * tiles_w;
    let zeros = vec![0f32; cin];
    let mut tt = vec![0f32; 16 * cin];
    for t in 0..nt {
        let (ty, tx) = (ty0 + t / tiles_w, t % tiles_w);
        // The 16 channel vectors of the tile, rows 2ty-1..2ty+2, columns 2tx-1..2tx+2.
        let d: [&[f32]; 16] = std::array::from_fn(|i| {
            let (y, x) = ((2 * ty + i / 4) as isize - 1, (2 * tx + i % 4) as isize - 1);
            if y < 0 || x < 0 || y >= h as isize || x >= w as isize {
                &zeros[..]
            } else {
                let p = (y as usize * w + x as usize) * cin;
                &input[p..p + cin]
            }
        });
        // tt = B^T d, row by row (4 columns each).
        for c in 0..4 {
            let row = |r: usize| d[r * 4 + c];
            let (t01, t23) = tt.split_at_mut(8 * cin);
            let (t0, t1) = t01.split_at_mut(4 * cin);
            let (t2, t3) = t23.split_at_mut(4 * cin);
            sub(&mut t0[c * cin..(c + 1) * cin], row(0), row(2));
            add(&mut t1[c * cin..(c + 1) * cin], row(1), row(2));
            sub(&mut t2[c * cin..(c + 1) * cin], row(2), row(1));
            sub(&mut t3[c * cin..(c + 1) * cin], row(1), row(3));
        }
        // V = tt B, column by column, straight into the 16 matrices.
        for r in 0..4 {
            let col = |c: usize| &tt[(r * 4 + c) * cin..(r * 4 + c + 1) * cin];
            let at = |c: usize| ((r * 4 + c) * nt + t) * cin;
            sub(&mut v[at(0)..at(0) + cin], col(0), col(2));
            add(&mut v[at(1)..at(1) + cin], col(1), col(2));
            sub(&mut v[at(2)..at(2) + cin], col(2), col(1));
            sub(&mut v[at(3)..at(3) + cin], col(1), col(3));
        }
    }
}

/// `Y = A^T M A` per tile, plus bias and ReLU, into `rows` output rows of `out`.
#[allow(clippy::too_many_arguments)]
fn output_transform(
    m: &[f32],
    nt: usize,
    w: usize,
    cout: usize,
    rows: usize,
    bias: &[f32],
    relu: bool,
    out: &mut [f32],
) {
    let tiles_w = w.div_ceil(2);
    let mut s = vec![0f32; 8 * cout];
    let mut y2 = vec![0f32; cout];
    for t in 0..nt {
        let (ty, tx) = (t / tiles_w, t % tiles_w);
        let mat = |r: usize, c: usize| &m[((r * 4 + c) * nt + t) * cout..((r * 4 + c) * nt + t + 1) * cout];
        // s = A^T M (2 rows of 4 channel vectors).
        for c in 0..4 {
            let (s0, s1) = s.split_at_mut(4 * cout);
            add3(&mut s0[c * cout..(c + 1) * cout], mat(0, c), mat(1, c), mat(2, c), 1.0);
            add3(&mut s1[c * cout..(c + 1) * cout], mat(1, c), mat(2, c), mat(3, c), -1.0);
        }
        for r in 0..2 {
            let y = 2 * ty + r;
            if y >= rows {
                continue;
            }
            let sc = |c: usize| &s[(r * 4 + c) * cout..(r * 4 + c + 1) * cout];
            for c in 0..2 {
                let x = 2 * tx + c;
                if x >= w {
                    continue;
                }
                // Y[r][0] = s0 + s1 + s2; Y[r][1] = s1 - s2 - s3.
                let (a, b, cc, sign) = if c == 0 { (sc(1), sc(0), sc(2), 1.0) } else { (sc(1), sc(2), sc(3), -1.0) };
                add3(&mut y2, a, b, cc, sign);
                finish(&mut out[(y * w + x) * cout..(y * w + x + 1) * cout], &y2, bias, relu);
            }
        }
    }
}

fn add(o: &mut [f32], a: &[f32], b: &[f32]) {
    o.iter_mut().zip(a).zip(b).for_each(|((o, a), b)| *o = a + b);
}

fn sub(o: &mut [f32], a: &[f32], b: &[f32]) {
    o.iter_mut().zip(a).zip(b).for_each(|((o, a), b)| *o = a - b);
}

/// `o = a + sign * (b + c)` for `sign` +1, or `a - b - c` for -1 (written so both vectorise).
fn add3(o: &mut [f32], a: &[f32], b: &[f32], c: &[f32], sign: f32) {
    o.iter_mut().zip(a).zip(b).zip(c).for_each(|(((o, a), b), c)| *o = a + sign * (b + c));
}

/// `out = relu?(y + bias)`.
fn finish(out: &mut [f32], y: &[f32], bias: &[f32], relu: bool) {
    match (bias.is_empty(), relu) {
        (true, false) => out.copy_from_slice(y),
        (true, true) => out.iter_mut().zip(y).for_each(|(o, y)| *o = y.max(0.0)),
        (false, false) => out.iter_mut().zip(y).zip(bias).for_each(|((o, y), b)| *o = y + b),
        (false, true) => out.iter_mut().zip(y).zip(bias).for_each(|((o, y), b)| *o = (y + b).max(0.0)),
    }
}
