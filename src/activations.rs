//! What an inference produced, sorted into layers: feature maps (channel-first), vectors, others.

use crate::engine::{RawTensor, TensorData, Values};
use crate::model::{Layout, TensorSite};
use crate::precision::{NonFinite, Precision, Quantization};
use crate::text::Clean;
use std::time::Duration;

/// One 4-D activation, batch 0, channel-first: `data[(c * height + y) * width + x]`.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureMaps {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub data: Values,
}

impl FeatureMaps {
    pub fn new(channels: usize, height: usize, width: usize, data: impl Into<Values>) -> Self {
        let data = data.into();
        assert_eq!(data.len(), channels * height * width, "feature map size");
        FeatureMaps {
            channels,
            height,
            width,
            data,
        }
    }

    pub fn channel(&self, c: usize) -> &[f32] {
        let n = self.height * self.width;
        &self.data[c * n..(c + 1) * n]
    }

    pub fn value(&self, c: usize, y: usize, x: usize) -> f32 {
        self.data[(c * self.height + y) * self.width + x]
    }
}

/// What a layer holds: what can be drawn, or why not.
#[derive(Clone, Debug, PartialEq)]
pub enum LayerData {
    FeatureMaps(FeatureMaps),
    Vector(Vec<f32>),
    /// Kept in the list, with the reason it cannot be drawn.
    Other(String),
}

impl LayerData {
    /// How `layers` and summary.json name the kind.
    pub fn label(&self) -> &'static str {
        match self {
            LayerData::FeatureMaps(_) => "feature map",
            LayerData::Vector(_) => "vector",
            LayerData::Other(_) => "other",
        }
    }

    /// Why it is not drawn, for kinds that are not.
    pub fn reason(&self) -> Option<&str> {
        match self {
            LayerData::Other(r) => Some(r),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Layer {
    /// Position in graph order among exposed tensors.
    pub index: usize,
    /// Display name (unique).
    pub name: Clean,
    /// The tensor's name in the graph.
    pub tensor: String,
    pub op: Clean,
    pub shape: Vec<usize>,
    pub layout: Layout,
    pub data: LayerData,
    /// The number format the values were computed in (and dequantized from).
    pub precision: Precision,
    /// NaN and ±Inf among its values.
    pub nonfinite: NonFinite,
    /// Tensors of the graph shown as part of this layer (a folded requantization).
    pub folded: Vec<String>,
    /// The image-dependent tensor its operator reads first.
    pub source: Option<String>,
}

impl Layer {
    pub fn feature_maps(&self) -> Option<&FeatureMaps> {
        match &self.data {
            LayerData::FeatureMaps(f) => Some(f),
            _ => None,
        }
    }

    /// The integer a quantized layer stores at channel `c`, row `y`, column `x` (what the
    /// zoom cursor shows beside the real value).
    pub fn stored_integer(&self, c: usize, y: usize, x: usize) -> Option<i32> {
        let q = self.precision.quantization.as_ref()?;
        let fm = self.feature_maps()?;
        if c >= fm.channels || y >= fm.height || x >= fm.width {
            return None;
        }
        // The place in the tensor as the engine laid it out, which the scales follow.
        let flat = match self.layout {
            Layout::Nchw => (c * fm.height + y) * fm.width + x,
            Layout::Nhwc => (y * fm.width + x) * fm.channels + c,
        };
        Some(q.integer_at(&self.shape, flat, fm.value(c, y, x)))
    }

    pub fn shape_text(&self) -> String {
        if self.shape.is_empty() {
            "scalar".into()
        } else {
            self.shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("×")
        }
    }
}

/// Turns an engine's tensor into a layer, finding the channel axis from the traced layout.
/// `quantization` dequantizes an integer tensor (its scale and zero point, resolved by the
/// caller); for a float tensor it says which quantization its values went through.
pub fn classify(site: &TensorSite, raw: RawTensor, quantization: Option<&Quantization>) -> Layer {
    let shape = raw.shape.clone();
    let mut layout = site.layout;
    let mut precision = Precision {
        elem: raw.elem,
        quantization: None,
    };
    let values = match raw.data {
        TensorData::Unsupported(dtype) => Err(format!(
            "{} tensor; featscope draws float and 8/16-bit integer tensors",
            crate::model::onnx_type_name(&dtype)
        )),
        TensorData::F32(values) => {
            if let Some(elem) = site.stored_as {
                precision.elem = elem;
            }
            if let Some(q) = quantization.filter(|q| q.scale.len() == 1 || shape.len() > 1) {
                precision = Precision {
                    elem: q.elem,
                    quantization: Some(q.clone()),
                };
            }
            Ok(values)
        }
        TensorData::Int(ints) => match quantization {
            Some(q) => {
                precision.quantization = Some(q.clone());
                Ok(Values::from(q.dequantize(&ints, &shape)))
            }
            // No scale known: the integers as they are.
            None => Ok(Values::from(
                ints.iter().map(|&v| v as f32).collect::<Vec<f32>>(),
            )),
        },
    };
    let nonfinite = values
        .as_ref()
        .map(|v| NonFinite::count(v))
        .unwrap_or_default();
    let data = match values {
        Err(reason) => LayerData::Other(reason),
        Ok(values) if values.is_empty() => LayerData::Other("empty tensor".into()),
        Ok(values) => match shape.as_slice() {
            [_, a, b, c] => {
                let per_item = a * b * c;
                let first = values.slice(0..per_item);
                let fm = match layout {
                    Layout::Nchw => FeatureMaps::new(*a, *b, *c, first),
                    Layout::Nhwc => FeatureMaps::new(*c, *a, *b, hwc_to_chw(&first, *a, *b, *c)),
                };
                LayerData::FeatureMaps(fm)
            }
            [_] | [1, _] => LayerData::Vector(values.into_vec()),
            [] => LayerData::Other("scalar".into()),
            dims => LayerData::Other(format!(
                "{}-D tensor; feature maps are 4-D (N, C, H, W)",
                dims.len()
            )),
        },
    };
    if shape.len() != 4 {
        layout = crate::model::Layout::Nchw;
    }
    Layer {
        index: site.index,
        name: site.display.clone(),
        tensor: site.tensor.clone(),
        op: site.op.clone(),
        shape,
        layout,
        data,
        precision,
        nonfinite,
        folded: site.folded.clone(),
        source: site.source.clone(),
    }
}

fn hwc_to_chw(src: &[f32], h: usize, w: usize, c: usize) -> Vec<f32> {
    let mut out = vec![0f32; src.len()];
    for y in 0..h {
        for x in 0..w {
            for ch in 0..c {
                out[(ch * h + y) * w + x] = src[(y * w + x) * c + ch];
            }
        }
    }
    out
}

/// One class of a classifier's top-5.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ClassScore {
    pub index: usize,
    pub label: Clean,
    pub probability: f32,
}

/// Top-k of a classifier output: softmax applied unless the values already form a distribution.
pub fn top_k(values: &[f32], labels: &[Clean], k: usize) -> Vec<ClassScore> {
    let already_probabilities = values.iter().all(|v| (0.0..=1.0).contains(v))
        && (values.iter().sum::<f32>() - 1.0).abs() < 1e-3;
    let probs: Vec<f32> = if already_probabilities {
        values.to_vec()
    } else {
        let max = values.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        let exps: Vec<f32> = values.iter().map(|v| (v - max).exp()).collect();
        let sum: f32 = exps.iter().sum();
        exps.iter().map(|e| e / sum).collect()
    };
    let mut order: Vec<usize> = (0..probs.len()).collect();
    order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]).then(a.cmp(&b)));
    order
        .into_iter()
        .take(k)
        .map(|i| ClassScore {
            index: i,
            label: labels
                .get(i)
                .cloned()
                .unwrap_or_else(|| Clean::new(&format!("class {i}"))),
            probability: probs[i],
        })
        .collect()
}

/// Everything one image produced.
#[derive(Clone, Debug)]
pub struct Activations {
    pub layers: Vec<Layer>,
    /// The image as fed (after resize/crop), for overlays and the input view.
    pub input_image: image::RgbImage,
    pub input_description: Clean,
    pub engine: Clean,
    pub inference: Duration,
    /// A classifier's top-5, when the model's output matches the labels file.
    pub top5: Option<Vec<ClassScore>>,
}
