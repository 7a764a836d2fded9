//! What a render needs in memory, checked against what the machine has before any work starts,
//! so that a too-large render is refused with a size that fits (or made to fit by a shorter
//! L-BFGS history) instead of swapping the desktop to death or being killed mid-run.

use super::optimizer::OptimizerKind;
use super::spec::RenderSpec;
use crate::error::{Error, Result};
use crate::imageio::fit_long_side;
use crate::model::{Config, LayerSpec};

const F32: u64 = 4;
/// The program and the allocator's slack, measured (see docs/reliability.md).
const PROGRAM_BYTES: u64 = 128 << 20;
/// Bytes per convolution weight: f32 for the generic path and its flipped copy (8), and the
/// Winograd F(4x4) kernels of the fast path, forward and backward (36/9 each: 32).
const BYTES_PER_WEIGHT: u64 = 40;
/// Shortest L-BFGS history worth running; below it, Adam-like progress at L-BFGS cost.
const MIN_HISTORY: usize = 5;
/// Share of the available memory a render may plan to use (the rest for the OS and the UI).
const USABLE: f64 = 0.85;

/// Bytes a render needs, by part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoryEstimate {
    /// Kept activations of one forward pass, their copies for the losses, and gradient buffers.
    pub network: u64,
    /// Content features and style Gram matrices.
    pub targets: u64,
    /// Optimiser state: L-BFGS keeps 2 x history image-sized vectors, Adam 2.
    pub optimizer: u64,
    /// The network's weights in every form the passes use.
    pub model: u64,
    /// Program and allocator slack.
    pub base: u64,
}

impl MemoryEstimate {
    /// Everything together.
    pub fn total(&self) -> u64 {
        self.network + self.targets + self.optimizer + self.model + self.base
    }
}

/// Estimates the peak memory of optimising a `width` x `height` image with this network.
pub fn estimate(
    config: &Config,
    (width, height): (u32, u32),
    n_styles: usize,
    kind: OptimizerKind,
    history: usize,
) -> Result<MemoryEstimate> {
    let (mut h, mut w, mut c) = (u64::from(height), u64::from(width), 3u64);
    let pixels = h * w;
    let (mut kept, mut largest, mut grams, mut weights) = (h * w * c, h * w * c, 0u64, 0u64);
    for layer in config.layers()? {
        match layer {
            LayerSpec::Conv(conv) => {
                weights += 9 * (conv.in_channels * conv.out_channels) as u64;
                c = conv.out_channels as u64;
                grams += c * c;
            }
            LayerSpec::Pool => (h, w) = (h / 2, w / 2),
        }
        kept += h * w * c;
        largest = largest.max(h * w * c);
    }
    // Activations, the same again for the taps' copies and the style image's forward pass at
    // target time (upper bounds), and three gradient-sized buffers in the backward pass.
    let network = (2 * kept + 3 * largest) * F32;
    let targets = (n_styles as u64 * grams + kept / 8) * F32;
    let image = 3 * pixels * F32;
    let optimizer = match kind {
        OptimizerKind::Lbfgs => (2 * history as u64 + 4) * image,
        OptimizerKind::Adam => 4 * image,
    };
    Ok(MemoryEstimate { network, targets, optimizer, model: weights * BYTES_PER_WEIGHT, base: PROGRAM_BYTES })
}

/// Why a render was refused for memory: what it needs, what there is, and the largest size that
/// would fit (by steps of 32 px), if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shortage {
    /// Long side asked for, in pixels.
    pub size: u32,
    /// Estimated bytes the render needs.
    pub needed: u64,
    /// Bytes available when it was checked.
    pub available: u64,
    /// The largest long side that fits, if any does.
    pub fits: Option<u32>,
}

impl std::fmt::Display for Shortage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "a {} px render needs about {} of memory but only {} is free; ",
            self.size,
            gib(self.needed),
            gib(self.available)
        )?;
        match self.fits {
            Some(size) => write!(f, "{size} px fits"),
            None => write!(f, "close other programs and try again"),
        }
    }
}

/// The outcome of fitting a render into memory.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryPlan {
    /// What the render (as adjusted) needs.
    pub estimate: MemoryEstimate,
    /// What was changed to make it fit, for the user.
    pub note: Option<String>,
}

/// Checks `spec` against `available` bytes (`None`: unknown, no check). When it does not fit,
/// shortens the L-BFGS history (down to 5) and says so, or refuses, naming a size that fits.
pub fn fit_in_memory(
    spec: &mut RenderSpec,
    content: (u32, u32),
    config: &Config,
    available: Option<u64>,
) -> Result<MemoryPlan> {
    let n = spec.styles.len();
    let kind = spec.run.optimizer;
    let needs = |size: u32, history: usize| estimate(config, fit_long_side(content, size), n, kind, history);
    let wanted = needs(spec.size, spec.run.history)?;
    let Some(available) = available else { return Ok(MemoryPlan { estimate: wanted, note: None }) };
    let budget = (available as f64 * USABLE) as u64;
    if wanted.total() <= budget {
        return Ok(MemoryPlan { estimate: wanted, note: None });
    }
    if kind == OptimizerKind::Lbfgs {
        let mut history = spec.run.history;
        while history > MIN_HISTORY {
            history = (history * 3 / 4).max(MIN_HISTORY);
            let e = needs(spec.size, history)?;
            if e.total() <= budget {
                let note = format!(
                    "L-BFGS history shortened from {} to {history} so that a {} px render fits in the {} free",
                    spec.run.history,
                    spec.size,
                    gib(available)
                );
                spec.run.history = history;
                return Ok(MemoryPlan { estimate: e, note: Some(note) });
            }
        }
    }
    let history = if kind == OptimizerKind::Lbfgs { MIN_HISTORY } else { 0 };
    let fits =
        (1..spec.size / 32).rev().map(|k| k * 32).find(|&size| needs(size, history).is_ok_and(|e| e.total() <= budget));
    Err(Error::Memory(Shortage { size: spec.size, needed: wanted.total(), available, fits }))
}

/// Memory the system can give this process now (RAM; GPUs' memory is not visible to candle).
pub fn available_memory() -> Option<u64> {
    let mut sys = sysinfo::System::new().ok()?;
    sys.refresh_memory();
    let mut free = sys.available_memory();
    if let Some(limits) = sys.cgroup_limits() {
        free = free.min(limits.free_memory);
    }
    (free > 0).then_some(free)
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Arch, Tap};

    fn vgg16() -> Config {
        Config { arch: Arch::Vgg16, deepest: Tap::new(5, 1) }
    }

    fn spec(size: u32) -> RenderSpec {
        RenderSpec { size, ..RenderSpec::new("c.png", &["s.png".into()]) }
    }

    #[test]
    fn lbfgs_history_costs_two_image_vectors_per_entry() {
        let a = estimate(&vgg16(), (512, 384), 1, OptimizerKind::Lbfgs, 10).unwrap();
        let b = estimate(&vgg16(), (512, 384), 1, OptimizerKind::Lbfgs, 11).unwrap();
        assert_eq!(b.total() - a.total(), 2 * 3 * 512 * 384 * 4);
        assert_eq!(a.network, b.network);
    }

    #[test]
    fn estimate_bounds_the_measured_peak_without_wild_overshoot() {
        // Measured peak RSS of `bench` (forward, backward, a few L-BFGS steps) on this engine:
        // 484 MiB at 128x96, 595 at 256x192, 977 at 512x384, 2485 at 1024x768
        // (docs/reliability.md).
        let measured = [((128, 96), 484.0), ((256, 192), 595.0), ((512, 384), 977.0), ((1024, 768), 2485.0)];
        for ((w, h), measured_mib) in measured {
            let e = estimate(&vgg16(), (w, h), 1, OptimizerKind::Lbfgs, 3).unwrap();
            let mib = e.total() as f64 / f64::from(1 << 20);
            assert!(mib >= measured_mib && mib <= measured_mib * 1.3, "{w}x{h}: {mib:.0} MiB vs {measured_mib}");
        }
    }

    #[test]
    fn a_render_that_fits_is_left_alone() {
        let mut s = spec(512);
        let plan = fit_in_memory(&mut s, (1024, 768), &vgg16(), Some(64 << 30)).unwrap();
        assert_eq!(plan.note, None);
        assert_eq!(s.run.history, 100);
        assert_eq!(fit_in_memory(&mut s, (1024, 768), &vgg16(), None).unwrap().note, None);
    }

    #[test]
    fn tight_memory_shortens_the_lbfgs_history_and_says_so() {
        let mut s = spec(2048);
        let full = estimate(&vgg16(), (2048, 1536), 1, OptimizerKind::Lbfgs, 100).unwrap().total();
        let available = (full as f64 * 0.85) as u64;
        let plan = fit_in_memory(&mut s, (1024, 768), &vgg16(), Some(available)).unwrap();
        assert!(s.run.history < 100 && s.run.history >= MIN_HISTORY, "{}", s.run.history);
        assert!(plan.estimate.total() as f64 <= available as f64 * USABLE);
        let note = plan.note.unwrap();
        assert!(note.contains(&format!("from 100 to {}", s.run.history)), "{note}");
    }

    #[test]
    fn too_little_memory_is_refused_with_a_size_that_fits() {
        let mut s = spec(4096);
        let available = 2u64 << 30;
        let Err(Error::Memory(shortage)) = fit_in_memory(&mut s, (4000, 3000), &vgg16(), Some(available)) else {
            panic!("a 4096 px render was accepted in 2 GiB");
        };
        assert_eq!((shortage.size, shortage.available), (4096, available));
        assert!(shortage.needed as f64 > available as f64 * USABLE);
        let fits = shortage.fits.expect("some size fits in 2 GiB");
        assert!((512..4096).contains(&fits), "{shortage}");
        let msg = shortage.to_string();
        assert!(msg.contains("a 4096 px render needs about") && msg.contains(&format!("{fits} px fits")), "{msg}");
        let e = estimate(&vgg16(), fit_long_side((4000, 3000), fits), 1, OptimizerKind::Lbfgs, MIN_HISTORY).unwrap();
        assert!(e.total() as f64 <= available as f64 * USABLE);
        let bigger = fit_long_side((4000, 3000), fits + 32);
        let e = estimate(&vgg16(), bigger, 1, OptimizerKind::Lbfgs, MIN_HISTORY).unwrap();
        assert!(e.total() as f64 > available as f64 * USABLE, "the largest size that fits is named");
    }
}
