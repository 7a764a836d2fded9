//! Loss terms and the one evaluator that runs them. Every kind of term (content, style, total
//! variation, temporal, ...) is a [`Kind`] in [`KINDS`]: its name, its weight in the objective,
//! what it prepares from the photo (cached with the targets) and the [`Term`]s it adds to an
//! evaluation; the losses report each term by name. A term reads a network layer or the image.
//! The evaluator runs the image as a grid of tiles (the whole image is a grid of one tile) and
//! asks each layer term for its statistics over every tile's interior (pass 1), its loss from
//! those (between the passes), and its gradient over each tile (pass 2); an image term sees the
//! whole image once in each pass. A term is written once, and is exact in tiles as long as its
//! loss is a function of statistics gathered tile by tile.
//! Beside them: the Gram and TV maths (`gram`), guided regions (`guide`), the targets the terms
//! compare with (`targets`), the grid (`tiles`) and what an evaluation reports (`values`).

use std::any::Any;
use std::sync::Arc;

use candle_core::Tensor;
use image::RgbImage;

use crate::error::{Error, Result};
use crate::model::{Tap, Vgg};
use crate::transfer::spec::objective::{Objective, StyleLoss};
use targets::Targets;
use tiles::Rect;

mod content;
mod evaluate;
pub mod gram;
mod gram_style;
pub mod guide;
pub mod photo;
pub mod sliced;
pub mod targets;
pub mod temporal;
pub mod tiles;
mod tv;
pub mod values;

pub use evaluate::evaluate_grid;

/// A term's name in the losses: its kind ("content", "style", "tv", ...) and, for a term
/// per style layer, the layer's index in `Objective::style_layers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TermName {
    /// The kind's name (see [`Kind::name`]).
    pub term: &'static str,
    /// The style layer, for a term per layer.
    pub layer: Option<usize>,
}

impl TermName {
    /// The name of a kind's only term.
    pub const fn of(term: &'static str) -> Self {
        TermName { term, layer: None }
    }
}

impl std::fmt::Display for TermName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.layer {
            Some(k) => write!(f, "{} {k}", self.term),
            None => f.write_str(self.term),
        }
    }
}

/// What a term reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    /// The output of a network layer, tile by tile.
    Layer(usize),
    /// The normalised image itself, whole (it is in memory whole): such a term is exact in
    /// tiles because it never sees one.
    Image,
}

/// Where one tile's features sit in the layer a term reads.
#[derive(Debug, Clone, Copy)]
pub struct Part {
    /// The pixels the tile owns, relative to the tile's own features: what pass 1 counts.
    pub inner: Rect,
    /// The tile's features (halo included) in the whole layer's coordinates.
    pub outer: Rect,
    /// The whole layer's channels.
    pub channels: usize,
    /// The whole layer's (width, height).
    pub size: (usize, usize),
}

impl Part {
    /// The owned pixels in the whole layer's coordinates.
    pub fn inner_global(&self) -> Rect {
        Rect { x: self.outer.x + self.inner.x, y: self.outer.y + self.inner.y, ..self.inner }
    }

    /// Whether the tile owns no pixel of this layer (deep layers of a thin edge tile).
    pub fn owns_nothing(&self) -> bool {
        self.inner.w == 0 || self.inner.h == 0
    }

    /// Pixels of the whole layer.
    pub fn pixels(&self) -> usize {
        self.size.0 * self.size.1
    }

    /// Element count of the whole layer.
    pub fn layer_elems(&self) -> usize {
        self.channels * self.pixels()
    }
}

/// What a term is and where it reads: the same for every kind of term.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Place {
    /// Its name in the losses.
    pub name: TermName,
    /// What it reads.
    pub reads: Reads,
    /// Its weight in the total.
    pub weight: f64,
    /// Its share of its kind's weight, for reports (a style layer's `w_l`; 1 otherwise): the
    /// kind's value reported is the sum of its terms' values times their shares.
    pub share: f64,
}

impl Place {
    /// A term of weight `weight` reading the image, the only one of its kind.
    pub fn image(term: &'static str, weight: f64) -> Self {
        Place { name: TermName::of(term), reads: Reads::Image, weight, share: 1.0 }
    }
}

/// One loss term, evaluated over a grid of tiles (at a network layer) or over the whole image.
/// Its gradient is that of `weight * loss`. A term reading a layer whose weight is zero is not
/// built (its layer need not run); a term reading the image may report its value at weight
/// zero and pull nowhere (`grad` gives `None`).
pub trait Term {
    /// What it is and where it reads.
    fn place(&self) -> Place;
    /// Pass 1: takes the statistics of the pixels `part` owns in `features` (the tile's whole
    /// output at the layer, or the whole image for [`Reads::Image`]).
    fn gather(&mut self, features: &Tensor, part: &Part) -> Result<()>;
    /// Between the passes: the loss (0-d tensor) from every tile's statistics; keeps what
    /// [`Term::grad`] needs. Called once, after every tile has been gathered.
    fn finish(&mut self) -> Result<Tensor>;
    /// Pass 2: d(weight * loss) / d features over the whole tile, halo included (the evaluator
    /// keeps the interior of the image's gradient); `None` when the term pulls nowhere.
    fn grad(&self, features: &Tensor, part: &Part) -> Result<Option<Tensor>>;
}

/// The layers an objective's terms read (every kind's [`Kind::taps`]), as indices into the
/// network's layers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layers {
    /// Each tap read, with its layer.
    taps: Vec<(Tap, usize)>,
    /// Every layer read, in order, for `Vgg::forward_taps`.
    pub keep: Vec<usize>,
    /// Layers to run: one past the deepest kept (0: none).
    pub depth: usize,
}

impl Layers {
    /// The layers `objective`'s kinds read from `net`.
    pub fn new(net: &Vgg, objective: &Objective) -> Result<Self> {
        let mut taps = Vec::new();
        for tap in KINDS.iter().flat_map(|kind| (kind.taps)(objective)) {
            let layer =
                net.tap_index(tap).ok_or_else(|| Error::invalid(format!("the network does not reach {tap}")))?;
            taps.push((tap, layer));
        }
        let mut keep: Vec<usize> = taps.iter().map(|&(_, layer)| layer).collect();
        keep.sort_unstable();
        keep.dedup();
        let depth = keep.iter().max().map_or(0, |&d| d + 1);
        Ok(Layers { taps, keep, depth })
    }

    /// The layer of `tap`, which a kind's `taps` named.
    pub fn of(&self, tap: Tap) -> Result<usize> {
        self.taps
            .iter()
            .find(|&&(t, _)| t == tap)
            .map(|&(_, layer)| layer)
            .ok_or_else(|| Error::internal(format!("{tap} is read but no kind named it")))
    }
}

/// The content term's kind.
pub const CONTENT: &str = "content";
/// The style terms' kind (one term per style layer).
pub const STYLE: &str = "style";
/// The total variation's kind.
pub const TV: &str = "tv";

/// Something a kind of term prepares from the content photo at the render size, once per photo
/// and size, kept in the [`targets::TargetCache`] with the other targets.
pub type Prepared = Arc<dyn Any + Send + Sync>;

/// How a kind prepares from the content photo: the prepared value and its size in bytes.
pub type Prepare = fn(&RgbImage) -> Result<(Prepared, usize)>;

/// The terms a kind adds to one evaluation.
pub type Terms<'a> = Vec<Box<dyn Term + 'a>>;

/// A kind of loss term: its name, its weight in an objective, what it prepares from the photo,
/// and the terms it adds to an evaluation. A new kind is a file and a line in [`KINDS`].
pub struct Kind {
    /// Its name in the losses and in `Objective::weights`.
    pub name: &'static str,
    /// How the app names it.
    pub label: &'static str,
    /// Its weight in `objective` (0: no term is built).
    pub weight: fn(&Objective) -> f64,
    /// The network taps its terms read in `objective` (none at weight zero; none for a term of
    /// the image itself).
    pub taps: fn(&Objective) -> Vec<Tap>,
    /// What it prepares from the content photo, with its size in bytes; called when its weight
    /// is not zero.
    pub prepare: Option<Prepare>,
    /// Its terms in one evaluation (called when its weight is not zero, or always for a kind
    /// that reports at weight zero).
    pub build: for<'a> fn(&Build<'a>) -> Result<Terms<'a>>,
}

/// What a kind's terms are built from.
pub struct Build<'a> {
    /// The network.
    pub net: &'a Vgg,
    /// The objective.
    pub objective: &'a Objective,
    /// The targets, `prepared` included.
    pub targets: &'a Targets,
    /// The layers the objective reads.
    pub layers: &'a Layers,
}

/// Every kind of loss term, in the order the losses report them.
pub const KINDS: &[Kind] = &[
    Kind {
        name: CONTENT,
        label: "Content",
        weight: |o| o.content_weight,
        taps: |o| if o.content_weight != 0.0 { vec![o.content_tap] } else { Vec::new() },
        prepare: None,
        build: content_terms,
    },
    Kind {
        name: STYLE,
        label: "Style",
        weight: |o| o.style_weight,
        taps: |o| o.style_layers.iter().filter(|&&(_, w)| o.style_weight * w != 0.0).map(|&(tap, _)| tap).collect(),
        prepare: None,
        build: style_terms,
    },
    tv::KIND,
    temporal::KIND,
    photo::KIND,
];

/// The taps of a kind whose terms read the image itself, not the network.
pub fn no_taps(_: &Objective) -> Vec<Tap> {
    Vec::new()
}

/// The kind named `name`.
pub fn kind(name: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.name == name)
}

/// The terms of `objective` with a non-zero weight, kind by kind.
fn terms<'a>(build: &Build<'a>) -> Result<Vec<Box<dyn Term + 'a>>> {
    let mut out = Vec::new();
    for kind in KINDS {
        out.extend((kind.build)(build)?);
    }
    Ok(out)
}

fn content_terms<'a>(b: &Build<'a>) -> Result<Vec<Box<dyn Term + 'a>>> {
    if b.objective.content_weight == 0.0 {
        return Ok(Vec::new());
    }
    let layer = b.layers.of(b.objective.content_tap)?;
    let place = Place {
        name: TermName::of(CONTENT),
        reads: Reads::Layer(layer),
        weight: b.objective.content_weight,
        share: 1.0,
    };
    Ok(vec![Box::new(content::Content::new(place, &b.targets.content))])
}

/// A term per style layer of non-zero weight, Gram or sliced as the objective says.
fn style_terms<'a>(b: &Build<'a>) -> Result<Vec<Box<dyn Term + 'a>>> {
    let (o, targets) = (b.objective, b.targets);
    let mut out: Vec<Box<dyn Term + 'a>> = Vec::new();
    for (k, &(tap, w)) in o.style_layers.iter().enumerate() {
        if o.style_weight * w == 0.0 {
            continue;
        }
        let layer = b.layers.of(tap)?;
        let name = TermName { term: STYLE, layer: Some(k) };
        let place = Place { name, reads: Reads::Layer(layer), weight: o.style_weight * w, share: w };
        out.push(match o.style_loss {
            StyleLoss::Gram => Box::new(gram_style::GramStyle::new(place, k, o.look, targets.regions())),
            StyleLoss::Sliced => {
                let c = b.net.layer_channels(layer).ok_or_else(|| Error::internal("no such layer"))?;
                let regions = targets.sliced(k)?;
                Box::new(sliced::SlicedStyle::new(place, tap, c, regions, targets.content.device())?)
            }
        });
    }
    Ok(out)
}
