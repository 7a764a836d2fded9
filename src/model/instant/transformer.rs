//! The transformer: three convolutions down (9x9, then two 3x3 of stride 2), five residual
//! blocks, two nearest-neighbour 2x upsamplings each followed by a 3x3 convolution, and a 9x9
//! convolution to RGB through a sigmoid. Every layer after the first three is instance-normed
//! with a scale and offset projected from the style vector. All padding reflects the border.

use std::sync::Arc;

use candle_core::Tensor;

use super::conv::{instance_norm, Conv, Padding, StyleNorm};
use super::fast::{self, After, Map, PackedKxk};
use super::rounding::{at, Int8Rounding};
use super::Weights;
use crate::error::{Error, Result};

/// Channels after each contracting convolution.
const CONTRACT: [(usize, usize, usize); 3] = [(3, 8, 9), (8, 16, 3), (16, 32, 3)];
/// Residual blocks (at 32 channels).
const RESIDUAL: usize = 5;
/// (cin, cout, kernel, upsample first) of each expanding convolution.
const EXPAND: [(usize, usize, usize, bool); 3] = [(32, 16, 3, true), (16, 8, 3, true), (8, 3, 9, false)];

/// A convolution followed by a style-conditioned instance norm.
#[derive(Debug, Clone)]
struct NormedConv {
    conv: Conv,
    norm: StyleNorm,
}

impl NormedConv {
    /// (1, cin, h, w) -> (1, cout, h, w), normed but not yet activated.
    fn forward(&self, x: &Tensor, vector: &Tensor, eps: f64, rounding: Option<&Int8Rounding>) -> Result<Tensor> {
        let name = self.norm.name();
        let y = at(rounding, self.conv.forward(x)?, &format!("{name}/Conv2D"))?;
        instance_norm(&y, &self.norm.condition(vector, rounding)?, eps, rounding, name)
    }
}

/// Photo (1, 3, h, w) and style vector (100) -> painted photo (1, 3, h, w), both in 0..1, for
/// sides that are multiples of 4 (see [`super::InstantNet::paint`] for the others).
#[derive(Debug, Clone)]
pub struct Transformer {
    contract: Vec<Conv>,
    residual: Vec<[NormedConv; 2]>,
    expand: Vec<(NormedConv, bool)>,
    eps: f64,
    /// Every convolution packed for the CPU fast path, in order (contract, residual, expand);
    /// empty on other devices.
    packed: Vec<PackedKxk>,
    /// The int8 graph's activation rounding, when reproduced (generic path only).
    rounding: Option<Arc<Int8Rounding>>,
}

impl Transformer {
    pub(crate) fn load(w: &Weights) -> Result<Self> {
        let contract = CONTRACT
            .iter()
            .enumerate()
            .map(|(i, &(cin, cout, k))| {
                let name = format!("transformer/contract/conv{}", i + 1);
                Conv::load(w, &name, (cin, cout, k), if i == 0 { 1 } else { 2 }, 1, Padding::Reflect)
            })
            .collect::<Result<_>>()?;
        let normed = |name: &str, (cin, cout, k): (usize, usize, usize), norm: &str| -> Result<NormedConv> {
            Ok(NormedConv {
                conv: Conv::load(w, name, (cin, cout, k), 1, 1, Padding::Reflect)?,
                norm: StyleNorm::load(w, norm, cout)?,
            })
        };
        let residual = (1..=RESIDUAL)
            .map(|i| -> Result<[NormedConv; 2]> {
                let conv = |j: usize| {
                    let name = format!("transformer/residual/residual{i}/conv{j}");
                    normed(&name, (32, 32, 3), &format!("transformer/residual/residual{i}/conv{j}"))
                };
                Ok([conv(1)?, conv(2)?])
            })
            .collect::<Result<_>>()?;
        let expand = EXPAND
            .iter()
            .enumerate()
            .map(|(i, &(cin, cout, k, up))| {
                let name = format!("transformer/expand/conv{}/conv", i + 1);
                Ok((normed(&name, (cin, cout, k), &name)?, up))
            })
            .collect::<Result<_>>()?;
        let eps = w.get("transformer/epsilon", &[1])?.to_vec1::<f32>()?[0];
        if !(eps > 0.0 && eps < 1.0) {
            return Err(Error::Weights { source_name: "instant look".into(), reason: format!("epsilon {eps}") });
        }
        let mut t = Transformer { contract, residual, expand, eps: f64::from(eps), packed: Vec::new(), rounding: None };
        if w.device().is_cpu() {
            t.packed = t.convs().map(Conv::packed).collect::<Result<_>>()?;
        }
        Ok(t)
    }

    /// Leaves the CPU fast path for the generic candle one (what GPUs run), to compare them.
    pub fn without_fast_path(mut self) -> Self {
        self.packed.clear();
        self
    }

    /// Rounds activations where the int8 graph does (on the generic path).
    pub(crate) fn with_int8_rounding(mut self, rounding: Arc<Int8Rounding>) -> Self {
        self.packed.clear();
        self.rounding = Some(rounding);
        self
    }

    /// Every convolution in order: contract, residual, expand.
    fn convs(&self) -> impl Iterator<Item = &Conv> {
        let residual = self.residual.iter().flat_map(|[a, b]| [&a.conv, &b.conv]);
        self.contract.iter().chain(residual).chain(self.expand.iter().map(|(l, _)| &l.conv))
    }

    /// (1, 3, h, w) in 0..1, h and w multiples of 4 -> (1, 3, h, w) in 0..1.
    pub fn forward(&self, photo: &Tensor, vector: &Tensor) -> Result<Tensor> {
        if self.packed.is_empty() {
            self.forward_generic(photo, vector)
        } else {
            self.forward_cpu(photo, vector)
        }
    }

    /// The same maths on channels-last buffers with the convolutions of [`fast`].
    fn forward_cpu(&self, photo: &Tensor, vector: &Tensor) -> Result<Tensor> {
        let (_, c, h, w) = photo.dims4()?;
        let mut x = Map::from_planes(&photo.flatten_all()?.to_vec1::<f32>()?, c, h, w);
        let mut packed = self.packed.iter();
        let mut next = || packed.next().ok_or_else(|| Error::internal("fewer packed convolutions than layers"));
        let half = |k: &Conv| k.kernel() / 2;
        for conv in &self.contract {
            x = next()?.forward_clamped(&x.padded(half(conv), 1), 0.0, f32::INFINITY);
        }
        for [a, b] in &self.residual {
            let mut h = next()?.forward(&x.padded(half(&a.conv), 1));
            let (scale, offset) = a.norm.condition_vec(vector)?;
            fast::instance_norm(&mut h, &scale, &offset, self.eps, After::Relu);
            let mut r = next()?.forward(&h.padded(half(&b.conv), 1));
            let (scale, offset) = b.norm.condition_vec(vector)?;
            fast::instance_norm(&mut r, &scale, &offset, self.eps, After::Nothing);
            x.data.iter_mut().zip(&r.data).for_each(|(v, r)| *v += r);
        }
        let last = self.expand.len() - 1;
        for (i, (layer, up)) in self.expand.iter().enumerate() {
            x = next()?.forward(&x.padded(half(&layer.conv), if *up { 2 } else { 1 }));
            let (scale, offset) = layer.norm.condition_vec(vector)?;
            let after = if i == last { After::Sigmoid } else { After::Relu };
            fast::instance_norm(&mut x, &scale, &offset, self.eps, after);
        }
        Ok(Tensor::from_vec(x.to_planes(), (1, x.c, x.h, x.w), photo.device())?)
    }

    /// Candle operations on any device, rounding where the int8 graph does if asked to.
    fn forward_generic(&self, photo: &Tensor, vector: &Tensor) -> Result<Tensor> {
        let r = self.rounding.as_deref();
        let vector = at(r, vector.clone(), "transformer/style_vector")?;
        let mut x = at(r, photo.clone(), "transformer/contract/MirrorPad")?;
        for (i, conv) in self.contract.iter().enumerate() {
            // (1, 8, h, w), (1, 16, h/2, w/2), (1, 32, h/4, w/4)
            x = at(r, conv.forward(&x)?.relu()?, &format!("transformer/contract/conv{}/Relu", i + 1))?;
        }
        for (i, [a, b]) in self.residual.iter().enumerate() {
            let h = at(r, a.forward(&x, &vector, self.eps, r)?.relu()?, &format!("{}/Relu", a.norm.name()))?;
            let y =
                at(r, b.forward(&h, &vector, self.eps, r)?, &format!("{}/StyleNorm/batchnorm/add_1", b.norm.name()))?;
            x = at(r, (&x + y)?, &format!("transformer/residual/residual{}/add", i + 1))?;
        }
        let last = self.expand.len() - 1;
        for (i, (layer, up)) in self.expand.iter().enumerate() {
            if *up {
                let (_, _, h, w) = x.dims4()?;
                x = x.upsample_nearest2d(2 * h, 2 * w)?;
            }
            // (1, 16, h/2, w/2), (1, 8, h, w), then (1, 3, h, w) through the sigmoid.
            let y = layer.forward(&x, &vector, self.eps, r)?;
            let name = layer.norm.name();
            x = if i == last {
                let y = at(r, y, &format!("{name}/StyleNorm/batchnorm/add_1"))?;
                at(r, candle_nn::ops::sigmoid(&y)?, &format!("{name}/Sigmoid"))?
            } else {
                at(r, y.relu()?, &format!("{name}/Relu"))?
            };
        }
        Ok(x)
    }
}
