//! Where each style applies (Gatys et al. 2017, "Controlling perceptual factors in neural style
//! transfer": guided Gram matrices). A mask per style image, white where the style applies; the
//! masks travel in the objective, so painting steers a running render.

use std::io::Cursor;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use image::{GrayImage, ImageFormat};

use crate::error::{Error, Result};
use crate::imageio::{decode_picture, read_image_file};
use crate::notice::Note;

/// Largest side a mask is kept at: masks are smooth, and the spec (and every exported PNG) carries
/// them, so a painted or loaded mask is stored at most this large and resized to each stage.
pub const MAX_MASK_SIDE: u32 = 2048;

/// A greyscale mask: white, the style applies; black, it does not; grey, partly. Immutable
/// and cheap to clone (a painted stroke makes a new one).
#[derive(Clone)]
pub struct Mask(Arc<Levels>);

impl PartialEq for Mask {
    /// The same stored mask, or equal pixels: the app compares its settings every frame, and a
    /// mask shared with the running render is found equal without reading its pixels.
    fn eq(&self, other: &Mask) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

/// A mask's pixels, its painted fraction (computed once: the app shows it every frame) and its
/// stored form (base64 PNG), encoded once, on the first thread that needs it.
struct Levels {
    image: GrayImage,
    coverage: f64,
    encoded: OnceLock<String>,
}

impl PartialEq for Levels {
    fn eq(&self, other: &Levels) -> bool {
        self.image == other.image
    }
}

impl std::fmt::Debug for Mask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (w, h) = self.size();
        write!(f, "Mask({w}x{h}, {:.0}% painted)", 100.0 * self.coverage())
    }
}

impl Mask {
    /// A mask from grey levels, shrunk to at most [`MAX_MASK_SIDE`] on its long side.
    pub fn new(image: GrayImage) -> Result<Self> {
        let (w, h) = image.dimensions();
        if w == 0 || h == 0 {
            return Err(Error::invalid("a mask needs pixels"));
        }
        let image = if w.max(h) > MAX_MASK_SIDE {
            let (w, h) = crate::imageio::fit_long_side((w, h), MAX_MASK_SIDE);
            image::imageops::resize(&image, w, h, image::imageops::FilterType::Triangle)
        } else {
            image
        };
        let sum: u64 = image.pixels().map(|p| u64::from(p[0])).sum();
        let coverage = sum as f64 / (255.0 * image.len() as f64);
        Ok(Mask(Arc::new(Levels { image, coverage, encoded: OnceLock::new() })))
    }

    /// A mask of `size` painted everywhere (`on`) or nowhere.
    pub fn filled((w, h): (u32, u32), on: bool) -> Result<Self> {
        Mask::new(GrayImage::from_pixel(w, h, image::Luma([if on { 255 } else { 0 }])))
    }

    /// Reads a mask from any image file (its luminance; transparent pixels count as black).
    pub fn load(path: &Path) -> Result<Self> {
        let fail = |reason: String| Error::Image { path: path.to_path_buf(), reason };
        let picture = decode_picture(&read_image_file(path)?).map_err(fail)?;
        let mut grey = image::DynamicImage::ImageRgb8(picture.rgb).to_luma8();
        if let Some(alpha) = picture.alpha {
            for (g, a) in grey.pixels_mut().zip(alpha.pixels()) {
                g[0] = ((u16::from(g[0]) * u16::from(a[0]) + 127) / 255) as u8;
            }
        }
        Mask::new(grey)
    }

    /// Whether both are the same stored mask (not merely equal pixels): a cheap change test.
    pub fn ptr_eq(&self, other: &Mask) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// The grey levels.
    pub fn image(&self) -> &GrayImage {
        &self.0.image
    }

    /// (width, height).
    pub fn size(&self) -> (u32, u32) {
        self.0.image.dimensions()
    }

    /// The painted fraction of the picture (mean grey level, 0..=1).
    pub fn coverage(&self) -> f64 {
        self.0.coverage
    }

    /// Black everywhere: the style would apply nowhere.
    pub fn is_blank(&self) -> bool {
        self.0.coverage == 0.0
    }

    /// The grey levels in 0..=1 at exactly `size` (bilinear), row by row.
    pub fn weights_at(&self, (w, h): (u32, u32)) -> Vec<f32> {
        let img = if self.size() == (w, h) {
            self.0.image.clone()
        } else {
            image::imageops::resize(&self.0.image, w, h, image::imageops::FilterType::Triangle)
        };
        img.pixels().map(|p| f32::from(p[0]) / 255.0).collect()
    }

    /// The mask as PNG bytes (how the spec stores it).
    pub fn to_png(&self) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        self.0
            .image
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
            .map_err(|e| Error::internal(format!("encoding a mask: {e}")))?;
        Ok(bytes)
    }

    /// A mask from PNG (or any image) bytes.
    pub fn from_bytes(bytes: &[u8]) -> std::result::Result<Self, String> {
        Mask::decode(bytes).map(|(mask, _)| mask)
    }

    /// A mask from image bytes, and the size they held (larger when the mask was shrunk).
    fn decode(bytes: &[u8]) -> std::result::Result<(Self, (u32, u32)), String> {
        let picture = decode_picture(bytes)?;
        let read = picture.rgb.dimensions();
        let mask = Mask::new(image::DynamicImage::ImageRgb8(picture.rgb).to_luma8()).map_err(|e| e.to_string())?;
        Ok((mask, read))
    }
}

impl Mask {
    /// The stored form, base64 PNG: encoded at the first call, then kept (the app calls this
    /// on a task thread when a stroke ends, so that saving its settings encodes nothing).
    pub fn encoded(&self) -> Result<&str> {
        if let Some(text) = self.0.encoded.get() {
            return Ok(text);
        }
        let text = base64::engine::general_purpose::STANDARD.encode(self.to_png()?);
        // Another thread may have stored the same text meanwhile: either copy is the same.
        Ok(self.0.encoded.get_or_init(|| text))
    }
}

impl serde::Serialize for Mask {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.encoded().map_err(serde::ser::Error::custom)?)
    }
}

impl<'de> serde::Deserialize<'de> for Mask {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map_err(|e| serde::de::Error::custom(format!("a mask is not base64 PNG: {e}")))?;
        let (mask, read) =
            Mask::decode(&bytes).map_err(|e| serde::de::Error::custom(format!("a mask does not decode: {e}")))?;
        // Kept as it was stored (saving it again encodes nothing), unless it was shrunk. The
        // mask is new: its cell is empty and cannot refuse the text.
        if mask.size() == read {
            let _ = mask.0.encoded.set(text);
        }
        Ok(mask)
    }
}

/// What the picture does where no mask is painted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unpainted {
    /// Keeps the photo: only the content term applies there.
    #[default]
    Content,
    /// Takes the blend of all styles, as an unmasked render would.
    Blend,
}

/// The masks of a render, one per style image (`None`: not painted). With none painted, every
/// style applies everywhere (blended); once one is painted, each style applies where its mask is.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct StyleMasks {
    /// The mask of each style image, in the order of the styles.
    pub masks: Vec<Option<Mask>>,
    /// What happens outside every mask.
    pub unpainted: Unpainted,
}

impl StyleMasks {
    /// Whether any style has a mask (otherwise the render is unmasked).
    pub fn is_active(&self) -> bool {
        self.masks.iter().any(Option::is_some)
    }

    /// How many regions the style terms are evaluated over when masked (0: unmasked): one per
    /// painted style, and the unpainted rest when it takes the blend.
    pub fn regions(&self) -> usize {
        match self.is_active() {
            false => 0,
            true => self.masks.iter().flatten().count() + usize::from(self.unpainted == Unpainted::Blend),
        }
    }

    /// The masks whose stored form is not made yet (see [`Mask::encoded`]).
    pub fn unencoded(&self) -> Vec<Mask> {
        self.masks.iter().flatten().filter(|m| m.0.encoded.get().is_none()).cloned().collect()
    }

    /// The mask of style `k`, if painted.
    pub fn get(&self, k: usize) -> Option<&Mask> {
        self.masks.get(k).and_then(Option::as_ref)
    }

    /// Sets (or with `None` clears) the mask of style `k`.
    pub fn set(&mut self, k: usize, mask: Option<Mask>) {
        if self.masks.len() <= k {
            self.masks.resize(k + 1, None);
        }
        self.masks[k] = mask;
        while self.masks.last().is_some_and(Option::is_none) {
            self.masks.pop();
        }
    }

    /// Forgets style `k`'s mask, shifting later ones down (the style was removed).
    pub fn remove(&mut self, k: usize) {
        if k < self.masks.len() {
            self.masks.remove(k);
        }
    }

    /// Rejects masks for styles that do not exist.
    pub fn validate(&self, n_styles: usize) -> Result<()> {
        if let Some(k) = (n_styles..self.masks.len()).find(|&k| self.masks[k].is_some()) {
            return Err(Error::invalid(format!(
                "a mask for style {} but there {} {n_styles} style image{}",
                k + 1,
                if n_styles == 1 { "is" } else { "are" },
                if n_styles == 1 { "" } else { "s" }
            )));
        }
        Ok(())
    }

    /// What the artist should know before a render: masks that paint nothing, masks of another
    /// shape than the photo (`content`: its size), styles that apply nowhere.
    pub fn warnings(&self, n_styles: usize, content: (u32, u32)) -> Vec<Note> {
        if !self.is_active() {
            return Vec::new();
        }
        let aspect = |(w, h): (u32, u32)| f64::from(w) / f64::from(h);
        let mut notes = Vec::new();
        for k in 0..n_styles {
            let style = k + 1;
            match self.get(k) {
                Some(m) if m.is_blank() => notes.push(Note::MaskBlank { style }),
                Some(m) if (aspect(m.size()) / aspect(content) - 1.0).abs() > 0.01 => {
                    notes.push(Note::MaskStretched { style, mask: m.size(), photo: content })
                }
                Some(_) => {}
                None => notes.push(Note::MaskMissing { style }),
            }
        }
        notes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mask_is_encoded_once_and_serialises_as_that_encoding() {
        let m = Mask::filled((8, 6), true).unwrap();
        let first = m.encoded().unwrap().as_ptr();
        assert_eq!(m.clone().encoded().unwrap().as_ptr(), first, "its clones share the one encoding");
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, format!("\"{}\"", m.encoded().unwrap()));
        assert_eq!(serde_json::from_str::<Mask>(&json).unwrap(), m);
    }

    #[test]
    fn a_mask_read_from_settings_keeps_its_stored_text_unless_it_was_shrunk() {
        let m = Mask::filled((8, 6), true).unwrap();
        let json = serde_json::to_string(&m).unwrap();
        let back: Mask = serde_json::from_str(&json).unwrap();
        assert_eq!(back.0.encoded.get().map(String::as_str), Some(m.encoded().unwrap()));
        let big = Mask(Arc::new(Levels {
            image: GrayImage::from_pixel(MAX_MASK_SIDE + 2, 4, image::Luma([255])),
            coverage: 1.0,
            encoded: OnceLock::new(),
        }));
        let shrunk: Mask = serde_json::from_str(&serde_json::to_string(&big).unwrap()).unwrap();
        assert_eq!(shrunk.size().0, MAX_MASK_SIDE);
        assert!(shrunk.0.encoded.get().is_none(), "encoded anew, at its new size, when saved");
    }

    #[test]
    fn a_mask_survives_the_json_round_trip_bit_for_bit() {
        let img = GrayImage::from_fn(37, 21, |x, y| image::Luma([(x * 7 + y * 3) as u8]));
        let masks = StyleMasks { masks: vec![None, Some(Mask::new(img).unwrap())], unpainted: Unpainted::Blend };
        let json = serde_json::to_string(&masks).unwrap();
        let back: StyleMasks = serde_json::from_str(&json).unwrap();
        assert_eq!(back, masks);
    }

    #[test]
    fn a_mask_that_is_not_png_is_a_clear_error() {
        let err = serde_json::from_str::<StyleMasks>(r#"{"masks":["aGVsbG8="]}"#).unwrap_err().to_string();
        assert!(err.contains("a mask does not decode"), "{err}");
        let err = serde_json::from_str::<StyleMasks>(r#"{"masks":["not base64!"]}"#).unwrap_err().to_string();
        assert!(err.contains("not base64"), "{err}");
    }

    #[test]
    fn large_masks_are_kept_at_most_max_side() {
        let m = Mask::filled((5000, 100), true).unwrap();
        assert_eq!(m.size(), (MAX_MASK_SIDE, 41));
    }

    #[test]
    fn warnings_name_blank_stretched_and_missing_masks() {
        let mut masks = StyleMasks::default();
        assert!(masks.warnings(3, (400, 300)).is_empty());
        masks.set(0, Some(Mask::filled((40, 30), false).unwrap()));
        masks.set(1, Some(Mask::filled((30, 30), true).unwrap()));
        let w = masks.warnings(3, (400, 300));
        assert_eq!(
            w,
            vec![
                Note::MaskBlank { style: 1 },
                Note::MaskStretched { style: 2, mask: (30, 30), photo: (400, 300) },
                Note::MaskMissing { style: 3 },
            ]
        );
        assert!(masks.validate(3).is_ok());
        assert!(masks.validate(1).unwrap_err().to_string().contains("style 2"));
    }

    #[test]
    fn clearing_the_last_mask_makes_the_render_unmasked_again() {
        let mut masks = StyleMasks::default();
        masks.set(2, Some(Mask::filled((4, 4), true).unwrap()));
        assert_eq!(masks.masks.len(), 3);
        masks.set(2, None);
        assert!(masks.masks.is_empty() && !masks.is_active());
    }
}
