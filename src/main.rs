//! `neural-style-studio`: the desktop app, or a headless subcommand.

mod bench;
mod cli;
mod render;

use anyhow::Context;
use clap::Parser;
use neural_style_studio::app::{App, Launch, Settings};

fn main() {
    neural_style_studio::tune_allocator();
    let cli = cli::Cli::parse();
    let result = match &cli.command {
        Some(cli::Command::Render(args)) => render::render(args),
        Some(cli::Command::Bench(args)) => bench::bench(args),
        None => run_app(&cli.app),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run_app(args: &cli::AppArgs) -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        renderer: eframe::Renderer::Wgpu,
        viewport: egui::ViewportBuilder::default()
            .with_title("Neural Style Studio")
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([720.0, 480.0])
            .with_drag_and_drop(true),
        ..Default::default()
    };
    let args = args.clone();
    eframe::run_native(
        "neural-style-studio",
        options,
        Box::new(move |cc| {
            let remembered: Option<Settings> = cc.storage.and_then(|s| eframe::get_value(s, eframe::APP_KEY));
            let launch = Launch { settings: args.apply(remembered), start: args.start };
            Ok(Box::new(App::new(cc, launch)?))
        }),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))
    .context("cannot open the window")
}
