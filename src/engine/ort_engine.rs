//! ONNX Runtime through the `ort` crate.

use super::ort_lib::{self, OrtLib};
use super::{
    Device, ElemType, Engine, EngineBuffer, EngineError, EngineOptions, InputTensor, RawTensor,
    TensorData, Values,
};
use crate::model::Model;
use half::slice::HalfFloatSliceExt;
use ort::ep::ExecutionProvider;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::session::SessionInputValue;
use ort::value::{DynValue, Tensor, TensorElementType, TensorRef, ValueType};
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
        // A QDQ model runs as its graph reads (float operators on dequantized values), which
        // ONNX Runtime does only without its QDQ fusions and without the NCHWc layout of level
        // All (a different order of float sums moves values across rounding ties, and
        // requantization amplifies that, layer by layer). Whichever tensors are asked for,
        // the values are then those of onnxruntime.quantization.qdq_loss_debug.
        let graph_arithmetic = model.is_qdq() && !opts.int8_kernels;
        let level = if graph_arithmetic {
            GraphOptimizationLevel::Level2
        } else {
            GraphOptimizationLevel::All
        };
        let mut builder = Session::builder(env)
            .map_err(|e| load_err(model, e))?
            // Fusions never remove a tensor that is a graph output, so every requested
            // feature map keeps its own value (tests/engines.rs checks Conv before BatchNorm).
            .with_optimization_level(level)
            .map_err(|e| load_err(model, e))?;
        if graph_arithmetic {
            builder = builder
                .with_config_entry("session.disable_quant_qdq", "1")
                .map_err(|e| load_err(model, e))?;
        }
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
            label: format!(
                "onnxruntime {} ({}){}",
                lib.version,
                opts.device,
                match (model.is_qdq(), graph_arithmetic, model.has_float16()) {
                    (true, true, _) => " · QDQ as the graph reads",
                    (true, false, _) => " · QDQ as int8 kernels",
                    // The CPU provider has few float16 kernels: the rest run in float32
                    // between Casts, and only the stored tensors are rounded to float16.
                    (false, _, true) if opts.device == Device::Cpu => " · float16 ops in float32",
                    _ => "",
                }
            ),
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
        let tensor = input_value(input).map_err(|e| run_err(e.to_string()))?;
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
                        elem: ElemType::Float32,
                        data: TensorData::Unsupported(other.to_string()),
                    });
                    continue;
                }
            };
            let shape: Vec<usize> = shape.iter().map(|&d| d.max(0) as usize).collect();
            let (elem, data) = output_data(value, ty).map_err(|e| run_err(e.to_string()))?;
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

/// The input in the type the model declares: float32 as it is, borrowed; other types converted
/// (rounded to nearest, integers saturated) into a tensor of their own.
fn input_value(input: &InputTensor) -> ort::Result<SessionInputValue<'_>> {
    let shape = input.shape.clone();
    Ok(match input.elem {
        ElemType::Float32 => TensorRef::from_array_view((shape, input.data.as_slice()))?.into(),
        ElemType::Float16 => {
            let mut data = vec![half::f16::ZERO; input.data.len()];
            data.convert_from_f32_slice(&input.data);
            Tensor::from_array((shape, data))?.into()
        }
        ElemType::Bfloat16 => {
            let mut data = vec![half::bf16::ZERO; input.data.len()];
            data.convert_from_f32_slice(&input.data);
            Tensor::from_array((shape, data))?.into()
        }
        ElemType::Float64 => {
            let data: Vec<f64> = input.data.iter().map(|&v| v as f64).collect();
            Tensor::from_array((shape, data))?.into()
        }
        ElemType::Uint8 => Tensor::from_array((shape, integers::<u8>(input)))?.into(),
        ElemType::Int8 => Tensor::from_array((shape, integers::<i8>(input)))?.into(),
        ElemType::Uint16 => Tensor::from_array((shape, integers::<u16>(input)))?.into(),
        ElemType::Int16 => Tensor::from_array((shape, integers::<i16>(input)))?.into(),
    })
}

/// The input's values as integers of its type (rounded, saturated).
pub(super) fn integers<T: TryFrom<i32> + Default>(input: &InputTensor) -> Vec<T> {
    input
        .data
        .iter()
        .map(|&v| T::try_from(input.elem.store(v) as i32).unwrap_or_default())
        .collect()
}

/// An output's values: a float32 one handed over in ORT's own memory, other floats converted to
/// float32, 8/16-bit integers kept as integers.
fn output_data(value: DynValue, ty: TensorElementType) -> ort::Result<(ElemType, TensorData)> {
    fn ints<T: ort::value::PrimitiveTensorElementType + Copy + Into<i32> + std::fmt::Debug>(
        value: &DynValue,
    ) -> ort::Result<TensorData> {
        let (_, data) = value.try_extract_tensor::<T>()?;
        Ok(TensorData::Int(data.iter().map(|&v| v.into()).collect()))
    }
    Ok(match ty {
        TensorElementType::Float32 => {
            value.try_extract_tensor::<f32>()?;
            (
                ElemType::Float32,
                TensorData::F32(Values::from_engine(Arc::new(OrtOutput(value)))),
            )
        }
        TensorElementType::Float64 => {
            let (_, data) = value.try_extract_tensor::<f64>()?;
            let data: Vec<f32> = data.iter().map(|&v| v as f32).collect();
            (ElemType::Float64, TensorData::F32(data.into()))
        }
        TensorElementType::Float16 => {
            let (_, data) = value.try_extract_tensor::<half::f16>()?;
            let mut out = vec![0f32; data.len()];
            data.convert_to_f32_slice(&mut out);
            (ElemType::Float16, TensorData::F32(out.into()))
        }
        TensorElementType::Bfloat16 => {
            let (_, data) = value.try_extract_tensor::<half::bf16>()?;
            let mut out = vec![0f32; data.len()];
            data.convert_to_f32_slice(&mut out);
            (ElemType::Bfloat16, TensorData::F32(out.into()))
        }
        TensorElementType::Uint8 => (ElemType::Uint8, ints::<u8>(&value)?),
        TensorElementType::Int8 => (ElemType::Int8, ints::<i8>(&value)?),
        TensorElementType::Uint16 => (ElemType::Uint16, ints::<u16>(&value)?),
        TensorElementType::Int16 => (ElemType::Int16, ints::<i16>(&value)?),
        other => (
            ElemType::Float32,
            TensorData::Unsupported(other.to_string()),
        ),
    })
}
