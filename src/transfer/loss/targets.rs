//! Content features and style Gram targets, computed once per (image, size, layer) and cached.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use candle_core::Tensor;
use image::RgbImage;

use crate::error::{Error, Result};
use crate::imageio::to_tensor;
use crate::model::{Tap, Vgg};
use crate::transfer::loss::gram::gram;
use crate::transfer::loss::guide::{regions, Region};
use crate::transfer::loss::sliced::{sorted_projections, SlicedRegion};
pub use crate::transfer::loss::temporal::Temporal;
use crate::transfer::loss::tiles::{features_tiled, grams_tiled};
use crate::transfer::loss::values::Divisors;
use crate::transfer::loss::{kind, Kind, Prepared, KINDS};
use crate::transfer::spec::mask::StyleMasks;
use crate::transfer::spec::objective::{Objective, StyleLoss};

/// Identity of an image's pixels at a given size (a hash of its dimensions and bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ImageKey(u64);

/// An image resized for a run and normalised onto the network's device.
#[derive(Debug, Clone)]
pub struct PreparedImage {
    /// Cache identity.
    pub key: ImageKey,
    /// Normalised RGB, (1, 3, H, W).
    pub tensor: Tensor,
    /// The resized pixels.
    pub rgb: RgbImage,
}

impl PreparedImage {
    /// Normalises `rgb` onto the network's device.
    pub fn new(rgb: RgbImage, net: &Vgg) -> Result<Self> {
        let mut h = DefaultHasher::new();
        rgb.dimensions().hash(&mut h);
        rgb.as_raw().hash(&mut h);
        let tensor = to_tensor(&rgb, net.device())?;
        Ok(PreparedImage { key: ImageKey(h.finish()), tensor, rgb })
    }

    /// (width, height).
    pub fn size(&self) -> (u32, u32) {
        self.rgb.dimensions()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Stat {
    Features,
    Gram,
    /// Sorted projections for the sliced style loss.
    Sliced,
}

/// Cache of targets by (image, layer, kind). The image key already covers the size. It lives as
/// long as the network it was filled with (a different model needs a new cache). It holds at
/// most [`TargetCache::DEFAULT_BUDGET`] bytes: dragging the size slider through many sizes evicts
/// the least recently used targets, never those of the lookup in progress (a run keeps its own
/// handles to its targets, so an eviction only costs a recomputation on a later restart).
#[derive(Debug)]
pub struct TargetCache {
    entries: HashMap<(ImageKey, Tap, Stat), (Tensor, u64)>,
    /// What kinds of terms prepared from an image, by (image, kind's name): (it, its bytes, its
    /// clock), evicted with the tensors.
    prepared: HashMap<(ImageKey, &'static str), (Prepared, usize, u64)>,
    /// Incremented per lookup; an entry's second field is the clock of its last use.
    clock: u64,
    bytes: usize,
    budget: usize,
}

impl Default for TargetCache {
    fn default() -> Self {
        Self::with_budget(Self::DEFAULT_BUDGET)
    }
}

impl TargetCache {
    /// Bytes kept by default: content features of a 4096 px render, or a long session of sizes.
    pub const DEFAULT_BUDGET: usize = 768 << 20;

    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty cache that keeps at most `budget` bytes of targets not in use.
    pub fn with_budget(budget: usize) -> Self {
        TargetCache { entries: HashMap::new(), prepared: HashMap::new(), clock: 0, bytes: 0, budget }
    }

    /// Number of cached targets.
    pub fn len(&self) -> usize {
        self.entries.len() + self.prepared.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of the cached tensors.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn get(
        &mut self,
        net: &Vgg,
        image: &PreparedImage,
        taps: &[Tap],
        kind: Stat,
        tile: Option<usize>,
    ) -> Result<Vec<Tensor>> {
        self.clock += 1;
        let missing: Vec<Tap> =
            taps.iter().copied().filter(|&t| !self.entries.contains_key(&(image.key, t, kind))).collect();
        if !missing.is_empty() {
            let index =
                |t: Tap| net.tap_index(t).ok_or_else(|| Error::invalid(format!("the network does not reach {t}")));
            let keep = missing.iter().map(|&t| index(t)).collect::<Result<Vec<_>>>()?;
            let values = match (tile, kind) {
                (Some(tile), Stat::Gram) => grams_tiled(net, &image.tensor, &keep, tile)?,
                (Some(tile), Stat::Features) => features_tiled(net, &image.tensor, &keep, tile)?,
                (Some(tile), Stat::Sliced) => features_tiled(net, &image.tensor, &keep, tile)?
                    .iter()
                    .zip(&missing)
                    .map(|(f, &t)| sorted_projections(f, t))
                    .collect::<Result<Vec<_>>>()?,
                (None, _) => {
                    let acts = net.forward_taps(&image.tensor, &keep)?;
                    keep.iter()
                        .zip(&missing)
                        .map(|(&i, &t)| match kind {
                            Stat::Features => Ok(acts.output(i)?.clone()),
                            Stat::Gram => gram(acts.output(i)?),
                            Stat::Sliced => sorted_projections(acts.output(i)?, t),
                        })
                        .collect::<Result<Vec<_>>>()?
                }
            };
            for (t, value) in missing.into_iter().zip(values) {
                self.bytes += value.elem_count() * value.dtype().size_in_bytes();
                self.entries.insert((image.key, t, kind), (value, self.clock));
            }
        }
        let mut found = Vec::with_capacity(taps.len());
        for &t in taps {
            let entry = self.entries.get_mut(&(image.key, t, kind)).ok_or_else(|| Error::internal("target evicted"))?;
            entry.1 = self.clock;
            found.push(entry.0.clone());
        }
        self.evict();
        Ok(found)
    }

    /// What kind `kind` prepares from `image` (computed on the first lookup).
    fn prepared(&mut self, image: &PreparedImage, kind: &Kind) -> Result<Option<Prepared>> {
        let Some(prepare) = kind.prepare else { return Ok(None) };
        self.clock += 1;
        let key = (image.key, kind.name);
        if !self.prepared.contains_key(&key) {
            let (value, bytes) = prepare(&image.rgb)?;
            self.bytes += bytes;
            self.prepared.insert(key, (value, bytes, self.clock));
        }
        let entry = self.prepared.get_mut(&key).ok_or_else(|| Error::internal("target evicted"))?;
        entry.2 = self.clock;
        let found = entry.0.clone();
        self.evict();
        Ok(Some(found))
    }

    /// Drops least recently used entries until within budget, sparing those of this lookup.
    fn evict(&mut self) {
        while self.bytes > self.budget {
            let tensor = self.entries.iter().filter(|(_, v)| v.1 < self.clock).min_by_key(|(_, v)| v.1);
            let tensor = tensor.map(|(&key, v)| (key, v.1));
            let other = self.prepared.iter().filter(|(_, v)| v.2 < self.clock).min_by_key(|(_, v)| v.2);
            let other = other.map(|(&key, v)| (key, v.2));
            let tensor_first = match (tensor, other) {
                (Some((_, at)), Some((_, o))) => at <= o,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => return,
            };
            match (tensor, other) {
                (Some((key, _)), _) if tensor_first => {
                    if let Some((t, _)) = self.entries.remove(&key) {
                        self.bytes -= t.elem_count() * t.dtype().size_in_bytes();
                    }
                }
                (_, Some((key, _))) => {
                    if let Some((_, bytes, _)) = self.prepared.remove(&key) {
                        self.bytes -= bytes;
                    }
                }
                _ => return,
            }
        }
    }
}

/// Which targets a run needs (the objective's layers, blend and masks; see
/// [`TargetRequest::of`]).
#[derive(Debug, Clone, PartialEq)]
pub struct TargetRequest {
    /// The tap whose features the content term matches.
    pub content_tap: Tap,
    /// The style taps, in order.
    pub style_taps: Vec<Tap>,
    /// Blend weights of the style images.
    pub blend: Vec<f64>,
    /// Where each style applies.
    pub masks: StyleMasks,
    /// Which style statistics the style terms compare.
    pub style_loss: StyleLoss,
    /// Compute them in tiles of this side (images larger than one tile); the values are the same.
    pub tile: Option<usize>,
    /// The kinds of terms whose weight is not zero that prepare something from the photo.
    pub prepare: Vec<&'static str>,
}

impl TargetRequest {
    /// The targets `objective` needs, computed whole.
    pub fn of(objective: &Objective) -> Self {
        TargetRequest {
            content_tap: objective.content_tap,
            style_taps: objective.style_layers.iter().map(|l| l.0).collect(),
            blend: objective.style_blend.clone(),
            masks: objective.masks.clone(),
            style_loss: objective.style_loss,
            tile: None,
            prepare: KINDS
                .iter()
                .filter(|k| k.prepare.is_some() && (k.weight)(objective) != 0.0)
                .map(|k| k.name)
                .collect(),
        }
    }

    /// Whether targets computed for `self` serve `other` once retargeted (see
    /// [`Targets::retarget`]): they differ at most in the blend and the masks.
    pub fn same_targets(&self, other: &TargetRequest) -> bool {
        TargetRequest { blend: Vec::new(), masks: StyleMasks::default(), ..self.clone() }
            == TargetRequest { blend: Vec::new(), masks: StyleMasks::default(), ..other.clone() }
    }
}

/// The targets of one run: content features, each style image's Gram per style layer, and the
/// regions the style terms are evaluated over (the blend everywhere, or one per painted mask).
#[derive(Debug, Clone)]
pub struct Targets {
    /// Content activations at the content tap.
    pub content: Tensor,
    /// `styles[s][k]`: Gram of style image `s` at style tap `k`.
    styles: Vec<Vec<Tensor>>,
    /// `sliced[s][k]`: style image `s`'s sorted projections at style tap `k` (sliced style
    /// loss only).
    sliced: Vec<Vec<Tensor>>,
    /// The blend weights, summing to 1.
    blend: Vec<f64>,
    /// The regions and their Gram targets.
    regions: Vec<Region>,
    /// Downsampling of each style tap (to pool masks to its resolution).
    strides: Vec<usize>,
    /// The picture's (width, height).
    size: (u32, u32),
    /// Gradient divisors held fixed while gradients are normalised (see [`Targets::hold_divisors`]).
    held: Option<Divisors>,
    /// A clip frame's previous frame, warped, and where to hold to it.
    pub temporal: Option<Temporal>,
    /// What kinds of terms prepared from the photo, by kind.
    prepared: Vec<(&'static str, Prepared)>,
}

impl Targets {
    /// Computes (or fetches from `cache`) every target of `request`.
    pub fn new(
        net: &Vgg,
        content: &PreparedImage,
        styles: &[PreparedImage],
        request: &TargetRequest,
        cache: &mut TargetCache,
    ) -> Result<Self> {
        if styles.is_empty() {
            return Err(Error::internal("targets without a style image (the spec checks for one)"));
        }
        let content_t = cache.get(net, content, &[request.content_tap], Stat::Features, request.tile)?.remove(0);
        let (taps, tile) = (&request.style_taps, request.tile);
        let strides = taps
            .iter()
            .map(|&t| {
                let i = net.tap_index(t).ok_or_else(|| Error::invalid(format!("the network does not reach {t}")))?;
                Ok(net.reach(i + 1).1)
            })
            .collect::<Result<Vec<_>>>()?;
        let sliced = match request.style_loss {
            StyleLoss::Gram => Vec::new(),
            StyleLoss::Sliced => {
                styles.iter().map(|s| cache.get(net, s, taps, Stat::Sliced, tile)).collect::<Result<Vec<_>>>()?
            }
        };
        let styles = styles.iter().map(|s| cache.get(net, s, taps, Stat::Gram, tile)).collect::<Result<Vec<_>>>()?;
        let mut prepared = Vec::new();
        for &name in &request.prepare {
            let kind = kind(name).ok_or_else(|| Error::internal(format!("no kind of term {name}")))?;
            if let Some(p) = cache.prepared(content, kind)? {
                prepared.push((name, p));
            }
        }
        let mut targets = Targets {
            content: content_t,
            styles,
            sliced,
            blend: Vec::new(),
            regions: Vec::new(),
            strides,
            size: content.size(),
            held: None,
            temporal: None,
            prepared,
        };
        targets.retarget(&request.blend, &request.masks)?;
        Ok(targets)
    }

    /// Rebuilds the regions for new blend weights or masks (cheap next to an iteration: a
    /// weighted sum of C x C matrices, and each mask resized and pooled).
    pub fn retarget(&mut self, blend: &[f64], masks: &StyleMasks) -> Result<()> {
        if blend.len() != self.styles.len() {
            return Err(Error::internal("a blend weight per style image (the objective checks for it)"));
        }
        masks.validate(self.styles.len())?;
        let sum: f64 = blend.iter().sum();
        let layers = self.styles[0].len();
        let blended = (0..layers)
            .map(|k| {
                let mut acc = (&self.styles[0][k] * (blend[0] / sum))?;
                for (s, &b) in self.styles.iter().zip(blend).skip(1) {
                    acc = acc.add(&(&s[k] * (b / sum))?)?;
                }
                Ok(acc)
            })
            .collect::<Result<Vec<_>>>()?;
        self.blend = blend.iter().map(|b| b / sum).collect();
        let device = self.content.device().clone();
        self.regions = regions(masks, &self.styles, (&blended, &self.blend), &self.strides, self.size, &device)?;
        Ok(())
    }

    /// Holds the divisors of normalised gradients fixed (`None`: each evaluation measures its
    /// own). Held, they make the objective one fixed function, which a line search needs;
    /// measured at every point, the gradient would not be the gradient of any loss.
    pub fn hold_divisors(&mut self, divisors: Option<Divisors>) {
        self.held = divisors;
    }

    /// The divisors held fixed, if any.
    pub fn held_divisors(&self) -> Option<&Divisors> {
        self.held.as_ref()
    }

    /// What kind `name` prepared from the photo, if it did and it is a `T`.
    pub fn prepared<T: Send + Sync + 'static>(&self, name: &str) -> Option<&T> {
        self.prepared.iter().find(|(n, _)| *n == name).and_then(|(_, p)| p.downcast_ref::<T>())
    }

    /// The regions the style terms are evaluated over (none when every mask is black).
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// The sliced style loss's targets at style layer `k`: per region, its styles' sorted
    /// projections with their blend weights, and its pixels' weights.
    pub fn sliced(&self, k: usize) -> Result<Vec<SlicedRegion<'_>>> {
        if self.sliced.is_empty() {
            return Err(Error::internal("targets were computed for the Gram style loss"));
        }
        self.regions
            .iter()
            .map(|region| {
                let styles = region
                    .styles
                    .iter()
                    .map(|&(s, b)| {
                        let sorted = self.sliced.get(s).and_then(|layers| layers.get(k));
                        Ok((sorted.ok_or_else(|| Error::internal("style layer has no target"))?, b))
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(SlicedRegion { styles, weights: region.pixel_weights(k)? })
            })
            .collect()
    }

    /// The Gram target of style layer `k` everywhere: the blend (unmasked renders only).
    pub fn style_gram(&self, k: usize) -> Result<&Tensor> {
        match self.regions.as_slice() {
            [only] if only.is_whole() => {
                only.targets.get(k).ok_or_else(|| Error::internal("style layer has no target"))
            }
            _ => Err(Error::internal("a masked render has a target per region")),
        }
    }
}
