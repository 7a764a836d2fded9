//! The Gram style term of one layer, over each region of the picture (the whole picture, or
//! one per painted mask: see `guide`), measured as the look says (see `gram::style_measure`).

use candle_core::{DType, Device, Tensor};

use super::{Part, Place, Term};
use crate::error::{Error, Result};
use crate::transfer::loss::gram::{gram_sum, style_grad, style_measure};
use crate::transfer::loss::guide::Region;
use crate::transfer::loss::tiles::{add, crop};
use crate::transfer::spec::look::Look;

/// Style layer `k`'s Gram mismatch, summed over the regions.
pub(super) struct GramStyle<'a> {
    place: Place,
    /// The style layer's index (its targets in each region).
    k: usize,
    look: Look,
    regions: &'a [Region],
    /// Per region: `F diag(m^2) F^T` summed over the tiles' interiors so far.
    sums: Vec<Option<Tensor>>,
    /// Per region, after [`Term::finish`]: the matrix `style_grad` back-propagates (`None`:
    /// the region's mask vanished at this layer).
    slopes: Vec<Option<Tensor>>,
    /// The layer's (channels, pixels).
    size: (usize, usize),
    /// The features' dtype and device (for a zero loss where every region vanished).
    like: Option<(DType, Device)>,
}

impl<'a> GramStyle<'a> {
    pub(super) fn new(place: Place, k: usize, look: Look, regions: &'a [Region]) -> Self {
        let sums = vec![None; regions.len()];
        GramStyle { place, k, look, regions, sums, slopes: Vec::new(), size: (0, 0), like: None }
    }
}

impl Term for GramStyle<'_> {
    fn place(&self) -> Place {
        self.place
    }

    fn gather(&mut self, features: &Tensor, part: &Part) -> Result<()> {
        self.size = (part.channels, part.pixels());
        self.like = Some((features.dtype(), features.device().clone()));
        let owned = crop(features, part.inner)?;
        for (sum, region) in self.sums.iter_mut().zip(self.regions) {
            let weighed = region.weigh(self.k, &owned, Some(part.inner_global()), 1)?;
            add(sum, gram_sum(&weighed)?)?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<Tensor> {
        let (c, pixels) = self.size;
        let mut loss: Option<Tensor> = None;
        self.slopes = Vec::with_capacity(self.regions.len());
        for (sum, region) in std::mem::take(&mut self.sums).into_iter().zip(self.regions) {
            let gram = match sum {
                Some(sum) => region.gram(self.k, &sum, c, pixels)?,
                None => None,
            };
            let Some(gram) = gram else {
                self.slopes.push(None);
                continue;
            };
            let (measure, slope) = style_measure(&gram.sub(region.target(self.k)?)?, self.look.scaled())?;
            add(&mut loss, region.loss(self.k, measure, pixels)?)?;
            self.slopes.push(Some(slope));
        }
        match loss {
            Some(loss) => Ok(loss),
            None => {
                let (dtype, device) = self.like.as_ref().ok_or_else(|| Error::internal("a style layer saw no tile"))?;
                Ok(Tensor::zeros((), *dtype, device)?)
            }
        }
    }

    fn grad(&self, features: &Tensor, part: &Part) -> Result<Option<Tensor>> {
        let mut sum = None;
        for (slope, region) in self.slopes.iter().zip(self.regions) {
            let Some(slope) = slope else { continue };
            let weighed = region.weigh(self.k, features, Some(part.outer), 2)?;
            add(&mut sum, style_grad(&weighed, slope, self.place.weight, part.layer_elems())?)?;
        }
        Ok(sum)
    }
}
