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

use super::gram::{
    add_features, content_term, divide_features, gram_sum, held_divisor, style_measure, tv_loss_and_grad,
};
use super::objective::{evaluate_timed, Divisors, Losses, Objective, PhaseTimes, Terms};
use super::targets::Targets;
use crate::error::{Error, Result};
use crate::model::{Activations, Vgg};

mod terms;
use terms::TermGrads;

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
    fn at_stride(&self, tile: &Tile, stride: usize) -> (Rect, Rect) {
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

/// [`super::objective::evaluate_timed`] tile by tile: the same losses and gradient. Pass 1 keeps
/// the activations of the last tile, and of earlier tiles while they fit in `cache` bytes, so that
/// pass 2 need not run those tiles forward again.
pub fn evaluate_tiled(
    net: &Vgg,
    x: &Tensor,
    objective: &Objective,
    targets: &Targets,
    tile: usize,
    want_grad: bool,
    cache: u64,
) -> Result<(Losses, Option<Tensor>, PhaseTimes)> {
    let clock = std::time::Instant::now();
    let mut times = PhaseTimes::default();
    let terms = Terms::new(net, objective)?;
    let (_, _, height, width) = x.dims4()?;
    let grid = TileGrid::new(net, terms.depth, (width, height), tile);
    if grid.is_single() {
        return evaluate_timed(net, x, objective, targets, want_grad);
    }
    // Per active layer: its index, stride and the element count of the whole layer.
    let (_, content_stride) = net.reach(terms.content.unwrap_or(0) + 1);
    let layer_elems = |i: usize| -> Result<usize> {
        let (_, stride) = net.reach(i + 1);
        let c = net.layer_channels(i).ok_or_else(|| Error::internal("no such layer"))?;
        Ok(c * (height / stride) * (width / stride))
    };

    // Pass 1: the sums over every tile's interior, per style layer and region.
    let regions = targets.regions();
    let mut sums: Vec<Vec<Option<Tensor>>> = vec![vec![None; regions.len()]; objective.style_layers.len()];
    let mut content_sum: Option<Tensor> = None;
    let mut kept: Vec<Option<Activations>> = grid.tiles().iter().map(|_| None).collect();
    let mut room = cache;
    for (t, tile) in grid.tiles().iter().enumerate() {
        let acts = net.forward_taps(&crop(x, tile.outer)?, &terms.keep)?;
        if let Some(i) = terms.content {
            let (inner, outer) = grid.at_stride(tile, content_stride);
            let target = crop(&targets.content, global(inner, outer))?;
            let (part, _) = content_term(&crop(acts.output(i)?, inner)?, &target, 0.0, layer_elems(i)?)?;
            add(&mut content_sum, part)?;
        }
        for (k, (layer_sums, &layer)) in sums.iter_mut().zip(&terms.style).enumerate() {
            let Some(i) = layer else { continue };
            let (inner, outer) = grid.at_stride(tile, net.reach(i + 1).1);
            if inner.w == 0 || inner.h == 0 {
                continue;
            }
            let part = crop(acts.output(i)?, inner)?;
            for (sum, region) in layer_sums.iter_mut().zip(regions) {
                add(sum, gram_sum(&region.weigh(k, &part, Some(global(inner, outer)), 1)?)?)?;
            }
        }
        if want_grad && (t + 1 == grid.tiles().len() || acts.bytes() <= room) {
            room = room.saturating_sub(acts.bytes());
            kept[t] = Some(acts);
        }
    }
    times.forward = clock.elapsed().as_secs_f64();

    // The global Gram differences, and every loss read back at once.
    let mut diffs: Vec<Option<Vec<Option<Tensor>>>> = Vec::with_capacity(sums.len());
    let mut scalars: Vec<Tensor> = Vec::new();
    for ((k, layer_sums), &layer) in sums.into_iter().enumerate().zip(&terms.style) {
        let Some(i) = layer else {
            diffs.push(None);
            continue;
        };
        let c = net.layer_channels(i).ok_or_else(|| Error::internal("no such layer"))?;
        let pixels = layer_elems(i)? / c;
        let mut loss = Tensor::zeros((), x.dtype(), x.device())?;
        let mut layer_diffs = Vec::with_capacity(regions.len());
        for (sum, region) in layer_sums.into_iter().zip(regions) {
            let gram = match sum {
                Some(sum) => region.gram(k, &sum, c, pixels)?,
                None => None,
            };
            // The loss, and the matrix pass 2 back-propagates (the difference, for Classic).
            let slope = match gram {
                Some(g) => {
                    let (measure, slope) = style_measure(&g.sub(region.target(k)?)?, objective.look.scaled())?;
                    loss = loss.add(&region.loss(k, measure, pixels)?)?;
                    Some(slope)
                }
                None => None,
            };
            layer_diffs.push(slope);
        }
        scalars.push(loss);
        diffs.push(Some(layer_diffs));
    }
    let content_slot = content_sum.map(|s| {
        scalars.push(s);
        scalars.len() - 1
    });
    let pass = TermGrads { net, grid: &grid, objective, targets, terms: &terms, slopes: &diffs, size: (width, height) };
    // Pass 1b, when gradients are normalised by divisors not held fixed: each term's gradient
    // norm over every interior (one more forward per tile), before any tile's gradient is
    // scaled by it.
    let divisor_slots = match (objective.normalize_gradients, targets.held_divisors()) {
        (false, _) => Vec::new(),
        (true, Some(held)) => {
            let terms =
                std::iter::once(held.content).chain((0..diffs.len()).map(|k| held.style.get(k).copied().flatten()));
            let mut slots = Vec::new();
            for value in terms {
                slots.push(match value {
                    Some(v) => {
                        scalars.push(held_divisor(v, x)?);
                        Some(scalars.len() - 1)
                    }
                    None => None,
                });
            }
            slots
        }
        (true, None) => pass.divisors(x, &mut scalars)?,
    };
    let (tv_loss, tv_grad) = tv_loss_and_grad(x, objective.tv_weight)?;
    scalars.push(tv_loss);
    let values: Vec<f32> = Tensor::stack(&scalars, 0)?.to_vec1()?;
    let mut slot = 0;
    let style_values: Vec<Option<f64>> = diffs
        .iter()
        .map(|d| {
            d.as_ref().map(|_| {
                slot += 1;
                f64::from(values[slot - 1])
            })
        })
        .collect();
    let content_value = content_slot.map(|s| f64::from(values[s]));
    let divisor = |t: usize| divisor_slots.get(t).copied().flatten().map(|s: usize| f64::from(values[s]));
    let divisors = Divisors { content: divisor(0), style: (1..=diffs.len()).map(divisor).collect() };
    let tv = f64::from(values[values.len() - 1]);
    let losses = Losses::assemble(objective, content_value, &style_values, tv, &divisors)?;
    let scale: Vec<Option<Tensor>> = divisor_slots.iter().map(|s| s.map(|s| scalars[s].clone())).collect();
    times.losses = clock.elapsed().as_secs_f64() - times.forward;
    if !want_grad {
        return Ok((losses, None, times));
    }

    // Pass 2: each tile's gradient from the global differences, in reverse so that the
    // activations kept from pass 1 are used (and dropped) first.
    let mut parts: Vec<Option<Tensor>> = vec![None; grid.tiles().len()];
    for (t, tile) in grid.tiles().iter().enumerate().rev() {
        let acts = match kept[t].take() {
            Some(acts) => acts,
            None => net.forward_taps(&crop(x, tile.outer)?, &terms.keep)?,
        };
        let mut tap_grads: Vec<Option<Tensor>> = vec![None; terms.depth];
        for (t, term) in pass.tile(&acts, tile)?.into_iter().enumerate() {
            let Some((i, g)) = term else { continue };
            let g = match scale.get(t).and_then(Option::as_ref) {
                Some(divisor) => divide_features(&g, divisor)?,
                None => g,
            };
            add(&mut tap_grads[i], g)?;
        }
        let g =
            if terms.depth == 0 { crop(x, tile.outer)?.zeros_like()? } else { net.backward(&acts, &mut tap_grads)? };
        let (inner, _) = grid.at_stride(tile, 1);
        parts[t] = Some(crop(&g, inner)?);
    }
    let parts = parts.into_iter().collect::<Option<Vec<_>>>().ok_or_else(|| Error::internal("tile skipped"))?;
    let mut grad = assemble(&parts, grid.columns)?;
    if let Some(tv) = tv_grad {
        grad = grad.add(&tv)?;
    }
    times.backward = clock.elapsed().as_secs_f64() - times.forward - times.losses;
    Ok((losses, Some(grad), times))
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
fn assemble(parts: &[Tensor], columns: usize) -> Result<Tensor> {
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

/// `inner` (relative to `outer`) in the whole layer's coordinates.
fn global(inner: Rect, outer: Rect) -> Rect {
    Rect { x: outer.x + inner.x, y: outer.y + inner.y, ..inner }
}

/// `acc += t` (or `acc = t` when empty).
fn add(acc: &mut Option<Tensor>, t: Tensor) -> Result<()> {
    *acc = Some(match acc.take() {
        Some(a) => add_features(&a, &t)?,
        None => t,
    });
    Ok(())
}
