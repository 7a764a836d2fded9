//! The total variation of the image (see `gram::tv_loss_and_grad`), as a term reading the image.

use candle_core::Tensor;

use super::{no_taps, Build, Kind, Part, Place, Term, TV};
use crate::error::{Error, Result};
use crate::transfer::loss::gram::tv_loss_and_grad;

/// The total variation: reported at any weight, pulling when its weight is not zero.
pub(super) const KIND: Kind =
    Kind { name: TV, label: "Smoothness", weight: |o| o.tv_weight, taps: no_taps, prepare: None, build };

fn build<'a>(b: &Build<'a>) -> Result<Vec<Box<dyn Term + 'a>>> {
    Ok(vec![Box::new(Tv { place: Place::image(TV, b.objective.tv_weight), loss: None })])
}

/// The term at one evaluation.
struct Tv {
    place: Place,
    loss: Option<Tensor>,
}

impl Term for Tv {
    fn place(&self) -> Place {
        self.place
    }

    fn gather(&mut self, image: &Tensor, _: &Part) -> Result<()> {
        self.loss = Some(tv_loss_and_grad(image, 0.0)?.0);
        Ok(())
    }

    fn finish(&mut self) -> Result<Tensor> {
        self.loss.take().ok_or_else(|| Error::internal("the total variation saw no image"))
    }

    fn grad(&self, image: &Tensor, _: &Part) -> Result<Option<Tensor>> {
        Ok(tv_loss_and_grad(image, self.place.weight)?.1)
    }
}
