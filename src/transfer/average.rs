//! The running average of an optimiser's iterates: an exponential moving average with bias
//! correction (Adam's), so that the first values are not pulled towards zero. Shown instead of
//! the latest iterate it hides Adam's step-to-step jitter, and converges to the same picture.

use candle_core::Tensor;

use crate::error::{Error, Result};

/// An exponential moving average of images.
#[derive(Debug)]
pub struct Average {
    decay: f64,
    /// `sum_i (1 - decay) decay^(t - i) x_i`: biased towards zero by `decay^t`.
    sum: Option<Tensor>,
    /// `decay^t`.
    bias: f64,
}

impl Average {
    /// An empty average with the given decay, in [0, 1).
    pub fn new(decay: f64) -> Result<Self> {
        if !(0.0..1.0).contains(&decay) {
            return Err(Error::invalid(format!("the average's decay must be in [0, 1), got {decay}")));
        }
        Ok(Average { decay, sum: None, bias: 1.0 })
    }

    /// Adds `x` and returns the average so far (bias-corrected: one value averages to itself).
    pub fn add(&mut self, x: &Tensor) -> Result<Tensor> {
        let fresh = (x * (1.0 - self.decay))?;
        let sum = match self.sum.take() {
            Some(s) => ((s * self.decay)? + fresh)?,
            None => fresh,
        };
        self.bias *= self.decay;
        let value = (&sum / (1.0 - self.bias))?;
        self.sum = Some(sum);
        Ok(value)
    }

    /// Starts afresh (after the objective or the image changed).
    pub fn reset(&mut self) {
        self.sum = None;
        self.bias = 1.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn value(t: &Tensor) -> f32 {
        t.to_vec1::<f32>().unwrap()[0]
    }

    #[test]
    fn one_value_averages_to_itself_and_a_constant_stays_constant() {
        let mut avg = Average::new(0.9).unwrap();
        let x = Tensor::new(&[2f32], &Device::Cpu).unwrap();
        for _ in 0..5 {
            assert!((value(&avg.add(&x).unwrap()) - 2.0).abs() < 1e-5);
        }
    }

    #[test]
    fn the_average_weighs_recent_values_by_the_decay() {
        let mut avg = Average::new(0.5).unwrap();
        avg.add(&Tensor::new(&[0f32], &Device::Cpu).unwrap()).unwrap();
        // (0.5 * 0.5 * 0 + 0.5 * 4) / (1 - 0.25) = 8 / 3.
        let v = value(&avg.add(&Tensor::new(&[4f32], &Device::Cpu).unwrap()).unwrap());
        assert!((v - 8.0 / 3.0).abs() < 1e-5, "{v}");
        avg.reset();
        assert!((value(&avg.add(&Tensor::new(&[1f32], &Device::Cpu).unwrap()).unwrap()) - 1.0).abs() < 1e-6);
        assert!(Average::new(1.0).is_err() && Average::new(-0.1).is_err());
    }
}
