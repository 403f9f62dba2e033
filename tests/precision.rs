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

/// A 1×1×4×4 model whose layers break on purpose, in graph order: `shifted` = x − 0.5 (finite),
/// `log` = ln(shifted) (NaN below 0.5), `ratio` = x / (x · 0) (NaN at 0, +Inf elsewhere),
/// `negated` = −ratio (NaN and −Inf).
fn broken_model(dir: &Path) -> PathBuf {
    use featscope::model::builder::{tensor_f32, Dim, GraphBuilder};
    use featscope::model::proto::data_type::FLOAT;
    let dims = [Dim::Fixed(1), Dim::Fixed(1), Dim::Fixed(4), Dim::Fixed(4)];
    let mut g = GraphBuilder::new("broken", 13);
    g.input("x", FLOAT, &dims)
        .initializer(tensor_f32("half", &[], &[0.5]))
        .initializer(tensor_f32("zero", &[], &[0.0]))
        .node("Sub", "shifted", &["x", "half"], &["s"], vec![])
        .node("Log", "log", &["s"], &["l"], vec![])
        .node("Mul", "zeroed", &["x", "zero"], &["z"], vec![])
        .node("Div", "ratio", &["x", "z"], &["r"], vec![])
        .node("Neg", "negated", &["r"], &["n"], vec![])
        .output("l", FLOAT, &dims)
        .output("n", FLOAT, &dims);
    let path = dir.join("broken.onnx");
    std::fs::write(&path, g.finish_bytes("featscope-test")).expect("write model");
    path
}

/// 4×4 grey: eight pixels 0, four 64, four 200.
fn broken_image(dir: &Path) -> PathBuf {
    let img = image::GrayImage::from_fn(4, 4, |x, y| {
        image::Luma([match y * 4 + x {
            0..=7 => 0,
            8..=11 => 64,
            _ => 200,
        }])
    });
    let path = dir.join("grey.png");
    img.save(&path).expect("write image");
    path
}

#[test]
fn nan_and_inf_are_counted_reported_coloured_and_can_fail_the_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (m, img) = (broken_model(dir.path()), broken_image(dir.path()));
    for backend in ["tract", "ort"] {
        if backend == "ort" && !ort_available("nan_and_inf_are_counted") {
            continue;
        }
        let out = dir.path().join(format!("out-{backend}"));
        let args = [
            "snapshot",
            s(&m),
            s(&img),
            "--out",
            s(&out),
            "--preset",
            "unit",
            "--backend",
            backend,
        ];
        let run = featscope(&args);
        let err = stderr(&run);
        assert_eq!(run.status.code(), Some(0), "{backend}: {err}");
        let lines: Vec<&str> = err.lines().filter(|l| l.contains("non-finite")).collect();
        assert_eq!(lines.len(), 1, "{backend}: {err}");
        assert!(
            lines[0].contains("layer 'log' (Log): 12 NaN of 16 values"),
            "{backend}: {err}"
        );
        let summary: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("summary.json")).expect("summary.json"))
                .expect("json");
        let counts: Vec<(String, u64, u64, u64)> = summary["layers"]
            .as_array()
            .expect("layers")
            .iter()
            .map(|l| {
                let n = &l["nonfinite"];
                (
                    l["name"].as_str().unwrap_or("").to_string(),
                    n["nan"].as_u64().unwrap_or(99),
                    n["pos_inf"].as_u64().unwrap_or(99),
                    n["neg_inf"].as_u64().unwrap_or(99),
                )
            })
            .collect();
        let want = [
            ("shifted", 0, 0, 0),
            ("log", 12, 0, 0),
            ("zeroed", 0, 0, 0),
            ("ratio", 8, 8, 0),
            ("negated", 8, 0, 8),
        ];
        for (name, nan, pos, neg) in want {
            assert!(
                counts.contains(&(name.to_string(), nan, pos, neg)),
                "{backend}: {name} in {counts:?}"
            );
        }
        // The grid draws the 12 NaN of `log` magenta (8×8 pixels a value), the rest in the
        // colormap.
        let grid = image::open(out.join("log_grid.png"))
            .expect("grid")
            .to_rgb8();
        let magenta = grid
            .pixels()
            .filter(|p| p.0 == featscope::render::NONFINITE)
            .count();
        assert_eq!(magenta, 12 * 64, "{backend}");
        let lut = featscope::render::Colormap::Viridis.lut();
        assert!(!lut.contains(&featscope::render::NONFINITE));
        // compare and scan count them too.
        let cmp = dir.path().join(format!("cmp-{backend}"));
        let o = featscope(&[
            "compare",
            s(&m),
            s(&m),
            s(&img),
            "--out",
            s(&cmp),
            "--preset",
            "unit",
            "--backend",
            backend,
        ]);
        assert_eq!(o.status.code(), Some(0), "{backend}: {}", stderr(&o));
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(cmp.join("compare.json")).expect("json"))
                .expect("json");
        let log = report["layers"]
            .as_array()
            .and_then(|l| l.iter().find(|l| l["name"] == "log"))
            .expect("log compared");
        assert_eq!(log["nonfinite_a"]["nan"], 12, "{backend}: {log}");
        assert_eq!(log["nonfinite_b"]["nan"], 12, "{backend}: {log}");
        let photos = dir.path().join("photos");
        std::fs::create_dir_all(&photos).expect("folder");
        std::fs::copy(&img, photos.join("a.png")).expect("copy");
        std::fs::copy(&img, photos.join("b.png")).expect("copy");
        let scanned = dir.path().join(format!("scan-{backend}"));
        let o = featscope(&[
            "scan",
            s(&m),
            s(&photos),
            "--out",
            s(&scanned),
            "--preset",
            "unit",
            "--backend",
            backend,
        ]);
        assert_eq!(o.status.code(), Some(0), "{backend}: {}", stderr(&o));
        let result: serde_json::Value =
            serde_json::from_slice(&std::fs::read(scanned.join("scan.json")).expect("json"))
                .expect("json");
        let ratio = result["layers"]
            .as_array()
            .and_then(|l| l.iter().find(|l| l["name"] == "ratio"))
            .expect("ratio scanned");
        assert_eq!(
            ratio["stats"]["nonfinite"]["nan"], 16,
            "{backend}: two images"
        );
        assert_eq!(ratio["stats"]["nonfinite"]["pos_inf"], 16, "{backend}");
        assert_eq!(ratio["stats"]["nonfinite_images"], 2, "{backend}");
        // --fail-on-nonfinite: the same files, exit 1.
        let mut failing = args.to_vec();
        failing.push("--fail-on-nonfinite");
        let run = featscope(&failing);
        assert_eq!(run.status.code(), Some(1), "{backend}: {}", stderr(&run));
        assert!(out.join("log_grid.png").exists());
    }
}

#[test]
fn an_integer_input_takes_the_pixels_as_they_are() {
    use featscope::model::builder::{attr_int, Dim, GraphBuilder};
    use featscope::model::proto::data_type::{FLOAT, UINT8};
    let dir = tempfile::tempdir().expect("temp dir");
    let dims = [Dim::Fixed(1), Dim::Fixed(4), Dim::Fixed(4), Dim::Fixed(3)];
    let mut g = GraphBuilder::new("u8", 13);
    g.input("pixels", UINT8, &dims)
        .node(
            "Cast",
            "as_float",
            &["pixels"],
            &["f"],
            vec![attr_int("to", FLOAT as i64)],
        )
        .node(
            "Transpose",
            "nchw",
            &["f"],
            &["t"],
            vec![featscope::model::builder::attr_ints("perm", &[0, 3, 1, 2])],
        )
        .output(
            "t",
            FLOAT,
            &[Dim::Fixed(1), Dim::Fixed(3), Dim::Fixed(4), Dim::Fixed(4)],
        );
    let path = dir.path().join("u8.onnx");
    std::fs::write(&path, g.finish_bytes("featscope-test")).expect("write model");
    let img =
        image::RgbImage::from_fn(4, 4, |x, y| image::Rgb([(x * 60) as u8, (y * 50) as u8, 7]));
    let img_path = dir.path().join("rgb.png");
    img.save(&img_path).expect("write image");
    let mut backends = vec![Backend::Tract];
    if ort_available("an_integer_input_takes_the_pixels_as_they_are") {
        backends.push(Backend::Ort);
    }
    for backend in backends {
        let (acts, _) = run(&path, &img_path, backend).expect("runs");
        let fm = acts
            .layers
            .iter()
            .find(|l| l.tensor == "t")
            .and_then(|l| l.feature_maps())
            .expect("maps");
        for (x, y, px) in img.enumerate_pixels() {
            for c in 0..3 {
                assert_eq!(
                    fm.value(c, y as usize, x as usize),
                    px.0[c] as f32,
                    "{backend:?}"
                );
            }
        }
        assert!(
            acts.input_description.contains("as uint8"),
            "{}",
            acts.input_description
        );
    }
}

#[test]
fn a_scale_computed_at_run_time_is_asked_of_the_engine() {
    use featscope::model::builder::{Dim, GraphBuilder};
    use featscope::model::proto::data_type::FLOAT;
    if !ort_available("a_scale_computed_at_run_time_is_asked_of_the_engine") {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let dims = [Dim::Fixed(1), Dim::Fixed(1), Dim::Fixed(4), Dim::Fixed(4)];
    let mut g = GraphBuilder::new("dynamic", 13);
    g.input("x", FLOAT, &dims)
        .node(
            "DynamicQuantizeLinear",
            "dq",
            &["x"],
            &["q", "q_scale", "q_zero"],
            vec![],
        )
        .node(
            "DequantizeLinear",
            "back",
            &["q", "q_scale", "q_zero"],
            &["y"],
            vec![],
        )
        .output("y", FLOAT, &dims);
    let path = dir.path().join("dynamic.onnx");
    std::fs::write(&path, g.finish_bytes("featscope-test")).expect("write model");
    let img = broken_image(dir.path());
    let m = Model::open(&path).expect("model");
    let mut cfg = config(Backend::Ort);
    cfg.preprocess.preset = Some(featscope::preprocess::Preset::Unit);
    cfg.raw_graph = true;
    let mut analyzer = Analyzer::open(m.with_raw_graph(), &cfg, &Selection::All).expect("opens");
    let acts = analyzer.compute(&img).expect("runs");
    let q = acts.layers.iter().find(|l| l.tensor == "q").expect("q");
    let y = acts.layers.iter().find(|l| l.tensor == "y").expect("y");
    let quant = q
        .precision
        .quantization
        .as_ref()
        .expect("a scale, from the run");
    // x spans 0..200/255: scale = (max − min)/255, zero point 0.
    assert!(
        (quant.scale[0] - 200.0 / 255.0 / 255.0).abs() < 1e-7,
        "{quant:?}"
    );
    assert_eq!(quant.zero_point, vec![0]);
    // The dequantized integers are the values DequantizeLinear gives.
    assert_eq!(values(q), values(y));
}
