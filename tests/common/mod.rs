//! Shared helpers for the integration tests.
#![allow(dead_code)]

use featscope::activations::Activations;
use featscope::engine::{ort_lib, Backend, EngineOptions};
use featscope::model::builder::{attr_ints, tensor_f32, Dim, GraphBuilder};
use featscope::model::proto::data_type::FLOAT;
use featscope::model::Model;
use featscope::pipeline::{Analyzer, RunConfig, Selection};
use std::path::{Path, PathBuf};

/// The built binary, with no ORT_DYLIB_PATH from the caller's environment.
pub fn featscope(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_featscope"))
        .args(args)
        .env_remove("ORT_DYLIB_PATH")
        .output()
        .expect("featscope runs")
}

/// A path as an argument.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models")
}

pub fn model(name: &str) -> PathBuf {
    models_dir().join(name)
}

/// Whether ONNX Runtime can be loaded here. Tests that need it skip without it, unless
/// FEATSCOPE_REQUIRE_ORT=1 (set by .ci/run), where a missing library fails them.
pub fn ort_available(test: &str) -> bool {
    match ort_lib::init(None) {
        Ok(_) => true,
        Err(e) => {
            if std::env::var("FEATSCOPE_REQUIRE_ORT").as_deref() == Ok("1") {
                panic!("{test}: FEATSCOPE_REQUIRE_ORT=1 but ONNX Runtime is not available: {e}");
            }
            eprintln!("{test}: skipped, ONNX Runtime not available: {e}");
            false
        }
    }
}

pub fn config(backend: Backend) -> RunConfig {
    RunConfig {
        engine: EngineOptions {
            backend,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Runs `model_path` on `image` with every exposed tensor.
pub fn run_all(model_path: &Path, image: &Path, backend: Backend) -> Activations {
    let model = Model::open(model_path).expect("model opens");
    let mut analyzer =
        Analyzer::open(model, &config(backend), &Selection::All).expect("engine opens");
    analyzer.compute(image).expect("inference runs")
}

/// Runs an in-memory model (written to a temp folder) on a blank image.
pub fn run_bytes(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    backend: Backend,
) -> anyhow::Result<Activations> {
    let path = dir.join(name);
    std::fs::write(&path, bytes)?;
    let model = Model::open(&path)?;
    let mut analyzer = Analyzer::open(model, &config(backend), &Selection::All)?;
    analyzer.compute_blank()
}

/// A 1×1 Conv (weights 4, −2) whose weights live in `ext.weights` beside the model, as large
/// models store them; `with_weights_file: false` leaves that file out.
pub fn write_external_data_model(dir: &Path, with_weights_file: bool) -> PathBuf {
    use featscope::model::proto::{StringStringEntryProto, DATA_LOCATION_EXTERNAL};
    let weights: Vec<u8> = [4.0f32, -2.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    if with_weights_file {
        std::fs::write(dir.join("ext.weights"), &weights).expect("write the weights");
    }
    let mut w = tensor_f32("w", &[2, 1, 1, 1], &[]);
    w.raw_data = Default::default();
    w.data_location = DATA_LOCATION_EXTERNAL;
    let entry = |k: &str, v: &str| StringStringEntryProto {
        key: k.into(),
        value: v.into(),
    };
    w.external_data = vec![
        entry("location", "ext.weights"),
        entry("offset", "0"),
        entry("length", "8"),
    ];
    let mut g = GraphBuilder::new("ext", 13);
    g.input(
        "x",
        FLOAT,
        &[Dim::Fixed(1), Dim::Fixed(1), Dim::Fixed(4), Dim::Fixed(4)],
    )
    .initializer(w)
    .node(
        "Conv",
        "conv",
        &["x", "w"],
        &["y"],
        vec![attr_ints("kernel_shape", &[1, 1])],
    )
    .output(
        "y",
        FLOAT,
        &[Dim::Fixed(1), Dim::Fixed(2), Dim::Fixed(4), Dim::Fixed(4)],
    );
    let path = dir.join("ext.onnx");
    std::fs::write(&path, g.finish_bytes("featscope-test")).expect("write the model");
    path
}
pub mod wire;

/// Whether python3 can import `modules` (CI installs numpy, onnx and onnxruntime). Tests that
/// need them skip without them, unless FEATSCOPE_REQUIRE_ORT=1, where they fail.
pub fn python_with(test: &str, modules: &[&str]) -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", &format!("import {}", modules.join(", "))])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        let what = modules.join(", ");
        if std::env::var("FEATSCOPE_REQUIRE_ORT").as_deref() == Ok("1") {
            panic!("{test}: python3 with {what} is required here");
        }
        eprintln!("{test}: skipped, python3 with {what} not available");
    }
    ok
}
