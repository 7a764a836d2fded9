//! The render's options on the command line ([`SpecArgs`]), shared by `render`, `score`,
//! `sheet`, `bench` and the app's launch: optional overrides applied to a spec (the defaults,
//! the settings stored in a PNG, or the app's remembered settings), and their value enums.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::builder::TypedValueParser;
use clap::{Args, ValueEnum};
use neural_style_studio::model::{DeviceChoice, Pooling, Tap, WeightsSource};
use neural_style_studio::transfer::{
    read_settings, Init, Look, Mask, Method, OptimizerKind, PreserveColors, RenderSpec, Stage, StyleLoss, Unpainted,
};

/// A layer name such as relu4_2.
fn parse_tap(name: &str) -> std::result::Result<Tap, String> {
    Tap::parse(name.trim()).map_err(|e| e.to_string())
}

/// Optimiser choice on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OptimizerArg {
    /// L-BFGS, history 100; inside the displayable range with a line search unless --unbounded.
    Lbfgs,
    /// Adam.
    Adam,
}

impl From<OptimizerArg> for OptimizerKind {
    fn from(o: OptimizerArg) -> Self {
        match o {
            OptimizerArg::Lbfgs => OptimizerKind::Lbfgs,
            OptimizerArg::Adam => OptimizerKind::Adam,
        }
    }
}

/// Initial image choice on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InitArg {
    /// Start from the content photo.
    Content,
    /// Start from seeded noise.
    Noise,
    /// Start from flat grey with a whisper of noise, as the classic tools do (most painted).
    Grey,
    /// Start from the first style image.
    Style,
    /// Start from the picture given by --init-image.
    Image,
    /// Start from the instant look (the feed-forward picture, in a fraction of a second).
    Instant,
}

/// How `render-video` makes each frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum VideoModeArg {
    /// Each frame optimised, started from the previous one carried along the motion.
    Quality,
    /// Each frame painted by the instant look, blended with the previous one where the motion
    /// is trusted (a few frames a second).
    Fast,
}

impl From<VideoModeArg> for neural_style_studio::transfer::VideoMode {
    fn from(m: VideoModeArg) -> Self {
        match m {
            VideoModeArg::Quality => Self::Quality,
            VideoModeArg::Fast => Self::Fast,
        }
    }
}

/// How `render` makes the picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MethodArg {
    /// Optimisation (Gatys et al.).
    Optimise,
    /// The instant look alone: one pass of the feed-forward networks.
    Instant,
}

/// Every setting of a render as an optional override: anything given replaces the value of the
/// spec it is applied to; nothing given changes nothing. Defaults live in [`RenderSpec`] alone.
#[derive(Debug, Clone, Default, PartialEq, Args)]
pub struct SpecArgs {
    /// Start from the settings stored in a PNG this program exported, or in a JSON settings
    /// file; other options override them.
    #[arg(long, value_name = "PNG_OR_JSON")]
    pub settings_from: Option<PathBuf>,
    /// Content image (JPEG, PNG, WebP, GIF, BMP, TIFF).
    #[arg(long)]
    pub content: Option<PathBuf>,
    /// Style image; repeat for several styles.
    #[arg(long)]
    pub style: Vec<PathBuf>,
    /// Blend weights of the style images, comma-separated (default: equal).
    #[arg(long, value_delimiter = ',')]
    pub style_blend: Vec<f64>,
    /// Long side of the output, in pixels [default: 512].
    #[arg(long)]
    pub size: Option<u32>,
    /// Style images are resized to size x this on their long side [default: 1].
    #[arg(long)]
    pub style_scale: Option<f64>,
    /// Iteration budget: at 512 px, where the automatic schedule settles the picture (larger
    /// stages run a fifth of it, then halving), or at full size with --scales N [default: 300].
    #[arg(long)]
    pub iters: Option<usize>,
    /// Stages: 0 = automatic (one stage up to 640 px; above, --iters at 512 px, then steps of
    /// at most 2x up to --size, each warm-started from the one before); 1 = single scale,
    /// exactly --iters at full size; N = N stages doubling up to --size, the full-size stage
    /// running half of --iters and each smaller one as many [default: 0].
    #[arg(long)]
    pub scales: Option<usize>,
    /// Explicit stages, smallest first, e.g. 512x200,1024x80,2048x30 (SIZExITERATIONS); the last
    /// is the output size, so --size may be left out. Replaces --iters and --scales.
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub stages: Vec<Stage>,
    /// Weight of the content loss [default: 1].
    #[arg(long)]
    pub content_weight: Option<f64>,
    /// Weight of the style loss [default: 100].
    #[arg(long)]
    pub style_weight: Option<f64>,
    /// Weight of the total-variation loss [default: 0].
    #[arg(long)]
    pub tv_weight: Option<f64>,
    /// Weight of a clip frame's temporal term, holding it to the previous frame carried along
    /// the motion (in the fast mode, k = 3 x this / 1000 holds k/(1+k) of the previous frame) [default: 1000].
    #[arg(long)]
    pub temporal_weight: Option<f64>,
    /// The weight of a further kind of loss term by name, repeatable: photo=10000 (the Photo
    /// look's photorealism; 0 removes it).
    #[arg(long, value_name = "NAME=WEIGHT", value_parser = parse_term_weight)]
    pub term_weight: Vec<(String, f64)>,
    /// Style layers by name, comma-separated, any reluN_M of the model (VGG16: relu1_1 ..
    /// relu5_3; VGG19 also relu3_4, relu4_4, relu5_4), each with weight 1 unless
    /// --style-layer-weights says otherwise [default: relu1_1,relu2_1,relu3_1,relu4_1,relu5_1].
    #[arg(long, value_delimiter = ',', num_args = 1.., value_parser = parse_tap)]
    pub style_layers: Vec<Tap>,
    /// Per-layer style weights, comma-separated, in the order of the style layers.
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub style_layer_weights: Vec<f64>,
    /// The layer whose features the content loss matches, e.g. relu4_2 [default: relu4_2].
    #[arg(long, alias = "content-layers", value_parser = parse_tap)]
    pub content_layer: Option<Tap>,
    /// Optimiser [default: lbfgs].
    #[arg(long, value_enum)]
    pub optimizer: Option<OptimizerArg>,
    /// Learning rate [default: 1 for L-BFGS, 0.02 for Adam].
    #[arg(long)]
    pub lr: Option<f64>,
    /// L-BFGS history length [default: 100].
    #[arg(long)]
    pub history: Option<usize>,
    /// Initial image [default: instant].
    #[arg(long, value_enum)]
    pub init: Option<InitArg>,
    /// The picture to start from (an earlier render, a sketch); implies --init image.
    #[arg(long, value_name = "PATH")]
    pub init_image: Option<PathBuf>,
    /// Seed for noise initialisation [default: 0].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Let pixel values leave the displayable range while optimising, as the classic tools do
    /// (for comparing with them); `--unbounded false` undoes it for settings read from a file
    /// [default: the image stays displayable, with a line search].
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub unbounded: Option<bool>,
    /// Scale each loss term's gradient at its layer to unit L1 norm (times its weight), as
    /// neural-style's -normalize_gradients does: every layer pulls equally, so the style weight
    /// means something else (try 1-10x the content weight) [default: off].
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub normalize_gradients: Option<bool>,
    /// Evaluate in tiles of N pixels (exact: the same picture, in less memory) [default: tiles
    /// only when the whole image does not fit].
    #[arg(long, value_name = "N")]
    pub tile: Option<u32>,
    /// The network: vgg16 (embedded), vgg19-classic (embedded: the original ImageNet VGG19 the
    /// classic tools run, whose features give their look; the Bold preset's), vgg19
    /// (torchvision's, fetched once from the Hugging Face Hub into its cache, with a progress bar;
    /// HF_HUB_OFFLINE=1 uses the cache only), or the path of VGG16/VGG19 safetensors in
    /// torchvision layout [default: vgg16].
    #[arg(long, alias = "weights", value_name = "vgg16|vgg19-classic|vgg19|PATH", value_parser = parse_model)]
    pub model: Option<WeightsSource>,
    /// The recipe, one of the looks of docs/looks.md: classic (Gatys et al. as the classic
    /// tools run it), modern (after crowsonkb/style-transfer-pytorch), rich (the
    /// sliced-Wasserstein style loss) and the others listed below. Sets the weights, optimiser
    /// and start first; --preset and the other options override them [default: classic].
    #[arg(long, value_parser = look_parser())]
    pub look: Option<Look>,
    /// How style layers are compared with the painting: gram (Gram matrices, Gatys et al.) or
    /// sliced (sliced Wasserstein, Heitz et al.: whole feature distributions on 64 fixed random
    /// directions per layer) [default: the look's; rich: sliced].
    #[arg(long, value_enum)]
    pub style_loss: Option<StyleLossArg>,
    /// Show the running average of the iterates with this decay (0: off; modern: 0.97).
    #[arg(long, value_name = "DECAY")]
    pub average: Option<f64>,
    /// A named look applied before the other options (they override it): Subtle, Balanced,
    /// Bold, "Fine texture", "Large strokes", or one saved in the app (any case).
    #[arg(long, value_name = "NAME")]
    pub preset: Option<String>,
    /// Pooling between the network's blocks: max (as trained) or avg (average, scaled; smoother
    /// gradients and softer, more even textures) [default: max].
    #[arg(long, value_enum)]
    pub pooling: Option<PoolingArg>,
    /// Device: auto, cpu, cuda, cuda:N or metal [default: auto].
    #[arg(long)]
    pub device: Option<DeviceChoice>,
    /// Keep the photo's colours: luminance (the result's luminance with the photo's chroma) or
    /// histogram (the style's colours matched to the photo's first) [default: off].
    #[arg(long, value_enum)]
    pub preserve_colors: Option<ColoursArg>,
    /// optimise (Gatys et al.) or instant (the feed-forward picture alone, in under a second)
    /// [default: optimise].
    #[arg(long, value_enum)]
    pub method: Option<MethodArg>,
    /// The instant look's strength: 0 keeps the photo's own style, 1 the paintings' (for
    /// --method instant and --init instant) [default: 1].
    #[arg(long)]
    pub strength: Option<f64>,
    /// Where style N applies: N=PATH, an image white where the style goes (N counts from 1;
    /// repeat for other styles). Once one style has a mask, each style applies only where its
    /// mask is painted.
    #[arg(long, value_name = "N=PATH", value_parser = parse_mask)]
    pub mask: Vec<(usize, PathBuf)>,
    /// Outside every mask: keep the photo (content) or take the blend of all styles (blend)
    /// [default: content].
    #[arg(long, value_enum)]
    pub unpainted: Option<UnpaintedArg>,
}

/// What unpainted areas do, on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UnpaintedArg {
    /// Keep the photo.
    Content,
    /// Take the blend of all styles.
    Blend,
}

/// Says when a mask file has the photo's shape but another size (it is resized to each stage; a
/// mask of another shape is stretched, which the render itself warns about).
fn note_mask_resized(n: usize, mask: &std::path::Path, content: Option<&std::path::Path>) {
    let (Ok((w, h)), Some(Ok((cw, ch)))) = (image::image_dimensions(mask), content.map(image::image_dimensions)) else {
        return;
    };
    let same_shape = (f64::from(w) * f64::from(ch) / (f64::from(h) * f64::from(cw)) - 1.0).abs() <= 0.01;
    if (w, h) != (cw, ch) && same_shape {
        eprintln!("note: the mask of style {n} is {w}x{h} and the photo {cw}x{ch}: it is resized to fit");
    }
}

/// `--model`: a name, or a weights file.
fn parse_model(arg: &str) -> std::result::Result<WeightsSource, String> {
    Ok(match arg.trim().to_ascii_lowercase().as_str() {
        "vgg16" => WeightsSource::Embedded,
        "vgg19" => WeightsSource::Vgg19,
        "vgg19-classic" => WeightsSource::ClassicVgg19,
        _ => WeightsSource::File(PathBuf::from(arg)),
    })
}

/// Makes sure the model `spec` names is on disk: VGG19 is fetched into the Hugging Face cache
/// with a progress bar (Ctrl+C cancels). If it cannot be had, says why in one line and goes on
/// with the embedded VGG16.
pub fn ensure_model(spec: &mut RenderSpec, interrupted: &std::sync::atomic::AtomicBool) -> Result<()> {
    use neural_style_studio::model::hub;
    if spec.model != WeightsSource::Vgg19 {
        return Ok(());
    }
    let bar = indicatif::ProgressBar::new(hub::VGG19_BYTES).with_message("fetching VGG19");
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {msg} [{eta_precise}]")
            .context("progress bar template")?,
    );
    let result = hub::fetch(hub::VGG19_REPO, &mut |done, total| {
        bar.set_length(total.max(1));
        bar.set_position(done);
        !interrupted.load(std::sync::atomic::Ordering::SeqCst)
    });
    bar.finish_and_clear();
    match result {
        Ok(_) => Ok(()),
        Err(neural_style_studio::Error::Cancelled) => bail!("interrupted while fetching VGG19"),
        Err(e) => {
            eprintln!("warning: {e}; going on with the embedded VGG16");
            spec.model = WeightsSource::Embedded;
            Ok(())
        }
    }
}

/// `N=PATH` of `--mask`.
/// `NAME=WEIGHT`: a further loss term's weight.
pub fn parse_term_weight(arg: &str) -> std::result::Result<(String, f64), String> {
    let expected = || format!("expected NAME=WEIGHT (a loss term's name = its weight), got {arg:?}");
    let (name, weight) = arg.split_once('=').ok_or_else(expected)?;
    let weight = weight.trim().parse::<f64>().map_err(|_| expected())?;
    Ok((name.trim().to_string(), weight))
}

fn parse_mask(arg: &str) -> std::result::Result<(usize, PathBuf), String> {
    let (n, path) =
        arg.split_once('=').ok_or_else(|| format!("expected N=PATH (style number = mask image), got {arg:?}"))?;
    match n.trim().parse::<usize>() {
        Ok(n) if n >= 1 && !path.is_empty() => Ok((n, PathBuf::from(path))),
        _ => Err(format!("expected N=PATH with N the style's number from 1, got {arg:?}")),
    }
}

/// The looks by their names (every look in `Look::ALL`).
fn look_parser() -> impl TypedValueParser<Value = Look> {
    clap::builder::PossibleValuesParser::new(Look::ALL.map(Look::name))
        .map(|name| Look::ALL.into_iter().find(|l| l.name() == name).unwrap_or_default())
}

/// The style loss on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StyleLossArg {
    /// Gram matrices.
    Gram,
    /// Sliced Wasserstein.
    Sliced,
}

impl From<StyleLossArg> for StyleLoss {
    fn from(arg: StyleLossArg) -> Self {
        match arg {
            StyleLossArg::Gram => StyleLoss::Gram,
            StyleLossArg::Sliced => StyleLoss::Sliced,
        }
    }
}

/// Pooling on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PoolingArg {
    /// 2x2 max pooling, as the network was trained.
    Max,
    /// 2x2 average pooling, scaled to keep activation magnitudes.
    Avg,
}

/// Colour keeping on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColoursArg {
    /// The style's colours.
    Off,
    /// The result's luminance with the photo's chroma.
    Luminance,
    /// The style images' colour statistics matched to the photo's.
    Histogram,
}

impl SpecArgs {
    /// Whether any option was given.
    pub fn is_empty(&self) -> bool {
        *self == SpecArgs::default()
    }

    /// The spec to start from: the stored settings of `--settings-from` (with a warning for
    /// anything they held that this version ignores), or `base`.
    pub fn base(&self, base: RenderSpec) -> Result<(RenderSpec, Option<String>)> {
        match &self.settings_from {
            Some(path) => {
                let stored = read_settings(path)?;
                let warning = stored.warning();
                Ok((stored.spec, warning))
            }
            None => Ok((base, None)),
        }
    }

    /// Applies the given options over `spec`. An override that contradicts the rest (blend
    /// weights for another number of styles, layer weights for another number of layers) is
    /// refused with one line.
    pub fn apply(&self, mut spec: RenderSpec) -> Result<RenderSpec> {
        if let Some(look) = self.look {
            look.apply(&mut spec);
        }
        if let Some(name) = &self.preset {
            let (presets, unreadable) = neural_style_studio::transfer::spec::preset::available_presets();
            if let Some(e) = unreadable {
                eprintln!("warning: {e}");
            }
            neural_style_studio::transfer::spec::preset::find(&presets, name)?.apply(&mut spec)?;
        }
        if let Some(content) = &self.content {
            spec.content = Some(neural_style_studio::transfer::ImageRef::new(content));
        }
        if !self.style.is_empty() {
            spec.set_styles(&self.style);
        }
        if !self.style_blend.is_empty() {
            if self.style_blend.len() != spec.styles.len() {
                bail!(
                    "--style-blend has {} values but there are {} style images",
                    self.style_blend.len(),
                    spec.styles.len()
                );
            }
            spec.objective.style_blend = self.style_blend.clone();
        }
        if !self.style_layers.is_empty() {
            spec.objective.style_layers = self.style_layers.iter().map(|&tap| (tap, 1.0)).collect();
        }
        spec.objective.content_tap = self.content_layer.unwrap_or(spec.objective.content_tap);
        if !self.style_layer_weights.is_empty() {
            let layers = &mut spec.objective.style_layers;
            if self.style_layer_weights.len() != layers.len() {
                let names: Vec<String> = layers.iter().map(|l| l.0.to_string()).collect();
                bail!("--style-layer-weights needs {} values ({})", layers.len(), names.join(", "));
            }
            for (layer, &w) in layers.iter_mut().zip(&self.style_layer_weights) {
                layer.1 = w;
            }
        }
        let set = |dst: &mut f64, v: Option<f64>| *dst = v.unwrap_or(*dst);
        set(&mut spec.objective.content_weight, self.content_weight);
        set(&mut spec.objective.style_weight, self.style_weight);
        set(&mut spec.objective.tv_weight, self.tv_weight);
        set(&mut spec.objective.temporal_weight, self.temporal_weight);
        for (name, weight) in &self.term_weight {
            match *weight {
                0.0 => spec.objective.weights.remove(name),
                w => spec.objective.weights.insert(name.clone(), w),
            };
        }
        set(&mut spec.style_scale, self.style_scale);
        spec.size = self.size.unwrap_or(spec.size);
        spec.schedule.iterations = self.iters.unwrap_or(spec.schedule.iterations);
        spec.schedule.scales = self.scales.unwrap_or(spec.schedule.scales);
        if self.iters.is_some() || self.scales.is_some() {
            spec.schedule.stages.clear();
        }
        if let Some(last) = self.stages.last() {
            if self.iters.is_some() || self.scales.is_some() {
                bail!("--stages replaces --iters and --scales: give one or the other");
            }
            spec.size = self.size.unwrap_or(last.size);
            spec.schedule.stages = self.stages.clone();
        }
        if let Some(o) = self.optimizer {
            spec.run.optimizer = o.into();
            spec.run.lr = spec.run.optimizer.default_lr();
        }
        set(&mut spec.run.lr, self.lr);
        spec.run.history = self.history.unwrap_or(spec.run.history);
        set(&mut spec.run.average, self.average);
        if let Some(loss) = self.style_loss {
            spec.objective.style_loss = loss.into();
        }
        if let Some(i) = self.init {
            spec.run.init = match i {
                InitArg::Content => Init::Content,
                InitArg::Noise => Init::Noise,
                InitArg::Grey => Init::Grey,
                InitArg::Style => Init::Style,
                InitArg::Image => Init::Image,
                InitArg::Instant => Init::Instant,
            };
        }
        if let Some(path) = &self.init_image {
            spec.init_image = Some(neural_style_studio::transfer::ImageRef::new(path));
            if self.init.is_none() {
                spec.run.init = Init::Image;
            }
        }
        if let Some(m) = self.method {
            spec.method = match m {
                MethodArg::Optimise => Method::Optimise,
                MethodArg::Instant => Method::Instant,
            };
        }
        set(&mut spec.instant.strength, self.strength);
        spec.run.seed = self.seed.unwrap_or(spec.run.seed);
        spec.run.tile = self.tile.or(spec.run.tile);
        spec.run.unbounded = self.unbounded.unwrap_or(spec.run.unbounded);
        let normalize = &mut spec.objective.normalize_gradients;
        *normalize = self.normalize_gradients.unwrap_or(*normalize);
        if let Some(model) = &self.model {
            spec.model = model.clone();
        }
        spec.device = self.device.unwrap_or(spec.device);
        for (n, path) in &self.mask {
            spec.objective.masks.set(n - 1, Some(Mask::load(path)?));
            note_mask_resized(*n, path, spec.content.as_ref().map(|c| c.path.as_path()));
        }
        if let Some(u) = self.unpainted {
            spec.objective.masks.unpainted = match u {
                UnpaintedArg::Content => Unpainted::Content,
                UnpaintedArg::Blend => Unpainted::Blend,
            };
        }
        if let Some(p) = self.pooling {
            spec.pooling = match p {
                PoolingArg::Max => Pooling::Max,
                PoolingArg::Avg => Pooling::Avg,
            };
        }
        if let Some(c) = self.preserve_colors {
            spec.preserve_colors = match c {
                ColoursArg::Off => PreserveColors::Off,
                ColoursArg::Luminance => PreserveColors::Luminance,
                ColoursArg::Histogram => PreserveColors::Histogram,
            };
        }
        Ok(spec)
    }

    /// The spec `render` runs: the base, overridden, validated.
    pub fn to_spec(&self) -> Result<(RenderSpec, Option<String>)> {
        let (base, warning) = self.base(command_line_default())?;
        let spec = self.apply(base)?;
        spec.validate().context("the settings cannot be rendered")?;
        Ok((spec, warning))
    }
}

/// The render a command line starts from before its options: the engine's defaults, starting
/// from the instant look. Measured at 512 px on three pairs (docs/performance.md), that start
/// reaches the photo start's 300-iteration loss in 14-28% fewer iterations and ends 5% lower.
pub fn command_line_default() -> RenderSpec {
    let mut spec = RenderSpec::default();
    spec.run.init = Init::Instant;
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_options_change_nothing_and_each_option_changes_its_field() {
        let base = RenderSpec::new("c.png", &["s.png".into()]);
        assert!(SpecArgs::default().is_empty());
        assert_eq!(SpecArgs::default().apply(base.clone()).unwrap(), base);
        let args = SpecArgs {
            style: vec!["a.png".into(), "b.png".into()],
            style_blend: vec![0.7, 0.3],
            size: Some(256),
            optimizer: Some(OptimizerArg::Adam),
            iters: Some(9),
            ..SpecArgs::default()
        };
        let spec = args.apply(base).unwrap();
        assert_eq!(spec.objective.style_blend, vec![0.7, 0.3]);
        assert_eq!((spec.size, spec.schedule.iterations, spec.run.lr), (256, 9, 0.02));
        assert_eq!(spec.content_path().unwrap(), std::path::Path::new("c.png"));
    }

    #[test]
    fn a_preset_sets_the_look_and_the_other_options_override_it() {
        let base = RenderSpec::new("c.png", &["s.png".into()]);
        let args = SpecArgs { preset: Some("BOLD".into()), style_weight: Some(50.0), ..SpecArgs::default() };
        let spec = args.apply(base.clone()).unwrap();
        assert_eq!((spec.objective.content_weight, spec.objective.style_weight), (5.0, 50.0));
        assert_eq!(spec.model, WeightsSource::ClassicVgg19, "Bold's network");
        let unknown = SpecArgs { preset: Some("wild".into()), ..SpecArgs::default() };
        let msg = unknown.apply(base).unwrap_err().to_string();
        assert!(msg.contains("no preset called 'wild'") && msg.contains("Large strokes"), "{msg}");
    }

    #[test]
    fn an_override_that_contradicts_the_settings_is_refused() {
        let base = RenderSpec::new("c.png", &["s.png".into()]);
        let blend = SpecArgs { style_blend: vec![1.0, 2.0], ..SpecArgs::default() };
        let msg = blend.apply(base.clone()).unwrap_err().to_string();
        assert!(msg.contains("2 values but there are 1 style images"), "{msg}");
        let layers = SpecArgs { style_layer_weights: vec![1.0], ..SpecArgs::default() };
        assert!(layers.apply(base).unwrap_err().to_string().contains("needs 5 values"));
    }
}
