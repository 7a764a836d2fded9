//! The `render` command line: a real run on generated images, its outputs, and its errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    common::binary().args(args).output().unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn render_writes_png_with_settings_and_json_log() {
    let dir = tempfile::tempdir().unwrap();
    let (content, style) = common::write_pair(dir.path(), 96, 64);
    let out = dir.path().join("out.png");
    let json = dir.path().join("log.json");
    let o = run(&[
        "render",
        "--content",
        s(&content),
        "--style",
        s(&style),
        "--size",
        "64",
        "--iters",
        "6",
        "--out",
        s(&out),
        "--json",
        s(&json),
        "--save-every",
        "3",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let img = image::open(&out).unwrap();
    assert_eq!((img.width(), img.height()), (64, 43));
    assert!(dir.path().join("out_0003.png").exists());

    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&out).unwrap()));
    let reader = decoder.read_info().unwrap();
    let texts: Vec<(String, String)> =
        reader.info().utf8_text.iter().map(|t| (t.keyword.clone(), t.get_text().unwrap())).collect();
    let settings = texts.iter().find(|t| t.0 == "nss:settings").expect("settings chunk");
    let v: serde_json::Value = serde_json::from_str(&settings.1).unwrap();
    assert_eq!(v["size"], 64);
    assert_eq!(v["objective"]["style_weight"], 100.0);
    assert!(texts.iter().any(|t| t.0 == "nss:iteration" && t.1 == "6"));

    let log: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(log["size"], serde_json::json!([64, 43]));
    assert_eq!(log["device"], "CPU");
    let iters = log["iterations"].as_array().unwrap();
    assert_eq!(iters.len(), 7, "iterations 0..=6");
    assert_eq!(iters[6]["iter"], 6);
    let first = iters[0]["total"].as_f64().unwrap();
    let last = iters[6]["total"].as_f64().unwrap();
    assert!(last < first, "loss fell: {first} -> {last}");
    for key in ["content", "style", "tv", "seconds"] {
        assert!(iters[1][key].is_number(), "{key}");
    }
}

#[test]
fn bad_inputs_give_one_line_errors_and_nonzero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let (content, style) = common::write_pair(dir.path(), 48, 48);
    let junk = dir.path().join("junk.png");
    std::fs::write(&junk, b"this is not an image").unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--content", "/nonexistent/x.jpg", "--style", s(&style)], "cannot read image"),
        (vec!["--content", s(&junk), "--style", s(&style)], "junk.png"),
        (vec!["--content", s(dir.path()), "--style", s(&style)], "folder"),
        (vec!["--content", s(&content), "--style", s(&style), "--size", "5"], "size must be between"),
        (vec!["--content", s(&content), "--style", s(&style), "--style-weight=-1"], "finite and >= 0"),
        (vec!["--content", s(&content), "--style", s(&style), "--weights", s(&junk)], "invalid weights"),
        (vec!["--content", s(&content), "--style", s(&style), "--style-blend", "1,2"], "blend"),
    ];
    for (args, expect) in cases {
        let mut full = vec!["render", "--iters", "1", "--out"];
        let out = dir.path().join("never.png");
        full.push(s(&out));
        full.extend(args.iter());
        let o = run(&full);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(err.starts_with("error: ") && err.trim_end().lines().count() == 1, "{args:?}: {err}");
        assert!(err.contains(expect), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(!out.exists());
    }
}

/// A full disk, simulated with a file-size limit (works as root too, unlike a read-only folder):
/// the write fails, the error says why, the previous file is untouched and no temp file is left.
#[cfg(unix)]
#[test]
fn a_failed_write_keeps_the_previous_file_and_leaves_no_partial_one() {
    let dir = tempfile::tempdir().unwrap();
    let (content, style) = common::write_pair(dir.path(), 128, 96);
    let out = dir.path().join("out.png");
    std::fs::write(&out, b"the artist's previous render").unwrap();
    let o = common::sealed(&mut Command::new("sh"))
        .arg("-c")
        // 8 blocks (4-8 KiB); SIGXFSZ ignored so the write fails with EFBIG instead of killing.
        .arg(r#"ulimit -f 8 && trap '' XFSZ && exec "$@""#)
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_neural-style-studio"))
        .args(["render", "--size", "128", "--iters", "2", "--content", s(&content), "--style", s(&style), "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let last = err.trim_end().lines().last().unwrap_or_default();
    assert!(last.starts_with("error: cannot write image") && last.contains("out.png"), "{err}");
    assert!(last.contains("too large"), "names the reason: {err}");
    assert_eq!(std::fs::read(&out).unwrap(), b"the artist's previous render");
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(names.iter().all(|n| !n.to_string_lossy().ends_with(".tmp")), "{names:?}");
}

fn settings_chunk(png: &Path) -> serde_json::Value {
    let reader = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png).unwrap())).read_info().unwrap();
    let text = reader.info().utf8_text.iter().find(|t| t.keyword == "nss:settings").unwrap().get_text().unwrap();
    serde_json::from_str(&text).unwrap()
}

fn pixels(png: &Path) -> Vec<u8> {
    image::open(png).unwrap().into_bytes()
}

#[test]
fn settings_from_a_png_reproduce_it_bit_for_bit_and_flags_override_them() {
    let dir = tempfile::tempdir().unwrap();
    let (content, style) = common::write_pair(dir.path(), 96, 64);
    let first = dir.path().join("first.png");
    let o = run(&[
        "render",
        "--content",
        s(&content),
        "--style",
        s(&style),
        "--size",
        "64",
        "--iters",
        "4",
        "--init",
        "noise",
        "--seed",
        "11",
        "--style-weight",
        "300",
        "--tv-weight",
        "0.01",
        "--out",
        s(&first),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stored = settings_chunk(&first);
    assert_eq!(stored["version"], 1);
    assert_eq!(stored["content"]["sha256"].as_str().unwrap().len(), 64, "the content's hash is recorded");
    assert_eq!(stored["schedule"]["iterations"], 4);

    // The same settings and seed on the CPU: the same image, to the bit.
    let again = dir.path().join("again.png");
    let o = run(&["render", "--settings-from", s(&first), "--out", s(&again)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(pixels(&again), pixels(&first));
    assert_eq!(settings_chunk(&again), stored);

    // Any flag overrides what was stored; the rest stays.
    let bigger = dir.path().join("bigger.png");
    let o = run(&["render", "--settings-from", s(&first), "--size", "80", "--iters", "1", "--out", s(&bigger)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = settings_chunk(&bigger);
    assert_eq!((v["size"].as_u64(), v["run"]["seed"].as_u64()), (Some(80), Some(11)));
    assert_eq!(v["objective"]["style_weight"], 300.0);
    assert_eq!(image::open(&bigger).unwrap().width(), 80);
}

#[test]
fn stored_settings_that_cannot_be_used_are_named_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let (content, style) = common::write_pair(dir.path(), 64, 48);
    let made = dir.path().join("made.png");
    let o = run(&[
        "render",
        "--content",
        s(&content),
        "--style",
        s(&style),
        "--size",
        "48",
        "--iters",
        "1",
        "--out",
        s(&made),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let plain = dir.path().join("plain.png");
    common::style_image(32, 32).save(&plain).unwrap();
    let cut = dir.path().join("cut.json");
    let json = settings_chunk(&made).to_string();
    std::fs::write(&cut, &json[..json.len() / 2]).unwrap();
    let newer = dir.path().join("newer.json");
    let mut v = settings_chunk(&made);
    v["version"] = 9.into();
    v["varnish"] = 1.into();
    std::fs::write(&newer, v.to_string()).unwrap();

    let out = dir.path().join("never.png");
    let fails = |args: &[&str], expect: &str| {
        let mut full = vec!["render", "--iters", "1", "--out", s(&out)];
        full.extend(args);
        let o = run(&full);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.starts_with("error: ") && err.trim_end().lines().count() == 1, "{args:?}: {err}");
        assert!(err.contains(expect), "{args:?}: {err}");
        assert!(!out.exists());
    };
    fails(&["--settings-from", s(&plain)], "holds no settings");
    fails(&["--settings-from", s(&cut)], "cut off");
    fails(&["--settings-from", s(&made), "--style-blend", "1,2"], "2 values but there are 1 style images");
    // A changed style image is named; a missing content image too.
    common::content_image(64, 48).save(&style).unwrap();
    fails(&["--settings-from", s(&made)], "style image 1");
    fails(&["--settings-from", s(&made)], "has changed since the settings were saved");
    std::fs::remove_file(&content).unwrap();
    fails(&["--settings-from", s(&made)], "is missing");
    // Replacing the images on the command line makes the settings usable again.
    std::fs::create_dir(dir.path().join("new")).unwrap();
    let (c2, s2) = common::write_pair(&dir.path().join("new"), 64, 48);
    let o = run(&["render", "--settings-from", s(&newer), "--content", s(&c2), "--style", s(&s2), "--out", s(&out)]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("warning: the settings were written by a newer version") && err.contains("varnish"), "{err}");
}

#[test]
fn repeated_numerical_faults_keep_the_last_finite_image_and_exit_nonzero() {
    let dir = tempfile::tempdir().unwrap();
    let (content, style) = common::write_pair(dir.path(), 64, 48);
    let out = dir.path().join("out.png");
    // Finite in f64 but infinite in the f32 gradient: every step fails.
    let o = run(&[
        "render",
        "--content",
        s(&content),
        "--style",
        s(&style),
        "--size",
        "48",
        "--iters",
        "20",
        "--style-weight",
        "1e300",
        "--out",
        s(&out),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let last = err.trim_end().lines().last().unwrap();
    assert!(last.starts_with("error: ") && last.contains("3 times in a row") && last.contains("out.png"), "{err}");
    assert_eq!(err.matches("warning: Iteration").count(), 2, "the first two faults are warnings: {err}");
    let img = image::open(&out).unwrap().to_rgb8();
    let distinct: std::collections::HashSet<_> = img.pixels().map(|p| p.0).collect();
    assert!(distinct.len() > 20, "a real image was kept, not NaN garbage");
    // No step succeeded: what was kept is the start itself, pixel for pixel.
    let start = dir.path().join("start.png");
    let o = run(&[
        "render",
        "--content",
        s(&content),
        "--style",
        s(&style),
        "--size",
        "48",
        "--iters",
        "0",
        "--out",
        s(&start),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(img, image::open(&start).unwrap().to_rgb8(), "the last finite image, exactly");
}

#[test]
fn score_prints_the_losses_of_any_image_and_a_render_scores_better_than_its_photo() {
    let dir = tempfile::tempdir().unwrap();
    let (content, style) = common::write_pair(dir.path(), 96, 64);
    let out = dir.path().join("out.png");
    let base = ["--content", s(&content), "--style", s(&style), "--size", "64"];
    let mut args = vec!["render", "--iters", "8", "--optimizer", "adam", "--lr", "0.1", "--out", s(&out)];
    args.extend(base);
    assert!(run(&args).status.success());
    let score = |image: &Path, json: &Path| -> serde_json::Value {
        let mut args = vec!["score", "--image", s(image), "--json", s(json)];
        args.extend(base);
        let o = run(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(stdout.starts_with("total ") && stdout.contains("relu5_1 "), "{stdout}");
        serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap()
    };
    let photo = score(&content, &dir.path().join("photo.json"));
    let render = score(&out, &dir.path().join("render.json"));
    assert_eq!(photo["content"], 0.0, "the photo matches its own features exactly");
    let layers = photo["style_layers"].as_array().unwrap();
    assert_eq!(layers.len(), 5);
    let weighted: f64 = layers.iter().map(|v| v.as_f64().unwrap()).sum();
    assert!(
        (weighted - photo["style"].as_f64().unwrap()).abs() <= 1e-9 * weighted,
        "style = sum of layers (weights 1)"
    );
    assert!(render["style"].as_f64().unwrap() < photo["style"].as_f64().unwrap());
    assert!(render["total"].as_f64().unwrap() < photo["total"].as_f64().unwrap());
    assert!(render["content"].as_f64().unwrap() > 0.0);
    assert!(render["detail"].as_f64().unwrap() > 0.0);
}

#[test]
fn explicit_stages_run_in_order_are_logged_per_iteration_and_stored_in_the_settings() {
    let dir = tempfile::tempdir().unwrap();
    let (content, style) = common::write_pair(dir.path(), 120, 90);
    let (out, json) = (dir.path().join("staged.png"), dir.path().join("staged.json"));
    let args = ["render", "--content", s(&content), "--style", s(&style), "--stages", "64x3,96x2"];
    let o = run(&[&args[..], &["--out", s(&out), "--json", s(&json), "--save-every", "3"]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("64px x3 -> 96px x2"));
    let saved = dir.path().join("staged_0003.png");
    assert_eq!(image::image_dimensions(&saved).unwrap(), (64, 48), "a stage's last image, saved before the next");
    assert_eq!(image::image_dimensions(&out).unwrap(), (96, 72), "the last stage is the output size");
    let log: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let stages: Vec<u64> = log["iterations"].as_array().unwrap().iter().map(|i| i["stage"].as_u64().unwrap()).collect();
    assert_eq!(stages, [64, 64, 64, 96, 96, 96], "each iteration's stage, then the final losses");
    // The stages come back with the settings; a stage list that does not end at --size is refused.
    let again = dir.path().join("again.png");
    let o = run(&["render", "--settings-from", s(&out), "--out", s(&again)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("64px x3 -> 96px x2"));
    let o = run(&[&args[..], &["--size", "128", "--out", s(&again)]].concat());
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("must be the output size (128 px)"));
}

#[test]
fn tiles_give_the_same_render_in_less_memory_and_are_stored_in_the_settings() {
    let dir = tempfile::tempdir().unwrap();
    let (content, style) = common::write_pair(dir.path(), 256, 192);
    let render = |name: &str, extra: &[&str]| -> serde_json::Value {
        let (out, json) = (dir.path().join(format!("{name}.png")), dir.path().join(format!("{name}.json")));
        let mut args = vec!["render", "--content", s(&content), "--style", s(&style), "--size", "256"];
        args.extend_from_slice(&["--iters", "1", "--out", s(&out), "--json", s(&json)]);
        args.extend_from_slice(extra);
        let o = run(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(
            settings_chunk(&out)["run"]["tile"],
            if extra.is_empty() { serde_json::Value::Null } else { 64.into() }
        );
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap()
    };
    // 64 px tiles on 256 x 192 with relu5_1's 160 px halo: 4 columns, the outer ones reading part.
    let (whole, tiled) = (render("whole", &[]), render("tiled", &["--tile", "64"]));
    for (a, b) in whole["iterations"].as_array().unwrap().iter().zip(tiled["iterations"].as_array().unwrap()) {
        let (a, b) = (a["total"].as_f64().unwrap(), b["total"].as_f64().unwrap());
        assert!((a - b).abs() <= 1e-4 * a, "{a} vs {b}");
    }
    let o = run(&["render", "--content", s(&content), "--style", s(&style), "--tile", "8"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("tiles must be between 16"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn style_and_content_layers_are_chosen_by_name_change_what_is_matched_and_are_stored() {
    let dir = tempfile::tempdir().unwrap();
    let (content, style) = common::write_pair(dir.path(), 96, 64);
    let base = ["--content", s(&content), "--style", s(&style), "--size", "64"];
    let render = |name: &str, extra: &[&str]| -> PathBuf {
        let out = dir.path().join(format!("{name}.png"));
        let args = [&["render", "--iters", "12", "--out", s(&out)][..], &base[..], extra].concat();
        let o = run(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        out
    };
    let score = |image: &Path, extra: &[&str]| -> serde_json::Value {
        let json = dir.path().join("score.json");
        let args = [&["score", "--image", s(image), "--json", s(&json)][..], &base[..], extra].concat();
        let o = run(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap()
    };
    let default = render("default", &[]);
    let shallow = render("shallow", &["--style-layers", "relu1_1,relu2_2"]);
    let content_2_2 = render("content", &["--content-layer", "relu2_2"]);
    let stored = settings_chunk(&shallow);
    let tap = |b: u8, c: u8| serde_json::json!({"block": b, "conv": c});
    assert_eq!(stored["objective"]["style_layers"], serde_json::json!([[tap(1, 1), 1.0], [tap(2, 2), 1.0]]));
    assert_eq!(settings_chunk(&content_2_2)["objective"]["content_tap"], tap(2, 2));
    // The style weight on two shallow layers matches them better than the five default layers.
    let shallow_layers = ["--style-layers", "relu1_1,relu2_2"];
    let (a, b) = (score(&shallow, &shallow_layers), score(&default, &shallow_layers));
    assert_eq!(a["layers"], serde_json::json!(["relu1_1", "relu2_2"]));
    let (a, b) = (a["style"].as_f64().unwrap(), b["style"].as_f64().unwrap());
    assert!(a < 0.8 * b, "shallow style loss {a} matching them against {b} with the default layers");
    // Content matched at relu2_2 is closer there than content matched at relu4_2.
    let at_2_2 = ["--content-layer", "relu2_2"];
    let (a, b) = (
        score(&content_2_2, &at_2_2)["content"].as_f64().unwrap(),
        score(&default, &at_2_2)["content"].as_f64().unwrap(),
    );
    assert!(a < 0.8 * b, "relu2_2 content loss {a} matching it against {b} matching relu4_2");
    // Layers the model does not have, or that are not layers, are named.
    let o =
        run(&[&["render", "--style-layers", "relu5_4", "--out", s(&dir.path().join("x.png"))][..], &base[..]].concat());
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("vgg16 has no layer relu5_4; its layers are relu1_1, relu1_2, relu2_1"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = run(&[&["render", "--content-layer", "conv4"][..], &base[..]].concat());
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown layer 'conv4'"));
}

#[test]
fn a_render_can_start_from_a_chosen_picture_which_is_stored_with_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let (content, style) = common::write_pair(dir.path(), 96, 64);
    let sketch = dir.path().join("sketch.png");
    image::RgbImage::from_pixel(48, 32, image::Rgb([250, 10, 10])).save(&sketch).unwrap();
    let base = ["--content", s(&content), "--style", s(&style), "--size", "64"];
    let render = |name: &str, extra: &[&str]| -> image::RgbImage {
        let out = dir.path().join(format!("{name}.png"));
        let o = run(&[&["render", "--out", s(&out)][..], &base[..], extra].concat());
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        image::open(&out).unwrap().to_rgb8()
    };
    let redness = |img: &image::RgbImage| img.pixels().map(|p| f64::from(p[0]) - f64::from(p[1])).sum::<f64>() / 4096.0;
    // No iterations: the output is the picture, resized.
    let start = render("start", &["--init-image", s(&sketch), "--iters", "0"]);
    assert!(start.pixels().all(|p| p[0] >= 245 && p[1] <= 15), "the start picture, as given");
    // A few iterations from it stay far redder than from the photo.
    let (from_sketch, from_photo) =
        (render("from_sketch", &["--init-image", s(&sketch), "--iters", "3"]), render("from_photo", &["--iters", "3"]));
    assert!(
        redness(&from_sketch) > redness(&from_photo) + 50.0,
        "{} vs {}",
        redness(&from_sketch),
        redness(&from_photo)
    );
    let stored = settings_chunk(&dir.path().join("from_sketch.png"));
    assert_eq!(stored["run"]["init"], "Image");
    assert_eq!(stored["init_image"]["path"], s(&sketch));
    assert_eq!(stored["init_image"]["sha256"].as_str().unwrap().len(), 64);
    let o = run(&[&["render", "--init", "image", "--out", s(&dir.path().join("x.png"))][..], &base[..]].concat());
    assert!(String::from_utf8_lossy(&o.stderr).contains("needs the image (--init-image PATH)"));
}

#[test]
fn ctrl_c_keeps_the_last_finished_stage_on_disk() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let (content, style) = common::write_pair(dir.path(), 96, 64);
    let out = dir.path().join("cut.png");
    let mut child = common::binary()
        .args(["render", "--content", s(&content), "--style", s(&style), "--stages", "64x3,96x100000"])
        .args(["--out", s(&out)])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("stage: 96 px") {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "the render ended before its second stage");
    }
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert!(!child.wait().unwrap().success());
    assert!(rest.contains("interrupted: wrote the last finished stage (64x43, 3 iterations"), "{rest}");
    assert_eq!(image::image_dimensions(&out).unwrap(), (64, 43));
    let stored = settings_chunk(&out);
    assert_eq!((stored["size"].as_u64(), stored["schedule"]["stages"].as_array().unwrap().len()), (Some(64), 1));
}

#[test]
fn average_pooling_changes_the_picture_and_is_stored_with_the_settings() {
    let dir = tempfile::tempdir().unwrap();
    let (content, style) = common::write_pair(dir.path(), 96, 64);
    let base = ["--content", s(&content), "--style", s(&style), "--size", "64", "--iters", "8"];
    let render = |name: &str, extra: &[&str]| -> PathBuf {
        let out = dir.path().join(format!("{name}.png"));
        let o = run(&[&["render", "--out", s(&out)][..], &base[..], extra].concat());
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        out
    };
    let max = render("max", &[]);
    let avg = render("avg", &["--pooling", "avg"]);
    assert_eq!(settings_chunk(&max)["pooling"], "max");
    assert_eq!(settings_chunk(&avg)["pooling"], "avg");
    let (a, b) = (image::open(&max).unwrap().to_rgb8(), image::open(&avg).unwrap().to_rgb8());
    let differ =
        a.pixels().zip(b.pixels()).filter(|(p, q)| p.0.iter().zip(q.0).any(|(x, y)| x.abs_diff(y) > 8)).count();
    assert!(differ > a.pixels().len() / 10, "only {differ} pixels differ");
    // The stored settings reproduce the average-pooled render exactly.
    let again = dir.path().join("again.png");
    let o = run(&["render", "--settings-from", s(&avg), "--out", s(&again)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(image::open(&again).unwrap().to_rgb8(), b);
}

#[test]
fn the_modern_look_and_normalised_gradients_are_stored_and_re_render_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (content, style) = common::write_pair(dir.path(), 96, 64);
    let out = dir.path().join("modern.png");
    let base = ["render", "--out", s(&out), "--content", s(&content), "--style", s(&style), "--size", "64"];
    let look = ["--iters", "12", "--look", "modern", "--style-weight", "2", "--normalize-gradients"];
    let o = run(&[&base[..], &look[..]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("adam"), "the look brings Adam");
    let stored = settings_chunk(&out);
    assert_eq!(stored["objective"]["look"], "Modern");
    assert_eq!(stored["objective"]["style_weight"], 2.0, "options given after the look override it");
    assert_eq!(stored["run"]["average"], 0.97);
    assert_eq!(stored["run"]["optimizer"], "Adam");
    assert_eq!(stored["objective"]["normalize_gradients"], true);
    let again = dir.path().join("again.png");
    let o = run(&["render", "--settings-from", s(&out), "--out", s(&again)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(image::open(&again).unwrap().to_rgb8(), image::open(&out).unwrap().to_rgb8());
}

#[test]
fn a_contact_sheet_renders_styles_by_presets_and_stores_each_cells_settings() {
    let dir = tempfile::tempdir().unwrap();
    let (content, style) = common::write_pair(dir.path(), 96, 64);
    let second = dir.path().join("stripes.png");
    image::RgbImage::from_fn(64, 64, |x, _| {
        if (x / 4) % 2 == 0 {
            image::Rgb([200, 40, 40])
        } else {
            image::Rgb([20, 20, 90])
        }
    })
    .save(&second)
    .unwrap();
    let out = dir.path().join("sheet.png");
    let args = ["sheet", "--content", s(&content), "--style", s(&style), "--style", s(&second)];
    let o = run(&[
        &args[..],
        &["--preset", "subtle", "--preset", "BOLD", "--size", "48", "--iters", "4"],
        &["-o", s(&out)],
    ]
    .concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let reader = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&out).unwrap())).read_info().unwrap();
    let text = reader.info().utf8_text.iter().find(|t| t.keyword == "nss:sheet").unwrap().get_text().unwrap();
    let cells: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(cells.len(), 4, "2 styles x 2 presets");
    let cell = |r: u64, c: u64| cells.iter().find(|v| v["row"] == r && v["col"] == c).unwrap()["spec"].clone();
    assert_eq!(cell(0, 1)["model"], "ClassicVgg19", "Bold, on the classic VGG19, in the second column");
    assert_eq!(cell(1, 0)["objective"]["style_weight"], 20.0, "Subtle in the first");
    assert!(cell(1, 0)["styles"][0]["path"].as_str().unwrap().ends_with("stripes.png"), "the second style's row");
    // The sheet: a label column and header, then four cells, each one of the renders.
    let sheet = image::open(&out).unwrap().to_rgb8();
    assert!(sheet.width() > 2 * 48 && sheet.height() > 2 * 48);
    let distinct: std::collections::HashSet<_> = sheet.pixels().map(|p| p.0).collect();
    assert!(distinct.len() > 200, "pictures and anti-aliased labels, not a blank sheet");
    // Unknown presets are named before any work.
    let o = run(&[&args[..], &["--preset", "wild", "-o", s(&out)]].concat());
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no preset called 'wild'"));
}

#[test]
fn a_mask_file_confines_the_style_is_stored_in_the_png_and_bad_masks_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let (content, style) = common::write_pair(dir.path(), 96, 64);
    // Left half white, at another size than the photo (resized, same shape).
    let mask = dir.path().join("left.png");
    image::GrayImage::from_fn(48, 32, |x, _| image::Luma([if x < 24 { 255 } else { 0 }])).save(&mask).unwrap();
    let out = dir.path().join("masked.png");
    let base = ["--content", s(&content), "--style", s(&style), "--size", "96", "--iters", "12"];
    let o = run(&[
        &["render", "--out", s(&out), "--style-weight", "10000"][..],
        &base[..],
        &["--mask", &format!("1={}", s(&mask))],
    ]
    .concat());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("note: the mask of style 1 is 48x32 and the photo 96x64: it is resized to fit"), "{err}");
    let stored = settings_chunk(&out);
    assert!(stored["objective"]["masks"]["masks"][0].is_string(), "the mask is stored in the settings");
    assert_eq!(stored["objective"]["masks"]["unpainted"], "content");
    let (result, photo) = (image::open(&out).unwrap().to_rgb8(), image::open(&content).unwrap().to_rgb8());
    let photo = image::imageops::resize(&photo, 96, 64, image::imageops::FilterType::CatmullRom);
    let change = |xs: std::ops::Range<u32>| {
        let mut sum = 0u64;
        for y in 0..64 {
            for x in xs.clone() {
                sum += result
                    .get_pixel(x, y)
                    .0
                    .iter()
                    .zip(photo.get_pixel(x, y).0)
                    .map(|(a, b)| u64::from(a.abs_diff(b)))
                    .sum::<u64>();
            }
        }
        sum as f64 / (64.0 * 3.0 * 32.0)
    };
    assert!(change(0..32) > 3.0 * change(64..96), "left {} right {}", change(0..32), change(64..96));
    // The stored settings re-render the same picture, mask and all.
    let again = dir.path().join("again.png");
    let o = run(&["render", "--settings-from", s(&out), "--out", s(&again)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(image::open(&again).unwrap().to_rgb8(), result);

    // Bad masks: not an image, a style that does not exist, no N=, all black (a warning).
    let junk = dir.path().join("junk.png");
    std::fs::write(&junk, b"not a mask").unwrap();
    let black = dir.path().join("black.png");
    image::GrayImage::new(96, 64).save(&black).unwrap();
    let cases: [(String, &str); 3] = [
        (format!("1={}", s(&junk)), "junk.png"),
        (format!("2={}", s(&mask)), "a mask for style 2 but there is 1 style image"),
        (s(&mask).to_string(), "expected N=PATH"),
    ];
    for (arg, expect) in cases {
        let o = run(&[&["render", "--out", s(&dir.path().join("x.png"))][..], &base[..], &["--mask", &arg]].concat());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(expect), "{arg}: {err}");
    }
    let o = run(&[
        &["render", "--out", s(&dir.path().join("b.png")), "--iters", "1"][..],
        &base[..6],
        &["--mask", &format!("1={}", s(&black))],
    ]
    .concat());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && err.contains("all black: it applies nowhere"), "{err}");
}

#[test]
fn vgg19_comes_from_the_hub_cache_offline_and_a_missing_or_damaged_one_falls_back_to_vgg16() {
    let dir = tempfile::tempdir().unwrap();
    let (content, style) = common::write_pair(dir.path(), 64, 48);
    let render = |home: &Path, out: &str, layers: &str| {
        let out = dir.path().join(out);
        let o = common::binary()
            .args(["render", "--content", s(&content), "--style", s(&style), "--size", "48", "--iters", "2"])
            .args(["--model", "vgg19", "--style-layers", layers, "--out", s(&out)])
            .env("HF_HOME", home)
            .env("HF_HUB_OFFLINE", "1")
            .output()
            .unwrap();
        (o, out)
    };
    // A whole file in the cache: loaded (memory-mapped) without the network, and VGG19's own
    // layers (relu3_4) can be matched.
    let good = dir.path().join("good");
    let bytes = common::vgg19_bytes();
    common::fake_hub_cache(&good, &bytes, None);
    let (o, out) = render(&good, "vgg19.png", "relu1_1,relu3_4");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && !err.contains("warning"), "{err}");
    assert_eq!(settings_chunk(&out)["model"], "Vgg19");

    // Nothing cached and offline: one clear line, and the embedded VGG16 renders instead.
    let (o, out) = render(&dir.path().join("empty"), "fallback.png", "relu1_1,relu3_1");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && err.contains("HF_HUB_OFFLINE") && err.contains("embedded VGG16"), "{err}");
    assert_eq!(settings_chunk(&out)["model"], "Embedded");

    // A cut-off download (its content does not hash to its name) is removed, never loaded.
    let damaged = dir.path().join("damaged");
    let blob = common::fake_hub_cache(&damaged, &bytes[..bytes.len() / 2], Some(&"e".repeat(64)));
    let (o, _) = render(&damaged, "damaged.png", "relu1_1,relu3_1");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && err.contains("embedded VGG16"), "{err}");
    assert!(!blob.exists(), "the damaged file was removed");
}

#[test]
fn the_rich_look_is_stored_and_re_renders_exactly_and_a_png_scores_what_its_run_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (content, style) = common::write_pair(dir.path(), 96, 64);
    let (out, json) = (dir.path().join("rich.png"), dir.path().join("rich.json"));
    let o = run(&[
        "render",
        "--out",
        s(&out),
        "--json",
        s(&json),
        "--content",
        s(&content),
        "--style",
        s(&style),
        "--size",
        "64",
        "--scales",
        "1",
        "--iters",
        "10",
        "--look",
        "rich",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stored = settings_chunk(&out);
    assert_eq!((&stored["objective"]["look"], &stored["objective"]["style_loss"]), (&"Rich".into(), &"Sliced".into()));
    assert_eq!(stored["run"]["optimizer"], "Lbfgs");
    let again = dir.path().join("again.png");
    let o = run(&["render", "--settings-from", s(&out), "--out", s(&again)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(pixels(&again), pixels(&out), "the stored settings re-render it bit for bit");

    // The exported PNG scores what the run reported for its last iterate (bounded L-BFGS keeps
    // the image displayable, so only the rounding to 8 bits differs).
    let log: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let reported = log["iterations"].as_array().unwrap().last().unwrap()["total"].as_f64().unwrap();
    let scored_json = dir.path().join("score.json");
    let o = run(&["score", "--settings-from", s(&out), "--image", s(&out), "--json", s(&scored_json)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let scored: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&scored_json).unwrap()).unwrap();
    let scored = scored["total"].as_f64().unwrap();
    assert!((scored - reported).abs() <= 0.01 * reported, "the PNG scores {scored}, the run reported {reported}");
}

#[test]
fn a_run_whose_every_step_fails_keeps_exactly_the_image_it_started_from() {
    let dir = tempfile::tempdir().unwrap();
    let (content, style) = common::write_pair(dir.path(), 64, 48);
    let render = |out: &Path, iters: &str, weight: &str| {
        run(&[
            "render",
            "--content",
            s(&content),
            "--style",
            s(&style),
            "--size",
            "48",
            "--iters",
            iters,
            "--style-weight",
            weight,
            "--out",
            s(out),
        ])
    };
    let start = dir.path().join("start.png");
    assert!(render(&start, "0", "100").status.success());
    // Finite in f64 but infinite in the f32 gradient: every step fails and is rolled back.
    let failed = dir.path().join("failed.png");
    assert_eq!(render(&failed, "20", "1e300").status.code(), Some(1));
    assert_eq!(pixels(&failed), pixels(&start), "the last finite image is the start, pixel for pixel");
}

#[test]
fn a_staged_render_keeps_the_small_renders_look_better_than_a_single_stage() {
    let dir = tempfile::tempdir().unwrap();
    let (content, style) = common::write_pair(dir.path(), 192, 128);
    let render = |stages: &str| {
        let out = dir.path().join(format!("{stages}.png"));
        let o = run(&["render", "--content", s(&content), "--style", s(&style), "--stages", stages, "--out", s(&out)]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        out
    };
    // Style loss per layer, scored at the small render's size.
    let layers_at_small_size = |image: &Path| -> Vec<f64> {
        let json = image.with_extension("json");
        let args = ["score", "--image", s(image), "--content", s(&content), "--style", s(&style)];
        let o = run(&[&args[..], &["--size", "96", "--json", s(&json)]].concat());
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        v["style_layers"].as_array().unwrap().iter().map(|l| l.as_f64().unwrap()).collect()
    };
    let small = render("96x40");
    let (staged, single) = (render("96x40,192x15"), render("192x55"));
    // The composition: the large render shrunk to the small one's size, pixel by pixel.
    let picture = image::open(&small).unwrap().to_rgb8();
    let apart = |large: &Path| {
        let shrunk = image::imageops::resize(
            &image::open(large).unwrap().to_rgb8(),
            picture.width(),
            picture.height(),
            image::imageops::FilterType::Triangle,
        );
        let sum: u64 = shrunk.as_raw().iter().zip(picture.as_raw()).map(|(a, b)| u64::from(a.abs_diff(*b))).sum();
        sum as f64 / picture.as_raw().len() as f64
    };
    let (staged_apart, single_apart) = (apart(&staged), apart(&single));
    assert!(staged_apart < 0.5 * single_apart, "mean pixel distance {staged_apart:.1} staged vs {single_apart:.1}");
    // The large structures: the deep layers' style statistics (relu4_1, relu5_1) at the small size.
    let (want, a, b) = (layers_at_small_size(&small), layers_at_small_size(&staged), layers_at_small_size(&single));
    for k in [3, 4] {
        let gap = |x: &[f64]| (x[k] / want[k] - 1.0).abs();
        assert!(gap(&a) < 0.5 * gap(&b), "layer {k}: staged {:.3e}, single {:.3e}, small {:.3e}", a[k], b[k], want[k]);
    }
}
