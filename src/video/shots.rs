//! Shots: where a clip cuts from one view to another. Nothing is carried across a cut (the
//! motion between two shots means nothing), so each shot's first frame renders as a clip's
//! first frame. A cut is told from two measures between consecutive frames, both taken on
//! the frames shrunk to [`ANALYSIS_SIDE`] px so that the decision does not depend on the render
//! size: how far their colour histograms are apart, and how much of the frame the optical flow
//! explains (pixels where the flows both ways agree and the warped frame matches). A pan or a
//! zoom keeps its colours and is explained by the flow; a fade changes a little each frame; a
//! cut changes the colours and leaves the flow explaining little. Thresholds measured in
//! docs/video.md ("Shots").

use image::RgbImage;

use crate::error::Result;
use crate::imageio::{fit_long_side, resize};
use crate::video::clip::ClipReader;
use crate::video::flow::{flow, reliability, warp_gray, FlowParams, Gray};

/// The long side frames are compared at.
pub const ANALYSIS_SIDE: u32 = 128;

/// Levels per colour channel of the histograms (4 x 4 x 4 = 64 bins).
const LEVELS: usize = 4;

/// A cut when the colours move at least this far (total variation distance, 0..1)...
pub const COLOUR_CUT: f64 = 0.25;

/// ...while the flow explains less than this share of the frame,
pub const EXPLAINED_CUT: f64 = 0.5;

/// or when the colours move this far whatever the flow says.
pub const COLOUR_ALONE: f64 = 0.6;

/// A grey level difference (0..1) under which the warped frame matches.
const MATCH: f32 = 0.08;

/// How one frame differs from the one before it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    /// The total variation distance between the two frames' colour histograms (0: the same
    /// colours, 1: none in common).
    pub colour: f64,
    /// The share of the frame the flow explains (0..1); `None` when the colours alone decide
    /// (and the detector was not asked to measure everything).
    pub explained: Option<f64>,
}

impl Change {
    /// Whether the frame begins a new shot.
    pub fn is_cut(&self) -> bool {
        match self.explained {
            _ if self.colour >= COLOUR_ALONE => true,
            _ if self.colour < COLOUR_CUT => false,
            Some(explained) => explained < EXPLAINED_CUT,
            // Not measured: a detector only skips the flow where the colours decide.
            None => false,
        }
    }

    /// Whether the colours alone decide, so the flow need not be measured.
    fn colours_decide(colour: f64) -> bool {
        !(COLOUR_CUT..COLOUR_ALONE).contains(&colour)
    }
}

/// A frame as the detector compares it.
struct Look {
    gray: Gray,
    histogram: Vec<f64>,
}

/// Tells cuts frame by frame.
#[derive(Default)]
pub struct CutDetector {
    previous: Option<Look>,
    params: FlowParams,
    /// Measure the flow of every frame, not only where the colours leave the decision open.
    thorough: bool,
}

impl CutDetector {
    /// A detector that has seen no frame. It measures the flow only where the colours leave
    /// the decision open (most frames of a shot move their colours less than [`COLOUR_CUT`]):
    /// a frame then costs a histogram, not two flows.
    pub fn new() -> Self {
        CutDetector::default()
    }

    /// A detector that measures both measures of every frame (for `--list-shots`, which
    /// prints them).
    pub fn thorough() -> Self {
        CutDetector { thorough: true, ..CutDetector::default() }
    }

    /// Takes the next frame (any size) and says how it differs from the one before (`None` for
    /// the first).
    pub fn push(&mut self, frame: &RgbImage) -> Option<Change> {
        let small = resize(frame, fit_long_side(frame.dimensions(), ANALYSIS_SIDE));
        let look = Look { gray: Gray::from_rgb(&small), histogram: histogram(&small) };
        let change = self.previous.as_ref().map(|before| self.compare(before, &look));
        self.previous = Some(look);
        change
    }

    fn compare(&self, before: &Look, after: &Look) -> Change {
        let colour = 0.5 * before.histogram.iter().zip(&after.histogram).map(|(a, b)| (a - b).abs()).sum::<f64>();
        if before.gray.width != after.gray.width || before.gray.height != after.gray.height {
            return Change { colour, explained: Some(0.0) };
        }
        if !self.thorough && Change::colours_decide(colour) {
            return Change { colour, explained: None };
        }
        let forward = flow(&before.gray, &after.gray, &self.params);
        let back = flow(&after.gray, &before.gray, &self.params);
        let trusted = reliability(&back, &forward);
        let warped = warp_gray(&before.gray, &back);
        let explained = trusted
            .iter()
            .zip(warped.data.iter().zip(&after.gray.data))
            .filter(|(t, (w, a))| **t > 0.5 && (*w - *a).abs() < MATCH)
            .count();
        Change { colour, explained: Some(explained as f64 / trusted.len().max(1) as f64) }
    }
}

/// The normalised 64-bin joint RGB histogram of `frame`.
fn histogram(frame: &RgbImage) -> Vec<f64> {
    let mut bins = vec![0.0; LEVELS * LEVELS * LEVELS];
    let level = |v: u8| usize::from(v) * LEVELS / 256;
    for p in frame.pixels() {
        bins[(level(p[0]) * LEVELS + level(p[1])) * LEVELS + level(p[2])] += 1.0;
    }
    let n = f64::from(frame.width() * frame.height()).max(1.0);
    bins.iter_mut().for_each(|b| *b /= n);
    bins
}

/// A shot: frames `first..end` (0-based, end excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shot {
    /// Its first frame.
    pub first: usize,
    /// One past its last frame.
    pub end: usize,
}

/// The shots of frames `first..end` of the clip `reader` reads (from where it stands, at the
/// size it hands frames out), with each frame's change from the one before; `progress` hears
/// of each frame read.
/// `detector` has seen no frame yet.
pub fn find(
    reader: &mut ClipReader,
    (first, end): (usize, usize),
    mut detector: CutDetector,
    mut progress: impl FnMut(usize),
) -> Result<(Vec<Shot>, Vec<Option<Change>>)> {
    reader.seek(first)?;
    let (mut shots, mut changes) = (Vec::new(), Vec::new());
    let mut start = first;
    let mut index = first;
    while index < end {
        let Some(frame) = reader.next_frame()? else { break };
        let change = detector.push(&frame);
        if change.is_some_and(|c| c.is_cut()) {
            shots.push(Shot { first: start, end: index });
            start = index;
        }
        changes.push(change);
        index += 1;
        progress(index);
    }
    if index > start {
        shots.push(Shot { first: start, end: index });
    }
    Ok((shots, changes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A picture of soft stripes in two colours, shifted by `dx` pixels.
    fn stripes(dx: f32, a: [u8; 3], b: [u8; 3]) -> RgbImage {
        RgbImage::from_fn(192, 108, |x, y| {
            let t = (((x as f32 + dx) * 0.21).sin() * ((y as f32) * 0.13).cos() * 0.5 + 0.5).clamp(0.0, 1.0);
            image::Rgb([0, 1, 2].map(|c| (f32::from(a[c]) * t + f32::from(b[c]) * (1.0 - t)) as u8))
        })
    }

    #[test]
    fn a_pan_is_one_shot_and_a_change_of_scene_is_a_cut() {
        let mut detector = CutDetector::thorough();
        assert_eq!(detector.push(&stripes(0.0, [250, 200, 40], [20, 40, 160])), None);
        let pan = detector.push(&stripes(3.0, [250, 200, 40], [20, 40, 160])).unwrap();
        assert!(!pan.is_cut(), "{pan:?}");
        assert!(pan.explained.unwrap() > 0.8 && pan.colour < 0.1, "{pan:?}");
        let cut = detector.push(&stripes(40.0, [30, 220, 90], [200, 20, 60])).unwrap();
        assert!(cut.is_cut(), "{cut:?}");
    }

    #[test]
    fn the_quick_detector_decides_as_the_thorough_one_measuring_the_flow_only_where_colours_leave_it_open() {
        // A pan, a change of colours the flow explains (a fade's step), a cut, a new scene.
        let frames = [
            stripes(0.0, [250, 200, 40], [20, 40, 160]),
            stripes(3.0, [250, 200, 40], [20, 40, 160]),
            stripes(5.0, [150, 220, 40], [20, 140, 160]),
            stripes(40.0, [30, 220, 90], [200, 20, 60]),
            stripes(5.0, [0, 0, 0], [255, 255, 255]),
        ];
        let (mut quick, mut thorough) = (CutDetector::new(), CutDetector::thorough());
        let mut measured = 0;
        for frame in &frames {
            let (q, t) = (quick.push(frame), thorough.push(frame));
            assert_eq!(q.map(|c| c.is_cut()), t.map(|c| c.is_cut()), "{q:?} {t:?}");
            measured += usize::from(q.is_some_and(|c| c.explained.is_some()));
            if let Some(q) = q {
                assert_eq!(q.explained.is_none(), Change::colours_decide(q.colour));
            }
        }
        assert!(measured < frames.len() - 1, "the pan needs no flow");
    }

    #[test]
    fn identical_frames_have_no_colour_change() {
        let frame = stripes(0.0, [10, 20, 30], [200, 100, 0]);
        let mut detector = CutDetector::thorough();
        detector.push(&frame);
        let same = detector.push(&frame).unwrap();
        assert!(same.colour < 1e-12 && same.explained.unwrap() > 0.95, "{same:?}");
    }
}
