//! The evaluator: any set of terms over any grid of tiles, the whole image being a grid of one.
//!
//! Pass 1 runs each tile forward and lets each term gather its statistics over the tile's
//! interior; the terms then turn them into losses. Pass 2 runs each tile forward again (or
//! reuses the activations pass 1 kept: always the last tile's, so one tile runs forward once),
//! takes each term's gradient at its layer, back-propagates them and keeps the interior of the
//! tile's image gradient. A zero-padded tile edge corrupts features within one receptive radius
//! of it, and those reach inputs within one more, so interiors two radii away are exact (see
//! `tiles`).

use candle_core::Tensor;

use super::{terms, Build, Layers, Part, Reads, Term};
use crate::error::{Error, Result};
use crate::model::{Activations, Vgg};
use crate::transfer::loss::gram::{divide_features, gradient_divisor, held_divisor};
use crate::transfer::loss::targets::Targets;
use crate::transfer::loss::tiles::{add, assemble, crop, Rect, Tile, TileGrid};
use crate::transfer::loss::values::{Losses, PhaseTimes, TermValue};
use crate::transfer::spec::objective::Objective;

/// The losses at `x` (normalised image, (1, 3, H, W)) and, with `want_grad`, d total / d x,
/// evaluated in tiles of side `tile` (`None`: the whole image as one tile). Pass 1 keeps the
/// activations of the last tile, and of earlier ones while they fit in `cache` bytes, so that
/// pass 2 need not run those tiles forward again.
pub fn evaluate_grid(
    net: &Vgg,
    x: &Tensor,
    objective: &Objective,
    targets: &Targets,
    tile: Option<usize>,
    want_grad: bool,
    cache: u64,
) -> Result<(Losses, Option<Tensor>, PhaseTimes)> {
    let clock = std::time::Instant::now();
    let mut times = PhaseTimes::default();
    let layers = Layers::new(net, objective)?;
    let (_, _, height, width) = x.dims4()?;
    let grid = match tile {
        Some(side) => TileGrid::new(net, layers.depth, (width, height), side),
        None => TileGrid::whole((width, height)),
    };
    let run = Run { net, x, grid: &grid, layers: &layers, size: (width, height) };
    let build = Build { net, objective, targets, layers: &layers };
    let (mut on_layers, mut on_image): (Vec<_>, Vec<_>) =
        terms(&build)?.into_iter().partition(|t| matches!(t.place().reads, Reads::Layer(_)));

    // Pass 1: every layer term's statistics over every tile's interior.
    let mut kept: Vec<Option<Activations>> = grid.tiles().iter().map(|_| None).collect();
    let mut room = cache;
    // Time in the terms (statistics, gradients at their layers), counted as the losses' time.
    let mut in_terms = 0.0;
    for (t, tile) in grid.tiles().iter().enumerate() {
        let acts = run.forward(tile)?;
        let clock = std::time::Instant::now();
        for term in on_layers.iter_mut() {
            let layer = layer_of(term.as_ref())?;
            let part = run.part(tile, layer)?;
            if !part.owns_nothing() {
                term.gather(acts.output(layer)?, &part)?;
            }
        }
        in_terms += clock.elapsed().as_secs_f64();
        if t + 1 == grid.tiles().len() || (want_grad && acts.bytes() <= room) {
            room = room.saturating_sub(acts.bytes());
            kept[t] = Some(acts);
        }
    }
    times.forward = clock.elapsed().as_secs_f64() - in_terms;
    let whole = run.whole();
    for term in on_image.iter_mut() {
        term.gather(x, &whole)?;
    }

    // Scalars are gathered as tensors and read back once, so a GPU is synchronised only once.
    let mut scalars: Vec<Tensor> =
        on_layers.iter_mut().chain(on_image.iter_mut()).map(|t| t.finish()).collect::<Result<_>>()?;
    // The last tile's gradients at the layers, when measuring the divisors took them already.
    let mut last_grads = None;
    // Layer terms' gradients may be normalised; the image's are not.
    let divisors: Vec<Option<Tensor>> = match (objective.normalize_gradients, targets.held_divisors()) {
        (false, _) => vec![None; on_layers.len()],
        (true, Some(held)) => on_layers
            .iter()
            .map(|t| held.get(t.place().name).map(|v| held_divisor(v, x)).transpose())
            .collect::<Result<_>>()?,
        (true, None) => {
            let (divisors, grads) = run.measure_divisors(&on_layers, &kept)?;
            last_grads = Some(grads);
            divisors
        }
    };
    let divisor_slots: Vec<Option<usize>> = divisors
        .iter()
        .map(|d| {
            d.as_ref().map(|d| {
                scalars.push(d.clone());
                scalars.len() - 1
            })
        })
        .collect();
    let values: Vec<f32> = Tensor::stack(&scalars, 0)?.to_vec1()?;
    let named = on_layers.iter().chain(&on_image).enumerate().map(|(i, term)| {
        let place = term.place();
        let divisor = divisor_slots.get(i).copied().flatten().map(|s| f64::from(values[s]));
        TermValue { name: place.name, value: f64::from(values[i]), weight: place.weight, share: place.share, divisor }
    });
    let losses = Losses::assemble(named.collect())?;
    times.losses = clock.elapsed().as_secs_f64() - times.forward;
    let before_pass_2 = clock.elapsed().as_secs_f64();
    let mut in_pass_2 = 0.0;
    if !want_grad {
        return Ok((losses, None, times));
    }

    // Pass 2: each tile's gradient, in reverse so that the activations kept from pass 1 are used
    // (and dropped) first.
    let mut parts: Vec<Option<Tensor>> = vec![None; grid.tiles().len()];
    for (t, tile) in grid.tiles().iter().enumerate().rev() {
        let acts = match kept[t].take() {
            Some(acts) => acts,
            None => run.forward(tile)?,
        };
        let started = std::time::Instant::now();
        let grads = match last_grads.take() {
            Some(grads) => grads,
            None => run.grads(&on_layers, &acts, tile)?,
        };
        in_pass_2 += started.elapsed().as_secs_f64();
        let mut tap_grads: Vec<Option<Tensor>> = vec![None; layers.depth];
        for ((term, g), divisor) in on_layers.iter().zip(grads).zip(&divisors) {
            let Some(g) = g else { continue };
            let g = match divisor {
                Some(d) => divide_features(&g, d)?,
                None => g,
            };
            add(&mut tap_grads[layer_of(term.as_ref())?], g)?;
        }
        let outer = crop(x, tile.outer)?;
        let g = if layers.depth == 0 { outer.zeros_like()? } else { net.backward(&acts, &mut tap_grads)? };
        let (inner, _) = grid.at_stride(tile, 1);
        parts[t] = Some(crop(&g, inner)?);
    }
    let parts = parts.into_iter().collect::<Option<Vec<_>>>().ok_or_else(|| Error::internal("tile skipped"))?;
    let mut grad = assemble(&parts, grid.columns())?;
    times.backward = clock.elapsed().as_secs_f64() - before_pass_2 - in_pass_2;
    let started = std::time::Instant::now();
    for term in &on_image {
        if let Some(g) = term.grad(x, &whole)? {
            grad = grad.add(&g)?;
        }
    }
    times.losses += in_pass_2 + started.elapsed().as_secs_f64();
    Ok((losses, Some(grad), times))
}

/// The layer a term reads (only terms reading a layer run over tiles).
fn layer_of(term: &dyn Term) -> Result<usize> {
    match term.place().reads {
        Reads::Layer(layer) => Ok(layer),
        Reads::Image => Err(Error::internal("an image term among the layer terms")),
    }
}

/// What every pass over the grid shares.
struct Run<'a> {
    net: &'a Vgg,
    x: &'a Tensor,
    grid: &'a TileGrid,
    layers: &'a Layers,
    /// The image's (width, height).
    size: (usize, usize),
}

impl Run<'_> {
    fn forward(&self, tile: &Tile) -> Result<Activations> {
        self.net.forward_taps(&crop(self.x, tile.outer)?, &self.layers.keep)
    }

    /// The whole image as the part an image term reads.
    fn whole(&self) -> Part {
        let all = Rect { x: 0, y: 0, w: self.size.0, h: self.size.1 };
        Part { inner: all, outer: all, channels: 3, size: self.size }
    }

    /// Where `tile` sits in network layer `layer`.
    fn part(&self, tile: &Tile, layer: usize) -> Result<Part> {
        let stride = self.net.reach(layer + 1).1;
        let (inner, outer) = self.grid.at_stride(tile, stride);
        let c = self.net.layer_channels(layer).ok_or_else(|| Error::internal("no such layer"))?;
        Ok(Part { inner, outer, channels: c, size: (self.size.0 / stride, self.size.1 / stride) })
    }

    /// Each term's gradient at its layer over `tile`, not normalised.
    fn grads(&self, terms: &[Box<dyn Term + '_>], acts: &Activations, tile: &Tile) -> Result<Vec<Option<Tensor>>> {
        terms
            .iter()
            .map(|t| {
                let layer = layer_of(t.as_ref())?;
                t.grad(acts.output(layer)?, &self.part(tile, layer)?)
            })
            .collect()
    }

    /// Each term's gradient divisor (see `gram::gradient_divisor`) from its gradient's L1 norm
    /// over every tile's interior, measured before any tile's gradient is scaled by it (one more
    /// forward per tile whose activations were not kept). Also the last tile's gradients, for
    /// pass 2 to reuse.
    #[allow(clippy::type_complexity)]
    fn measure_divisors(
        &self,
        terms: &[Box<dyn Term + '_>],
        kept: &[Option<Activations>],
    ) -> Result<(Vec<Option<Tensor>>, Vec<Option<Tensor>>)> {
        let mut norms: Vec<Option<Tensor>> = vec![None; terms.len()];
        let mut last = Vec::new();
        for (t, tile) in self.grid.tiles().iter().enumerate() {
            let fresh;
            let acts = match &kept[t] {
                Some(acts) => acts,
                None => {
                    fresh = self.forward(tile)?;
                    &fresh
                }
            };
            let grads = self.grads(terms, acts, tile)?;
            for ((norm, term), g) in norms.iter_mut().zip(terms).zip(&grads) {
                let part = self.part(tile, layer_of(term.as_ref())?)?;
                if let (Some(g), false) = (g, part.owns_nothing()) {
                    add(norm, crop(g, part.inner)?.abs()?.sum_all()?)?;
                }
            }
            last = grads;
        }
        let divisors = norms
            .into_iter()
            .zip(terms)
            .map(|(norm, term)| norm.map(|n| gradient_divisor(&n, term.place().weight)).transpose())
            .collect::<Result<_>>()?;
        Ok((divisors, last))
    }
}
