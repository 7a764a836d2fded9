//! The `render` command line: a real run on generated images, its outputs, and its errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_neural-style-studio")).args(args).output().unwrap()
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
    let o = Command::new("sh")
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
