//! The pretrained network: VGG architecture, explicit backward, and weight loading.

pub mod cpu;
pub mod device;
mod epilogue;
mod fast;
pub mod hub;
pub mod instant;
mod matmul;
mod pool;
pub mod pooling;
mod scatter;
pub mod vgg;
pub mod weights;
pub mod winograd;

pub use device::DeviceChoice;
pub use pooling::Pooling;
pub use vgg::{Activations, Arch, Config, LayerSpec, Tap, Vgg};
pub use weights::{load_file, load_safetensors, WeightsSource, EMBEDDED_VGG16, EMBEDDED_VGG19};

use candle_core::Device;

/// The device the crate was built for: CUDA or Metal when their feature is on and a device is
/// present, otherwise the CPU.
pub fn default_device() -> Device {
    #[cfg(feature = "cuda")]
    if let Ok(d) = Device::new_cuda(0) {
        return d;
    }
    #[cfg(feature = "metal")]
    if let Ok(d) = Device::new_metal(0) {
        return d;
    }
    Device::Cpu
}

/// "CPU", "CUDA" or "Metal", for status bars and logs.
pub fn device_name(device: &Device) -> &'static str {
    match device {
        Device::Cpu => "CPU",
        Device::Cuda(_) => "CUDA",
        Device::Metal(_) => "Metal",
    }
}
