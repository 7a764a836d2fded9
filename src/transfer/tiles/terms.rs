//! Each loss term's gradient at its layer for one tile (pass 2 of the tiled evaluation), and
//! the norms of those gradients over every tile when gradients are normalised.

use candle_core::Tensor;

use super::{add, crop, Tile, TileGrid};
use crate::error::{Error, Result};
use crate::model::{Activations, Vgg};
use crate::transfer::gram::{content_term, gradient_divisor, style_grad};
use crate::transfer::objective::{Objective, Terms};
use crate::transfer::targets::Targets;

/// What pass 2 needs to give each term's gradient at its layer for one tile.
pub(super) struct TermGrads<'a> {
    pub(super) net: &'a Vgg,
    pub(super) grid: &'a TileGrid,
    pub(super) objective: &'a Objective,
    pub(super) targets: &'a Targets,
    pub(super) terms: &'a Terms,
    /// Per style layer and region, the global matrix `style_grad` takes (see `style_measure`).
    pub(super) slopes: &'a [Option<Vec<Option<Tensor>>>],
    /// The image's (width, height).
    pub(super) size: (usize, usize),
}

impl TermGrads<'_> {
    /// Element count of the whole of layer `i`.
    fn layer_elems(&self, i: usize) -> Result<usize> {
        let (_, stride) = self.net.reach(i + 1);
        let c = self.net.layer_channels(i).ok_or_else(|| Error::internal("no such layer"))?;
        Ok(c * (self.size.1 / stride) * (self.size.0 / stride))
    }

    /// Each term's gradient at its layer over the tile `acts` came from, as (layer, gradient):
    /// the content term first, then each style layer (`None`: inactive), not normalised.
    pub(super) fn tile(&self, acts: &Activations, tile: &Tile) -> Result<Vec<Option<(usize, Tensor)>>> {
        let (net, o) = (self.net, self.objective);
        let mut out = Vec::with_capacity(1 + self.slopes.len());
        out.push(match self.terms.content {
            Some(i) => {
                let (_, outer) = self.grid.at_stride(tile, net.reach(i + 1).1);
                let target = crop(&self.targets.content, outer)?;
                Some((i, content_term(acts.output(i)?, &target, o.content_weight, self.layer_elems(i)?)?.1))
            }
            None => None,
        });
        for (k, ((slopes, &layer), &(_, w))) in
            self.slopes.iter().zip(&self.terms.style).zip(&o.style_layers).enumerate()
        {
            let (Some(slopes), Some(i)) = (slopes, layer) else {
                out.push(None);
                continue;
            };
            let (_, outer) = self.grid.at_stride(tile, net.reach(i + 1).1);
            let mut sum = None;
            for (slope, region) in slopes.iter().zip(self.targets.regions()) {
                let Some(slope) = slope else { continue };
                let weighed = region.weigh(k, acts.output(i)?, Some(outer), 2)?;
                add(&mut sum, style_grad(&weighed, slope, o.style_weight * w, self.layer_elems(i)?)?)?;
            }
            out.push(sum.map(|g| (i, g)));
        }
        Ok(out)
    }

    /// Each term's gradient divisor (see `gram::gradient_divisor`) from its norm over every
    /// tile's interior, pushed onto `scalars`: their slots, terms in [`Self::tile`]'s order.
    pub(super) fn divisors(&self, x: &Tensor, scalars: &mut Vec<Tensor>) -> Result<Vec<Option<usize>>> {
        let mut norms: Vec<Option<Tensor>> = vec![None; 1 + self.slopes.len()];
        for tile in self.grid.tiles() {
            let acts = self.net.forward_taps(&crop(x, tile.outer)?, &self.terms.keep)?;
            for (norm, term) in norms.iter_mut().zip(self.tile(&acts, tile)?) {
                let Some((i, g)) = term else { continue };
                let (inner, _) = self.grid.at_stride(tile, self.net.reach(i + 1).1);
                if inner.w > 0 && inner.h > 0 {
                    add(norm, crop(&g, inner)?.abs()?.sum_all()?)?;
                }
            }
        }
        let o = self.objective;
        let weights = std::iter::once(o.content_weight).chain(o.style_layers.iter().map(|l| o.style_weight * l.1));
        norms
            .into_iter()
            .zip(weights)
            .map(|(norm, weight)| {
                Ok(match norm {
                    Some(n) => {
                        scalars.push(gradient_divisor(&n, weight)?);
                        Some(scalars.len() - 1)
                    }
                    None => None,
                })
            })
            .collect()
    }
}
