//! Engines: known values, agreement between ONNX Runtime and tract, and the model shapes
//! featscope must cope with (IR-3, external data, dynamic sizes, NHWC, odd ranks).

mod common;

use common::*;
use featscope::activations::{Activations, LayerData};
use featscope::engine::Backend;
use featscope::model::builder::{attr_float, attr_ints, tensor_f32, tensor_i64, Dim, GraphBuilder};
use featscope::model::proto::data_type::{FLOAT, INT64};
use featscope::model::{Layout, Model};
use featscope::pipeline::{Analyzer, RunConfig, Selection};
use featscope::preprocess::{PreprocessOptions, Preset};
use std::path::Path;

fn d(v: i64) -> Dim {
    Dim::Fixed(v)
}

/// A 4×4 grey PNG whose pixels are 0, 10, 20, … 150 (row-major).
fn ramp_image(dir: &Path) -> std::path::PathBuf {
    let img = image::GrayImage::from_fn(4, 4, |x, y| image::Luma([((y * 4 + x) * 10) as u8]));
    let path = dir.join("ramp.png");
    img.save(&path).expect("write ramp.png");
    path
}

/// Runs a model on the ramp image with raw preprocessing, so the input equals the pixels.
fn run_raw(model_path: &Path, image: &Path, backend: Backend) -> anyhow::Result<Activations> {
    let model = Model::open(model_path)?;
    let config = RunConfig {
        preprocess: PreprocessOptions {
            preset: Some(Preset::Raw),
            ..Default::default()
        },
        ..config(backend)
    };
    let mut analyzer = Analyzer::open(model, &config, &Selection::All)?;
    analyzer.compute(image)
}

fn layer<'a>(acts: &'a Activations, name: &str) -> &'a featscope::activations::Layer {
    acts.layers
        .iter()
        .find(|l| l.name == name)
        .unwrap_or_else(|| panic!("no layer {name}"))
}

fn conv_bn_relu_model() -> Vec<u8> {
    let mut g = GraphBuilder::new("conv_bn_relu", 13);
    g.input("x", FLOAT, &[d(1), d(1), d(4), d(4)])
        .initializer(tensor_f32("w", &[2, 1, 1, 1], &[2.0, -1.0]))
        .initializer(tensor_f32("b", &[2], &[0.5, 0.0]))
        .initializer(tensor_f32("scale", &[2], &[3.0, 1.0]))
        .initializer(tensor_f32("shift", &[2], &[1.0, 0.0]))
        .initializer(tensor_f32("mean", &[2], &[0.0, 0.0]))
        .initializer(tensor_f32("var", &[2], &[1.0, 1.0]))
        .node(
            "Conv",
            "conv",
            &["x", "w", "b"],
            &["conv_out"],
            vec![attr_ints("kernel_shape", &[1, 1])],
        )
        .node(
            "BatchNormalization",
            "bn",
            &["conv_out", "scale", "shift", "mean", "var"],
            &["bn_out"],
            vec![attr_float("epsilon", 0.0)],
        )
        .node("Relu", "relu", &["bn_out"], &["y"], vec![])
        .output("y", FLOAT, &[d(1), d(2), d(4), d(4)]);
    g.finish_bytes("featscope-test")
}

fn check_conv_bn_relu(acts: &Activations) {
    let conv = layer(acts, "conv")
        .feature_maps()
        .expect("conv is a feature map");
    let bn = layer(acts, "bn")
        .feature_maps()
        .expect("bn is a feature map");
    let relu = layer(acts, "relu")
        .feature_maps()
        .expect("relu is a feature map");
    for i in 0..16 {
        let x = (i * 10) as f32;
        let (y, xx) = (i / 4, i % 4);
        // Conv alone: 2x + 0.5 and -x; a fused Conv+BN would give 3(2x+0.5)+1.
        assert_eq!(conv.value(0, y, xx), 2.0 * x + 0.5, "conv ch0 at {i}");
        assert_eq!(conv.value(1, y, xx), -x, "conv ch1 at {i}");
        assert!((bn.value(0, y, xx) - (3.0 * (2.0 * x + 0.5) + 1.0)).abs() < 1e-3);
        assert_eq!(relu.value(1, y, xx), 0.0);
    }
}

#[test]
fn conv_output_is_the_pre_batchnorm_value_tract() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cbr.onnx");
    std::fs::write(&path, conv_bn_relu_model()).unwrap();
    let acts = run_raw(&path, &ramp_image(dir.path()), Backend::Tract).unwrap();
    check_conv_bn_relu(&acts);
}

#[test]
fn conv_output_is_the_pre_batchnorm_value_ort() {
    if !ort_available("conv_output_is_the_pre_batchnorm_value_ort") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cbr.onnx");
    std::fs::write(&path, conv_bn_relu_model()).unwrap();
    let acts = run_raw(&path, &ramp_image(dir.path()), Backend::Ort).unwrap();
    check_conv_bn_relu(&acts);
}

/// Compares every feature map of two runs: max |a − b| ≤ 1e-3 × the layer's range.
fn assert_agree(a: &Activations, b: &Activations, what: &str) {
    assert_eq!(a.layers.len(), b.layers.len(), "{what}: layer count");
    let mut compared = 0;
    for (la, lb) in a.layers.iter().zip(&b.layers) {
        assert_eq!(la.tensor, lb.tensor);
        assert_eq!(la.shape, lb.shape, "{what}: {} shape", la.name);
        assert_eq!(la.data.label(), lb.data.label(), "{what}: {} kind", la.name);
        assert_eq!(
            la.data.reason(),
            lb.data.reason(),
            "{what}: {} reason",
            la.name
        );
        let (Some(fa), Some(fb)) = (la.feature_maps(), lb.feature_maps()) else {
            continue;
        };
        let (lo, hi) = featscope::render::min_max(&fa.data);
        let tolerance = 1e-3 * (hi - lo).max(1e-6);
        let worst = fa
            .data
            .iter()
            .zip(&fb.data)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        assert!(
            worst <= tolerance,
            "{what}: layer {} differs by {worst} (range {lo}..{hi})",
            la.name
        );
        compared += 1;
    }
    assert!(compared > 0, "{what}: no feature maps compared");
}

#[test]
fn engines_agree_on_every_feature_map_of_the_shipped_models() {
    if !ort_available("engines_agree_on_every_feature_map_of_the_shipped_models") {
        return;
    }
    for (model_file, image) in [
        ("efficientnet_lite0.onnx", "chelsea.png"),
        ("mnist-8.onnx", "digit3.png"),
        ("seed_cnn.onnx", "chelsea.png"),
    ] {
        let ort = run_all(&model(model_file), &model(image), Backend::Ort);
        let tract = run_all(&model(model_file), &model(image), Backend::Tract);
        assert!(ort.engine.starts_with("onnxruntime"));
        assert!(tract.engine.starts_with("tract"));
        assert_agree(&ort, &tract, model_file);
    }
}

#[test]
fn efficientnet_sees_a_cat_in_chelsea() {
    let acts = run_all(
        &model("efficientnet_lite0.onnx"),
        &model("chelsea.png"),
        Backend::Tract,
    );
    let top5 = acts.top5.clone().expect("bundled labels give a top-5");
    let indices: Vec<usize> = top5.iter().map(|c| c.index).collect();
    // models/PROVENANCE.md: tract + CatmullRom, shorter side 256, crop 224, (x−127)/128.
    assert_eq!(indices, vec![282, 285, 281, 287, 904]);
    assert_eq!(top5[0].label, "tiger cat");
    assert!(
        (top5[0].probability - 0.394).abs() < 0.01,
        "{}",
        top5[0].probability
    );
    assert!((top5[1].probability - 0.348).abs() < 0.01);
    let maps = acts
        .layers
        .iter()
        .filter(|l| l.feature_maps().is_some())
        .count();
    assert!(maps > 80, "only {maps} feature maps");
    let stem = layer(&acts, "/_swish/Clip");
    assert_eq!(stem.shape, vec![1, 32, 112, 112]);
}

#[test]
fn mnist_ir3_model_reads_the_digits() {
    for (digit, expected) in [("digit2.png", 2), ("digit3.png", 3), ("digit7.png", 7)] {
        let acts = run_all(&model("mnist-8.onnx"), &model(digit), Backend::Tract);
        let logits = acts
            .layers
            .iter()
            .find(|l| l.tensor == "Plus214_Output_0")
            .and_then(|l| match &l.data {
                featscope::activations::LayerData::Vector(v) => Some(v.clone()),
                _ => None,
            })
            .expect("logits");
        let best = (0..10)
            .max_by(|&a, &b| logits[a].total_cmp(&logits[b]))
            .unwrap();
        assert_eq!(best, expected, "{digit}: {logits:?}");
        // Weights reshaped at run time depend only on initializers: never layers.
        assert!(acts
            .layers
            .iter()
            .all(|l| !l.tensor.starts_with("Parameter")));
        assert_eq!(layer(&acts, "Pooling160").shape, vec![1, 16, 4, 4]);
    }
}

#[test]
fn seed_cnn_takes_the_image_at_native_size() {
    let acts = run_all(
        &model("seed_cnn.onnx"),
        &model("chelsea.png"),
        Backend::Tract,
    );
    // chelsea is 451×300: conv1 296×447, pool1 74×111, conv2 70×107, pool2 23×35,
    // conv3 19×31, pool3 9×15, conv4 7×13 (valid padding, floor pooling).
    let shapes: Vec<(String, Vec<usize>)> = acts
        .layers
        .iter()
        .map(|l| (l.name.to_string(), l.shape.clone()))
        .collect();
    let get = |n: &str| {
        shapes
            .iter()
            .find(|(name, _)| name == n)
            .map(|(_, s)| s.clone())
            .unwrap()
    };
    assert_eq!(get("conv1"), vec![1, 9, 296, 447]);
    assert_eq!(get("pool1"), vec![1, 9, 74, 111]);
    assert_eq!(get("pool2"), vec![1, 9, 23, 35]);
    assert_eq!(get("pool3"), vec![1, 9, 9, 15]);
    assert_eq!(get("relu4"), vec![1, 9, 7, 13]);
    assert_eq!(acts.layers.len(), 11);
}

/// Input in NHWC as Keras/tf2onnx graphs keep it: Transpose → Conv → Transpose back → Relu.
fn nhwc_model() -> Vec<u8> {
    let mut g = GraphBuilder::new("nhwc", 13);
    // 3 output channels: channel k = (k + 1) · x.
    g.input("x", FLOAT, &[d(1), d(4), d(4), d(1)])
        .initializer(tensor_f32("w", &[3, 1, 1, 1], &[1.0, 2.0, 3.0]))
        .node(
            "Transpose",
            "to_nchw",
            &["x"],
            &["x_nchw"],
            vec![attr_ints("perm", &[0, 3, 1, 2])],
        )
        .node(
            "Conv",
            "conv",
            &["x_nchw", "w"],
            &["c"],
            vec![attr_ints("kernel_shape", &[1, 1])],
        )
        .node(
            "Transpose",
            "to_nhwc",
            &["c"],
            &["c_nhwc"],
            vec![attr_ints("perm", &[0, 2, 3, 1])],
        )
        .node("Relu", "relu", &["c_nhwc"], &["y"], vec![])
        .output("y", FLOAT, &[d(1), d(4), d(4), d(3)]);
    g.finish_bytes("featscope-test")
}

#[test]
fn nhwc_tensors_are_read_with_channels_last() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nhwc.onnx");
    std::fs::write(&path, nhwc_model()).unwrap();
    let acts = run_raw(&path, &ramp_image(dir.path()), Backend::Tract).unwrap();
    let relu = layer(&acts, "relu");
    assert_eq!(relu.layout, Layout::Nhwc);
    assert_eq!(relu.shape, vec![1, 4, 4, 3]);
    let fm = relu.feature_maps().unwrap();
    assert_eq!(
        (fm.channels, fm.height, fm.width),
        (3, 4, 4),
        "H must not be read as channels"
    );
    for k in 0..3 {
        for i in 0..16 {
            assert_eq!(fm.value(k, i / 4, i % 4), (k + 1) as f32 * (i * 10) as f32);
        }
    }
    assert_eq!(layer(&acts, "conv").layout, Layout::Nchw);
}

/// One-channel maps, 1×1 maps, a 3-D and a 5-D tensor, with a symbolic batch and dynamic H/W.
fn odd_shapes_model() -> Vec<u8> {
    let mut g = GraphBuilder::new("odd", 13);
    g.input("x", FLOAT, &["batch".into(), d(1), "h".into(), "w".into()])
        .initializer(tensor_f32("w", &[1, 1, 1, 1], &[1.0]))
        .initializer(tensor_i64("shape3", &[3], &[1, 1, -1]))
        .initializer(tensor_i64("axes", &[1], &[4]))
        .node(
            "Conv",
            "one_channel",
            &["x", "w"],
            &["c"],
            vec![attr_ints("kernel_shape", &[1, 1])],
        )
        .node("GlobalAveragePool", "one_by_one", &["c"], &["p"], vec![])
        .node("Reshape", "three_d", &["c", "shape3"], &["r"], vec![])
        .node("Unsqueeze", "five_d", &["c", "axes"], &["u"], vec![])
        .node("Shape", "shape_of", &["c"], &["s"], vec![])
        .output("p", FLOAT, &["batch".into(), d(1), d(1), d(1)])
        .output("r", FLOAT, &[])
        .output("u", FLOAT, &[])
        .output("s", INT64, &[d(4)]);
    g.finish_bytes("featscope-test")
}

fn check_odd_shapes(acts: &Activations) {
    let kinds: Vec<(&str, &LayerData)> = acts
        .layers
        .iter()
        .map(|l| (l.name.as_str(), &l.data))
        .collect();
    let names: Vec<(&str, &str)> = kinds.iter().map(|(n, d)| (*n, d.label())).collect();
    assert_eq!(kinds[0].0, "one_channel");
    assert!(matches!(kinds[0].1, LayerData::FeatureMaps(_)), "{names:?}");
    assert_eq!(kinds[1].0, "one_by_one");
    assert!(matches!(kinds[1].1, LayerData::FeatureMaps(_)), "{names:?}");
    assert!(
        matches!(kinds[2].1, LayerData::Other(r) if r.contains("3-D")),
        "{names:?}"
    );
    assert!(
        matches!(kinds[3].1, LayerData::Other(r) if r.contains("5-D")),
        "{names:?}"
    );
    assert!(
        matches!(kinds[4].1, LayerData::Other(r) if r.contains("int64")),
        "{names:?}"
    );
    // Every drawable layer renders without panicking.
    for l in &acts.layers {
        if let Some(fm) = l.feature_maps() {
            let style = featscope::render::GridStyle::for_maps(fm);
            let grid = featscope::render::render_grid(fm, &[0], &style);
            assert!(grid.width > 0);
            featscope::render::render_sum(fm, style.colormap, 4);
            featscope::render::render_overlay(fm, &acts.input_image, style.colormap, 0.5);
        }
    }
}

#[test]
fn odd_ranks_and_sizes_never_crash_tract() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("odd.onnx");
    std::fs::write(&path, odd_shapes_model()).unwrap();
    let acts = run_raw(&path, &ramp_image(dir.path()), Backend::Tract).unwrap();
    check_odd_shapes(&acts);
}

#[test]
fn odd_ranks_and_sizes_never_crash_ort() {
    if !ort_available("odd_ranks_and_sizes_never_crash_ort") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("odd.onnx");
    std::fs::write(&path, odd_shapes_model()).unwrap();
    let acts = run_raw(&path, &ramp_image(dir.path()), Backend::Ort).unwrap();
    check_odd_shapes(&acts);
}

fn check_external(acts: &Activations) {
    let conv = layer(acts, "conv")
        .feature_maps()
        .expect("conv is a feature map");
    assert_eq!(conv.value(0, 1, 1), 4.0 * 50.0);
    assert_eq!(conv.value(1, 3, 3), -2.0 * 150.0);
}

#[test]
fn external_data_models_run_tract() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_external_data_model(dir.path(), true);
    let acts = run_raw(&path, &ramp_image(dir.path()), Backend::Tract).unwrap();
    check_external(&acts);
}

#[test]
fn external_data_models_run_ort() {
    if !ort_available("external_data_models_run_ort") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = write_external_data_model(dir.path(), true);
    let acts = run_raw(&path, &ramp_image(dir.path()), Backend::Ort).unwrap();
    check_external(&acts);
}

#[test]
fn light_vgg19_exposes_37_feature_maps() {
    if !ort_available("light_vgg19_exposes_37_feature_maps") {
        return;
    }
    let acts = run_all(
        &model("light_vgg19.onnx"),
        &model("chelsea.png"),
        Backend::Ort,
    );
    let maps: Vec<&str> = acts
        .layers
        .iter()
        .filter(|l| l.feature_maps().is_some())
        .map(|l| l.tensor.as_str())
        .collect();
    assert_eq!(maps.len(), 37);
    for (pool, shape) in [
        ("r4", [1, 64, 112, 112]),
        ("r9", [1, 128, 56, 56]),
        ("r36", [1, 512, 7, 7]),
    ] {
        let l = acts.layers.iter().find(|l| l.tensor == pool).unwrap();
        assert_eq!(l.shape, shape.to_vec());
    }
}
