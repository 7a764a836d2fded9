//! Loading VGG weights from safetensors (torchvision names), with every name and shape checked.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use safetensors::SafeTensors;

use super::vgg::{Arch, Config, LayerSpec, Tap, Vgg};
use crate::error::{Error, Result};

/// The embedded default model: ImageNet VGG16 trunk (conv1_1..conv5_1) in f16, see assets/README.md.
pub static EMBEDDED_VGG16: &[u8] = include_bytes!("../../assets/vgg16.safetensors");

/// SHA-256 of [`EMBEDDED_VGG16`], as committed in assets/vgg16.safetensors.sha256.
pub const EMBEDDED_VGG16_SHA256: &str = "debf1c75f4e585756261aedac546a1878aca7d16bd444394fdb543f34d5b8f7b";

/// The classic network, also embedded: the original ImageNet VGG19 of Simonyan and Zisserman (as
/// Keras distributes it; the weights jcjohnson/neural-style runs), conv1_1..conv5_1 in f16, see
/// assets/README.md.
pub static EMBEDDED_VGG19: &[u8] = include_bytes!("../../assets/vgg19.safetensors");

/// SHA-256 of [`EMBEDDED_VGG19`], as committed in assets/vgg19.safetensors.sha256.
pub const EMBEDDED_VGG19_SHA256: &str = "e8958044f7223e1f3dce39871f07c5b5cac6cfad37fe2134fe1e711b9764dd84";

/// Where a model's weights come from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum WeightsSource {
    /// The VGG16 compiled into the binary.
    #[default]
    Embedded,
    /// A safetensors file on disk.
    File(std::path::PathBuf),
    /// torchvision's VGG19 from the Hugging Face Hub's cache (fetched beforehand: loading never
    /// touches the network; see [`super::hub`]).
    Vgg19,
    /// The original ImageNet VGG19 compiled into the binary ([`EMBEDDED_VGG19`]): the classic
    /// tools' network, whose features give their look.
    ClassicVgg19,
}

impl WeightsSource {
    /// Reads the weights and builds a trunk reaching `deepest`.
    pub fn load(&self, deepest: Tap, device: &Device) -> Result<Vgg> {
        match self {
            WeightsSource::Embedded => load_safetensors(EMBEDDED_VGG16, "embedded vgg16", deepest, device),
            WeightsSource::ClassicVgg19 => load_safetensors(EMBEDDED_VGG19, "embedded vgg19", deepest, device),
            WeightsSource::File(path) => load_file(path, deepest, device),
            WeightsSource::Vgg19 => match super::hub::cached(super::hub::VGG19_REPO)? {
                Some(path) => load_file(&path, deepest, device),
                None => Err(Error::Download {
                    model: super::hub::VGG19_REPO.into(),
                    reason: "it is not downloaded yet (choose VGG19 in the app, or render with --model vgg19)".into(),
                }),
            },
        }
    }

    /// The architecture it holds, as far as known without reading it (files are VGG19 or VGG16).
    pub fn arch_hint(&self) -> Option<Arch> {
        match self {
            WeightsSource::Embedded => Some(Arch::Vgg16),
            WeightsSource::Vgg19 | WeightsSource::ClassicVgg19 => Some(Arch::Vgg19),
            WeightsSource::File(_) => None,
        }
    }
}

/// Loads a safetensors file, memory-mapped (only the layers used are read); see
/// [`load_safetensors`].
pub fn load_file(path: &Path, deepest: Tap, device: &Device) -> Result<Vgg> {
    let name = path.display().to_string();
    let fail = |e: std::io::Error| Error::Weights { source_name: name.clone(), reason: e.to_string() };
    let file = std::fs::File::open(path).map_err(fail)?;
    // SAFETY: the map is read-only and dropped before this function returns; every tensor is
    // copied out of it. A file truncated by another process meanwhile could fault, which is the
    // documented limit of memory-mapping (every tool reading safetensors accepts it).
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(fail)?;
    load_safetensors(&map, &name, deepest, device)
}

/// Parses safetensors bytes holding torchvision/timm VGG16 or VGG19 `features.N.{weight,bias}`
/// (f32, f16 or bf16; extra tensors such as a classifier are ignored) and builds the trunk.
pub fn load_safetensors(bytes: &[u8], source_name: &str, deepest: Tap, device: &Device) -> Result<Vgg> {
    let fail = |reason: String| Error::Weights { source_name: source_name.to_string(), reason };
    // `deserialize` checks the header and that every tensor lies inside the buffer before any
    // data is touched, so a header declaring huge tensors is refused without allocating them.
    let st = SafeTensors::deserialize(bytes).map_err(|e| fail(format!("not a safetensors file ({e})")))?;
    let arch = detect_arch(&st);
    let config = Config { arch, deepest };
    let mut tensors = HashMap::new();
    for spec in config.layers()? {
        let LayerSpec::Conv(c) = spec else { continue };
        let expected = [("weight", vec![c.out_channels, c.in_channels, 3, 3]), ("bias", vec![c.out_channels])];
        for (suffix, shape) in expected {
            let name = format!("features.{}.{suffix}", c.index);
            let view = st.tensor(&name).map_err(|_| {
                fail(format!("missing tensor {name} ({} {}); is this a torchvision-layout VGG?", arch.name(), c.tap))
            })?;
            if view.shape() != shape.as_slice() {
                return Err(fail(format!("{name} has shape {:?}, expected {shape:?}", view.shape())));
            }
            let dtype = match view.dtype() {
                safetensors::Dtype::F32 => DType::F32,
                safetensors::Dtype::F16 => DType::F16,
                safetensors::Dtype::BF16 => DType::BF16,
                other => return Err(fail(format!("{name} has dtype {other:?}; expected f32, f16 or bf16"))),
            };
            let t = Tensor::from_raw_buffer(view.data(), dtype, &shape, &Device::Cpu)
                .map_err(|e| fail(format!("{name}: {e}")))?;
            let t = t.to_dtype(DType::F32)?;
            check_finite(&t).map_err(|()| fail(format!("{name} holds NaN or infinite values")))?;
            tensors.insert(name, t);
        }
    }
    Vgg::load(config, &tensors, device)
}

/// VGG19 has a convolution at features.16 (conv3_4); in VGG16 that index is a pooling layer.
fn detect_arch(st: &SafeTensors) -> Arch {
    if st.tensor("features.16.weight").is_ok() {
        Arch::Vgg19
    } else {
        Arch::Vgg16
    }
}

fn check_finite(t: &Tensor) -> std::result::Result<(), ()> {
    let s = t.abs().and_then(|a| a.sum_all()).and_then(|s| s.to_scalar::<f32>()).map_err(|_| ())?;
    if s.is_finite() {
        Ok(())
    } else {
        Err(())
    }
}
