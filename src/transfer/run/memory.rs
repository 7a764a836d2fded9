//! What a render needs in memory, checked against what the machine has before any work starts,
//! so that a too-large render is refused with a size that fits (or made to fit by a shorter
//! L-BFGS history) instead of swapping the desktop to death or being killed mid-run.

use crate::error::{Error, Result, Shortage};
use crate::imageio::fit_long_side;
use crate::model::vgg::reach;
use crate::model::{Config, LayerSpec};
use crate::notice::Note;
use crate::transfer::loss::tiles::TileGrid;
use crate::transfer::spec::options::OptimizerKind;
use crate::transfer::spec::RenderSpec;

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
/// L-BFGS state above which the history is shortened at large sizes (history 100 up to about
/// 1330 x 1000; 10 at 4096 x 3072).
const STATE_CAP: u64 = 3 << 30;
/// What a tiled render plans to use when it can: beyond tiles of about 1024 px the halo costs
/// little, and the desktop keeps the rest.
pub const TILED_BUDGET: u64 = 7 << 30;
/// Tile sides tried, largest first.
const TILE_SIZES: [u32; 7] = [2048, 1536, 1024, 768, 512, 384, 256];

/// Bytes a render needs, by part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoryEstimate {
    /// Kept activations of one forward pass, their copies for the losses, and gradient buffers.
    pub network: u64,
    /// Content features and style Gram matrices.
    pub targets: u64,
    /// Optimiser state: L-BFGS keeps 2 x history image-sized vectors, Adam 2 (and the average of
    /// its iterates 2 more).
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

/// Estimates the peak memory of optimising a `width` x `height` image with this network, whole
/// or (with `tile`) in tiles of that side, with `masks` masked regions (see `guide`).
pub fn estimate(
    config: &Config,
    (width, height): (u32, u32),
    n_styles: usize,
    masks: usize,
    kind: OptimizerKind,
    history: usize,
    tile: Option<u32>,
) -> Result<MemoryEstimate> {
    let layers = config.layers()?;
    let (w, h) = (u64::from(width), u64::from(height));
    let image = 3 * w * h * F32;
    let whole = walk(&layers, (w, h));
    let (network, targets) = match tile_outer(&layers, (w, h), tile) {
        // Activations, the same again for the taps' copies and the style image's forward pass
        // at target time (upper bounds), and three gradient-sized buffers in the backward pass.
        None => ((2 * whole.kept + 3 * whole.largest) * F32, (n_styles as u64 * whole.grams + whole.kept / 8) * F32),
        Some(outer) => {
            let one = walk(&layers, outer);
            // One tile's passes at a time (its activations once: a tile's taps are used in
            // place; measured at 2048x1536 with Adam, the tile's part of the peak RSS is 1238
            // MiB for 512 px tiles and 2007 MiB for 768 px, where this counts 1347 and 2283),
            // plus the image-sized gradient being assembled, its parts and the TV term; the
            // whole content features (block 4: 512 channels at 1/8) and a tile's crop of them.
            let content = 512 * ((h / 8) * (w / 8) + (outer.0 / 8) * (outer.1 / 8));
            ((one.kept + 3 * one.largest) * F32 + 3 * image, (n_styles as u64 * whole.grams + content) * F32)
        }
    };
    // Each region's mask at every resolution (4/3 of the picture), and while a layer's terms
    // are evaluated, two masked copies of its features (the largest layer's at most).
    let largest = tile_outer(&layers, (w, h), tile).map_or(whole.largest, |outer| walk(&layers, outer).largest);
    let (network, targets) = match masks {
        0 => (network, targets),
        n => (network + 2 * largest * F32, targets + n as u64 * (4 * w * h / 3) * F32),
    };
    let optimizer = match kind {
        OptimizerKind::Lbfgs => (2 * history as u64 + 4) * image,
        OptimizerKind::Adam => 6 * image,
    };
    Ok(MemoryEstimate { network, targets, optimizer, model: whole.weights * BYTES_PER_WEIGHT, base: PROGRAM_BYTES })
}

/// Element counts of one forward pass over `(w, h)`.
struct Walk {
    /// Every layer's output and the input.
    kept: u64,
    /// The largest single output.
    largest: u64,
    /// Gram matrices of every layer.
    grams: u64,
    /// Convolution weights.
    weights: u64,
}

fn walk(layers: &[LayerSpec], (mut w, mut h): (u64, u64)) -> Walk {
    let mut c = 3u64;
    let mut walk = Walk { kept: h * w * c, largest: h * w * c, grams: 0, weights: 0 };
    for layer in layers {
        match layer {
            LayerSpec::Conv(conv) => {
                walk.weights += 9 * (conv.in_channels * conv.out_channels) as u64;
                c = conv.out_channels as u64;
                walk.grams += c * c;
            }
            LayerSpec::Pool => (h, w) = (h / 2, w / 2),
        }
        walk.kept += h * w * c;
        walk.largest = walk.largest.max(h * w * c);
    }
    walk
}

/// Pixels one pass over a `w` x `h` image reads: the image, or with `tile` its tiles with their
/// halos (see [`TileGrid::covered`]).
fn covered(layers: &[LayerSpec], (w, h): (u32, u32), tile: Option<u32>) -> u64 {
    let reach = reach(layers.iter().map(|l| matches!(l, LayerSpec::Pool)));
    tile.map_or(u64::from(w) * u64::from(h), |t| {
        TileGrid::with_reach(reach, (w as usize, h as usize), t as usize).covered() as u64
    })
}

/// The largest region one tile of side `tile` reads (its interior, a merged remainder and the
/// halo on both sides), or `None` when one tile covers the image.
fn tile_outer(layers: &[LayerSpec], (w, h): (u64, u64), tile: Option<u32>) -> Option<(u64, u64)> {
    let (radius, align) = reach(layers.iter().map(|l| matches!(l, LayerSpec::Pool)));
    let (radius, align) = (radius as u64, align as u64);
    let side = u64::from(tile?).next_multiple_of(align) + align + 2 * (2 * radius).next_multiple_of(align);
    let outer = (side.min(w), side.min(h));
    (outer != (w, h)).then_some(outer)
}

/// The outcome of fitting a render into memory.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryPlan {
    /// What the render (as adjusted) needs.
    pub estimate: MemoryEstimate,
    /// What was changed to make it fit, for the user.
    pub notes: Vec<Note>,
}

/// Checks `spec` against `available` bytes (`None`: unknown, no check) and makes it fit, saying
/// what changed: at large sizes the L-BFGS history is bounded; a render whose whole image does
/// not fit is evaluated in tiles (the same picture) that read the fewest pixels in all, with the
/// longest history (down to 5) that fits in [`TILED_BUDGET`] or, failing that, in what is free.
/// Otherwise it is refused, naming a size that fits.
pub fn fit_in_memory(
    spec: &mut RenderSpec,
    content: (u32, u32),
    config: &Config,
    available: Option<u64>,
) -> Result<MemoryPlan> {
    let (n, kind, size, asked) = (spec.styles.len(), spec.run.optimizer, spec.size, spec.run.history);
    let masks = spec.objective.masks.regions();
    let needs = |size: u32, history: usize, tile: Option<u32>| {
        estimate(config, fit_long_side(content, size), n, masks, kind, history, tile)
    };
    let mut notes = Vec::new();
    if kind == OptimizerKind::Lbfgs {
        let (w, h) = fit_long_side(content, size);
        let per_entry = 2 * 3 * u64::from(w) * u64::from(h) * F32;
        let bound = ((STATE_CAP / per_entry) as usize).max(MIN_HISTORY);
        if spec.run.history > bound {
            notes.push(Note::HistoryCapped { from: spec.run.history, to: bound, size, within: STATE_CAP });
            spec.run.history = bound;
        }
    }
    let plan = |estimate: MemoryEstimate, notes: Vec<Note>| MemoryPlan { estimate, notes };
    let wanted = needs(size, spec.run.history, spec.run.tile)?;
    let Some(available) = available else { return Ok(plan(wanted, notes)) };
    let budget = (available as f64 * USABLE) as u64;
    if wanted.total() <= budget {
        return Ok(plan(wanted, notes));
    }
    // Whole or tiled, in the order of the pixels a pass reads (halos cost time: 1.8x the image
    // for 768 px tiles of a 4096x3072 print, 1.5x for 1024 px), each with the longest history
    // that fits: a shorter history costs a little convergence, smaller tiles cost every pass.
    let layers = config.layers()?;
    let (w, h) = fit_long_side(content, size);
    let long_side = w.max(h);
    let mut candidates: Vec<Option<u32>> = match spec.run.tile {
        Some(t) => vec![Some(t)],
        None => std::iter::once(None).chain(TILE_SIZES.iter().copied().filter(|&t| t < long_side).map(Some)).collect(),
    };
    candidates.sort_by_key(|&t| (covered(&layers, (w, h), t), std::cmp::Reverse(t)));
    let histories: Vec<usize> = std::iter::successors(Some(spec.run.history), |&h| {
        (kind == OptimizerKind::Lbfgs && h > MIN_HISTORY).then(|| (h * 3 / 4).max(MIN_HISTORY))
    })
    .collect();
    for cap in [budget.min(TILED_BUDGET), budget] {
        for &tile in &candidates {
            for &history in &histories {
                let e = needs(size, history, tile)?;
                // The whole image is held to what is free, not to the tiled budget.
                let limit = if tile.is_some() { cap } else { budget };
                if e.total() > limit {
                    continue;
                }
                if history != spec.run.history {
                    // Said once, from what was asked: this replaces the bound's note.
                    notes = vec![Note::HistoryFitted { from: asked, to: history, size, within: limit }];
                }
                if let (Some(t), None) = (tile, spec.run.tile) {
                    notes.push(Note::Tiled { tile: t });
                }
                spec.run.history = history;
                spec.run.tile = tile;
                return Ok(plan(e, notes));
            }
        }
    }
    let fits = largest_fitting(spec, content, config, Some(available), size.saturating_sub(1));
    Err(Error::Memory(Shortage { size, needed: wanted.total(), available, fits }))
}

/// What each stage of a render of `spec` may plan with, out of `available` bytes: all of them,
/// unless its output size has to be tiled; then every stage keeps within [`TILED_BUDGET`] too, so
/// a print's peak memory is its tiled last stage's, not that of a middle stage that happens to
/// fit whole in what is free.
pub fn stage_memory(spec: &RenderSpec, content: (u32, u32), config: &Config, available: Option<u64>) -> Option<u64> {
    let available = available?;
    let mut last = spec.clone();
    let tiled = spec.run.tile.is_none()
        && fit_in_memory(&mut last, content, config, Some(available)).is_ok()
        && last.run.tile.is_some();
    Some(if tiled { available.min((TILED_BUDGET as f64 / USABLE) as u64) } else { available })
}

/// Bytes beyond `plan`'s estimate that a tiled evaluation may spend keeping tiles' activations
/// from its first pass to its second (each tile kept is one forward pass saved): what is left
/// of [`TILED_BUDGET`] (or of the free memory, when less) once the plan is counted. Zero when
/// the free memory is unknown.
pub fn tile_cache(plan: &MemoryPlan, available: Option<u64>) -> u64 {
    available.map_or(0, |a| ((a as f64 * USABLE) as u64).min(TILED_BUDGET).saturating_sub(plan.estimate.total()))
}

/// The largest long side up to `limit` (a multiple of 32) at which `spec`'s render fits in
/// `available` bytes when everything that can shrink has (the smallest tiles, the shortest
/// history): what the app offers as the largest print. `None` when none fits; `limit` when the
/// free memory is unknown.
pub fn largest_fitting(
    spec: &RenderSpec,
    content: (u32, u32),
    config: &Config,
    available: Option<u64>,
    limit: u32,
) -> Option<u32> {
    let Some(available) = available else { return Some(limit) };
    let budget = (available as f64 * USABLE) as u64;
    let kind = spec.run.optimizer;
    let history = if kind == OptimizerKind::Lbfgs { MIN_HISTORY } else { 0 };
    let smallest = spec.run.tile.or(TILE_SIZES.last().copied());
    (1..=limit / 32).rev().map(|k| k * 32).find(|&s| {
        let masks = spec.objective.masks.regions();
        estimate(config, fit_long_side(content, s), spec.styles.len(), masks, kind, history, smallest)
            .is_ok_and(|e| e.total() <= budget)
    })
}

/// Memory the system can give this process now (RAM; see [`available_memory_on`] for a
/// device's).
pub fn available_memory() -> Option<u64> {
    system_memory()
}

/// Bytes free where a render on `device` computes: the GPU's own memory where candle can tell
/// (CUDA), otherwise the system's (the CPU, and Metal's memory shared with it).
pub fn available_memory_on(device: &candle_core::Device) -> Option<u64> {
    crate::model::device::free_memory(device).or_else(system_memory)
}

fn system_memory() -> Option<u64> {
    let mut sys = sysinfo::System::new().ok()?;
    sys.refresh_memory();
    let mut free = sys.available_memory();
    if let Some(limits) = sys.cgroup_limits() {
        free = free.min(limits.free_memory);
    }
    (free > 0).then_some(free)
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
    fn a_render_on_the_cpu_counts_the_systems_free_memory() {
        let (device, system) = (available_memory_on(&candle_core::Device::Cpu), available_memory());
        let (Some(device), Some(system)) = (device, system) else { panic!("no memory figure") };
        // Two readings a moment apart: other processes may allocate in between.
        assert!(device.abs_diff(system) < system / 20, "{device} vs {system}");
    }

    #[test]
    fn each_masked_region_adds_its_mask_pyramid() {
        let plain = estimate(&vgg16(), (2048, 1536), 2, 0, OptimizerKind::Adam, 0, None).unwrap();
        let one = estimate(&vgg16(), (2048, 1536), 2, 1, OptimizerKind::Adam, 0, None).unwrap();
        let three = estimate(&vgg16(), (2048, 1536), 2, 3, OptimizerKind::Adam, 0, None).unwrap();
        let pyramid = 4 * 2048 * 1536 / 3 * 4;
        assert_eq!(three.targets - one.targets, 2 * pyramid);
        assert!(one.network > plain.network, "masked copies of the features");
        assert_eq!(three.network, one.network);
    }

    #[test]
    fn lbfgs_history_costs_two_image_vectors_per_entry() {
        let a = estimate(&vgg16(), (512, 384), 1, 0, OptimizerKind::Lbfgs, 10, None).unwrap();
        let b = estimate(&vgg16(), (512, 384), 1, 0, OptimizerKind::Lbfgs, 11, None).unwrap();
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
            let e = estimate(&vgg16(), (w, h), 1, 0, OptimizerKind::Lbfgs, 3, None).unwrap();
            let mib = e.total() as f64 / f64::from(1 << 20);
            assert!(mib >= measured_mib && mib <= measured_mib * 1.3, "{w}x{h}: {mib:.0} MiB vs {measured_mib}");
        }
    }

    #[test]
    fn a_render_that_fits_is_left_alone() {
        let mut s = spec(512);
        let plan = fit_in_memory(&mut s, (1024, 768), &vgg16(), Some(64 << 30)).unwrap();
        assert!(plan.notes.is_empty());
        assert_eq!(s.run.history, 100);
        assert!(fit_in_memory(&mut s, (1024, 768), &vgg16(), None).unwrap().notes.is_empty());
    }

    #[test]
    fn tight_memory_shortens_the_lbfgs_history_and_says_so() {
        let mut s = spec(2048);
        let full = estimate(&vgg16(), (2048, 1536), 1, 0, OptimizerKind::Lbfgs, 100, None).unwrap().total();
        let available = (full as f64 * 0.85) as u64;
        let plan = fit_in_memory(&mut s, (1024, 768), &vgg16(), Some(available)).unwrap();
        assert!(s.run.history < 100 && s.run.history >= MIN_HISTORY, "{}", s.run.history);
        assert!(plan.estimate.total() as f64 <= available as f64 * USABLE);
        let kept = s.run.history;
        assert!(
            matches!(plan.notes.as_slice(), [Note::HistoryFitted { from: 100, to, size: 2048, .. }] if *to == kept),
            "{:?}",
            plan.notes
        );
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
        let tile = Some(256);
        let e = estimate(&vgg16(), fit_long_side((4000, 3000), fits), 1, 0, OptimizerKind::Lbfgs, MIN_HISTORY, tile)
            .unwrap();
        assert!(e.total() as f64 <= available as f64 * USABLE);
        let bigger = fit_long_side((4000, 3000), fits + 32);
        let e = estimate(&vgg16(), bigger, 1, 0, OptimizerKind::Lbfgs, MIN_HISTORY, tile).unwrap();
        assert!(e.total() as f64 > available as f64 * USABLE, "the largest size that fits is named");
    }

    #[test]
    fn a_print_too_large_to_run_whole_is_tiled_reading_the_fewest_pixels_and_says_so() {
        let mut s = spec(4096);
        let whole = estimate(&vgg16(), (4096, 3072), 1, 0, OptimizerKind::Lbfgs, 10, None).unwrap();
        assert!(whole.total() > 20 << 30, "the whole 4096 px image needs {} GiB", whole.total() >> 30);
        let plan = fit_in_memory(&mut s, (4000, 3000), &vgg16(), Some(20 << 30)).unwrap();
        let tile = s.run.tile.expect("tiled");
        assert!((768..4096).contains(&tile), "tiles of {tile} px spend too much on their halos");
        assert!((MIN_HISTORY..=10).contains(&s.run.history), "at most 3 GiB of L-BFGS state at 4096 x 3072");
        assert!(plan.estimate.total() <= TILED_BUDGET, "{} GiB", plan.estimate.total() >> 30);
        let layers = vgg16().layers().unwrap();
        let read = covered(&layers, (4096, 3072), Some(tile));
        assert!(read < 4096 * 3072 * 8 / 5, "tiles of {tile} px read {read} pixels");
        for t in TILE_SIZES.into_iter().filter(|&t| t < 4096 && covered(&layers, (4096, 3072), Some(t)) < read) {
            let e = estimate(&vgg16(), (4096, 3072), 1, 0, OptimizerKind::Lbfgs, MIN_HISTORY, Some(t)).unwrap();
            assert!(e.total() > TILED_BUDGET, "tiles of {t} px read fewer pixels and fit");
        }
        let kept = s.run.history;
        assert!(
            matches!(plan.notes.as_slice(),
                [Note::HistoryFitted { from: 100, to, .. } | Note::HistoryCapped { from: 100, to, .. }, Note::Tiled { tile: t }]
                if *to == kept && *t == tile),
            "{:?}",
            plan.notes
        );
    }

    #[test]
    fn every_stage_of_a_tiled_print_keeps_within_the_tiled_budget() {
        let free = Some(20u64 << 30);
        let print = stage_memory(&spec(4096), (4000, 3000), &vgg16(), free);
        let mut middle = spec(2048);
        let plan = fit_in_memory(&mut middle, (4000, 3000), &vgg16(), print).unwrap();
        assert!(middle.run.tile.is_some(), "the 2048 px stage of a 4096 px print is tiled");
        assert!(plan.estimate.total() + tile_cache(&plan, print) <= TILED_BUDGET);
        let mut alone = spec(2048);
        assert_eq!(stage_memory(&alone, (4000, 3000), &vgg16(), free), free);
        fit_in_memory(&mut alone, (4000, 3000), &vgg16(), free).unwrap();
        assert_eq!(alone.run.tile, None, "a 2048 px render that fits whole runs whole");
        assert_eq!(stage_memory(&spec(4096), (4000, 3000), &vgg16(), None), None);
    }

    #[test]
    fn a_tile_size_the_artist_forced_is_kept_and_a_small_render_runs_whole() {
        let mut s = spec(4096);
        s.run.tile = Some(300);
        fit_in_memory(&mut s, (4000, 3000), &vgg16(), Some(20 << 30)).unwrap();
        assert_eq!(s.run.tile, Some(300));
        let mut s = spec(512);
        fit_in_memory(&mut s, (4000, 3000), &vgg16(), Some(20 << 30)).unwrap();
        assert_eq!((s.run.tile, s.run.history), (None, 100));
        let tiled = estimate(&vgg16(), (4096, 3072), 1, 0, OptimizerKind::Adam, 0, Some(512)).unwrap();
        let whole = estimate(&vgg16(), (4096, 3072), 1, 0, OptimizerKind::Adam, 0, None).unwrap();
        assert!(tiled.network * 8 < whole.network, "{} vs {}", tiled.network, whole.network);
    }
}
