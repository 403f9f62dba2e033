//! tract-onnx, the pure-Rust engine: no library to install, runs on the CPU.

use super::{
    Engine, EngineBuffer, EngineError, EngineOptions, InputTensor, RawTensor, TensorData, Values,
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
        let onnx = tract_onnx::onnx();
        let proto = onnx
            .proto_model_for_read(&mut bytes.as_slice())
            .map_err(|e| load_err(&path, e))?;
        let dir = model.dir();
        let parsed = onnx
            .parse(&proto, dir.to_str())
            .map_err(|e| load_err(&path, e))?;
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
            model: parsed.model,
            output_positions,
            outputs: outputs.to_vec(),
            plans: HashMap::new(),
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
            .with_input_fact(0, f32::fact(shape).into())
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(|e| load_err(&path, e))?;
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
    let onnx = tract_onnx::onnx();
    let proto = onnx
        .proto_model_for_read(&mut bytes.as_slice())
        .map_err(|e| load_err(&path, e))?;
    let dir = model.dir();
    let parsed = onnx
        .parse(&proto, dir.to_str())
        .map_err(|e| load_err(&path, e))?;
    let typed = parsed
        .model
        .with_input_fact(0, f32::fact(shape).into())
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
        format!("tract {} (cpu)", env!("FEATSCOPE_TRACT_VERSION"))
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
        let tensor = Tensor::from_shape(&input.shape, &input.data).map_err(|e| run_err(&e))?;
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
            let data = match value.datum_type() {
                // In memory already: handed over as it is; held elsewhere: copied out.
                DatumType::F32 if value.as_plain_ram().is_some() => {
                    TensorData::F32(Values::from_engine(Arc::new(TractOutput(value))))
                }
                DatumType::F32 => TensorData::F32(
                    value
                        .to_plain_array_view::<f32>()
                        .map_err(|e| run_err(&e))?
                        .iter()
                        .copied()
                        .collect::<Vec<f32>>()
                        .into(),
                ),
                DatumType::F64 => TensorData::F32(
                    value
                        .to_plain_array_view::<f64>()
                        .map_err(|e| run_err(&e))?
                        .iter()
                        .map(|&v| v as f32)
                        .collect::<Vec<f32>>()
                        .into(),
                ),
                other => TensorData::Unsupported(format!("{other:?}").to_lowercase()),
            };
            out.push(RawTensor {
                name: name.clone(),
                shape,
                data,
            });
        }
        Ok(out)
    }
}
