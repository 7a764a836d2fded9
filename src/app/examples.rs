//! The first-run offer: while nothing is loaded, the empty preview shows the built-in example
//! pairs ([`crate::examples::PAIRS`]); one click unpacks that pair's pictures (on a task thread)
//! and starts rendering it with the current settings.

use std::collections::HashMap;
use std::path::PathBuf;

use image::RgbaImage;

use super::tasks::Tasks;
use super::App;
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
            |app, ctx, thumbs| app.example_thumbs(ctx, thumbs),
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
            |app, _, result| app.example_unpacked(result),
        );
    }
}

impl App {
    /// Whether the example pairs are offered: nothing is loaded and there is a folder for them.
    pub fn examples_offered(&self) -> bool {
        let spec = &self.settings.spec;
        self.panels.examples.dir.is_some() && spec.content.is_none() && spec.styles.is_empty()
    }

    /// The empty preview: what to do first, and the example pairs when they are offered.
    pub(super) fn empty_preview_ui(&mut self, ui: &mut egui::Ui) {
        ui.vertical_centered(|ui| {
            ui.add_space(ui.available_height() * 0.25);
            ui.label("Pick a content photo and a style painting, then press Start.");
            if !self.examples_offered() {
                return;
            }
            if !self.panels.examples.asked {
                self.panels.examples.asked = true;
                self.tasks.example_thumbs();
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
                self.choose_example(pair);
            }
        });
    }

    /// One pair: its two pictures and its name; true when clicked.
    fn pair_ui(&self, ui: &mut egui::Ui, pair: Pair) -> bool {
        let busy = self.panels.examples.unpacking.is_some();
        let credits = format!("{}\n{}", pair.content.credit, pair.style.credit);
        ui.group(|ui| {
            ui.vertical(|ui| {
                let mut clicked = false;
                ui.horizontal(|ui| {
                    for example in [pair.content, pair.style] {
                        match self.panels.examples.thumbs.get(example.file) {
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
    fn choose_example(&mut self, pair: Pair) {
        let Some(dir) = self.panels.examples.dir.clone() else { return };
        self.panels.examples.unpacking = Some(pair);
        self.tasks.unpack_pair(dir, pair);
    }

    /// The example's thumbnails arrived.
    pub(super) fn example_thumbs(&mut self, ctx: &egui::Context, thumbs: Vec<(&'static str, RgbaImage)>) {
        for (file, img) in thumbs {
            let tex =
                ctx.load_texture(format!("example-{file}"), super::preview::to_color_image(&img), Default::default());
            self.panels.examples.thumbs.insert(file, tex);
        }
    }

    /// The chosen pair is on disk (or could not be written): load it and start.
    pub(super) fn example_unpacked(&mut self, result: Result<(PathBuf, PathBuf), String>) {
        let Some(pair) = self.panels.examples.unpacking.take() else { return };
        let (content, style) = match result {
            Ok(paths) => paths,
            Err(e) => {
                self.notice = Some(Notice::error(format!("Could not unpack the example pictures: {e}")));
                return;
            }
        };
        let spec = &mut self.settings.spec;
        spec.content = Some(ImageRef::new(&content));
        spec.set_styles(&[style]);
        self.panels.to_locate.clear();
        self.start();
        if self.notice.is_none() {
            let credits = format!("{}; {}", pair.content.credit, pair.style.credit);
            self.notice = Some(Notice::info(format!("Rendering the example {}. {credits}.", pair.title())));
        }
    }
}
