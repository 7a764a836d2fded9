//! Exact tiled evaluation: the losses and image gradient of a large image computed tile by tile
//! in bounded memory, equal to the whole-image computation (not a feathered approximation).
//!
//! Gram matrices and the content term are sums over pixels. Each tile owns an interior (origins
//! on the pooling grid of the deepest layer used) and reads a halo of twice the receptive radius
//! around it. Pass 1 runs each tile forward and adds its interior's share to the sums; pass 2
//! runs each tile forward again, back-propagates the *global* Gram differences and keeps the
//! interior of the tile's gradient. A zero-padded tile edge corrupts features within one radius
//! of it, and those features reach inputs within one more radius, so the interior, two radii
//! away, sees only exact values.

use candle_core::Tensor;

use crate::error::{Error, Result};
use crate::model::Vgg;
use crate::transfer::loss::evaluate_grid;
use crate::transfer::loss::gram::{add_features, gram_sum};
use crate::transfer::loss::targets::Targets;
use crate::transfer::loss::values::{Losses, PhaseTimes};
use crate::transfer::spec::objective::Objective;

/// A rectangle in pixels of some layer: origin and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    /// Left column.
    pub x: usize,
    /// Top row.
    pub y: usize,
    /// Width.
    pub w: usize,
    /// Height.
    pub h: usize,
}

/// One tile: the pixels it owns and the pixels it reads, in input pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    /// The part of the image whose sums and gradient this tile supplies.
    pub inner: Rect,
    /// `inner` with its halo, clipped to the image.
    pub outer: Rect,
}

/// A partition of a `width` x `height` image into tiles for a network run `depth` layers deep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileGrid {
    width: usize,
    height: usize,
    /// Tiles row by row, `columns` per row.
    tiles: Vec<Tile>,
    columns: usize,
}

impl TileGrid {
    /// Tiles of side `tile` (rounded up to the pooling grid of `depth` layers) with the halo the
    /// layers need. A remainder narrower than the grid joins the last full tile.
    pub fn new(net: &Vgg, depth: usize, dims: (usize, usize), tile: usize) -> Self {
        Self::with_reach(net.reach(depth), dims, tile)
    }

    /// [`TileGrid::new`] for layers whose receptive-field radius and pooling stride are `reach`
    /// (see [`crate::model::vgg::reach`]): what the memory plan compares tile sizes with.
    pub fn with_reach((radius, align): (usize, usize), (width, height): (usize, usize), tile: usize) -> Self {
        let halo = (2 * radius).next_multiple_of(align);
        let tile = tile.max(1).next_multiple_of(align);
        let spans = |len: usize| {
            let mut starts: Vec<usize> = (0..len).step_by(tile).collect();
            if starts.len() > 1 && len - starts[starts.len() - 1] < align {
                starts.pop();
            }
            let ends: Vec<usize> = starts.iter().skip(1).copied().chain([len]).collect();
            starts.into_iter().zip(ends).collect::<Vec<_>>()
        };
        let (columns, rows) = (spans(width), spans(height));
        let around = |start: usize, end: usize, len: usize| (start.saturating_sub(halo), (end + halo).min(len));
        let mut tiles = Vec::with_capacity(columns.len() * rows.len());
        for &(y0, y1) in &rows {
            for &(x0, x1) in &columns {
                let ((ox0, ox1), (oy0, oy1)) = (around(x0, x1, width), around(y0, y1, height));
                tiles.push(Tile {
                    inner: Rect { x: x0, y: y0, w: x1 - x0, h: y1 - y0 },
                    outer: Rect { x: ox0, y: oy0, w: ox1 - ox0, h: oy1 - oy0 },
                });
            }
        }
        TileGrid { width, height, tiles, columns: columns.len() }
    }

    /// The whole image as one tile.
    pub fn whole((width, height): (usize, usize)) -> Self {
        let all = Rect { x: 0, y: 0, w: width, h: height };
        TileGrid { width, height, tiles: vec![Tile { inner: all, outer: all }], columns: 1 }
    }

    /// Tiles per row.
    pub fn columns(&self) -> usize {
        self.columns
    }

    /// The tiles, row by row.
    pub fn tiles(&self) -> &[Tile] {
        &self.tiles
    }

    /// Whether one tile covers the whole image (tiling would change nothing).
    pub fn is_single(&self) -> bool {
        self.tiles.len() == 1
    }

    /// Pixels the tiles read in all, halos included: the work of one pass relative to the
    /// image's `width * height`.
    pub fn covered(&self) -> usize {
        self.tiles.iter().map(|t| t.outer.w * t.outer.h).sum()
    }

    /// The largest tile's outer size (width, height): what one pass must hold at a time.
    pub fn largest_outer(&self) -> (usize, usize) {
        let w = self.tiles.iter().map(|t| t.outer.w).max().unwrap_or(0);
        let h = self.tiles.iter().map(|t| t.outer.h).max().unwrap_or(0);
        (w, h)
    }

    /// At a layer of `stride`: the tile's interior relative to its own output, and its outer
    /// region in the whole layer's coordinates. The image's last row and column follow the
    /// layers' floor rounding; other edges are on the grid, so they divide exactly.
    pub fn at_stride(&self, tile: &Tile, stride: usize) -> (Rect, Rect) {
        let end = |start: usize, len: usize, total: usize| {
            if start + len == total {
                total / stride
            } else {
                (start + len) / stride
            }
        };
        let (ox, oy) = (tile.outer.x / stride, tile.outer.y / stride);
        let (ix, iy) = (tile.inner.x / stride, tile.inner.y / stride);
        let inner = Rect {
            x: ix - ox,
            y: iy - oy,
            w: end(tile.inner.x, tile.inner.w, self.width) - ix,
            h: end(tile.inner.y, tile.inner.h, self.height) - iy,
        };
        let outer = Rect {
            x: ox,
            y: oy,
            w: end(tile.outer.x, tile.outer.w, self.width) - ox,
            h: end(tile.outer.y, tile.outer.h, self.height) - oy,
        };
        (inner, outer)
    }
}

/// The part `r` of (1, C, H, W) features, keeping a channels-last view channels-last (the CPU
/// fast path's layout, which the Gram reduction reads fastest).
pub fn crop(f: &Tensor, r: Rect) -> Result<Tensor> {
    let (_, _, h, w) = f.dims4()?;
    if (r.x, r.y, r.w, r.h) == (0, 0, w, h) {
        return Ok(f.clone());
    }
    let nhwc = f.permute((0, 2, 3, 1))?;
    if !f.is_contiguous() && nhwc.is_contiguous() {
        return Ok(nhwc.narrow(1, r.y, r.h)?.narrow(2, r.x, r.w)?.contiguous()?.permute((0, 3, 1, 2))?);
    }
    Ok(f.narrow(2, r.y, r.h)?.narrow(3, r.x, r.w)?.contiguous()?)
}

/// [`crate::transfer::loss::values::evaluate_timed`] tile by tile: the same losses and gradient (see
/// [`crate::transfer::loss::evaluate_grid`], which both are). Pass 1 keeps the activations of the last
/// tile, and of earlier tiles while they fit in `cache` bytes, so that pass 2 need not run
/// those tiles forward again.
pub fn evaluate_tiled(
    net: &Vgg,
    x: &Tensor,
    objective: &Objective,
    targets: &Targets,
    tile: usize,
    want_grad: bool,
    cache: u64,
) -> Result<(Losses, Option<Tensor>, PhaseTimes)> {
    evaluate_grid(net, x, objective, targets, Some(tile), want_grad, cache)
}

/// The features at layers `keep` of an image too large to run whole: each tile's interior,
/// assembled. Equal to `net.forward_taps(x, keep)`'s outputs.
pub fn features_tiled(net: &Vgg, x: &Tensor, keep: &[usize], tile: usize) -> Result<Vec<Tensor>> {
    let (grid, mut parts) = (grid_for(net, x, keep, tile)?, vec![Vec::new(); keep.len()]);
    for tile in grid.tiles() {
        let acts = net.forward_taps(&crop(x, tile.outer)?, keep)?;
        for (part, &i) in parts.iter_mut().zip(keep) {
            let (inner, _) = grid.at_stride(tile, net.reach(i + 1).1);
            part.push(crop(acts.output(i)?, inner)?);
        }
    }
    parts.iter().map(|p| assemble(p, grid.columns)).collect()
}

/// The Gram matrices at layers `keep` of an image too large to run whole, summed tile by tile
/// without ever holding a whole layer. Equal to `gram` of `net.forward_taps(x, keep)`'s outputs.
pub fn grams_tiled(net: &Vgg, x: &Tensor, keep: &[usize], tile: usize) -> Result<Vec<Tensor>> {
    let (_, _, height, width) = x.dims4()?;
    let (grid, mut sums) = (grid_for(net, x, keep, tile)?, vec![None; keep.len()]);
    for tile in grid.tiles() {
        let acts = net.forward_taps(&crop(x, tile.outer)?, keep)?;
        for (sum, &i) in sums.iter_mut().zip(keep) {
            let (inner, _) = grid.at_stride(tile, net.reach(i + 1).1);
            if inner.w > 0 && inner.h > 0 {
                add(sum, gram_sum(&crop(acts.output(i)?, inner)?)?)?;
            }
        }
    }
    sums.into_iter()
        .zip(keep)
        .map(|(sum, &i)| {
            let stride = net.reach(i + 1).1;
            let c = net.layer_channels(i).ok_or_else(|| Error::internal("no such layer"))?;
            let sum = sum.ok_or_else(|| Error::internal("a layer with no pixels"))?;
            Ok((sum / (c * (height / stride) * (width / stride)) as f64)?)
        })
        .collect()
}

fn grid_for(net: &Vgg, x: &Tensor, keep: &[usize], tile: usize) -> Result<TileGrid> {
    let (_, _, height, width) = x.dims4()?;
    let depth = keep.iter().max().map_or(0, |&d| d + 1);
    Ok(TileGrid::new(net, depth, (width, height), tile))
}

/// One (1, C, H, W) tensor from tiles given row by row, `columns` per row; channels-last parts
/// give a channels-last result.
pub(crate) fn assemble(parts: &[Tensor], columns: usize) -> Result<Tensor> {
    let channels_last =
        parts.iter().all(|p| !p.is_contiguous() && p.permute((0, 2, 3, 1)).is_ok_and(|t| t.is_contiguous()));
    let (h, w) = if channels_last { (1, 2) } else { (2, 3) };
    let parts = parts
        .iter()
        .map(|p| Ok(if channels_last { p.permute((0, 2, 3, 1))? } else { p.clone() }))
        .collect::<Result<Vec<_>>>()?;
    let rows = parts.chunks(columns.max(1)).map(|row| Tensor::cat(row, w)).collect::<candle_core::Result<Vec<_>>>()?;
    let whole = Tensor::cat(&rows, h)?;
    Ok(if channels_last { whole.permute((0, 3, 1, 2))? } else { whole })
}

/// `acc += t` (or `acc = t` when empty), in the layout of `acc`.
pub(crate) fn add(acc: &mut Option<Tensor>, t: Tensor) -> Result<()> {
    *acc = Some(match acc.take() {
        Some(a) => add_features(&a, &t)?,
        None => t,
    });
    Ok(())
}
