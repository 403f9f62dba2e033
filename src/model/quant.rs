//! Where a quantized tensor's scale and zero point come from, read off the graph: the
//! QuantizeLinear that made it, the DequantizeLinear that reads it, or the output scale and
//! zero point of the QLinear operator that computed it (QOperator models); carried through
//! operators that only move integers around (MaxPool, Reshape, Transpose…). A
//! DynamicQuantizeLinear's scale is an output of the graph itself: the engine is asked for it.

use super::proto::{attribute_type, data_type, GraphProto, NodeProto, TensorProto};
use crate::precision::{ElemType, Quantization};
use std::collections::HashMap;

/// How a tensor's integers become real values.
#[derive(Clone, Debug, PartialEq)]
pub enum QuantSource {
    /// Constant scale and zero point.
    Static(Quantization),
    /// Scale (and zero point) computed at run time, as tensors of the graph.
    Dynamic {
        elem: ElemType,
        scale: String,
        zero_point: Option<String>,
    },
}

/// Where an operator's output scale and zero point are among its inputs.
fn output_params(node: &NodeProto) -> Option<(usize, usize)> {
    Some(match node.op_type.as_str() {
        "QuantizeLinear" => (1, 2),
        // x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, [B]
        "QLinearConv" | "QLinearMatMul" | "QLinearConvTranspose" => (6, 7),
        // A, A_scale, A_zp, B, B_scale, B_zp, C_scale, C_zp (com.microsoft)
        "QLinearAdd" | "QLinearMul" => (6, 7),
        // X, X_scale, X_zp, Y_scale, Y_zp
        "QLinearGlobalAveragePool"
        | "QLinearAveragePool"
        | "QLinearSigmoid"
        | "QLinearLeakyRelu"
        | "QLinearSoftmax"
        | "QLinearReduceMean" => (3, 4),
        // Y_scale, Y_zp, then (X, scale, zp) per input
        "QLinearConcat" => (0, 1),
        // A, a_scale, a_zp, B, b_scale, b_zp, C, y_scale, y_zp (a float output without y_scale)
        "QGemm" => (7, 8),
        _ => return None,
    })
}

/// Operators whose integer output holds its input's values moved around or selected, so it
/// keeps the input's scale and zero point.
fn keeps_input_params(op: &str) -> bool {
    matches!(
        op,
        "MaxPool"
            | "Reshape"
            | "Transpose"
            | "Flatten"
            | "Squeeze"
            | "Unsqueeze"
            | "Slice"
            | "Identity"
            | "Gather"
            | "Split"
            | "DepthToSpace"
            | "SpaceToDepth"
            | "Resize"
            | "Pad"
            | "Expand"
            | "Tile"
            | "GlobalMaxPool"
    )
}

/// Constant tensors of the graph (initializers and `Constant` nodes) by name.
struct Scalars<'g> {
    tensors: HashMap<&'g str, &'g TensorProto>,
}

impl<'g> Scalars<'g> {
    fn of(graph: &'g GraphProto) -> Scalars<'g> {
        let mut tensors: HashMap<&str, &TensorProto> = graph
            .initializer
            .iter()
            .map(|t| (t.name.as_str(), t))
            .collect();
        for node in graph.node.iter().filter(|n| n.op_type == "Constant") {
            let value = node
                .attribute
                .iter()
                .find(|a| a.name == "value" && a.r#type == attribute_type::TENSOR)
                .and_then(|a| a.t.as_ref());
            if let (Some(out), Some(t)) = (node.output.first(), value) {
                tensors.insert(out.as_str(), t);
            }
        }
        Scalars { tensors }
    }

    fn floats(&self, name: &str) -> Option<Vec<f32>> {
        let t = self.tensors.get(name)?;
        if t.data_location != 0 {
            return None;
        }
        let raw = &t.raw_data;
        Some(match t.data_type {
            data_type::FLOAT if !raw.is_empty() => raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            data_type::FLOAT => t.float_data.clone(),
            data_type::FLOAT16 if !raw.is_empty() => raw
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            data_type::FLOAT16 => t
                .int32_data
                .iter()
                .map(|&b| half::f16::from_bits(b as u16).to_f32())
                .collect(),
            data_type::BFLOAT16 if !raw.is_empty() => raw
                .chunks_exact(2)
                .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            _ => return None,
        })
    }

    /// A zero point's values and the integer type it gives the tensor.
    fn zero_points(&self, name: &str) -> Option<(ElemType, Vec<i32>)> {
        let t = self.tensors.get(name)?;
        let elem = ElemType::from_onnx(t.data_type).filter(|e| e.is_integer())?;
        if t.data_location != 0 {
            return None;
        }
        let raw = &t.raw_data;
        let values = if raw.is_empty() {
            t.int32_data.clone()
        } else {
            match elem {
                ElemType::Uint8 => raw.iter().map(|&b| b as i32).collect(),
                ElemType::Int8 => raw.iter().map(|&b| b as i8 as i32).collect(),
                ElemType::Uint16 => raw
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]) as i32)
                    .collect(),
                _ => raw
                    .chunks_exact(2)
                    .map(|c| i16::from_le_bytes([c[0], c[1]]) as i32)
                    .collect(),
            }
        };
        Some((elem, values))
    }
}

fn int_attr(node: &NodeProto, name: &str) -> Option<i64> {
    node.attribute
        .iter()
        .find(|a| a.name == name && a.r#type == attribute_type::INT)
        .map(|a| a.i)
}

/// The quantization given by a scale and a zero point named among a node's inputs.
fn quantization(
    scalars: &Scalars<'_>,
    node: &NodeProto,
    (scale_at, zp_at): (usize, usize),
    rank: Option<usize>,
) -> Option<QuantSource> {
    let scale_name = node.input.get(scale_at).filter(|s| !s.is_empty())?;
    let zp_name = node.input.get(zp_at).filter(|s| !s.is_empty());
    // QuantizeLinear's output type without a zero point: output_dtype (opset 21), else uint8.
    let default_elem = int_attr(node, "output_dtype")
        .and_then(|c| ElemType::from_onnx(c as i32))
        .unwrap_or(ElemType::Uint8);
    let scale = scalars.floats(scale_name)?;
    let (elem, zero_point) = match zp_name {
        Some(z) => scalars.zero_points(z)?,
        None => (default_elem, vec![0; scale.len()]),
    };
    let zero_point = if zero_point.len() == 1 && scale.len() > 1 {
        vec![zero_point[0]; scale.len()]
    } else {
        zero_point
    };
    let axis = (scale.len() > 1).then(|| {
        let axis = int_attr(node, "axis").unwrap_or(1);
        match (axis, rank) {
            (a, Some(r)) if a < 0 => (r as i64 + a).max(0) as usize,
            (a, _) => a.max(0) as usize,
        }
    });
    let q = Quantization {
        elem,
        scale,
        zero_point,
        axis,
    };
    q.is_valid().then_some(QuantSource::Static(q))
}

/// Every integer activation whose scale the graph gives, by tensor name. `rank` tells a
/// tensor's declared rank (for negative axes).
pub fn find(
    graph: &GraphProto,
    rank: &dyn Fn(&str) -> Option<usize>,
) -> HashMap<String, QuantSource> {
    let scalars = Scalars::of(graph);
    let mut found: HashMap<String, QuantSource> = HashMap::new();
    // What reads a tensor: a DequantizeLinear tells the scale of a tensor nothing else
    // describes (a quantized graph input, or one produced by an unknown op).
    for node in &graph.node {
        match node.op_type.as_str() {
            "DynamicQuantizeLinear" => {
                if let (Some(y), Some(scale)) = (node.output.first(), node.output.get(1)) {
                    found.insert(
                        y.clone(),
                        QuantSource::Dynamic {
                            elem: ElemType::Uint8,
                            scale: scale.clone(),
                            zero_point: node.output.get(2).filter(|z| !z.is_empty()).cloned(),
                        },
                    );
                }
            }
            op if keeps_input_params(op) => {
                if let (Some(x), Some(y)) = (node.input.first(), node.output.first()) {
                    if let Some(q) = found.get(x).cloned() {
                        found.insert(y.clone(), q);
                    }
                }
            }
            _ => {
                if let (Some(at), Some(y)) = (output_params(node), node.output.first()) {
                    if let Some(q) = quantization(&scalars, node, at, rank(y)) {
                        found.insert(y.clone(), q);
                    }
                }
            }
        }
    }
    for node in graph
        .node
        .iter()
        .filter(|n| n.op_type == "DequantizeLinear")
    {
        let Some(x) = node.input.first() else {
            continue;
        };
        if !found.contains_key(x) {
            if let Some(q) = quantization(&scalars, node, (1, 2), rank(x)) {
                found.insert(x.clone(), q);
            }
        }
    }
    found
}
