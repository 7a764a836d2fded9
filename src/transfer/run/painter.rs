//! The instant look as part of a render: the feed-forward networks of
//! [`crate::model::instant`] paint the photo with the spec's styles in one pass, blended by the
//! spec's style blend and pulled towards the photo's own style by the strength. It is a render
//! of its own (`Method::Instant`) and a start for the optimiser (`Init::Instant`).

use std::collections::HashMap;
use std::sync::Mutex;

use candle_core::{Device, Tensor};
use image::RgbImage;

use crate::error::{Error, Result};
use crate::imageio::{fit_long_side, from_unit_tensor, resize, to_unit_tensor};
use crate::model::instant::{InstantNet, STYLE_SIDE};
use crate::transfer::run::sources::SourceImages;
use crate::transfer::spec::RenderSpec;

/// Longest side the transformer paints at; larger renders are painted at this size and
/// resized (bicubic). Its strokes are drawn at a fixed number of pixels, so a bigger pass only
/// makes them smaller, and its memory grows with the area (about 0.9 GB at 1024 px).
pub const MAX_PAINT_SIDE: u32 = 1024;

/// The networks and the style vectors already computed (keyed by the image's sha256, or its
/// size and a sample of its pixels when it has none), so steering the strength or the blend
/// costs one transformer pass.
#[derive(Debug)]
pub struct Painter {
    net: InstantNet,
    device: Device,
    vectors: Mutex<HashMap<String, Tensor>>,
}

impl Painter {
    /// The embedded networks on `device`.
    pub fn new(device: &Device) -> Result<Self> {
        Ok(Painter { net: InstantNet::embedded(device)?, device: device.clone(), vectors: Mutex::default() })
    }

    /// The style vector of `picture`: its centred square, resized to 256x256.
    pub fn style_vector(&self, picture: &RgbImage, key: Option<&str>) -> Result<Tensor> {
        let key = key.map(str::to_string).unwrap_or_else(|| fingerprint(picture));
        if let Some(v) = self.vectors.lock().map_err(|_| Error::internal("style vector cache poisoned"))?.get(&key) {
            return Ok(v.clone());
        }
        let (w, h) = picture.dimensions();
        let side = w.min(h);
        let square = image::imageops::crop_imm(picture, (w - side) / 2, (h - side) / 2, side, side).to_image();
        let square = image::imageops::resize(
            &square,
            STYLE_SIDE as u32,
            STYLE_SIDE as u32,
            image::imageops::FilterType::Lanczos3,
        );
        let vector = self.net.style_vector(&to_unit_tensor(&square, &self.device)?)?;
        let mut cache = self.vectors.lock().map_err(|_| Error::internal("style vector cache poisoned"))?;
        if cache.len() > 64 {
            cache.clear();
        }
        cache.insert(key, vector.clone());
        Ok(vector)
    }

    /// The vector the spec asks for: the paintings' vectors weighted by the style blend, then
    /// `strength` of the way from the photo's own vector to it.
    pub fn vector_for(&self, sources: &SourceImages, spec: &RenderSpec) -> Result<Tensor> {
        let blend = &spec.objective.style_blend;
        let total: f64 = blend.iter().sum();
        if sources.styles.is_empty() || total.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            return Err(Error::invalid("the instant look needs a style image with a blend weight above 0"));
        }
        let mut mix: Option<Tensor> = None;
        for (i, (style, &weight)) in sources.styles.iter().zip(blend).enumerate() {
            if weight <= 0.0 {
                continue;
            }
            // With statistics colour keeping the painting here is colour-matched to the photo:
            // a picture of its own, so not the file's hash.
            let matched = spec.preserve_colors == crate::transfer::PreserveColors::Histogram;
            let key = sources.style_refs.get(i).and_then(|r| r.sha256.as_deref()).filter(|_| !matched);
            let v = (self.style_vector(style, key)? * (weight / total))?;
            mix = Some(match mix {
                Some(m) => (m + v)?,
                None => v,
            });
        }
        let mix = mix.ok_or_else(|| Error::internal("no weighted style"))?;
        let strength = spec.instant.strength;
        if strength >= 1.0 {
            return Ok(mix);
        }
        let own = self.style_vector(&sources.content, sources.content_ref.sha256.as_deref())?;
        Ok(((mix * strength)? + (own * (1.0 - strength))?)?)
    }

    /// `sources`' photo painted as `spec` asks, at `size` (width, height): painted at that size
    /// up to [`MAX_PAINT_SIDE`], above it painted there and resized.
    pub fn paint(&self, sources: &SourceImages, spec: &RenderSpec, size: (u32, u32)) -> Result<RgbImage> {
        spec.instant.validate()?;
        let vector = self.vector_for(sources, spec)?;
        let work = if size.0.max(size.1) > MAX_PAINT_SIDE { fit_long_side(size, MAX_PAINT_SIDE) } else { size };
        let photo = to_unit_tensor(&resize(&sources.content, work), &self.device)?;
        let painted = from_unit_tensor(&self.net.paint(&photo, &vector)?)?;
        Ok(resize(&painted, size))
    }
}

/// A cache key for a picture without a recorded hash: the sha256 of its size and pixels.
fn fingerprint(picture: &RgbImage) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(picture.width().to_le_bytes());
    hasher.update(picture.height().to_le_bytes());
    hasher.update(picture.as_raw());
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
