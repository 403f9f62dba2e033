//! Two runs side by side: one model on two images, or two models with the same graph (fp32 and
//! fp16, two checkpoints) on one image. Layers are matched by tensor name, else by position
//! among layers of the same shape, and each pair's divergence is measured. `featscope compare
//! --out` writes the pictures and `compare.json`; the view shows A, B and A − B.

use crate::activations::{Activations, FeatureMaps, Layer, LayerData};
use crate::memory::{self, Budget};
use crate::model::select_layers;
use crate::model::Model;
use crate::pipeline::{Analyzer, RunConfig, Selection};
use crate::render::{self, Colormap, GridStyle, Normalization};
use crate::report::Reporter;
use crate::snapshot::encode_indexed_png;
use crate::text::Clean;
use anyhow::{bail, Context, Result};
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The `rel` above which a layer is said to differ, unless `--threshold` says otherwise.
pub const DEFAULT_THRESHOLD: f32 = 1e-3;

/// The SQNR (dB) below which the view marks a layer, unless `--sqnr-threshold` says otherwise:
/// about 5 bits of signal left.
pub const DEFAULT_SQNR_THRESHOLD: f64 = 30.0;

/// What is compared with what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inputs {
    /// One model on two images.
    TwoImages {
        model: PathBuf,
        a: PathBuf,
        b: PathBuf,
    },
    /// Two models on one image.
    TwoModels {
        a: PathBuf,
        b: PathBuf,
        image: PathBuf,
    },
}

impl Inputs {
    /// `MODEL IMAGE_A IMAGE_B` or `MODEL_A MODEL_B IMAGE`: two models when the second path is
    /// an ONNX file (by its extension, or, without one, by its first bytes).
    pub fn from_paths(first: PathBuf, second: PathBuf, third: PathBuf) -> Inputs {
        if looks_like_onnx(&second) {
            Inputs::TwoModels {
                a: first,
                b: second,
                image: third,
            }
        } else {
            Inputs::TwoImages {
                model: first,
                a: second,
                b: third,
            }
        }
    }

    pub fn model_a(&self) -> &Path {
        match self {
            Inputs::TwoImages { model, .. } => model,
            Inputs::TwoModels { a, .. } => a,
        }
    }

    pub fn model_b(&self) -> &Path {
        match self {
            Inputs::TwoImages { model, .. } => model,
            Inputs::TwoModels { b, .. } => b,
        }
    }

    pub fn image_a(&self) -> &Path {
        match self {
            Inputs::TwoImages { a, .. } => a,
            Inputs::TwoModels { image, .. } => image,
        }
    }

    pub fn image_b(&self) -> &Path {
        match self {
            Inputs::TwoImages { b, .. } => b,
            Inputs::TwoModels { image, .. } => image,
        }
    }

    /// The images each run is fed, in pairs: A's and B's image, or, for two models on a
    /// folder, each of its images (sorted by name) for both.
    pub fn image_pairs(&self) -> Result<Vec<(PathBuf, PathBuf)>> {
        match self {
            Inputs::TwoImages { a, b, .. } => Ok(vec![(a.clone(), b.clone())]),
            Inputs::TwoModels { image, .. } if image.is_dir() => {
                let mut found: Vec<PathBuf> = std::fs::read_dir(image)
                    .with_context(|| format!("{}: cannot list the folder", image.display()))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.is_file() && crate::preprocess::has_image_extension(p))
                    .collect();
                found.sort();
                if found.is_empty() {
                    bail!("{}: the folder holds no images", image.display());
                }
                Ok(found.into_iter().map(|p| (p.clone(), p)).collect())
            }
            Inputs::TwoModels { image, .. } => Ok(vec![(image.clone(), image.clone())]),
        }
    }

    /// What tells A from B: the file names that differ.
    pub fn names(&self) -> (Clean, Clean) {
        let name = |p: &Path| {
            Clean::new(
                &p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| p.display().to_string()),
            )
        };
        match self {
            Inputs::TwoImages { a, b, .. } => (name(a), name(b)),
            Inputs::TwoModels { a, b, .. } => (name(a), name(b)),
        }
    }
}

fn looks_like_onnx(path: &Path) -> bool {
    match path.extension().and_then(|e| e.to_str()) {
        Some(ext) => ext.eq_ignore_ascii_case("onnx"),
        // An ONNX file starts with field 1 (ir_version, a varint): byte 0x08. No image format
        // featscope reads does.
        None => {
            let mut first = [0u8; 1];
            std::fs::File::open(path)
                .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut first))
                .is_ok_and(|()| first[0] == 0x08)
        }
    }
}

pub mod pairing;

pub use pairing::{pair_sites, MatchedBy, TensorPair};

/// A pair of layers: indices into A's and B's layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pair {
    pub a: usize,
    pub b: usize,
    pub by: MatchedBy,
    /// A's layer whose values are compared with B's: `a`, or for a tensor B fused into an
    /// activation, that activation's output.
    pub a_values: usize,
}

/// Which layers of A and B are compared, and which have no partner.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Matching {
    /// In A's graph order.
    pub pairs: Vec<Pair>,
    pub only_a: Vec<usize>,
    pub only_b: Vec<usize>,
}

impl Matching {
    /// The pair of A's layer `a`.
    pub fn of(&self, a: usize) -> Option<&Pair> {
        self.pairs.iter().find(|p| p.a == a)
    }
}

fn comparable(l: &Layer) -> bool {
    matches!(l.data, LayerData::FeatureMaps(_) | LayerData::Vector(_))
}

/// Pairs A's and B's numeric layers: as the graphs say (`tensors`, from [`pair_sites`]), then
/// the rest by position among layers of the same shape (two exports of one network often name
/// tensors differently), said as such.
pub fn match_layers(a: &[Layer], b: &[Layer], tensors: &[TensorPair]) -> Matching {
    let index = |layers: &[Layer]| -> HashMap<String, usize> {
        layers
            .iter()
            .enumerate()
            .filter(|(_, l)| comparable(l))
            .map(|(i, l)| (l.tensor.clone(), i))
            .collect()
    };
    let (a_at, b_at) = (index(a), index(b));
    let mut b_taken = vec![false; b.len()];
    let mut pairs: Vec<Option<Pair>> = vec![None; a.len()];
    for t in tensors {
        let (Some(&i), Some(&j), Some(&v)) =
            (a_at.get(&t.a), b_at.get(&t.b), a_at.get(&t.a_values))
        else {
            continue;
        };
        if pairs[i].is_none() && a[v].shape == b[j].shape {
            pairs[i] = Some(Pair {
                a: i,
                b: j,
                by: t.by,
                a_values: v,
            });
            b_taken[j] = true;
        }
    }
    // Without a plan (two runs of one graph), the same tensor is the same layer.
    if tensors.is_empty() {
        for (i, l) in a.iter().enumerate().filter(|(_, l)| comparable(l)) {
            if let Some(&j) = b_at.get(&l.tensor).filter(|&&j| !b_taken[j]) {
                if b[j].shape == l.shape {
                    pairs[i] = Some(Pair {
                        a: i,
                        b: j,
                        by: MatchedBy::Name,
                        a_values: i,
                    });
                    b_taken[j] = true;
                }
            }
        }
    }
    // The unmatched of each shape, in graph order, paired in turn.
    let mut b_free: HashMap<&[usize], std::collections::VecDeque<usize>> = HashMap::new();
    for (j, l) in b.iter().enumerate() {
        if comparable(l) && !b_taken[j] {
            b_free.entry(l.shape.as_slice()).or_default().push_back(j);
        }
    }
    for (i, l) in a.iter().enumerate() {
        if pairs[i].is_some() || !comparable(l) {
            continue;
        }
        if let Some(j) = b_free
            .get_mut(l.shape.as_slice())
            .and_then(|q| q.pop_front())
        {
            pairs[i] = Some(Pair {
                a: i,
                b: j,
                by: MatchedBy::Position,
                a_values: i,
            });
            b_taken[j] = true;
        }
    }
    let only_a = (0..a.len())
        .filter(|&i| pairs[i].is_none() && comparable(&a[i]))
        .collect();
    let only_b = (0..b.len())
        .filter(|&j| !b_taken[j] && comparable(&b[j]))
        .collect();
    Matching {
        pairs: pairs.into_iter().flatten().collect(),
        only_a,
        only_b,
    }
}

/// How far B is from A in one layer.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Divergence {
    /// max |A − B| (∞ where one side is not finite and the other is, or both differ so).
    pub max_abs: f32,
    /// max |A − B| / max |A|: 0 for identical layers; ∞ when A is all zeros and B is not.
    pub rel: f32,
    /// cos(A, B) over the whole layer: 1 for proportional layers.
    pub cosine: f32,
    /// The channel (for a vector: the element) where |A − B| is largest.
    pub worst_channel: usize,
    /// 20·log10(‖A‖ / ‖A − B‖) over the finite values (ONNX Runtime's qdq_loss_debug
    /// definition): ∞ for identical layers, `None` when A is all zeros.
    pub sqnr_db: Option<f64>,
    /// The SQNR of A's values put through B's own number format alone (its scale and zero
    /// point, or float16/bfloat16 rounding): the precision this layer loses by itself, apart
    /// from what it inherits. `None` when B is float32.
    pub local_sqnr_db: Option<f64>,
    /// The fraction of A's values outside what B's format holds (clipped by an int8 scale,
    /// beyond ±65504 for float16).
    pub saturated: f32,
}

/// A's and B's values at one place differ by this much.
fn gap(x: f32, y: f32) -> f32 {
    if x.is_finite() && y.is_finite() {
        (x - y).abs()
    } else if x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()) {
        0.0
    } else {
        f32::INFINITY
    }
}

/// The values of a numeric layer and how many make one channel.
fn values(l: &Layer) -> Option<(&[f32], usize)> {
    match &l.data {
        LayerData::FeatureMaps(fm) => Some((&fm.data, (fm.height * fm.width).max(1))),
        LayerData::Vector(v) => Some((v, 1)),
        LayerData::Other(_) => None,
    }
}

/// The divergence of two layers of the same shape; `None` when they cannot be compared.
pub fn divergence(a: &Layer, b: &Layer) -> Option<Divergence> {
    let ((va, per), (vb, _)) = (values(a)?, values(b)?);
    if a.shape != b.shape || va.len() != vb.len() {
        return None;
    }
    let mut max_abs = 0f32;
    let mut max_a = 0f32;
    let (mut dot, mut na, mut nb, mut noise) = (0f64, 0f64, 0f64, 0f64);
    let mut worst = (0usize, -1f32);
    for (chunk, (ca, cb)) in va.chunks(per).zip(vb.chunks(per)).enumerate() {
        let mut channel_max = 0f32;
        for (&x, &y) in ca.iter().zip(cb) {
            let g = gap(x, y);
            channel_max = channel_max.max(g);
            if x.is_finite() {
                max_a = max_a.max(x.abs());
            }
            if x.is_finite() && y.is_finite() {
                dot += x as f64 * y as f64;
                na += x as f64 * x as f64;
                nb += y as f64 * y as f64;
                noise += (x as f64 - y as f64).powi(2);
            }
        }
        if channel_max > worst.1 {
            worst = (chunk, channel_max);
        }
        max_abs = max_abs.max(channel_max);
    }
    let rel = if max_abs == 0.0 {
        0.0
    } else if max_a > 0.0 {
        max_abs / max_a
    } else {
        f32::INFINITY
    };
    let cosine = match (na > 0.0, nb > 0.0) {
        (true, true) => (dot / (na.sqrt() * nb.sqrt())).clamp(-1.0, 1.0) as f32,
        (false, false) => 1.0,
        _ => 0.0,
    };
    let sqnr_db = match (na > 0.0, noise > 0.0) {
        (false, _) => None,
        (true, false) => Some(f64::INFINITY),
        (true, true) => Some(10.0 * (na / noise).log10()),
    };
    let (local_sqnr_db, saturated) = if b.precision.is_float32() {
        (None, 0.0)
    } else {
        // The values as they lie (channel-first, batch item 0), the axis of a per-axis scale
        // being the channel's.
        let shape: Vec<usize> = match &b.data {
            LayerData::FeatureMaps(fm) => vec![1, fm.channels, fm.height, fm.width],
            _ => vec![1, va.len()],
        };
        let (db, outside) = b.precision.round_trip_sqnr(va, &shape);
        (db, outside as f32 / va.len().max(1) as f32)
    };
    Some(Divergence {
        max_abs,
        rel,
        cosine,
        worst_channel: worst.0,
        sqnr_db,
        local_sqnr_db,
        saturated,
    })
}

/// A − B, channel by channel.
pub fn difference(a: &FeatureMaps, b: &FeatureMaps) -> FeatureMaps {
    let data: Vec<f32> = a
        .data
        .iter()
        .zip(&b.data)
        .map(|(&x, &y)| if gap(x, y) == 0.0 { 0.0 } else { x - y })
        .collect();
    FeatureMaps::new(a.channels, a.height, a.width, data)
}

/// The symmetric range a difference is drawn over: ±max |value| (±1 for all zeros, so 0
/// stays the colormap's middle).
pub fn symmetric_range(values: &[f32]) -> (f32, f32) {
    let (lo, hi) = render::min_max(values);
    let m = lo.abs().max(hi.abs());
    if m > 0.0 && m.is_finite() {
        (-m, m)
    } else {
        (-1.0, 1.0)
    }
}

// ---- compare.json ----

/// One run, as compare.json describes it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RunRecord {
    pub model: String,
    pub image: String,
    pub engine: Clean,
}

/// One compared layer. Over several images, the figures are the worst over the images
/// (largest gaps, lowest cosine and SQNR) and `*_mean` the SQNR's mean.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LayerComparison {
    pub name: Clean,
    pub tensor: Clean,
    /// B's layer, when it goes by another name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_b: Option<Clean>,
    pub tensor_b: Clean,
    pub op: Clean,
    pub shape: Vec<usize>,
    pub matched_by: MatchedBy,
    /// A's tensor whose values were compared, when not this layer's own (`fused`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compared_with: Option<Clean>,
    /// B's number format.
    pub dtype_b: crate::precision::ElemType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantization_b: Option<crate::precision::Quantization>,
    pub max_abs: f32,
    pub rel: f32,
    pub cosine: f32,
    pub worst_channel: usize,
    /// 20·log10(‖A‖/‖A − B‖) in dB; "inf" when B equals A, null when A is all zeros.
    #[serde(serialize_with = "decibels")]
    pub sqnr_db: Option<f64>,
    /// The SQNR of A's values through B's format alone: what this layer loses by itself.
    #[serde(serialize_with = "decibels")]
    pub local_sqnr_db: Option<f64>,
    /// The SQNR of the layer it computes from (`input`): a layer whose SQNR falls well below
    /// its input's while its local SQNR stays high loses in its arithmetic or weights (an
    /// int8 depthwise convolution with one scale for every channel, say).
    #[serde(serialize_with = "decibels", skip_serializing_if = "Option::is_none")]
    pub input_sqnr_db: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<Clean>,
    /// Fraction of A's values outside B's range (saturated by an int8 scale, beyond float16).
    pub saturated: f32,
    /// Over several images: the mean SQNR and local SQNR.
    #[serde(serialize_with = "decibels", skip_serializing_if = "Option::is_none")]
    pub sqnr_db_mean: Option<f64>,
    #[serde(serialize_with = "decibels", skip_serializing_if = "Option::is_none")]
    pub local_sqnr_db_mean: Option<f64>,
    /// NaN and ±Inf in A's layer and in B's (over every image).
    pub nonfinite_a: crate::precision::NonFinite,
    pub nonfinite_b: crate::precision::NonFinite,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    /// The figures of each image, in order.
    #[serde(skip)]
    pub per_image: Vec<Divergence>,
}

/// dB figures: a number, "inf" for an exact match, null where undefined.
fn decibels<S: serde::Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(x) if x.is_infinite() => s.serialize_str(if *x > 0.0 { "inf" } else { "-inf" }),
        Some(x) if x.is_finite() => s.serialize_f64((x * 1e4).round() / 1e4),
        _ => s.serialize_none(),
    }
}

/// Mean and least of some dB figures (∞ counts as the best).
fn mean_and_worst(values: impl Iterator<Item = Option<f64>>) -> (Option<f64>, Option<f64>) {
    let all: Vec<f64> = values.flatten().collect();
    if all.is_empty() {
        return (None, None);
    }
    let worst = all.iter().copied().fold(f64::INFINITY, f64::min);
    let finite: Vec<f64> = all.iter().copied().filter(|v| v.is_finite()).collect();
    let mean = if finite.is_empty() {
        f64::INFINITY
    } else {
        finite.iter().sum::<f64>() / finite.len() as f64
    };
    (Some(mean), Some(worst))
}

impl LayerComparison {
    pub fn new(a: &Layer, b: &Layer, pair: &Pair, compared: &Layer, d: Divergence) -> Self {
        LayerComparison {
            name: a.name.clone(),
            tensor: Clean::new(&a.tensor),
            name_b: (b.name != a.name).then(|| b.name.clone()),
            tensor_b: Clean::new(&b.tensor),
            op: a.op.clone(),
            shape: a.shape.clone(),
            matched_by: pair.by,
            compared_with: (pair.a_values != pair.a).then(|| Clean::new(&compared.tensor)),
            dtype_b: b.precision.elem,
            quantization_b: b.precision.quantization.clone(),
            max_abs: d.max_abs,
            rel: d.rel,
            cosine: d.cosine,
            worst_channel: d.worst_channel,
            sqnr_db: d.sqnr_db,
            local_sqnr_db: d.local_sqnr_db,
            input_sqnr_db: None,
            input: a.source.as_deref().map(Clean::new),
            saturated: d.saturated,
            sqnr_db_mean: None,
            local_sqnr_db_mean: None,
            nonfinite_a: a.nonfinite,
            nonfinite_b: b.nonfinite,
            files: Vec::new(),
            per_image: vec![d],
        }
    }

    /// Another image's figures for this layer.
    fn add_image(&mut self, d: Divergence, (a, b): (&Layer, &Layer)) {
        self.nonfinite_a = self.nonfinite_a.plus(a.nonfinite);
        self.nonfinite_b = self.nonfinite_b.plus(b.nonfinite);
        self.per_image.push(d);
        let all = &self.per_image;
        self.max_abs = all.iter().map(|d| d.max_abs).fold(0.0, f32::max);
        let worst = all
            .iter()
            .max_by(|x, y| x.rel.total_cmp(&y.rel))
            .copied()
            .unwrap_or(d);
        self.rel = worst.rel;
        self.worst_channel = worst.worst_channel;
        self.cosine = all.iter().map(|d| d.cosine).fold(1.0, f32::min);
        self.saturated = all.iter().map(|d| d.saturated).fold(0.0, f32::max);
        let (mean, least) = mean_and_worst(all.iter().map(|d| d.sqnr_db));
        (self.sqnr_db_mean, self.sqnr_db) = (mean, least);
        let (mean, least) = mean_and_worst(all.iter().map(|d| d.local_sqnr_db));
        (self.local_sqnr_db_mean, self.local_sqnr_db) = (mean, least);
    }
}

/// How many of A's layers found a partner, and how.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct PairingSummary {
    /// A's feature maps (4-D layers drawn as channel grids) and how many are paired.
    pub a_feature_maps: usize,
    pub paired_feature_maps: usize,
    /// Pairs by how they were made.
    pub by: std::collections::BTreeMap<&'static str, usize>,
}

/// compare.json.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    pub a: RunRecord,
    pub b: RunRecord,
    /// The images, when B is compared with A over several.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
    pub threshold: f32,
    /// The first layer, in graph order, whose `rel` is above the threshold.
    pub first_above: Option<Clean>,
    /// `--fail-below-sqnr`, and the first layer whose SQNR is below it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_below_sqnr: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_below_sqnr: Option<Clean>,
    /// The layer that loses the most precision by itself (lowest local SQNR): where a
    /// precision problem starts, rather than where it shows.
    pub worst_local: Option<Clean>,
    pub pairing: PairingSummary,
    /// Whether the layers were computed a few at a time (both runs' activations at once would
    /// not fit the memory budget).
    pub streamed: bool,
    /// In A's graph order.
    pub layers: Vec<LayerComparison>,
    /// Numeric layers with no partner.
    pub only_in_a: Vec<Clean>,
    pub only_in_b: Vec<Clean>,
}

impl Report {
    fn first_above(layers: &[LayerComparison], threshold: f32) -> Option<Clean> {
        layers
            .iter()
            .find(|l| l.rel > threshold)
            .map(|l| l.name.clone())
    }

    /// The layer with the largest `rel`.
    pub fn worst(&self) -> Option<&LayerComparison> {
        self.layers.iter().max_by(|x, y| x.rel.total_cmp(&y.rel))
    }

    /// The layer with the lowest SQNR.
    pub fn worst_sqnr(&self) -> Option<&LayerComparison> {
        self.layers
            .iter()
            .filter(|l| l.sqnr_db.is_some())
            .min_by(|x, y| {
                x.sqnr_db
                    .unwrap_or(0.0)
                    .total_cmp(&y.sqnr_db.unwrap_or(0.0))
            })
    }
}

// ---- the command ----

/// What `featscope compare --out` was asked.
#[derive(Clone, Debug)]
pub struct CompareJob {
    pub inputs: Inputs,
    /// `--layer` patterns (resolved on A's model); none means every layer.
    pub layers: Vec<String>,
    pub out: PathBuf,
    pub threshold: f32,
    /// `--fail-above`: the command fails when a layer's `rel` is above this.
    pub fail_above: Option<f32>,
    /// `--fail-below-sqnr`: the command fails when a layer's SQNR (dB) is below this.
    pub fail_below_sqnr: Option<f64>,
    pub colormap: Colormap,
    pub run: RunConfig,
}

/// How a compare went.
#[derive(Clone, Debug)]
pub struct CompareOutcome {
    pub report: Report,
    /// Layers whose `rel` is above `--fail-above`.
    pub failing: Vec<Clean>,
    /// Layers whose SQNR is below `--fail-below-sqnr`.
    pub below_sqnr: Vec<Clean>,
}

/// Both runs' activations for a set of layers.
pub struct Runs {
    pub a: Activations,
    pub b: Activations,
}

/// Opens the engines for A and B on `tensors` (`None`: every layer).
fn analyzers(
    inputs: &Inputs,
    (model_a, model_b): (&Model, &Model),
    tensors: Option<&[String]>,
    plan: &[TensorPair],
    run: &RunConfig,
) -> Result<(Analyzer, Option<Analyzer>)> {
    // A computes the tensors asked for and those their pairs are compared at; B their
    // partners, or every layer when one has none (it is then paired by position).
    let (selection_a, selection_b) = match tensors {
        None => (Selection::All, Selection::All),
        Some(t) => {
            let pairs: Vec<&TensorPair> = t
                .iter()
                .filter_map(|t| plan.iter().find(|p| &p.a == t))
                .collect();
            let mut a_tensors = t.to_vec();
            for p in &pairs {
                if !a_tensors.contains(&p.a_values) {
                    a_tensors.push(p.a_values.clone());
                }
            }
            let b = if pairs.len() == t.len() {
                Selection::Tensors(pairs.iter().map(|p| p.b.clone()).collect())
            } else {
                Selection::All
            };
            (Selection::Tensors(a_tensors), b)
        }
    };
    let mut a = Analyzer::open(model_a.clone(), run, &selection_a)?;
    let b = match inputs {
        Inputs::TwoImages { a: image_a, .. } => {
            same_size_as(&mut a, image_a)?;
            None
        }
        Inputs::TwoModels { .. } => {
            // A copy of A without a sidecar of its own (a converted or re-exported model) is
            // fed as A is; with one, as its sidecar says.
            let mut run_b = run.clone();
            if !crate::preprocess::sidecar_path(&model_b.path).exists() {
                let a_sidecar = crate::preprocess::sidecar_options(&model_a.path)?;
                run_b.preprocess = run.preprocess.clone().or(&a_sidecar);
            }
            Some(Analyzer::open(model_b.clone(), &run_b, &selection_b)?)
        }
    };
    Ok((a, b))
}

/// A model that takes any size would see two images at their own sizes, and no layer would
/// line up: both are fed at the size image A is fed at.
fn same_size_as(analyzer: &mut Analyzer, image_a: &Path) -> Result<()> {
    if analyzer.geometry.fixed_size.is_some() || analyzer.preprocess.size.is_some() {
        return Ok(());
    }
    let img = crate::preprocess::load_image(image_a)?;
    let size = crate::preprocess::target_size(
        (img.width(), img.height()),
        image_a,
        &analyzer.geometry,
        &analyzer.preprocess,
    )?;
    analyzer.preprocess.size = Some(size);
    Ok(())
}

fn compute_both(
    (image_a, image_b): (&Path, &Path),
    (a, b): &mut (Analyzer, Option<Analyzer>),
) -> Result<Runs> {
    let acts_a = a.compute(image_a)?;
    let acts_b = match b {
        Some(b) => b.compute(image_b)?,
        None => a.compute(image_b)?,
    };
    Ok(Runs {
        a: acts_a,
        b: acts_b,
    })
}

fn layer_bytes(l: &Layer) -> u64 {
    match &l.data {
        LayerData::FeatureMaps(fm) => fm.data.len() as u64 * 4,
        LayerData::Vector(v) => v.len() as u64 * 4,
        LayerData::Other(_) => 0,
    }
}

/// Groups `sizes` (in order) into runs of at most `limit` bytes each (a layer larger than the
/// limit alone).
fn chunks(sizes: &[(String, u64)], limit: u64) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut used = 0u64;
    for (name, bytes) in sizes {
        match out.last_mut() {
            Some(chunk) if used.saturating_add(*bytes) <= limit => {
                chunk.push(name.clone());
                used += bytes;
            }
            _ => {
                out.push(vec![name.clone()]);
                used = *bytes;
            }
        }
    }
    out
}

/// Both runs for the view, and how their layers pair.
pub struct ViewRuns {
    pub a: Activations,
    pub b: Activations,
    pub matching: Matching,
}

/// Both runs for the view, every layer (or those `layers` names) of each; `stage` hears what is
/// being done. The view holds both sets, so they must fit the memory budget together. Over a
/// folder of images, the view shows the first.
pub fn compute_for_view(
    inputs: &Inputs,
    layers: &[String],
    run: &RunConfig,
    stage: &dyn Fn(String),
) -> Result<ViewRuns> {
    let model_a = run.open_model(inputs.model_a())?;
    let model_b = match inputs {
        Inputs::TwoImages { .. } => model_a.clone(),
        Inputs::TwoModels { b, .. } => run.open_model(b)?,
    };
    let plan = pair_sites(&model_a, &model_b);
    let only = select_layers(&model_a, layers)?;
    let (image_a, image_b) = inputs
        .image_pairs()?
        .into_iter()
        .next()
        .context("no image")?;
    let mut engines = analyzers(inputs, (&model_a, &model_b), only.as_deref(), &plan, run)?;
    stage(format!(
        "running {} on {} (A)",
        engines.0.engine_label(),
        image_a.display()
    ));
    let a = engines.0.compute(&image_a)?;
    let budget = Budget::new(run.max_memory);
    let held = 2 * a.layers.iter().map(layer_bytes).sum::<u64>();
    if held > budget.bytes {
        bail!(
            "{}: both runs' activations need about {}, over the memory budget of {} ({}); \
             choose fewer layers with --layer, or write the comparison with --out, which \
             computes a few layers at a time",
            inputs.model_a().display(),
            memory::human(held),
            memory::human(budget.bytes),
            budget.source
        );
    }
    stage(format!("running on {} (B)", image_b.display()));
    let b = match &mut engines.1 {
        Some(b) => b.compute(&image_b)?,
        None => engines.0.compute(&image_b)?,
    };
    let matching = match_layers(&a.layers, &b.layers, &plan);
    Ok(ViewRuns { a, b, matching })
}

/// Runs `featscope compare --out`: both runs, every matched layer's figures and pictures, and
/// compare.json. When both runs' activations would not fit the memory budget together, the
/// layers are computed a few at a time (each group runs both models again). Over a folder of
/// images, the figures are gathered per layer (worst and mean) and the pictures are the first
/// image's.
pub fn run(job: &CompareJob, reporter: &dyn Reporter) -> Result<CompareOutcome> {
    let model_a = job.run.open_model(job.inputs.model_a())?;
    let model_b = match &job.inputs {
        Inputs::TwoImages { .. } => model_a.clone(),
        Inputs::TwoModels { b, .. } => job.run.open_model(b)?,
    };
    let plan = pair_sites(&model_a, &model_b);
    let only = select_layers(&model_a, &job.layers)?;
    let images = job.inputs.image_pairs()?;
    let _folder = crate::outdir::OutputFolder::open(&job.out)?;

    let out = compare_images(
        job,
        &images,
        (&model_a, &model_b),
        only.as_deref(),
        &plan,
        reporter,
    )?;
    let record = |model: &Path, image: &Path, engine: Clean| RunRecord {
        model: model.display().to_string(),
        image: image.display().to_string(),
        engine,
    };
    let a_record = record(job.inputs.model_a(), job.inputs.image_a(), out.engine_a);
    let b_record = record(job.inputs.model_b(), job.inputs.image_b(), out.engine_b);
    let streamed = out.streamed;
    let Collected {
        layers,
        only_in_a,
        only_in_b,
        mut written,
        mut pairing,
        ..
    } = out;
    if layers.is_empty() {
        bail!(
            "{} and {}: no layers to compare (no tensor names or shapes in common)",
            job.inputs.model_a().display(),
            job.inputs.model_b().display()
        );
    }
    for row in &layers {
        *pairing.by.entry(row.matched_by.name()).or_default() += 1;
    }
    let mut layers = layers;
    let sqnr_of: HashMap<String, Option<f64>> = layers
        .iter()
        .map(|l| (l.tensor.to_string(), l.sqnr_db))
        .collect();
    for row in &mut layers {
        row.input_sqnr_db = row
            .input
            .as_ref()
            .and_then(|t| sqnr_of.get(t.as_str()).copied().flatten());
    }
    let below = |limit: f64| {
        layers
            .iter()
            .filter(move |l| l.sqnr_db.is_some_and(|db| db < limit))
            .map(|l| l.name.clone())
    };
    let report = Report {
        a: a_record,
        b: b_record,
        images: if images.len() > 1 {
            images
                .iter()
                .map(|(a, _)| a.display().to_string())
                .collect()
        } else {
            Vec::new()
        },
        threshold: job.threshold,
        first_above: Report::first_above(&layers, job.threshold),
        fail_below_sqnr: job.fail_below_sqnr,
        first_below_sqnr: job.fail_below_sqnr.and_then(|limit| below(limit).next()),
        worst_local: layers
            .iter()
            .filter_map(|l| Some((l.local_sqnr_db?, l)))
            .min_by(|x, y| x.0.total_cmp(&y.0))
            .map(|(_, l)| l.name.clone()),
        pairing,
        streamed,
        layers: layers.clone(),
        only_in_a,
        only_in_b,
    };
    let json = serde_json::to_vec_pretty(&report).context("compare.json")?;
    let path = job.out.join("compare.json");
    crate::outdir::write_atomic(&path, &json)?;
    written.push(path);
    for f in &written {
        reporter.wrote(f);
    }
    let failing = match job.fail_above {
        Some(limit) => report
            .layers
            .iter()
            .filter(|l| l.rel > limit)
            .map(|l| l.name.clone())
            .collect(),
        None => Vec::new(),
    };
    let below_sqnr = job
        .fail_below_sqnr
        .map(|l| below(l).collect())
        .unwrap_or_default();
    Ok(CompareOutcome {
        report,
        failing,
        below_sqnr,
    })
}

/// Both runs over every pair of images, each layer's figures gathered and the first pair's
/// pictures written; in groups of layers when both runs would not fit the memory budget.
fn compare_images(
    job: &CompareJob,
    images: &[(PathBuf, PathBuf)],
    (model_a, model_b): (&Model, &Model),
    only: Option<&[String]>,
    plan: &[TensorPair],
    reporter: &dyn Reporter,
) -> Result<Collected> {
    let models = (model_a, model_b);
    let mut engines = Some(analyzers(&job.inputs, models, only, plan, &job.run)?);
    if let Some(note) = engines.as_ref().and_then(|e| e.0.engine_note.as_ref()) {
        reporter.note(note);
    }
    let wanted = |l: &Layer| only.is_none_or(|t| t.contains(&l.tensor));
    let budget = Budget::new(job.run.max_memory);
    let mut out = Collected::default();
    for (k, (image_a, image_b)) in images.iter().enumerate() {
        let first = k == 0;
        if let Some(engines) = engines.as_mut() {
            let acts_a = engines.0.compute(image_a)?;
            out.engine_a = acts_a.engine.clone();
            // B's activations are about A's size (the same graph).
            let held = 2 * acts_a.layers.iter().map(layer_bytes).sum::<u64>();
            if held <= budget.bytes {
                let acts_b = match &mut engines.1 {
                    Some(b) => b.compute(image_b)?,
                    None => engines.0.compute(image_b)?,
                };
                out.engine_b = acts_b.engine.clone();
                let runs = Runs {
                    a: acts_a,
                    b: acts_b,
                };
                compare_group(&runs, job, plan, &wanted, first, &mut out)?;
                continue;
            }
            // Both sets at once are over the budget: from now on in groups of layers whose
            // two runs fit, each compared and written before the next is computed.
            out.streamed = true;
            out.sizes = acts_a
                .layers
                .iter()
                .filter(|l| comparable(l) && wanted(l))
                .map(|l| (l.tensor.clone(), layer_bytes(l)))
                .collect();
            if out
                .sizes
                .iter()
                .any(|(t, _)| !plan.iter().any(|p| &p.a == t))
            {
                bail!(
                    "{}: both runs' activations need {} together, over the memory budget of {} \
                     ({}), and some layers of A have no partner in B but by position, so they \
                     cannot be compared a few layers at a time; choose fewer layers with --layer",
                    job.inputs.model_b().display(),
                    memory::human(held),
                    memory::human(budget.bytes),
                    budget.source
                );
            }
        }
        engines = None;
        let sizes = out.sizes.clone();
        for group in chunks(&sizes, budget.bytes / 2) {
            let mut engines = analyzers(&job.inputs, models, Some(&group), plan, &job.run)?;
            let runs = compute_both((image_a, image_b), &mut engines)?;
            (out.engine_a, out.engine_b) = (runs.a.engine.clone(), runs.b.engine.clone());
            let in_group = |l: &Layer| wanted(l) && group.contains(&l.tensor);
            compare_group(&runs, job, plan, &in_group, first, &mut out)?;
        }
    }
    Ok(out)
}

/// What the groups of layers and the images added up to.
#[derive(Default)]
struct Collected {
    layers: Vec<LayerComparison>,
    only_in_a: Vec<Clean>,
    only_in_b: Vec<Clean>,
    written: Vec<PathBuf>,
    pairing: PairingSummary,
    /// With layers computed a few at a time: each of A's layers and its bytes.
    sizes: Vec<(String, u64)>,
    /// File stems taken (lower-cased: unique on case-insensitive file systems too).
    stems: std::collections::HashSet<String>,
    /// Which engine ran each side (the last run's).
    engine_a: Clean,
    engine_b: Clean,
    /// Whether the layers were computed a few at a time.
    streamed: bool,
}

impl Collected {
    fn stem(&mut self, name: &str) -> String {
        let base = crate::outdir::file_stem(name);
        let mut stem = base.clone();
        let mut n = 2;
        while !self.stems.insert(stem.to_lowercase()) {
            stem = format!("{base}_{n}");
            n += 1;
        }
        stem
    }
}

/// Compares the matched layers of one group of runs, writing their pictures for the first
/// image; later images add their figures to the rows.
fn compare_group(
    runs: &Runs,
    job: &CompareJob,
    plan: &[TensorPair],
    wanted: &(dyn Fn(&Layer) -> bool + Sync),
    first: bool,
    out: &mut Collected,
) -> Result<()> {
    let matching = match_layers(&runs.a.layers, &runs.b.layers, plan);
    let pairs: Vec<&Pair> = matching
        .pairs
        .iter()
        .filter(|p| wanted(&runs.a.layers[p.a]))
        .collect();
    // Layers are measured, drawn and written in parallel, each on its own.
    let figures: Vec<Option<Divergence>> = pairs
        .par_iter()
        .map(|p| divergence(&runs.a.layers[p.a_values], &runs.b.layers[p.b]))
        .collect();
    if !first {
        for (pair, d) in pairs.iter().zip(figures) {
            let (la, lb) = (&runs.a.layers[pair.a], &runs.b.layers[pair.b]);
            let Some(d) = d else { continue };
            if let Some(row) = out.layers.iter_mut().find(|r| *r.tensor == *la.tensor) {
                row.add_image(d, (la, lb));
            }
        }
        return Ok(());
    }
    // A tensor compared at its fused activation's values shares that activation's pictures.
    let mut drawn: HashMap<(usize, usize), String> = HashMap::new();
    let mut rows = Vec::new();
    for (pair, d) in pairs.iter().zip(figures) {
        let (la, lb) = (&runs.a.layers[pair.a], &runs.b.layers[pair.b]);
        let compared = &runs.a.layers[pair.a_values];
        let Some(d) = d else { continue };
        let row = LayerComparison::new(la, lb, pair, compared, d);
        let maps = compared.feature_maps().zip(lb.feature_maps());
        if maps.is_some() {
            out.pairing.paired_feature_maps += 1;
        }
        let key = (pair.a_values, pair.b);
        let picture = match (maps, drawn.get(&key)) {
            (Some(_), Some(stem)) => Some((stem.clone(), false)),
            (Some(_), None) => {
                let stem = out.stem(&compared.name);
                drawn.insert(key, stem.clone());
                Some((stem, true))
            }
            (None, _) => None,
        };
        rows.push((row, maps, picture));
    }
    let written: Vec<Vec<String>> = rows
        .par_iter()
        .map(|(_, maps, picture)| -> Result<Vec<String>> {
            let (Some((fa, fb)), Some((stem, draw))) = (maps, picture) else {
                return Ok(Vec::new());
            };
            let names = picture_names(stem);
            if *draw {
                for (name, bytes) in names.iter().zip(pictures(fa, fb, job.colormap)?) {
                    crate::outdir::write_atomic(&job.out.join(name), &bytes)?;
                }
            }
            Ok(names.to_vec())
        })
        .collect::<Result<_>>()?;
    for ((mut row, _, picture), files) in rows.into_iter().zip(written) {
        if picture.as_ref().is_some_and(|(_, draw)| *draw) {
            out.written.extend(files.iter().map(|f| job.out.join(f)));
        }
        row.files = files;
        out.layers.push(row);
    }
    if !first {
        return Ok(());
    }
    out.pairing.a_feature_maps += runs
        .a
        .layers
        .iter()
        .filter(|l| wanted(l) && l.feature_maps().is_some())
        .count();
    out.only_in_a.extend(
        matching
            .only_a
            .iter()
            .map(|&i| &runs.a.layers[i])
            .filter(|l| wanted(l))
            .map(|l| l.name.clone()),
    );
    out.only_in_b.extend(
        matching
            .only_b
            .iter()
            .map(|&j| &runs.b.layers[j])
            .filter(|l| wanted(l))
            .map(|l| l.name.clone()),
    );
    Ok(())
}

/// Gap between the three panels of `<layer>_compare.png`, in pixels.
const PANEL_GAP: u32 = 8;

/// The files of a layer's pictures: `<stem>_compare.png` (the sums of A and B on one scale, and
/// A − B) and `<stem>_diff.png` (every channel of A − B on one symmetric scale).
fn picture_names(stem: &str) -> [String; 2] {
    [format!("{stem}_compare.png"), format!("{stem}_diff.png")]
}

/// The bytes of [`picture_names`]' pictures.
fn pictures(a: &FeatureMaps, b: &FeatureMaps, colormap: Colormap) -> Result<[Vec<u8>; 2]> {
    let diff = difference(a, b);
    let scale = render::auto_scale(a.height, a.width, 224);
    let panels = side_by_side(a, b, &diff, colormap, scale);
    let mut style = GridStyle::for_maps(&diff);
    style.colormap = Colormap::RdBu;
    style.normalization = Normalization::PerLayer;
    style.range = Some(symmetric_range(&diff.data));
    let channels: Vec<usize> = (0..diff.channels).collect();
    let grid = render::render_grid(&diff, &channels, &style);
    Ok([
        render::png::encode_rgb(&panels).context("PNG encoding failed")?,
        encode_indexed_png(&grid)?,
    ])
}

/// The sums of A and B on one range, then the sum of A − B on a symmetric range.
pub fn side_by_side(
    a: &FeatureMaps,
    b: &FeatureMaps,
    diff: &FeatureMaps,
    colormap: Colormap,
    scale: u32,
) -> image::RgbImage {
    let (sa, sb, sd) = (
        render::channel_sum(a),
        render::channel_sum(b),
        render::channel_sum(diff),
    );
    let shared = {
        let (la, ha) = render::min_max(&sa);
        let (lb, hb) = render::min_max(&sb);
        (la.min(lb), ha.max(hb))
    };
    let draw = |v: &[f32], range, map| render::colorize(v, a.height, a.width, range, map, scale);
    let panels = [
        draw(&sa, shared, colormap),
        draw(&sb, shared, colormap),
        draw(&sd, symmetric_range(&sd), Colormap::RdBu),
    ];
    let (w, h) = (panels[0].width(), panels[0].height());
    let mut out =
        image::RgbImage::from_pixel(3 * w + 2 * PANEL_GAP, h, image::Rgb(render::BACKGROUND));
    for (k, p) in panels.iter().enumerate() {
        image::imageops::replace(&mut out, p, (k as u32 * (w + PANEL_GAP)) as i64, 0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Layout;

    fn layer(tensor: &str, shape: &[usize], data: Vec<f32>) -> Layer {
        let data = if shape.len() == 4 {
            LayerData::FeatureMaps(FeatureMaps::new(shape[1], shape[2], shape[3], data))
        } else {
            LayerData::Vector(data)
        };
        Layer {
            index: 0,
            name: tensor.into(),
            tensor: tensor.into(),
            op: "Conv".into(),
            shape: shape.to_vec(),
            layout: Layout::Nchw,
            data,
            precision: Default::default(),
            nonfinite: Default::default(),
            folded: Vec::new(),
            source: None,
        }
    }

    #[test]
    fn identical_layers_do_not_diverge() {
        let a = layer("x", &[1, 2, 1, 2], vec![1.0, -2.0, 3.0, 0.0]);
        let d = divergence(&a, &a.clone()).expect("comparable");
        assert_eq!((d.max_abs, d.rel, d.cosine), (0.0, 0.0, 1.0));
    }

    #[test]
    fn divergence_figures() {
        // Channel 1 differs by 0.5 at one place; max |A| is 4.
        let a = layer("x", &[1, 2, 1, 2], vec![1.0, -2.0, 4.0, 0.0]);
        let b = layer("x", &[1, 2, 1, 2], vec![1.0, -2.0, 4.0, 0.5]);
        let d = divergence(&a, &b).expect("comparable");
        assert_eq!(d.max_abs, 0.5);
        assert_eq!(d.rel, 0.125);
        assert_eq!(d.worst_channel, 1);
        let dot = 1.0 + 4.0 + 16.0;
        let want = dot / (21f64.sqrt() * 21.25f64.sqrt());
        assert!((d.cosine as f64 - want).abs() < 1e-6, "{}", d.cosine);
        // A vector's worst "channel" is its element.
        let v = divergence(
            &layer("v", &[1, 3], vec![0.0, 1.0, 2.0]),
            &layer("v", &[1, 3], vec![0.0, 1.0, 3.0]),
        )
        .expect("comparable");
        assert_eq!(v.worst_channel, 2);
        // Non-finite values: the same on both sides is no difference, else infinitely far.
        let n = divergence(
            &layer("v", &[1, 2], vec![f32::NAN, 1.0]),
            &layer("v", &[1, 2], vec![f32::NAN, f32::INFINITY]),
        )
        .expect("comparable");
        assert_eq!(n.max_abs, f32::INFINITY);
        assert!(divergence(
            &layer("v", &[1, 2], vec![0.0, 1.0]),
            &layer("v", &[1, 3], vec![0.0, 1.0, 2.0])
        )
        .is_none());
    }

    #[test]
    fn layers_match_by_name_then_by_position_among_equal_shapes() {
        let z = |n| vec![0.0; n];
        let a = vec![
            layer("conv", &[1, 2, 2, 2], z(8)),
            layer("relu", &[1, 2, 2, 2], z(8)),
            layer("pool", &[1, 2, 1, 1], z(2)),
            layer("fc", &[1, 5], z(5)),
        ];
        let b = vec![
            layer("conv", &[1, 2, 2, 2], z(8)),
            layer("Relu_7", &[1, 2, 2, 2], z(8)),
            layer("logits", &[1, 6], z(6)),
        ];
        let m = match_layers(&a, &b, &[]);
        assert_eq!(
            m.pairs,
            vec![
                Pair {
                    a: 0,
                    b: 0,
                    by: MatchedBy::Name,
                    a_values: 0,
                },
                Pair {
                    a: 1,
                    b: 1,
                    by: MatchedBy::Position,
                    a_values: 1,
                },
            ]
        );
        assert_eq!(m.only_a, vec![2, 3]);
        assert_eq!(m.only_b, vec![2]);
    }

    #[test]
    fn differences_are_drawn_around_zero() {
        assert_eq!(symmetric_range(&[-1.0, 3.0]), (-3.0, 3.0));
        assert_eq!(symmetric_range(&[0.0, 0.0]), (-1.0, 1.0));
        let a = FeatureMaps::new(1, 1, 2, vec![1.0, 2.0]);
        let b = FeatureMaps::new(1, 1, 2, vec![1.0, 5.0]);
        assert_eq!(difference(&a, &b).data, vec![0.0, -3.0]);
    }

    #[test]
    fn groups_stay_within_the_limit() {
        let sizes: Vec<(String, u64)> = [4u64, 4, 8, 1, 20, 2]
            .iter()
            .enumerate()
            .map(|(i, &b)| (format!("t{i}"), b))
            .collect();
        let groups = chunks(&sizes, 8);
        assert_eq!(
            groups,
            vec![
                vec!["t0".to_string(), "t1".into()],
                vec!["t2".into()],
                vec!["t3".into()],
                vec!["t4".into()],
                vec!["t5".into()],
            ]
        );
    }
}
