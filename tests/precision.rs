//! Deployed precisions: float16, bfloat16 and int8 (QDQ and QOperator) versions of the bundled
//! models, made by the standard tools (models/deployed/make_deployed.py), open and draw on both
//! engines, with every drawn activation checked against ONNX Runtime's own values for that
//! tensor (a Python reference that reads the graph apart from featscope); NaN and ±Inf are
//! counted, coloured and reported.

mod common;

use common::{config, featscope, model, ort_available, s, stderr};
use featscope::activations::{Activations, Layer};
use featscope::engine::Backend;
use featscope::model::Model;
use featscope::pipeline::{Analyzer, Selection};
use featscope::precision::{sqnr_db, ElemType};
use std::path::{Path, PathBuf};
use std::process::Command;

fn deployed(name: &str) -> PathBuf {
    model(&format!("deployed/{name}"))
}

fn image_for(model_name: &str) -> PathBuf {
    if model_name.starts_with("mnist") {
        model("digit7.png")
    } else {
        model("chelsea.png")
    }
}

/// Every layer of `path` on `image`, and the input tensor that was fed.
fn run(path: &Path, image: &Path, backend: Backend) -> anyhow::Result<(Activations, Vec<f32>)> {
    let m = Model::open(path)?;
    let mut analyzer = Analyzer::open(m, &config(backend), &Selection::All)?;
    let acts = analyzer.compute(image)?;
    let input = analyzer
        .last_input()
        .map(|i| i.data.clone())
        .unwrap_or_default();
    Ok((acts, input))
}

fn python_reference_available(test: &str) -> bool {
    common::python_with(test, &["numpy", "onnx", "onnxruntime"])
}

/// ONNX Runtime's own values (through its Python API, graph optimisations off) for every
/// drawable layer of `acts`, fed `input`.
fn reference_values(
    path: &Path,
    acts: &Activations,
    input: &[f32],
    shape: &[usize],
) -> Vec<Vec<f32>> {
    let dir = tempfile::tempdir().expect("temp dir");
    let input_path = dir.path().join("input.npy");
    let arr = ndarray::ArrayD::from_shape_vec(shape.to_vec(), input.to_vec()).expect("shape");
    ndarray_npy::write_npy(&input_path, &arr).expect("write input");
    let out = dir.path().join("out");
    let layers: Vec<&Layer> = drawn(acts);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/ort_values.py");
    let status = Command::new("python3")
        .arg(&script)
        .arg(path)
        .arg(&input_path)
        .arg(&out)
        .args(layers.iter().map(|l| l.tensor.as_str()))
        .output()
        .expect("python3 runs");
    assert!(
        status.status.success(),
        "reference: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    (0..layers.len())
        .map(|k| {
            let a: ndarray::ArrayD<f32> =
                ndarray_npy::read_npy(out.join(format!("{k}.npy"))).expect("read reference");
            a.iter().copied().collect()
        })
        .collect()
}

fn drawn(acts: &Activations) -> Vec<&Layer> {
    acts.layers
        .iter()
        .filter(|l| l.feature_maps().is_some())
        .collect()
}

fn values(l: &Layer) -> &[f32] {
    &l.feature_maps().expect("feature maps").data
}

/// The largest gap between two layers, in units of `step` (a quantized layer's scale; 1 for
/// float layers).
fn max_gap(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// How far ONNX Runtime through featscope may be from its Python values: nothing for
/// quantized layers (the same integer arithmetic), a float16 step at the layer's largest value
/// for float16 ones (the C API session fuses operators the unoptimised Python one leaves apart,
/// rounding once where it rounded twice), float32 rounding otherwise.
fn tolerance(l: &Layer, want: &[f32]) -> f32 {
    let largest = want.iter().fold(0f32, |m, v| m.max(v.abs()));
    match l.precision.elem {
        ElemType::Float16 => largest * 2f32.powi(-10),
        e if e.is_integer() => 1e-6 * largest,
        _ => 1e-6 * largest.max(1.0),
    }
}

fn step(l: &Layer) -> f32 {
    l.precision
        .quantization
        .as_ref()
        .map_or(1.0, |q| q.scale[0])
}

const MODELS: [&str; 7] = [
    "mnist-8_fp16.onnx",
    "mnist-8_fp16io32.onnx",
    "mnist-8_int8_qdq.onnx",
    "mnist-8_int8_qop.onnx",
    "efficientnet_lite0_fp16io32.onnx",
    "efficientnet_lite0_int8_qdq.onnx",
    "efficientnet_lite0_int8_qop.onnx",
];

#[test]
fn every_precision_opens_and_draws_on_tract() {
    // (model, feature maps drawn, the type of the first drawn one)
    let expected = [
        ("mnist-8_fp16.onnx", 8, ElemType::Float16),
        ("mnist-8_fp16io32.onnx", 9, ElemType::Float16),
        ("mnist-8_int8_qdq.onnx", 7, ElemType::Uint8),
        ("efficientnet_lite0_fp16io32.onnx", 93, ElemType::Float16),
        ("efficientnet_lite0_int8_qdq.onnx", 60, ElemType::Uint8),
    ];
    for (name, maps, elem) in expected {
        let path = deployed(name);
        let (acts, _) = run(&path, &image_for(name), Backend::Tract)
            .unwrap_or_else(|e| panic!("{name}: {e:#}"));
        let drawn = drawn(&acts);
        assert_eq!(drawn.len(), maps, "{name}: feature maps drawn");
        let first = drawn[drawn.len().min(2) - 1];
        assert_eq!(first.precision.elem, elem, "{name}: {}", first.name);
        assert!(
            drawn
                .iter()
                .all(|l| values(l).iter().all(|v| v.is_finite())),
            "{name}: every value a number"
        );
    }
}

#[test]
fn where_tract_cannot_run_a_model_it_says_what_and_who_can() {
    for (name, what) in [
        (
            "mnist-8_int8_qop.onnx",
            "does not implement the operator QLinearAdd; --backend ort runs it",
        ),
        ("mnist-8_bf16.onnx", "Bfloat16"),
    ] {
        let out = featscope(&["layers", s(&deployed(name)), "--backend", "tract"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert_eq!(err.lines().count(), 1, "{name}: one line: {err}");
        assert!(err.contains(what) && err.contains(name), "{name}: {err}");
    }
}

#[test]
fn every_drawn_activation_matches_onnx_runtimes_own_values() {
    let test = "every_drawn_activation_matches_onnx_runtimes_own_values";
    if !ort_available(test) || !python_reference_available(test) {
        return;
    }
    for name in MODELS {
        let path = deployed(name);
        let image = image_for(name);
        let (ort, input) = run(&path, &image, Backend::Ort).expect("ONNX Runtime runs it");
        let shape: Vec<usize> = {
            let m = Model::open(&path).expect("model");
            let g = featscope::preprocess::input_geometry(&m).expect("geometry");
            g.tensor_shape(ort.input_image.dimensions())
        };
        let reference = reference_values(&path, &ort, &input, &shape);
        let layers = drawn(&ort);
        assert!(!layers.is_empty(), "{name}");
        for (l, want) in layers.iter().zip(&reference) {
            let gap = max_gap(values(l), want);
            assert!(
                gap <= tolerance(l, want),
                "{name} {} ({}): ONNX Runtime through featscope is {gap} from its Python values",
                l.name,
                l.tensor
            );
        }
        // tract, where it runs the model: its own arithmetic, checked against the same values.
        let Ok((tract, _)) = run(&path, &image, Backend::Tract) else {
            assert!(name.contains("qop"), "{name}: tract runs it");
            continue;
        };
        let tract_layers = drawn(&tract);
        assert_eq!(tract_layers.len(), layers.len(), "{name}");
        let mut first_difference = None;
        let mut worst = f64::INFINITY;
        for ((l, t), want) in layers.iter().zip(&tract_layers).zip(&reference) {
            assert_eq!(l.tensor, t.tensor);
            let db = sqnr_db(want, values(t)).unwrap_or(f64::INFINITY);
            // tract computes float16 operators in float16 (ONNX Runtime's CPU provider in
            // float32) and sums in another order, which moves quantized values across
            // rounding ties: the engines part by this much at most on these models.
            assert!(
                db >= 25.0,
                "{name} {}: tract is {db:.1} dB from ONNX Runtime",
                l.name
            );
            worst = worst.min(db);
            let gap = max_gap(values(t), want) / step(l);
            if first_difference.is_none() && gap > 1e-3 {
                first_difference = Some((l.name.to_string(), gap));
            }
        }
        eprintln!("{name}: tract within {worst:.1} dB of ONNX Runtime on every layer");
        // On a quantized model the first tensor where the engines part differs by one step
        // (a value on a rounding tie): the rest is that step carried through the layers.
        if name.contains("qdq") {
            if let Some((layer, gap)) = first_difference {
                assert!(
                    gap <= 1.0001,
                    "{name}: first difference {gap} steps at {layer}"
                );
            }
        }
    }
}
