//! The instant look: Magenta's arbitrary image stylisation networks (Ghiasi et al. 2017,
//! "Exploring the structure of a real-time, arbitrary neural artistic stylization network").
//! A style network ([`StyleNet`], MobileNetV2) reads a 256x256 painting into a 100-number style
//! vector; a small fully convolutional [`Transformer`] paints any photo with it in one pass,
//! its instance norms scaled and shifted by 1x1 projections of the vector. Vectors blend
//! linearly, which gives several styles at once and the strength (towards the photo's own
//! vector), as Magenta does.
//!
//! Both run in f32 on any candle device from weights embedded in the binary
//! (`assets/instant.safetensors`, dequantised from int8 by `tools/convert_instant_weights.py`;
//! provenance in assets/README.md).

mod conv;
mod fast;
mod rounding;
mod style_net;
mod transformer;

pub use rounding::Int8Rounding;
pub use style_net::StyleNet;
pub use transformer::Transformer;

use std::sync::Arc;

use candle_core::{DType, Device, Tensor};
use safetensors::SafeTensors;

use crate::error::{Error, Result};

/// The instant networks' weights, compiled into the binary (f32, 10 MB).
pub static EMBEDDED_INSTANT: &[u8] = include_bytes!("../../../assets/instant.safetensors");

/// SHA-256 of [`EMBEDDED_INSTANT`], as committed in assets/instant.safetensors.sha256.
pub const EMBEDDED_INSTANT_SHA256: &str = "3ea06bb6857dc973034466c855a69bc020076cfa27d4b490a2d0441805e1f2b1";

/// Length of a style vector.
pub const STYLE_DIM: usize = 100;

/// Side of the square picture the style network reads.
pub const STYLE_SIDE: usize = 256;

/// The transformer's output is the input's size when both sides are multiples of this (two
/// stride-2 convolutions, then two 2x upsamplings).
pub const SIZE_STEP: usize = 4;

/// Both networks, ready to run on one device.
#[derive(Debug, Clone)]
pub struct InstantNet {
    /// Painting -> style vector.
    pub style: StyleNet,
    /// (photo, style vector) -> painted photo.
    pub transformer: Transformer,
}

impl InstantNet {
    /// The embedded networks on `device`.
    pub fn embedded(device: &Device) -> Result<Self> {
        Self::load(EMBEDDED_INSTANT, "embedded instant look", device)
    }

    /// Parses safetensors bytes in the layout the conversion script writes; every tensor's
    /// name, shape and finiteness is checked.
    pub fn load(bytes: &[u8], source_name: &str, device: &Device) -> Result<Self> {
        let weights = Weights::parse(bytes, source_name, device)?;
        Ok(InstantNet { style: StyleNet::load(&weights)?, transformer: Transformer::load(&weights)? })
    }

    /// Both networks on the generic candle path (what GPUs run) even on the CPU, to compare.
    pub fn without_fast_path(self) -> Self {
        InstantNet { style: self.style.without_fast_path(), transformer: self.transformer.without_fast_path() }
    }

    /// Both networks rounding their activations as the int8 ONNX graphs they were converted
    /// from do (see [`Int8Rounding`]), on the generic path: onnxruntime's output of those graphs,
    /// to check the conversion against it.
    pub fn with_int8_rounding(self, rounding: Int8Rounding) -> Self {
        let rounding = Arc::new(rounding);
        InstantNet {
            style: self.style.with_int8_rounding(rounding.clone()),
            transformer: self.transformer.with_int8_rounding(rounding),
        }
    }

    /// The style vector (100) of a painting: (1, 3, 256, 256), RGB in 0..1.
    pub fn style_vector(&self, painting: &Tensor) -> Result<Tensor> {
        self.style.forward(painting)
    }

    /// The photo (1, 3, h, w), RGB in 0..1, painted with `vector`: (1, 3, h, w) in 0..1. Sides
    /// that are not multiples of [`SIZE_STEP`] are reflected up to one and cropped back.
    pub fn paint(&self, photo: &Tensor, vector: &Tensor) -> Result<Tensor> {
        let (_, _, h, w) = photo.dims4()?;
        let (ph, pw) = (h.next_multiple_of(SIZE_STEP), w.next_multiple_of(SIZE_STEP));
        if (ph, pw) == (h, w) {
            return self.transformer.forward(photo, vector);
        }
        let padded = conv::reflect_pad(photo, (0, ph - h), (0, pw - w))?;
        Ok(self.transformer.forward(&padded, vector)?.narrow(2, 0, h)?.narrow(3, 0, w)?)
    }
}

/// The tensors of a weights file, read by name with their shapes checked.
pub(crate) struct Weights<'a> {
    st: SafeTensors<'a>,
    source_name: &'a str,
    device: Device,
}

impl<'a> Weights<'a> {
    fn parse(bytes: &'a [u8], source_name: &'a str, device: &Device) -> Result<Self> {
        let st = SafeTensors::deserialize(bytes).map_err(|e| Error::Weights {
            source_name: source_name.into(),
            reason: format!("not a safetensors file ({e})"),
        })?;
        Ok(Weights { st, source_name, device: device.clone() })
    }

    /// The device the tensors are put on.
    pub(crate) fn device(&self) -> &Device {
        &self.device
    }

    fn fail(&self, reason: String) -> Error {
        Error::Weights { source_name: self.source_name.into(), reason }
    }

    /// Tensor `name` as f32 on the device, which must have `shape`.
    pub(crate) fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let view = self.st.tensor(name).map_err(|_| self.fail(format!("missing tensor {name}")))?;
        if view.shape() != shape {
            return Err(self.fail(format!("{name} has shape {:?}, expected {shape:?}", view.shape())));
        }
        let dtype = match view.dtype() {
            safetensors::Dtype::F32 => DType::F32,
            safetensors::Dtype::F16 => DType::F16,
            other => return Err(self.fail(format!("{name} has dtype {other:?}; expected f32 or f16"))),
        };
        let t = Tensor::from_raw_buffer(view.data(), dtype, shape, &Device::Cpu)
            .map_err(|e| self.fail(format!("{name}: {e}")))?
            .to_dtype(DType::F32)?;
        let sum = t.abs()?.sum_all()?.to_scalar::<f32>()?;
        if !sum.is_finite() {
            return Err(self.fail(format!("{name} holds NaN or infinite values")));
        }
        Ok(t.to_device(&self.device)?)
    }
}
