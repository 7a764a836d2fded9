//! Looks: four recipes for the same method. Classic is Gatys et al. as the classic tools and
//! the PyTorch reference run it; Modern follows crowsonkb/style-transfer-pytorch; Rich matches
//! whole feature distributions (sliced Wasserstein, Heitz et al.); Photo keeps a photograph a
//! photograph (Luan et al.'s photorealism term). A look sets the style loss and measure, the
//! loss and layer weights, the optimiser and the start; each stays adjustable after.

use crate::transfer::spec::objective::StyleLoss;
use crate::transfer::spec::objective::STYLE_TAPS;
use crate::transfer::spec::options::{Init, OptimizerKind};
use crate::transfer::spec::RenderSpec;

/// Which recipe a render follows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Look {
    /// Mean squared Gram difference per layer, equal layer weights, L-BFGS (matches the PyTorch
    /// reference).
    #[default]
    Classic,
    /// Each layer's Gram difference measured so its gradient has unit size (`sum e^2 / sum |e|`),
    /// layers weighted 256:64:16:4:1 (fine texture first), Adam, and the picture shown is the
    /// running average of the iterates (calm, without Adam's jitter).
    Modern,
    /// The sliced-Wasserstein style loss: each layer's features match the painting's whole
    /// distribution on fixed random directions, not only its Gram matrix, which keeps the
    /// painting's colours and contrasts; equal layer weights, L-BFGS.
    Rich,
    /// The look of one photograph on another without brush strokes (Luan et al., "Deep Photo
    /// Style Transfer"): the Classic Gram loss plus the photorealism term of the content
    /// photo's Matting Laplacian, which lets colours move only along locally affine maps of the
    /// photo; L-BFGS from the photo. Painted masks send regions to regions (sky to sky).
    Photo,
}

/// Relative weights of relu1_1 .. relu5_1 in the Modern look, normalised to sum 1 when applied.
const MODERN_LAYERS: [f64; 5] = [256.0, 64.0, 16.0, 4.0, 1.0];
/// Modern content weight: the style measure is of degree 1 and the content's of degree 2, so
/// the balance is set where the pictures of the two looks are about as stylised.
const MODERN_CONTENT: f64 = 0.05;
/// Modern style weight (the layer weights sum to 1).
const MODERN_STYLE: f64 = 1.0;
/// Modern Adam learning rate in normalised units (0.02 of the 0..1 range, as crowsonkb uses,
/// is about 0.09 of the network's normalised units).
const MODERN_LR: f64 = 0.09;
/// Decay of the average of the iterates shown in the Modern look (about the last 30, once
/// warmed up). Measured at 256 px, 300 iterations, on tubingen + starry_night, the shown
/// picture's loss: 20.3 for the last iterate; with fixed windows 10.7 averaged with 0.9, 11.0
/// with 0.97, 33.0 with 0.99 (crowsonkb's decay, for runs of 500-1000 iterations per scale:
/// over 300 it lags behind the run); 10.9 with 0.97 warming up.
pub const MODERN_AVERAGE: f64 = 0.97;
/// Rich style weight (content weight 1). The sliced distance is in squared feature units like
/// the content term (a Gram difference is divided by C^2 H W, hence Classic's 100). At 256 px
/// on tubingen + The Starry Night, 150 iterations: 1 keeps the photo's structure with fine
/// speckle in flat areas, 5 paints bolder strokes; 2 sits between.
const RICH_STYLE: f64 = 2.0;

/// Photo content weight (Luan et al. weigh content 5 against style 100; Classic's 1 : 100).
const PHOTO_CONTENT: f64 = 5.0;
/// Photo photorealism weight (per pixel: see `transfer::loss::photo`). Luan et al.'s 1e4 is on
/// a sum over pixels of pictures in 0..255 through a network fed 0..255: about 1e6-1e7 in our
/// units. At 128 px, 100 iterations on a meadow given the colours of dry dune grass: 1e5 and 1e6
/// brought patches of the style's sea into the grass (edges 0.13, 0.14 of the photo's), 1e7 kept
/// every blade, dried (edges 0.46).
const PHOTO_REALISM: f64 = 1e7;
/// The photorealism term's name in `Objective::weights`.
const PHOTO_TERM: &str = "photo";

impl Look {
    /// Every look, for pickers.
    pub const ALL: [Look; 4] = [Look::Classic, Look::Modern, Look::Rich, Look::Photo];

    /// Whether style layers use the scaled measure.
    pub fn scaled(self) -> bool {
        self == Look::Modern
    }

    /// Lower-case name, as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Look::Classic => "classic",
            Look::Modern => "modern",
            Look::Rich => "rich",
            Look::Photo => "photo",
        }
    }

    /// Name shown in the app.
    pub fn label(self) -> &'static str {
        match self {
            Look::Classic => "Classic",
            Look::Modern => "Modern",
            Look::Rich => "Rich",
            Look::Photo => "Photo",
        }
    }

    /// Sets `spec` to this look's recipe: measure, content/style/TV and layer weights, optimiser,
    /// learning rate and averaging. Images, sizes, schedule, masks and blend stay.
    pub fn apply(self, spec: &mut RenderSpec) {
        let o = &mut spec.objective;
        o.look = self;
        o.tv_weight = 0.0;
        o.style_loss = if self == Look::Rich { StyleLoss::Sliced } else { StyleLoss::Gram };
        o.weights.remove(PHOTO_TERM);
        let run = &mut spec.run;
        match self {
            Look::Photo => {
                o.content_weight = PHOTO_CONTENT;
                o.style_weight = 100.0;
                o.style_layers = STYLE_TAPS.iter().map(|&t| (t, 1.0)).collect();
                o.weights.insert(PHOTO_TERM.to_string(), PHOTO_REALISM);
                run.optimizer = OptimizerKind::Lbfgs;
                run.lr = OptimizerKind::Lbfgs.default_lr();
                run.average = 0.0;
                run.init = Init::Content;
            }
            Look::Rich => {
                o.content_weight = 1.0;
                o.style_weight = RICH_STYLE;
                o.style_layers = STYLE_TAPS.iter().map(|&t| (t, 1.0)).collect();
                run.optimizer = OptimizerKind::Lbfgs;
                run.lr = OptimizerKind::Lbfgs.default_lr();
                run.average = 0.0;
            }
            Look::Classic => {
                o.content_weight = 1.0;
                o.style_weight = 100.0;
                o.style_layers = STYLE_TAPS.iter().map(|&t| (t, 1.0)).collect();
                run.optimizer = OptimizerKind::Lbfgs;
                run.lr = OptimizerKind::Lbfgs.default_lr();
                run.average = 0.0;
            }
            Look::Modern => {
                let total: f64 = MODERN_LAYERS.iter().sum();
                o.content_weight = MODERN_CONTENT;
                o.style_weight = MODERN_STYLE;
                o.style_layers = STYLE_TAPS.iter().zip(MODERN_LAYERS).map(|(&t, w)| (t, w / total)).collect();
                run.optimizer = OptimizerKind::Adam;
                run.lr = MODERN_LR;
                run.average = MODERN_AVERAGE;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_is_the_default_render() {
        let mut spec = RenderSpec::default();
        Look::Modern.apply(&mut spec);
        assert_ne!(spec, RenderSpec::default());
        Look::Classic.apply(&mut spec);
        assert_eq!(spec, RenderSpec::default());
    }

    #[test]
    fn modern_weights_fine_layers_first_and_sum_to_one() {
        let mut spec = RenderSpec::default();
        Look::Modern.apply(&mut spec);
        let w: Vec<f64> = spec.objective.style_layers.iter().map(|l| l.1).collect();
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(w.windows(2).all(|p| (p[0] / p[1] - 4.0).abs() < 1e-9), "{w:?}");
        assert_eq!((spec.run.optimizer, spec.run.average), (OptimizerKind::Adam, MODERN_AVERAGE));
    }

    #[test]
    fn the_photo_look_weighs_photorealism_from_the_photo_and_the_others_drop_it() {
        let mut spec = RenderSpec::default();
        spec.run.init = Init::Noise;
        Look::Photo.apply(&mut spec);
        assert_eq!(spec.objective.weight("photo"), PHOTO_REALISM);
        assert_eq!((spec.objective.style_loss, spec.run.init), (StyleLoss::Gram, Init::Content));
        spec.objective.validate(spec.styles.len()).unwrap();
        Look::Rich.apply(&mut spec);
        assert_eq!(spec.objective.weight("photo"), 0.0);
        assert!(spec.objective.weights.is_empty());
    }
}
