//! Layer discovery: which tensors become layers, their names, and the appended-output trick.

mod common;

use common::model;
use featscope::model::builder::{attr_ints, tensor_f32, Dim, GraphBuilder};
use featscope::model::proto::{data_type::FLOAT, ModelProto};
use featscope::model::select_layers;
use featscope::model::{Layout, Model};
use featscope::outdir::{file_stem, unique_stems};
use featscope::text::sanitize;
use prost::Message;

#[test]
fn appended_outputs_merge_into_the_graph() {
    let m = Model::open(&model("seed_cnn.onnx")).unwrap();
    let wanted = vec![
        "conv1".to_string(),
        "pool2".to_string(),
        "relu4".to_string(),
    ];
    let bytes = m.with_outputs(&wanted);
    assert!(
        bytes.starts_with(&m.bytes),
        "the original bytes are kept as they are"
    );
    let merged = ModelProto::decode(bytes.as_slice()).unwrap();
    let graph = merged.graph.unwrap();
    let outputs: Vec<&str> = graph.output.iter().map(|o| o.name.as_str()).collect();
    // relu4 is already a graph output: not added twice.
    assert_eq!(outputs, vec!["relu4", "conv1", "pool2"]);
    assert_eq!(graph.node.len(), 11, "nodes survive the merge");
    assert_eq!(graph.initializer.len(), 8);
}

#[test]
fn weights_only_tensors_are_not_layers() {
    // light_vgg19 builds every weight at run time with ConstantOfShape from constant shapes.
    let vgg = Model::open(&model("light_vgg19.onnx")).unwrap();
    assert!(vgg.sites.iter().all(|s| s.op != "ConstantOfShape"));
    assert_eq!(vgg.sites.first().map(|s| s.op.as_str()), Some("Conv"));
    // IR-3: weights are listed as graph inputs too, but only the image is fed.
    assert_eq!(vgg.inputs.len(), 1);
    assert_eq!(vgg.inputs[0].name, "data_0");
    let mnist = Model::open(&model("mnist-8.onnx")).unwrap();
    assert_eq!(mnist.inputs.len(), 1);
    let names: Vec<&str> = mnist.sites.iter().map(|s| s.display.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "Convolution28",
            "Plus30",
            "ReLU32",
            "Pooling66",
            "Convolution110",
            "Plus112",
            "ReLU114",
            "Pooling160",
            "Times212_reshape0",
            "Times212",
            "Plus214"
        ]
    );
    assert!(names.iter().all(|n| !n.contains("Parameter")));
    let indices: Vec<usize> = mnist.sites.iter().map(|s| s.index).collect();
    assert_eq!(indices, (0..11).collect::<Vec<_>>());
}

#[test]
fn names_are_unique_and_free_of_control_characters() {
    let mut g = GraphBuilder::new("names", 13);
    g.input(
        "x",
        FLOAT,
        &[Dim::Fixed(1), Dim::Fixed(1), Dim::Fixed(4), Dim::Fixed(4)],
    )
    .initializer(tensor_f32("w", &[1, 1, 1, 1], &[1.0]))
    .node(
        "Conv",
        "evil\x1b[2J\x1b]0;pwned\x07",
        &["x", "w"],
        &["a"],
        vec![attr_ints("kernel_shape", &[1, 1])],
    )
    .node("Relu", "same", &["a"], &["b"], vec![])
    .node("Relu", "same", &["b"], &["c"], vec![])
    .node("Relu", "c", &["c"], &["d"], vec![])
    .node("Relu", "", &["d"], &["unnamed_out"], vec![])
    .output("unnamed_out", FLOAT, &[]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("names.onnx");
    std::fs::write(&path, g.finish_bytes("test")).unwrap();
    let m = Model::open(&path).unwrap();
    let names: Vec<&str> = m.sites.iter().map(|s| s.display.as_str()).collect();
    // Two nodes share "same": their tensor names tell them apart; a clash left gets "#2".
    assert_eq!(
        names,
        vec!["evil?[2J?]0;pwned?", "b", "c", "c#2", "unnamed_out"]
    );
    assert!(names.iter().all(|n| !n.chars().any(char::is_control)));
    assert_eq!(sanitize("a\u{9b}b\r\n"), "a?b??");
    assert_eq!(sanitize("relu\u{202E}1vnoc\u{200B}"), "relu?1vnoc?");
}

#[test]
fn input_layout_is_read_from_the_declared_shape() {
    use featscope::model::input_layout;
    let f = |d: &[i64]| {
        d.iter()
            .map(|&v| featscope::model::Dim::Fixed(v))
            .collect::<Vec<_>>()
    };
    assert_eq!(input_layout(Some(&f(&[1, 3, 224, 224]))), Layout::Nchw);
    assert_eq!(input_layout(Some(&f(&[1, 224, 224, 3]))), Layout::Nhwc);
    assert_eq!(input_layout(Some(&f(&[1, 28, 28, 1]))), Layout::Nhwc);
    assert_eq!(input_layout(Some(&f(&[1, 1, 28, 28]))), Layout::Nchw);
    assert_eq!(input_layout(None), Layout::Nchw);
}

#[test]
fn layer_patterns_select_by_name_glob_and_index() {
    let m = Model::open(&model("seed_cnn.onnx")).unwrap();
    let pick = |p: &[&str]| {
        select_layers(&m, &p.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .map(|o| o.unwrap_or_default())
    };
    assert_eq!(pick(&["pool*"]).unwrap(), vec!["pool1", "pool2", "pool3"]);
    assert_eq!(
        pick(&["relu4", "0"]).unwrap(),
        vec!["conv1", "relu4"],
        "graph order, whatever the order asked"
    );
    assert_eq!(pick(&["conv?"]).unwrap().len(), 4);
    let err = pick(&["pol1"]).unwrap_err().to_string();
    assert!(
        err.starts_with("no layer matches 'pol1'; did you mean: pool1"),
        "{err}"
    );
    assert!(select_layers(&m, &[]).unwrap().is_none());
}

#[test]
fn file_names_are_safe_and_unique() {
    assert_eq!(
        file_stem("/_blocks.0/_project_conv/Conv"),
        "blocks.0__project_conv_Conv"
    );
    assert_eq!(file_stem("../../etc/passwd"), "etc_passwd");
    assert_eq!(file_stem("\x1b[31m"), "31m");
    assert_eq!(file_stem(""), "layer");
    assert_eq!(
        unique_stems(["a/b", "a_b", "A_B", "x"]),
        vec!["a_b", "a_b_2", "A_B_3", "x"]
    );
}

#[test]
fn the_shipped_seed_cnn_is_what_the_generator_makes() {
    let shipped = std::fs::read(model("seed_cnn.onnx")).unwrap();
    assert!(
        featscope::model::seed::seed_cnn() == shipped,
        "models/seed_cnn.onnx is stale: run `cargo run --example make_seed_cnn`"
    );
}
