//! Reading, resizing, normalising and writing images.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageReader, Limits, RgbImage};

use crate::error::{Error, Result};

/// ImageNet channel means (RGB), the normalisation of torchvision VGG.
pub const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet channel standard deviations (RGB).
pub const STD: [f32; 3] = [0.229, 0.224, 0.225];
/// Largest accepted input side; larger files are refused before their pixels are allocated.
pub const MAX_INPUT_SIDE: u32 = 16_384;

/// Decodes any supported format (JPEG, PNG, WebP, GIF, BMP, TIFF), applies the EXIF orientation
/// and converts grey, alpha and 16-bit images to 8-bit RGB.
pub fn load_rgb(path: &Path) -> Result<RgbImage> {
    let fail = |reason: String| Error::Image { path: path.to_path_buf(), reason };
    if path.is_dir() {
        return Err(fail("it is a folder, not an image file".into()));
    }
    let reader = ImageReader::open(path).map_err(|e| fail(e.to_string()))?;
    let mut reader = reader.with_guessed_format().map_err(|e| fail(e.to_string()))?;
    if reader.format().is_none() {
        return Err(fail("not a recognised image format".into()));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_INPUT_SIDE);
    limits.max_image_height = Some(MAX_INPUT_SIDE);
    limits.max_alloc = Some(2 << 30);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| fail(e.to_string()))?;
    let orientation = decoder.orientation().map_err(|e| fail(e.to_string()))?;
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| fail(e.to_string()))?;
    img.apply_orientation(orientation);
    if img.width() == 0 || img.height() == 0 {
        return Err(fail("the image is empty".into()));
    }
    Ok(img.to_rgb8())
}

/// Output size with the long side equal to `long_side`, keeping the aspect ratio (each side >= 1).
pub fn fit_long_side((w, h): (u32, u32), long_side: u32) -> (u32, u32) {
    let scale = f64::from(long_side) / f64::from(w.max(h));
    let side = |v: u32| ((f64::from(v) * scale).round() as u32).max(1);
    (side(w), side(h))
}

/// Bicubic (Catmull-Rom) resize to exactly `size`; a no-op copy when already that size.
pub fn resize(img: &RgbImage, (w, h): (u32, u32)) -> RgbImage {
    if img.dimensions() == (w, h) {
        return img.clone();
    }
    image::imageops::resize(img, w, h, FilterType::CatmullRom)
}

/// RGB8 image to a normalised (1, 3, H, W) f32 tensor.
pub fn to_tensor(img: &RgbImage, device: &Device) -> Result<Tensor> {
    let (w, h) = img.dimensions();
    let (w, h) = (w as usize, h as usize);
    let mut data = vec![0f32; 3 * w * h];
    for (i, px) in img.pixels().enumerate() {
        for c in 0..3 {
            data[c * w * h + i] = (f32::from(px[c]) / 255.0 - MEAN[c]) / STD[c];
        }
    }
    Ok(Tensor::from_vec(data, (1, 3, h, w), device)?)
}

/// Normalised (1, 3, H, W) tensor to RGB8: `clamp(x*std + mean, 0, 1)`, rounded.
pub fn from_tensor(x: &Tensor) -> Result<RgbImage> {
    let (_, c, h, w) = x.dims4()?;
    if c != 3 {
        return Err(Error::setting(format!("expected 3 channels, got {c}")));
    }
    let planes: Vec<f32> = x.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
    let mut img = RgbImage::new(w as u32, h as u32);
    for (i, px) in img.pixels_mut().enumerate() {
        for ch in 0..3 {
            let v = planes[ch * w * h + i] * STD[ch] + MEAN[ch];
            px[ch] = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        }
    }
    Ok(img)
}

/// Writes an RGB PNG with `text` as tEXt/iTXt chunks, atomically: the data goes to a temporary
/// file in the same folder, is flushed to disk, then renamed over `path`. On failure no partial
/// file is left behind.
pub fn save_png(img: &RgbImage, path: &Path, text: &[(String, String)]) -> Result<()> {
    let fail = |reason: String| Error::Save { path: path.to_path_buf(), reason };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| fail("no file name".into()))?;
    let tmp = dir.join(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
    let result = write_png(img, &tmp, text).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(e.to_string()));
    }
    Ok(())
}

fn write_png(img: &RgbImage, path: &Path, text: &[(String, String)]) -> std::io::Result<()> {
    let file = std::fs::File::create(path)?;
    let mut out = BufWriter::new(&file);
    let mut enc = png::Encoder::new(&mut out, img.width(), img.height());
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    for (k, v) in text {
        enc.add_itxt_chunk(k.clone(), v.clone()).map_err(std::io::Error::other)?;
    }
    let mut writer = enc.write_header().map_err(std::io::Error::other)?;
    writer.write_image_data(img.as_raw()).map_err(std::io::Error::other)?;
    writer.finish().map_err(std::io::Error::other)?;
    out.flush()?;
    drop(out);
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensor_round_trip_is_lossless_for_rgb8() {
        let img = RgbImage::from_fn(7, 5, |x, y| image::Rgb([(x * 30) as u8, (y * 50) as u8, 200]));
        let t = to_tensor(&img, &Device::Cpu).unwrap();
        assert_eq!(t.dims(), &[1, 3, 5, 7]);
        assert_eq!(from_tensor(&t).unwrap(), img);
    }

    #[test]
    fn fit_long_side_keeps_aspect() {
        assert_eq!(fit_long_side((1024, 768), 512), (512, 384));
        assert_eq!(fit_long_side((300, 900), 512), (171, 512));
        assert_eq!(fit_long_side((5000, 2), 512), (512, 1));
    }
}
