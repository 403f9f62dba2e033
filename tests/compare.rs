//! `featscope compare --out`: two runs layer by layer. A model against itself differs nowhere;
//! against a copy with one layer's weights nudged, that layer is the first to differ, and every
//! layer before it is identical.

mod common;

use common::*;
use featscope::model::builder::{attr_ints, tensor_f32, Dim, GraphBuilder};
use featscope::model::proto::data_type::FLOAT;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn report(out: &Path) -> Value {
    let bytes = std::fs::read(out.join("compare.json")).expect("compare.json");
    serde_json::from_slice(&bytes).expect("JSON")
}

/// conv1 (3→4, 3×3) → relu1 → conv2 (4→4, 3×3) → relu2 → pool; conv2's weight at `nudge` is
/// raised by `by`.
fn two_convs(path: &Path, nudge: usize, by: f32) {
    let w1: Vec<f32> = (0..4 * 3 * 9)
        .map(|i| ((i * 7 % 13) as f32 - 6.0) / 20.0)
        .collect();
    let mut w2: Vec<f32> = (0..4 * 4 * 9)
        .map(|i| ((i * 5 % 11) as f32 - 5.0) / 25.0)
        .collect();
    w2[nudge] += by;
    let d = |v: &[i64]| v.iter().map(|&x| Dim::Fixed(x)).collect::<Vec<_>>();
    let k = || vec![attr_ints("kernel_shape", &[3, 3])];
    let mut g = GraphBuilder::new("two_convs", 13);
    g.input("input", FLOAT, &d(&[1, 3, 32, 32]))
        .initializer(tensor_f32("w1", &[4, 3, 3, 3], &w1))
        .initializer(tensor_f32("w2", &[4, 4, 3, 3], &w2))
        .node("Conv", "conv1", &["input", "w1"], &["conv1"], k())
        .node("Relu", "relu1", &["conv1"], &["relu1"], vec![])
        .node("Conv", "conv2", &["relu1", "w2"], &["conv2"], k())
        .node("Relu", "relu2", &["conv2"], &["relu2"], vec![])
        .node("GlobalAveragePool", "pool", &["relu2"], &["pool"], vec![])
        .output("pool", FLOAT, &d(&[1, 4, 1, 1]));
    std::fs::write(path, g.finish_bytes("featscope-test")).expect("write model");
}

fn compare(dir: &Path, args: &[&str]) -> (Output, PathBuf) {
    let out = dir.join("out");
    let mut all = vec!["compare"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--out", s(&out), "--backend", "tract"]);
    (featscope(&all), out)
}

#[test]
fn a_model_against_itself_differs_nowhere() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Two paths to the same bytes: compared as two models.
    let copy = dir.path().join("copy.onnx");
    std::fs::copy(model("seed_cnn.onnx"), &copy).expect("copy");
    let (o, out) = compare(
        dir.path(),
        &[
            s(&model("seed_cnn.onnx")),
            s(&copy),
            s(&model("chelsea.png")),
            "--fail-above",
            "0",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let r = report(&out);
    let layers = r["layers"].as_array().expect("layers");
    assert_eq!(layers.len(), 11, "{r}");
    for l in layers {
        assert_eq!(l["max_abs"], 0.0, "{l}");
        assert_eq!(l["rel"], 0.0, "{l}");
        assert_eq!(l["cosine"], 1.0, "{l}");
        assert_eq!(l["matched_by"], "name");
    }
    assert!(r["first_above"].is_null());
    assert_eq!(r["streamed"], false);
    // Each layer's pictures are there and listed.
    for l in layers {
        for f in l["files"].as_array().expect("files") {
            let f = f.as_str().expect("name");
            assert!(out.join(f).is_file(), "{f}");
        }
    }
}

#[test]
fn a_nudged_layer_is_the_first_to_differ() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (dir.path().join("a.onnx"), dir.path().join("b.onnx"));
    two_convs(&a, 0, 0.0);
    two_convs(&b, 40, 0.05);
    let image = model("chelsea.png");
    let (o, out) = compare(dir.path(), &[s(&a), s(&b), s(&image)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = report(&out);
    assert_eq!(r["first_above"], "conv2", "{r}");
    let rel = |name: &str| {
        r["layers"]
            .as_array()
            .and_then(|l| l.iter().find(|l| l["name"] == name))
            .map(|l| l["rel"].as_f64().expect("rel"))
            .unwrap_or_else(|| panic!("{name} not compared: {r}"))
    };
    assert_eq!(rel("conv1"), 0.0);
    assert_eq!(rel("relu1"), 0.0);
    assert!(rel("conv2") > 1e-3);
    // Weight 40 is output channel 1's (36 weights each): that channel differs most.
    let conv2 = r["layers"]
        .as_array()
        .and_then(|l| l.iter().find(|l| l["name"] == "conv2"))
        .expect("conv2");
    assert_eq!(conv2["worst_channel"], 1, "{conv2}");
    assert!(conv2["cosine"].as_f64().expect("cosine") < 1.0);

    // --fail-above turns the drift into a failing exit, naming the first layer.
    let (o, _) = compare(
        dir.path(),
        &[s(&a), s(&b), s(&image), "--fail-above", "1e-4"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("the first: conv2"), "{err}");
    assert!(!err.contains("panicked"));
}

#[test]
fn two_images_of_different_sizes_are_compared_at_one_size() {
    let dir = tempfile::tempdir().expect("tempdir");
    // chelsea is 451×300 and coffee 400×400: the seed CNN takes either at its own size, so B is
    // fed at A's.
    let (o, out) = compare(
        dir.path(),
        &[
            s(&model("seed_cnn.onnx")),
            s(&model("chelsea.png")),
            s(&model("coffee.png")),
            "--layer",
            "conv1",
            "--layer",
            "pool3",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let r = report(&out);
    let names: Vec<&str> = r["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| l["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["conv1", "pool3"]);
    assert_eq!(r["first_above"], "conv1");
    assert!(out.join("conv1_compare.png").is_file());
    assert!(out.join("conv1_diff.png").is_file());
    let png = image::open(out.join("conv1_compare.png")).expect("png");
    // Three panels of 296×447 px maps side by side.
    assert!(
        png.width() > 3 * png.height(),
        "{}×{}",
        png.width(),
        png.height()
    );
}

#[test]
fn renamed_tensors_are_matched_by_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = dir.path().join("a.onnx");
    two_convs(&a, 0, 0.0);
    // The same network exported with other tensor names.
    let mut text = std::fs::read(&a).expect("read");
    let b = dir.path().join("b.onnx");
    for (from, to) in [(&b"relu1"[..], &b"RELU1"[..]), (b"conv2", b"CONV2")] {
        let mut i = 0;
        while i + from.len() <= text.len() {
            if &text[i..i + from.len()] == from {
                text[i..i + from.len()].copy_from_slice(to);
            }
            i += 1;
        }
    }
    std::fs::write(&b, &text).expect("write");
    let (o, out) = compare(dir.path(), &[s(&a), s(&b), s(&model("chelsea.png"))]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = report(&out);
    let by: Vec<(&str, &str)> = r["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| {
            (
                l["name"].as_str().expect("name"),
                l["matched_by"].as_str().expect("matched_by"),
            )
        })
        .collect();
    assert_eq!(
        by,
        [
            ("conv1", "name"),
            ("relu1", "position"),
            ("conv2", "position"),
            ("relu2", "name"),
            ("pool", "name"),
        ],
        "{r}"
    );
    assert!(r["first_above"].is_null(), "{r}");
}

#[test]
fn over_the_memory_budget_layers_are_compared_a_few_at_a_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let image = model("chelsea.png");
    let args = |extra: &[&'static str]| {
        let mut v = vec![
            s(&model("seed_cnn.onnx")).to_string(),
            s(&image).to_string(),
            s(&model("coffee.png")).to_string(),
        ];
        v.extend(extra.iter().map(|x| x.to_string()));
        v
    };
    let run = |sub: &str, extra: &[&'static str]| {
        let args = args(extra);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = dir.path().join(sub);
        let mut all = vec!["compare"];
        all.extend_from_slice(&refs);
        all.extend_from_slice(&["--out", s(&out), "--backend", "tract"]);
        let o = featscope(&all);
        assert!(o.status.success(), "{sub}: {}", stderr(&o));
        report(&out)
    };
    let whole = run("whole", &[]);
    assert_eq!(whole["streamed"], false);
    // The seed CNN's layers on chelsea hold about 10 MB: one run (with its input) fits in
    // 16 MB, both runs' layers together do not.
    let streamed = run("streamed", &["--max-memory", "16M"]);
    assert_eq!(streamed["streamed"], true, "{streamed}");
    let figures = |r: &Value| -> Vec<(String, String)> {
        r["layers"]
            .as_array()
            .expect("layers")
            .iter()
            .map(|l| (l["name"].to_string(), l["max_abs"].to_string()))
            .collect()
    };
    assert_eq!(figures(&whole), figures(&streamed));
}

#[test]
fn bad_arguments_are_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (o, _) = compare(
        dir.path(),
        &[
            s(&model("seed_cnn.onnx")),
            s(&model("chelsea.png")),
            "/nonexistent/b.png",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("/nonexistent/b.png"), "{err}");
    assert_eq!(
        err.lines().filter(|l| l.contains("error")).count(),
        1,
        "{err}"
    );
    // --fail-above needs --out; a negative threshold is refused.
    let o = featscope(&[
        "compare",
        s(&model("seed_cnn.onnx")),
        s(&model("chelsea.png")),
        s(&model("coffee.png")),
        "--fail-above",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = featscope(&["compare", "a.onnx", "b.png", "c.png", "--threshold", "-1"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // Without a terminal and without --out, the view says what to do instead.
    let o = Command::new(env!("CARGO_BIN_EXE_featscope"))
        .args([
            "compare",
            s(&model("seed_cnn.onnx")),
            s(&model("chelsea.png")),
            s(&model("coffee.png")),
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--out"), "{}", stderr(&o));
}
