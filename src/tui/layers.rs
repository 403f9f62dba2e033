//! What the view knows about each layer: its sidebar row, and the numbers derived once from its
//! maps (statistics, ranges, the summed map, the by-mean order).

use crate::activations::{FeatureMaps, Layer, LayerData};
use crate::model::TensorSite;
use crate::render::{self, LayerStats};
use crate::text::Clean;

/// Whether a layer is drawn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Drawing {
    /// Not known before the first run: only the graph has been read.
    Pending,
    Drawn,
    /// Listed, with the reason it is not drawn.
    NotDrawn(Clean),
}

impl Entry {
    /// Why the layer is not drawn, when it is not.
    pub fn reason(&self) -> Option<&str> {
        match &self.state {
            Drawing::NotDrawn(r) => Some(r),
            _ => None,
        }
    }
}

/// One sidebar row. Before inference it comes from the model's sites (shape as declared).
#[derive(Clone, Debug)]
pub struct Entry {
    pub name: Clean,
    pub op: Clean,
    /// Full shape, e.g. `1×32×112×112`.
    pub shape: String,
    pub state: Drawing,
    /// Position in `Activations::layers`.
    pub layer: Option<usize>,
    /// NaN and ±Inf among its values.
    pub nonfinite: crate::precision::NonFinite,
}

impl Entry {
    pub(crate) fn from_site(site: &TensorSite) -> Entry {
        let shape = match &site.declared.dims {
            Some(dims) if !dims.is_empty() => dims
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("×"),
            _ => "…".into(),
        };
        Entry {
            name: site.display.clone(),
            op: site.op.clone(),
            shape,
            state: Drawing::Pending,
            layer: None,
            nonfinite: Default::default(),
        }
    }

    pub(crate) fn from_layer(pos: usize, layer: &Layer) -> Entry {
        let state = match &layer.data {
            LayerData::FeatureMaps(_) => Drawing::Drawn,
            LayerData::Vector(_) => Drawing::NotDrawn(Clean::new(&format!(
                "a vector of {} values, not a feature map",
                layer.shape.iter().product::<usize>()
            ))),
            LayerData::Other(r) => Drawing::NotDrawn(Clean::new(r)),
        };
        Entry {
            name: layer.name.clone(),
            op: layer.op.clone(),
            shape: layer.shape_text(),
            state,
            layer: Some(pos),
            nonfinite: layer.nonfinite,
        }
    }

    pub(crate) fn matches(&self, filter_lower: &str) -> bool {
        filter_lower.is_empty()
            || self.name.to_lowercase().contains(filter_lower)
            || self.op.to_lowercase().contains(filter_lower)
    }
}

/// Numbers derived once per layer: statistics, ranges, the summed map, the by-mean order.
pub struct LayerInfo {
    pub stats: LayerStats,
    /// Per-channel (min, max), for per-channel scaling.
    pub ranges: Vec<(f32, f32)>,
    pub sum: Vec<f32>,
    pub sum_range: (f32, f32),
    /// Channels by mean activation, highest first.
    pub by_mean: Vec<usize>,
    /// `rank[c]`: where channel `c` sits in `by_mean`.
    pub rank: Vec<usize>,
}

impl LayerInfo {
    pub(crate) fn new(fm: &FeatureMaps) -> LayerInfo {
        let stats = render::layer_stats(fm);
        let ranges = (0..fm.channels)
            .map(|c| render::min_max(fm.channel(c)))
            .collect();
        let sum = render::channel_sum(fm);
        let sum_range = render::min_max(&sum);
        let by_mean = render::channels_by_mean(&stats);
        let mut rank = vec![0; by_mean.len()];
        for (i, &c) in by_mean.iter().enumerate() {
            rank[c] = i;
        }
        LayerInfo {
            stats,
            ranges,
            sum,
            sum_range,
            by_mean,
            rank,
        }
    }
}
