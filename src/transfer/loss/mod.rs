//! Loss terms and the one evaluator that runs them. A term reads one network layer; the
//! evaluator runs the image as a grid of tiles (the whole image is a grid of one tile) and asks
//! each term for its statistics over every tile's interior (pass 1), its loss from those
//! (between the passes), and its gradient over each tile (pass 2). A term is written once, and
//! is exact in tiles as long as its loss is a function of statistics gathered tile by tile.
//! Beside them: the Gram and TV maths (`gram`), guided regions (`guide`), the targets the terms
//! compare with (`targets`), the grid (`tiles`) and what an evaluation reports (`values`).

use candle_core::Tensor;

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
pub mod sliced;
pub mod targets;
pub mod temporal;
pub mod tiles;
pub mod values;

pub use evaluate::evaluate_grid;

/// Which of [`values::Losses`]' values a term fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// The content term.
    Content,
    /// Style layer `k` (its index in `Objective::style_layers`).
    Style(usize),
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
    /// Which value of the losses it is.
    pub slot: Slot,
    /// The network layer it reads.
    pub layer: usize,
    /// Its weight in the total.
    pub weight: f64,
}

/// One loss term at one network layer, evaluated over a grid of tiles. Its gradient is that of
/// `weight * loss`; a term whose weight is zero is not built.
pub trait Term {
    /// What it is and where it reads.
    fn place(&self) -> Place;
    /// Pass 1: takes the statistics of the pixels `part` owns in `features` (the tile's whole
    /// output at the layer).
    fn gather(&mut self, features: &Tensor, part: &Part) -> Result<()>;
    /// Between the passes: the loss (0-d tensor) from every tile's statistics; keeps what
    /// [`Term::grad`] needs. Called once, after every tile has been gathered.
    fn finish(&mut self) -> Result<Tensor>;
    /// Pass 2: d(weight * loss) / d features over the whole tile, halo included (the evaluator
    /// keeps the interior of the image's gradient); `None` when the term pulls nowhere.
    fn grad(&self, features: &Tensor, part: &Part) -> Result<Option<Tensor>>;
}

/// The layers an objective's non-zero terms read, as indices into the network's layers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layers {
    /// The content tap's layer, when the content weight is not zero.
    pub content: Option<usize>,
    /// Each style layer's index, `None` where its weight (or the style weight) is zero.
    pub style: Vec<Option<usize>>,
    /// Every layer above, for `Vgg::forward_taps`.
    pub keep: Vec<usize>,
    /// Layers to run: one past the deepest kept (0: none).
    pub depth: usize,
}

impl Layers {
    /// The layers `objective` needs from `net`.
    pub fn new(net: &Vgg, objective: &Objective) -> Result<Self> {
        let index =
            |tap: Tap| net.tap_index(tap).ok_or_else(|| Error::invalid(format!("the network does not reach {tap}")));
        let content = if objective.content_weight != 0.0 { Some(index(objective.content_tap)?) } else { None };
        let style = objective
            .style_layers
            .iter()
            .map(|&(tap, w)| if objective.style_weight * w != 0.0 { index(tap).map(Some) } else { Ok(None) })
            .collect::<Result<Vec<_>>>()?;
        let mut keep: Vec<usize> = content.iter().chain(style.iter().flatten()).copied().collect();
        keep.sort_unstable();
        keep.dedup();
        let depth = keep.iter().max().map_or(0, |&d| d + 1);
        Ok(Layers { content, style, keep, depth })
    }
}

/// The terms of `objective` with a non-zero weight, content first, then the style layers in
/// order.
fn terms<'a>(
    net: &Vgg,
    objective: &'a Objective,
    targets: &'a Targets,
    layers: &Layers,
) -> Result<Vec<Box<dyn Term + 'a>>> {
    let mut out: Vec<Box<dyn Term + 'a>> = Vec::new();
    if let Some(layer) = layers.content {
        let place = Place { slot: Slot::Content, layer, weight: objective.content_weight };
        out.push(Box::new(content::Content::new(place, &targets.content)));
    }
    for (k, (&layer, &(tap, w))) in layers.style.iter().zip(&objective.style_layers).enumerate() {
        let Some(layer) = layer else { continue };
        let place = Place { slot: Slot::Style(k), layer, weight: objective.style_weight * w };
        out.push(match objective.style_loss {
            StyleLoss::Gram => Box::new(gram_style::GramStyle::new(place, k, objective.look, targets.regions())),
            StyleLoss::Sliced => {
                let c = net.layer_channels(layer).ok_or_else(|| Error::internal("no such layer"))?;
                let styles = targets.sliced(k)?;
                Box::new(sliced::SlicedStyle::new(place, tap, c, styles, targets.content.device())?)
            }
        });
    }
    Ok(out)
}
