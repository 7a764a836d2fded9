//! Adam (Kingma & Ba) on candle tensors, with torch's defaults (betas 0.9/0.999, eps 1e-8).

use candle_core::Tensor;

use crate::error::Result;

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const EPS: f64 = 1e-8;

/// Adam state: first and second moment estimates.
#[derive(Debug)]
pub struct Adam {
    lr: f64,
    m: Option<Tensor>,
    v: Option<Tensor>,
    t: i32,
}

impl Adam {
    /// A fresh optimiser with learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        Adam { lr, m: None, v: None, t: 0 }
    }

    /// Forgets the moments (after the objective changed).
    pub fn reset(&mut self) {
        *self = Adam::new(self.lr);
    }

    /// The learning rate.
    pub fn lr(&self) -> f64 {
        self.lr
    }

    /// Changes the learning rate, keeping the moments.
    pub fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    /// Given the gradient `grad` at `x`, returns the next iterate.
    pub fn step(&mut self, x: &Tensor, grad: &Tensor) -> Result<Tensor> {
        self.t += 1;
        let m = match self.m.take() {
            Some(m) => ((m * BETA1)? + (grad * (1.0 - BETA1))?)?,
            None => (grad * (1.0 - BETA1))?,
        };
        let v = match self.v.take() {
            Some(v) => ((v * BETA2)? + (grad.sqr()? * (1.0 - BETA2))?)?,
            None => (grad.sqr()? * (1.0 - BETA2))?,
        };
        let bc1 = 1.0 - BETA1.powi(self.t);
        let bc2 = 1.0 - BETA2.powi(self.t);
        let denom = ((v.sqrt()? / bc2.sqrt())? + EPS)?;
        let next = x.sub(&(m.div(&denom)? * (self.lr / bc1))?)?;
        self.m = Some(m);
        self.v = Some(v);
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn adam_finds_the_rosenbrock_minimum() {
        let mut x = Tensor::new(&[-1.2f32, 1.0], &Device::Cpu).unwrap();
        let mut opt = Adam::new(0.02);
        for _ in 0..10000 {
            let v: Vec<f32> = x.to_vec1().unwrap();
            let (a, b) = (v[0], v[1]);
            let g =
                Tensor::new(&[-2.0 * (1.0 - a) - 400.0 * a * (b - a * a), 200.0 * (b - a * a)], &Device::Cpu).unwrap();
            x = opt.step(&x, &g).unwrap();
        }
        let v: Vec<f32> = x.to_vec1().unwrap();
        assert!((v[0] - 1.0).abs() < 2e-2 && (v[1] - 1.0).abs() < 4e-2, "ended at {v:?}");
    }

    #[test]
    fn first_adam_step_moves_each_coordinate_by_lr() {
        // With bias correction the first step is lr * sign(g), whatever the gradient's scale.
        let x = Tensor::new(&[0f32, 0.0], &Device::Cpu).unwrap();
        let g = Tensor::new(&[1000f32, -0.001], &Device::Cpu).unwrap();
        let v: Vec<f32> = Adam::new(0.1).step(&x, &g).unwrap().to_vec1().unwrap();
        assert!((v[0] + 0.1).abs() < 1e-5 && (v[1] - 0.1).abs() < 1e-3, "{v:?}");
    }
}
