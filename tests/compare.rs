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

// ---- across precisions: the fp32 model against its float16 and int8 versions ----

fn deployed(name: &str) -> PathBuf {
    model(&format!("deployed/{name}"))
}

/// chelsea cut to EfficientNet-Lite0's 224×224, so that no resampling stands between
/// featscope's input and a Python one: (x − 127)/128 of the very pixels.
fn native_photo(dir: &Path) -> PathBuf {
    let img = image::open(model("chelsea.png")).expect("photo").to_rgb8();
    let crop = image::imageops::crop_imm(&img, 120, 40, 224, 224).to_image();
    let path = dir.join("chelsea224.png");
    crop.save(&path).expect("write");
    path
}

fn compare_precision(dir: &Path, b: &str, image: &Path, backend: &str, extra: &[&str]) -> Value {
    let out = dir.join(format!("cmp-{b}-{backend}"));
    let a = model("efficientnet_lite0.onnx");
    let b = deployed(b);
    let mut args = vec![
        "compare",
        s(&a),
        s(&b),
        s(image),
        "--out",
        s(&out),
        "--backend",
        backend,
    ];
    args.extend_from_slice(extra);
    let o = featscope(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    report(&out)
}

fn rows(r: &Value) -> &Vec<Value> {
    r["layers"].as_array().expect("layers")
}

#[test]
fn every_precision_pairs_each_feature_map_with_the_same_activation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let image = model("chelsea.png");
    let mut runs = vec![
        ("efficientnet_lite0_fp16io32.onnx", "tract"),
        ("efficientnet_lite0_int8_qdq.onnx", "tract"),
    ];
    if ort_available("every_precision_pairs_each_feature_map_with_the_same_activation") {
        runs.extend([
            ("efficientnet_lite0_fp16io32.onnx", "ort"),
            ("efficientnet_lite0_int8_qdq.onnx", "ort"),
            ("efficientnet_lite0_int8_qop.onnx", "ort"),
        ]);
    }
    for (b, backend) in runs {
        let r = compare_precision(dir.path(), b, &image, backend, &[]);
        let pairing = &r["pairing"];
        let (maps, paired) = (
            pairing["a_feature_maps"].as_u64().unwrap_or(0),
            pairing["paired_feature_maps"].as_u64().unwrap_or(0),
        );
        assert_eq!(maps, 92, "{b}");
        assert!(
            paired * 100 >= maps * 95,
            "{b} {backend}: {paired} of {maps} paired"
        );
        assert!(
            rows(&r).iter().all(|l| l["matched_by"] != "position"),
            "{b} {backend}: nothing paired by position: {:?}",
            pairing["by"]
        );
        // The stem, as the issue found it crossed: A's Conv is B's only after its Clip,
        // compared there; A's Clip is B's dequantized Clip (QDQ) or its fused QLinearConv.
        let stem = rows(&r)
            .iter()
            .find(|l| l["name"] == "/_conv_stem/Conv")
            .expect("stem");
        let clip = rows(&r)
            .iter()
            .find(|l| l["name"] == "/_swish/Clip")
            .expect("clip");
        if b.contains("int8") {
            assert_eq!(stem["matched_by"], "fused", "{b}");
            assert_eq!(stem["compared_with"], "/_swish/Clip_output_0", "{b}");
            assert_eq!(stem["tensor_b"], clip["tensor_b"], "{b}");
            assert!(clip["cosine"].as_f64().unwrap_or(0.0) > 0.99, "{b}: {clip}");
        } else {
            assert_eq!(stem["matched_by"], "name", "{b}");
        }
    }
}

/// Pairs are never crossed: of A's layers of its shape, B's partner is closest (by cosine) to
/// the one it is compared with.
#[test]
fn no_pair_is_crossed() {
    if !ort_available("no_pair_is_crossed") {
        return;
    }
    let image = model("chelsea.png");
    for b in [
        "efficientnet_lite0_int8_qdq.onnx",
        "efficientnet_lite0_int8_qop.onnx",
    ] {
        use featscope::compare::{match_layers, pair_sites};
        use featscope::model::Model;
        use featscope::pipeline::{Analyzer, Selection};
        let (ma, mb) = (
            Model::open(&model("efficientnet_lite0.onnx")).expect("A"),
            Model::open(&deployed(b)).expect("B"),
        );
        let plan = pair_sites(&ma, &mb);
        let cfg = config(featscope::engine::Backend::Ort);
        let acts_a = Analyzer::open(ma, &cfg, &Selection::All)
            .and_then(|mut a| a.compute(&image))
            .expect("A runs");
        let acts_b = Analyzer::open(mb, &cfg, &Selection::All)
            .and_then(|mut a| a.compute(&image))
            .expect("B runs");
        let m = match_layers(&acts_a.layers, &acts_b.layers, &plan);
        for p in &m.pairs {
            let lb = &acts_b.layers[p.b];
            let cos = |la: &featscope::activations::Layer| {
                featscope::compare::divergence(la, lb).map_or(-1.0, |d| d.cosine)
            };
            let own = cos(&acts_a.layers[p.a_values]);
            let best = acts_a
                .layers
                .iter()
                .filter(|l| l.shape == lb.shape)
                .map(cos)
                .fold(-1f32, f32::max);
            assert!(
                own >= best - 1e-3,
                "{b}: {} ↔ {} ({:?}): cosine {own}, another layer of A has {best}",
                acts_a.layers[p.a].name,
                lb.tensor,
                p.by
            );
        }
    }
}

#[test]
fn sqnr_is_what_onnx_runtimes_quantization_debugger_reports() {
    let test = "sqnr_is_what_onnx_runtimes_quantization_debugger_reports";
    if !ort_available(test) || !python_with(test, &["numpy", "onnx", "onnxruntime.quantization"]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let image = native_photo(dir.path());
    let r = compare_precision(
        dir.path(),
        "efficientnet_lite0_int8_qdq.onnx",
        &image,
        "ort",
        &[],
    );
    // The same input for Python: (x − 127)/128, NCHW.
    let img = image::open(&image).expect("image").to_rgb8();
    let mut x = vec![0f32; 3 * 224 * 224];
    for (px, py, p) in img.enumerate_pixels() {
        for c in 0..3 {
            x[(c * 224 + py as usize) * 224 + px as usize] = (p.0[c] as f32 - 127.0) / 128.0;
        }
    }
    let input = dir.path().join("input.npy");
    let arr = ndarray::Array4::from_shape_vec((1, 3, 224, 224), x).expect("shape");
    ndarray_npy::write_npy(&input, &arr).expect("write");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/qdq_loss_debug.py");
    let o = Command::new("python3")
        .arg(script)
        .arg(model("efficientnet_lite0.onnx"))
        .arg(deployed("efficientnet_lite0_int8_qdq.onnx"))
        .arg(&input)
        .output()
        .expect("python3 runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let theirs: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let mut checked = 0;
    for l in rows(&r).iter().filter(|l| l["matched_by"] == "dequantized") {
        let tensor = l["tensor"].as_str().unwrap_or("");
        let Some(xmodel) = theirs[tensor]["xmodel_err"].as_f64() else {
            continue;
        };
        let ours = l["sqnr_db"].as_f64().expect("a finite SQNR");
        assert!(
            (ours - xmodel).abs() < 1e-3,
            "{tensor}: featscope {ours} dB, qdq_loss_debug {xmodel} dB"
        );
        checked += 1;
    }
    assert!(
        checked >= 55,
        "{checked} layers checked against qdq_loss_debug"
    );
}

#[test]
fn local_sqnr_is_the_layers_own_format_applied_to_the_float_values() {
    let test = "local_sqnr_is_the_layers_own_format_applied_to_the_float_values";
    if !python_with(test, &["numpy"]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let image = native_photo(dir.path());
    for b in [
        "efficientnet_lite0_int8_qdq.onnx",
        "efficientnet_lite0_fp16io32.onnx",
    ] {
        let out = dir.path().join(format!("local-{b}"));
        let o = featscope(&[
            "compare",
            s(&model("efficientnet_lite0.onnx")),
            s(&deployed(b)),
            s(&image),
            "--out",
            s(&out),
            "--backend",
            "tract",
            "--layer",
            "/_blocks.0/_project_conv/Conv",
            "--layer",
            "/_blocks.4/Add",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let a_snap = dir.path().join(format!("a-{b}"));
        let o = featscope(&[
            "snapshot",
            s(&model("efficientnet_lite0.onnx")),
            s(&image),
            "--out",
            s(&a_snap),
            "--npy",
            "--backend",
            "tract",
            "--layer",
            "/_blocks.0/_project_conv/Conv",
            "--layer",
            "/_blocks.4/Add",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let r = report(&out);
        for l in rows(&r) {
            let stem = featscope::outdir::file_stem(l["name"].as_str().unwrap_or(""));
            let npy = a_snap.join(format!("{stem}.npy"));
            let q = &l["quantization_b"];
            // numpy: QuantizeLinear (round half to even, saturate) and back, or float16.
            let code = if q.is_null() {
                "y = x.astype(np.float16).astype(np.float32)".to_string()
            } else {
                format!(
                    "s, z = np.float32({}), {}\ny = ((np.clip(np.rint(x / s) + z, 0, 255) - z) * s).astype(np.float32)",
                    q["scale"][0], q["zero_point"][0]
                )
            };
            let script = format!(
                "import numpy as np\nx = np.load({npy:?}).astype(np.float32)\n{code}\n\
                 print(20 * np.log10(np.linalg.norm(x.astype(np.float64)) / np.linalg.norm((x - y).astype(np.float64))))"
            );
            let o = Command::new("python3")
                .args(["-c", &script])
                .output()
                .expect("python3 runs");
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let want: f64 = String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse()
                .expect("a number");
            let ours = l["local_sqnr_db"].as_f64().expect("local SQNR");
            assert!(
                (ours - want).abs() < 1e-3,
                "{b} {}: featscope {ours} dB, numpy {want} dB",
                l["name"]
            );
        }
    }
}

#[test]
fn a_folder_of_images_gives_the_worst_and_the_mean_and_sqnr_gates_ci() {
    let dir = tempfile::tempdir().expect("tempdir");
    let photos = dir.path().join("photos");
    std::fs::create_dir(&photos).expect("folder");
    for f in ["chelsea.png", "coffee.png"] {
        std::fs::copy(model(f), photos.join(f)).expect("copy");
    }
    let layers = ["--layer", "/_blocks.2/Add", "--layer", "/_swish_1/Clip"];
    let single: Vec<Value> = ["chelsea.png", "coffee.png"]
        .iter()
        .map(|f| {
            compare_precision(
                dir.path(),
                "efficientnet_lite0_int8_qdq.onnx",
                &photos.join(f),
                "tract",
                &layers,
            )
        })
        .collect();
    let both = compare_precision(
        dir.path(),
        "efficientnet_lite0_int8_qdq.onnx",
        &photos,
        "tract",
        &layers,
    );
    assert_eq!(both["images"].as_array().map(Vec::len), Some(2));
    for (k, l) in rows(&both).iter().enumerate() {
        let each: Vec<f64> = single
            .iter()
            .map(|r| rows(r)[k]["sqnr_db"].as_f64().expect("dB"))
            .collect();
        let worst = each.iter().copied().fold(f64::INFINITY, f64::min);
        let mean = each.iter().sum::<f64>() / 2.0;
        assert!(
            (l["sqnr_db"].as_f64().expect("dB") - worst).abs() < 1e-3,
            "{l}"
        );
        assert!(
            (l["sqnr_db_mean"].as_f64().expect("dB") - mean).abs() < 1e-3,
            "{l}"
        );
    }
    // A gate below every layer's SQNR passes; one above the worst fails, naming it.
    let worst = rows(&both)
        .iter()
        .filter_map(|l| l["sqnr_db"].as_f64())
        .fold(f64::INFINITY, f64::min);
    for (gate, code) in [(worst - 1.0, 0), (worst + 1.0, 1)] {
        let out = dir.path().join(format!("gate{code}"));
        let gate = format!("{gate}");
        let (a, b) = (
            model("efficientnet_lite0.onnx"),
            deployed("efficientnet_lite0_int8_qdq.onnx"),
        );
        let mut args = vec!["compare", s(&a), s(&b)];
        let (photos_s, out_s) = (s(&photos).to_string(), s(&out).to_string());
        args.extend([
            photos_s.as_str(),
            "--out",
            out_s.as_str(),
            "--backend",
            "tract",
            "--fail-below-sqnr",
            gate.as_str(),
        ]);
        args.extend(layers);
        let o = featscope(&args);
        assert_eq!(o.status.code(), Some(code), "{}", stderr(&o));
        if code == 1 {
            assert!(stderr(&o).contains("SQNR below"), "{}", stderr(&o));
        }
    }
}
