//! ONNX Runtime through the `ort` crate.

use super::ort_lib::{self, OrtLib};
use super::{
    Device, Engine, EngineBuffer, EngineError, EngineOptions, InputTensor, RawTensor, TensorData,
    Values,
};
use crate::model::Model;
use ort::ep::ExecutionProvider;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::{DynValue, TensorElementType, TensorRef, ValueType};
use std::sync::Arc;

/// A float output in the memory ONNX Runtime computed it into; freed with the last view of it.
struct OrtOutput(DynValue);

impl EngineBuffer for OrtOutput {
    fn values(&self) -> &[f32] {
        // Checked to be a float tensor when it was made.
        self.0
            .try_extract_tensor::<f32>()
            .map(|(_, data)| data)
            .unwrap_or(&[])
    }
}

pub struct OrtEngine {
    session: Session,
    outputs: Vec<String>,
    label: String,
    model: String,
}

fn load_err(model: &Model, reason: impl ToString) -> EngineError {
    EngineError::Load {
        engine: "onnxruntime",
        model: model.path.display().to_string(),
        reason: crate::text::sanitize(&reason.to_string()),
    }
}

impl OrtEngine {
    pub fn open(
        model: &Model,
        outputs: &[String],
        opts: &EngineOptions,
        lib: OrtLib,
    ) -> Result<OrtEngine, EngineError> {
        let env = ort_lib::environment()
            .ok_or_else(|| EngineError::OrtLibrary("not initialised".into()))?;
        let bytes = model.with_outputs(outputs);
        let mut builder = Session::builder(env)
            .map_err(|e| load_err(model, e))?
            // Fusions never remove a tensor that is a graph output, so every requested
            // feature map keeps its own value (tests/engines.rs checks Conv before BatchNorm).
            .with_optimization_level(GraphOptimizationLevel::All)
            .map_err(|e| load_err(model, e))?;
        if let Some(n) = opts.threads {
            builder = builder
                .with_intra_threads(n)
                .map_err(|e| load_err(model, e))?;
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if opts.runs_beside_other_work && opts.threads.is_none_or(|t| t >= cores) {
            builder = builder
                .with_intra_op_spinning(false)
                .map_err(|e| load_err(model, e))?;
        }
        if model.has_external_data {
            builder = builder
                .with_config_entry(
                    "session.model_external_initializers_file_folder_path",
                    model.dir().to_string_lossy(),
                )
                .map_err(|e| load_err(model, e))?;
        }
        if let Device::Cuda(id) = opts.device {
            let available = ort::ep::CUDA::is_available().unwrap_or(false);
            if !available {
                return Err(EngineError::Device(format!(
                    "--device {}: the ONNX Runtime at {} (version {}) has no CUDA execution provider; \
                     install onnxruntime-gpu, or use --device cpu",
                    opts.device,
                    lib.path.display(),
                    lib.version
                )));
            }
            builder = builder
                .with_execution_providers([ort::ep::CUDA::default()
                    .with_device_id(id)
                    .build()
                    .error_on_failure()])
                .map_err(|e| {
                    EngineError::Device(format!(
                        "--device {}: CUDA could not start: {}",
                        opts.device,
                        crate::text::sanitize(&e.to_string())
                    ))
                })?;
        }
        let session = builder
            .commit_from_memory(&bytes)
            .map_err(|e| load_err(model, e))?;
        Ok(OrtEngine {
            session,
            outputs: outputs.to_vec(),
            label: format!("onnxruntime {} ({})", lib.version, opts.device),
            model: model.path.display().to_string(),
        })
    }
}

impl Engine for OrtEngine {
    fn label(&self) -> String {
        self.label.clone()
    }

    fn run(&mut self, input: &InputTensor) -> Result<Vec<RawTensor>, EngineError> {
        let model = self.model.clone();
        let run_err = |reason: String| EngineError::Run {
            engine: "onnxruntime",
            model: model.clone(),
            reason: crate::text::sanitize(&reason),
        };
        let tensor = TensorRef::from_array_view((input.shape.clone(), input.data.as_slice()))
            .map_err(|e| run_err(e.to_string()))?;
        let mut results = self
            .session
            .run(ort::inputs![input.name.as_str() => tensor])
            .map_err(|e| run_err(e.to_string()))?;
        let mut out = Vec::with_capacity(self.outputs.len());
        for name in &self.outputs {
            // Each output is handed over in ORT's own memory (a float one), not copied.
            let value = results
                .remove(name.as_str())
                .ok_or_else(|| run_err(format!("no output named '{name}'")))?;
            let (ty, shape) = match value.dtype() {
                ValueType::Tensor { ty, shape, .. } => (*ty, shape.to_vec()),
                other => {
                    out.push(RawTensor {
                        name: name.clone(),
                        shape: Vec::new(),
                        data: TensorData::Unsupported(other.to_string()),
                    });
                    continue;
                }
            };
            let shape: Vec<usize> = shape.iter().map(|&d| d.max(0) as usize).collect();
            let data = match ty {
                TensorElementType::Float32 => {
                    value
                        .try_extract_tensor::<f32>()
                        .map_err(|e| run_err(e.to_string()))?;
                    TensorData::F32(Values::from_engine(Arc::new(OrtOutput(value))))
                }
                TensorElementType::Float64 => {
                    let (_, data) = value
                        .try_extract_tensor::<f64>()
                        .map_err(|e| run_err(e.to_string()))?;
                    TensorData::F32(data.iter().map(|&v| v as f32).collect::<Vec<f32>>().into())
                }
                other => TensorData::Unsupported(other.to_string()),
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
