//! Undo and redo in the real app: a slider drag is one step that goes back to the running render
//! in place, a size change goes back by a restart, a mask stroke comes back bit for bit, and an
//! image gone from disk is named while the rest of the step is undone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::ui::{harness, iteration, small_settings, step_until, tall_harness};

use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use neural_style_studio::app::{App, Launch};
use neural_style_studio::notice::Level;

fn running(dir: &std::path::Path) -> Launch {
    Launch { settings: Some(small_settings(dir)), start: true, ..Launch::default() }
}

fn ctrl(h: &mut Harness<'static, App>, shift: bool, key: egui::Key) {
    let mut m = egui::Modifiers::COMMAND;
    if shift {
        m |= egui::Modifiers::SHIFT;
    }
    h.key_press_modifiers(m, key);
    h.run_steps(2);
}

#[test]
fn a_slider_change_is_undone_and_redone_in_place_and_a_size_change_by_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(running(dir.path()));
    step_until(&mut h, 60, "first frames", |a| iteration(a) >= 2);
    let run = h.state().live.frame.as_ref().unwrap().run;
    let weight = h.state().settings.spec.objective.style_weight;
    h.get_by_role_and_label(Role::Slider, "Style weight").set_value_accesskit(1000.0);
    h.run_steps(2);
    assert_eq!(h.state().settings.spec.objective.style_weight, 1000.0);
    ctrl(&mut h, false, egui::Key::Z);
    assert_eq!(h.state().settings.spec.objective.style_weight, weight, "undone");
    step_until(&mut h, 60, "a frame under the old weight", |a| {
        a.live.frame.as_ref().is_some_and(|f| f.spec.objective.style_weight == weight && f.iteration > 3)
    });
    assert_eq!(h.state().live.frame.as_ref().unwrap().run, run, "steered back in place, no restart");
    ctrl(&mut h, true, egui::Key::Z);
    assert_eq!(h.state().settings.spec.objective.style_weight, 1000.0, "redone");
    ctrl(&mut h, false, egui::Key::Z);
    ctrl(&mut h, false, egui::Key::Y);
    assert_eq!(h.state().settings.spec.objective.style_weight, 1000.0, "Ctrl+Y redoes too");

    // A change that restarted the render is undone by a restart at the old size.
    h.state_mut().settings.spec.size = 48;
    step_until(&mut h, 60, "the restart at 48 px", |a| {
        a.live.frame.as_ref().is_some_and(|f| f.run != run && f.image.width() == 48)
    });
    let restarted = h.state().live.frame.as_ref().unwrap().run;
    h.get_by_label("Undo").click();
    h.run_steps(2);
    assert_eq!(h.state().settings.spec.size, 64);
    step_until(&mut h, 60, "a restart at 64 px", |a| {
        a.live.frame.as_ref().is_some_and(|f| f.run != restarted && f.image.width() == 64)
    });

    // The print's size is a setting too.
    let print = h.state().settings.print_size;
    h.state_mut().settings.print_size = print * 2;
    h.run_steps(2);
    ctrl(&mut h, false, egui::Key::Z);
    assert_eq!(h.state().settings.print_size, print);
}

#[test]
fn a_mask_stroke_is_one_step_and_undoing_it_restores_the_mask_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = tall_harness(running(dir.path()));
    step_until(&mut h, 60, "preview frames", |a| iteration(a) >= 2);
    h.get_by_label("Masks").click();
    h.run_steps(2);
    h.get_by_label("Paint masks").click();
    h.run_steps(2);
    let r = h.state().panels.preview_rect.unwrap();
    let stroke = |h: &mut Harness<'static, App>, y: f32| {
        let at = |fx: f32| egui::pos2(r.left() + fx * r.width(), r.top() + y * r.height());
        h.hover_at(at(0.1));
        h.run_steps(1);
        h.drag_at(at(0.1));
        h.run_steps(1);
        for i in 1..=8 {
            h.hover_at(at(0.1 + 0.05 * i as f32));
            h.run_steps(1);
        }
        h.drop_at(at(0.5));
        h.run_steps(2);
    };
    stroke(&mut h, 0.3);
    let first = h.state().settings.spec.objective.masks.get(0).expect("painted").image().clone();
    stroke(&mut h, 0.7);
    let second = h.state().settings.spec.objective.masks.get(0).unwrap().image().clone();
    assert_ne!(first, second);
    h.get_by_label("Undo").click();
    h.run_steps(2);
    assert_eq!(*h.state().settings.spec.objective.masks.get(0).unwrap().image(), first, "bit for bit");
    h.get_by_label("Undo").click();
    h.run_steps(2);
    assert!(!h.state().settings.spec.objective.masks.is_active(), "before the first stroke: no mask");
    h.get_by_label("Redo").click();
    h.get_by_label("Redo").click();
    h.run_steps(2);
    assert_eq!(*h.state().settings.spec.objective.masks.get(0).unwrap().image(), second);
}

#[test]
fn undoing_to_an_image_deleted_from_disk_names_it_and_undoes_the_rest_of_the_step() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(running(dir.path()));
    h.run_steps(2);
    let old = h.state().settings.spec.content.clone().unwrap().path;
    // One step: a new photo, loaded with the settings of an exported render (its own weight).
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let (photo, _) = common::write_pair(&other, 80, 60);
    let mut next = h.state().settings.spec.clone();
    next.content = Some(neural_style_studio::transfer::ImageRef::new(&photo));
    next.objective.style_weight = 777.0;
    h.state_mut().settings.spec = next;
    h.run_steps(2);
    std::fs::remove_file(&old).unwrap();
    h.get_by_label("Undo").click();
    step_until(&mut h, 30, "the missing photo named", |a| !a.panels.to_locate.is_empty());
    let app = h.state();
    assert_eq!(app.settings.spec.content.as_ref().unwrap().path, old);
    assert_ne!(app.settings.spec.objective.style_weight, 777.0, "the rest of the step is undone");
    let notice = app.notice.as_ref().unwrap();
    assert!(notice.level == Level::Warning && notice.text.contains("content.png"), "{notice}");
}
