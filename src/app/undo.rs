//! Undo and redo of every change the artist makes to the render's settings: sliders (a drag is
//! one step: a change is recorded once the pointer is up), looks, presets, images, masks,
//! stages, print and colour settings, Reset. The settings are a value, so a step is the value
//! on the other side; masks, the only large part, are kept as what changed (the box a stroke
//! touched) rather than whole. An undone setting goes back to the running render exactly as the
//! change did: the app steers toward the settings shown, in place or by a restart.

use super::ctx::Ctx;
use super::settings::Settings;
use crate::notice::Notice;
use crate::transfer::{check_sources, Mask, RenderSpec, StyleMasks};

/// At most this many steps are kept each way.
pub const MAX_STEPS: usize = 200;
/// And at most this many bytes of mask pixels in all (the oldest steps go first).
pub const MAX_MASK_BYTES: usize = 64 << 20;

/// What undo covers: the render's settings and the print size (not the folders remembered or
/// the file-browser preference).
#[derive(Debug, Clone, PartialEq)]
pub struct Edit {
    /// The render's settings.
    pub spec: RenderSpec,
    /// The print's long side.
    pub print_size: u32,
}

/// The undo and redo stacks.
pub struct Undo {
    past: Vec<Step>,
    future: Vec<Step>,
    /// The settings as last recorded: a change is told from them.
    last: Edit,
}

/// How to go from the settings on one side of a change to those on the other.
struct Step {
    /// The other side's settings, their masks set aside.
    edit: Edit,
    /// The other side's mask of each style, as a change to this side's.
    masks: Vec<MaskChange>,
}

/// One style's mask on the other side of a step.
enum MaskChange {
    /// The same mask.
    Same,
    /// A different mask altogether (a layer filled, cleared, loaded, added or removed).
    Whole(Option<Mask>),
    /// The same mask but for a box (a stroke): its place and the other side's pixels there.
    Patch { x: u32, y: u32, w: u32, h: u32, pixels: Vec<u8> },
}

impl MaskChange {
    /// Mask pixels this change keeps.
    fn bytes(&self) -> usize {
        match self {
            MaskChange::Same | MaskChange::Whole(None) => 0,
            MaskChange::Whole(Some(m)) => m.image().len(),
            MaskChange::Patch { pixels, .. } => pixels.len(),
        }
    }
}

impl Step {
    /// The step that takes `here` to `there`.
    fn between(here: &Edit, there: &Edit) -> Step {
        let (ours, theirs) = (&here.spec.objective.masks.masks, &there.spec.objective.masks.masks);
        let masks =
            theirs.iter().enumerate().map(|(k, m)| change(ours.get(k).and_then(Option::as_ref), m.as_ref())).collect();
        let mut edit = there.clone();
        edit.spec.objective.masks.masks.clear();
        Step { edit, masks }
    }

    /// The settings on the other side of this step, from `here`.
    fn apply(&self, here: &Edit) -> Edit {
        let ours = &here.spec.objective.masks.masks;
        let masks = self
            .masks
            .iter()
            .enumerate()
            .map(|(k, c)| {
                let mine = ours.get(k).cloned().flatten();
                match c {
                    MaskChange::Same => mine,
                    MaskChange::Whole(m) => m.clone(),
                    MaskChange::Patch { x, y, w, h, pixels } => mine.map(|m| patched(&m, (*x, *y, *w, *h), pixels)),
                }
            })
            .collect();
        let mut there = self.edit.clone();
        there.spec.objective.masks = StyleMasks { masks, ..self.edit.spec.objective.masks.clone() };
        there
    }

    fn bytes(&self) -> usize {
        self.masks.iter().map(MaskChange::bytes).sum()
    }
}

/// How `there` differs from `here`, one style's mask.
fn change(here: Option<&Mask>, there: Option<&Mask>) -> MaskChange {
    let (Some(a), Some(b)) = (here, there) else {
        return if here.is_none() && there.is_none() { MaskChange::Same } else { MaskChange::Whole(there.cloned()) };
    };
    if a.ptr_eq(b) {
        return MaskChange::Same;
    }
    if a.size() != b.size() {
        return MaskChange::Whole(Some(b.clone()));
    }
    // The box of the pixels that differ (rows compared whole: a stroke touches a few).
    let (w, _) = b.size();
    let (ia, ib) = (a.image(), b.image());
    let rows: Vec<u32> = (0..b.size().1)
        .filter(|&y| {
            let r = (y * w) as usize..((y + 1) * w) as usize;
            ia.as_raw()[r.clone()] != ib.as_raw()[r]
        })
        .collect();
    let (Some(&y0), Some(&y1)) = (rows.first(), rows.last()) else { return MaskChange::Same };
    let (mut x0, mut x1) = (w, 0);
    for y in y0..=y1 {
        for x in 0..w {
            if ia.get_pixel(x, y) != ib.get_pixel(x, y) {
                x0 = x0.min(x);
                x1 = x1.max(x);
            }
        }
    }
    let (pw, ph) = (x1 + 1 - x0, y1 + 1 - y0);
    let pixels = (y0..=y1).flat_map(|y| (x0..=x1).map(move |x| ib.get_pixel(x, y)[0])).collect();
    MaskChange::Patch { x: x0, y: y0, w: pw, h: ph, pixels }
}

/// `mask` with `pixels` put in the box.
fn patched(mask: &Mask, (x, y, w, h): (u32, u32, u32, u32), pixels: &[u8]) -> Mask {
    let mut img = mask.image().clone();
    for (dy, row) in pixels.chunks_exact(w as usize).enumerate().take(h as usize) {
        for (dx, &v) in row.iter().enumerate() {
            img.put_pixel(x + dx as u32, y + dy as u32, image::Luma([v]));
        }
    }
    // The same size as a mask already is: nothing to shrink, and never empty.
    Mask::new(img).unwrap_or_else(|_| mask.clone())
}

impl Undo {
    /// Nothing to undo; `edit` is where the artist starts.
    pub fn new(edit: Edit) -> Self {
        Undo { past: Vec::new(), future: Vec::new(), last: edit }
    }

    /// Records `edit` as a step when it changed since the last one recorded (call it when no
    /// drag or stroke is under way, so that one gesture is one step).
    pub fn record(&mut self, spec: &RenderSpec, print_size: u32) {
        // Compared in place: this runs every frame, and a change is rare.
        if *spec == self.last.spec && print_size == self.last.print_size {
            return;
        }
        let edit = Edit { spec: spec.clone(), print_size };
        self.past.push(Step::between(&edit, &self.last));
        self.future.clear();
        self.last = edit;
        trim(&mut self.past);
    }

    /// Whether there is a step to undo.
    pub fn can_undo(&self) -> bool {
        !self.past.is_empty()
    }

    /// Whether there is a step to redo.
    pub fn can_redo(&self) -> bool {
        !self.future.is_empty()
    }

    /// The settings before the last change to `edit`, or `None` with nothing to undo.
    pub fn undo(&mut self, edit: &Edit) -> Option<Edit> {
        let step = self.past.pop()?;
        Some(self.go(step, edit, false))
    }

    /// The settings of the last change undone, or `None` with nothing to redo.
    pub fn redo(&mut self, edit: &Edit) -> Option<Edit> {
        let step = self.future.pop()?;
        Some(self.go(step, edit, true))
    }

    /// Takes `step` from `edit`, keeping the way back on the other stack.
    fn go(&mut self, step: Step, edit: &Edit, forward: bool) -> Edit {
        let there = step.apply(edit);
        let back = Step::between(&there, edit);
        let other = if forward { &mut self.past } else { &mut self.future };
        other.push(back);
        trim(other);
        self.last = there.clone();
        there
    }
}

impl Edit {
    /// What undo covers, as `settings` are now.
    pub(super) fn of(settings: &Settings) -> Edit {
        Edit { spec: settings.spec.clone(), print_size: settings.print_size }
    }
}

/// Goes back one change of the settings (or, with `redo`, takes the last one undone again),
/// and shows the settings it went to (the app then steers the render toward them as the change
/// did); checks in the background that the images they name are still there: one that is gone
/// is named, to be located, and the rest of the step stays undone.
pub(super) fn step(redo: bool, cx: &mut Ctx) {
    let now = Edit::of(cx.settings);
    let to = if redo { cx.undo.redo(&now) } else { cx.undo.undo(&now) };
    let Some(Edit { spec, print_size }) = to else { return };
    cx.settings.spec = spec.clone();
    cx.settings.print_size = print_size;
    cx.tasks.spawn(
        "undo",
        move || check_sources(&spec).into_iter().map(|(i, e)| (i, e.to_string())).collect::<Vec<_>>(),
        |app, _, faults| {
            if let Some((_, why)) = faults.first() {
                app.notice = Some(Notice::warning(format!("{why}: locate it to use it again.")));
            }
            app.panels.to_locate = faults;
        },
    );
}

/// Drops the oldest steps beyond [`MAX_STEPS`] or [`MAX_MASK_BYTES`].
fn trim(steps: &mut Vec<Step>) {
    let mut bytes: usize = steps.iter().map(Step::bytes).sum();
    let mut drop = 0;
    while steps.len() - drop > MAX_STEPS || (bytes > MAX_MASK_BYTES && steps.len() - drop > 1) {
        bytes -= steps[drop].bytes();
        drop += 1;
    }
    steps.drain(..drop);
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::GrayImage;

    fn spec_with(mask: Option<Mask>) -> Edit {
        let mut spec = RenderSpec::new("c.png", &["s.png".into()]);
        spec.objective.masks.set(0, mask);
        Edit { spec, print_size: 2048 }
    }

    #[test]
    fn a_stroke_is_kept_as_its_box_and_undone_and_redone_bit_for_bit() {
        let mut img = GrayImage::from_fn(300, 200, |x, y| image::Luma([((x * 7 + y * 3) % 256) as u8]));
        let before = Mask::new(img.clone()).unwrap();
        for y in 50..60 {
            for x in 100..140 {
                img.put_pixel(x, y, image::Luma([255]));
            }
        }
        let after = Mask::new(img).unwrap();
        let (a, b) = (spec_with(Some(before.clone())), spec_with(Some(after.clone())));
        let mut undo = Undo::new(a.clone());
        undo.record(&b.spec, b.print_size);
        assert!(undo.past[0].bytes() <= 40 * 10, "only the stroke's box is kept: {}", undo.past[0].bytes());
        let back = undo.undo(&b).unwrap();
        assert_eq!(back.spec.objective.masks.get(0).unwrap().image(), before.image());
        assert_eq!(back, a);
        let again = undo.redo(&back).unwrap();
        assert_eq!(again.spec.objective.masks.get(0).unwrap().image(), after.image());
        assert!(!undo.can_redo() && undo.can_undo());
    }

    #[test]
    fn weights_layers_and_cleared_masks_go_back_and_forth_and_a_new_change_drops_the_redo() {
        let painted = spec_with(Some(Mask::filled((8, 6), true).unwrap()));
        let mut undo = Undo::new(painted.clone());
        let cleared = spec_with(None);
        undo.record(&cleared.spec, cleared.print_size);
        let mut heavier = cleared.clone();
        heavier.spec.objective.style_weight = 1e4;
        heavier.print_size = 4096;
        undo.record(&heavier.spec, heavier.print_size);
        undo.record(&heavier.spec, heavier.print_size);
        assert_eq!(undo.undo(&heavier).unwrap(), cleared);
        assert_eq!(undo.undo(&cleared).unwrap(), painted);
        assert!(undo.undo(&painted).is_none());
        let again = undo.redo(&painted).unwrap();
        assert_eq!(again, cleared);
        let mut other = again.clone();
        other.spec.size = 256;
        undo.record(&other.spec, other.print_size);
        assert!(!undo.can_redo(), "a new change forgets what was undone");
    }

    #[test]
    fn the_stacks_are_bounded_in_steps_and_mask_bytes() {
        let mut spec = spec_with(None);
        let mut undo = Undo::new(spec.clone());
        for i in 0..MAX_STEPS + 20 {
            spec.spec.objective.style_weight = i as f64;
            undo.record(&spec.spec, spec.print_size);
        }
        assert_eq!(undo.past.len(), MAX_STEPS);
        let side = 2048;
        for on in [true, false].into_iter().cycle().take(40) {
            let mask = Mask::new(GrayImage::from_pixel(side, side, image::Luma([if on { 200 } else { 100 }]))).unwrap();
            spec.spec.objective.masks.set(0, Some(mask));
            undo.record(&spec.spec, spec.print_size);
        }
        let bytes: usize = undo.past.iter().map(Step::bytes).sum();
        assert!(bytes <= MAX_MASK_BYTES, "{bytes}");
    }
}
