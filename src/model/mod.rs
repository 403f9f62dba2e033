//! Opening an ONNX file and discovering which of its tensors can be shown as layers.
//!
//! Only the graph's structure is decoded (names, ops, shapes); weights stay untouched in the
//! original bytes. Every node output that depends on the image — not only on weights — becomes
//! a candidate layer, in graph order.

pub mod builder;
pub mod proto;
pub mod quant;
pub mod seed;
mod select;
pub mod structure;
mod validate;
pub mod weights;

pub use select::{select_layers, NoMatch};

use bytes::Bytes;
use prost::Message;
use proto::{data_type, GraphProto, ModelProto, ValueInfoProto};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    File(#[from] crate::files::FileError),
    #[error("{path}: not an ONNX model ({reason})")]
    NotOnnx { path: String, reason: String },
    #[error("{path}: external data file '{location}' (for weight '{tensor}') {problem}")]
    ExternalData {
        path: String,
        location: String,
        tensor: String,
        problem: String,
    },
    #[error("{path}: {reason}")]
    Input { path: String, reason: String },
    /// A model that decodes but could not run: a stride of 0, an output naming nothing.
    #[error("{path}: {reason}")]
    Invalid { path: String, reason: String },
}

/// One dimension of a shape as the model declares it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum Dim {
    Fixed(i64),
    Symbolic(String),
}

impl Dim {
    pub fn fixed(&self) -> Option<i64> {
        match self {
            Dim::Fixed(v) if *v > 0 => Some(*v),
            _ => None,
        }
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Fixed(v) => write!(f, "{v}"),
            Dim::Symbolic(s) if s.is_empty() => write!(f, "?"),
            Dim::Symbolic(s) => write!(f, "{}", sanitize(s)),
        }
    }
}

/// Where the channel axis of a 4-D tensor lies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Layout {
    #[serde(rename = "NCHW")]
    Nchw,
    #[serde(rename = "NHWC")]
    Nhwc,
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layout::Nchw => "NCHW",
            Layout::Nhwc => "NHWC",
        })
    }
}

/// A declared tensor type: element type code (see [`proto::data_type`]) and shape, either may be unknown.
#[derive(Clone, Debug, Default)]
pub struct DeclaredType {
    pub elem_type: Option<i32>,
    pub dims: Option<Vec<Dim>>,
}

/// A graph input that is fed at run time (not an initializer).
#[derive(Clone, Debug)]
pub struct GraphInput {
    pub name: String,
    pub declared: DeclaredType,
}

/// A tensor that can become a layer: a node output that depends on the input image.
#[derive(Clone, Debug)]
pub struct TensorSite {
    /// Position among the exposed tensors, in graph order.
    pub index: usize,
    /// The tensor's name in the graph (what engines are asked for).
    pub tensor: String,
    /// What users see and type: the node name, else the output name; unique, cleaned.
    pub display: Clean,
    pub op: Clean,
    pub declared: DeclaredType,
    /// The channel axis if this tensor is 4-D, traced from the input through the graph.
    pub layout: Layout,
    /// The scale and zero point of its integers: for an integer tensor, how to dequantize it;
    /// for the output of a folded QuantizeLinear → DequantizeLinear pair, the quantization
    /// its real values went through.
    pub quantization: Option<quant::QuantSource>,
    /// Tensors shown as part of this one (the float tensor a QuantizeLinear quantized, and its
    /// integer output), hidden from the layer list unless the raw graph is asked for.
    pub folded: Vec<String>,
    /// For the values read back from a folded Cast to float16/bfloat16: the type they were
    /// stored in.
    pub stored_as: Option<ElemType>,
    /// The output of the activation (Relu, Clip…) that alone reads this tensor: a pair that
    /// quantizers fuse into one operator.
    pub activation: Option<String>,
    /// The image-dependent tensor its operator reads first: what it computes from.
    pub source: Option<String>,
    /// The display name in the raw graph, where folded tensors are listed on their own.
    pub raw_display: Clean,
    pub raw_op: Clean,
}

impl TensorSite {
    /// Whether the tensor can hold feature maps: declared 4-D, or of undeclared rank.
    pub fn may_be_feature_map(&self) -> bool {
        self.declared.dims.as_ref().is_none_or(|d| d.len() == 4)
    }
}

#[derive(Clone)]
pub struct Model {
    pub path: PathBuf,
    /// The file as read; engines get these bytes, plus an appended output list.
    pub bytes: Bytes,
    pub ir_version: i64,
    pub opset: i64,
    pub producer: Clean,
    pub graph_name: Clean,
    pub metadata: Vec<(Clean, Clean)>,
    pub inputs: Vec<GraphInput>,
    pub graph_outputs: Vec<String>,
    /// The layers, in graph order: every image-dependent tensor, less those folded into
    /// another (see [`TensorSite::folded`]).
    pub sites: Vec<TensorSite>,
    /// The tensors folded into others, listed again by [`Model::with_raw_graph`].
    pub folded_sites: Vec<TensorSite>,
    /// Activations are quantized and dequantized in the graph (QDQ format).
    qdq: bool,
    pub has_external_data: bool,
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("path", &self.path)
            .field("sites", &self.sites.len())
            .finish()
    }
}

use crate::precision::ElemType;
use crate::text::{sanitize, Clean};

fn declared_type(v: &ValueInfoProto) -> DeclaredType {
    let Some(t) = v.r#type.as_ref().and_then(|t| t.tensor_type.as_ref()) else {
        return DeclaredType::default();
    };
    DeclaredType {
        elem_type: (t.elem_type != 0).then_some(t.elem_type),
        dims: t.shape.as_ref().map(|s| {
            s.dim
                .iter()
                .map(|d| match (&d.dim_value, &d.dim_param) {
                    (_, Some(p)) if d.dim_value.is_none_or(|v| v <= 0) => Dim::Symbolic(p.clone()),
                    // 0 (and a negative value) stays as declared: no image fits it.
                    (Some(v), _) => Dim::Fixed(*v),
                    _ => Dim::Symbolic(String::new()),
                })
                .collect()
        }),
    }
}

impl Model {
    pub fn open(path: &Path) -> Result<Model, ModelError> {
        let data = crate::files::read_limited(path, crate::files::MODEL_LIMIT, "an ONNX file")?;
        Self::from_bytes(path, Bytes::from(data))
    }

    pub fn from_bytes(path: &Path, bytes: Bytes) -> Result<Model, ModelError> {
        let shown = path.display().to_string();
        let not_onnx = |reason: String| ModelError::NotOnnx {
            path: shown.clone(),
            reason,
        };
        if bytes.is_empty() {
            return Err(not_onnx("the file is empty".into()));
        }
        let proto = ModelProto::decode(bytes.clone())
            .map_err(|e| not_onnx(format!("truncated or corrupt protobuf: {e}")))?;
        if !(1..=64).contains(&proto.ir_version) {
            return Err(not_onnx(format!(
                "IR version {} is not valid",
                proto.ir_version
            )));
        }
        let graph = proto
            .graph
            .as_ref()
            .filter(|g| !g.node.is_empty())
            .ok_or_else(|| not_onnx("it has no graph".into()))?;
        // Every IR ≥ 3 model names its opsets; their absence means the tail of the file is missing.
        let opset = proto
            .opset_import
            .iter()
            .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
            .map(|o| o.version);
        let opset = match opset {
            Some(v) => v,
            None if proto.ir_version < 3 => 1,
            None => return Err(not_onnx("no opset_import; the file looks truncated".into())),
        };
        let has_external_data = check_external_data(path, graph)?;
        let initializers: HashSet<&str> =
            graph.initializer.iter().map(|t| t.name.as_str()).collect();
        let inputs: Vec<GraphInput> = graph
            .input
            .iter()
            .filter(|i| !initializers.contains(i.name.as_str()))
            .map(|i| GraphInput {
                name: i.name.clone(),
                declared: declared_type(i),
            })
            .collect();
        check_graph_complete(&shown, graph, &initializers)?;
        validate::check(graph).map_err(|reason| ModelError::Invalid {
            path: shown.clone(),
            reason,
        })?;
        let qdq = graph.node.iter().any(|n| {
            n.op_type == "QuantizeLinear"
                && graph
                    .node
                    .iter()
                    .any(|r| r.op_type == "DequantizeLinear" && r.input.first() == n.output.first())
        });
        let (sites, folded_sites) = fold_requantizations(discover_sites(graph, &inputs), graph);
        Ok(Model {
            path: path.to_path_buf(),
            bytes,
            ir_version: proto.ir_version,
            opset,
            producer: Clean::new(&proto.producer_name),
            graph_name: Clean::new(&graph.name),
            metadata: proto
                .metadata_props
                .iter()
                .map(|p| (Clean::new(&p.key), Clean::new(&p.value)))
                .collect(),
            inputs,
            graph_outputs: graph.output.iter().map(|o| o.name.clone()).collect(),
            sites,
            folded_sites,
            qdq,
            has_external_data,
        })
    }

    /// The model with `names` added as graph outputs, so engines return those tensors.
    ///
    /// Appends an encoded `ModelProto { graph { output } }` to the original bytes: protobuf merges
    /// a repeated embedded message field by concatenation, so this costs microseconds where a
    /// re-serialisation of the weights would cost a copy of the whole file.
    pub fn with_outputs(&self, names: &[String]) -> Vec<u8> {
        let appended = &self.outputs_with(names)[self.graph_outputs.len()..];
        let extra = ModelProto {
            graph: Some(GraphProto {
                output: appended
                    .iter()
                    .map(|n| ValueInfoProto {
                        name: n.clone(),
                        r#type: None,
                    })
                    .collect(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut out = Vec::with_capacity(self.bytes.len() + 64 * names.len());
        out.extend_from_slice(&self.bytes);
        extra.encode(&mut out).expect("Vec grows as needed");
        out
    }

    /// The outputs of [`Model::with_outputs`]`(names)`, in order: the graph's own, then those of
    /// `names` that are not already among them.
    pub fn outputs_with(&self, names: &[String]) -> Vec<String> {
        let mut all = self.graph_outputs.clone();
        let existing: HashSet<&str> = self.graph_outputs.iter().map(String::as_str).collect();
        all.extend(
            names
                .iter()
                .filter(|n| !existing.contains(n.as_str()))
                .cloned(),
        );
        all
    }

    /// The folder that relative external-data locations are resolved against.
    pub fn dir(&self) -> PathBuf {
        self.path
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."))
    }

    /// Whether the first input's batch axis is free, so several inputs can run as one.
    pub fn takes_batches(&self) -> bool {
        self.inputs
            .first()
            .and_then(|i| i.declared.dims.as_ref())
            .and_then(|d| d.first())
            .is_some_and(|d| d.fixed().is_none())
    }

    pub fn site(&self, tensor: &str) -> Option<&TensorSite> {
        self.sites.iter().find(|s| s.tensor == tensor)
    }

    /// Whether some tensors are folded into others (a QDQ model).
    pub fn has_folds(&self) -> bool {
        !self.folded_sites.is_empty()
    }

    /// Whether some activations are float16 (a converted model).
    pub fn has_float16(&self) -> bool {
        self.sites
            .iter()
            .chain(&self.folded_sites)
            .map(|s| s.declared.elem_type)
            .chain(self.inputs.iter().map(|i| i.declared.elem_type))
            .any(|t| t == Some(proto::data_type::FLOAT16))
    }

    /// Whether activations are quantized and dequantized in the graph (QDQ format): float
    /// operators between QuantizeLinear/DequantizeLinear pairs, which an engine may run as
    /// they read or fuse into integer kernels.
    pub fn is_qdq(&self) -> bool {
        self.qdq
    }

    /// The model with every tensor listed on its own, under its own name: the graph as the
    /// file has it.
    pub fn with_raw_graph(mut self) -> Model {
        let mut all: Vec<TensorSite> = std::mem::take(&mut self.sites)
            .into_iter()
            .chain(std::mem::take(&mut self.folded_sites))
            .map(|mut s| {
                s.display = s.raw_display.clone();
                s.op = s.raw_op.clone();
                if !s.folded.is_empty() {
                    // Its own values are real ones; the quantization belongs to the integer
                    // tensor now listed beside it.
                    s.quantization = None;
                    s.stored_as = None;
                    s.folded.clear();
                }
                s
            })
            .collect();
        all.sort_by_key(|s| s.index);
        self.sites = all;
        self
    }
}

fn check_external_data(path: &Path, graph: &GraphProto) -> Result<bool, ModelError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut any = false;
    for t in graph
        .initializer
        .iter()
        .filter(|t| t.data_location == proto::DATA_LOCATION_EXTERNAL)
    {
        any = true;
        let get = |k: &str| {
            t.external_data
                .iter()
                .find(|e| e.key == k)
                .map(|e| e.value.clone())
        };
        let location = get("location").unwrap_or_default();
        let err = |problem: String| ModelError::ExternalData {
            path: path.display().to_string(),
            location: sanitize(&location),
            tensor: sanitize(&t.name),
            problem,
        };
        let file = match crate::files::inside_folder(dir, &location, "external data") {
            Ok(file) => file,
            Err(crate::files::FileError::Outside { .. }) => {
                return Err(err("is not a file inside the model's folder".into()))
            }
            Err(e) => return Err(err(format!("is missing ({})", short_reason(&e)))),
        };
        let len = match crate::files::open_regular(&file) {
            Ok((_, len)) => len,
            Err(e) => return Err(err(format!("cannot be used ({})", short_reason(&e)))),
        };
        let offset: u64 = get("offset").and_then(|v| v.parse().ok()).unwrap_or(0);
        let length: u64 = get("length").and_then(|v| v.parse().ok()).unwrap_or(0);
        if offset + length > len {
            return Err(err(format!(
                "is too short: {len} bytes, the weight needs bytes {offset}..{}",
                offset + length
            )));
        }
    }
    Ok(any)
}

/// A file error's reason without the path it starts with (the message names the file already).
fn short_reason(e: &crate::files::FileError) -> String {
    let text = e.to_string();
    match text.split_once(": ") {
        Some((_, rest)) => rest.to_string(),
        None => text,
    }
}

/// Rejects graphs whose nodes read tensors that nothing produces (a cut-off file, a broken export).
fn check_graph_complete(
    shown: &str,
    graph: &GraphProto,
    initializers: &HashSet<&str>,
) -> Result<(), ModelError> {
    let mut known: HashSet<&str> = initializers.clone();
    known.extend(graph.input.iter().map(|i| i.name.as_str()));
    known.insert("");
    for node in &graph.node {
        if let Some(missing) = node.input.iter().find(|i| !known.contains(i.as_str())) {
            // Sub-graph ops (If/Loop/Scan) may read outer-scope names; only plain ops are checked.
            if !matches!(node.op_type.as_str(), "If" | "Loop" | "Scan") {
                return Err(ModelError::NotOnnx {
                    path: shown.to_string(),
                    reason: format!(
                        "node '{}' reads '{}', which no node, input or weight produces",
                        sanitize(&node.name),
                        sanitize(missing)
                    ),
                });
            }
        }
        known.extend(node.output.iter().map(String::as_str));
    }
    Ok(())
}

/// Guesses the layout of an image-like 4-D input from its declared dims.
pub fn input_layout(dims: Option<&[Dim]>) -> Layout {
    let is_chan = |d: &Dim| matches!(d.fixed(), Some(1 | 3));
    match dims {
        Some(d) if d.len() == 4 && !is_chan(&d[1]) && is_chan(&d[3]) => Layout::Nhwc,
        _ => Layout::Nchw,
    }
}

/// Activations that quantizers fold into the operator before them (onnxruntime's QDQ and
/// QOperator formats drop a Relu or Clip that follows a Conv, MatMul, Gemm or Add).
const FUSED_ACTIVATIONS: [&str; 3] = ["Relu", "Clip", "LeakyRelu"];

fn discover_sites(graph: &GraphProto, inputs: &[GraphInput]) -> Vec<TensorSite> {
    let mut declared: HashMap<&str, DeclaredType> = HashMap::new();
    for v in graph.value_info.iter().chain(&graph.output) {
        declared.insert(&v.name, declared_type(v));
    }
    // Tensors computed from the image; everything else is weights or constants.
    let mut dynamic: HashSet<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
    let mut layouts: HashMap<&str, Layout> = inputs
        .iter()
        .map(|i| (i.name.as_str(), input_layout(i.declared.dims.as_deref())))
        .collect();
    let mut raw: Vec<(String, String, String, Layout)> = Vec::new();
    let mut sources: HashMap<String, String> = HashMap::new();
    for node in &graph.node {
        let Some(source) = node.input.iter().find(|i| dynamic.contains(i.as_str())) else {
            continue;
        };
        let source = source.clone();
        let layout = node_layout(node, &layouts);
        for out in node.output.iter().filter(|o| !o.is_empty()) {
            dynamic.insert(out);
            layouts.insert(out, layout);
            sources.insert(out.clone(), source.clone());
            raw.push((out.clone(), node.name.clone(), node.op_type.clone(), layout));
        }
    }
    // Display names: the node's name when it has one exposed output, else the tensor's name.
    let node_output_count: HashMap<&str, usize> = raw.iter().fold(HashMap::new(), |mut m, r| {
        *m.entry(r.1.as_str()).or_default() += 1;
        m
    });
    let ranks = |t: &str| {
        declared
            .get(t)
            .and_then(|d| d.dims.as_ref())
            .map(|d| d.len())
    };
    let mut quantized = quant::find(graph, &ranks);
    // A tensor read by one activation alone: the quantizers fuse that pair.
    let mut readers: HashMap<&str, Vec<&proto::NodeProto>> = HashMap::new();
    for node in &graph.node {
        for i in node.input.iter().filter(|i| !i.is_empty()) {
            readers.entry(i.as_str()).or_default().push(node);
        }
    }
    let activation_of = |t: &str| match readers.get(t).map(Vec::as_slice) {
        Some([only]) if FUSED_ACTIVATIONS.contains(&only.op_type.as_str()) => {
            only.output.first().cloned()
        }
        _ => None,
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    raw.iter()
        .enumerate()
        .map(|(index, (tensor, node, op, layout))| {
            let base = if !node.is_empty() && node_output_count.get(node.as_str()) == Some(&1) {
                node
            } else {
                tensor
            };
            let mut display = sanitize(base);
            let count = seen.entry(display.clone()).or_default();
            *count += 1;
            if *count > 1 {
                display = format!("{display}#{count}");
            }
            TensorSite {
                index,
                tensor: tensor.clone(),
                display: Clean::new(&display),
                op: Clean::new(op),
                declared: declared.get(tensor.as_str()).cloned().unwrap_or_default(),
                layout: *layout,
                quantization: quantized.remove(tensor.as_str()),
                folded: Vec::new(),
                stored_as: None,
                activation: activation_of(tensor),
                source: sources.remove(tensor.as_str()),
                raw_display: Clean::new(&display),
                raw_op: Clean::new(op),
            }
        })
        .collect()
}

/// A QuantizeLinear → DequantizeLinear pair that only re-quantizes an activation is one layer:
/// the dequantized values (what the next layer sees), named after the layer whose output was
/// quantized, with its float output and the integers folded into it. Returns the layers and
/// the folded tensors.
fn fold_requantizations(
    sites: Vec<TensorSite>,
    graph: &GraphProto,
) -> (Vec<TensorSite>, Vec<TensorSite>) {
    let mut readers: HashMap<&str, Vec<&proto::NodeProto>> = HashMap::new();
    for node in &graph.node {
        for i in node.input.iter().filter(|i| !i.is_empty()) {
            readers.entry(i.as_str()).or_default().push(node);
        }
    }
    let outputs: HashSet<&str> = graph.output.iter().map(|o| o.name.as_str()).collect();
    let position: HashMap<String, usize> = sites
        .iter()
        .enumerate()
        .map(|(i, s)| (s.tensor.clone(), i))
        .collect();
    // (float input, stored values, values read back, the type stored in) of each pair.
    let mut folds: Vec<(Option<usize>, usize, usize, Option<ElemType>)> = Vec::new();
    let cast_to = |n: &proto::NodeProto| {
        n.attribute
            .iter()
            .find(|a| a.name == "to" && a.r#type == proto::attribute_type::INT)
            .and_then(|a| ElemType::from_onnx(a.i as i32))
    };
    for node in &graph.node {
        // QuantizeLinear → DequantizeLinear, or a Cast to a narrower float and back.
        let (back_op, stored) = match (node.op_type.as_str(), cast_to(node)) {
            ("QuantizeLinear", _) => ("DequantizeLinear", None),
            ("Cast", Some(e @ (ElemType::Float16 | ElemType::Bfloat16))) => ("Cast", Some(e)),
            _ => continue,
        };
        let (Some(x), Some(q)) = (node.input.first(), node.output.first()) else {
            continue;
        };
        let (Some(&qi), false) = (position.get(q), outputs.contains(q.as_str())) else {
            continue;
        };
        let dq = match readers.get(q.as_str()).map(Vec::as_slice) {
            Some([only])
                if only.op_type == back_op
                    && (stored.is_none() || cast_to(only) == Some(ElemType::Float32)) =>
            {
                only
            }
            _ => continue,
        };
        let Some(&di) = dq.output.first().and_then(|d| position.get(d)) else {
            continue;
        };
        // The float tensor folds in too when the quantizer is all that reads it.
        let xi = position.get(x).copied().filter(|_| {
            !outputs.contains(x.as_str())
                && matches!(readers.get(x.as_str()).map(Vec::as_slice), Some([_]))
        });
        folds.push((xi, qi, di, stored));
    }
    if folds.is_empty() {
        return (sites, Vec::new());
    }
    let displays: HashSet<String> = sites.iter().map(|s| s.display.to_string()).collect();
    let mut sites: Vec<Option<TensorSite>> = sites.into_iter().map(Some).collect();
    let mut hidden = Vec::new();
    for (xi, qi, di, stored) in folds {
        let (Some(q_site), true) = (sites[qi].take(), sites[di].is_some()) else {
            continue;
        };
        let x_site = xi.and_then(|i| sites[i].take());
        let Some(d) = sites[di].as_mut() else {
            continue;
        };
        d.quantization = q_site.quantization.clone();
        d.stored_as = stored;
        match &x_site {
            Some(x) => {
                d.display = x.display.clone();
                d.op = x.op.clone();
                d.source = x.source.clone();
                d.folded.push(x.tensor.clone());
            }
            None => {
                // A graph input (or a tensor other layers read too): named for its values.
                let source = graph
                    .node
                    .iter()
                    .find(|n| n.output.first() == Some(&q_site.tensor))
                    .and_then(|n| n.input.first())
                    .map(|x| sanitize(x))
                    .unwrap_or_default();
                if !source.is_empty() && !displays.contains(&source) {
                    d.display = Clean::new(&source);
                }
                d.op = q_site.raw_op.clone();
            }
        }
        d.folded.push(q_site.tensor.clone());
        hidden.extend(x_site);
        hidden.push(q_site);
    }
    hidden.sort_by_key(|s| s.index);
    (sites.into_iter().flatten().collect(), hidden)
}

/// ONNX operators compute in NCHW; only a Transpose moves the channel axis, and element-wise ops
/// keep their input's layout. Tracing this is how tf2onnx graphs that stay NHWC are read right.
fn node_layout(node: &proto::NodeProto, layouts: &HashMap<&str, Layout>) -> Layout {
    let first = node
        .input
        .iter()
        .find_map(|i| layouts.get(i.as_str()).copied())
        .unwrap_or(Layout::Nchw);
    match node.op_type.as_str() {
        "Conv"
        | "ConvTranspose"
        | "MaxPool"
        | "AveragePool"
        | "GlobalAveragePool"
        | "GlobalMaxPool"
        | "BatchNormalization"
        | "InstanceNormalization"
        | "LRN"
        | "Upsample"
        | "Resize"
        | "DepthToSpace"
        | "SpaceToDepth"
        | "ConvInteger"
        | "QLinearConv"
        | "LpPool" => Layout::Nchw,
        "Transpose" => {
            let perm = node
                .attribute
                .iter()
                .find(|a| a.name == "perm")
                .map(|a| a.ints.as_slice())
                .unwrap_or(&[]);
            match perm {
                [0, 2, 3, 1] => Layout::Nhwc,
                [0, 3, 1, 2] => Layout::Nchw,
                _ => first,
            }
        }
        _ => first,
    }
}

/// ONNX's name for an engine's element-type spelling ("i64", "Int64", "f16" → "int64", …).
pub fn onnx_type_name(engine_name: &str) -> String {
    let lower = engine_name.to_lowercase();
    let name = match lower.as_str() {
        "f16" | "float16" => "float16",
        "f32" | "float32" => "float32",
        "f64" | "float64" => "float64",
        "bf16" | "bfloat16" => "bfloat16",
        "i8" | "int8" => "int8",
        "i16" | "int16" => "int16",
        "i32" | "int32" => "int32",
        "i64" | "int64" | "tdim" => "int64",
        "u8" | "uint8" => "uint8",
        "u16" | "uint16" => "uint16",
        "u32" | "uint32" => "uint32",
        "u64" | "uint64" => "uint64",
        "bool" => "bool",
        "string" => "string",
        _ => return sanitize(&lower),
    };
    name.to_string()
}

/// Human name of an element type code, for messages and tables.
pub fn elem_type_name(code: i32) -> &'static str {
    data_type::name(code)
}
