//! "Try styles…": a contact sheet in a window. By default each style image's instant look at
//! four strengths, all in a second or two; optimised, each style under each preset, rendered
//! small by the worker while the live run waits. Clicking a cell loads its look (its style and
//! preset or strength) into the settings, keeping the artist's photo, size and schedule.

use egui::Ui;

use super::ctx::Ctx;
use super::state::Live;
use super::Action;
use crate::notice::Notice;
use crate::transfer::spec::sheet_plan::{styles_by_presets, styles_by_strengths, SheetPlan};
use crate::transfer::Preset;
use crate::worker::Command;

/// Long side of a cell's render, in pixels.
pub const CELL: u32 = 160;
/// Iterations per cell.
pub const ITERATIONS: usize = 60;
/// The strengths an instant sheet compares.
pub const STRENGTHS: [f64; 4] = [0.25, 0.5, 0.75, 1.0];

/// The sheet being tried: its plan, the cells rendered so far and the progress.
pub struct TryStyles {
    /// What each cell renders.
    pub plan: SheetPlan,
    /// Each cell's picture, once rendered.
    cells: Vec<Option<egui::TextureHandle>>,
    /// Iterations done and in all, while rendering.
    pub progress: Option<(usize, usize)>,
    /// Cells optimised under each preset, rather than instant looks at several strengths.
    pub optimised: bool,
    /// Whether the window is open.
    pub open: bool,
}

impl TryStyles {
    /// How many cells are rendered.
    pub fn rendered(&self) -> usize {
        self.cells.iter().flatten().count()
    }
}

/// Plans the sheet into `sheet` and has the worker render it: every style image under every
/// one of `presets` in cells of `(size, iterations)`, or its instant look at several strengths.
pub(super) fn start(sheet: &mut Option<TryStyles>, (size, iterations): (u32, usize), presets: &[Preset], cx: &mut Ctx) {
    let spec = &cx.settings.spec;
    let Some(content) = spec.content.as_ref().map(|c| c.path.clone()) else {
        cx.say(Notice::error("Pick a content image first."));
        return;
    };
    let styles: Vec<_> = spec.styles.iter().map(|s| s.path.clone()).collect();
    let optimised = sheet.as_ref().is_some_and(|t| t.optimised);
    let plan = if optimised {
        styles_by_presets(spec, &content, &styles, presets, size, iterations)
    } else {
        styles_by_strengths(spec, &content, &styles, &STRENGTHS, size)
    };
    match plan {
        Ok(plan) => {
            let total = plan.iterations();
            *sheet = Some(TryStyles {
                cells: vec![None; plan.cells.len()],
                plan: plan.clone(),
                progress: Some((0, total)),
                open: true,
                optimised,
            });
            cx.live.worker.send(Command::Sheet(Box::new(plan)));
        }
        Err(e) => cx.say(Notice::error(e.to_string())),
    }
}

impl TryStyles {
    /// Takes the worker's finished cells and progress.
    pub(super) fn poll(&mut self, live: &mut Live, ctx: &egui::Context) {
        for (i, picture) in live.worker.take_sheet_cells() {
            if let Some(slot) = self.cells.get_mut(i) {
                let image = super::preview::to_color_image(&picture);
                *slot = Some(ctx.load_texture(format!("sheet-{i}"), image, Default::default()));
            }
        }
        self.progress = live.worker.sheet_progress();
    }

    /// Loads cell `i`'s look: its style and preset, keeping the photo, size and schedule.
    fn load_cell(&self, i: usize, cx: &mut Ctx) {
        let t = self;
        let Some(cell) = t.plan.cells.get(i) else { return };
        let label = format!("{} / {}", t.plan.rows[cell.row], t.plan.cols[cell.col]);
        let keep = &cx.settings.spec;
        let mut spec = cell.spec.clone();
        spec.size = keep.size;
        spec.schedule = keep.schedule.clone();
        spec.run.init = keep.run.init;
        spec.init_image = keep.init_image.clone();
        // The cell's look is a setting; how the sheet made it is not.
        spec.method = keep.method;
        cx.settings.spec = spec;
        cx.say(Notice::info(format!("Loaded the look of {label}: press Start to render it.")));
    }

    /// The "Try styles" window: progress, the grid with its labels, Cancel.
    pub(super) fn ui(&mut self, ctx: &egui::Context, cx: &mut Ctx) {
        let t = self;
        let mut open = t.open;
        let mut clicked = None;
        let mut cancel = false;
        let mut replan = false;
        // Wide enough for every column where the screen allows; the grid scrolls otherwise.
        let width = (t.plan.cols.len() as f32 * (CELL as f32 + 8.0) + 80.0).min(ctx.content_rect().width() - 40.0);
        egui::Window::new("Try styles").open(&mut open).resizable(true).default_width(width).show(ctx, |ui| {
            match t.progress {
                Some((done, total)) => {
                    ui.horizontal(|ui| {
                        let fraction = done as f32 / total.max(1) as f32;
                        ui.add(egui::ProgressBar::new(fraction).desired_width(240.0).show_percentage());
                        cancel = ui.button("Cancel").clicked();
                    });
                }
                None => {
                    ui.weak("Click a cell to use its look.");
                }
            }
            let hover = "Each style under each preset, optimised for a minute or so; otherwise each style's \
                         instant look at four strengths, in a second or two";
            replan = ui.checkbox(&mut t.optimised, "Optimised cells").on_hover_text(hover).changed();
            egui::ScrollArea::both().show(ui, |ui| grid_ui(ui, t, &mut clicked));
        });
        t.open = open;
        if cancel || (!open && t.progress.is_some()) {
            cx.live.worker.send(Command::CancelSheet);
        }
        if let Some(i) = clicked {
            t.load_cell(i, cx);
        }
        if replan {
            cx.ask(Action::TryStyles);
        }
    }
}

/// The labelled grid: a column per preset, a row per style; a spinner where a cell is pending.
fn grid_ui(ui: &mut Ui, t: &TryStyles, clicked: &mut Option<usize>) {
    let size = egui::vec2(CELL as f32, CELL as f32 * 0.75);
    egui::Grid::new("try-styles").spacing([6.0, 6.0]).show(ui, |ui| {
        ui.label("");
        for col in &t.plan.cols {
            ui.strong(col);
        }
        ui.end_row();
        for (r, row) in t.plan.rows.iter().enumerate() {
            ui.label(row);
            for (i, cell) in t.plan.cells.iter().enumerate().filter(|(_, c)| c.row == r) {
                match &t.cells[i] {
                    Some(tex) => {
                        let scale = (size.x / tex.size_vec2().x).min(size.y / tex.size_vec2().y);
                        let image = egui::Image::new((tex.id(), tex.size_vec2() * scale));
                        let label = format!("{} / {}", row, t.plan.cols[cell.col]);
                        let response = ui.add(egui::Button::image(image)).on_hover_text(format!("Use {label}"));
                        response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &label));
                        if response.clicked() {
                            *clicked = Some(i);
                        }
                    }
                    None => {
                        let (rect, _) = ui.allocate_exact_size(size, egui::Sense::hover());
                        ui.painter().rect_filled(rect, 4.0, ui.visuals().faint_bg_color);
                        if t.progress.is_some() {
                            egui::Spinner::new()
                                .paint_at(ui, egui::Rect::from_center_size(rect.center(), egui::vec2(16.0, 16.0)));
                        }
                    }
                }
            }
            ui.end_row();
        }
    });
}
