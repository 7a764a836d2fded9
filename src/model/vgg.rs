//! VGG feature extractor (torchvision layout) with an explicit input-gradient backward pass.
//!
//! The trunk is a sequence of 3x3/stride-1/pad-1 convolutions each followed by ReLU, with 2x2
//! max-pooling between blocks. Style transfer only needs the gradient of the loss with respect to
//! the *image*, so instead of candle's generic autograd (which also computes every kernel gradient
//! and, on the CPU, uses a slow transposed convolution) we keep the forward activations and
//! propagate the input gradient by hand: ReLU is a mask, max-pooling routes to the argmax, and a
//! convolution's input gradient is a convolution with the flipped, transposed kernel.

use std::collections::HashMap;
use std::fmt;

use candle_core::{DType, Device, Tensor};

use super::cpu::PackedConv;
use super::pooling::Pooling;
use crate::error::{Error, Result};

/// The two supported VGG depths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Arch {
    /// 13 convolutions: blocks of 2, 2, 3, 3, 3.
    Vgg16,
    /// 16 convolutions: blocks of 2, 2, 4, 4, 4.
    Vgg19,
}

impl Arch {
    /// Number of convolutions in each of the five blocks.
    pub fn convs_per_block(self) -> [usize; 5] {
        match self {
            Arch::Vgg16 => [2, 2, 3, 3, 3],
            Arch::Vgg19 => [2, 2, 4, 4, 4],
        }
    }

    /// Every feature tap, shallow to deep (relu1_1, relu1_2, relu2_1, ...).
    pub fn taps(self) -> Vec<Tap> {
        let counts = self.convs_per_block();
        (0..5u8).flat_map(|b| (1..=counts[usize::from(b)] as u8).map(move |c| Tap::new(b + 1, c))).collect()
    }

    /// Lower-case name, as used on the command line and in exported metadata.
    pub fn name(self) -> &'static str {
        match self {
            Arch::Vgg16 => "vgg16",
            Arch::Vgg19 => "vgg19",
        }
    }
}

/// Output channels of each block, identical for VGG16 and VGG19.
const BLOCK_CHANNELS: [usize; 5] = [64, 128, 256, 512, 512];

/// A feature tap: the ReLU after convolution `conv` of block `block` (both 1-based), e.g. relu4_2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Tap {
    /// Block number, 1..=5.
    pub block: u8,
    /// Convolution number within the block, 1-based.
    pub conv: u8,
}

impl Tap {
    /// The tap `relu{block}_{conv}`.
    pub const fn new(block: u8, conv: u8) -> Self {
        Tap { block, conv }
    }

    /// Parses names such as `relu4_2`.
    pub fn parse(name: &str) -> Result<Self> {
        let bad = || {
            Error::invalid(format!(
                "unknown layer '{name}': layers are named reluB_C (block B, convolution C), e.g. relu4_2; VGG16 \
                 has relu1_1-1_2, relu2_1-2_2, relu3_1-3_3, relu4_1-4_3, relu5_1-5_3, VGG19 up to _4 in blocks 3-5"
            ))
        };
        let rest = name.strip_prefix("relu").ok_or_else(bad)?;
        let (b, c) = rest.split_once('_').ok_or_else(bad)?;
        let tap = Tap::new(b.parse().map_err(|_| bad())?, c.parse().map_err(|_| bad())?);
        if !(1..=5).contains(&tap.block) || tap.conv == 0 {
            return Err(bad());
        }
        Ok(tap)
    }
}

impl fmt::Display for Tap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "relu{}_{}", self.block, self.conv)
    }
}

/// Network description: which VGG and how deep to run it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// VGG16 or VGG19.
    pub arch: Arch,
    /// The deepest tap any loss needs; layers after it are never loaded or run.
    pub deepest: Tap,
}

/// One convolution of the trunk, in torchvision naming.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvSpec {
    /// Index `N` in `features.N.weight`.
    pub index: usize,
    /// The ReLU that follows it.
    pub tap: Tap,
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
}

/// A layer of the truncated trunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerSpec {
    /// 3x3 convolution + ReLU.
    Conv(ConvSpec),
    /// 2x2/stride-2 pooling (floor mode, like torchvision): max, or scaled average.
    Pool,
}

impl Config {
    /// Layers from the input up to and including `deepest`, with torchvision indices.
    pub fn layers(&self) -> Result<Vec<LayerSpec>> {
        let counts = self.arch.convs_per_block();
        let too_deep = || {
            let names: Vec<String> = self.arch.taps().iter().map(Tap::to_string).collect();
            Error::invalid(format!(
                "{} has no layer {}; its layers are {}",
                self.arch.name(),
                self.deepest,
                names.join(", ")
            ))
        };
        if usize::from(self.deepest.conv)
            > *counts.get(usize::from(self.deepest.block).wrapping_sub(1)).ok_or_else(too_deep)?
        {
            return Err(too_deep());
        }
        let (mut layers, mut index, mut in_channels) = (Vec::new(), 0, 3);
        for (b, (&n, &out_channels)) in counts.iter().zip(&BLOCK_CHANNELS).enumerate() {
            if b > 0 {
                layers.push(LayerSpec::Pool);
                index += 1;
            }
            for c in 0..n {
                let tap = Tap::new(b as u8 + 1, c as u8 + 1);
                layers.push(LayerSpec::Conv(ConvSpec { index, tap, in_channels, out_channels }));
                index += 2; // conv, relu
                in_channels = out_channels;
                if tap == self.deepest {
                    return Ok(layers);
                }
            }
        }
        Err(too_deep())
    }
}

/// A loaded convolution: forward kernel and the kernel of its input-gradient convolution.
#[derive(Debug, Clone)]
pub(super) struct Conv {
    pub(super) spec: ConvSpec,
    /// (out, in, 3, 3)
    weight: Tensor,
    /// (1, out, 1, 1)
    bias: Tensor,
    /// (in, out, 3, 3): `weight` with in/out swapped and flipped spatially, computed once.
    weight_backward: Tensor,
    /// The same two kernels packed for the CPU fast path (forward with bias, backward without).
    pub(super) packed: (PackedConv, PackedConv),
}

#[derive(Debug, Clone)]
pub(super) enum Layer {
    Conv(Box<Conv>),
    Pool,
}

/// Activations of one forward pass, kept for the backward pass.
#[derive(Debug)]
pub struct Activations {
    /// Layer outputs (after ReLU for convolutions) as (1, C, H, W) tensors: every layer on the
    /// generic path, the requested taps on the CPU fast path.
    pub(super) outputs: Vec<Option<Tensor>>,
    /// CPU fast path: every layer's output in HWC layout, and its (h, w, c).
    pub(super) hwc: Vec<Vec<f32>>,
    pub(super) dims: Vec<(usize, usize, usize)>,
}

impl Activations {
    /// Output of layer `i` (index from [`Vgg::tap_index`]), (1, C, H, W); on the CPU fast path
    /// a view of channels-last data (not contiguous).
    pub fn output(&self, i: usize) -> Result<&Tensor> {
        self.outputs.get(i).and_then(Option::as_ref).ok_or_else(|| Error::internal(format!("layer {i} was not kept")))
    }

    /// Bytes these activations hold (f32 buffers and kept outputs).
    pub fn bytes(&self) -> u64 {
        let buffers: usize = self.hwc.iter().map(Vec::len).sum();
        let outputs: usize = self.outputs.iter().flatten().map(Tensor::elem_count).sum();
        (4 * (buffers + outputs)) as u64
    }
}

/// A VGG trunk ready to run on one device.
#[derive(Debug)]
pub struct Vgg {
    config: Config,
    pub(super) layers: Vec<Layer>,
    pub(super) device: Device,
    fast: bool,
    pub(super) pooling: Pooling,
}

impl Vgg {
    /// Builds the trunk from torchvision-named f32 tensors (see [`super::weights`] for validation).
    pub fn load(config: Config, tensors: &HashMap<String, Tensor>, device: &Device) -> Result<Self> {
        let mut layers = Vec::new();
        for spec in config.layers()? {
            layers.push(match spec {
                LayerSpec::Pool => Layer::Pool,
                LayerSpec::Conv(spec) => {
                    let get = |suffix: &str| {
                        let name = format!("features.{}.{suffix}", spec.index);
                        tensors.get(&name).ok_or_else(|| Error::Weights {
                            source_name: "tensors".into(),
                            reason: format!("missing {name}"),
                        })
                    };
                    let weight = get("weight")?.to_dtype(DType::F32)?.to_device(device)?;
                    let bias = get("bias")?.to_dtype(DType::F32)?.to_device(device)?;
                    let bias = bias.reshape((1, spec.out_channels, 1, 1))?;
                    let weight_backward = weight.transpose(0, 1)?.contiguous()?.flip(&[2, 3])?.contiguous()?;
                    let flat = |t: &Tensor| t.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>();
                    let (cin, cout) = (spec.in_channels, spec.out_channels);
                    let packed = (
                        PackedConv::new(&flat(&weight)?, cout, cin, flat(&bias)?),
                        PackedConv::new(&flat(&weight_backward)?, cin, cout, Vec::new()),
                    );
                    Layer::Conv(Box::new(Conv { spec, weight, bias, weight_backward, packed }))
                }
            });
        }
        Ok(Vgg { config, layers, device: device.clone(), fast: device.is_cpu(), pooling: Pooling::Max })
    }

    /// Chooses between the CPU fast path (the default on the CPU) and the generic candle path
    /// (used on GPUs, and in tests as the reference).
    pub fn set_fast_path(&mut self, fast: bool) {
        self.fast = fast && self.device.is_cpu();
    }

    /// Sets how the trunk pools between blocks (max, as trained, by default).
    pub fn set_pooling(&mut self, pooling: Pooling) {
        self.pooling = pooling;
    }

    /// How the trunk pools between blocks.
    pub fn pooling(&self) -> Pooling {
        self.pooling
    }

    /// The network description.
    pub fn config(&self) -> Config {
        self.config
    }

    /// Multiply-adds x 2 of one forward pass over an image of `width` x `height` (all layers).
    pub fn forward_flops(&self, width: usize, height: usize) -> f64 {
        let (mut h, mut w, mut flops) = (height, width, 0.0);
        for layer in &self.layers {
            match layer {
                Layer::Conv(c) => flops += 2.0 * 9.0 * (h * w * c.spec.in_channels * c.spec.out_channels) as f64,
                Layer::Pool => (h, w) = (h / 2, w / 2),
            }
        }
        flops
    }

    /// How far the first `depth` layers see: the radius of the receptive field of one output
    /// position in input pixels, and the output's stride. A zero-padded edge that is not the
    /// image's own corrupts outputs within `radius` of it, and the gradient of an output reaches
    /// inputs within `radius` of it; tiles rely on both bounds.
    pub fn reach(&self, depth: usize) -> (usize, usize) {
        reach(self.layers.iter().take(depth).map(|l| matches!(l, Layer::Pool)))
    }

    /// Whether the CPU fast path is in use.
    pub fn uses_fast_path(&self) -> bool {
        self.fast
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Index into [`Activations::outputs`] of a tap, if the trunk reaches it.
    pub fn tap_index(&self, tap: Tap) -> Option<usize> {
        self.layers.iter().position(|l| matches!(l, Layer::Conv(c) if c.spec.tap == tap))
    }

    /// Channels of layer `i`'s output (a pooling layer keeps its input's).
    pub fn layer_channels(&self, i: usize) -> Option<usize> {
        self.layers.iter().take(i + 1).rev().find_map(|l| match l {
            Layer::Conv(c) => Some(c.spec.out_channels),
            Layer::Pool => None,
        })
    }

    /// Channels of a tap's activations.
    pub fn tap_channels(&self, tap: Tap) -> Option<usize> {
        self.layers.iter().find_map(|l| match l {
            Layer::Conv(c) if c.spec.tap == tap => Some(c.spec.out_channels),
            _ => None,
        })
    }

    /// Runs the whole trunk on `x` (1, 3, H, W), a normalised RGB image, keeping every output.
    pub fn forward(&self, x: &Tensor) -> Result<Activations> {
        let all: Vec<usize> = (0..self.layers.len()).collect();
        self.forward_taps(x, &all)
    }

    /// Runs the trunk only as deep as the deepest of `keep` (layer indices), keeping their outputs.
    pub fn forward_taps(&self, x: &Tensor, keep: &[usize]) -> Result<Activations> {
        let depth = keep.iter().max().map_or(0, |&d| d + 1).min(self.layers.len());
        if self.fast {
            return self.forward_cpu(x, depth, keep);
        }
        let mut outputs = Vec::with_capacity(depth);
        let mut h = x.clone();
        for layer in self.layers.iter().take(depth) {
            h = match layer {
                Layer::Conv(c) => h.conv2d(&c.weight, 1, 1, 1, 1)?.broadcast_add(&c.bias)?.relu()?,
                Layer::Pool => self.pooling.forward(&h)?,
            };
            outputs.push(Some(h.clone()));
        }
        Ok(Activations { outputs, hwc: Vec::new(), dims: Vec::new() })
    }

    /// Gradient of the loss w.r.t. the input image, given the gradients of the loss w.r.t. some
    /// layer outputs (`tap_grads[i]` is added at `acts.outputs[i]`; `None` where no loss taps).
    pub fn backward(&self, acts: &Activations, tap_grads: &mut [Option<Tensor>]) -> Result<Tensor> {
        let deepest = tap_grads
            .iter()
            .rposition(Option::is_some)
            .ok_or_else(|| Error::internal("backward with no gradient at any layer"))?;
        if !acts.hwc.is_empty() {
            return self.backward_cpu(acts, tap_grads, deepest);
        }
        let mut g: Option<Tensor> = None;
        for i in (0..=deepest).rev() {
            let incoming = match (g.take(), tap_grads[i].take()) {
                (Some(a), Some(b)) => a.add(&b)?,
                (Some(a), None) | (None, Some(a)) => a,
                (None, None) => continue,
            };
            let y = acts.output(i)?;
            g = Some(match &self.layers[i] {
                Layer::Conv(c) => {
                    // ReLU: gradient flows where the output is positive (zero at 0, like torch).
                    let masked = incoming.mul(&y.gt(0f32)?.to_dtype(DType::F32)?)?;
                    masked.conv2d(&c.weight_backward, 1, 1, 1, 1)?
                }
                Layer::Pool => {
                    let input = if i == 0 {
                        Err(Error::internal("pooling cannot be the first layer"))
                    } else {
                        acts.output(i - 1)
                    };
                    self.pooling.backward(input?, y, &incoming)?
                }
            });
        }
        g.ok_or_else(|| Error::internal("empty network"))
    }
}

/// [`Vgg::reach`] of a stack of layers given as "is a pooling layer" flags.
pub fn reach(pools: impl IntoIterator<Item = bool>) -> (usize, usize) {
    let (mut radius, mut stride) = (0, 1);
    for pool in pools {
        // A 3x3 kernel looks one position either way at the current stride; a 2x2 window adds
        // one position to the right/below, then the stride doubles.
        radius += stride;
        if pool {
            stride *= 2;
        }
    }
    (radius, stride)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vgg16_taps_have_torchvision_indices() {
        let cfg = Config { arch: Arch::Vgg16, deepest: Tap::new(5, 1) };
        let convs: Vec<_> = cfg
            .layers()
            .unwrap()
            .into_iter()
            .filter_map(|l| match l {
                LayerSpec::Conv(c) => Some((c.tap.to_string(), c.index)),
                LayerSpec::Pool => None,
            })
            .collect();
        assert_eq!(convs.len(), 11);
        assert_eq!(convs[0], ("relu1_1".into(), 0));
        assert_eq!(convs[7], ("relu4_1".into(), 17));
        assert_eq!(convs[8], ("relu4_2".into(), 19));
        assert_eq!(convs[10], ("relu5_1".into(), 24));
    }

    #[test]
    fn vgg19_taps_have_torchvision_indices() {
        let cfg = Config { arch: Arch::Vgg19, deepest: Tap::new(5, 1) };
        let layers = cfg.layers().unwrap();
        let find = |t: Tap| {
            layers.iter().find_map(|l| match l {
                LayerSpec::Conv(c) if c.tap == t => Some(c.index),
                _ => None,
            })
        };
        assert_eq!(find(Tap::new(3, 4)), Some(16));
        assert_eq!(find(Tap::new(4, 1)), Some(19));
        assert_eq!(find(Tap::new(4, 2)), Some(21));
        assert_eq!(find(Tap::new(5, 1)), Some(28));
    }

    #[test]
    fn tap_names_round_trip_and_reject_nonsense() {
        assert_eq!(Tap::parse("relu4_2").unwrap(), Tap::new(4, 2));
        assert_eq!(Tap::new(3, 1).to_string(), "relu3_1");
        assert!(Tap::parse("conv4_2").is_err());
        assert!(Tap::parse("relu9_1").is_err());
        let too_deep = Config { arch: Arch::Vgg16, deepest: Tap::new(5, 4) };
        assert!(too_deep.layers().is_err());
    }
}
