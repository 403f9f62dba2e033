//! Inference engines behind one trait: ONNX Runtime (loaded at run time) and tract (built in).
//!
//! An engine is opened for a fixed list of tensors and returns exactly those, in that order,
//! for every run.

pub mod ort_engine;
pub mod ort_lib;
pub mod tract_engine;
mod tract_ops;

use crate::model::Model;
pub use crate::precision::ElemType;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("ONNX Runtime library: {0}")]
    OrtLibrary(String),
    #[error("{0}")]
    Device(String),
    #[error("{engine} could not load {model}: {reason}")]
    Load {
        engine: &'static str,
        model: String,
        reason: String,
    },
    #[error("{engine} failed to run {model}: {reason}")]
    Run {
        engine: &'static str,
        model: String,
        reason: String,
    },
    #[error("{model}: the engine crashed ({what})")]
    Crashed { model: String, what: String },
}

thread_local! {
    /// Set while an engine call runs under [`guard`]: its panics are reported as errors, so the
    /// panic hook stays quiet about them.
    static GUARDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs an engine call, turning a panic inside the engine (tract on a malformed model, say)
/// into an error that names the model, without the panic message and backtrace on stderr.
pub fn guard<T>(
    model: &std::path::Path,
    call: impl FnOnce() -> Result<T, EngineError>,
) -> Result<T, EngineError> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !GUARDED.get() {
                previous(info);
            }
        }));
    });
    let was = GUARDED.replace(true);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(call));
    GUARDED.set(was);
    result.unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic".into());
        Err(EngineError::Crashed {
            model: model.display().to_string(),
            what: crate::text::sanitize(&what.replace(['\n', '\r'], " ")),
        })
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Backend {
    /// ONNX Runtime when its library is found, else tract.
    #[default]
    Auto,
    /// ONNX Runtime (fast, GPU capable), loaded at run time.
    Ort,
    /// tract, the pure-Rust engine built into featscope.
    Tract,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Device {
    #[default]
    Cpu,
    Cuda(i32),
}

impl std::str::FromStr for Device {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "cpu" => Ok(Device::Cpu),
            "cuda" => Ok(Device::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|n| n.parse::<i32>().ok())
                .filter(|n| *n >= 0)
                .map(Device::Cuda)
                .ok_or_else(|| format!("'{s}' is not a device; use cpu, cuda or cuda:N")),
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
            Device::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct EngineOptions {
    pub backend: Backend,
    pub device: Device,
    /// Intra-op threads; `None` lets the engine choose (all cores).
    pub threads: Option<usize>,
    /// `--ort-lib`: the ONNX Runtime library to load, first in the search order.
    pub ort_lib: Option<PathBuf>,
    /// Other threads of ours keep working while the engine runs (a scan decodes and reduces
    /// beside it): when the engine's threads take every core, they sleep between operators
    /// instead of spinning, leaving those cycles to the rest.
    pub runs_beside_other_work: bool,
    /// `--int8-kernels`: ONNX Runtime runs a QDQ model with its fused integer kernels
    /// (QLinearConv…), as a deployed CPU session does, instead of the graph's own arithmetic.
    pub int8_kernels: bool,
}

/// The image, as the tensor the model's input takes. Prepared in float32; the engine stores
/// it in `elem`, the type the model declares, as the last step.
#[derive(Clone, Debug)]
pub struct InputTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
    pub elem: ElemType,
}

impl InputTensor {
    /// Several inputs of one shape (each a batch of one) as one batch: the first axis counts
    /// them. `None` for no inputs.
    pub fn stack<'a>(items: impl ExactSizeIterator<Item = &'a InputTensor>) -> Option<InputTensor> {
        let n = items.len();
        let mut items = items.peekable();
        let first = items.peek()?;
        let (name, mut shape, elem) = (first.name.clone(), first.shape.clone(), first.elem);
        if let Some(batch) = shape.first_mut() {
            *batch = n;
        }
        let data = items.flat_map(|i| i.data.iter().copied()).collect();
        Some(InputTensor {
            name,
            shape,
            data,
            elem,
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum TensorData {
    /// Float values (float16, bfloat16 and float64 ones widened or narrowed to float32).
    F32(Values),
    /// 8- and 16-bit integers (quantized activations), as they are stored.
    Int(Vec<i32>),
    /// A tensor featscope cannot draw; only its element type is kept.
    Unsupported(String),
}

/// Memory an engine computed a tensor into, handed over as it is: feature maps are most of the
/// bytes a run makes, and copying them out cost a scan of every layer a third of its time.
pub trait EngineBuffer: Send + Sync {
    fn values(&self) -> &[f32];
}

/// A tensor's float values: owned, or (a part of) an engine's buffer, shared without copying.
/// Reading an engine's buffer asks the engine where it is (about 10 ns), so a loop over values
/// takes the slice once rather than indexing `Values` element by element.
#[derive(Clone)]
pub struct Values {
    repr: Repr,
    start: usize,
    len: usize,
}

/// Either way shared, so that a part of the values (one image of a batch, the first of a
/// tensor's batch axis) is a view, not a copy.
#[derive(Clone)]
enum Repr {
    Owned(Arc<Vec<f32>>),
    Engine(Arc<dyn EngineBuffer>),
}

impl Values {
    pub fn from_engine(buffer: Arc<dyn EngineBuffer>) -> Values {
        let len = buffer.values().len();
        Values {
            repr: Repr::Engine(buffer),
            start: 0,
            len,
        }
    }

    /// The values in `range` (relative to these), sharing the buffer rather than copying it;
    /// out-of-range ends are clamped.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Values {
        let end = range.end.min(self.len);
        let start = range.start.min(end);
        Values {
            repr: self.repr.clone(),
            start: self.start + start,
            len: end - start,
        }
    }

    pub fn into_vec(self) -> Vec<f32> {
        match self.repr {
            Repr::Owned(v) if self.start == 0 => {
                let mut v = Arc::try_unwrap(v).unwrap_or_else(|shared| shared.to_vec());
                v.truncate(self.len);
                v
            }
            _ => self.to_vec(),
        }
    }
}

impl From<Vec<f32>> for Values {
    fn from(v: Vec<f32>) -> Values {
        Values {
            start: 0,
            len: v.len(),
            repr: Repr::Owned(Arc::new(v)),
        }
    }
}

impl std::ops::Deref for Values {
    type Target = [f32];

    fn deref(&self) -> &[f32] {
        let all = match &self.repr {
            Repr::Owned(v) => v.as_slice(),
            Repr::Engine(b) => b.values(),
        };
        all.get(self.start..self.start + self.len).unwrap_or(&[])
    }
}

impl<'a> IntoIterator for &'a Values {
    type Item = &'a f32;
    type IntoIter = std::slice::Iter<'a, f32>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Writing copies the values first where they are shared (always, for an engine's buffer).
impl std::ops::DerefMut for Values {
    fn deref_mut(&mut self) -> &mut [f32] {
        if let Repr::Engine(_) = self.repr {
            *self = Values::from(self.to_vec());
        }
        match &mut self.repr {
            Repr::Owned(v) => {
                let v = Arc::make_mut(v);
                let end = (self.start + self.len).min(v.len());
                &mut v[self.start.min(end)..end]
            }
            Repr::Engine(_) => &mut [],
        }
    }
}

impl PartialEq for Values {
    fn eq(&self, other: &Values) -> bool {
        **self == **other
    }
}

impl PartialEq<Vec<f32>> for Values {
    fn eq(&self, other: &Vec<f32>) -> bool {
        **self == **other
    }
}

impl std::fmt::Debug for Values {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// One tensor an engine computed.
#[derive(Clone, Debug)]
pub struct RawTensor {
    pub name: String,
    pub shape: Vec<usize>,
    /// The type the engine computed it in (float32 for unsupported ones).
    pub elem: ElemType,
    pub data: TensorData,
}

pub trait Engine: Send {
    /// e.g. "onnxruntime 1.31.1 (cpu)" or "tract 0.23.9 (cpu)".
    fn label(&self) -> String;
    /// Runs the model once; returns the tensors the engine was opened for, in that order.
    fn run(&mut self, input: &InputTensor) -> Result<Vec<RawTensor>, EngineError>;
    /// The bytes the tensors it returns would take for an input of `shape`, when the engine
    /// knows them before running (`None`: it does not).
    fn output_bytes(&mut self, _shape: &[usize]) -> Result<Option<u64>, EngineError> {
        Ok(None)
    }
}

/// Opens the engine `opts` asks for, computing `outputs` (tensor names) on every run.
/// Returns the engine and, for `--backend auto`, a note saying which one was picked and why.
pub fn open_engine(
    model: &Model,
    outputs: &[String],
    opts: &EngineOptions,
) -> Result<(Box<dyn Engine>, Option<String>), EngineError> {
    match opts.backend {
        Backend::Tract => {
            require_cpu(opts.device, "tract")?;
            Ok((
                Box::new(tract_engine::TractEngine::open(model, outputs, opts)?),
                None,
            ))
        }
        Backend::Ort => {
            let lib = ort_lib::init(opts.ort_lib.as_deref())?;
            Ok((
                Box::new(ort_engine::OrtEngine::open(model, outputs, opts, lib)?),
                None,
            ))
        }
        Backend::Auto => match ort_lib::init(opts.ort_lib.as_deref()) {
            Ok(lib) => {
                let note = format!(
                    "engine: onnxruntime {} from {} ({})",
                    lib.version,
                    lib.path.display(),
                    lib.source
                );
                Ok((
                    Box::new(ort_engine::OrtEngine::open(model, outputs, opts, lib)?),
                    Some(note),
                ))
            }
            Err(why) if ort_lib::is_explicit(opts.ort_lib.as_deref()) => Err(why),
            Err(why) => {
                require_cpu(opts.device, "tract (ONNX Runtime was not found)")?;
                let note = format!("engine: tract (built in); ONNX Runtime not used: {why}");
                Ok((
                    Box::new(tract_engine::TractEngine::open(model, outputs, opts)?),
                    Some(note),
                ))
            }
        },
    }
}

fn require_cpu(device: Device, engine: &str) -> Result<(), EngineError> {
    match device {
        Device::Cpu => Ok(()),
        Device::Cuda(_) => Err(EngineError::Device(format!(
            "--device {device} needs ONNX Runtime with CUDA; {engine} runs on the CPU only"
        ))),
    }
}
