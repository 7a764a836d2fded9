//! The displayable range as a box in the network's normalised pixel space. Optimising inside it
//! means the picture shown and exported is the picture whose losses were computed: values a
//! screen cannot show (below black, above white) never carry texture the optimiser relied on.

use candle_core::{DType, Device, Tensor};

use crate::error::Result;
use crate::imageio::{MEAN, STD};

/// Per-channel lower and upper bounds, (1, 3, 1, 1), of pixels in [0, 1] once normalised.
#[derive(Debug, Clone)]
pub struct Bounds {
    lo: Tensor,
    hi: Tensor,
}

impl Bounds {
    /// The box of displayable colours, `(0 - mean) / std ..= (1 - mean) / std` per channel.
    pub fn displayable(device: &Device) -> Result<Self> {
        let side = |v: f32| -> Result<Tensor> {
            let values: Vec<f32> = (0..3).map(|c| (v - MEAN[c]) / STD[c]).collect();
            Ok(Tensor::from_vec(values, (1, 3, 1, 1), device)?)
        };
        Ok(Bounds { lo: side(0.0)?, hi: side(1.0)? })
    }

    /// The same range `lo..=hi` for every value, whatever the tensor's shape.
    pub fn uniform(lo: f32, hi: f32, device: &Device) -> Result<Self> {
        Ok(Bounds { lo: Tensor::new(&[lo], device)?, hi: Tensor::new(&[hi], device)? })
    }

    /// The nearest point of the box (each value clamped to its channel's range).
    pub fn project(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.broadcast_maximum(&self.lo)?.broadcast_minimum(&self.hi)?)
    }

    /// 1 where a value of `x` may move against the gradient `grad`, 0 where it sits on a bound
    /// and the gradient pushes it outside (those values are held fixed for this step).
    pub fn free(&self, x: &Tensor, grad: &Tensor) -> Result<Tensor> {
        let at_lo = x.broadcast_le(&self.lo)?.to_dtype(DType::F32)?;
        let at_hi = x.broadcast_ge(&self.hi)?.to_dtype(DType::F32)?;
        let pushed_down = grad.gt(0f64)?.to_dtype(DType::F32)?;
        let pushed_up = grad.lt(0f64)?.to_dtype(DType::F32)?;
        let held = (at_lo.mul(&pushed_down)? + at_hi.mul(&pushed_up)?)?;
        Ok(held.affine(-1.0, 1.0)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projection_maps_black_and_white_to_the_bounds() {
        let b = Bounds::displayable(&Device::Cpu).unwrap();
        let x = Tensor::new(&[[[[-10f32]], [[0.0]], [[10.0]]]], &Device::Cpu).unwrap();
        let p: Vec<f32> = b.project(&x).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        assert!((p[0] * STD[0] + MEAN[0]).abs() < 1e-6, "red clamped to black: {p:?}");
        assert_eq!(p[1], 0.0, "inside the box: unchanged");
        assert!((p[2] * STD[2] + MEAN[2] - 1.0).abs() < 1e-6, "blue clamped to white: {p:?}");
    }

    #[test]
    fn values_on_a_bound_are_held_only_when_pushed_outwards() {
        let b = Bounds::displayable(&Device::Cpu).unwrap();
        let x = Tensor::new(&[[[[-10f32, -10.0, 0.0]], [[10.0, 10.0, 0.0]], [[0.0, 0.0, 0.0]]]], &Device::Cpu).unwrap();
        let x = b.project(&x).unwrap();
        // Descent moves along -grad: a positive gradient pushes a value down.
        let g = Tensor::new(&[[[[1f32, -1.0, 1.0]], [[-1.0, 1.0, -1.0]], [[1.0, -1.0, 0.0]]]], &Device::Cpu).unwrap();
        let free: Vec<f32> = b.free(&x, &g).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(free, vec![0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0]);
    }
}
