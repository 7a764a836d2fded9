//! Masks as the network sees them (guided Gram matrices). A region is a set of pixels with one
//! Gram target per style layer; its mask is pooled to each layer's resolution. Over a region
//! with weights m (0..=1), the Gram matrix is G = F diag(m^2) F^T / (C sum m^2): the mean over
//! the region, comparable to the whole-picture target. Its loss counts in proportion to the
//! region's share of the layer, so a stroke painted over half the picture pulls each of its
//! pixels as hard as an unmasked render does; then d loss / dF = style_grad(F diag(m^2)) over
//! the whole layer (see `gram::style_grad`).

use candle_core::{Device, Tensor};

use crate::error::{Error, Result};
use crate::transfer::loss::gram::weighted;
use crate::transfer::loss::tiles::{crop, Rect};
use crate::transfer::spec::mask::{StyleMasks, Unpainted};

/// A mask at one layer's resolution.
#[derive(Debug, Clone)]
pub struct Guide {
    /// Weights in 0..=1, (1, 1, h, w).
    weights: Tensor,
    /// Sum of the squared weights over the layer.
    mass: f64,
}

/// Pixels where one style (or one blend of styles) applies: its mask at each style layer, the
/// style images it takes and their Gram targets. Any style term can read it: the Gram term
/// weighs its matrices, the sliced term its distributions (`pixel_weights`).
#[derive(Debug, Clone)]
pub struct Region {
    /// The Gram target of each style layer.
    pub targets: Vec<Tensor>,
    /// The style images that apply here, with their blend weights (summing to 1).
    pub styles: Vec<(usize, f64)>,
    /// The mask at each style layer; `None`: the whole picture.
    guides: Option<Vec<Guide>>,
}

impl Region {
    /// A region covering the whole picture.
    pub fn whole(targets: Vec<Tensor>, styles: Vec<(usize, f64)>) -> Self {
        Region { targets, styles, guides: None }
    }

    /// Each pixel's weight at style layer `k` (the mask squared, as the Gram matrix weighs
    /// it), row by row; `None` for the whole picture (every weight 1).
    pub fn pixel_weights(&self, k: usize) -> Result<Option<Vec<f32>>> {
        let Some(guides) = &self.guides else { return Ok(None) };
        let guide = guides.get(k).ok_or_else(|| Error::internal("a style layer without a guide"))?;
        Ok(Some(guide.weights.sqr()?.flatten_all()?.to_dtype(candle_core::DType::F32)?.to_vec1()?))
    }

    /// The Gram target at style layer `k`.
    pub fn target(&self, k: usize) -> Result<&Tensor> {
        self.targets.get(k).ok_or_else(|| Error::internal("style layer has no target"))
    }

    /// Whether the region is the whole picture (no mask).
    pub fn is_whole(&self) -> bool {
        self.guides.is_none()
    }

    /// Sum of the squared weights at style layer `k`, whose size is `pixels` (h * w).
    pub fn mass(&self, k: usize, pixels: usize) -> Result<f64> {
        match &self.guides {
            None => Ok(pixels as f64),
            Some(g) => Ok(g.get(k).ok_or_else(|| Error::internal("a style layer without a guide"))?.mass),
        }
    }

    /// `features` (the part `rect` of style layer `k`, or all of it) times the mask raised to
    /// `power` (1: for the Gram matrix; 2: for its gradient); unchanged for the whole picture.
    pub fn weigh(&self, k: usize, features: &Tensor, rect: Option<Rect>, power: i32) -> Result<Tensor> {
        let Some(guides) = &self.guides else { return Ok(features.clone()) };
        let guide = guides.get(k).ok_or_else(|| Error::internal("a style layer without a guide"))?;
        let m = match rect {
            Some(r) => crop(&guide.weights, r)?,
            None => guide.weights.clone(),
        };
        let m = if power == 2 { m.sqr()? } else { m };
        weighted(features, &m)
    }

    /// The Gram matrix of the region at style layer `k` from the (summed) `F diag(m^2) F^T`,
    /// with `c` channels; `None` when the mask has vanished at this layer.
    pub fn gram(&self, k: usize, sum: &Tensor, c: usize, pixels: usize) -> Result<Option<Tensor>> {
        let mass = self.mass(k, pixels)?;
        if mass <= 0.0 {
            return Ok(None);
        }
        Ok(Some((sum / (c as f64 * mass))?))
    }

    /// A layer's loss `measure` over this region (see `gram::style_measure`) times the region's
    /// share of the layer.
    pub fn loss(&self, k: usize, measure: Tensor, pixels: usize) -> Result<Tensor> {
        match &self.guides {
            None => Ok(measure),
            Some(_) => Ok((measure * (self.mass(k, pixels)? / pixels as f64))?),
        }
    }
}

/// The regions of a render: one covering everything with the blended targets when nothing is
/// painted; otherwise one per painted style with that style's targets, and the unpainted rest
/// with the blended targets when `masks.unpainted` says so.
///
/// `styles[s][k]` is style image `s`'s Gram at style layer `k`, `blended[k]` their blend with
/// `blend` (summing to 1), `strides[k]` the downsampling of layer `k`, `size` the picture's
/// (width, height).
pub fn regions(
    masks: &StyleMasks,
    styles: &[Vec<Tensor>],
    (blended, blend): (&[Tensor], &[f64]),
    strides: &[usize],
    (w, h): (u32, u32),
    device: &Device,
) -> Result<Vec<Region>> {
    let all: Vec<(usize, f64)> = blend.iter().copied().enumerate().collect();
    if !masks.is_active() {
        return Ok(vec![Region::whole(blended.to_vec(), all)]);
    }
    let pixels = w as usize * h as usize;
    let mut painted = vec![0f32; pixels];
    let mut out = Vec::new();
    for (s, targets) in styles.iter().enumerate() {
        let Some(mask) = masks.get(s) else { continue };
        let weights = mask.weights_at((w, h));
        for (p, m) in painted.iter_mut().zip(&weights) {
            *p += m;
        }
        if weights.iter().all(|&m| m == 0.0) {
            continue;
        }
        let guides = pyramid(Tensor::from_vec(weights, (1, 1, h as usize, w as usize), device)?, strides)?;
        out.push(Region { targets: targets.clone(), styles: vec![(s, 1.0)], guides: Some(guides) });
    }
    if masks.unpainted == Unpainted::Blend {
        let rest: Vec<f32> = painted.iter().map(|p| (1.0 - p).max(0.0)).collect();
        if rest.iter().any(|&m| m > 0.0) {
            let guides = pyramid(Tensor::from_vec(rest, (1, 1, h as usize, w as usize), device)?, strides)?;
            out.push(Region { targets: blended.to_vec(), styles: all, guides: Some(guides) });
        }
    }
    Ok(out)
}

/// The mask `weights` (1, 1, H, W) at each of `strides` (powers of two): 2x2 means, rounding
/// sizes down as the network's pooling does.
fn pyramid(weights: Tensor, strides: &[usize]) -> Result<Vec<Guide>> {
    strides
        .iter()
        .map(|&stride| {
            let mut m = weights.clone();
            let mut s = 1;
            while s < stride {
                m = m.avg_pool2d(2)?;
                s *= 2;
            }
            let mass = f64::from(m.sqr()?.sum_all()?.to_scalar::<f32>()?);
            Ok(Guide { weights: m, mass })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device, Tensor, Var};

    use super::*;
    use crate::transfer::loss::gram::{gram_sum, style_grad, style_measure};
    use crate::transfer::spec::mask::Mask;

    fn close(a: &Tensor, b: &Tensor) -> f32 {
        let err = a.sub(b).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        let scale = b.abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        err / scale
    }

    /// A region of one soft mask at stride 1 over (1, 3, 5, 6) features.
    fn setup() -> (Tensor, Region, Tensor) {
        let dev = Device::Cpu;
        let f = Tensor::randn(0f32, 1.0, (1, 3, 5, 6), &dev).unwrap();
        // A Gram target is symmetric (the closed form relies on it).
        let r = Tensor::randn(0f32, 0.3, (3, 4), &dev).unwrap();
        let target = r.matmul(&r.t().unwrap()).unwrap();
        let img = image::GrayImage::from_fn(6, 5, |x, y| image::Luma([(x * 40 + y * 10) as u8]));
        let masks = StyleMasks { masks: vec![Some(Mask::new(img).unwrap())], ..StyleMasks::default() };
        let mut r =
            regions(&masks, &[vec![target.clone()]], (std::slice::from_ref(&target), &[1.0]), &[1], (6, 5), &dev)
                .unwrap();
        (f, r.remove(0), target)
    }

    #[test]
    fn the_masked_style_gradient_matches_autograd() {
        let (f, region, target) = setup();
        let pixels = 30;
        for scaled in [false, true] {
            // Autograd of share * measure(F M F^T / (C sum m^2) - A), written out.
            let var = Var::from_tensor(&f).unwrap();
            let fm = region.weigh(0, var.as_tensor(), None, 1).unwrap();
            let g = region.gram(0, &gram_sum(&fm).unwrap(), 3, pixels).unwrap().unwrap();
            let d = g.sub(&target).unwrap();
            let measure = if scaled {
                let e = (d * 3.0).unwrap();
                e.sqr().unwrap().sum_all().unwrap().div(&e.abs().unwrap().sum_all().unwrap()).unwrap()
            } else {
                d.sqr().unwrap().mean_all().unwrap()
            };
            let loss = region.loss(0, measure, pixels).unwrap();
            let auto = loss.backward().unwrap().get(var.as_tensor()).unwrap().clone();
            // The closed form.
            let (_, slope) = style_measure(&g.detach().sub(&target).unwrap(), scaled).unwrap();
            let explicit = style_grad(&region.weigh(0, &f, None, 2).unwrap(), &slope, 1.0, 3 * pixels).unwrap();
            assert!(close(&explicit, &auto) < 1e-5, "scaled {scaled}: {}", close(&explicit, &auto));
        }
    }

    #[test]
    fn a_white_mask_gives_the_unmasked_gram() {
        let dev = Device::Cpu;
        let f = Tensor::randn(0f32, 1.0, (1, 4, 8, 8), &dev).unwrap();
        let t = Tensor::zeros((4, 4), DType::F32, &dev).unwrap();
        let masks = StyleMasks { masks: vec![Some(Mask::filled((8, 8), true).unwrap())], ..StyleMasks::default() };
        let r = regions(&masks, &[vec![t.clone()]], (&[t], &[1.0]), &[1], (8, 8), &dev).unwrap().remove(0);
        let g = r.gram(0, &gram_sum(&r.weigh(0, &f, None, 1).unwrap()).unwrap(), 4, 64).unwrap().unwrap();
        assert!(close(&g, &crate::transfer::loss::gram::gram(&f).unwrap()) < 1e-6);
    }

    #[test]
    fn the_unpainted_rest_is_what_no_mask_covers() {
        let dev = Device::Cpu;
        let t = Tensor::zeros((1, 1), DType::F32, &dev).unwrap();
        let left = image::GrayImage::from_fn(8, 4, |x, _| image::Luma([if x < 4 { 255 } else { 0 }]));
        let masks = StyleMasks { masks: vec![Some(Mask::new(left).unwrap())], unpainted: Unpainted::Blend };
        let r = regions(&masks, &[vec![t.clone()]], (std::slice::from_ref(&t), &[1.0]), &[1, 2], (8, 4), &dev).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].mass(0, 32).unwrap(), r[1].mass(0, 32).unwrap()), (16.0, 16.0));
        // At stride 2 the 4x2 layer keeps the split: 4 pixels each.
        assert_eq!((r[0].mass(1, 8).unwrap(), r[1].mass(1, 8).unwrap()), (4.0, 4.0));
        let only = StyleMasks { unpainted: Unpainted::Content, ..masks };
        assert_eq!(regions(&only, &[vec![t.clone()]], (&[t], &[1.0]), &[1], (8, 4), &dev).unwrap().len(), 1);
    }
}
