//! `neural-style-studio`: the desktop app, or a headless subcommand.

mod bench;
mod bench_farm;
mod bench_instant;
mod bench_video;
mod cli;
mod farm_submit;
mod render;
mod render_batch;
mod render_farm;
mod render_video;
mod score;
mod sheet;
mod spec_args;
mod video_plan;

use clap::Parser;

fn main() {
    neural_style_studio::tune_allocator();
    let cli = cli::Cli::parse();
    let ffmpeg = match &cli.command {
        Some(cli::Command::RenderVideo(args)) => args.ffmpeg.as_deref(),
        Some(_) => None,
        None => cli.app.ffmpeg.as_deref(),
    };
    if let Some(location) = ffmpeg {
        neural_style_studio::video::ffmpeg::choose(neural_style_studio::video::ffmpeg::Location::parse(location));
    }
    let result = match &cli.command {
        Some(cli::Command::Render(args)) => render::render(args),
        Some(cli::Command::Bench(args)) => bench::bench(args),
        Some(cli::Command::BenchInstant(args)) => bench_instant::bench_instant(args),
        Some(cli::Command::Score(args)) => score::score(args),
        Some(cli::Command::Sheet(args)) => sheet::sheet(args),
        Some(cli::Command::BenchVideo(args)) => bench_video::bench_video(args),
        Some(cli::Command::BenchFarm(args)) => bench_farm::bench_farm(args),
        Some(cli::Command::RenderVideo(args)) => render_video::render_video(args),
        None => window::run_app(&cli.app),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

#[cfg(feature = "app")]
mod window {
    use anyhow::Context;
    use neural_style_studio::app::open_with::{self, Given, Opening};
    use neural_style_studio::app::{App, Launch, Settings};

    use crate::cli::AppArgs;

    /// Opens the studio; settings given on the command line replace the remembered ones. Files
    /// given go to a window already open, unless `--new-window`.
    pub fn run_app(args: &AppArgs) -> anyhow::Result<()> {
        let runtime = open_with::runtime_dir();
        if let (Some(dir), false, false) = (&runtime, args.files.is_empty(), args.new_window) {
            if open_with::hand_over(dir, &args.files) {
                eprintln!("The files were opened in the window already open.");
                return Ok(());
            }
        }
        let level: tracing::Level = args
            .log_level
            .parse()
            .map_err(|_| anyhow::anyhow!("--log-level: {} is not error, warn, info, debug or trace", args.log_level))?;
        // The guard lives as long as the window: dropping it writes out the log's last lines.
        let (logs, _guard, no_log) = match neural_style_studio::app::log::default_dir() {
            Some(dir) => match neural_style_studio::app::log::init(&dir, level) {
                Ok(guard) => (Some(dir), Some(guard), None),
                Err(e) => (None, None, Some(e)),
            },
            None => (None, None, None),
        };
        let mut args = args.clone();
        let (given, mut left_out) = open_with::sort(&args.files);
        let opening = Opening::of(given, args.spec.content.is_some());
        left_out.extend(opening.left_out);
        // The files given come before the options: those still apply on top.
        args.spec.settings_from = opening.settings.or(args.spec.settings_from);
        if let Some(Given::Clip(path) | Given::Picture(path)) = opening.content {
            args.spec.content = Some(path);
        }
        args.spec.style.extend(opening.styles);
        let mut viewport = egui::ViewportBuilder::default()
            .with_title("Neural Style Studio")
            // The desktop matches the window to its menu entry (neural-style-studio.desktop) by this.
            .with_app_id(neural_style_studio::app::APP_ID);
        // Built in and checked by a test: a failure here would only leave the window without one.
        if let Ok(icon) = eframe::icon_data::from_png_bytes(neural_style_studio::app::ICON_PNG) {
            viewport = viewport.with_icon(icon);
        }
        let options = eframe::NativeOptions {
            renderer: eframe::Renderer::Wgpu,
            viewport: viewport
                .with_inner_size([1280.0, 800.0])
                .with_min_inner_size([720.0, 480.0])
                .with_drag_and_drop(true),
            ..Default::default()
        };
        // Settings files are read before the window opens: one clear error instead of a window
        // that silently ignores them.
        let (stored, warning) = match &args.spec.settings_from {
            Some(_) => {
                let (spec, warning) = args.spec.base(Default::default())?;
                (Some(spec), warning)
            }
            None => (None, None),
        };
        eframe::run_native(
            neural_style_studio::app::APP_ID,
            options,
            Box::new(move |cc| {
                let remembered: Option<Settings> = cc.storage.and_then(|s| eframe::get_value(s, eframe::APP_KEY));
                let left_out = (!left_out.is_empty()).then(|| format!("Not opened: {}", left_out.join("; ")));
                let mut launch = Launch {
                    settings: None,
                    start: args.start,
                    warning: [warning, left_out, no_log.clone()]
                        .into_iter()
                        .flatten()
                        .reduce(|a, b| format!("{a}. {b}")),
                    autosave: neural_style_studio::app::autosave_dir(),
                    examples: neural_style_studio::app::examples_dir(),
                    pasted: neural_style_studio::app::pasted_dir(),
                    logs: logs.clone(),
                    runtime,
                };
                if !args.spec.is_empty() {
                    let mut settings = remembered.unwrap_or_default();
                    let base = stored.unwrap_or_else(|| settings.spec.clone());
                    // A contradictory option is said in the window; the remembered settings stay.
                    match args.spec.apply(base) {
                        Ok(spec) => {
                            settings.spec = spec;
                            launch.settings = Some(settings);
                        }
                        Err(e) => launch.warning = Some(format!("The command-line settings were not applied: {e}")),
                    }
                }
                Ok(Box::new(App::new(cc, launch)?))
            }),
        )
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("cannot open the window")
    }
}

#[cfg(not(feature = "app"))]
mod window {
    /// This build has no window.
    pub fn run_app(args: &crate::cli::AppArgs) -> anyhow::Result<()> {
        let hint = if args.spec.is_empty() { "`render` or `bench`" } else { "`render` with these options" };
        anyhow::bail!("this build has no window (built without the `app` feature); use {hint}")
    }
}
