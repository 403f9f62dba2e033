//! Class evidence maps and filter pictures: the exact CAM agrees with the model's own logits and
//! with a numpy computation from the ONNX file's weights; Score-CAM and Eigen-CAM run on a model
//! without a pooled linear head; `--filters` draws convolution kernels.

mod common;

use common::*;
use featscope::activations::{Activations, LayerData};
use featscope::engine::Backend;
use featscope::explain::run::{ClassPick, EvidenceRequest, Explainer, MethodChoice};
use featscope::explain::Method;
use featscope::model::builder::{attr_int, attr_ints, tensor_f32, tensor_i64, Dim, GraphBuilder};
use featscope::model::proto::data_type::FLOAT;
use featscope::model::structure::linear_head;
use featscope::model::Model;
use featscope::pipeline::{Analyzer, Selection};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn summary(out: &Path) -> Value {
    let bytes = std::fs::read(out.join("summary.json")).expect("summary.json");
    serde_json::from_slice(&bytes).expect("JSON")
}

fn read_npy(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let arr: ndarray::ArrayD<f32> = ndarray_npy::read_npy(path).expect("npy");
    (arr.shape().to_vec(), arr.iter().copied().collect())
}

fn vector<'a>(acts: &'a Activations, tensor: &str) -> &'a [f32] {
    match &acts
        .layers
        .iter()
        .find(|l| l.tensor == tensor)
        .expect("tensor computed")
        .data
    {
        LayerData::Vector(v) => v,
        other => panic!("{tensor} is not a vector: {other:?}"),
    }
}

/// For every class k: mean(CAM_k) + b_k is the model's logit k (the CAM's defining identity).
fn check_identity(model_path: &Path, image: Option<&Path>, backend: Backend, classes: &[usize]) {
    let model = Model::open(model_path).expect("model");
    let explainer = Explainer::new(&model).expect("head read");
    let head = explainer.head().expect("a pooled linear head").clone();
    let mut analyzer = Analyzer::open(model, &config(backend), &Selection::All).expect("engine");
    let acts = match image {
        Some(i) => analyzer.compute(i).expect("run"),
        None => analyzer.compute_blank().expect("run"),
    };
    let logits = vector(&acts, &head.logits).to_vec();
    for &k in classes {
        let request = EvidenceRequest {
            method: MethodChoice::Cam,
            class: ClassPick::Index(k),
            ..Default::default()
        };
        let evidence = explainer
            .explain(&mut analyzer, &acts, &request, &mut |_, _| {})
            .expect("cam");
        assert_eq!(evidence.method, Method::Cam);
        let predicted = evidence.map.mean() + head.bias[k] as f64;
        let tolerance = 1e-4 * (1.0 + logits[k].abs() as f64);
        assert!(
            (predicted - logits[k] as f64).abs() <= tolerance,
            "{backend:?} class {k}: mean(CAM) + b = {predicted}, logit = {}",
            logits[k]
        );
    }
}

#[test]
fn efficientnet_cam_means_plus_bias_are_its_logits_on_both_engines() {
    let model = model("efficientnet_lite0.onnx");
    let image = models_dir().join("chelsea.png");
    let head = linear_head(&Model::open(&model).unwrap()).unwrap().unwrap();
    assert_eq!(
        (
            head.features.as_str(),
            head.logits.as_str(),
            head.pooling.as_str()
        ),
        ("/_swish_1/Clip_output_0", "logits", "GlobalAveragePool")
    );
    assert_eq!((head.channels, head.classes), (1280, 1000));
    let classes = [282, 285, 0, 999];
    check_identity(&model, Some(&image), Backend::Tract, &classes);
    if ort_available("efficientnet_cam_means_plus_bias_are_its_logits_on_both_engines") {
        check_identity(&model, Some(&image), Backend::Ort, &classes);
    }
}

/// A Keras-style graph (tf2onnx): NHWC input, transposed around the Conv, ReduceMean over the
/// spatial axes, then MatMul + Add: the other way exporters write a pooled linear head.
fn keras_style_model(path: &Path) -> (Vec<f32>, Vec<f32>) {
    let d = |v: &[i64]| v.iter().map(|&x| Dim::Fixed(x)).collect::<Vec<_>>();
    let conv: Vec<f32> = (0..4 * 3 * 9)
        .map(|i| ((i * 7 % 13) as f32 - 6.0) / 10.0)
        .collect();
    let dense: Vec<f32> = (0..4 * 5)
        .map(|i| ((i * 3 % 7) as f32 - 3.0) / 2.0)
        .collect();
    let bias = vec![0.5, -1.0, 0.25, 2.0, -0.75];
    let mut g = GraphBuilder::new("keras_style", 13);
    g.input("image", FLOAT, &d(&[1, 8, 8, 3]))
        .initializer(tensor_f32("kernel", &[4, 3, 3, 3], &conv))
        .initializer(tensor_f32("dense_kernel", &[4, 5], &dense))
        .initializer(tensor_f32("bias", &[5], &bias))
        .initializer(tensor_i64("flat", &[2], &[1, 4]))
        .node(
            "Transpose",
            "to_nchw",
            &["image"],
            &["nchw"],
            vec![attr_ints("perm", &[0, 3, 1, 2])],
        )
        .node(
            "Conv",
            "conv",
            &["nchw", "kernel"],
            &["conv"],
            vec![
                attr_ints("kernel_shape", &[3, 3]),
                attr_ints("pads", &[1, 1, 1, 1]),
            ],
        )
        .node("Relu", "relu", &["conv"], &["relu"], vec![])
        .node(
            "Transpose",
            "to_nhwc",
            &["relu"],
            &["features"],
            vec![attr_ints("perm", &[0, 2, 3, 1])],
        )
        .node(
            "ReduceMean",
            "gap",
            &["features"],
            &["pooled"],
            vec![attr_ints("axes", &[1, 2]), attr_int("keepdims", 0)],
        )
        .node(
            "Reshape",
            "flatten",
            &["pooled", "flat"],
            &["flat_out"],
            vec![],
        )
        .node(
            "MatMul",
            "dense",
            &["flat_out", "dense_kernel"],
            &["matmul"],
            vec![],
        )
        .node("Add", "logits", &["matmul", "bias"], &["logits"], vec![])
        .output("logits", FLOAT, &d(&[1, 5]));
    std::fs::write(path, g.finish_bytes("featscope-test")).expect("write model");
    (dense, bias)
}

#[test]
fn a_keras_style_head_is_read_and_its_cam_matches_its_logits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keras_style.onnx");
    let (dense, bias) = keras_style_model(&path);
    let head = linear_head(&Model::open(&path).unwrap()).unwrap().unwrap();
    assert_eq!(
        (
            head.features.as_str(),
            head.logits.as_str(),
            head.pooling.as_str()
        ),
        ("features", "logits", "ReduceMean")
    );
    assert_eq!(head.bias, bias);
    // Stored as channels × classes; read as classes × channels.
    assert_eq!(head.row(1), &[dense[1], dense[6], dense[11], dense[16]]);
    let all: Vec<usize> = (0..5).collect();
    check_identity(&path, None, Backend::Tract, &all);
    if ort_available("a_keras_style_head_is_read_and_its_cam_matches_its_logits") {
        check_identity(&path, None, Backend::Ort, &all);
    }
}

/// Whether python3 with numpy is here (CI installs it with ONNX Runtime's wheel).
fn numpy_available(test: &str) -> bool {
    common::python_with(test, &["numpy"])
}

/// A reader of the ONNX protobuf written for this test alone (no `onnx` package), and the CAM
/// computed with numpy from the Gemm's weights and the feature map featscope wrote.
const NUMPY_CAM: &str = r#"
import sys, numpy as np

def fields(buf):
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = varint(buf, i)
        elif wire == 2:
            n, i = varint(buf, i)
            value, i = buf[i:i + n], i + n
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        else:
            raise ValueError(wire)
        yield number, wire, value

def varint(buf, i):
    shift = result = 0
    while True:
        b = buf[i]; i += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, i

model_path, features_npy, cam_npy, class_index = sys.argv[1:5]
model = open(model_path, 'rb').read()
graph = next(v for n, w, v in fields(model) if n == 7)
nodes, weights = [], {}
for n, w, v in fields(graph):
    if n == 1:
        node = {'input': [], 'op': ''}
        for fn, fw, fv in fields(v):
            if fn == 1: node['input'].append(fv.decode())
            if fn == 4: node['op'] = fv.decode()
        nodes.append(node)
    if n == 5:
        dims, name, raw, dtype = [], '', b'', 0
        for fn, fw, fv in fields(v):
            if fn == 2: dtype = fv
            if fn == 1 and fw == 0: dims.append(fv)
            if fn == 1 and fw == 2:
                j = 0
                while j < len(fv):
                    d, j = varint(fv, j); dims.append(d)
            if fn == 8: name = fv.decode()
            if fn == 9: raw = fv
        if dtype == 1:  # float32
            weights[name] = np.frombuffer(raw, dtype='<f4').reshape(dims)
gemm = next(n for n in nodes if n['op'] == 'Gemm')
W = weights[gemm['input'][1]]          # classes x channels (transB = 1)
F = np.load(features_npy).astype(np.float64)
k = int(class_index)
reference = np.tensordot(W[k].astype(np.float64), F, axes=(0, 0))
ours = np.load(cam_npy)
assert ours.shape == reference.shape, (ours.shape, reference.shape)
err = np.abs(ours - reference).max()
print(f"max |featscope - numpy| = {err:.3g} over {reference.size} values, range {np.ptp(reference):.3g}")
assert err <= 1e-4, err
"#;

#[test]
fn efficientnet_cam_agrees_with_numpy_from_the_onnx_weights() {
    if !numpy_available("efficientnet_cam_agrees_with_numpy_from_the_onnx_weights") {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let model = model("efficientnet_lite0.onnx");
    for (backend, class) in [("auto", "282"), ("tract", "tiger cat"), ("tract", "7")] {
        let result = featscope(&[
            "snapshot",
            s(&model),
            s(&models_dir().join("chelsea.png")),
            "--layer",
            "/_swish_1/Clip",
            &format!("--cam={class}"),
            "--npy",
            "--backend",
            backend,
            "--out",
            s(out.path()),
        ]);
        assert!(
            result.status.success(),
            "{}",
            String::from_utf8_lossy(&result.stderr)
        );
        let json = summary(out.path());
        let cam = &json["cam"];
        let k = cam["class"].as_u64().expect("class") as usize;
        assert_eq!(cam["method"], "cam");
        assert_eq!(cam["layer"], "/_swish_1/Clip");
        if class != "7" {
            assert_eq!((k, cam["label"].as_str()), (282, Some("tiger cat")));
        }
        let stem = format!("cam_{k}");
        let files: Vec<&str> = cam["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(
            files,
            [
                &format!("{stem}.png")[..],
                &format!("{stem}_overlay.png"),
                &format!("{stem}.npy")
            ]
        );
        let (shape, _) = read_npy(&out.path().join(format!("{stem}.npy")));
        assert_eq!(shape, [7, 7]);
        let check = Command::new("python3")
            .args(["-c", NUMPY_CAM])
            .arg(&model)
            .arg(out.path().join("swish_1_Clip.npy"))
            .arg(out.path().join(format!("{stem}.npy")))
            .arg(k.to_string())
            .output()
            .expect("python3 runs");
        assert!(
            check.status.success(),
            "numpy reference: {}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
        eprintln!("{}", String::from_utf8_lossy(&check.stdout).trim());
    }
}

#[test]
fn score_cam_and_eigen_cam_explain_a_model_without_a_pooled_head() {
    // mnist-8 ends in MatMul over a flattened 16×4×4 map: no global average, so no exact CAM.
    let out = tempfile::tempdir().unwrap();
    let model = model("mnist-8.onnx");
    let image = models_dir().join("digit7.png");
    let refused = featscope(&[
        "snapshot",
        s(&model),
        s(&image),
        "--cam",
        "--cam-method",
        "cam",
        "--out",
        s(out.path()),
    ]);
    assert_eq!(refused.status.code(), Some(1));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("score-cam") && err.lines().count() == 1,
        "{err}"
    );

    let ok = featscope(&[
        "snapshot",
        s(&model),
        s(&image),
        "--cam",
        "--npy",
        "--backend",
        "tract",
        "--out",
        s(out.path()),
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let cam = summary(out.path())["cam"].clone();
    assert_eq!(cam["method"], "score-cam");
    assert_eq!(cam["class"], 7);
    assert_eq!(cam["layer"], "Pooling160");
    assert_eq!(cam["channels"], 16);
    let (shape, values) = read_npy(&out.path().join("cam_7.npy"));
    assert_eq!(shape, [4, 4]);
    // A convex combination of non-negative (pooled ReLU) channels: non-negative, not all zero.
    assert!(values.iter().all(|&v| v >= 0.0) && values.iter().any(|&v| v > 0.0));

    let capped = featscope(&[
        "snapshot",
        s(&model),
        s(&image),
        "--cam=3",
        "--max-channels",
        "4",
        "--backend",
        "tract",
        "--out",
        s(out.path()),
    ]);
    assert!(
        capped.status.success(),
        "{}",
        String::from_utf8_lossy(&capped.stderr)
    );
    let cam = summary(out.path())["cam"].clone();
    assert_eq!(
        (cam["class"].as_u64(), cam["channels"].as_u64()),
        (Some(3), Some(4))
    );
    assert!(
        !out.path().join("cam_7.png").exists(),
        "the earlier run's files are gone"
    );

    let eigen = featscope(&[
        "snapshot",
        s(&model),
        s(&image),
        "--cam",
        "--cam-method",
        "eigen-cam",
        "--cam-layer",
        "Convolution28",
        "--out",
        s(out.path()),
    ]);
    assert!(
        eigen.status.success(),
        "{}",
        String::from_utf8_lossy(&eigen.stderr)
    );
    let cam = summary(out.path())["cam"].clone();
    assert_eq!(cam["method"], "eigen-cam");
    assert!(cam.get("class").is_none());
    assert_eq!(
        (cam["height"].as_u64(), cam["width"].as_u64()),
        (Some(28), Some(28))
    );
    assert!(out.path().join("cam_eigen.png").exists());
    assert!(out.path().join("cam_eigen_overlay.png").exists());
}

#[test]
fn score_cam_batches_on_a_free_batch_axis_and_matches_one_at_a_time() {
    // The same model with a symbolic batch axis runs its masked inputs 16 at a time; the map
    // must not depend on it.
    let dir = tempfile::tempdir().unwrap();
    let fixed = dir.path().join("fixed.onnx");
    let free = dir.path().join("free.onnx");
    for (path, batch) in [(&fixed, Dim::Fixed(1)), (&free, Dim::Symbolic("N".into()))] {
        let d = |v: &[i64]| v.iter().map(|&x| Dim::Fixed(x)).collect::<Vec<_>>();
        let mut input = vec![batch.clone()];
        input.extend(d(&[3, 16, 16]));
        let w1: Vec<f32> = (0..20 * 3 * 9)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) / 10.0)
            .collect();
        let w2: Vec<f32> = (0..6 * 20 * 16)
            .map(|i| ((i * 5 % 11) as f32 - 5.0) / 30.0)
            .collect();
        let mut g = GraphBuilder::new("free_batch", 13);
        g.input("x", FLOAT, &input)
            .initializer(tensor_f32("w1", &[20, 3, 3, 3], &w1))
            .initializer(tensor_f32("w2", &[6, 20, 4, 4], &w2))
            .node(
                "Conv",
                "conv",
                &["x", "w1"],
                &["conv"],
                vec![
                    attr_ints("kernel_shape", &[3, 3]),
                    attr_ints("strides", &[4, 4]),
                    attr_ints("pads", &[1, 1, 1, 1]),
                ],
            )
            .node("Relu", "relu", &["conv"], &["relu"], vec![])
            .node(
                "Conv",
                "head",
                &["relu", "w2"],
                &["head"],
                vec![attr_ints("kernel_shape", &[4, 4])],
            )
            .node("Flatten", "scores", &["head"], &["scores"], vec![])
            .output("scores", FLOAT, &[batch, Dim::Fixed(6)]);
        std::fs::write(path, g.finish_bytes("featscope-test")).unwrap();
    }
    let image = models_dir().join("coffee.png");
    let mut maps = Vec::new();
    for path in [&fixed, &free] {
        let out = dir.path().join(path.file_stem().unwrap());
        let r = featscope(&[
            "snapshot",
            s(path),
            s(&image),
            "--cam=2",
            "--npy",
            "--backend",
            "tract",
            "--size",
            "16x16",
            "--out",
            s(&out),
        ]);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        assert_eq!(summary(&out)["cam"]["channels"], 20);
        maps.push(read_npy(&out.join("cam_2.npy")).1);
    }
    for (a, b) in maps[0].iter().zip(&maps[1]) {
        assert!((a - b).abs() <= 1e-5 * (1.0 + a.abs()), "{a} vs {b}");
    }
}

#[test]
fn cam_classes_out_of_range_or_unknown_are_one_line_errors() {
    let out = tempfile::tempdir().unwrap();
    let model = model("efficientnet_lite0.onnx");
    let image = models_dir().join("chelsea.png");
    for (class, expected) in [
        ("--cam=1000", "class 1000 is out of range"),
        (
            "--cam=no such animal",
            "no class is labelled 'no such animal'",
        ),
    ] {
        let r = featscope(&[
            "snapshot",
            s(&model),
            s(&image),
            class,
            "--backend",
            "tract",
            "--out",
            s(out.path()),
        ]);
        assert_eq!(r.status.code(), Some(1));
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(
            err.contains(expected) && err.contains("chelsea.png"),
            "{err}"
        );
        assert_eq!(
            err.lines().filter(|l| l.contains("error")).count(),
            1,
            "{err}"
        );
    }
    let usage = featscope(&["snapshot", s(&model), s(&image), "--cam-method", "cam"]);
    assert_eq!(usage.status.code(), Some(2), "--cam-method needs --cam");
}

#[test]
fn filters_draw_first_layer_kernels_in_colour_and_deeper_ones_averaged() {
    let out = tempfile::tempdir().unwrap();
    let model_path = model("seed_cnn.onnx");
    let r = featscope(&[
        "snapshot",
        s(&model_path),
        s(&models_dir().join("chelsea.png")),
        "--filters",
        "--backend",
        "tract",
        "--out",
        s(out.path()),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let json = summary(out.path());
    let layers = json["layers"].as_array().unwrap();
    let with_filters: Vec<(&str, &str)> = layers
        .iter()
        .filter_map(|l| Some((l["op"].as_str()?, l.get("filters")?.as_str()?)))
        .collect();
    assert_eq!(
        with_filters.first(),
        Some(&("Conv", "rgb")),
        "{with_filters:?}"
    );
    assert!(with_filters[1..]
        .iter()
        .all(|(op, view)| *op == "Conv" && *view != "rgb"));
    // Every Conv with constant weights got its picture, and nothing else did.
    let convs = layers.iter().filter(|l| l["op"] == "Conv").count();
    assert_eq!(with_filters.len(), convs);

    // The first layer's tiles are the kernels' own colours: tile 0's top-left pixel is its
    // first tap, each channel scaled to the kernel's range.
    let model = Model::open(&model_path).unwrap();
    let first = layers.iter().find(|l| l["op"] == "Conv").unwrap();
    let constants = featscope::model::weights::Constants::of(&model).unwrap();
    let kernels = featscope::model::structure::conv_kernels(
        &constants,
        &model,
        first["tensor"].as_str().unwrap(),
    )
    .unwrap()
    .unwrap();
    let plane = kernels.dims[2] * kernels.dims[3];
    let tap0: Vec<f32> = (0..3).map(|c| kernels.values[c * plane]).collect();
    let kernel0 = &kernels.values[..3 * plane];
    let (lo, hi) = kernel0
        .iter()
        .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
    let file = first["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .find(|f| f.ends_with("_filters.png"))
        .unwrap();
    let img = image::open(out.path().join(file)).unwrap().to_rgb8();
    let px = img.get_pixel(0, 0).0;
    for c in 0..3 {
        let want = ((tap0[c] - lo) * 255.0 / (hi - lo)).round();
        assert!(
            (px[c] as f32 - want).abs() <= 1.0,
            "channel {c}: {} vs {want}",
            px[c]
        );
    }
}

#[test]
fn montage_puts_one_channel_of_every_image_on_one_scale() {
    let out = tempfile::tempdir().unwrap();
    let model = model("efficientnet_lite0.onnx");
    let (cat, cup) = (
        models_dir().join("chelsea.png"),
        models_dir().join("coffee.png"),
    );
    let r = featscope(&[
        "snapshot",
        s(&model),
        s(&cat),
        s(&cup),
        "--layer",
        "0",
        "--montage",
        "5",
        "--npy",
        "--backend",
        "tract",
        "--out",
        s(out.path()),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(stdout.contains("montage_conv_stem_Conv_c5.png"), "{stdout}");
    let img = image::open(out.path().join("montage_conv_stem_Conv_c5.png"))
        .unwrap()
        .to_rgb8();
    // Two 112×112 tiles side by side (scale 1), 2 px apart, each under a 10 px label row.
    assert_eq!((img.width(), img.height()), (226, 122));
    // One scale for both: the largest value of either image is the colormap's top colour
    // there, and only there is it reached in the other tile if it holds the same value.
    let channel = |dir: &str| {
        let (shape, values) = read_npy(&out.path().join(dir).join("conv_stem_Conv.npy"));
        let plane = shape[1] * shape[2];
        values[5 * plane..6 * plane].to_vec()
    };
    let (a, b) = (channel("chelsea"), channel("coffee"));
    let top = featscope::render::Colormap::Viridis.lut()[featscope::render::colormap::LEVELS - 1];
    let argmax = |v: &[f32]| {
        v.iter()
            .enumerate()
            .max_by(|x, y| x.1.total_cmp(y.1))
            .map(|(i, m)| (i, *m))
            .unwrap()
    };
    let ((ia, ma), (ib, mb)) = (argmax(&a), argmax(&b));
    let (tile_x, i) = if ma >= mb { (0, ia) } else { (114, ib) };
    let px = img
        .get_pixel(tile_x + (i % 112) as u32, 10 + (i / 112) as u32)
        .0;
    assert_eq!(px, top, "the overall maximum is drawn in the top colour");
    let (other_x, other_max_at) = if ma >= mb { (114, ib) } else { (0, ia) };
    if (ma - mb).abs() > 1e-3 * ma.abs().max(mb.abs()) {
        let px = img
            .get_pixel(
                other_x + (other_max_at % 112) as u32,
                10 + (other_max_at / 112) as u32,
            )
            .0;
        assert_ne!(
            px, top,
            "the other image's own maximum is below the shared top"
        );
    }

    let one = featscope(&[
        "snapshot",
        s(&model),
        s(&cat),
        "--montage",
        "5",
        "--out",
        s(out.path()),
    ]);
    assert_eq!(one.status.code(), Some(2));
    let err = String::from_utf8_lossy(&one.stderr);
    assert!(
        err.contains("two or more images") && err.lines().count() == 1,
        "{err}"
    );
    let none = featscope(&[
        "snapshot",
        s(&model),
        s(&cat),
        s(&cup),
        "--layer",
        "0",
        "--montage",
        "999",
        "--backend",
        "tract",
        "--out",
        s(out.path()),
    ]);
    assert_eq!(none.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&none.stderr).contains("no selected layer has a channel 999"));
}
