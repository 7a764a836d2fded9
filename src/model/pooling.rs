//! Pooling between VGG blocks on (1, C, H, W) tensors (the generic path; the CPU fast path's
//! channels-last kernels are in `pool.rs`). Max pooling is what VGG was trained with; average
//! pooling, which Gatys et al. preferred for image synthesis, gives smoother gradients and
//! softer, more even textures.

use candle_core::{DType, Tensor};

use crate::error::Result;

/// How the trunk pools between blocks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// 2x2 max pooling, as the network was trained.
    #[default]
    Max,
    /// 2x2 average pooling times [`AVG_SCALE`].
    Avg,
}

/// Average pooling's output is multiplied by this at each pooling layer so activations keep
/// about the magnitude max pooling gives them (the mean of a 2x2 window of ReLU outputs is below
/// its maximum), and loss weights tuned for max pooling stay meaningful. Measured on the six
/// shared photos and paintings at 512 px: with 1.25 the RMS activation of relu2_1 .. relu5_1 is
/// 0.92-0.98x max pooling's (geometric mean; 0.55-1.39x for single images); plain averaging
/// gives 0.35-0.7x by relu4_1, and 2 (a factor used elsewhere) about 5x.
pub const AVG_SCALE: f32 = 1.25;

impl Pooling {
    /// Lower-case name, as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Pooling::Max => "max",
            Pooling::Avg => "avg",
        }
    }

    /// 2x2/stride-2 pooling (floor mode) of `x` (1, C, H, W).
    pub fn forward(self, x: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Pooling::Max => x.max_pool2d(2)?,
            Pooling::Avg => (x.avg_pool2d(2)? * f64::from(AVG_SCALE))?,
        })
    }

    /// Gradient w.r.t. the pooling's `input` (1, C, H, W), given its `output` and the gradient
    /// `grad` w.r.t. that output (1, C, H/2, W/2). Rows and columns dropped by floor mode get 0.
    pub fn backward(self, input: &Tensor, output: &Tensor, grad: &Tensor) -> Result<Tensor> {
        match self {
            Pooling::Max => max_pool_backward(input, output, grad),
            Pooling::Avg => avg_pool_backward(input, grad),
        }
    }
}

/// Spreads the gradient of a scaled 2x2 average evenly over its window.
fn avg_pool_backward(input: &Tensor, grad: &Tensor) -> Result<Tensor> {
    let (n, c, h, w) = input.dims4()?;
    let (h2, w2) = (grad.dim(2)?, grad.dim(3)?);
    let spread = grad
        .reshape((n, c, h2, 1, w2, 1))?
        .broadcast_as((n, c, h2, 2, w2, 2))?
        .reshape((n, c, 2 * h2, 2 * w2))?
        .affine(f64::from(AVG_SCALE) / 4.0, 0.0)?;
    Ok(spread.pad_with_zeros(2, 0, h - 2 * h2)?.pad_with_zeros(3, 0, w - 2 * w2)?)
}

/// Routes the gradient of a 2x2/stride-2 max-pool to the position of each window's maximum.
///
/// `input` (1, C, H, W), `output` and `grad` (1, C, H/2, W/2). A row or column dropped by floor
/// mode gets zero. Ties among positive values (measure zero for real images) would each receive
/// the gradient; ties at zero are harmless because the preceding ReLU masks them.
fn max_pool_backward(input: &Tensor, output: &Tensor, grad: &Tensor) -> Result<Tensor> {
    let (n, c, h, w) = input.dims4()?;
    let (h2, w2) = (output.dim(2)?, output.dim(3)?);
    let windows = input.narrow(2, 0, 2 * h2)?.narrow(3, 0, 2 * w2)?.contiguous()?.reshape((n, c, h2, 2, w2, 2))?;
    let is_max = windows.broadcast_eq(&output.reshape((n, c, h2, 1, w2, 1))?)?.to_dtype(DType::F32)?;
    // Only the first maximum in row-major window order gets the gradient (torch's rule, and the
    // CPU fast path's): routing it to every tied maximum would multiply it.
    // (n, c, h2, w2, 4): window positions dy * 2 + dx along the last axis.
    let m = is_max.permute((0, 1, 2, 4, 3, 5))?.contiguous()?.reshape((n, c, h2, w2, 4))?;
    let mut kept = vec![m.narrow(4, 0, 1)?];
    let mut seen = m.narrow(4, 0, 1)?;
    for k in 1..4 {
        let mk = m.narrow(4, k, 1)?;
        kept.push(mk.mul(&seen.eq(0f32)?.to_dtype(DType::F32)?)?);
        seen = seen.add(&mk)?;
    }
    let first = Tensor::cat(&kept, 4)?.reshape((n, c, h2, w2, 2, 2))?.permute((0, 1, 2, 4, 3, 5))?;
    let routed = first.broadcast_mul(&grad.reshape((n, c, h2, 1, w2, 1))?)?.reshape((n, c, 2 * h2, 2 * w2))?;
    Ok(routed.pad_with_zeros(2, 0, h - 2 * h2)?.pad_with_zeros(3, 0, w - 2 * w2)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn max_pool_backward_routes_to_the_maximum_and_zeroes_dropped_rows() {
        let dev = Device::Cpu;
        let x = Tensor::new(&[[1f32, 2., 9.], [3., 4., 9.], [9., 9., 9.]], &dev).unwrap();
        let x = x.reshape((1, 1, 3, 3)).unwrap();
        let y = x.max_pool2d(2).unwrap();
        let g = Tensor::new(&[[1f32]], &dev).unwrap().reshape((1, 1, 1, 1)).unwrap();
        let gx = max_pool_backward(&x, &y, &g).unwrap();
        let v: Vec<f32> = gx.flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(v, vec![0., 0., 0., 0., 1., 0., 0., 0., 0.]);
    }

    #[test]
    fn max_pool_backward_gives_a_tie_to_its_first_maximum_only() {
        // Two windows: 5 tied three times (first: top-left), 7 tied twice (first: top-right).
        let dev = Device::Cpu;
        let x = Tensor::new(&[[5f32, 5., 1., 7.], [1., 5., 7., 3.]], &dev).unwrap().reshape((1, 1, 2, 4)).unwrap();
        let y = x.max_pool2d(2).unwrap();
        let g = Tensor::new(&[[2f32, 3.]], &dev).unwrap().reshape((1, 1, 1, 2)).unwrap();
        let v: Vec<f32> = max_pool_backward(&x, &y, &g).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(v, vec![2., 0., 0., 3., 0., 0., 0., 0.]);
    }

    #[test]
    fn avg_pool_backward_spreads_the_scaled_gradient_and_zeroes_dropped_rows() {
        let dev = Device::Cpu;
        let x =
            Tensor::new(&[[1f32, 2., 9.], [3., 4., 9.], [9., 9., 9.]], &dev).unwrap().reshape((1, 1, 3, 3)).unwrap();
        let y = Pooling::Avg.forward(&x).unwrap();
        assert_eq!(y.flatten_all().unwrap().to_vec1::<f32>().unwrap(), vec![2.5 * AVG_SCALE]);
        let g = Tensor::new(&[[4f32]], &dev).unwrap().reshape((1, 1, 1, 1)).unwrap();
        let v: Vec<f32> = Pooling::Avg.backward(&x, &y, &g).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        let s = AVG_SCALE;
        assert_eq!(v, vec![s, s, 0., s, s, 0., 0., 0., 0.]);
    }
}
