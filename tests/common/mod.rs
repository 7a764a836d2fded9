//! Helpers shared by the integration tests: small generated images, so tests need no fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

pub mod ffmpeg;
pub mod scene;
pub mod slurm;
#[cfg(feature = "app")]
pub mod ui;
pub mod xvfb;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use image::{Rgb, RgbImage};

/// A "photo": smooth gradient sky, a dark disc and a horizon.
pub fn content_image(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
        // Some fine texture, as real photos have, so no region is perfectly flat.
        let grain = (((x * 7 + y * 13) % 17) as f32 - 8.0) * 2.0;
        let px =
            |r: f32, g: f32, b: f32| Rgb([(r + grain).clamp(0.0, 255.0) as u8, (g + grain) as u8, (b - grain) as u8]);
        let d = ((fx - 0.6).powi(2) + (fy - 0.4).powi(2)).sqrt();
        if d < 0.2 {
            px(40.0, 60.0, 30.0)
        } else if fy > 0.7 {
            px(90.0, 120.0 + 60.0 * fx, 60.0)
        } else {
            px(120.0 + 100.0 * fy, 160.0 + 60.0 * fy, 230.0)
        }
    })
}

/// A "painting": diagonal coloured strokes.
pub fn style_image(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let t = ((x + 2 * y) / 5) % 3;
        let wave = (((x as f32) * 0.7).sin() * 40.0) as i32;
        match t {
            0 => Rgb([(30 + wave.max(0)) as u8, 50, 160]),
            1 => Rgb([230, (200 + wave.min(0)) as u8, 40]),
            _ => Rgb([20, 20, (60 - wave.min(0)) as u8]),
        }
    })
}

/// Writes both test images into `dir` and returns their paths.
pub fn write_pair(dir: &Path, w: u32, h: u32) -> (PathBuf, PathBuf) {
    let c = dir.join("content.png");
    let s = dir.join("style.png");
    content_image(w, h).save(&c).unwrap();
    style_image(w, h).save(&s).unwrap();
    (c, s)
}

/// Deterministic noise of the given shape: roughly uniform in [-amplitude, amplitude], from a
/// seeded generator, so tests that perturb an image give the same result on every run.
#[allow(dead_code)]
pub fn noise(dims: &[usize], amplitude: f32, seed: u64) -> candle_core::Tensor {
    let n: usize = dims.iter().product();
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let v: Vec<f32> = (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * amplitude
        })
        .collect();
    candle_core::Tensor::from_vec(v, dims, &candle_core::Device::Cpu).expect("noise tensor")
}

/// VGG19-layout safetensors (bf16, small deterministic weights), as timm's vgg19.tv_in1k names them.
pub fn vgg19_bytes() -> Vec<u8> {
    use safetensors::tensor::TensorView;
    let blocks = [(64, 2), (128, 2), (256, 4), (512, 4), (512, 4)];
    let (mut index, mut cin) = (0, 3);
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (b, &(cout, n)) in blocks.iter().enumerate() {
        if b > 0 {
            index += 1;
        }
        for _ in 0..n {
            let count = cout * cin * 9;
            let scale = (2.0 / (cin * 9) as f32).sqrt();
            let weights: Vec<u8> = (0..count)
                .flat_map(|i| half::bf16::from_f32((((i * 7919) % 13) as f32 - 6.0) / 6.0 * scale).to_le_bytes())
                .collect();
            tensors.push((format!("features.{index}.weight"), vec![cout, cin, 3, 3], weights));
            tensors.push((format!("features.{index}.bias"), vec![cout], vec![0; cout * 2]));
            index += 2;
            cin = cout;
        }
    }
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|(n, s, b)| (n.clone(), TensorView::new(safetensors::Dtype::BF16, s.clone(), b).unwrap()))
        .collect();
    safetensors::serialize(views, None).unwrap()
}

/// A Hugging Face cache under `home/hub` holding `bytes` as timm/vgg19.tv_in1k's weights, stored
/// as the Hub client stores them (a blob named by its sha256, a snapshot link, refs/main); with
/// `name` overriding the blob's name (a damaged download).
pub fn fake_hub_cache(home: &Path, bytes: &[u8], name: Option<&str>) -> PathBuf {
    use sha2::Digest;
    let repo = home.join("hub").join("models--timm--vgg19.tv_in1k");
    let digest: String = sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect();
    let blob = repo.join("blobs").join(name.unwrap_or(&digest));
    std::fs::create_dir_all(blob.parent().unwrap()).unwrap();
    std::fs::write(&blob, bytes).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs").join("main"), "0123abcd").unwrap();
    let snapshot = repo.join("snapshots").join("0123abcd");
    std::fs::create_dir_all(&snapshot).unwrap();
    std::os::unix::fs::symlink(&blob, snapshot.join("model.safetensors")).unwrap();
    blob
}

/// A folder of this test process's own, made once and kept until it ends: where its presets
/// and model cache live instead of the user's.
pub fn scratch_home() -> &'static Path {
    static HOME: OnceLock<PathBuf> = OnceLock::new();
    HOME.get_or_init(|| tempfile::tempdir().unwrap().keep())
}

/// The command line, hermetic: its presets folder and Hugging Face home are in
/// [`scratch_home`] and it stays offline, so no test reads the user's presets or caches (a test
/// that needs its own sets them again after).
pub fn binary() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_neural-style-studio"));
    sealed(&mut cmd);
    cmd
}

/// `cmd` with the environment of [`binary`] (for a command that runs the binary itself).
pub fn sealed(cmd: &mut std::process::Command) -> &mut std::process::Command {
    let home = scratch_home();
    cmd.env("NSS_CONFIG_DIR", home.join("config")).env("HF_HOME", home.join("hf")).env("HF_HUB_OFFLINE", "1")
}

/// Points this process's presets folder and Hugging Face home at [`scratch_home`], once (for
/// tests that run the app or the engine in process). Call it before setting either for a test.
pub fn hermetic() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let home = scratch_home();
        std::env::set_var("NSS_CONFIG_DIR", home.join("config"));
        std::env::set_var("HF_HOME", home.join("hf"));
    });
}

/// The test painting (96 x 96 strokes) written into `dir`.
pub fn write_style(dir: &Path) -> PathBuf {
    let style = dir.join("style.png");
    style_image(96, 96).save(&style).unwrap();
    style
}

/// What a finished command wrote to stderr.
pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
