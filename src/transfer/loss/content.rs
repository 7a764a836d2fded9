//! The content term: the mean squared difference of the features from the photo's.

use candle_core::Tensor;

use super::{Part, Place, Term};
use crate::error::Result;
use crate::transfer::loss::gram::content_term;
use crate::transfer::loss::tiles::{add, crop};

/// `mean((F - P)^2)` at the content layer.
pub(super) struct Content<'a> {
    place: Place,
    /// The photo's features at the layer, whole.
    target: &'a Tensor,
    /// The sum so far over the tiles' interiors (already divided by the layer's size).
    sum: Option<Tensor>,
}

impl<'a> Content<'a> {
    pub(super) fn new(place: Place, target: &'a Tensor) -> Self {
        Content { place, target, sum: None }
    }
}

impl Term for Content<'_> {
    fn place(&self) -> Place {
        self.place
    }

    fn gather(&mut self, features: &Tensor, part: &Part) -> Result<()> {
        let target = crop(self.target, part.inner_global())?;
        let (share, _) = content_term(&crop(features, part.inner)?, &target, 0.0, part.layer_elems())?;
        add(&mut self.sum, share)
    }

    fn finish(&mut self) -> Result<Tensor> {
        match self.sum.take() {
            Some(sum) => Ok(sum),
            None => Ok(Tensor::zeros((), self.target.dtype(), self.target.device())?),
        }
    }

    fn grad(&self, features: &Tensor, part: &Part) -> Result<Option<Tensor>> {
        let target = crop(self.target, part.outer)?;
        Ok(Some(content_term(features, &target, self.place.weight, part.layer_elems())?.1))
    }
}
