//! A labelled grid of pictures: the contact sheet's layout and drawing. Column labels run along
//! the top, row labels down the left; each picture is fitted, centred, into its square cell.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use image::{imageops, Rgb, RgbImage};

use crate::error::{Error, Result};
use crate::imageio::fit_long_side;

const BACKGROUND: Rgb<u8> = Rgb([32, 32, 32]);
const TEXT: Rgb<u8> = Rgb([230, 230, 230]);
const EMPTY: Rgb<u8> = Rgb([60, 60, 60]);
const PAD: u32 = 8;
const HEADER: u32 = 30;
const ROW_LABEL: u32 = 170;
const TEXT_PX: f32 = 16.0;

/// Row and column labels of a grid, and its cells' side in pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// One label per row, top to bottom.
    pub rows: Vec<String>,
    /// One label per column, left to right.
    pub cols: Vec<String>,
    /// Side of the square each picture is fitted into.
    pub cell: u32,
}

impl Grid {
    /// The whole sheet's (width, height).
    pub fn size(&self) -> (u32, u32) {
        let n = |k: usize| k as u32 * (self.cell + PAD) + PAD;
        (ROW_LABEL + n(self.cols.len()), HEADER + n(self.rows.len()))
    }

    /// Top-left corner of cell (`row`, `col`).
    pub fn origin(&self, row: usize, col: usize) -> (u32, u32) {
        (ROW_LABEL + PAD + col as u32 * (self.cell + PAD), HEADER + PAD + row as u32 * (self.cell + PAD))
    }

    /// Draws the sheet: labels, and `cells` (row-major; `None` draws an empty cell, for a
    /// picture that failed or was not rendered).
    pub fn draw(&self, cells: &[Option<RgbImage>]) -> Result<RgbImage> {
        if cells.len() != self.rows.len() * self.cols.len() {
            return Err(Error::internal(format!(
                "{} cells for a {}x{} grid",
                cells.len(),
                self.rows.len(),
                self.cols.len()
            )));
        }
        let font = FontRef::try_from_slice(epaint_default_fonts::UBUNTU_LIGHT)
            .map_err(|e| Error::internal(format!("the label font: {e}")))?;
        let (w, h) = self.size();
        let mut sheet = RgbImage::from_pixel(w, h, BACKGROUND);
        for (c, label) in self.cols.iter().enumerate() {
            let (x, _) = self.origin(0, c);
            text(&mut sheet, &font, label, (x, (HEADER - TEXT_PX as u32) / 2 + PAD / 2), self.cell);
        }
        for (r, label) in self.rows.iter().enumerate() {
            let (_, y) = self.origin(r, 0);
            text(&mut sheet, &font, label, (PAD, y + self.cell / 2 - TEXT_PX as u32 / 2), ROW_LABEL - 2 * PAD);
        }
        for (i, cell) in cells.iter().enumerate() {
            let (x, y) = self.origin(i / self.cols.len(), i % self.cols.len());
            match cell {
                Some(picture) => {
                    let (fw, fh) = fit_long_side(picture.dimensions(), self.cell);
                    let fitted = imageops::resize(picture, fw, fh, imageops::FilterType::Triangle);
                    let (dx, dy) = ((self.cell - fw) / 2, (self.cell - fh) / 2);
                    imageops::replace(&mut sheet, &fitted, i64::from(x + dx), i64::from(y + dy));
                }
                None => {
                    let blank = RgbImage::from_pixel(self.cell, self.cell, EMPTY);
                    imageops::replace(&mut sheet, &blank, i64::from(x), i64::from(y));
                }
            }
        }
        Ok(sheet)
    }
}

/// Draws `label` with its top-left at `at`, cut with an ellipsis to `max_width` pixels.
fn text(img: &mut RgbImage, font: &FontRef<'_>, label: &str, at: (u32, u32), max_width: u32) {
    let scaled = font.as_scaled(PxScale::from(TEXT_PX));
    let width = |s: &str| s.chars().map(|c| scaled.h_advance(scaled.glyph_id(c))).sum::<f32>();
    let mut shown: String = label.to_string();
    while width(&shown) > max_width as f32 && !shown.is_empty() {
        shown.pop();
        shown = format!("{}…", shown.trim_end_matches('…'));
        if shown == "…" {
            break;
        }
    }
    let mut x = at.0 as f32;
    let baseline = at.1 as f32 + scaled.ascent();
    for c in shown.chars() {
        let id = scaled.glyph_id(c);
        let glyph = id.with_scale_and_position(TEXT_PX, ab_glyph::point(x, baseline));
        x += scaled.h_advance(id);
        let Some(outline) = font.outline_glyph(glyph) else { continue };
        let bounds = outline.px_bounds();
        outline.draw(|gx, gy, coverage| {
            let (px, py) = (bounds.min.x as i64 + i64::from(gx), bounds.min.y as i64 + i64::from(gy));
            if px < 0 || py < 0 || px >= i64::from(img.width()) || py >= i64::from(img.height()) {
                return;
            }
            let p = img.get_pixel_mut(px as u32, py as u32);
            for ch in 0..3 {
                let (bg, fg) = (f32::from(p[ch]), f32::from(TEXT[ch]));
                p[ch] = (bg + (fg - bg) * coverage.clamp(0.0, 1.0)).round() as u8;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sheet_places_each_picture_in_its_cell_and_draws_the_labels() {
        let grid = Grid { rows: vec!["photo".into(), "second".into()], cols: vec!["Bold".into()], cell: 40 };
        let red = RgbImage::from_pixel(40, 20, Rgb([255, 0, 0]));
        let sheet = grid.draw(&[Some(red), None]).unwrap();
        assert_eq!(sheet.dimensions(), grid.size());
        let (x, y) = grid.origin(0, 0);
        assert_eq!(*sheet.get_pixel(x + 20, y + 20), Rgb([255, 0, 0]), "the picture, centred");
        assert_eq!(*sheet.get_pixel(x + 20, y + 2), BACKGROUND, "letterboxed above");
        let (x, y) = grid.origin(1, 0);
        assert_eq!(*sheet.get_pixel(x + 20, y + 20), EMPTY, "an empty cell");
        let lit = |x0: u32, y0: u32, w: u32, h: u32| {
            (x0..x0 + w)
                .flat_map(|x| (y0..y0 + h).map(move |y| (x, y)))
                .filter(|&(x, y)| sheet.get_pixel(x, y)[0] > 128)
                .count()
        };
        assert!(lit(grid.origin(0, 0).0, 0, 40, HEADER) > 10, "a column label");
        assert!(lit(0, grid.origin(0, 0).1, ROW_LABEL, 40) > 10, "a row label");
        assert!(grid.draw(&[None]).is_err(), "cells must fill the grid");
    }
}
