//! A contact sheet's plan: a grid of small renders, contents x styles or styles x presets, each
//! cell a full spec (so any cell can be rendered large, or loaded into the app). The command
//! line's `sheet` and the app's "Try styles…" both render these plans, cell by cell with a Job.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::transfer::spec::options::Method;
use crate::transfer::spec::preset::Preset;
use crate::transfer::spec::RenderSpec;

/// One cell: where it goes and what it renders.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SheetCell {
    /// Row, from the top.
    pub row: usize,
    /// Column, from the left.
    pub col: usize,
    /// Its render.
    pub spec: RenderSpec,
}

/// The labelled grid and its cells, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct SheetPlan {
    /// Row labels.
    pub rows: Vec<String>,
    /// Column labels.
    pub cols: Vec<String>,
    /// The cells, row by row.
    pub cells: Vec<SheetCell>,
    /// Long side of each cell's render.
    pub size: u32,
}

impl SheetPlan {
    /// Units of work of the whole sheet: iterations, and one for each instant cell.
    pub fn iterations(&self) -> usize {
        self.cells.iter().map(|c| cell_work(&c.spec)).sum()
    }
}

/// Units of work of one cell: its iterations, or one for an instant look.
pub fn cell_work(spec: &RenderSpec) -> usize {
    match spec.method {
        Method::Instant => 1,
        Method::Optimise => spec.stages().iter().map(|s| s.iterations).sum(),
    }
}

/// A file's stem, for a label.
fn name(p: &Path) -> String {
    p.file_stem().map_or_else(|| p.display().to_string(), |s| s.to_string_lossy().into_owned())
}

/// `base` made small: `size` px, `iterations` in one stage, with this content and one style.
fn small(base: &RenderSpec, content: &Path, style: &Path, size: u32, iterations: usize) -> RenderSpec {
    let mut spec = base.clone();
    spec.content = Some(crate::transfer::spec::ImageRef::new(content));
    spec.set_styles(&[style.to_path_buf()]);
    spec.size = size;
    spec.schedule = crate::transfer::spec::Schedule { iterations, scales: 1, stages: Vec::new() };
    spec.init_image = None;
    if spec.run.init == crate::transfer::spec::options::Init::Image {
        spec.run.init = crate::transfer::spec::options::Init::Content;
    }
    spec
}

/// Rows of contents, columns of styles, each cell `base`'s look.
pub fn contents_by_styles(
    base: &RenderSpec,
    contents: &[PathBuf],
    styles: &[PathBuf],
    size: u32,
    iterations: usize,
) -> Result<SheetPlan> {
    let mut cells = Vec::new();
    for (row, content) in contents.iter().enumerate() {
        for (col, style) in styles.iter().enumerate() {
            cells.push(SheetCell { row, col, spec: small(base, content, style, size, iterations) });
        }
    }
    let rows = contents.iter().map(|p| name(p)).collect();
    checked(SheetPlan { rows, cols: styles.iter().map(|p| name(p)).collect(), cells, size })
}

/// Rows of styles, columns of presets, for one content photo.
pub fn styles_by_presets(
    base: &RenderSpec,
    content: &Path,
    styles: &[PathBuf],
    presets: &[Preset],
    size: u32,
    iterations: usize,
) -> Result<SheetPlan> {
    let mut cells = Vec::new();
    for (row, style) in styles.iter().enumerate() {
        for (col, preset) in presets.iter().enumerate() {
            let mut spec = small(base, content, style, size, iterations);
            preset.apply(&mut spec)?;
            cells.push(SheetCell { row, col, spec });
        }
    }
    let rows = styles.iter().map(|p| name(p)).collect();
    checked(SheetPlan { rows, cols: presets.iter().map(|p| p.name.clone()).collect(), cells, size })
}

/// Rows of styles, columns of instant looks at these strengths, for one content photo: every
/// cell in a fraction of a second.
pub fn styles_by_strengths(
    base: &RenderSpec,
    content: &Path,
    styles: &[PathBuf],
    strengths: &[f64],
    size: u32,
) -> Result<SheetPlan> {
    let mut cells = Vec::new();
    for (row, style) in styles.iter().enumerate() {
        for (col, &strength) in strengths.iter().enumerate() {
            let mut spec = small(base, content, style, size, base.schedule.iterations);
            spec.method = Method::Instant;
            spec.instant.strength = strength;
            cells.push(SheetCell { row, col, spec });
        }
    }
    let rows = styles.iter().map(|p| name(p)).collect();
    let cols = strengths.iter().map(|s| format!("Strength {:.0}%", s * 100.0)).collect();
    checked(SheetPlan { rows, cols, cells, size })
}

fn checked(plan: SheetPlan) -> Result<SheetPlan> {
    if plan.cells.is_empty() {
        return Err(Error::invalid("a contact sheet needs at least one content photo and one style"));
    }
    // A cell's settings are the artist's with a small size and one pair: what is wrong with
    // one is wrong with the settings, and said as such (not wrapped in a second "invalid").
    if let Some(bad) = plan.cells.iter().find_map(|c| c.spec.validate().err()) {
        return Err(bad);
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn styles_by_presets_gives_each_style_every_look_at_the_cell_size() {
        let mut base = RenderSpec::new("c.png", &["x.png".into()]);
        base.objective.masks.set(0, Some(crate::transfer::Mask::filled((4, 4), true).unwrap()));
        base.size = 2048;
        let presets = Preset::builtins();
        let styles = [PathBuf::from("a.jpg"), PathBuf::from("b.jpg")];
        let plan = styles_by_presets(&base, Path::new("c.png"), &styles, &presets[..3], 192, 40).unwrap();
        assert_eq!((plan.rows.len(), plan.cols.len(), plan.cells.len()), (2, 3, 6));
        assert_eq!(plan.rows, ["a", "b"]);
        let cell = &plan.cells[4];
        assert_eq!((cell.row, cell.col), (1, 1));
        assert_eq!(cell.spec.styles[0].path, PathBuf::from("b.jpg"));
        assert!(presets[1].matches(&cell.spec));
        assert_eq!((cell.spec.size, cell.spec.stages().len()), (192, 1));
        assert!(!cell.spec.objective.masks.is_active(), "a cell has one style and no masks");
        assert_eq!(plan.iterations(), 6 * 40);
    }

    #[test]
    fn an_instant_sheet_varies_the_strength_and_counts_one_unit_a_cell() {
        let base = RenderSpec::new("c.png", &["x.png".into()]);
        let styles = [PathBuf::from("a.jpg"), PathBuf::from("b.jpg")];
        let plan = styles_by_strengths(&base, Path::new("c.png"), &styles, &[0.5, 1.0], 192).unwrap();
        assert_eq!(plan.cols, ["Strength 50%", "Strength 100%"]);
        assert!(plan.cells.iter().all(|c| c.spec.method == Method::Instant));
        assert_eq!(plan.cells[1].spec.instant.strength, 1.0);
        assert_eq!(plan.iterations(), 4);
    }
}
