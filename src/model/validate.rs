//! Checks a graph's structure before an engine sees it. Engines trust what a model declares:
//! tract panics on a stride of 0 and spins on a padding of 2⁴⁰. A downloaded model is checked
//! here, and what is wrong is said naming the node.

use super::proto::{data_type, AttributeProto, GraphProto, NodeProto};
use crate::text::sanitize;
use std::collections::HashSet;

/// Larger kernels, strides, dilations or paddings than any real network uses.
const MAX_WINDOW: i64 = 1 << 16;

/// What is wrong, for `ModelError::NotOnnx`'s reason.
pub fn check(graph: &GraphProto) -> Result<(), String> {
    for t in &graph.initializer {
        if t.data_type == data_type::STRING {
            return Err(format!(
                "weight '{}' is a string tensor; featscope runs numeric CNNs",
                sanitize(&t.name)
            ));
        }
        if let Some(d) = t.dims.iter().find(|&&d| d < 0) {
            return Err(format!(
                "weight '{}' has a negative dimension ({d})",
                sanitize(&t.name)
            ));
        }
    }
    for node in &graph.node {
        check_node(node).map_err(|problem| {
            format!(
                "node '{}' ({}): {problem}",
                sanitize(&node.name),
                sanitize(&node.op_type)
            )
        })?;
    }
    let mut produced: HashSet<&str> = graph.input.iter().map(|i| i.name.as_str()).collect();
    produced.extend(graph.initializer.iter().map(|t| t.name.as_str()));
    produced.extend(
        graph
            .node
            .iter()
            .flat_map(|n| n.output.iter().map(String::as_str)),
    );
    if let Some(o) = graph
        .output
        .iter()
        .find(|o| !produced.contains(o.name.as_str()))
    {
        return Err(format!(
            "graph output '{}' names no tensor of the graph",
            sanitize(&o.name)
        ));
    }
    Ok(())
}

fn ints<'a>(node: &'a NodeProto, name: &str) -> Option<&'a [i64]> {
    node.attribute
        .iter()
        .find(|a: &&AttributeProto| a.name == name)
        .map(|a| a.ints.as_slice())
}

fn int(node: &NodeProto, name: &str) -> Option<i64> {
    node.attribute.iter().find(|a| a.name == name).map(|a| a.i)
}

fn in_range(name: &str, values: &[i64], low: i64) -> Result<(), String> {
    match values.iter().find(|&&v| !(low..=MAX_WINDOW).contains(&v)) {
        Some(v) => Err(format!("{name} {v} is outside {low}..={MAX_WINDOW}")),
        None => Ok(()),
    }
}

fn check_node(node: &NodeProto) -> Result<(), String> {
    let windowed = matches!(
        node.op_type.as_str(),
        "Conv"
            | "ConvTranspose"
            | "ConvInteger"
            | "QLinearConv"
            | "MaxPool"
            | "AveragePool"
            | "LpPool"
            | "MaxUnpool"
    );
    if windowed {
        let kernel = ints(node, "kernel_shape");
        if let Some(k) = kernel {
            in_range("kernel_shape", k, 1)?;
        }
        if let Some(s) = ints(node, "strides") {
            in_range("strides", s, 1)?;
        }
        if let Some(d) = ints(node, "dilations") {
            in_range("dilations", d, 1)?;
        }
        if let Some(p) = ints(node, "pads") {
            in_range("pads", p, 0)?;
            let spatial = kernel.map(<[i64]>::len).unwrap_or(p.len() / 2);
            if p.len() != 2 * spatial || p.is_empty() {
                return Err(format!(
                    "pads has {} values; {spatial} spatial axes need {}",
                    p.len(),
                    2 * spatial
                ));
            }
        }
        if let Some(k) = kernel {
            for (name, values) in [
                ("strides", ints(node, "strides")),
                ("dilations", ints(node, "dilations")),
            ] {
                if values.is_some_and(|v| v.len() != k.len()) {
                    return Err(format!(
                        "{name} has {} values for a {}-axis kernel",
                        values.map(<[i64]>::len).unwrap_or(0),
                        k.len()
                    ));
                }
            }
        }
        if let Some(g) = int(node, "group") {
            if !(1..=MAX_WINDOW).contains(&g) {
                return Err(format!("group {g} is outside 1..={MAX_WINDOW}"));
            }
        }
    }
    if node.op_type == "Pad" {
        // Opsets before 11 give the pads as an attribute.
        if let Some(p) = ints(node, "pads") {
            if let Some(v) = p.iter().find(|v| v.abs() > MAX_WINDOW) {
                return Err(format!("pads {v} is beyond ±{MAX_WINDOW}"));
            }
        }
    }
    if matches!(node.op_type.as_str(), "Upsample" | "Resize") {
        if let Some(a) = node.attribute.iter().find(|a| a.name == "scales") {
            if let Some(s) = a
                .floats
                .iter()
                .find(|s| !(s.is_finite() && **s > 0.0 && **s <= 1024.0))
            {
                return Err(format!("scales {s} is outside (0, 1024]"));
            }
        }
    }
    Ok(())
}
