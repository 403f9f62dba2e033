//! Synthetic activations with known numbers, shared by the view's tests and benches.
#![allow(dead_code)]

use featscope::activations::{Activations, ClassScore, FeatureMaps, Layer, LayerData};
use featscope::model::Layout;
use std::time::Duration;

pub fn maps_layer(
    index: usize,
    name: &str,
    op: &str,
    (c, h, w): (usize, usize, usize),
    f: impl Fn(usize, usize, usize) -> f32,
) -> Layer {
    let mut data = Vec::with_capacity(c * h * w);
    for ch in 0..c {
        for y in 0..h {
            for x in 0..w {
                data.push(f(ch, y, x));
            }
        }
    }
    Layer {
        index,
        name: name.into(),
        tensor: format!("{name}_out"),
        op: op.into(),
        shape: vec![1, c, h, w],
        layout: Layout::Nchw,
        data: LayerData::FeatureMaps(FeatureMaps::new(c, h, w, data)),
        precision: Default::default(),
        nonfinite: Default::default(),
        folded: Vec::new(),
        source: None,
    }
}

/// conv value at (c, y, x): (c + 1) · (y − x) / 10, so the numbers are easy to check.
pub fn conv(c: usize, y: usize, x: usize) -> f32 {
    (c as f32 + 1.0) * (y as f32 - x as f32) / 10.0
}

pub fn synthetic() -> Activations {
    let layers = vec![
        maps_layer(0, "conv1", "Conv", (6, 8, 8), conv),
        maps_layer(1, "relu1", "Relu", (6, 8, 8), |c, y, x| {
            conv(c, y, x).max(0.0)
        }),
        maps_layer(2, "pool1", "MaxPool", (6, 4, 4), |c, y, x| {
            conv(c, 2 * y + 1, 2 * x).max(0.0)
        }),
        maps_layer(3, "wide", "Conv", (64, 4, 4), |c, y, x| {
            ((c * 7 + y * 3 + x) % 11) as f32 - 3.0
        }),
        maps_layer(4, "gap", "GlobalAveragePool", (64, 1, 1), |c, _, _| {
            c as f32
        }),
        Layer {
            index: 5,
            name: "flatten".into(),
            tensor: "flatten_out".into(),
            op: "Reshape".into(),
            shape: vec![1, 64],
            layout: Layout::Nchw,
            data: LayerData::Vector((0..64).map(|i| i as f32 / 8.0).collect()),
            precision: Default::default(),
            nonfinite: Default::default(),
            folded: Vec::new(),
            source: None,
        },
        Layer {
            index: 6,
            name: "argmax".into(),
            tensor: "argmax_out".into(),
            op: "ArgMax".into(),
            shape: vec![1],
            layout: Layout::Nchw,
            data: LayerData::Other("int64 tensor; only float tensors are drawn".into()),
            precision: Default::default(),
            nonfinite: Default::default(),
            folded: Vec::new(),
            source: None,
        },
    ];
    let input_image = image::RgbImage::from_fn(32, 32, |x, y| {
        image::Rgb([(x * 8) as u8, (y * 8) as u8, 128])
    });
    Activations {
        layers,
        input_image,
        input_description: "32×32 → native, unit, RGB, NCHW".into(),
        engine: "synthetic (cpu)".into(),
        inference: Duration::from_millis(12),
        top5: Some(vec![
            ClassScore {
                index: 3,
                label: "tabby".into(),
                probability: 0.61,
            },
            ClassScore {
                index: 1,
                label: "tiger cat".into(),
                probability: 0.22,
            },
        ]),
    }
}

/// A layer of deterministic, varied values with a share of ReLU zeros.
fn noise(index: usize, name: &str, (c, h, w): (usize, usize, usize)) -> Layer {
    maps_layer(index, name, "Conv", (c, h, w), |ch, y, x| {
        let i = (ch * h + y) * w + x;
        (((i * 2654435761) % 1000) as f32 / 100.0 - 3.0).max(0.0)
    })
}

/// Layers the size of EfficientNet-Lite0's and VGG's: many small maps, few large ones.
pub fn large() -> Activations {
    Activations {
        layers: vec![
            noise(0, "wide_512x14x14", (512, 14, 14)),
            noise(1, "big_96x112x112", (96, 112, 112)),
            noise(2, "deep_1280x7x7", (1280, 7, 7)),
        ],
        input_image: image::RgbImage::from_pixel(224, 224, image::Rgb([90, 120, 150])),
        input_description: "224×224".into(),
        engine: "bench".into(),
        inference: Duration::from_millis(1),
        top5: None,
    }
}

/// A folder of `count` distinct photos made from the bundled ones (chelsea, coffee): crops at
/// shifting places and sizes, every other one mirrored, saved as PNG in sub-folders of 100.
/// The same folder for the same count, byte for byte.
pub fn image_folder(dir: &std::path::Path, count: usize) {
    let models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let sources: Vec<image::RgbImage> = ["chelsea.png", "coffee.png"]
        .iter()
        .map(|f| {
            image::open(models.join(f))
                .expect("bundled photo")
                .to_rgb8()
        })
        .collect();
    for i in 0..count {
        let src = &sources[i % sources.len()];
        let (w, h) = src.dimensions();
        let side = (h.min(w) * (60 + (i * 7 % 40) as u32) / 100).max(16);
        let x = ((i * 37) as u32 * 13) % (w - side + 1);
        let y = ((i * 53) as u32 * 7) % (h - side + 1);
        let mut crop = image::imageops::crop_imm(src, x, y, side, side).to_image();
        if i % 2 == 1 {
            crop = image::imageops::flip_horizontal(&crop);
        }
        let sub = dir.join(format!("part{:02}", i / 100));
        std::fs::create_dir_all(&sub).expect("folder");
        crop.save(sub.join(format!("img{i:04}.png")))
            .expect("write image");
    }
}
