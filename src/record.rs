//! What featscope says about a layer in JSON: a row of `featscope layers --json` and an entry
//! of summary.json's `layers` are the same record, the latter with what the snapshot drew.

use crate::activations::Layer;
use crate::model::Layout;
use crate::render::LayerStats;
use crate::text::Clean;

#[derive(Clone, Debug, serde::Serialize)]
pub struct LayerRecord {
    pub index: usize,
    pub name: Clean,
    pub tensor: Clean,
    pub op: Clean,
    pub shape: Vec<usize>,
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layout: Option<Layout>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The element type it was computed in (for a dequantized activation, its integer type).
    pub dtype: crate::precision::ElemType,
    /// The scale and zero point its integers are dequantized with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantization: Option<crate::precision::Quantization>,
    /// NaN and ±Inf among its values.
    pub nonfinite: crate::precision::NonFinite,
    /// Tensors of the graph shown as part of this layer: the float output and the integers
    /// of a QuantizeLinear → DequantizeLinear pair that re-quantizes it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub folded: Vec<Clean>,
    /// The snapshot's grid: rows and columns of tiles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grid: Option<GridShape>,
    #[serde(skip_serializing_if = "Option::is_none", flatten)]
    pub stats: Option<LayerStats>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub top_channels: Vec<TopChannel>,
    /// How `<layer>_filters.png` draws the kernels (`--filters` on a convolution).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filters: Option<crate::render::filters::KernelView>,
    /// Files the snapshot wrote for this layer, beside summary.json.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct GridShape {
    pub rows: usize,
    pub cols: usize,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct TopChannel {
    pub channel: usize,
    pub mean: f32,
}

impl LayerRecord {
    /// What the layer is, before anything is drawn.
    pub fn of(layer: &Layer) -> LayerRecord {
        LayerRecord {
            index: layer.index,
            name: layer.name.clone(),
            tensor: Clean::new(&layer.tensor),
            op: layer.op.clone(),
            shape: layer.shape.clone(),
            kind: layer.data.label(),
            layout: (layer.shape.len() == 4).then_some(layer.layout),
            reason: layer.data.reason().map(str::to_string),
            dtype: layer.precision.elem,
            quantization: layer.precision.quantization.clone(),
            nonfinite: layer.nonfinite,
            folded: layer.folded.iter().map(|t| Clean::new(t)).collect(),
            grid: None,
            stats: None,
            top_channels: Vec::new(),
            filters: None,
            files: Vec::new(),
        }
    }
}
