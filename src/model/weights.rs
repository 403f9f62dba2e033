//! Reading a model's constant tensors (initializers and `Constant` nodes) as float32: what class
//! evidence maps and kernel pictures are made of. Decoded on demand, one tensor at a time; the
//! rest of the model stays in its bytes.

use super::proto::{attribute_type, data_type, GraphProto, ModelProto, NodeProto, TensorProto};
use super::{Model, ModelError};
use crate::text::sanitize;
use prost::Message;
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// A constant tensor's values, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Weight {
    pub dims: Vec<usize>,
    pub values: Vec<f32>,
}

/// The model's graph with every constant tensor by name.
pub struct Constants {
    graph: GraphProto,
    /// Where each constant is: built once, looked up for every weight and every op's input.
    index: HashMap<String, Place>,
}

#[derive(Clone, Copy)]
enum Place {
    Initializer(usize),
    /// A `Constant` node's `value`.
    Node(usize),
}

impl Constants {
    pub fn of(model: &Model) -> Result<Constants, ModelError> {
        let proto = ModelProto::decode(model.bytes.clone()).map_err(|e| ModelError::NotOnnx {
            path: model.path.display().to_string(),
            reason: format!("truncated or corrupt protobuf: {e}"),
        })?;
        let graph = proto.graph.unwrap_or_default();
        let mut index: HashMap<String, Place> = graph
            .initializer
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), Place::Initializer(i)))
            .collect();
        for (i, node) in graph.node.iter().enumerate() {
            if node.op_type == "Constant" && constant_value(node).is_some() {
                if let Some(out) = node.output.first() {
                    index.insert(out.clone(), Place::Node(i));
                }
            }
        }
        Ok(Constants { graph, index })
    }

    pub fn graph(&self) -> &GraphProto {
        &self.graph
    }

    /// The constant tensor `name`: an initializer, or a `Constant` node's `value`.
    fn tensor(&self, name: &str) -> Option<&TensorProto> {
        match *self.index.get(name)? {
            Place::Initializer(i) => self.graph.initializer.get(i),
            Place::Node(i) => self.graph.node.get(i).and_then(constant_value),
        }
    }

    /// The tensor `name` as float32, or `None` when it is not a constant.
    pub fn weight(&self, model: &Model, name: &str) -> Result<Option<Weight>, ModelError> {
        let Some(tensor) = self.tensor(name) else {
            return Ok(None);
        };
        decode(tensor, &model.dir())
            .map(Some)
            .map_err(|reason| ModelError::Invalid {
                path: model.path.display().to_string(),
                reason: format!("weight '{}': {reason}", sanitize(name)),
            })
    }

    /// A constant's shape, without reading its values.
    pub fn weight_dims(&self, name: &str) -> Option<Vec<i64>> {
        self.tensor(name).map(|t| t.dims.clone())
    }

    /// An integer constant (axes, shapes), for reading ops' inputs.
    pub fn ints(&self, name: &str) -> Option<Vec<i64>> {
        let t = self.tensor(name)?;
        if t.data_type != data_type::INT64 || t.data_location != 0 {
            return None;
        }
        if !t.raw_data.is_empty() {
            return Some(
                t.raw_data
                    .chunks_exact(8)
                    .filter_map(|c| c.try_into().ok().map(i64::from_le_bytes))
                    .collect(),
            );
        }
        None
    }
}

fn constant_value(node: &NodeProto) -> Option<&TensorProto> {
    node.attribute
        .iter()
        .find(|a| a.name == "value" && a.r#type == attribute_type::TENSOR)
        .and_then(|a| a.t.as_ref())
}

/// The largest constant read this way: 1 G elements (4 GiB as float32).
const MAX_ELEMENTS: usize = 1 << 30;

fn decode(t: &TensorProto, dir: &Path) -> Result<Weight, String> {
    let dims = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("dimension {d}")))
        .collect::<Result<Vec<_>, _>>()?;
    let count = dims
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|&n| n <= MAX_ELEMENTS)
        .ok_or("too many elements")?;
    let width = match t.data_type {
        data_type::FLOAT => 4,
        data_type::DOUBLE => 8,
        data_type::FLOAT16 => 2,
        other => return Err(format!("{} weights are not read", data_type::name(other))),
    };
    let external;
    let raw: &[u8] = if t.data_location == super::proto::DATA_LOCATION_EXTERNAL {
        external = read_external(t, dir, count * width)?;
        &external
    } else {
        &t.raw_data
    };
    let values: Vec<f32> = if !raw.is_empty() {
        if raw.len() != count * width {
            return Err(format!(
                "holds {} bytes for {count} values of {width} bytes",
                raw.len()
            ));
        }
        match t.data_type {
            data_type::FLOAT => raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            data_type::DOUBLE => raw
                .chunks_exact(8)
                .map(|c| {
                    f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32
                })
                .collect(),
            _ => raw
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
        }
    } else {
        match t.data_type {
            data_type::FLOAT => t.float_data.clone(),
            data_type::DOUBLE => t.double_data.iter().map(|&v| v as f32).collect(),
            _ => t
                .int32_data
                .iter()
                .map(|&bits| half::f16::from_bits(bits as u16).to_f32())
                .collect(),
        }
    };
    if values.len() != count {
        return Err(format!(
            "holds {} values for a shape of {count}",
            values.len()
        ));
    }
    Ok(Weight { dims, values })
}

/// External data, confined to the model's folder like everything else a model names.
fn read_external(t: &TensorProto, dir: &Path, length: usize) -> Result<Vec<u8>, String> {
    let field = |key: &str| {
        t.external_data
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.value.as_str())
    };
    let location = field("location").ok_or("external data without a location")?;
    let offset: u64 = field("offset")
        .map(|v| v.parse().map_err(|_| "a bad external-data offset"))
        .transpose()?
        .unwrap_or(0);
    let path =
        crate::files::inside_folder(dir, location, "external data").map_err(|e| e.to_string())?;
    let (mut file, size) = crate::files::open_regular(&path).map_err(|e| e.to_string())?;
    if offset.saturating_add(length as u64) > size {
        return Err(format!(
            "{} is {size} bytes, too short for {length} bytes at offset {offset}",
            sanitize(location)
        ));
    }
    let mut buf = vec![0u8; length];
    file.seek(SeekFrom::Start(offset))
        .and_then(|_| file.read_exact(&mut buf))
        .map_err(|e| format!("{}: {e}", sanitize(location)))?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::builder::{tensor_f32, GraphBuilder};
    use crate::model::proto::data_type::FLOAT;

    #[test]
    fn weights_decode_from_raw_float_data_and_float16() {
        let mut half_bits = TensorProto {
            dims: vec![2],
            data_type: data_type::FLOAT16,
            name: "h".into(),
            ..Default::default()
        };
        half_bits.int32_data = vec![
            half::f16::from_f32(1.5).to_bits() as i32,
            half::f16::from_f32(-2.0).to_bits() as i32,
        ];
        let typed = TensorProto {
            dims: vec![3],
            data_type: FLOAT,
            name: "f".into(),
            float_data: vec![0.25, 0.5, 0.75],
            ..Default::default()
        };
        let mut g = GraphBuilder::new("w", 13);
        g.input("x", FLOAT, &[3.into()])
            .initializer(tensor_f32("r", &[2, 2], &[1.0, 2.0, 3.0, 4.0]))
            .initializer(typed)
            .initializer(half_bits)
            .node("Add", "add", &["x", "f"], &["y"], vec![])
            .output("y", FLOAT, &[3.into()]);
        let bytes = g.finish_bytes("test");
        let model = Model::from_bytes(Path::new("w.onnx"), bytes.into()).unwrap();
        let constants = Constants::of(&model).unwrap();
        let r = constants.weight(&model, "r").unwrap().unwrap();
        assert_eq!((r.dims, r.values), (vec![2, 2], vec![1.0, 2.0, 3.0, 4.0]));
        let f = constants.weight(&model, "f").unwrap().unwrap();
        assert_eq!(f.values, vec![0.25, 0.5, 0.75]);
        let h = constants.weight(&model, "h").unwrap().unwrap();
        assert_eq!(h.values, vec![1.5, -2.0]);
        assert!(constants.weight(&model, "x").unwrap().is_none());
    }

    #[test]
    fn a_weight_whose_bytes_do_not_match_its_shape_is_an_error() {
        let mut g = GraphBuilder::new("w", 13);
        let mut bad = tensor_f32("b", &[4], &[1.0, 2.0]);
        bad.dims = vec![4];
        g.input("x", FLOAT, &[4.into()])
            .initializer(bad)
            .node("Add", "add", &["x", "b"], &["y"], vec![])
            .output("y", FLOAT, &[4.into()]);
        let model = Model::from_bytes(Path::new("w.onnx"), g.finish_bytes("t").into()).unwrap();
        let err = Constants::of(&model)
            .unwrap()
            .weight(&model, "b")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("weight 'b'") && err.contains("8 bytes"),
            "{err}"
        );
    }
}
