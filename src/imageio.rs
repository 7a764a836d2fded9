//! Reading, resizing, normalising and writing images.

use std::borrow::Cow;
use std::io::{BufWriter, Cursor, Write};
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use image::imageops::FilterType;
use image::{DynamicImage, GrayImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage, RgbaImage};

use crate::error::{Error, Result};

/// ImageNet channel means (RGB), the normalisation of torchvision VGG.
pub const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet channel standard deviations (RGB).
pub const STD: [f32; 3] = [0.229, 0.224, 0.225];
/// Largest accepted input side; larger files are refused before their pixels are allocated.
pub const MAX_INPUT_SIDE: u32 = 16_384;
/// Largest accepted image file.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// A decoded picture: its colour, and its alpha when the file has a channel that is not opaque
/// everywhere (the optimisation runs on colour; the alpha is re-attached to the output).
#[derive(Debug, Clone, PartialEq)]
pub struct Picture {
    /// 8-bit RGB colour.
    pub rgb: RgbImage,
    /// 8-bit alpha, at the same size as `rgb`; `None` for opaque images.
    pub alpha: Option<GrayImage>,
}

/// Decodes any supported format (JPEG, PNG, WebP, GIF, BMP, TIFF; the first frame of an
/// animation), applies the EXIF orientation and converts grey, CMYK and 16-bit images to 8-bit
/// RGB, keeping any alpha. Files claiming sides over [`MAX_INPUT_SIDE`] are refused before their
/// pixels are allocated.
pub fn load_picture(path: &Path) -> Result<Picture> {
    let bytes = read_image_file(path)?;
    decode_picture(&bytes).map_err(|reason| Error::Image { path: path.to_path_buf(), reason })
}

/// The bytes of an image file, after checking it is a file of a sane size (see
/// [`MAX_FILE_BYTES`]).
pub fn read_image_file(path: &Path) -> Result<Vec<u8>> {
    let fail = |reason: String| Error::Image { path: path.to_path_buf(), reason };
    if path.is_dir() {
        return Err(fail("it is a folder, not an image file".into()));
    }
    let len = std::fs::metadata(path).map_err(|e| fail(e.to_string()))?.len();
    if len > MAX_FILE_BYTES {
        return Err(fail(format!("the file is {} MiB; the limit is {} MiB", len >> 20, MAX_FILE_BYTES >> 20)));
    }
    std::fs::read(path).map_err(|e| fail(e.to_string()))
}

/// [`load_picture`] for bytes already in memory; the error is the reason alone.
pub fn decode_picture(bytes: &[u8]) -> std::result::Result<Picture, String> {
    if bytes.is_empty() {
        return Err("the file is empty".into());
    }
    let mut reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|e| e.to_string())?;
    let Some(format) = reader.format() else {
        return Err("not a recognised image format".into());
    };
    // The JPEG decoder fills missing data with grey instead of failing; a cut-off download
    // would silently become half a photo.
    if format == ImageFormat::Jpeg && !jpeg_is_complete(bytes) {
        return Err("the JPEG data is truncated (no end-of-image marker)".into());
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_INPUT_SIDE);
    limits.max_image_height = Some(MAX_INPUT_SIDE);
    limits.max_alloc = Some(2 << 30);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| e.to_string())?;
    let orientation = decoder.orientation().map_err(|e| e.to_string())?;
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| e.to_string())?;
    img.apply_orientation(orientation);
    if img.width() == 0 || img.height() == 0 {
        return Err("the image has no pixels".into());
    }
    let alpha = img.color().has_alpha().then(|| alpha_of(&img)).flatten();
    Ok(Picture { rgb: img.to_rgb8(), alpha })
}

/// Decodes only the colour of an image, see [`load_picture`].
pub fn load_rgb(path: &Path) -> Result<RgbImage> {
    Ok(load_picture(path)?.rgb)
}

/// Whether an end-of-image marker follows the first scan. Entropy-coded data cannot contain
/// `FF D9` (a data `FF` is stuffed as `FF 00`), so a file cut inside its scan has none.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let Some(sos) = bytes.windows(2).position(|w| w == [0xFF, 0xDA]) else { return false };
    bytes[sos..].windows(2).any(|w| w == [0xFF, 0xD9])
}

/// The alpha channel at 8 bits, or `None` when every pixel is opaque.
fn alpha_of(img: &DynamicImage) -> Option<GrayImage> {
    let rgba = img.to_rgba8();
    let alpha = GrayImage::from_fn(rgba.width(), rgba.height(), |x, y| image::Luma([rgba.get_pixel(x, y)[3]]));
    alpha.pixels().any(|p| p[0] != 255).then_some(alpha)
}

/// `rgb` with `alpha` (resized to fit, bicubic) as its fourth channel.
pub fn attach_alpha(rgb: &RgbImage, alpha: &GrayImage) -> RgbaImage {
    let alpha = if alpha.dimensions() == rgb.dimensions() {
        Cow::Borrowed(alpha)
    } else {
        Cow::Owned(resize_alpha(alpha, rgb.dimensions()))
    };
    RgbaImage::from_fn(rgb.width(), rgb.height(), |x, y| {
        let [r, g, b] = rgb.get_pixel(x, y).0;
        image::Rgba([r, g, b, alpha.get_pixel(x, y)[0]])
    })
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

/// Fine detail per pixel: the mean absolute 4-neighbour Laplacian of the luma (Rec. 601, in
/// 0..1) over the interior pixels. A bicubic 2x upscale of a picture scores about a third of a
/// picture with detail at every pixel; 0 for images under 3 px on a side.
pub fn detail(img: &RgbImage) -> f64 {
    let (w, h) = img.dimensions();
    if w < 3 || h < 3 {
        return 0.0;
    }
    let luma = |x: u32, y: u32| {
        let [r, g, b] = img.get_pixel(x, y).0;
        (0.299 * f64::from(r) + 0.587 * f64::from(g) + 0.114 * f64::from(b)) / 255.0
    };
    let mut sum = 0.0;
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let lap = luma(x - 1, y) + luma(x + 1, y) + luma(x, y - 1) + luma(x, y + 1) - 4.0 * luma(x, y);
            sum += lap.abs();
        }
    }
    sum / f64::from((w - 2) * (h - 2))
}

/// How well `a` keeps the edges of `b`: the correlation (Pearson, -1..1) of their luma's Sobel
/// gradient magnitudes over the interior pixels, `b` resized to `a`'s size first. 1 for the
/// same picture or any brightening of it; near 0 for unrelated pictures; 0 under 3 px a side.
pub fn edge_correlation(a: &RgbImage, b: &RgbImage) -> f64 {
    let (w, h) = a.dimensions();
    if w < 3 || h < 3 {
        return 0.0;
    }
    let b = if b.dimensions() == (w, h) { b.clone() } else { resize(b, (w, h)) };
    let magnitudes = |img: &RgbImage| {
        let luma = |x: u32, y: u32| {
            let [r, g, b] = img.get_pixel(x, y).0;
            0.299 * f64::from(r) + 0.587 * f64::from(g) + 0.114 * f64::from(b)
        };
        let mut out = Vec::with_capacity(((w - 2) * (h - 2)) as usize);
        for y in 1..h - 1 {
            for x in 1..w - 1 {
                let gx = luma(x + 1, y - 1) + 2.0 * luma(x + 1, y) + luma(x + 1, y + 1)
                    - luma(x - 1, y - 1)
                    - 2.0 * luma(x - 1, y)
                    - luma(x - 1, y + 1);
                let gy = luma(x - 1, y + 1) + 2.0 * luma(x, y + 1) + luma(x + 1, y + 1)
                    - luma(x - 1, y - 1)
                    - 2.0 * luma(x, y - 1)
                    - luma(x + 1, y - 1);
                out.push(gx.hypot(gy));
            }
        }
        out
    };
    let (ea, eb) = (magnitudes(a), magnitudes(&b));
    let n = ea.len() as f64;
    let (ma, mb) = (ea.iter().sum::<f64>() / n, eb.iter().sum::<f64>() / n);
    let (mut cov, mut va, mut vb) = (0.0, 0.0, 0.0);
    for (x, y) in ea.iter().zip(&eb) {
        cov += (x - ma) * (y - mb);
        va += (x - ma).powi(2);
        vb += (y - mb).powi(2);
    }
    if va == 0.0 || vb == 0.0 {
        return 0.0;
    }
    cov / (va * vb).sqrt()
}

/// Bicubic (Catmull-Rom) resize of an alpha channel to exactly `size`.
pub fn resize_alpha(alpha: &GrayImage, (w, h): (u32, u32)) -> GrayImage {
    image::imageops::resize(alpha, w, h, FilterType::CatmullRom)
}

/// RGB8 image to a normalised (1, 3, H, W) f32 tensor.
pub fn to_tensor(img: &RgbImage, device: &Device) -> Result<Tensor> {
    planes_of(img, device, (MEAN, STD))
}

/// Normalised (1, 3, H, W) tensor to RGB8: `clamp(x*std + mean, 0, 1)`, rounded.
pub fn from_tensor(x: &Tensor) -> Result<RgbImage> {
    image_of(x, (MEAN, STD))
}

/// RGB8 image to a (1, 3, H, W) f32 tensor in 0..1 (the instant networks' input).
pub fn to_unit_tensor(img: &RgbImage, device: &Device) -> Result<Tensor> {
    planes_of(img, device, ([0.0; 3], [1.0; 3]))
}

/// (1, 3, H, W) tensor in 0..1 to RGB8, clamped and rounded.
pub fn from_unit_tensor(x: &Tensor) -> Result<RgbImage> {
    image_of(x, ([0.0; 3], [1.0; 3]))
}

/// Per-channel (mean, standard deviation) of a tensor's values over 0..1 pixel values.
type Scaling = ([f32; 3], [f32; 3]);

/// `(pixel / 255 - mean) / std`, as planes (1, 3, h, w).
fn planes_of(img: &RgbImage, device: &Device, (mean, std): Scaling) -> Result<Tensor> {
    let (w, h) = img.dimensions();
    let (w, h) = (w as usize, h as usize);
    let mut data = vec![0f32; 3 * w * h];
    for (i, px) in img.pixels().enumerate() {
        for c in 0..3 {
            data[c * w * h + i] = (f32::from(px[c]) / 255.0 - mean[c]) / std[c];
        }
    }
    Ok(Tensor::from_vec(data, (1, 3, h, w), device)?)
}

/// `clamp(x * std + mean, 0, 1) * 255`, rounded, from planes (1, 3, h, w).
fn image_of(x: &Tensor, (mean, std): Scaling) -> Result<RgbImage> {
    let (_, c, h, w) = x.dims4()?;
    if c != 3 {
        return Err(Error::internal(format!("expected 3 channels, got {c}")));
    }
    let planes: Vec<f32> = x.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
    let mut img = RgbImage::new(w as u32, h as u32);
    for (i, px) in img.pixels_mut().enumerate() {
        for ch in 0..3 {
            let v = planes[ch * w * h + i] * std[ch] + mean[ch];
            px[ch] = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        }
    }
    Ok(img)
}

/// Writes a PNG with `text` as iTXt chunks, atomically: the data goes to a temporary file in the
/// same folder, is flushed to disk, then renamed over `path`. On failure no partial file is left
/// behind and an existing file at `path` is untouched. RGBA images that are opaque everywhere are
/// written as RGB; other pixel types as RGBA.
pub fn save_png(img: &DynamicImage, path: &Path, text: &[(String, String)]) -> Result<()> {
    let fail = |reason: String| Error::Save { path: path.to_path_buf(), reason };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| fail("no file name".into()))?;
    let tmp = dir.join(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
    let result = write_png(img, &tmp, text).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = result {
        // The write's error is the one reported; a leftover temporary is harmless.
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(e.to_string()));
    }
    Ok(())
}

fn write_png(img: &DynamicImage, path: &Path, text: &[(String, String)]) -> std::io::Result<()> {
    let opaque = |rgba: &RgbaImage| rgba.pixels().all(|p| p[3] == 255);
    let (color, data): (_, Cow<[u8]>) = match img {
        DynamicImage::ImageRgb8(rgb) => (png::ColorType::Rgb, Cow::Borrowed(rgb.as_raw())),
        DynamicImage::ImageRgba8(rgba) if opaque(rgba) => (png::ColorType::Rgb, img.to_rgb8().into_raw().into()),
        DynamicImage::ImageRgba8(rgba) => (png::ColorType::Rgba, Cow::Borrowed(rgba.as_raw())),
        other => (png::ColorType::Rgba, other.to_rgba8().into_raw().into()),
    };
    let file = std::fs::File::create(path)?;
    let mut out = BufWriter::new(&file);
    let mut enc = png::Encoder::new(&mut out, img.width(), img.height());
    enc.set_color(color);
    enc.set_depth(png::BitDepth::Eight);
    for (k, v) in text {
        enc.add_itxt_chunk(k.clone(), v.clone()).map_err(std::io::Error::other)?;
    }
    let mut writer = enc.write_header().map_err(std::io::Error::other)?;
    writer.write_image_data(&data).map_err(std::io::Error::other)?;
    writer.finish().map_err(std::io::Error::other)?;
    out.flush()?;
    drop(out);
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_correlate_with_a_recoloured_copy_and_not_with_another_picture() {
        let disc = |x: u32, y: u32| (x as i32 - 20).pow(2) + (y as i32 - 15).pow(2) < 100;
        let photo = RgbImage::from_fn(48, 32, |x, y| {
            let v = if disc(x, y) { 200 } else { 40 } + ((x * 7 + y * 3) % 11) as u8;
            image::Rgb([v, v / 2, 255 - v])
        });
        // A global recolouring keeps every edge where it was.
        let warm = RgbImage::from_fn(48, 32, |x, y| {
            let [r, g, b] = photo.get_pixel(x, y).0;
            image::Rgb([r.saturating_add(40), g, b / 2])
        });
        let stripes = RgbImage::from_fn(48, 32, |x, _| image::Rgb([if x % 6 < 3 { 250 } else { 0 }; 3]));
        assert!((edge_correlation(&photo, &photo) - 1.0).abs() < 1e-9);
        assert!(edge_correlation(&warm, &photo) > 0.9, "{}", edge_correlation(&warm, &photo));
        assert!(edge_correlation(&stripes, &photo).abs() < 0.3, "{}", edge_correlation(&stripes, &photo));
    }

    #[test]
    fn tensor_round_trip_is_lossless_for_rgb8() {
        let img = RgbImage::from_fn(7, 5, |x, y| image::Rgb([(x * 30) as u8, (y * 50) as u8, 200]));
        let t = to_tensor(&img, &Device::Cpu).unwrap();
        assert_eq!(t.dims(), &[1, 3, 5, 7]);
        assert_eq!(from_tensor(&t).unwrap(), img);
    }

    #[test]
    fn alpha_survives_decode_and_is_reattached_after_resize() {
        let rgba = RgbaImage::from_fn(8, 6, |x, _| image::Rgba([10, 20, 30, (x * 30) as u8]));
        let mut png = Vec::new();
        DynamicImage::ImageRgba8(rgba.clone()).write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
        let pic = decode_picture(&png).unwrap();
        let alpha = pic.alpha.expect("alpha kept");
        assert_eq!(alpha.get_pixel(3, 2)[0], 90);
        let out = attach_alpha(&resize(&pic.rgb, (16, 12)), &alpha);
        assert_eq!(out.dimensions(), (16, 12));
        assert!(out.get_pixel(0, 0)[3] < 20 && out.get_pixel(15, 11)[3] > 190);
    }

    #[test]
    fn opaque_alpha_is_dropped() {
        let rgba = RgbaImage::from_pixel(4, 4, image::Rgba([1, 2, 3, 255]));
        let mut png = Vec::new();
        DynamicImage::ImageRgba8(rgba).write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
        assert_eq!(decode_picture(&png).unwrap().alpha, None);
    }

    #[test]
    fn empty_bytes_are_named_as_empty() {
        assert_eq!(decode_picture(&[]).unwrap_err(), "the file is empty");
        assert_eq!(decode_picture(b"hello, world").unwrap_err(), "not a recognised image format");
    }

    #[test]
    fn detail_is_zero_on_flat_images_and_drops_when_a_picture_is_upscaled() {
        assert_eq!(detail(&RgbImage::from_pixel(9, 7, image::Rgb([90, 40, 200]))), 0.0);
        // A one-pixel checkerboard: every Laplacian is 4 steps of the full range.
        let board = RgbImage::from_fn(8, 8, |x, y| image::Rgb([255 * ((x + y) % 2) as u8; 3]));
        assert!((detail(&board) - 4.0).abs() < 1e-9);
        let noise = RgbImage::from_fn(64, 64, |x, y| image::Rgb([((x * 7919 + y * 104_729) % 251) as u8; 3]));
        let up = resize(&noise, (128, 128));
        assert!(detail(&up) < 0.5 * detail(&noise), "{} vs {}", detail(&up), detail(&noise));
    }

    #[test]
    fn fit_long_side_keeps_aspect() {
        assert_eq!(fit_long_side((1024, 768), 512), (512, 384));
        assert_eq!(fit_long_side((300, 900), 512), (171, 512));
        assert_eq!(fit_long_side((5000, 2), 512), (512, 1));
    }
}
