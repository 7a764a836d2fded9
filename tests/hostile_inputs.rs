//! Every kind of file an artist may throw at the engine, generated here: broken ones are refused
//! with a one-line error and exit code 1 (and nothing written), odd but valid ones render, keeping
//! alpha, orientation and the first frame of animations.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Output;

use candle_core::Device;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage, RgbaImage};
use neural_style_studio::imageio::load_picture;
use neural_style_studio::model::{load_file, Tap, EMBEDDED_VGG16};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};

/// What a case must do.
enum Expect {
    /// Decoding fails; the CLI's one-line error contains this.
    Refused(&'static str),
    /// Decodes to this size, with or without alpha; `pixel` is an (x, y) and the colour it must
    /// have (within 24 per channel); the CLI renders it.
    Loads { dims: (u32, u32), alpha: bool, pixel: Option<((u32, u32), [u8; 3])> },
    /// Decodes, but the render is refused with a message containing this.
    RenderRefused(&'static str),
}

struct Case {
    file: &'static str,
    make: fn(&Path),
    expect: Expect,
}

fn encode(img: DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Vec::new();
    img.write_to(&mut Cursor::new(&mut bytes), format).unwrap();
    bytes
}

fn photo() -> DynamicImage {
    DynamicImage::ImageRgb8(common::content_image(64, 48))
}

fn half_of(bytes: Vec<u8>) -> Vec<u8> {
    bytes[..bytes.len() / 2].to_vec()
}

/// A 1x1 PNG whose IHDR is rewritten to claim 100000x100000 pixels (with a valid CRC).
fn huge_png_header() -> Vec<u8> {
    let mut png = encode(DynamicImage::ImageRgb8(RgbImage::new(1, 1)), ImageFormat::Png);
    png[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    png[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let crc = crc32fast::hash(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

/// A landscape JPEG with an EXIF APP1 segment saying "rotate 90 degrees clockwise" (6).
fn exif_rotated_jpeg() -> Vec<u8> {
    let img = RgbImage::from_fn(60, 30, |x, _| if x < 30 { Rgb([220, 30, 30]) } else { Rgb([30, 30, 220]) });
    let jpeg = encode(DynamicImage::ImageRgb8(img), ImageFormat::Jpeg);
    // TIFF header (big endian), one IFD entry: Orientation (0x0112), SHORT, count 1, value 6.
    let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x06\0\0\0\0\0\0".to_vec();
    let len = (exif.len() + 2) as u16;
    let mut segment = vec![0xff, 0xe1];
    segment.extend_from_slice(&len.to_be_bytes());
    segment.append(&mut exif);
    let mut out = jpeg[..2].to_vec();
    out.extend(segment);
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn cmyk_jpeg() -> Vec<u8> {
    // Left half pure cyan, right half pure yellow (C, M, Y, K).
    let (w, h) = (32u16, 16u16);
    let data: Vec<u8> =
        (0..h).flat_map(|_| (0..w).flat_map(|x| if x < w / 2 { [255, 0, 0, 0] } else { [0, 0, 255, 0] })).collect();
    let mut bytes = Vec::new();
    jpeg_encoder::Encoder::new(&mut bytes, 95).encode(&data, w, h, jpeg_encoder::ColorType::Cmyk).unwrap();
    bytes
}

fn animated_gif() -> Vec<u8> {
    let mut bytes = Vec::new();
    {
        let mut enc = image::codecs::gif::GifEncoder::new(&mut bytes);
        for colour in [[200, 20, 20, 255], [20, 20, 200, 255]] {
            let frame = image::Frame::new(RgbaImage::from_pixel(40, 30, image::Rgba(colour)));
            enc.encode_frame(frame).unwrap();
        }
    }
    bytes
}

/// An animated WebP of two lossless frames (red, then blue), assembled chunk by chunk.
fn animated_webp() -> Vec<u8> {
    let (w, h) = (40u32, 30u32);
    let vp8l = |colour: [u8; 3]| {
        let data: Vec<u8> = (0..w * h).flat_map(|_| colour).collect();
        let mut still = Vec::new();
        image_webp::WebPEncoder::new(&mut still).encode(&data, w, h, image_webp::ColorType::Rgb8).unwrap();
        assert_eq!(&still[12..16], b"VP8L");
        still[12..].to_vec() // the VP8L chunk, header included
    };
    let u24 = |v: u32| v.to_le_bytes()[..3].to_vec();
    let chunk = |tag: &[u8], body: Vec<u8>| {
        let mut c = tag.to_vec();
        c.extend_from_slice(&(body.len() as u32).to_le_bytes());
        c.extend_from_slice(&body);
        if body.len() % 2 == 1 {
            c.push(0);
        }
        c
    };
    let mut body = b"WEBP".to_vec();
    body.extend(chunk(b"VP8X", [vec![0x02, 0, 0, 0], u24(w - 1), u24(h - 1)].concat()));
    body.extend(chunk(b"ANIM", vec![0, 0, 0, 0, 0, 0]));
    for colour in [[200, 20, 20], [20, 20, 200]] {
        let frame = [u24(0), u24(0), u24(w - 1), u24(h - 1), u24(100), vec![0], vp8l(colour)].concat();
        body.extend(chunk(b"ANMF", frame));
    }
    chunk(b"RIFF", body)
}

fn write(path: &Path, bytes: Vec<u8>) {
    std::fs::write(path, bytes).unwrap();
}

fn cases() -> Vec<Case> {
    use Expect::*;
    vec![
        Case { file: "empty.png", make: |p| write(p, vec![]), expect: Refused("the file is empty") },
        Case {
            file: "notes.jpg",
            make: |p| write(p, b"shopping list: eggs".to_vec()),
            expect: Refused("not a recognised image"),
        },
        Case { file: "notes.txt", make: |p| write(p, b"hello".to_vec()), expect: Refused("not a recognised image") },
        Case {
            file: "truncated.jpg",
            make: |p| write(p, half_of(encode(photo(), ImageFormat::Jpeg))),
            expect: Refused("truncated"),
        },
        Case {
            file: "truncated.png",
            make: |p| write(p, half_of(encode(photo(), ImageFormat::Png))),
            expect: Refused("cannot read image"),
        },
        Case {
            file: "random.jpg",
            make: |p| {
                let mut state = 0x2545_f491_u32;
                let bytes = (0..4096)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 17;
                        state ^= state << 5;
                        state as u8
                    })
                    .collect();
                write(p, bytes)
            },
            expect: Refused("not a recognised image"),
        },
        Case { file: "huge.png", make: |p| write(p, huge_png_header()), expect: Refused("limit") },
        Case { file: "folder.png", make: |p| std::fs::create_dir(p).unwrap(), expect: Refused("it is a folder") },
        Case { file: "missing.png", make: |_| {}, expect: Refused("No such file") },
        Case {
            file: "cmyk.jpg",
            make: |p| write(p, cmyk_jpeg()),
            expect: Loads { dims: (32, 16), alpha: false, pixel: Some(((4, 8), [0, 255, 255])) },
        },
        Case {
            file: "deep.png",
            make: |p| {
                let img = image::ImageBuffer::from_fn(30, 20, |x, _| Rgb([(x as u16) * 2000, 0xffff, 0]));
                write(p, encode(DynamicImage::ImageRgb16(img), ImageFormat::Png))
            },
            expect: Loads { dims: (30, 20), alpha: false, pixel: Some(((0, 0), [0, 255, 0])) },
        },
        Case {
            file: "grey.jpg",
            make: |p| write(p, encode(DynamicImage::ImageLuma8(photo().to_luma8()), ImageFormat::Jpeg)),
            expect: Loads { dims: (64, 48), alpha: false, pixel: None },
        },
        Case {
            file: "grey_alpha.png",
            make: |p| {
                let img = image::ImageBuffer::from_fn(40, 40, |x, _| image::LumaA([128u8, (x * 6) as u8]));
                write(p, encode(DynamicImage::ImageLumaA8(img), ImageFormat::Png))
            },
            expect: Loads { dims: (40, 40), alpha: true, pixel: Some(((5, 5), [128, 128, 128])) },
        },
        Case {
            file: "cutout.png",
            make: |p| {
                let rgb = common::content_image(64, 48);
                let img = RgbaImage::from_fn(64, 48, |x, y| {
                    let [r, g, b] = rgb.get_pixel(x, y).0;
                    image::Rgba([r, g, b, if x < 32 { 255 } else { 0 }])
                });
                write(p, encode(DynamicImage::ImageRgba8(img), ImageFormat::Png))
            },
            expect: Loads { dims: (64, 48), alpha: true, pixel: None },
        },
        Case {
            file: "animated.gif",
            make: |p| write(p, animated_gif()),
            expect: Loads { dims: (40, 30), alpha: false, pixel: Some(((20, 15), [200, 20, 20])) },
        },
        Case {
            file: "animated.webp",
            make: |p| write(p, animated_webp()),
            expect: Loads { dims: (40, 30), alpha: false, pixel: Some(((20, 15), [200, 20, 20])) },
        },
        Case {
            file: "rotated.jpg",
            make: |p| write(p, exif_rotated_jpeg()),
            // Rotated clockwise: the red left half is now on top.
            expect: Loads { dims: (30, 60), alpha: false, pixel: Some(((15, 10), [220, 30, 30])) },
        },
        Case {
            file: "Tübingen café 画.png",
            make: |p| write(p, encode(photo(), ImageFormat::Png)),
            expect: Loads { dims: (64, 48), alpha: false, pixel: None },
        },
        Case {
            file: "dot.png",
            make: |p| {
                write(
                    p,
                    encode(DynamicImage::ImageRgb8(RgbImage::from_pixel(1, 1, Rgb([9, 99, 199]))), ImageFormat::Png),
                )
            },
            expect: Loads { dims: (1, 1), alpha: false, pixel: Some(((0, 0), [9, 99, 199])) },
        },
        Case {
            file: "sliver.png",
            make: |p| write(p, encode(DynamicImage::ImageRgb8(common::content_image(3000, 4)), ImageFormat::Png)),
            expect: RenderRefused("short side would be 1 px"),
        },
    ]
}

fn render(content: &Path, style: &Path, out: &Path) -> Output {
    common::binary()
        .args(["render", "--size", "64", "--iters", "2", "--content"])
        .arg(content)
        .arg("--style")
        .arg(style)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

fn assert_refused(o: &Output, out: &Path, what: &str, needle: &str) {
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{what}: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let last = lines.last().copied().unwrap_or_default();
    assert!(last.starts_with("error: ") && last.contains(needle), "{what}: {stderr}");
    assert!(!out.exists(), "{what}: an output was written");
}

#[test]
fn every_hostile_or_odd_image_is_refused_clearly_or_rendered_right() {
    let dir = tempfile::tempdir().unwrap();
    let (_, style) = common::write_pair(dir.path(), 64, 48);
    for case in cases() {
        let path = dir.path().join(case.file);
        (case.make)(&path);
        let out: PathBuf = dir.path().join(format!("out-{}.png", case.file.replace(['.', ' '], "_")));
        let decoded = load_picture(&path);
        match case.expect {
            Expect::Refused(needle) => {
                let Err(msg) = decoded.map_err(|e| e.to_string()) else { panic!("{} decoded", case.file) };
                assert!(msg.contains(needle) && msg.contains(case.file), "{}: {msg}", case.file);
                assert!(!msg.contains('\n'), "{}: multi-line message {msg}", case.file);
                assert_refused(&render(&path, &style, &out), &out, case.file, needle);
                // The same file as a style image is refused the same way.
                assert_refused(&render(&style, &path, &out), &out, case.file, needle);
            }
            Expect::RenderRefused(needle) => {
                assert!(decoded.is_ok(), "{}", case.file);
                assert_refused(&render(&path, &style, &out), &out, case.file, needle);
            }
            Expect::Loads { dims, alpha, pixel } => {
                let pic = decoded.unwrap_or_else(|e| panic!("{}: {e}", case.file));
                assert_eq!(pic.rgb.dimensions(), dims, "{}", case.file);
                assert_eq!(pic.alpha.is_some(), alpha, "{}", case.file);
                if let Some(((x, y), want)) = pixel {
                    let got = pic.rgb.get_pixel(x, y).0;
                    let close = got.iter().zip(want).all(|(g, w)| g.abs_diff(w) <= 24);
                    assert!(close, "{}: pixel ({x},{y}) is {got:?}, expected {want:?}", case.file);
                }
                let o = render(&path, &style, &out);
                assert!(o.status.success(), "{}: {}", case.file, String::from_utf8_lossy(&o.stderr));
                let img = image::open(&out).unwrap();
                let (w, h) = neural_style_studio::imageio::fit_long_side(dims, 64);
                assert_eq!((img.width(), img.height()), (w, h), "{}", case.file);
                assert_eq!(img.color().has_alpha(), alpha, "{}: output alpha", case.file);
                if case.file == "cutout.png" {
                    let rgba = img.to_rgba8();
                    assert_eq!(rgba.get_pixel(5, 20)[3], 255, "opaque half stays opaque");
                    assert_eq!(rgba.get_pixel(60, 20)[3], 0, "transparent half stays transparent");
                }
            }
        }
    }
}

/// The embedded model's tensors, renamed/reshaped/retyped by `edit`, serialised again.
/// Name, dtype, shape, bytes.
type RawTensor = (String, Dtype, Vec<usize>, Vec<u8>);

fn edited_weights(edit: fn(&mut Vec<RawTensor>)) -> Vec<u8> {
    let st = SafeTensors::deserialize(EMBEDDED_VGG16).unwrap();
    let mut tensors: Vec<RawTensor> =
        st.tensors().into_iter().map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec())).collect();
    edit(&mut tensors);
    let views: Vec<(String, TensorView)> =
        tensors.iter().map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap())).collect();
    safetensors::serialize(views, None).unwrap()
}

#[test]
fn every_broken_weights_file_is_refused_with_its_reason() {
    let huge = {
        let header =
            br#"{"features.0.weight":{"dtype":"F32","shape":[200000,200000,3,3],"data_offsets":[0,1440000000000]}}"#;
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header);
        bytes
    };
    let table: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "not a safetensors file"),
        ("truncated", EMBEDDED_VGG16[..EMBEDDED_VGG16.len() * 2 / 3].to_vec(), "not a safetensors file"),
        ("an image", encode(photo(), ImageFormat::Png), "not a safetensors file"),
        ("huge header", huge, "not a safetensors file"),
        (
            "wrong names",
            edited_weights(|t| t.iter_mut().for_each(|t| t.0 = t.0.replace("features.", "backbone."))),
            "missing tensor features.0.weight",
        ),
        (
            "wrong shape",
            edited_weights(|t| {
                let w = t.iter_mut().find(|t| t.0 == "features.5.weight").unwrap();
                w.2 = vec![128, 64, 9];
            }),
            "features.5.weight has shape [128, 64, 9], expected [128, 64, 3, 3]",
        ),
        (
            "NaN weights",
            edited_weights(|t| {
                let b = t.iter_mut().find(|t| t.0 == "features.0.bias").unwrap();
                b.3 = [0x00, 0x7e].repeat(b.3.len() / 2); // f16 NaN
            }),
            "features.0.bias holds NaN or infinite values",
        ),
        (
            "wrong dtype",
            edited_weights(|t| t.iter_mut().filter(|t| t.0.ends_with("bias")).for_each(|t| t.1 = Dtype::I16)),
            "dtype I16",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let (content, style) = common::write_pair(dir.path(), 64, 48);
    for (name, bytes, needle) in table {
        let path = dir.path().join(format!("{}.safetensors", name.replace(' ', "_")));
        std::fs::write(&path, bytes).unwrap();
        let started = std::time::Instant::now();
        let err = match load_file(&path, Tap::new(5, 1), &Device::Cpu) {
            Ok(_) => panic!("{name}: loaded"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(needle) && err.starts_with("invalid weights"), "{name}: {err}");
        assert!(started.elapsed().as_secs() < 5, "{name}: refusing took {:?}", started.elapsed());
        let out = dir.path().join("out.png");
        let o = common::binary()
            .args(["render", "--size", "64", "--iters", "1", "--content"])
            .arg(&content)
            .arg("--style")
            .arg(&style)
            .arg("--out")
            .arg(&out)
            .arg("--weights")
            .arg(&path)
            .output()
            .unwrap();
        assert_refused(&o, &out, name, needle);
    }
}
