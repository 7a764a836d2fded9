//! The running average of an optimiser's iterates: an exponential moving average with bias
//! correction (Adam's), so that the first values are not pulled towards zero. Shown instead of
//! the latest iterate it hides Adam's step-to-step jitter, and converges to the same picture.
//!
//! Its window grows with the run (the decay is `min(decay, (1 + t) / (10 + t))` at step `t`, as
//! TensorFlow's moving averages warm up): early on, while the picture still changes fast, the
//! average follows it closely; a fixed long window would show a picture tens of iterations
//! behind (at a stage of 60 iterations, a loss 7x the latest iterate's).

use candle_core::Tensor;

use crate::error::{Error, Result};

/// An exponential moving average of images.
#[derive(Debug)]
pub struct Average {
    decay: f64,
    /// `sum_i (1 - d_i) d_(i+1) ... d_t x_i`: biased towards zero by the product of the decays.
    sum: Option<Tensor>,
    /// The product of the decays so far.
    bias: f64,
    /// Values added so far.
    t: u32,
}

impl Average {
    /// The decay it was made with.
    pub fn decay(&self) -> f64 {
        self.decay
    }

    /// An empty average with the given decay, in [0, 1).
    pub fn new(decay: f64) -> Result<Self> {
        if !(0.0..1.0).contains(&decay) {
            return Err(Error::invalid(format!("the average's decay must be in [0, 1), got {decay}")));
        }
        Ok(Average { decay, sum: None, bias: 1.0, t: 0 })
    }

    /// Adds `x` and returns the average so far (bias-corrected: one value averages to itself).
    pub fn add(&mut self, x: &Tensor) -> Result<Tensor> {
        let t = f64::from(self.t);
        let decay = self.decay.min((1.0 + t) / (10.0 + t));
        self.t += 1;
        let fresh = (x * (1.0 - decay))?;
        let sum = match self.sum.take() {
            Some(s) => ((s * decay)? + fresh)?,
            None => fresh,
        };
        self.bias *= decay;
        let value = (&sum / (1.0 - self.bias))?;
        self.sum = Some(sum);
        Ok(value)
    }

    /// Starts afresh (after the objective or the image changed).
    pub fn reset(&mut self) {
        self.sum = None;
        self.bias = 1.0;
        self.t = 0;
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
    fn early_values_are_followed_closely() {
        // A picture moving steadily: after 20 steps a fixed 0.97 window lags 8.5 steps
        // behind, the warming-up one 2.
        let mut avg = Average::new(0.97).unwrap();
        let mut last = 0.0;
        for t in 0..20 {
            last = value(&avg.add(&Tensor::new(&[t as f32], &Device::Cpu).unwrap()).unwrap());
        }
        assert!(19.0 - last < 2.5, "{last}");
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
    fn the_average_weighs_recent_values_by_the_decay_once_warmed_up() {
        let mut avg = Average::new(0.5).unwrap();
        // Decays 0.1, 0.18, 0.25, 0.31, 0.36, 0.4, 0.44, 0.47, 0.5: ten zeros, then a 4.
        for _ in 0..10 {
            avg.add(&Tensor::new(&[0f32], &Device::Cpu).unwrap()).unwrap();
        }
        let bias: f64 = (0..11).map(|t| (0.5f64).min((1.0 + t as f64) / (10.0 + t as f64))).product();
        // The 4 enters with weight 1 - 0.5, the whole with 1 - bias.
        let expect = (0.5 * 4.0 / (1.0 - bias)) as f32;
        let v = value(&avg.add(&Tensor::new(&[4f32], &Device::Cpu).unwrap()).unwrap());
        assert!((v - expect).abs() < 1e-5, "{v} vs {expect}");
        avg.reset();
        assert!((value(&avg.add(&Tensor::new(&[1f32], &Device::Cpu).unwrap()).unwrap()) - 1.0).abs() < 1e-6);
        assert!(Average::new(1.0).is_err() && Average::new(-0.1).is_err());
    }
}
