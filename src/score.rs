//! `score`: the losses of any image under given settings, to compare renders made at different
//! sizes or with different settings against the same targets.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use neural_style_studio::imageio::{detail, edge_correlation, load_rgb};
use neural_style_studio::transfer::run::colour::histogram_distance;
use neural_style_studio::transfer::Job;

use crate::cli::ScoreArgs;

#[derive(serde::Serialize)]
struct Scores<'a> {
    total: f64,
    /// Each kind of term's value (content, style, tv, ...).
    #[serde(flatten)]
    kinds: BTreeMap<&'static str, f64>,
    /// Mean absolute Laplacian of the image as given (fine detail per pixel, before resizing).
    detail: f64,
    /// Correlation of the image's luma edges with the content photo's (see
    /// `imageio::edge_correlation`).
    edges: f64,
    /// Per-channel histogram distance to the first style image (levels of 0..255; see
    /// `colour::histogram_distance`).
    colour: f64,
    /// Unweighted style loss per style layer, shallow to deep.
    style_layers: &'a [f64],
    /// The style layers' names, in the same order.
    layers: Vec<String>,
}

/// Runs `score`.
pub fn score(args: &ScoreArgs) -> Result<()> {
    let (mut spec, warning) = args.spec.to_spec()?;
    if let Some(w) = warning {
        eprintln!("warning: {w}");
    }
    crate::spec_args::ensure_model(&mut spec, &std::sync::atomic::AtomicBool::new(false))?;
    // Targets at the one size asked for; no optimisation.
    spec.schedule.iterations = 0;
    spec.schedule.scales = 1;
    spec.schedule.stages.clear();
    let image = load_rgb(&args.image)?;
    let mut job = Job::new();
    job.start(spec.clone())?;
    job.set_image(&image)?;
    let l = job.losses()?;
    let layers: Vec<String> = spec.objective.style_layers.iter().map(|(tap, _)| tap.to_string()).collect();
    println!("total   {:.6e}", l.total);
    let kinds: BTreeMap<&'static str, f64> = l.kinds().into_iter().map(|k| (k, l.of(k))).collect();
    for kind in l.kinds() {
        println!("{kind:<7} {:.6e}", l.of(kind));
    }
    let detail = detail(&image);
    println!("detail  {detail:.6e}");
    let edges = edge_correlation(&image, &load_rgb(spec.content_path()?)?);
    println!("edges   {edges:.6}");
    let style = spec.styles.first().context("a style image is needed")?;
    let colour = histogram_distance(&image, &load_rgb(&style.path)?);
    println!("colour  {colour:.6e}");
    let style_layers = l.style_layers(layers.len());
    for (name, v) in layers.iter().zip(&style_layers) {
        println!("{name} {v:.6e}");
    }
    if let Some(json) = &args.json {
        let scores = Scores { total: l.total, kinds, detail, edges, colour, style_layers: &style_layers, layers };
        std::fs::write(json, serde_json::to_string_pretty(&scores)?)
            .with_context(|| format!("cannot write {}", json.display()))?;
    }
    Ok(())
}
