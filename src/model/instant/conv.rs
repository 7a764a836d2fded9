//! The building blocks of the instant networks: convolutions with TensorFlow's padding rules,
//! reflection padding, and the conditional instance norm.

use candle_core::{Tensor, D};

use super::rounding::{at, Int8Rounding};
use super::Weights;
use crate::error::Result;

/// How a convolution's input is padded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Padding {
    /// TensorFlow's SAME with zeros: output side ceil(side / stride); an odd total goes to the
    /// bottom and right.
    Same,
    /// Mirror the border (without repeating it) by half the kernel, then VALID.
    Reflect,
    /// None (1x1 convolutions).
    Valid,
}

/// A 2-D convolution with bias: weight (cout, cin / groups, k, k).
#[derive(Debug, Clone)]
pub(crate) struct Conv {
    weight: Tensor,
    bias: Tensor,
    stride: usize,
    groups: usize,
    padding: Padding,
}

impl Conv {
    /// Loads `{name}.weight` (cout, cin / groups, k, k) and `{name}.bias` (cout).
    pub(crate) fn load(
        w: &Weights,
        name: &str,
        (cin, cout, k): (usize, usize, usize),
        stride: usize,
        groups: usize,
        padding: Padding,
    ) -> Result<Self> {
        let weight = w.get(&format!("{name}.weight"), &[cout, cin / groups, k, k])?;
        let bias = w.get(&format!("{name}.bias"), &[cout])?.reshape((1, cout, 1, 1))?;
        Ok(Conv { weight, bias, stride, groups, padding })
    }

    /// Side of the kernel.
    pub(crate) fn kernel(&self) -> usize {
        self.weight.dims().last().copied().unwrap_or(1)
    }

    /// A depthwise convolution's weights for the CPU fast path.
    pub(crate) fn depthwise(&self) -> Result<super::fast::Depthwise> {
        let weight: Vec<f32> = self.weight.flatten_all()?.to_vec1()?;
        let bias: Vec<f32> = self.bias.flatten_all()?.to_vec1()?;
        Ok(super::fast::Depthwise::new(&weight, bias, self.stride))
    }

    /// The weights packed for the CPU fast path (groups of 1 only).
    pub(crate) fn packed(&self) -> Result<super::fast::PackedKxk> {
        let (cout, cin, k, _) = self.weight.dims4()?;
        let weight: Vec<f32> = self.weight.flatten_all()?.to_vec1()?;
        let bias: Vec<f32> = self.bias.flatten_all()?.to_vec1()?;
        Ok(super::fast::PackedKxk::new(&weight, bias, (cin, cout, k), self.stride))
    }

    /// (1, cin, h, w) -> (1, cout, h', w').
    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let k = self.weight.dim(3)?;
        let x = match self.padding {
            Padding::Valid => x.clone(),
            Padding::Reflect => reflect_pad(x, (k / 2, k / 2), (k / 2, k / 2))?,
            Padding::Same => {
                let (_, _, h, w) = x.dims4()?;
                let total = |side: usize| ((side.div_ceil(self.stride) - 1) * self.stride + k).saturating_sub(side);
                let (th, tw) = (total(h), total(w));
                x.pad_with_zeros(2, th / 2, th - th / 2)?.pad_with_zeros(3, tw / 2, tw - tw / 2)?
            }
        };
        Ok(x.conv2d(&self.weight, 0, self.stride, 1, self.groups)?.broadcast_add(&self.bias)?)
    }
}

/// Mirrors `x` (1, c, h, w) by `(top, bottom)` rows and `(left, right)` columns, the border
/// row or column itself not repeated (TensorFlow's REFLECT, ONNX's reflect).
pub(crate) fn reflect_pad(x: &Tensor, (top, bottom): (usize, usize), (left, right): (usize, usize)) -> Result<Tensor> {
    let x = reflect_dim(x, 2, top, bottom)?;
    reflect_dim(&x, 3, left, right)
}

fn reflect_dim(x: &Tensor, dim: usize, before: usize, after: usize) -> Result<Tensor> {
    if before == 0 && after == 0 {
        return Ok(x.clone());
    }
    let n = x.dim(dim)?;
    // i+1 counts up from the second row, n-2-i down from the last-but-one (clamped inside the
    // picture when it is thinner than the padding, which only tiny inputs are).
    let index: Vec<u32> = (0..before)
        .rev()
        .map(|i| (i + 1).min(n - 1))
        .chain(0..n)
        .chain((0..after).map(|i| n.saturating_sub(2 + i)))
        .map(|i| i as u32)
        .collect();
    let index = Tensor::new(index.as_slice(), x.device())?;
    Ok(x.contiguous()?.index_select(&index, dim)?)
}

/// min(max(x, 0), 6).
pub(crate) fn relu6(x: &Tensor) -> Result<Tensor> {
    Ok(x.clamp(0f32, 6f32)?)
}

/// Instance norm whose scale and offset come from the style vector: 1x1 projections of it
/// (`style_params/{name}/StyleNorm/Conv_1` the scale, `.../Conv` the offset).
#[derive(Debug, Clone)]
pub(crate) struct StyleNorm {
    scale: (Tensor, Tensor),
    offset: (Tensor, Tensor),
    channels: usize,
    /// The norm's name (`transformer/residual/residual1/conv1`), where the int8 graphs'
    /// rounding points of its steps are found.
    name: String,
}

impl StyleNorm {
    /// Loads the two projections (channels, 100) of the norm named `name`.
    pub(crate) fn load(w: &Weights, name: &str, channels: usize) -> Result<Self> {
        let proj = |which: &str| -> Result<(Tensor, Tensor)> {
            let base = format!("style_params/{name}/StyleNorm/{which}");
            let weight = w.get(&format!("{base}.weight"), &[channels, super::STYLE_DIM, 1, 1])?;
            let bias = w.get(&format!("{base}.bias"), &[channels])?;
            Ok((weight.reshape((channels, super::STYLE_DIM))?, bias))
        };
        Ok(StyleNorm { scale: proj("Conv_1")?, offset: proj("Conv")?, channels, name: name.to_string() })
    }

    /// The norm's name, under which its steps are rounded in the int8 graphs.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The (scale, offset) of this norm for a style vector (100), as numbers.
    pub(crate) fn condition_vec(&self, vector: &Tensor) -> Result<(Vec<f32>, Vec<f32>)> {
        let (scale, offset) = self.condition(vector, None)?;
        Ok((scale.flatten_all()?.to_vec1()?, offset.flatten_all()?.to_vec1()?))
    }

    /// The (scale, offset) of this norm for a style vector (100): each (1, c, 1, 1).
    pub(crate) fn condition(&self, vector: &Tensor, rounding: Option<&Int8Rounding>) -> Result<(Tensor, Tensor)> {
        let v = vector.reshape((super::STYLE_DIM, 1))?;
        let project = |(w, b): &(Tensor, Tensor), which: &str| -> Result<Tensor> {
            let p = (w.matmul(&v)?.squeeze(1)? + b)?.reshape((1, self.channels, 1, 1))?;
            at(rounding, p, &format!("style_params/{}/StyleNorm/{which}/BiasAdd", self.name))
        };
        Ok((project(&self.scale, "Conv_1")?, project(&self.offset, "Conv")?))
    }
}

/// Instance norm `(x - mean) / sqrt(var + eps) * scale + offset`, the statistics over each
/// channel's pixels, in TensorFlow's steps (`x * m + (offset - mean * m)`, `m = scale /
/// sqrt(var + eps)`), each rounded where the int8 graphs round it (under `{name}/StyleNorm/`).
pub(crate) fn instance_norm(
    x: &Tensor,
    (scale, offset): &(Tensor, Tensor),
    eps: f64,
    rounding: Option<&Int8Rounding>,
    name: &str,
) -> Result<Tensor> {
    let step = |t: Tensor, point: &str| at(rounding, t, &format!("{name}/StyleNorm/{point}"));
    let (_, c, h, w) = x.dims4()?;
    let flat = x.reshape((1, c, h * w))?;
    let mean = step(flat.mean_keepdim(D::Minus1)?, "moments/mean")?; // (1, c, 1)
    let squares = step(flat.broadcast_sub(&mean)?.sqr()?, "moments/SquaredDifference")?;
    let var = step(squares.mean_keepdim(D::Minus1)?, "moments/variance")?;
    let var = step((var + eps)?, "batchnorm/add")?;
    let rsqrt = step(var.sqrt()?.recip()?, "batchnorm/Rsqrt")?;
    let gain = step(rsqrt.broadcast_mul(&scale.reshape((1, c, 1))?)?, "batchnorm/mul")?;
    let shift = step((mean * &gain)?, "batchnorm/mul_2")?;
    let shift = step((offset.reshape((1, c, 1))? - shift)?, "batchnorm/sub")?;
    let scaled = step(flat.broadcast_mul(&gain)?, "batchnorm/mul_1")?;
    Ok(scaled.broadcast_add(&shift)?.reshape((1, c, h, w))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn reflection_mirrors_without_repeating_the_border() {
        let x = Tensor::new(&[1f32, 2., 3., 4., 5.], &Device::Cpu).unwrap().reshape((1, 1, 1, 5)).unwrap();
        let padded = reflect_pad(&x, (0, 0), (2, 3)).unwrap();
        let v: Vec<f32> = padded.flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(v, vec![3., 2., 1., 2., 3., 4., 5., 4., 3., 2.]);
    }

    #[test]
    fn instance_norm_gives_each_channel_the_style_mean_and_spread() {
        let dev = Device::Cpu;
        let x = Tensor::new(&[1f32, 2., 3., 6., 10., 20., 30., 60.], &dev).unwrap().reshape((1, 2, 2, 2)).unwrap();
        let scale = Tensor::new(&[2f32, 0.5], &dev).unwrap().reshape((1, 2, 1, 1)).unwrap();
        let offset = Tensor::new(&[1f32, -1.], &dev).unwrap().reshape((1, 2, 1, 1)).unwrap();
        let y = instance_norm(&x, &(scale, offset), 0.0, None, "n").unwrap();
        let v: Vec<f32> = y.flatten_all().unwrap().to_vec1().unwrap();
        for (c, (want_mean, want_std)) in [(1f32, 2f32), (-1., 0.5)].into_iter().enumerate() {
            let ch = &v[c * 4..c * 4 + 4];
            let mean = ch.iter().sum::<f32>() / 4.0;
            let std = (ch.iter().map(|a| (a - mean).powi(2)).sum::<f32>() / 4.0).sqrt();
            assert!((mean - want_mean).abs() < 1e-5 && (std - want_std).abs() < 1e-5, "{ch:?}");
        }
    }
}
