//! The central panel: an earlier session's render offered back, the loss curves, the view's
//! controls and the preview (the live picture, a snapshot, or the clip's frames playing), on
//! which masks are painted; or, with nothing loaded, the example pairs.

use std::sync::Arc;

use image::RgbaImage;

use super::ctx::Ctx;
use super::state::{Live, Panels};
use super::{preview, status};

impl Panels {
    /// The central panel, beside the side panel and above the status bar.
    pub(super) fn central_ui(&mut self, ui: &mut egui::Ui, cx: &mut Ctx) {
        self.autosave.restore_ui(ui, cx);
        egui::CollapsingHeader::new("Loss curves").default_open(true).show(ui, |ui| status::loss_plot(ui, cx.live));
        self.view_ui(ui);
        // A selected snapshot shows alone, or as the "before" beside the live image.
        let playing = self.clip.playback.as_ref().and_then(|p| p.shown.as_ref());
        let live = &*cx.live;
        let (shown, beside) = match (self.film.shown(), self.film.compare) {
            _ if playing.is_some() => (playing, playing),
            (Some(snap), false) => (Some(snap), live.content_img.as_ref()),
            (Some(snap), true) => (live.result.as_ref(), Some(snap)),
            (None, _) => (live.result.as_ref(), live.content_img.as_ref()),
        };
        if self.film.shown().is_some() && self.film.compare && self.view.split.is_none() {
            self.view.split = Some(0.5);
        }
        match (shown, beside) {
            (Some(r), Some(c)) => {
                let painting = self.masks.painting;
                let (response, img) = preview::show(ui, &mut self.view, r, c, &mut self.fallback_texture, painting);
                let picture = r.image.dimensions();
                self.masks.preview_ui(ui, &response, img, &mut cx.settings.spec.objective.masks, picture);
                self.preview_rect = Some(img);
            }
            _ => self.examples.empty_preview_ui(ui, cx),
        }
    }

    /// The picture the preview shows: the clip's frame playing, the selected snapshot, or the
    /// live picture.
    pub(super) fn shown_picture(&self, live: &Live) -> Option<Arc<RgbaImage>> {
        let playing = self.clip.playback.as_ref().and_then(|p| p.shown.as_ref());
        playing.or(self.film.shown()).or(live.result.as_ref()).map(|v| v.image.clone())
    }

    /// Before/after, Fit, 100% and the zoom shown.
    fn view_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let mut split = self.view.split.is_some();
            if ui.checkbox(&mut split, "Before/after").changed() {
                self.view.split = split.then_some(0.5);
            }
            if ui.button("Fit").clicked() {
                self.view.fit();
            }
            let ppp = ui.ctx().pixels_per_point();
            if ui.button("100%").on_hover_text("One picture pixel per screen pixel").clicked() {
                self.view.actual_pixels(ppp);
            }
            if let Some(p) = self.view.percent(ppp) {
                ui.weak(format!("{p:.0}%"));
            }
        });
    }
}
