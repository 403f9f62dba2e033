//! tract-onnx, the pure-Rust engine: no library to install, runs on the CPU.

use super::ort_engine::integers;
use super::{
    ElemType, Engine, EngineBuffer, EngineError, EngineOptions, InputTensor, RawTensor, TensorData,
    Values,
};
use crate::model::Model;
use std::collections::HashMap;
use std::sync::Arc;
use tract_onnx::prelude::*;

type Plan = TypedRunnableModel;

/// A float output in the tensor tract computed it into.
struct TractOutput(Tensor);

impl EngineBuffer for TractOutput {
    fn values(&self) -> &[f32] {
        // Checked to be a float tensor when it was made.
        self.0
            .as_plain_ram()
            .and_then(|plain| plain.as_slice::<f32>().ok())
            .unwrap_or(&[])
    }
}

pub struct TractEngine {
    model: InferenceModel,
    /// Position of each requested tensor among the model's outputs.
    output_positions: Vec<usize>,
    outputs: Vec<String>,
    /// Optimised plans per input shape: dynamic-size models are re-planned per image size.
    plans: HashMap<Vec<usize>, Arc<Plan>>,
    /// The type the model's input is declared in, which tract must be told.
    input_type: DatumType,
    /// What its label says of a deployed model: tract's own arithmetic.
    arithmetic: &'static str,
    path: String,
}

fn load_err(path: &str, e: impl std::fmt::Display) -> EngineError {
    EngineError::Load {
        engine: "tract",
        model: path.to_string(),
        reason: crate::text::sanitize(&format!("{e:#}")),
    }
}

impl TractEngine {
    pub fn open(
        model: &Model,
        outputs: &[String],
        opts: &EngineOptions,
    ) -> Result<TractEngine, EngineError> {
        let path = model.path.display().to_string();
        let threads = opts.threads.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        });
        // tract's executor is process-wide; a one-thread run keeps its default single thread.
        if threads > 1 {
            multithread::set_default_executor(multithread::Executor::multithread(threads));
        }
        let bytes = model.with_outputs(outputs);
        let onnx = super::tract_ops::onnx();
        let proto = onnx
            .proto_model_for_read(&mut bytes.as_slice())
            .map_err(|e| load_err(&path, e))?;
        let dir = model.dir();
        let parsed = onnx
            .parse(&proto, dir.to_str())
            .map_err(|e| load_err(&path, unimplemented_hint(&e)))?;
        if !parsed.unresolved_inputs.is_empty() {
            return Err(load_err(
                &path,
                format!("unresolved inputs {:?}", parsed.unresolved_inputs),
            ));
        }
        // tract keeps the ONNX output order of the model `with_outputs` made.
        let all = model.outputs_with(outputs);
        let output_positions = outputs
            .iter()
            .map(|o| all.iter().position(|a| a == o).unwrap_or(usize::MAX))
            .collect();
        Ok(TractEngine {
            arithmetic: if model.is_qdq() {
                " · QDQ in tract's arithmetic"
            } else if model.has_float16() {
                " · float16 ops in float16"
            } else {
                ""
            },
            model: parsed.model,
            output_positions,
            outputs: outputs.to_vec(),
            plans: HashMap::new(),
            input_type: datum_type(input_elem(model))
                .ok_or_else(|| load_err(&path, "tract has no bfloat16"))?,
            path,
        })
    }

    fn plan_for(&mut self, shape: &[usize]) -> Result<Arc<Plan>, EngineError> {
        if let Some(plan) = self.plans.get(shape) {
            return Ok(plan.clone());
        }
        let path = self.path.clone();
        let plan = self
            .model
            .clone()
            .with_input_fact(0, InferenceFact::dt_shape(self.input_type, shape))
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(|e| load_err(&path, unimplemented_hint(&e)))?;
        self.plans.insert(shape.to_vec(), plan.clone());
        Ok(plan)
    }
}

/// Bytes of the tensors `outlets` of a typed model hold: every shape is known once the input's
/// is (`None` when one is not).
fn outlets_bytes(model: &TypedModel, outlets: &[OutletId]) -> Option<u64> {
    let mut total: u64 = 0;
    for &outlet in outlets {
        let fact = model.outlet_fact(outlet).ok()?;
        let elements = fact
            .shape
            .as_concrete()?
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))?;
        let size = fact.datum_type.size_of() as u64;
        total = total.checked_add(elements.checked_mul(size)?)?;
    }
    Some(total)
}

/// What running `model` for `outputs` on an input of `shape` would return, in bytes, from
/// tract's shape inference alone (nothing is computed): for the other engine, which cannot
/// say before it runs.
pub fn estimate_output_bytes(
    model: &Model,
    outputs: &[String],
    shape: &[usize],
) -> Result<Option<u64>, EngineError> {
    let path = model.path.display().to_string();
    let bytes = model.with_outputs(outputs);
    let onnx = super::tract_ops::onnx();
    let proto = onnx
        .proto_model_for_read(&mut bytes.as_slice())
        .map_err(|e| load_err(&path, e))?;
    let dir = model.dir();
    let parsed = onnx
        .parse(&proto, dir.to_str())
        .map_err(|e| load_err(&path, e))?;
    let dt = datum_type(input_elem(model)).unwrap_or(DatumType::F32);
    let typed = parsed
        .model
        .with_input_fact(0, InferenceFact::dt_shape(dt, shape))
        .and_then(|m| m.into_typed())
        .map_err(|e| load_err(&path, e))?;
    let all = model.outputs_with(outputs);
    let wanted: Vec<OutletId> = outputs
        .iter()
        .filter_map(|o| all.iter().position(|a| a == o))
        .filter_map(|p| typed.outputs.get(p).copied())
        .collect();
    Ok(outlets_bytes(&typed, &wanted))
}

impl Engine for TractEngine {
    fn label(&self) -> String {
        format!(
            "tract {} (cpu){}",
            env!("FEATSCOPE_TRACT_VERSION"),
            self.arithmetic
        )
    }

    fn output_bytes(&mut self, shape: &[usize]) -> Result<Option<u64>, EngineError> {
        let plan = self.plan_for(shape)?;
        let model = plan.model();
        let outlets: Vec<OutletId> = self
            .output_positions
            .iter()
            .filter_map(|&p| model.outputs.get(p).copied())
            .collect();
        Ok(outlets_bytes(model, &outlets))
    }

    fn run(&mut self, input: &InputTensor) -> Result<Vec<RawTensor>, EngineError> {
        let path = self.path.clone();
        let run_err = |e: &dyn std::fmt::Display| EngineError::Run {
            engine: "tract",
            model: path.clone(),
            reason: crate::text::sanitize(&format!("{e:#}")),
        };
        let plan = self.plan_for(&input.shape)?;
        let tensor = input_tensor(input).map_err(|e| run_err(&e))?;
        let mut results = plan
            .run(tvec!(tensor.into_tvalue()))
            .map_err(|e| run_err(&e))?;
        let mut out = Vec::with_capacity(self.outputs.len());
        for (name, &pos) in self.outputs.iter().zip(&self.output_positions) {
            let Some(value) = results.get_mut(pos) else {
                return Err(run_err(&format!("no output for '{name}'")));
            };
            // Take the value out, leaving a scalar: it is handed over as it is, not copied.
            let value = std::mem::replace(value, Tensor::from(0f32).into_tvalue()).into_tensor();
            let shape = value.shape().to_vec();
            let (elem, data) = output_data(value).map_err(|e| run_err(&e))?;
            out.push(RawTensor {
                name: name.clone(),
                shape,
                elem,
                data,
            });
        }
        Ok(out)
    }
}

/// The element type of the model's first input (float32 when undeclared).
fn input_elem(model: &Model) -> ElemType {
    model
        .inputs
        .first()
        .and_then(|i| i.declared.elem_type)
        .and_then(ElemType::from_onnx)
        .unwrap_or_default()
}

fn datum_type(elem: ElemType) -> Option<DatumType> {
    Some(match elem {
        ElemType::Float32 => DatumType::F32,
        ElemType::Float16 => DatumType::F16,
        ElemType::Float64 => DatumType::F64,
        ElemType::Uint8 => DatumType::U8,
        ElemType::Int8 => DatumType::I8,
        ElemType::Uint16 => DatumType::U16,
        ElemType::Int16 => DatumType::I16,
        ElemType::Bfloat16 => return None,
    })
}

/// The input stored in its declared type (rounded, integers saturated).
fn input_tensor(input: &InputTensor) -> TractResult<Tensor> {
    let shape = &input.shape;
    Ok(match input.elem {
        ElemType::Float32 => Tensor::from_shape(shape, &input.data)?,
        ElemType::Float16 => {
            let data: Vec<f16> = input.data.iter().map(|&v| f16::from_f32(v)).collect();
            Tensor::from_shape(shape, &data)?
        }
        ElemType::Float64 => {
            let data: Vec<f64> = input.data.iter().map(|&v| v as f64).collect();
            Tensor::from_shape(shape, &data)?
        }
        ElemType::Uint8 => Tensor::from_shape(shape, &integers::<u8>(input))?,
        ElemType::Int8 => Tensor::from_shape(shape, &integers::<i8>(input))?,
        ElemType::Uint16 => Tensor::from_shape(shape, &integers::<u16>(input))?,
        ElemType::Int16 => Tensor::from_shape(shape, &integers::<i16>(input))?,
        ElemType::Bfloat16 => return Err(anyhow::anyhow!("tract has no bfloat16")),
    })
}

/// An output's values: float32 handed over as tract computed it, other floats converted,
/// 8/16-bit integers (tract's quantized types included: their storage is the integer) kept.
fn output_data(value: Tensor) -> TractResult<(ElemType, TensorData)> {
    fn ints<T: Datum + Copy + Into<i32>>(value: &Tensor) -> TractResult<TensorData> {
        Ok(TensorData::Int(
            value
                .to_plain_array_view::<T>()?
                .iter()
                .map(|&v| v.into())
                .collect(),
        ))
    }
    let floats = |values: Vec<f32>| TensorData::F32(values.into());
    Ok(match value.datum_type().unquantized() {
        // In memory already: handed over as it is; held elsewhere: copied out.
        DatumType::F32 if value.as_plain_ram().is_some() => (
            ElemType::Float32,
            TensorData::F32(Values::from_engine(Arc::new(TractOutput(value)))),
        ),
        DatumType::F32 => (
            ElemType::Float32,
            floats(
                value
                    .to_plain_array_view::<f32>()?
                    .iter()
                    .copied()
                    .collect(),
            ),
        ),
        DatumType::F64 => (
            ElemType::Float64,
            floats(
                value
                    .to_plain_array_view::<f64>()?
                    .iter()
                    .map(|&v| v as f32)
                    .collect(),
            ),
        ),
        DatumType::F16 => (
            ElemType::Float16,
            floats(
                value
                    .to_plain_array_view::<f16>()?
                    .iter()
                    .map(|v| v.to_f32())
                    .collect(),
            ),
        ),
        DatumType::U8 => (ElemType::Uint8, ints::<u8>(&unquantized(value)?)?),
        DatumType::I8 => (ElemType::Int8, ints::<i8>(&unquantized(value)?)?),
        DatumType::U16 => (ElemType::Uint16, ints::<u16>(&unquantized(value)?)?),
        DatumType::I16 => (ElemType::Int16, ints::<i16>(&unquantized(value)?)?),
        other => (
            ElemType::Float32,
            TensorData::Unsupported(format!("{other:?}").to_lowercase()),
        ),
    })
}

/// A tensor of one of tract's quantized types as its plain integer storage.
fn unquantized(mut value: Tensor) -> TractResult<Tensor> {
    let plain = value.datum_type().unquantized();
    if value.datum_type() != plain {
        // SAFETY: a quantized type's storage is its unquantized integer type.
        unsafe { value.set_datum_type(plain) };
    }
    Ok(value)
}

/// tract's "Unimplemented(QLinearAdd)" as one line naming the operator and the engine that
/// runs it.
fn unimplemented_hint(e: &dyn std::fmt::Display) -> String {
    let text = format!("{e:#}");
    match text
        .split("Unimplemented(")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
    {
        Some(op) => {
            format!("tract does not implement the operator {op}; --backend ort runs it ({text})")
        }
        None => text,
    }
}
