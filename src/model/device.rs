//! Where a render computes: the artist's choice, and the candle device it resolves to.

use std::fmt;
use std::str::FromStr;

use candle_core::Device;

use crate::error::{Error, Result};

/// The device a render asks for. Stored in settings as "auto", "cpu", "cuda:N" or "metal".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum DeviceChoice {
    /// CUDA if this build has it and a GPU answers, then Metal, then the CPU.
    #[default]
    Auto,
    /// The CPU.
    Cpu,
    /// CUDA GPU number N.
    Cuda(usize),
    /// The Metal GPU.
    Metal,
}

impl DeviceChoice {
    /// What this build can compute on (the GPU kinds its features include; whether a GPU is
    /// present is only known when it is opened).
    pub fn built() -> Vec<DeviceChoice> {
        let mut all = vec![DeviceChoice::Auto, DeviceChoice::Cpu];
        if cfg!(feature = "cuda") {
            all.push(DeviceChoice::Cuda(0));
        }
        if cfg!(feature = "metal") {
            all.push(DeviceChoice::Metal);
        }
        all
    }

    /// Opens the device; a GPU this build lacks, or that does not answer, is a user error that
    /// names it (the CPU remains available).
    pub fn open(self) -> Result<Device> {
        let unavailable = |what: String, why: String| {
            let built: Vec<String> = DeviceChoice::built().iter().map(ToString::to_string).collect();
            Error::invalid(format!("{what} is not available ({why}); this build can use {}", built.join(", ")))
        };
        match self {
            DeviceChoice::Auto => Ok(super::default_device()),
            DeviceChoice::Cpu => Ok(Device::Cpu),
            DeviceChoice::Cuda(n) if cfg!(feature = "cuda") => {
                Device::new_cuda(n).map_err(|e| unavailable(format!("CUDA device {n}"), first_line(&e)))
            }
            DeviceChoice::Metal if cfg!(feature = "metal") => {
                Device::new_metal(0).map_err(|e| unavailable("Metal".into(), first_line(&e)))
            }
            other => Err(unavailable(other.to_string(), "this build was made without it".into())),
        }
    }
}

/// Bytes free on `device` where candle can tell: a CUDA GPU's own memory (asked of its
/// context on the calling thread, the worker's). `None` for the CPU and Metal, whose memory is
/// the system's.
pub fn free_memory(device: &Device) -> Option<u64> {
    #[cfg(feature = "cuda")]
    if let Ok(cuda) = device.as_cuda_device() {
        return cuda.cuda_stream().context().mem_get_info().ok().map(|(free, _)| free as u64);
    }
    // Only CUDA reports free device memory; the argument is unused in other builds.
    let _ = device;
    None
}

fn first_line(e: &candle_core::Error) -> String {
    e.to_string().lines().next().unwrap_or_default().to_string()
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceChoice::Auto => write!(f, "auto"),
            DeviceChoice::Cpu => write!(f, "cpu"),
            DeviceChoice::Cuda(n) => write!(f, "cuda:{n}"),
            DeviceChoice::Metal => write!(f, "metal"),
        }
    }
}

impl FromStr for DeviceChoice {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(DeviceChoice::Auto),
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" => Ok(DeviceChoice::Cuda(0)),
            "metal" => Ok(DeviceChoice::Metal),
            other => other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(DeviceChoice::Cuda)
                .ok_or_else(|| format!("unknown device '{s}' (expected auto, cpu, cuda, cuda:N or metal)")),
        }
    }
}

impl From<DeviceChoice> for String {
    fn from(d: DeviceChoice) -> String {
        d.to_string()
    }
}

impl TryFrom<String> for DeviceChoice {
    type Error = String;

    fn try_from(s: String) -> std::result::Result<Self, String> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_parse_and_print_back() {
        for d in [DeviceChoice::Auto, DeviceChoice::Cpu, DeviceChoice::Cuda(1), DeviceChoice::Metal] {
            assert_eq!(d.to_string().parse::<DeviceChoice>(), Ok(d));
        }
        assert_eq!("CUDA".parse::<DeviceChoice>(), Ok(DeviceChoice::Cuda(0)));
        assert!("tpu".parse::<DeviceChoice>().unwrap_err().contains("tpu"));
    }

    #[test]
    fn a_gpu_missing_from_the_build_is_refused_by_name() {
        if !cfg!(feature = "cuda") {
            let msg = DeviceChoice::Cuda(0).open().unwrap_err().to_string();
            assert!(msg.contains("CUDA device 0") || msg.contains("cuda:0"), "{msg}");
            assert!(msg.contains("this build can use auto, cpu"), "{msg}");
        }
        assert!(DeviceChoice::Cpu.open().unwrap().is_cpu());
    }
}
