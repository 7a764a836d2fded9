//! The style network: MobileNetV2 (width 1.0) to its 1280-channel head, averaged over the
//! picture, then a 1x1 bottleneck to the 100-number style vector.

use std::sync::Arc;

use candle_core::Tensor;

use super::conv::{relu6, Conv, Padding};
use super::fast::{same_padded, Depthwise, Map, PackedKxk};
use super::rounding::{at, Int8Rounding};
use super::{Weights, STYLE_DIM};
use crate::error::Result;

/// MobileNetV2's inverted residual stages: (expansion, output channels, repeats, first stride).
const STAGES: [(usize, usize, usize, usize); 7] =
    [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)];
/// Channels of the stem and of the head.
const STEM: usize = 32;
const HEAD: usize = 1280;

/// One inverted residual block: 1x1 expansion (ReLU6), 3x3 depthwise (ReLU6), 1x1 linear
/// projection, plus the input when the shape is kept.
#[derive(Debug, Clone)]
struct Block {
    expand: Option<Conv>,
    depthwise: Conv,
    project: Conv,
    residual: bool,
    /// `MobilenetV2/expanded_conv_{i}`, where the int8 graph's rounding points are found.
    name: String,
}

impl Block {
    fn forward(&self, x: &Tensor, r: Option<&Int8Rounding>) -> Result<Tensor> {
        let name = &self.name;
        let h = match &self.expand {
            Some(e) => at(r, relu6(&e.forward(x)?)?, &format!("{name}/expand/Relu6"))?,
            None => x.clone(),
        };
        let h = at(r, relu6(&self.depthwise.forward(&h)?)?, &format!("{name}/depthwise/Relu6"))?;
        let h = at(r, self.project.forward(&h)?, &format!("{name}/project/BatchNorm/FusedBatchNormV3"))?;
        if self.residual {
            at(r, (h + x)?, &format!("{name}/add"))
        } else {
            Ok(h)
        }
    }
}

/// Painting (1, 3, 256, 256), RGB in 0..1 -> style vector (100).
#[derive(Debug, Clone)]
pub struct StyleNet {
    stem: Conv,
    blocks: Vec<Block>,
    head: Conv,
    bottleneck: Conv,
    /// The same layers for the CPU fast path (`None` on other devices).
    fast: Option<FastLayers>,
    /// The int8 graph's activation rounding, when reproduced (generic path only).
    rounding: Option<Arc<Int8Rounding>>,
}

/// [`StyleNet`]'s layers packed for the CPU fast path.
#[derive(Debug, Clone)]
struct FastLayers {
    stem: PackedKxk,
    blocks: Vec<(Option<PackedKxk>, Depthwise, PackedKxk, bool)>,
    head: PackedKxk,
}

impl StyleNet {
    pub(crate) fn load(w: &Weights) -> Result<Self> {
        let stem = Conv::load(w, "MobilenetV2/Conv", (3, STEM, 3), 2, 1, Padding::Same)?;
        let mut blocks = Vec::new();
        let mut cin = STEM;
        for (expansion, cout, repeats, first_stride) in STAGES {
            for r in 0..repeats {
                let name = match blocks.len() {
                    0 => "MobilenetV2/expanded_conv".to_string(),
                    i => format!("MobilenetV2/expanded_conv_{i}"),
                };
                let stride = if r == 0 { first_stride } else { 1 };
                let mid = cin * expansion;
                let expand = (expansion != 1)
                    .then(|| Conv::load(w, &format!("{name}/expand"), (cin, mid, 1), 1, 1, Padding::Valid))
                    .transpose()?;
                let depthwise = Conv::load(w, &format!("{name}/depthwise"), (mid, mid, 3), stride, mid, Padding::Same)?;
                let project = Conv::load(w, &format!("{name}/project"), (mid, cout, 1), 1, 1, Padding::Valid)?;
                blocks.push(Block { expand, depthwise, project, residual: stride == 1 && cin == cout, name });
                cin = cout;
            }
        }
        let head = Conv::load(w, "MobilenetV2/Conv_1", (cin, HEAD, 1), 1, 1, Padding::Valid)?;
        let bottleneck = Conv::load(w, "mobilenet_conv/Conv", (HEAD, STYLE_DIM, 1), 1, 1, Padding::Valid)?;
        let mut net = StyleNet { stem, blocks, head, bottleneck, fast: None, rounding: None };
        if w.device().is_cpu() {
            net.fast = Some(FastLayers {
                stem: net.stem.packed()?,
                blocks: net
                    .blocks
                    .iter()
                    .map(|b| {
                        let expand = b.expand.as_ref().map(Conv::packed).transpose()?;
                        Ok((expand, b.depthwise.depthwise()?, b.project.packed()?, b.residual))
                    })
                    .collect::<Result<_>>()?,
                head: net.head.packed()?,
            });
        }
        Ok(net)
    }

    /// Leaves the CPU fast path for the generic candle one (what GPUs run), to compare them.
    pub fn without_fast_path(mut self) -> Self {
        self.fast = None;
        self
    }

    /// Rounds activations where the int8 graph does (on the generic path).
    pub(crate) fn with_int8_rounding(mut self, rounding: Arc<Int8Rounding>) -> Self {
        self.fast = None;
        self.rounding = Some(rounding);
        self
    }

    /// (1, 3, h, w) in 0..1 (trained at 256x256) -> (100).
    pub fn forward(&self, painting: &Tensor) -> Result<Tensor> {
        let Some(f) = &self.fast else { return self.forward_generic(painting) };
        let (_, c, h, w) = painting.dims4()?;
        let x = Map::from_planes(&painting.flatten_all()?.to_vec1::<f32>()?, c, h, w);
        let mut x = f.stem.forward_clamped(&same_padded(&x, 3, 2), 0.0, 6.0);
        for (expand, depthwise, project, residual) in &f.blocks {
            let h = match expand {
                Some(e) => e.forward_clamped(&x, 0.0, 6.0),
                // The stem's output is already within ReLU6.
                None => x.clone(),
            };
            let h = depthwise.forward_same_relu6(&h);
            let h = project.forward(&h);
            x = if *residual {
                let mut sum = h;
                sum.data.iter_mut().zip(&x.data).for_each(|(a, b)| *a += b);
                sum
            } else {
                h
            };
        }
        let x = f.head.forward_clamped(&x, 0.0, 6.0);
        let mut mean = vec![0f32; x.c];
        for px in x.data.chunks_exact(x.c) {
            mean.iter_mut().zip(px).for_each(|(m, v)| *m += v);
        }
        let n = (x.h * x.w) as f32;
        let pooled =
            Tensor::from_vec(mean.iter().map(|m| m / n).collect::<Vec<_>>(), (1, x.c, 1, 1), painting.device())?;
        Ok(self.bottleneck.forward(&pooled)?.flatten_all()?)
    }

    fn forward_generic(&self, painting: &Tensor) -> Result<Tensor> {
        let r = self.rounding.as_deref();
        let x = at(r, painting.clone(), "style_image")?;
        let mut x = at(r, relu6(&self.stem.forward(&x)?)?, "MobilenetV2/Conv/Relu6")?; // (1, 32, h/2, w/2)
        for block in &self.blocks {
            x = block.forward(&x, r)?;
        }
        let x = at(r, relu6(&self.head.forward(&x)?)?, "MobilenetV2/Conv_1/Relu6")?; // (1, 1280, h/32, w/32)
        let pooled = at(r, x.mean_keepdim(3)?.mean_keepdim(2)?, "bottleneck/Mean")?; // (1, 1280, 1, 1)
        Ok(at(r, self.bottleneck.forward(&pooled)?, "mobilenet_conv/Conv/BiasAdd")?.flatten_all()?)
    }
}
