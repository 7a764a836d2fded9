//! Painting where each style goes: a brush on the preview paints the chosen style's mask, an
//! overlay shows every mask in its style's colour, and the panel holds the brush and the
//! layers. A stroke is painted into a working copy and committed when the button is released,
//! so a running render is steered once per stroke, not once per frame.

use egui::{Color32, Pos2, Rect, Ui};
use image::{GrayImage, Luma};

use super::ctx::Ctx;
use crate::imageio::fit_long_side;
use crate::transfer::{Mask, StyleMasks, Unpainted};

/// Long side of a newly painted mask, in pixels (resized to each stage when rendering).
pub const PAINT_SIDE: u32 = 1024;

/// The colour of style `k`'s mask in the overlay and the panel.
pub fn layer_colour(k: usize) -> Color32 {
    const COLOURS: [Color32; 6] = [
        Color32::from_rgb(255, 80, 60),
        Color32::from_rgb(60, 150, 255),
        Color32::from_rgb(90, 220, 90),
        Color32::from_rgb(250, 200, 40),
        Color32::from_rgb(200, 90, 255),
        Color32::from_rgb(40, 220, 220),
    ];
    COLOURS[k % COLOURS.len()]
}

/// The brush, the layer being painted and the stroke in progress (not persisted).
pub struct MaskEditor {
    /// Whether dragging on the preview paints (otherwise it pans).
    pub painting: bool,
    /// The style whose mask the brush paints.
    pub layer: usize,
    /// Brush radius in pixels of a [`PAINT_SIDE`] mask.
    pub radius: f32,
    /// 1: a hard edge; 0: soft from the centre.
    pub hardness: f32,
    /// The brush removes paint.
    pub erase: bool,
    /// Whether the overlay is drawn.
    pub show: bool,
    /// The stroke being painted: its layer, working copy and last brush position (mask pixels).
    stroke: Option<(usize, GrayImage, (f32, f32))>,
    /// The overlay texture and the masks it shows: redrawn whole when the masks change, and
    /// only where the brush went while a stroke is painted.
    overlay: Option<egui::TextureHandle>,
    shown: Vec<Option<Mask>>,
    /// The part of the stroke's layer painted since the overlay was last drawn: (x0, y0, x1,
    /// y1) in mask pixels, ends excluded.
    dirty: Option<(u32, u32, u32, u32)>,
}

impl Default for MaskEditor {
    fn default() -> Self {
        MaskEditor {
            painting: false,
            layer: 0,
            radius: 40.0,
            hardness: 0.6,
            erase: false,
            show: true,
            stroke: None,
            overlay: None,
            shown: Vec::new(),
            dirty: None,
        }
    }
}

/// Paints one dab at `centre` (pixels) into `img`: full strength within `hardness` of the
/// radius, fading linearly to nothing at the radius. Painting only adds, erasing only removes.
pub fn dab(img: &mut GrayImage, (cx, cy): (f32, f32), radius: f32, hardness: f32, erase: bool) {
    let r = radius.max(0.5);
    let inner = r * hardness.clamp(0.0, 1.0);
    let (w, h) = img.dimensions();
    let x0 = (cx - r).floor().max(0.0) as u32;
    let y0 = (cy - r).floor().max(0.0) as u32;
    let x1 = ((cx + r).ceil() as u32).min(w);
    let y1 = ((cy + r).ceil() as u32).min(h);
    for y in y0..y1 {
        for x in x0..x1 {
            let d = ((x as f32 + 0.5 - cx).powi(2) + (y as f32 + 0.5 - cy).powi(2)).sqrt();
            let strength = if d <= inner { 1.0 } else { ((r - d) / (r - inner).max(1e-3)).clamp(0.0, 1.0) };
            let level = (strength * 255.0).round() as u8;
            let p = img.get_pixel_mut(x, y);
            p[0] = if erase { p[0].min(255 - level) } else { p[0].max(level) };
        }
    }
}

/// Dabs along the segment from `a` to `b`, a quarter of the radius apart (a continuous line).
pub fn line(img: &mut GrayImage, a: (f32, f32), b: (f32, f32), radius: f32, hardness: f32, erase: bool) {
    let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
    let steps = (len / (radius * 0.25).max(0.5)).ceil().max(1.0) as usize;
    for i in 1..=steps {
        let t = i as f32 / steps as f32;
        dab(img, (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t), radius, hardness, erase);
    }
}

impl MaskEditor {
    /// Handles the brush over the picture drawn at `img` (screen rect) of a picture of
    /// `picture` pixels, and draws the overlay and the brush outline.
    pub fn preview_ui(
        &mut self,
        ui: &Ui,
        response: &egui::Response,
        img: Rect,
        masks: &mut StyleMasks,
        picture: (u32, u32),
    ) {
        if self.painting {
            self.brush(response, img, masks, picture);
        }
        if self.show {
            self.draw_overlay(ui, img, masks);
        }
        if self.painting {
            if let Some(p) = response.hover_pos() {
                let scale = img.width().max(img.height()) / PAINT_SIDE as f32;
                let colour = if self.erase { Color32::WHITE } else { layer_colour(self.layer) };
                ui.painter().circle_stroke(p, self.radius * scale, egui::Stroke::new(1.5, colour));
            }
        }
    }

    /// A drag paints the current layer; the stroke is committed when the button is released.
    fn brush(&mut self, response: &egui::Response, img: Rect, masks: &mut StyleMasks, picture: (u32, u32)) {
        let primary = response.dragged_by(egui::PointerButton::Primary)
            || response.drag_started_by(egui::PointerButton::Primary)
            || response.clicked();
        if let (true, Some(pos)) = (primary, response.interact_pointer_pos()) {
            let size = masks.get(self.layer).map_or_else(|| fit_long_side(picture, PAINT_SIDE), Mask::size);
            let at = to_mask(pos, img, size);
            let (radius, hardness, erase) = (self.brush_radius(size), self.hardness, self.erase);
            let from = match &mut self.stroke {
                Some((_, work, last)) => {
                    let from = *last;
                    line(work, from, at, radius, hardness, erase);
                    *last = at;
                    from
                }
                None => {
                    let mut work =
                        masks.get(self.layer).map_or_else(|| GrayImage::new(size.0, size.1), |m| m.image().clone());
                    dab(&mut work, at, radius, hardness, erase);
                    self.stroke = Some((self.layer, work, at));
                    at
                }
            };
            self.dirty = Some(grow_box(self.dirty, from, at, radius + 1.0, size));
        }
        let released = !response.dragged_by(egui::PointerButton::Primary) || response.drag_stopped();
        if released {
            if let Some((layer, work, _)) = self.stroke.take() {
                // A layer erased to nothing is no mask at all: the render may become unmasked.
                let mask = if work.pixels().all(|p| p[0] == 0) { None } else { Mask::new(work).ok() };
                masks.set(layer, mask);
            }
        }
    }

    /// The brush radius in pixels of a mask of `size` (the slider is in [`PAINT_SIDE`] pixels).
    fn brush_radius(&self, size: (u32, u32)) -> f32 {
        self.radius * size.0.max(size.1) as f32 / PAINT_SIDE as f32
    }

    /// Every mask in its style's colour, half transparent, over the picture.
    fn draw_overlay(&mut self, ui: &Ui, img: Rect, masks: &StyleMasks) {
        let masks_changed = self.shown.len() != masks.masks.len()
            || self.shown.iter().zip(&masks.masks).any(|(a, b)| match (a, b) {
                (Some(a), Some(b)) => !a.ptr_eq(b),
                (None, None) => false,
                _ => true,
            });
        // A box the brush left empty (it moved outside the picture) needs nothing redrawn.
        let dirty = self.dirty.take().filter(|d| d.2 > d.0 && d.3 > d.1);
        if masks_changed || self.overlay.is_none() || dirty.is_some() {
            self.shown = masks.masks.clone();
            let mut layers: Vec<(usize, &GrayImage)> =
                masks.masks.iter().enumerate().filter_map(|(k, m)| m.as_ref().map(|m| (k, m.image()))).collect();
            if let Some((k, work, _)) = &self.stroke {
                layers.retain(|l| l.0 != *k);
                layers.push((*k, work));
            }
            // While a stroke is painted, only the pixels the brush went over are redrawn (when
            // every mask has the overlay's size, as masks painted here do).
            let size = self.overlay.as_ref().map(|t| t.size());
            let same_size = |(w, h): (u32, u32)| size == Some([w as usize, h as usize]);
            match (&mut self.overlay, dirty) {
                (Some(tex), Some(rect)) if !masks_changed && layers.iter().all(|(_, m)| same_size(m.dimensions())) => {
                    let patch = overlay_patch(&layers, rect);
                    tex.set_partial([rect.0 as usize, rect.1 as usize], patch, egui::TextureOptions::LINEAR);
                }
                (Some(tex), _) => tex.set(overlay_image(&layers), egui::TextureOptions::LINEAR),
                (None, _) => {
                    let image = overlay_image(&layers);
                    self.overlay = Some(ui.ctx().load_texture("masks", image, egui::TextureOptions::LINEAR));
                }
            }
        }
        if let Some(tex) = &self.overlay {
            let uv = Rect::from_min_max(Pos2::ZERO, egui::pos2(1.0, 1.0));
            ui.painter().with_clip_rect(ui.clip_rect()).image(tex.id(), img, uv, Color32::WHITE);
        }
    }
}

/// The position `pos` on the picture drawn at `img` in the pixels of a mask of `size`.
fn to_mask(pos: Pos2, img: Rect, (w, h): (u32, u32)) -> (f32, f32) {
    ((pos.x - img.left()) / img.width() * w as f32, (pos.y - img.top()) / img.height() * h as f32)
}

/// `known` grown to cover a brush of `radius` moved from `a` to `b`, within a mask of `size`.
fn grow_box(
    known: Option<(u32, u32, u32, u32)>,
    a: (f32, f32),
    b: (f32, f32),
    radius: f32,
    (w, h): (u32, u32),
) -> (u32, u32, u32, u32) {
    let clamp = |v: f32, hi: u32| v.clamp(0.0, hi as f32) as u32;
    let new = (
        clamp(a.0.min(b.0) - radius, w),
        clamp(a.1.min(b.1) - radius, h),
        clamp(a.0.max(b.0) + radius + 1.0, w),
        clamp(a.1.max(b.1) + radius + 1.0, h),
    );
    match known {
        Some(k) => (k.0.min(new.0), k.1.min(new.1), k.2.max(new.2), k.3.max(new.3)),
        None => new,
    }
}

/// The overlay's colour at pixel `i` of masks of one size.
fn overlay_pixel(layers: &[(Color32, &[u8])], i: usize) -> Color32 {
    let (colour, level) =
        layers.iter().map(|(c, m)| (*c, m[i])).max_by_key(|&(_, v)| v).unwrap_or((Color32::TRANSPARENT, 0));
    let alpha = (u16::from(level) * 128 / 255) as u8;
    Color32::from_rgba_unmultiplied(colour.r(), colour.g(), colour.b(), alpha)
}

/// The part `(x0, y0, x1, y1)` of [`overlay_image`] for masks that all have one size.
fn overlay_patch(layers: &[(usize, &GrayImage)], (x0, y0, x1, y1): (u32, u32, u32, u32)) -> egui::ColorImage {
    let w = layers.first().map_or(0, |(_, m)| m.width() as usize);
    let raw: Vec<(Color32, &[u8])> = layers.iter().map(|&(k, m)| (layer_colour(k), m.as_raw().as_slice())).collect();
    let pixels = (y0..y1)
        .flat_map(|y| (x0..x1).map(move |x| y as usize * w + x as usize))
        .map(|i| overlay_pixel(&raw, i))
        .collect();
    egui::ColorImage::new([(x1 - x0) as usize, (y1 - y0) as usize], pixels)
}

/// The overlay of `layers` (style index, mask): each pixel in the colour of its strongest mask,
/// at up to half opacity. Masks of other sizes are sampled at the first one's size.
fn overlay_image(layers: &[(usize, &GrayImage)]) -> egui::ColorImage {
    let Some((_, first)) = layers.first() else { return egui::ColorImage::filled([1, 1], Color32::TRANSPARENT) };
    let (w, h) = first.dimensions();
    let resized: Vec<(Color32, std::borrow::Cow<'_, GrayImage>)> = layers
        .iter()
        .map(|&(k, m)| {
            let m = if m.dimensions() == (w, h) {
                std::borrow::Cow::Borrowed(m)
            } else {
                std::borrow::Cow::Owned(image::imageops::resize(m, w, h, image::imageops::FilterType::Triangle))
            };
            (layer_colour(k), m)
        })
        .collect();
    let raw: Vec<(Color32, &[u8])> = resized.iter().map(|(c, m)| (*c, m.as_raw().as_slice())).collect();
    let pixels = (0..(w * h) as usize).map(|i| overlay_pixel(&raw, i)).collect();
    egui::ColorImage::new([w as usize, h as usize], pixels)
}

impl MaskEditor {
    /// The side panel's masks section: paint mode, the layer per style, the brush, and what the
    /// unpainted rest does.
    pub(super) fn ui(&mut self, ui: &mut Ui, cx: &mut Ctx) {
        let n = cx.settings.spec.styles.len();
        let picture = cx.live.content_img.as_ref().map(|c| c.image.dimensions());
        let e = self;
        let masks = &mut cx.settings.spec.objective.masks;
        e.layer = e.layer.min(n.saturating_sub(1));
        ui.horizontal(|ui| {
            ui.add_enabled(n > 0 && picture.is_some(), egui::Checkbox::new(&mut e.painting, "Paint masks"))
                .on_hover_text(
                    "Drag on the preview to paint where the chosen style goes (right-drag pans). Once a mask is \
             painted, each style applies only where its mask is.",
                );
            ui.checkbox(&mut e.show, "Show masks");
        });
        for k in 0..n {
            ui.horizontal(|ui| {
                let (rect, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
                ui.painter().rect_filled(rect, 2.0, layer_colour(k));
                let coverage = masks
                    .get(k)
                    .map_or(String::from("not painted"), |m| format!("{:.0}% painted", 100.0 * m.coverage()));
                ui.selectable_value(&mut e.layer, k, format!("Style {}", k + 1));
                ui.weak(coverage);
            });
        }
        ui.add(super::panels::slider(&mut e.radius, 2.0..=256.0).logarithmic(true).text("Brush size"));
        ui.add(super::panels::slider(&mut e.hardness, 0.0..=1.0).text("Hardness"));
        ui.horizontal_wrapped(|ui| {
            ui.checkbox(&mut e.erase, "Eraser");
            let size = masks.get(e.layer).map(Mask::size).or(picture.map(|p| fit_long_side(p, PAINT_SIDE)));
            let painted = masks.get(e.layer).is_some();
            if ui.add_enabled(painted, egui::Button::new("Clear")).on_hover_text("Remove this style's mask").clicked() {
                masks.set(e.layer, None);
            }
            if ui.add_enabled(n > 0 && size.is_some(), egui::Button::new("Invert")).clicked() {
                if let Some((w, h)) = size {
                    let mut img = masks.get(e.layer).map_or_else(|| GrayImage::new(w, h), |m| m.image().clone());
                    img.pixels_mut().for_each(|p| *p = Luma([255 - p[0]]));
                    masks.set(e.layer, Mask::new(img).ok().filter(|m| !m.is_blank()));
                }
            }
            if ui
                .add_enabled(n > 0 && size.is_some(), egui::Button::new("Fill"))
                .on_hover_text("Paint everywhere")
                .clicked()
            {
                if let Some(size) = size {
                    masks.set(e.layer, Mask::filled(size, true).ok());
                }
            }
        });
        ui.horizontal(|ui| {
            ui.label("Unpainted").on_hover_text("What the picture does where no mask is painted");
            ui.selectable_value(&mut masks.unpainted, Unpainted::Content, "Keep photo");
            ui.selectable_value(&mut masks.unpainted, Unpainted::Blend, "Blend styles");
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hard_dab_fills_its_disc_and_a_soft_one_fades_to_its_edge() {
        let mut img = GrayImage::new(41, 41);
        dab(&mut img, (20.5, 20.5), 10.0, 1.0, false);
        assert_eq!(img.get_pixel(20, 20)[0], 255);
        assert_eq!(img.get_pixel(20, 11)[0], 255, "inside the radius");
        assert_eq!(img.get_pixel(20, 8)[0], 0, "outside");
        let mut soft = GrayImage::new(41, 41);
        dab(&mut soft, (20.5, 20.5), 10.0, 0.0, false);
        let (centre, mid, edge) = (soft.get_pixel(20, 20)[0], soft.get_pixel(20, 15)[0], soft.get_pixel(20, 11)[0]);
        assert!(centre > mid && mid > edge, "{centre} {mid} {edge}");
        // Erasing with the hard brush removes what it covers.
        dab(&mut img, (20.5, 20.5), 5.0, 1.0, true);
        assert_eq!((img.get_pixel(20, 20)[0], img.get_pixel(20, 12)[0]), (0, 255));
    }

    #[test]
    fn a_patch_of_the_overlay_is_that_part_of_the_whole_overlay() {
        let mut a = GrayImage::new(40, 30);
        let mut b = GrayImage::new(40, 30);
        dab(&mut a, (10.0, 10.0), 8.0, 0.5, false);
        dab(&mut b, (14.0, 12.0), 6.0, 1.0, false);
        let layers = [(0, &a), (1, &b)];
        let whole = overlay_image(&layers);
        let (x0, y0, x1, y1) = grow_box(None, (10.0, 10.0), (14.0, 12.0), 7.0, (40, 30));
        assert_eq!((x0, y0, x1, y1), (3, 3, 22, 20));
        let patch = overlay_patch(&layers, (x0, y0, x1, y1));
        for y in y0..y1 {
            for x in x0..x1 {
                let at = (y - y0) as usize * patch.width() + (x - x0) as usize;
                assert_eq!(patch.pixels[at], whole.pixels[y as usize * 40 + x as usize], "({x}, {y})");
            }
        }
        // Near an edge the box stops at the mask.
        assert_eq!(grow_box(Some((3, 3, 22, 20)), (39.0, 0.0), (39.0, 0.0), 5.0, (40, 30)), (3, 0, 40, 20));
    }

    #[test]
    fn a_line_leaves_no_gaps_between_dabs() {
        let mut img = GrayImage::new(100, 20);
        line(&mut img, (5.0, 10.0), (95.0, 10.0), 3.0, 1.0, false);
        assert!((5..95).all(|x| img.get_pixel(x, 10)[0] == 255));
    }
}
