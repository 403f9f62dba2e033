//! The featscope binary as users and scripts meet it: outputs, file names, exit codes, and one
//! clear line for every kind of bad input.

mod common;

use common::*;
use featscope::model::builder::{Dim, GraphBuilder};
use featscope::model::proto::data_type::{FLOAT, INT64};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Asserts a failure: the exit code, exactly one `featscope: error:` line naming `needle`, no panic.
fn assert_fails(o: &Output, code: i32, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "exit code; stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    let errors: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("featscope: error:"))
        .collect();
    assert_eq!(errors.len(), 1, "one error line expected: {err}");
    assert!(
        errors[0].contains(needle),
        "'{needle}' not in: {}",
        errors[0]
    );
}

fn seed() -> PathBuf {
    model("seed_cnn.onnx")
}

fn chelsea() -> PathBuf {
    model("chelsea.png")
}

#[test]
fn snapshot_writes_stable_files_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = featscope(&[
        "snapshot",
        s(&seed()),
        s(&chelsea()),
        "--layer",
        "pool*",
        "--out",
        s(&out),
        "--backend",
        "tract",
        "--npy",
        "--overlay",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut expected = vec!["summary.json".to_string()];
    for pool in ["pool1", "pool2", "pool3"] {
        for suffix in ["_grid.png", "_sum.png", "_overlay.png", ".npy"] {
            expected.push(format!("{pool}{suffix}"));
        }
    }
    expected.sort();
    assert_eq!(files, expected);
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let layers = summary["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3);
    let pool1 = &layers[0];
    assert_eq!(pool1["name"], "pool1");
    assert_eq!(pool1["op"], "MaxPool");
    assert_eq!(pool1["shape"], serde_json::json!([1, 9, 74, 111]));
    assert_eq!(pool1["layout"], "NCHW");
    // 9 channels: rows = round(3) = 3, cols = 3.
    assert_eq!(pool1["grid"], serde_json::json!({"rows": 3, "cols": 3}));
    for key in ["min", "max", "mean", "zero_fraction", "dead_channels"] {
        assert!(pool1[key].is_number(), "{key}");
    }
    assert_eq!(pool1["top_channels"].as_array().unwrap().len(), 5);
    assert!(
        pool1["min"].as_f64().unwrap() >= 0.0,
        "max-pool of ReLU is non-negative"
    );
    // The grid PNG holds 3×3 tiles of 74×111 at the default enlargement (×1) with 2 px gaps.
    let grid = image::open(out.join("pool1_grid.png")).unwrap();
    assert_eq!((grid.width(), grid.height()), (3 * 111 + 4, 3 * 74 + 4));
    // The .npy is channel-first float32 with the layer's values.
    let npy = std::fs::read(out.join("pool1.npy")).unwrap();
    assert_eq!(&npy[..6], b"\x93NUMPY");
    let header = String::from_utf8_lossy(&npy[10..128]);
    assert!(
        header.contains("'descr': '<f4'") && header.contains("(9, 74, 111)"),
        "{header}"
    );
}

#[test]
fn snapshot_of_several_images_makes_a_folder_each_and_survives_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.png");
    std::fs::write(&bad, b"this is not a picture").unwrap();
    let out = dir.path().join("out");
    let o = featscope(&[
        "snapshot",
        s(&model("mnist-8.onnx")),
        s(&model("digit2.png")),
        s(&bad),
        s(&model("digit7.png")),
        "--layer",
        "Pooling66",
        "--out",
        s(&out),
        "--backend",
        "tract",
    ]);
    assert_fails(&o, 1, "broken.png");
    for done in ["digit2", "digit7"] {
        assert!(
            out.join(done).join("Pooling66_grid.png").is_file(),
            "{done}"
        );
        assert!(out.join(done).join("summary.json").is_file());
    }
    assert!(!out.join("broken").join("summary.json").exists());
    assert!(stderr(&o).contains("2 of 3 images done"));
}

#[test]
fn snapshot_of_a_classifier_reports_its_top5() {
    let dir = tempfile::tempdir().unwrap();
    let o = featscope(&[
        "snapshot",
        s(&model("efficientnet_lite0.onnx")),
        s(&chelsea()),
        "--layer",
        "/_swish/Clip",
        "--out",
        s(dir.path()),
        "--backend",
        "tract",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["top5"][0]["label"], "tiger cat");
    assert_eq!(
        summary["layers"][0]["files"],
        serde_json::json!(["swish_Clip_grid.png", "swish_Clip_sum.png"])
    );
}

#[test]
fn layers_lists_every_tensor_as_table_and_json() {
    let o = featscope(&[
        "layers",
        s(&model("mnist-8.onnx")),
        "--json",
        "--backend",
        "tract",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 11);
    assert_eq!(rows[0]["name"], "Convolution28");
    assert_eq!(rows[0]["kind"], "feature map");
    assert_eq!(rows[10]["kind"], "vector");
    let o = featscope(&["layers", s(&seed()), "--backend", "tract"]);
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table
            .lines()
            .any(|l| l.contains("pool1") && l.contains("MaxPool") && l.contains("1×9×")),
        "{table}"
    );
}

#[test]
fn doctor_reports_engines() {
    let o = featscope(&["doctor", "--no-terminal-query"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("tract:"), "{text}");
    assert!(text.contains("--backend auto uses:"), "{text}");
}

/// Where the default model comes from: a release archive's `models/` beside the binary (run
/// from any folder), else the seed CNN built into the binary.
#[test]
fn the_default_model_is_found_beside_the_binary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let unpacked = dir.path().join("featscope-0.1.0");
    let elsewhere = dir.path().join("elsewhere");
    for d in [unpacked.join("models"), elsewhere.clone()] {
        std::fs::create_dir_all(d).expect("folder");
    }
    let bin = unpacked.join("featscope");
    std::fs::copy(env!("CARGO_BIN_EXE_featscope"), &bin).expect("copy the binary");
    let doctor = || {
        let o = Command::new(&bin)
            .args(["doctor", "--no-terminal-query"])
            .current_dir(&elsewhere)
            .env_remove("ORT_DYLIB_PATH")
            .output()
            .expect("featscope runs");
        assert!(o.status.success(), "{}", stderr(&o));
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        text.lines()
            .find(|l| l.starts_with("default:"))
            .unwrap_or_else(|| panic!("no default line: {text}"))
            .to_string()
    };
    assert!(doctor().contains("the seed CNN built into featscope"));
    for name in ["efficientnet_lite0.onnx", "chelsea.png"] {
        std::fs::copy(model(name), unpacked.join("models").join(name)).expect("copy");
    }
    let line = doctor();
    let beside = unpacked.join("models");
    assert!(
        line.contains(s(&beside.join("efficientnet_lite0.onnx")))
            && line.contains(s(&beside.join("chelsea.png"))),
        "{line}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let o = featscope(&["snapshot"]);
    assert_eq!(o.status.code(), Some(2));
    let o = featscope(&["snapshot", "m.onnx", "i.png", "--size", "12"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("WxH"));
}

#[test]
fn a_layer_that_matches_nothing_lists_near_matches() {
    let dir = tempfile::tempdir().unwrap();
    let o = featscope(&[
        "snapshot",
        s(&seed()),
        s(&chelsea()),
        "--layer",
        "pool",
        "--out",
        s(dir.path()),
    ]);
    assert_fails(&o, 2, "no layer matches 'pool'; did you mean: pool");
}

#[test]
fn missing_model_file() {
    let o = featscope(&["snapshot", "/nonexistent/model.onnx", s(&chelsea())]);
    assert_fails(&o, 1, "/nonexistent/model.onnx: cannot read");
}

#[test]
fn a_file_that_is_not_onnx() {
    let o = featscope(&["layers", s(&chelsea())]);
    assert_fails(&o, 1, "chelsea.png: not an ONNX model");
}

#[test]
fn a_truncated_onnx_file() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(model("efficientnet_lite0.onnx")).unwrap();
    let cut = dir.path().join("cut.onnx");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let o = featscope(&["layers", s(&cut)]);
    assert_fails(&o, 1, "cut.onnx: not an ONNX model");
}

#[test]
fn missing_external_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_external_data_model(dir.path(), false);
    let o = featscope(&["layers", s(&path)]);
    assert_fails(
        &o,
        1,
        "external data file 'ext.weights' (for weight 'w') is missing",
    );
}

#[test]
fn a_model_whose_input_is_not_an_image() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = GraphBuilder::new("tokens", 13);
    g.input(
        "tokens",
        INT64,
        &[Dim::Fixed(1), Dim::Symbolic("seq".into())],
    )
    .node(
        "Cast",
        "cast",
        &["tokens"],
        &["y"],
        vec![featscope::model::builder::attr_int("to", 1)],
    )
    .output("y", FLOAT, &[]);
    let path = dir.path().join("tokens.onnx");
    std::fs::write(&path, g.finish_bytes("test")).unwrap();
    let o = featscope(&["snapshot", s(&path), s(&chelsea()), "--out", s(dir.path())]);
    assert_fails(&o, 1, "input 'tokens' int64 [1×seq] is not an image");
}

#[test]
fn a_model_with_two_inputs_names_the_one_it_can_feed() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = GraphBuilder::new("two", 13);
    g.input(
        "image",
        FLOAT,
        &[Dim::Fixed(1), Dim::Fixed(3), Dim::Fixed(8), Dim::Fixed(8)],
    )
    .input("scale", FLOAT, &[Dim::Fixed(1)])
    .node("Mul", "mul", &["image", "scale"], &["y"], vec![])
    .output("y", FLOAT, &[]);
    let path = dir.path().join("two.onnx");
    std::fs::write(&path, g.finish_bytes("test")).unwrap();
    let o = featscope(&["layers", s(&path)]);
    assert_fails(
        &o,
        1,
        "needs 2 inputs ('image' float32 [1×3×8×8], 'scale' float32 [1]) and featscope feeds one image; the image it could feed is 'image'",
    );
}

#[test]
fn an_image_that_is_not_an_image() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.png");
    std::fs::write(&text, "hello").unwrap();
    let o = featscope(&[
        "snapshot",
        s(&seed()),
        s(&text),
        "--out",
        s(dir.path()),
        "--backend",
        "tract",
    ]);
    assert_fails(&o, 1, "notes.png: not");
}

#[test]
fn a_truncated_image() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(chelsea()).unwrap();
    let cut = dir.path().join("cut.png");
    std::fs::write(&cut, &bytes[..bytes.len() / 3]).unwrap();
    let out = dir.path().join("out");
    let o = featscope(&[
        "snapshot",
        s(&seed()),
        s(&cut),
        "--out",
        s(&out),
        "--backend",
        "tract",
    ]);
    assert_fails(&o, 1, "cut.png: not a readable image");
    assert!(!out.join("summary.json").exists(), "nothing half-written");
}

#[test]
fn a_zero_by_zero_image() {
    let dir = tempfile::tempdir().unwrap();
    // A PNG signature and an IHDR chunk that declares 0×0 pixels.
    let mut png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    png.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 8, 2, 0, 0, 0, 0, 0, 0, 0]);
    let empty = dir.path().join("empty.png");
    std::fs::write(&empty, png).unwrap();
    let o = featscope(&[
        "snapshot",
        s(&seed()),
        s(&empty),
        "--out",
        s(dir.path()),
        "--backend",
        "tract",
    ]);
    assert_fails(&o, 1, "empty.png");
}

#[test]
fn an_image_over_max_side_without_resize() {
    let dir = tempfile::tempdir().unwrap();
    let o = featscope(&[
        "snapshot",
        s(&seed()),
        s(&chelsea()),
        "--max-side",
        "200",
        "--out",
        s(dir.path()),
        "--backend",
        "tract",
    ]);
    assert_fails(&o, 1, "the image is 451×300, over --max-side 200");
    let o = featscope(&[
        "snapshot",
        s(&seed()),
        s(&chelsea()),
        "--max-side",
        "200",
        "--resize",
        "squash",
        "--layer",
        "pool1",
        "--out",
        s(dir.path()),
        "--backend",
        "tract",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("summary.json")).unwrap()).unwrap();
    // 451×300 scaled to fit 200: 200×133 → conv 196×129 → pool 49×32.
    assert_eq!(
        summary["layers"][0]["shape"],
        serde_json::json!([1, 9, 32, 49])
    );
}

#[test]
fn an_output_folder_that_cannot_be_written() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, "").unwrap();
    let out = file.join("out");
    let o = featscope(&[
        "snapshot",
        s(&seed()),
        s(&chelsea()),
        "--out",
        s(&out),
        "--backend",
        "tract",
    ]);
    assert_fails(&o, 1, "cannot create the output folder");
}

#[test]
fn ort_library_missing() {
    let o = featscope(&[
        "layers",
        s(&seed()),
        "--backend",
        "ort",
        "--ort-lib",
        "/nonexistent/libonnxruntime.so",
    ]);
    assert_fails(
        &o,
        1,
        "ONNX Runtime library: --ort-lib: cannot load /nonexistent/libonnxruntime.so",
    );
}

#[test]
fn a_named_ort_library_that_fails_is_an_error_even_with_auto() {
    let o = featscope(&[
        "layers",
        s(&seed()),
        "--ort-lib",
        "/nonexistent/libonnxruntime.so",
    ]);
    assert_fails(
        &o,
        1,
        "--ort-lib: cannot load /nonexistent/libonnxruntime.so",
    );
    let o = Command::new(env!("CARGO_BIN_EXE_featscope"))
        .args(["layers", s(&seed())])
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")
        .output()
        .unwrap();
    assert_fails(
        &o,
        1,
        "ORT_DYLIB_PATH: cannot load /nonexistent/libonnxruntime.so",
    );
}

#[test]
fn ort_library_that_is_not_onnx_runtime() {
    // Any shared library without OrtGetApiBase: the C library itself will do.
    let libc = [
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "/lib64/libc.so.6",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists());
    let Some(libc) = libc else {
        eprintln!("skipped: no libc.so.6 at the usual places");
        return;
    };
    let o = featscope(&["layers", s(&seed()), "--backend", "ort", "--ort-lib", libc]);
    assert_fails(&o, 1, "is not ONNX Runtime (it has no OrtGetApiBase)");
}

#[test]
fn ort_library_too_old() {
    // A stand-in library that reports version 1.10.0 through the real entry point.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("old.c");
    std::fs::write(
        &src,
        "static const char* v(void){return \"1.10.0\";}\n\
         static const void* api(unsigned x){(void)x;return 0;}\n\
         struct base{const void*(*get)(unsigned);const char*(*ver)(void);};\n\
         static struct base b={api,v};\n\
         const struct base* OrtGetApiBase(void){return &b;}\n",
    )
    .unwrap();
    let lib = dir.path().join("libonnxruntime.so");
    let cc = Command::new("cc")
        .args(["-shared", "-fPIC", "-o", s(&lib), s(&src)])
        .status();
    if !cc.is_ok_and(|st| st.success()) {
        eprintln!("skipped: no C compiler");
        return;
    }
    let o = featscope(&[
        "layers",
        s(&seed()),
        "--backend",
        "ort",
        "--ort-lib",
        s(&lib),
    ]);
    assert_fails(
        &o,
        1,
        "is ONNX Runtime 1.10.0, too old: featscope needs 1.17 or newer",
    );
}

#[test]
fn cuda_on_tract_is_an_error_not_a_silent_cpu_run() {
    let o = featscope(&[
        "layers",
        s(&seed()),
        "--backend",
        "tract",
        "--device",
        "cuda",
    ]);
    assert_fails(&o, 1, "--device cuda:0 needs ONNX Runtime with CUDA");
}

#[test]
fn cuda_without_a_cuda_build_of_onnx_runtime_is_an_error() {
    if !ort_available("cuda_without_a_cuda_build_of_onnx_runtime_is_an_error") {
        return;
    }
    let o = featscope(&[
        "layers",
        s(&seed()),
        "--backend",
        "ort",
        "--device",
        "cuda:0",
    ]);
    if o.status.success() {
        eprintln!("skipped: this ONNX Runtime has CUDA");
        return;
    }
    assert_fails(&o, 1, "has no CUDA execution provider");
}

#[test]
fn auto_backend_says_which_engine_it_chose() {
    let o = featscope(&["layers", s(&model("mnist-8.onnx"))]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("featscope: engine: "), "{}", stderr(&o));
}
