//! A clip's timeline: the Frame slider, and under it the clip's shots (found on a task), each
//! cut marked, with the shot the frame shown belongs to.

use std::path::Path;

use egui::Ui;

use crate::imageio::fit_long_side;
use crate::video::clip::ClipReader;
use crate::video::shots::{self, Shot};

/// The shots of the clip at `path`, read at `size` (the render's long side); `None` when it
/// cannot be read through (the clip's own task says why).
pub(super) fn find_shots(path: &Path, size: u32) -> Option<Vec<Shot>> {
    let mut reader = ClipReader::open(path).ok()?;
    let frames = reader.info().frames;
    reader.scale_to(fit_long_side(reader.info().size, size));
    shots::find(&mut reader, (0, frames), shots::CutDetector::new(), |_| {}).ok().map(|(shots, _)| shots)
}

/// The Frame slider over `frames` frames at `frame` (from 0), with the shots under it; returns
/// the frame asked for, when the artist moved it.
pub(super) fn timeline_ui(ui: &mut Ui, frame: usize, frames: usize, shots: Option<&[Shot]>) -> Option<usize> {
    let mut shown = frame + 1;
    let slider = ui.add(egui::Slider::new(&mut shown, 1..=frames.max(1)).text("Frame"));
    let slider = slider.on_hover_text("The frame shown and steered; the clip renders every frame with its look");
    let mut asked = (slider.changed() && shown != frame + 1).then(|| shown - 1);
    let Some(shots) = shots else {
        ui.weak("Finding the shots…");
        return asked;
    };
    // The cuts, as ticks on a strip as wide as the slider's rail.
    let width = ui.spacing().slider_width;
    let (rect, strip) = ui.allocate_exact_size(egui::vec2(width, 8.0), egui::Sense::click());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
    let x = |f: usize| rect.left() + rect.width() * f as f32 / frames.max(1) as f32;
    for (n, shot) in shots.iter().enumerate() {
        let colour = if n % 2 == 0 { ui.visuals().selection.bg_fill } else { ui.visuals().widgets.active.bg_fill };
        let span = egui::Rect::from_x_y_ranges(x(shot.first)..=x(shot.end), rect.y_range());
        painter.rect_filled(span.shrink2(egui::vec2(0.5, 1.0)), 1.0, colour.gamma_multiply(0.6));
    }
    if let Some(pos) = strip.clicked().then(|| strip.interact_pointer_pos()).flatten() {
        let at = ((pos.x - rect.left()) / rect.width() * frames as f32) as usize;
        // A click on the strip goes to the start of the shot clicked.
        asked = shots.iter().find(|s| (s.first..s.end).contains(&at)).map(|s| s.first);
    }
    let current = shots.iter().position(|s| (s.first..s.end).contains(&frame)).map_or(0, |n| n + 1);
    let text = match shots.len() {
        1 => "One shot: no cuts".to_string(),
        n => format!("Shot {current} of {n} (cuts render as new starts; click a shot to go to it)"),
    };
    strip.on_hover_text(&text);
    ui.weak(text);
    asked
}
