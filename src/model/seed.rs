//! The seed CNN: the small 4-layer network of the classic Keras + matplotlib "visualise every
//! layer's feature maps" recipe, with random (untrained) weights, built byte for byte the same
//! every time. `cargo run --example make_seed_cnn` writes it to `models/seed_cnn.onnx`.
//!
//! - architecture (all convs stride 1, no padding, i.e. Keras `padding="valid"`):
//!   `conv1` Conv 9×3×5×5 → `relu1` → `pool1` MaxPool 4×4/4
//!   → `conv2` Conv 9×9×5×5 → `relu2` → `pool2` MaxPool 3×3/3
//!   → `conv3` Conv 9×9×5×5 → `relu3` → `pool3` MaxPool 2×2/2
//!   → `conv4` Conv 9×9×3×3 → `relu4` (graph output);
//! - input `input`, float32, NCHW `[1, 3, height, width]` (any size ≥ 140×140), raw BGR pixels
//!   0..255 as OpenCV reads them (preset "raw");
//! - weights: Glorot-uniform like Keras (`limit = sqrt(6 / (fan_in + fan_out))`,
//!   `fan_in = in_ch·kh·kw`, `fan_out = out_ch·kh·kw`), drawn as f32 with
//!   `rand::distr::Uniform::new(-limit, limit)` from one `ChaCha8Rng::seed_from_u64(20161226)`
//!   stream: all of conv1's weights, then conv2's, conv3's, conv4's, each in ONNX's row-major
//!   `[out_ch, in_ch, kh, kw]` order. Biases are zero.
//!
//! Node names and their output tensor names are identical (`conv1` writes tensor `conv1`, …);
//! weights are `convN.weight` / `convN.bias`. Opset 13, IR 8.

use super::builder::{attr_ints, tensor_f32, Dim, GraphBuilder};
use super::proto::data_type;
use rand::distr::{Distribution, Uniform};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Which ChaCha8 stream the weights are drawn from: the date of the blog post the recipe comes
/// from.
const WEIGHT_STREAM: u64 = 20161226;

/// One convolution stage: `(name, out_ch, in_ch, kernel)`; each is followed by a ReLU and, except
/// the last, a max-pool of the given size and stride.
const CONVS: [(&str, i64, i64, i64, Option<i64>); 4] = [
    ("conv1", 9, 3, 5, Some(4)),
    ("conv2", 9, 9, 5, Some(3)),
    ("conv3", 9, 9, 5, Some(2)),
    ("conv4", 9, 9, 3, None),
];

/// The seed CNN as ONNX bytes.
pub fn seed_cnn() -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(WEIGHT_STREAM);
    let mut g = GraphBuilder::new("seed_cnn", 13);
    g.input(
        "input",
        data_type::FLOAT,
        &[Dim::from(1), Dim::from(3), "height".into(), "width".into()],
    );

    let mut prev = "input".to_string();
    for (i, &(conv, out_ch, in_ch, k, pool)) in CONVS.iter().enumerate() {
        let n = i + 1;
        let fan_in = (in_ch * k * k) as f32;
        let fan_out = (out_ch * k * k) as f32;
        let limit = (6.0 / (fan_in + fan_out)).sqrt();
        let dist = Uniform::new(-limit, limit).expect("limit > 0");
        let count = (out_ch * in_ch * k * k) as usize;
        let weights: Vec<f32> = (0..count).map(|_| dist.sample(&mut rng)).collect();
        let weight = format!("{conv}.weight");
        let bias = format!("{conv}.bias");
        g.initializer(tensor_f32(&weight, &[out_ch, in_ch, k, k], &weights));
        g.initializer(tensor_f32(&bias, &[out_ch], &vec![0.0; out_ch as usize]));
        g.node(
            "Conv",
            conv,
            &[&prev, &weight, &bias],
            &[conv],
            vec![
                attr_ints("kernel_shape", &[k, k]),
                attr_ints("strides", &[1, 1]),
            ],
        );
        let relu = format!("relu{n}");
        g.node("Relu", &relu, &[conv], &[&relu], vec![]);
        prev = relu;
        if let Some(p) = pool {
            let pool_name = format!("pool{n}");
            g.node(
                "MaxPool",
                &pool_name,
                &[&prev],
                &[&pool_name],
                vec![
                    attr_ints("kernel_shape", &[p, p]),
                    attr_ints("strides", &[p, p]),
                ],
            );
            prev = pool_name;
        }
    }

    g.output(
        &prev,
        data_type::FLOAT,
        &[Dim::from(1), Dim::from(9), "h4".into(), "w4".into()],
    );
    g.metadata("featscope.preset", "raw");
    g.metadata("source", "featscope examples/make_seed_cnn.rs");
    g.finish_bytes("featscope")
}
