//! Which layers of the network the content and style terms match, and how it pools.

use egui::Ui;

/// Which layers the content and style terms match (changing them restarts the run): those of the
/// model chosen (VGG16 or VGG19; a weights file may be either, so VGG19's are offered, and a
/// layer the model lacks is named when the run starts).
pub(super) fn layers_ui(s: &mut crate::transfer::RenderSpec, ui: &mut Ui) {
    use crate::model::Arch;
    // A weights file may hold either: offer VGG19's layers, and name a missing one at the start.
    let arch = s.model.arch_hint().unwrap_or(Arch::Vgg19);
    let taps = arch.taps();
    ui.horizontal(|ui| {
        use crate::model::Pooling;
        ui.label("Pooling").on_hover_text(
            "Max: as the network was trained. Average: smoother gradients and softer, more even \
             textures (Gatys et al.). Changing it restarts the run.",
        );
        ui.selectable_value(&mut s.pooling, Pooling::Max, "Max");
        ui.selectable_value(&mut s.pooling, Pooling::Avg, "Average");
    });
    let o = &mut s.objective;
    egui::ComboBox::from_label("Content layer").selected_text(o.content_tap.to_string()).show_ui(ui, |ui| {
        for &tap in &taps {
            ui.selectable_value(&mut o.content_tap, tap, tap.to_string());
        }
    });
    ui.label("Style layers");
    ui.horizontal_wrapped(|ui| {
        for &tap in &taps {
            let mut on = o.style_layers.iter().any(|l| l.0 == tap);
            let last = on && o.style_layers.len() == 1;
            if ui.add_enabled(!last, egui::Button::selectable(on, tap.to_string())).clicked() {
                on = !on;
                if on {
                    o.style_layers.push((tap, 1.0));
                    o.style_layers.sort_by_key(|l| l.0);
                } else {
                    o.style_layers.retain(|l| l.0 != tap);
                }
            }
        }
    });
}
