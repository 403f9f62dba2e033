//! What the weights around a layer mean: a classifier's linear head after global average pooling
//! (for exact class activation maps) and a convolution's kernels (for filter pictures).

use super::proto::{attribute_type, NodeProto};
use super::weights::{Constants, Weight};
use super::{Layout, Model, ModelError};
use std::collections::HashMap;

/// `logits = alpha · W · mean_{y,x}(features) + beta · b`, read from the model: the exact CAM of
/// class k is `Σ_c weights[k][c] · features[c]`, whose mean plus `bias[k]` is logit k.
#[derive(Clone, Debug, PartialEq)]
pub struct LinearHead {
    /// The feature map that is pooled (a layer's tensor).
    pub features: String,
    /// The tensor holding the class scores (the linear layer's output, before any softmax).
    pub logits: String,
    /// The pooling op as the model has it (GlobalAveragePool, ReduceMean, AveragePool).
    pub pooling: String,
    pub channels: usize,
    pub classes: usize,
    /// `classes × channels`, row-major, alpha folded in.
    pub weights: Vec<f32>,
    /// One per class, beta folded in (zeros when the layer has no bias).
    pub bias: Vec<f32>,
}

impl LinearHead {
    pub fn row(&self, class: usize) -> &[f32] {
        &self.weights[class * self.channels..(class + 1) * self.channels]
    }
}

/// Ops between pooling and the linear layer that only change the shape.
const SHAPE_ONLY: [&str; 5] = ["Flatten", "Reshape", "Squeeze", "Identity", "Dropout"];

fn attr_int(node: &NodeProto, name: &str) -> Option<i64> {
    node.attribute
        .iter()
        .find(|a| a.name == name && a.r#type == attribute_type::INT)
        .map(|a| a.i)
}

fn attr_float(node: &NodeProto, name: &str) -> Option<f32> {
    node.attribute
        .iter()
        .find(|a| a.name == name && a.r#type == attribute_type::FLOAT)
        .map(|a| a.f)
}

fn attr_ints<'a>(node: &'a NodeProto, name: &str) -> Option<&'a [i64]> {
    node.attribute
        .iter()
        .find(|a| a.name == name && a.r#type == attribute_type::INTS)
        .map(|a| a.ints.as_slice())
}

/// Whether `node` averages `input` over all of its spatial positions.
fn is_global_average(node: &NodeProto, constants: &Constants, model: &Model) -> bool {
    let Some(input) = node.input.first() else {
        return false;
    };
    let Some(site) = model.site(input) else {
        return false;
    };
    let spatial: [i64; 2] = match site.layout {
        Layout::Nchw => [2, 3],
        Layout::Nhwc => [1, 2],
    };
    match node.op_type.as_str() {
        "GlobalAveragePool" => site.layout == Layout::Nchw,
        "ReduceMean" => {
            // Axes: an attribute up to opset 17, a constant input from 18 on.
            let axes = attr_ints(node, "axes")
                .map(<[i64]>::to_vec)
                .or_else(|| node.input.get(1).and_then(|a| constants.ints(a)));
            let Some(mut axes) = axes else {
                return false;
            };
            for a in &mut axes {
                if *a < 0 {
                    *a += 4;
                }
            }
            axes.sort_unstable();
            axes == spatial
        }
        "AveragePool" => {
            // Only a kernel as large as the declared map is a global average.
            let dims = site.declared.dims.as_ref().map(|d| {
                spatial
                    .iter()
                    .map(|&a| d.get(a as usize).and_then(|d| d.fixed()))
                    .collect::<Option<Vec<i64>>>()
            });
            let kernel = attr_ints(node, "kernel_shape");
            let no_pads = attr_ints(node, "pads").is_none_or(|p| p.iter().all(|&v| v == 0));
            site.layout == Layout::Nchw
                && no_pads
                && matches!((dims, kernel), (Some(Some(d)), Some(k)) if d == k)
        }
        _ => false,
    }
}

/// The classifier's head when it is global average pooling followed by one linear layer (Gemm,
/// or MatMul with an optional constant Add); the last such head in graph order.
pub fn linear_head(model: &Model) -> Result<Option<LinearHead>, ModelError> {
    let constants = Constants::of(model)?;
    let graph = constants.graph();
    let producer: HashMap<&str, &NodeProto> = graph
        .node
        .iter()
        .flat_map(|n| n.output.iter().map(move |o| (o.as_str(), n)))
        .collect();
    let consumers = |tensor: &str| -> Vec<&NodeProto> {
        graph
            .node
            .iter()
            .filter(|n| n.input.iter().any(|i| i == tensor))
            .collect()
    };
    for node in graph.node.iter().rev() {
        let (data, weight_name, transposed) = match node.op_type.as_str() {
            "Gemm" if attr_int(node, "transA").unwrap_or(0) == 0 => (
                node.input.first(),
                node.input.get(1),
                attr_int(node, "transB").unwrap_or(0) != 0,
            ),
            "MatMul" => (node.input.first(), node.input.get(1), false),
            _ => continue,
        };
        let (Some(data), Some(weight_name)) = (data, weight_name) else {
            continue;
        };
        // Back from the linear layer through shape-only ops to a global average.
        let mut tensor = data.as_str();
        let pool = loop {
            let Some(n) = producer.get(tensor) else {
                break None;
            };
            if SHAPE_ONLY.contains(&n.op_type.as_str()) {
                match n.input.first() {
                    Some(i) => tensor = i,
                    None => break None,
                }
            } else {
                break Some(*n);
            }
        };
        let Some(pool) = pool.filter(|p| is_global_average(p, &constants, model)) else {
            continue;
        };
        let Some(features) = pool.input.first() else {
            continue;
        };
        let Some(Weight { dims, values }) = constants.weight(model, weight_name)? else {
            continue;
        };
        let [rows, cols] = dims[..] else {
            continue;
        };
        // As classes × channels.
        let (classes, channels, weights) = if transposed {
            (rows, cols, values)
        } else {
            let mut t = vec![0.0f32; values.len()];
            for r in 0..rows {
                for c in 0..cols {
                    t[c * rows + r] = values[r * cols + c];
                }
            }
            (cols, rows, t)
        };
        let (mut weights, mut bias, mut logits) = (weights, vec![0.0f32; classes], None);
        if node.op_type == "Gemm" {
            let alpha = attr_float(node, "alpha").unwrap_or(1.0);
            let beta = attr_float(node, "beta").unwrap_or(1.0);
            weights.iter_mut().for_each(|w| *w *= alpha);
            if let Some(c) = node.input.get(2).filter(|c| !c.is_empty()) {
                match constants.weight(model, c)? {
                    Some(b) if b.values.len() == classes => {
                        bias = b.values.iter().map(|v| v * beta).collect();
                    }
                    Some(b) if b.values.len() == 1 => bias = vec![b.values[0] * beta; classes],
                    _ => continue,
                }
            }
            logits = node.output.first().cloned();
        } else if let Some(out) = node.output.first() {
            logits = Some(out.clone());
            // MatMul + Add(constant bias) is how some exporters write a dense layer.
            if let [add] = consumers(out)[..] {
                let other = add.input.iter().find(|i| *i != out);
                if add.op_type == "Add" {
                    if let Some(Weight { values, .. }) = match other {
                        Some(o) => constants.weight(model, o)?,
                        None => None,
                    } {
                        if values.len() == classes {
                            bias = values;
                            logits = add.output.first().cloned();
                        }
                    }
                }
            }
        }
        let Some(logits) = logits.filter(|l| model.site(l).is_some()) else {
            continue;
        };
        return Ok(Some(LinearHead {
            features: features.clone(),
            logits,
            pooling: pool.op_type.clone(),
            channels,
            classes,
            weights,
            bias,
        }));
    }
    Ok(None)
}

/// A convolution's kernels, `out × in/group × kh × kw`, when the layer's tensor is the output of
/// a Conv whose weights are constant.
pub fn conv_kernels(
    constants: &Constants,
    model: &Model,
    tensor: &str,
) -> Result<Option<Weight>, ModelError> {
    let Some(node) = constants
        .graph()
        .node
        .iter()
        .find(|n| n.output.iter().any(|o| o == tensor))
    else {
        return Ok(None);
    };
    if node.op_type != "Conv" {
        return Ok(None);
    }
    let Some(name) = node.input.get(1) else {
        return Ok(None);
    };
    match constants.weight(model, name)? {
        Some(w) if w.dims.len() == 4 => Ok(Some(w)),
        _ => Ok(None),
    }
}

/// How much of the input one position of a feature map sees, per axis (height, width): the
/// receptive field's side in input pixels, and the step in input pixels between neighbouring
/// positions. `None` for a tensor that sees the whole input (after a global pooling or a
/// fully connected layer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReceptiveField {
    pub size: [u64; 2],
    pub step: [u64; 2],
}

/// Every image-dependent tensor's receptive field, from the kernels, strides and dilations of
/// the convolutions and poolings between it and the input (the largest over a node's inputs;
/// ops that mix positions otherwise make it the whole input).
pub fn receptive_fields(
    model: &Model,
) -> Result<HashMap<String, Option<ReceptiveField>>, ModelError> {
    let constants = Constants::of(model)?;
    let mut fields: HashMap<String, Option<ReceptiveField>> = model
        .inputs
        .iter()
        .map(|i| {
            (
                i.name.clone(),
                Some(ReceptiveField {
                    size: [1, 1],
                    step: [1, 1],
                }),
            )
        })
        .collect();
    // Ops that keep every position where it is (elementwise, per-channel, shape of channels).
    const LOCAL: [&str; 22] = [
        "Relu",
        "Clip",
        "Sigmoid",
        "HardSigmoid",
        "HardSwish",
        "Tanh",
        "LeakyRelu",
        "PRelu",
        "Elu",
        "Selu",
        "Add",
        "Sub",
        "Mul",
        "Div",
        "BatchNormalization",
        "Concat",
        "Identity",
        "Dropout",
        "Cast",
        "Softplus",
        "Mish",
        "Transpose",
    ];
    for node in &constants.graph().node {
        let inputs: Vec<Option<ReceptiveField>> = node
            .input
            .iter()
            .filter_map(|i| fields.get(i).copied())
            .collect();
        if inputs.is_empty() {
            continue;
        }
        let widest = inputs.iter().try_fold(
            ReceptiveField {
                size: [1, 1],
                step: [1, 1],
            },
            |acc, f| {
                f.map(|f| ReceptiveField {
                    size: [acc.size[0].max(f.size[0]), acc.size[1].max(f.size[1])],
                    step: [acc.step[0].max(f.step[0]), acc.step[1].max(f.step[1])],
                })
            },
        );
        let out = match (node.op_type.as_str(), widest) {
            (_, None) => None,
            ("Conv" | "MaxPool" | "AveragePool" | "LpPool", Some(f)) => {
                let kernel = attr_ints(node, "kernel_shape")
                    .map(<[i64]>::to_vec)
                    .or_else(|| {
                        // A Conv may leave the kernel to its weight's shape.
                        let w = node.input.get(1)?;
                        let dims = constants.weight_dims(w)?;
                        (dims.len() == 4).then(|| dims[2..].to_vec())
                    });
                let strides = attr_ints(node, "strides").map(<[i64]>::to_vec);
                let dilations = attr_ints(node, "dilations").map(<[i64]>::to_vec);
                kernel.filter(|k| k.len() == 2).map(|k| {
                    let at = |v: &Option<Vec<i64>>, i: usize| {
                        v.as_ref()
                            .and_then(|v| v.get(i))
                            .copied()
                            .unwrap_or(1)
                            .max(1) as u64
                    };
                    let mut next = f;
                    for (axis, &side) in k.iter().enumerate() {
                        let span = at(&dilations, axis) * (side.max(1) as u64 - 1);
                        next.size[axis] =
                            f.size[axis].saturating_add(span.saturating_mul(f.step[axis]));
                        next.step[axis] = f.step[axis].saturating_mul(at(&strides, axis));
                    }
                    next
                })
            }
            (op, Some(f)) if LOCAL.contains(&op) => Some(f),
            _ => None,
        };
        for o in &node.output {
            fields.insert(o.clone(), out);
        }
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::builder::{attr_ints, tensor_f32, Dim, GraphBuilder};
    use crate::model::proto::data_type::FLOAT;
    use std::path::Path;

    #[test]
    fn receptive_fields_grow_with_kernels_strides_and_dilations() {
        let d = |v: &[i64]| v.iter().map(|&x| Dim::Fixed(x)).collect::<Vec<_>>();
        let mut g = GraphBuilder::new("rf", 13);
        g.input("x", FLOAT, &d(&[1, 1, 32, 32]))
            .initializer(tensor_f32("w1", &[1, 1, 3, 3], &[0.1; 9]))
            .initializer(tensor_f32("w2", &[1, 1, 3, 3], &[0.1; 9]))
            .node(
                "Conv",
                "c1",
                &["x", "w1"],
                &["c1"],
                vec![attr_ints("strides", &[2, 2])],
            )
            .node("Relu", "r1", &["c1"], &["r1"], vec![])
            .node(
                "Conv",
                "c2",
                &["r1", "w2"],
                &["c2"],
                vec![attr_ints("dilations", &[2, 1])],
            )
            .node(
                "MaxPool",
                "p",
                &["c2"],
                &["p"],
                vec![
                    attr_ints("kernel_shape", &[2, 2]),
                    attr_ints("strides", &[2, 2]),
                ],
            )
            .node("GlobalAveragePool", "g", &["p"], &["g"], vec![])
            .output("g", FLOAT, &d(&[1, 1, 1, 1]));
        let model = Model::from_bytes(Path::new("rf.onnx"), g.finish_bytes("t").into()).unwrap();
        let f = receptive_fields(&model).unwrap();
        let rf = |t: &str| f[t].map(|r| (r.size, r.step));
        assert_eq!(rf("c1"), Some(([3, 3], [2, 2])));
        assert_eq!(rf("r1"), rf("c1"));
        // Dilation 2 on the height: a 5-row kernel over a step of 2.
        assert_eq!(rf("c2"), Some(([3 + 4 * 2, 3 + 2 * 2], [2, 2])));
        assert_eq!(rf("p"), Some(([11 + 2, 7 + 2], [4, 4])));
        assert_eq!(rf("g"), None, "a global pooling sees everything");
    }
}
