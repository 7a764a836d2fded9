//! The decoded source images of a render, with the sha256 of the files they came from, checked
//! against the hashes that stored settings recorded.

use std::path::Path;

use image::{DynamicImage, GrayImage, RgbImage};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::imageio::{attach_alpha, decode_picture, read_image_file, resize_alpha, Picture};
use crate::transfer::spec::options::Init;
use crate::transfer::spec::{ImageRef, RenderSpec};

/// Decoded source images of a render, before resizing (shared between runs by `Arc`).
#[derive(Debug, Clone)]
pub struct SourceImages {
    /// The content photo.
    pub content: RgbImage,
    /// The content photo's alpha, re-attached to the output (`None` when opaque).
    pub content_alpha: Option<GrayImage>,
    /// The style paintings.
    pub styles: Vec<RgbImage>,
    /// The content file and its hash.
    pub content_ref: ImageRef,
    /// The style files and their hashes.
    pub style_refs: Vec<ImageRef>,
    /// The picture to start from and its file, when the spec starts from one.
    pub init: Option<(RgbImage, ImageRef)>,
}

impl SourceImages {
    /// Reads and decodes every image of `spec`, hashing each file. An image whose recorded hash
    /// differs, or that is missing while a hash was recorded, is named as such.
    pub fn load(spec: &RenderSpec) -> Result<Self> {
        let content = spec.content.as_ref().ok_or_else(|| Error::invalid("no content image is chosen"))?;
        let (picture, content_ref) = load_checked(content, "content image")?;
        Self::around(picture, content_ref, spec)
    }

    /// `spec`'s style images (and start image), read and decoded, around a content picture
    /// given in memory (a clip's frame).
    pub fn around(picture: Picture, content_ref: ImageRef, spec: &RenderSpec) -> Result<Self> {
        let mut styles = Vec::with_capacity(spec.styles.len());
        let mut style_refs = Vec::with_capacity(spec.styles.len());
        for (i, style) in spec.styles.iter().enumerate() {
            let (picture, r) = load_checked(style, &format!("style image {}", i + 1))?;
            styles.push(picture.rgb);
            style_refs.push(r);
        }
        let init = match (&spec.init_image, spec.run.init) {
            (Some(image), Init::Image) => {
                let (picture, r) = load_checked(image, "start image")?;
                Some((picture.rgb, r))
            }
            _ => None,
        };
        Ok(SourceImages { content: picture.rgb, content_alpha: picture.alpha, styles, content_ref, style_refs, init })
    }

    /// These images around another content picture (the next frame of a clip), opaque.
    pub fn with_content(&self, content: RgbImage, content_ref: ImageRef) -> SourceImages {
        SourceImages { content, content_alpha: None, content_ref, ..self.clone() }
    }

    /// Whether these are the images `spec` names (same paths, and same hashes where `spec`
    /// records them).
    pub fn serve(&self, spec: &RenderSpec) -> bool {
        let same = |have: &ImageRef, want: &ImageRef| {
            have.path == want.path && want.sha256.as_ref().is_none_or(|h| have.sha256.as_ref() == Some(h))
        };
        spec.content.as_ref().is_some_and(|c| same(&self.content_ref, c))
            && spec.styles.len() == self.style_refs.len()
            && self.style_refs.iter().zip(&spec.styles).all(|(h, w)| same(h, w))
            && match (&self.init, &spec.init_image, spec.run.init) {
                (Some((_, have)), Some(want), Init::Image) => same(have, want),
                (None, _, init) => init != Init::Image,
                _ => false,
            }
    }

    /// These images with the style paintings' colours matched to the photo's (mean and
    /// covariance), for [`PreserveColors::Histogram`](super::PreserveColors::Histogram).
    pub fn with_matched_colours(&self) -> SourceImages {
        let styles =
            self.styles.iter().map(|s| crate::transfer::run::colour::match_colours(s, &self.content)).collect();
        SourceImages { styles, ..self.clone() }
    }

    /// The output as it is saved: `rgb` with the content's alpha when it has one.
    pub fn output(&self, rgb: RgbImage) -> DynamicImage {
        match &self.content_alpha {
            Some(alpha) => DynamicImage::ImageRgba8(attach_alpha(&rgb, alpha)),
            None => DynamicImage::ImageRgb8(rgb),
        }
    }

    /// The content's alpha resized (bicubic) to `size`, to re-attach to outputs of that size;
    /// `None` when the content is opaque.
    pub fn content_alpha_at(&self, (w, h): (u32, u32)) -> Option<GrayImage> {
        let alpha = self.content_alpha.as_ref()?;
        Some(if alpha.dimensions() == (w, h) { alpha.clone() } else { resize_alpha(alpha, (w, h)) })
    }
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// Checks, without decoding, that every image `spec` names is there and (where a hash is
/// recorded) unchanged. Returns one error per image at fault, in order (content first), with
/// the index of the style (`None` for the content).
pub fn check_sources(spec: &RenderSpec) -> Vec<(Option<usize>, Error)> {
    let mut faults = Vec::new();
    if let Some(content) = &spec.content {
        if let Err(e) = read_checked(content, "content image") {
            faults.push((None, e));
        }
    }
    for (i, style) in spec.styles.iter().enumerate() {
        if let Err(e) = read_checked(style, &format!("style image {}", i + 1)) {
            faults.push((Some(i), e));
        }
    }
    faults
}

/// The file's bytes and its reference with the hash filled in; refused when a recorded hash
/// differs or the file of a recorded hash is gone.
fn read_checked(image: &ImageRef, role: &str) -> Result<(Vec<u8>, ImageRef)> {
    let changed = |problem: &str| Error::SourceChanged {
        role: role.to_string(),
        path: image.path.clone(),
        problem: problem.to_string(),
    };
    if image.sha256.is_some() && !Path::new(&image.path).exists() {
        return Err(changed("is missing"));
    }
    let bytes = read_image_file(&image.path)?;
    let digest = sha256_hex(&bytes);
    if image.sha256.as_ref().is_some_and(|h| !h.eq_ignore_ascii_case(&digest)) {
        return Err(changed("has changed since the settings were saved (its sha256 differs)"));
    }
    Ok((bytes, ImageRef { path: image.path.clone(), sha256: Some(digest) }))
}

fn load_checked(image: &ImageRef, role: &str) -> Result<(Picture, ImageRef)> {
    let (bytes, r) = read_checked(image, role)?;
    let picture = decode_picture(&bytes).map_err(|reason| Error::Image { path: image.path.clone(), reason })?;
    Ok((picture, r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_hashes_catch_missing_and_changed_images() {
        let dir = tempfile::tempdir().unwrap();
        let content = dir.path().join("c.png");
        let style = dir.path().join("s.png");
        image::RgbImage::from_pixel(40, 30, image::Rgb([10, 20, 30])).save(&content).unwrap();
        image::RgbImage::from_pixel(40, 30, image::Rgb([200, 20, 30])).save(&style).unwrap();
        let spec = RenderSpec::new(&content, std::slice::from_ref(&style));
        let loaded = SourceImages::load(&spec).unwrap();
        assert_eq!(loaded.content_ref.sha256.as_deref(), Some(sha256_hex(&std::fs::read(&content).unwrap()).as_str()));
        let recorded =
            RenderSpec { content: Some(loaded.content_ref.clone()), styles: loaded.style_refs.clone(), ..spec.clone() };
        assert!(check_sources(&recorded).is_empty());
        assert!(loaded.serve(&recorded) && loaded.serve(&spec));

        image::RgbImage::from_pixel(40, 30, image::Rgb([0, 0, 0])).save(&style).unwrap();
        std::fs::remove_file(&content).unwrap();
        let faults = check_sources(&recorded);
        assert_eq!(faults.len(), 2);
        assert_eq!(faults[0].0, None);
        assert!(faults[0].1.to_string().contains("content image") && faults[0].1.to_string().contains("is missing"));
        assert_eq!(faults[1].0, Some(0));
        assert!(faults[1].1.to_string().contains("style image 1") && faults[1].1.to_string().contains("changed"));
        assert!(SourceImages::load(&recorded).is_err());
    }
}
