//! The first-run offer: while nothing is loaded, the empty preview shows the built-in example
//! pairs ([`crate::examples::PAIRS`]); one click unpacks that pair's pictures (on a task thread)
//! and starts rendering it with the current settings.

use std::collections::HashMap;
use std::path::PathBuf;

use image::RgbaImage;

use super::ctx::Ctx;
use super::settings::Settings;
use super::tasks::Tasks;
use crate::examples::{self, Example, Pair, PAIRS};
use crate::notice::Notice;
use crate::transfer::ImageRef;

/// Height of an example's thumbnail in the offer, in points.
const THUMB_HEIGHT: f32 = 110.0;

/// The example pairs on offer.
#[derive(Default)]
pub struct Offer {
    /// Where examples are unpacked (`None`: no examples are offered).
    pub dir: Option<PathBuf>,
    /// Thumbnails by file name, once decoded.
    thumbs: HashMap<&'static str, egui::TextureHandle>,
    /// Whether the thumbnails were asked for.
    asked: bool,
    /// The pair being unpacked.
    pub unpacking: Option<Pair>,
}

impl Offer {
    /// Examples unpack into `dir` (`None`: none are offered).
    pub fn new(dir: Option<PathBuf>) -> Self {
        Offer { dir, ..Offer::default() }
    }
}

impl Tasks {
    /// Decodes every example's thumbnail.
    fn example_thumbs(&mut self) {
        self.spawn(
            "examples",
            || {
                let mut all: Vec<Example> = PAIRS.iter().flat_map(|p| [p.content, p.style]).collect();
                all.sort_by_key(|e| e.file);
                all.dedup_by_key(|e| e.file);
                all.into_iter()
                    .filter_map(|e| {
                        // Built-in JPEGs checked by the examples' tests; one that failed would simply show no picture.
                        let img = image::load_from_memory(e.bytes).ok()?;
                        let h = (2.0 * THUMB_HEIGHT) as u32;
                        Some((e.file, img.thumbnail(h * 2, h).into_rgba8()))
                    })
                    .collect::<Vec<_>>()
            },
            |app, ctx, thumbs| app.panels.examples.thumbs_arrived(ctx, thumbs),
        );
    }

    /// Writes `pair`'s pictures into `dir`.
    fn unpack_pair(&mut self, dir: PathBuf, pair: Pair) {
        self.spawn(
            "examples",
            move || {
                let result = examples::unpack(&dir, &[pair.content, pair.style]);
                result.map(|paths| (paths[0].clone(), paths[1].clone())).map_err(|e| e.to_string())
            },
            |app, _, result| {
                let (panels, mut cx) = app.parts();
                let Some(pair) = panels.examples.unpacked(result, &mut cx) else { return };
                panels.to_locate.clear();
                app.start();
                if app.notice.is_none() {
                    let credits = format!("{}; {}", pair.content.credit, pair.style.credit);
                    app.notice = Some(Notice::info(format!("Rendering the example {}. {credits}.", pair.title())));
                }
            },
        );
    }
}

impl Offer {
    /// Whether the example pairs are offered with `settings`: nothing is loaded and there is a
    /// folder for them.
    pub fn offered(&self, settings: &Settings) -> bool {
        let spec = &settings.spec;
        self.dir.is_some() && spec.content.is_none() && spec.styles.is_empty()
    }

    /// The empty preview: what to do first, and the example pairs when they are offered.
    pub(super) fn empty_preview_ui(&mut self, ui: &mut egui::Ui, cx: &mut Ctx) {
        ui.vertical_centered(|ui| {
            ui.add_space(ui.available_height() * 0.25);
            ui.label("Pick a content photo and a style painting, then press Start.");
            if !self.offered(cx.settings) {
                return;
            }
            if !self.asked {
                self.asked = true;
                cx.tasks.example_thumbs();
            }
            ui.add_space(16.0);
            ui.heading("Or try an example");
            ui.add_space(8.0);
            let mut chosen = None;
            let width = PAIRS.len() as f32 * (2.0 * THUMB_HEIGHT + 24.0);
            ui.allocate_ui(egui::vec2(width.min(ui.available_width()), 2.0 * THUMB_HEIGHT), |ui| {
                ui.horizontal_wrapped(|ui| {
                    for pair in PAIRS {
                        if self.pair_ui(ui, pair) {
                            chosen = Some(pair);
                        }
                    }
                });
            });
            if let Some(pair) = chosen {
                self.choose(pair, cx.tasks);
            }
        });
    }

    /// One pair: its two pictures and its name; true when clicked.
    fn pair_ui(&self, ui: &mut egui::Ui, pair: Pair) -> bool {
        let busy = self.unpacking.is_some();
        let credits = format!("{}\n{}", pair.content.credit, pair.style.credit);
        ui.group(|ui| {
            ui.vertical(|ui| {
                let mut clicked = false;
                ui.horizontal(|ui| {
                    for example in [pair.content, pair.style] {
                        match self.thumbs.get(example.file) {
                            Some(tex) => {
                                // Each picture centred in a square slot, so every card has the same size.
                                let image = egui::Image::new(tex).max_size(egui::vec2(THUMB_HEIGHT, THUMB_HEIGHT));
                                let slot = egui::vec2(THUMB_HEIGHT, THUMB_HEIGHT);
                                clicked |= ui.add_sized(slot, image.sense(egui::Sense::click())).clicked();
                            }
                            None => {
                                ui.add_sized(egui::vec2(THUMB_HEIGHT, THUMB_HEIGHT), egui::Spinner::new());
                            }
                        }
                    }
                });
                let button = ui.add_enabled(!busy, egui::Button::new(pair.title()));
                (button.on_hover_text(credits).clicked() || clicked) && !busy
            })
            .inner
        })
        .inner
    }

    /// Unpacks `pair`'s pictures; the render starts when they are on disk.
    fn choose(&mut self, pair: Pair, tasks: &mut Tasks) {
        let Some(dir) = self.dir.clone() else { return };
        self.unpacking = Some(pair);
        tasks.unpack_pair(dir, pair);
    }

    /// The example's thumbnails arrived.
    fn thumbs_arrived(&mut self, ctx: &egui::Context, thumbs: Vec<(&'static str, RgbaImage)>) {
        for (file, img) in thumbs {
            let tex =
                ctx.load_texture(format!("example-{file}"), super::preview::to_color_image(&img), Default::default());
            self.thumbs.insert(file, tex);
        }
    }

    /// The chosen pair is on disk (or could not be written): its pictures become the settings'
    /// (the caller starts the render); `None` when they could not be written.
    fn unpacked(&mut self, result: Result<(PathBuf, PathBuf), String>, cx: &mut Ctx) -> Option<Pair> {
        let pair = self.unpacking.take()?;
        let (content, style) = match result {
            Ok(paths) => paths,
            Err(e) => {
                cx.say(Notice::error(format!("Could not unpack the example pictures: {e}")));
                return None;
            }
        };
        let spec = &mut cx.settings.spec;
        spec.content = Some(ImageRef::new(&content));
        spec.set_styles(&[style]);
        Some(pair)
    }
}
