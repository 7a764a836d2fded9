//! Coarse-to-fine schedules: optimise a small image first, then upscale it and continue at the
//! next size. Low resolutions settle the large structures cheaply, so far fewer iterations are
//! needed at full size.

/// Smallest stage worth running (relu5_1 still sees a few pixels).
const MIN_STAGE: u32 = 96;
/// Long side at which the automatic schedule settles the picture: the size the default look is
/// tuned at, where VGG's receptive field spans the painting's strokes.
pub const WORKING_SIZE: u32 = 512;
/// Outputs up to this long side run in one stage by default (a stage from 512 would be a step
/// of less than 1.25x, not worth a restart of the optimiser).
pub const SINGLE_STAGE_UP_TO: u32 = 640;
/// Fewest iterations a larger stage of the automatic schedule runs.
const MIN_LATER_ITERATIONS: usize = 10;

/// One stage: the long side and how many iterations to run there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stage {
    /// Long side in pixels.
    pub size: u32,
    /// Iterations at this size.
    pub iterations: usize,
}

/// A schedule of `scales` stages ending at `size`, each stage twice as large as the one before
/// (never below 96 px). `iterations` is the full-size budget: the final stage gets half of it and
/// each smaller stage as many as the final one, since its iterations cost 4x less.
/// With `scales` = 1 this is a single stage of `iterations`.
pub fn coarse_to_fine(size: u32, scales: usize, iterations: usize) -> Vec<Stage> {
    let mut sizes = vec![size];
    while sizes.len() < scales.max(1) {
        let next = sizes[sizes.len() - 1] / 2;
        if next < MIN_STAGE {
            break;
        }
        sizes.push(next);
    }
    sizes.reverse();
    if sizes.len() == 1 {
        return vec![Stage { size, iterations }];
    }
    let per_stage = iterations.div_ceil(2).max(1);
    sizes.into_iter().map(|size| Stage { size, iterations: per_stage }).collect()
}

/// The default schedule: outputs up to [`SINGLE_STAGE_UP_TO`] run `iterations` at their size.
/// Larger ones run `iterations` at [`WORKING_SIZE`], where the composition and the strokes
/// settle at the scale the look is tuned at, then go up by equal factors of at most 2 to `size`,
/// each larger stage warm-started from the one before and adding only the finer detail: the
/// first larger stage runs a fifth of `iterations`, each further one half as many as the one
/// before (iterations there cost 2-4x more, and many of them would re-texture the picture at
/// the finer scale VGG sees at that size), never fewer than 10.
pub fn automatic(size: u32, iterations: usize) -> Vec<Stage> {
    if size <= SINGLE_STAGE_UP_TO {
        return vec![Stage { size, iterations }];
    }
    let mut stages = vec![Stage { size: WORKING_SIZE, iterations }];
    stages.extend(grow(WORKING_SIZE, size, iterations));
    stages
}

/// The larger stages that take a picture settled at long side `from` to `to` (nothing when `to`
/// is not larger): equal steps of at most 2x, the first running a fifth of `iterations`, each
/// further one half as many as the one before, never fewer than 10.
pub fn grow(from: u32, to: u32, iterations: usize) -> Vec<Stage> {
    if to <= from {
        return Vec::new();
    }
    let ratio = f64::from(to) / f64::from(from);
    let steps = ratio.log2().ceil().max(1.0) as i32;
    let factor = ratio.powf(1.0 / f64::from(steps));
    let mut later = (iterations / 5).max(MIN_LATER_ITERATIONS);
    (1..=steps)
        .map(|k| {
            let size = if k == steps { to } else { (f64::from(from) * factor.powi(k)).round() as u32 };
            let stage = Stage { size, iterations: later };
            later = (later / 2).max(MIN_LATER_ITERATIONS);
            stage
        })
        .collect()
}

/// Seconds left in `stages` after `done` updates, when an update at the size of the stage in
/// progress takes `seconds`: an update costs about its stage's pixel count, so each remaining one
/// is scaled by its stage's area over the current stage's.
pub fn seconds_left(stages: &[Stage], done: usize, seconds: f64) -> f64 {
    let mut start = 0;
    let mut current = None;
    let mut left = Vec::with_capacity(stages.len());
    for s in stages {
        let remaining = (start + s.iterations).saturating_sub(done.max(start));
        if current.is_none() && remaining > 0 {
            current = Some(s.size);
        }
        left.push((s.size, remaining));
        start += s.iterations;
    }
    let Some(now) = current else { return 0.0 };
    let area = |size: u32| f64::from(size) * f64::from(size);
    left.iter().map(|&(size, n)| n as f64 * seconds * area(size) / area(now)).sum()
}

/// The share of the work of `stages` done after `done` updates, each update weighted by its
/// stage's area (0 to 1).
pub fn work_done(stages: &[Stage], done: usize) -> f64 {
    let area = |size: u32| f64::from(size) * f64::from(size);
    let (mut start, mut finished, mut all) = (0, 0.0, 0.0);
    for s in stages {
        finished += done.saturating_sub(start).min(s.iterations) as f64 * area(s.size);
        all += s.iterations as f64 * area(s.size);
        start += s.iterations;
    }
    if all > 0.0 {
        finished / all
    } else {
        1.0
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.size, self.iterations)
    }
}

impl std::str::FromStr for Stage {
    type Err = String;

    /// Parses `SIZExITERATIONS`, e.g. `1024x80`.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let bad = || format!("a stage is SIZExITERATIONS, e.g. 1024x80, got {s:?}");
        let (size, iterations) = s.trim().split_once(['x', 'X']).ok_or_else(bad)?;
        Ok(Stage {
            size: size.trim().parse().map_err(|_| bad())?,
            iterations: iterations.trim().parse().map_err(|_| bad())?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_double_up_to_the_target() {
        assert_eq!(coarse_to_fine(512, 1, 200), vec![Stage { size: 512, iterations: 200 }]);
        let s = coarse_to_fine(512, 3, 200);
        assert_eq!(s.iter().map(|s| s.size).collect::<Vec<_>>(), vec![128, 256, 512]);
        assert_eq!(s[2].iterations, 100);
        // Never below the minimum stage size.
        assert_eq!(coarse_to_fine(256, 4, 100).iter().map(|s| s.size).collect::<Vec<_>>(), vec![128, 256]);
    }

    #[test]
    fn the_automatic_schedule_settles_at_512_and_grows_by_at_most_2x_with_fewer_iterations() {
        let sizes = |s: &[Stage]| s.iter().map(|s| s.size).collect::<Vec<_>>();
        assert_eq!(automatic(512, 300), vec![Stage { size: 512, iterations: 300 }]);
        assert_eq!(automatic(640, 300), vec![Stage { size: 640, iterations: 300 }]);
        assert_eq!(sizes(&automatic(800, 300)), vec![512, 800]);
        assert_eq!(
            automatic(1024, 300),
            vec![Stage { size: 512, iterations: 300 }, Stage { size: 1024, iterations: 60 }]
        );
        let s = automatic(1400, 300);
        assert_eq!(sizes(&s), vec![512, 847, 1400]);
        assert_eq!(s[2].iterations, 30);
        let s = automatic(4096, 300);
        assert_eq!(sizes(&s), vec![512, 1024, 2048, 4096]);
        assert_eq!(s.iter().map(|s| s.iterations).collect::<Vec<_>>(), vec![300, 60, 30, 15]);
        for w in automatic(8192, 40).windows(2) {
            let f = f64::from(w[1].size) / f64::from(w[0].size);
            assert!((1.25..=2.0).contains(&f), "{w:?}");
            assert!(w[1].iterations >= 10);
        }
    }

    #[test]
    fn time_left_counts_larger_stages_by_their_area() {
        let stages = [Stage { size: 512, iterations: 10 }, Stage { size: 1024, iterations: 5 }];
        assert_eq!(seconds_left(&stages, 0, 1.0), 10.0 + 5.0 * 4.0);
        assert_eq!(seconds_left(&stages, 8, 1.0), 2.0 + 20.0);
        // In the large stage an update takes 4 s: 2 left.
        assert_eq!(seconds_left(&stages, 13, 4.0), 8.0);
        assert_eq!(seconds_left(&stages, 15, 4.0), 0.0);
        assert_eq!(work_done(&stages, 10), 10.0 / 30.0);
        assert_eq!(work_done(&stages, 15), 1.0);
    }

    #[test]
    fn stages_parse_and_print_as_size_x_iterations() {
        let s: Stage = " 1024x80".parse().unwrap();
        assert_eq!(s, Stage { size: 1024, iterations: 80 });
        assert_eq!(s.to_string(), "1024x80");
        assert!("1024".parse::<Stage>().unwrap_err().contains("SIZExITERATIONS"));
        assert!("ax5".parse::<Stage>().is_err());
    }
}
