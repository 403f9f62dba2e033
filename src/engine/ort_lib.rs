//! Finding and loading the ONNX Runtime shared library, once per process.
//!
//! Search order: `--ort-lib`, `ORT_DYLIB_PATH`, next to the featscope binary, the Python
//! package `onnxruntime` (or `onnxruntime-gpu`, same package name), then the system loader.
//! An explicit choice that fails is an error; the implicit ones fall through to the next.

use super::EngineError;
use std::ffi::CStr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Why a library is not the ONNX Runtime featscope can use.
#[derive(Clone, Debug, thiserror::Error)]
pub enum OrtLibError {
    #[error("cannot load {path}: {reason}")]
    Load { path: String, reason: String },
    #[error("{path} is not ONNX Runtime (it has no OrtGetApiBase)")]
    NotOrt { path: String },
    #[error("{path}: OrtGetApiBase returned nothing")]
    NoApi { path: String },
    #[error(
        "{path} is ONNX Runtime {version}, too old: featscope needs 1.{MIN_MINOR_VERSION} or newer"
    )]
    TooOld { path: String, version: String },
    #[error("{path}: {reason}")]
    Init { path: String, reason: String },
    /// The library the user named failed.
    #[error("{origin}: {error}")]
    Named {
        origin: &'static str,
        error: Box<OrtLibError>,
    },
    #[error("not found (set --ort-lib or ORT_DYLIB_PATH, or `pip install onnxruntime`); tried {}", tried.join("; "))]
    NotFound { tried: Vec<String> },
}

/// The oldest ONNX Runtime whose C API (v17) featscope's `ort` build uses.
pub const MIN_MINOR_VERSION: u32 = 17;

#[derive(Clone, Debug)]
pub struct OrtLib {
    pub path: PathBuf,
    /// Where it was found: "--ort-lib", "ORT_DYLIB_PATH", "next to featscope", "python onnxruntime", "system loader".
    pub source: &'static str,
    pub version: String,
}

struct Loaded {
    lib: OrtLib,
    env: ort::environment::Environment,
}

static LOADED: OnceLock<Result<Loaded, OrtLibError>> = OnceLock::new();

/// Loads ONNX Runtime (first call) and returns what was loaded, or why none could be.
pub fn init(explicit: Option<&Path>) -> Result<OrtLib, EngineError> {
    LOADED
        .get_or_init(|| load(explicit))
        .as_ref()
        .map(|l| l.lib.clone())
        .map_err(|e| EngineError::OrtLibrary(e.to_string()))
}

/// The process-wide ONNX Runtime environment, once [`init`] succeeded.
pub fn environment() -> Option<&'static ort::environment::Environment> {
    LOADED.get().and_then(|r| r.as_ref().ok()).map(|l| &l.env)
}

/// Whether the user named a library (`--ort-lib` or `ORT_DYLIB_PATH`): then a failure to load it
/// is an error, not a reason to fall back to tract.
pub fn is_explicit(explicit: Option<&Path>) -> bool {
    explicit.is_some() || std::env::var_os("ORT_DYLIB_PATH").is_some_and(|p| !p.is_empty())
}

/// Every place that would be tried, in order, with whether it is an explicit choice.
pub fn candidates(explicit: Option<&Path>) -> Vec<(PathBuf, &'static str, bool)> {
    let mut out = Vec::new();
    if let Some(p) = explicit {
        out.push((p.to_path_buf(), "--ort-lib", true));
        return out;
    }
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        out.push((PathBuf::from(p), "ORT_DYLIB_PATH", true));
        return out;
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        out.extend(
            library_files_in(&dir)
                .into_iter()
                .map(|p| (p, "next to featscope", false)),
        );
    }
    if let Some(dir) = python_package_dir() {
        out.extend(
            library_files_in(&dir.join("capi"))
                .into_iter()
                .map(|p| (p, "python onnxruntime", false)),
        );
    }
    out.push((PathBuf::from(system_library_name()), "system loader", false));
    out
}

fn system_library_name() -> &'static str {
    if cfg!(target_os = "macos") {
        "libonnxruntime.dylib"
    } else if cfg!(windows) {
        "onnxruntime.dll"
    } else {
        "libonnxruntime.so"
    }
}

/// `libonnxruntime.so`, `libonnxruntime.so.1.31.1`, … in `dir`, the versioned names first.
fn library_files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                (n.starts_with("libonnxruntime.so")
                    || n.starts_with("libonnxruntime.") && n.ends_with(".dylib")
                    || n == "onnxruntime.dll")
                    && !n.contains("providers")
            })
        })
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
    found
}

/// Where Python would import `onnxruntime` from, without importing it (that takes seconds).
fn python_package_dir() -> Option<PathBuf> {
    let script = "import importlib.util as u\ns=u.find_spec('onnxruntime')\nprint(s.submodule_search_locations[0] if s and s.submodule_search_locations else '')";
    for python in ["python3", "python"] {
        let Ok(out) = std::process::Command::new(python)
            .args(["-c", script])
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
        else {
            continue;
        };
        let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if out.status.success() && !dir.is_empty() {
            return Some(PathBuf::from(dir));
        }
    }
    None
}

/// Reads the library's version through its C entry point, without initialising anything.
pub fn probe_version(path: &Path) -> Result<String, OrtLibError> {
    let shown = || path.display().to_string();
    // SAFETY: loading a shared library runs its initialisers; ONNX Runtime's are benign, and a
    // library that is not ONNX Runtime is rejected below before anything else is called.
    let lib = unsafe { libloading::Library::new(path) }.map_err(|e| {
        let reason = std::error::Error::source(&e)
            .map(|s| s.to_string())
            .unwrap_or_else(|| e.to_string());
        OrtLibError::Load {
            path: shown(),
            reason,
        }
    })?;
    type GetApiBase = unsafe extern "C" fn() -> *const ort::sys::OrtApiBase;
    // SAFETY: the symbol has this signature in every ONNX Runtime release.
    let get_base: libloading::Symbol<'_, GetApiBase> = unsafe { lib.get(b"OrtGetApiBase\0") }
        .map_err(|_| OrtLibError::NotOrt { path: shown() })?;
    // SAFETY: OrtGetApiBase returns a pointer to a static struct; GetVersionString a static C string.
    let version = unsafe {
        let base = get_base();
        if base.is_null() {
            return Err(OrtLibError::NoApi { path: shown() });
        }
        CStr::from_ptr(((*base).GetVersionString)())
            .to_string_lossy()
            .into_owned()
    };
    let minor = version
        .split('.')
        .nth(1)
        .and_then(|m| m.parse::<u32>().ok())
        .unwrap_or(0);
    if minor < MIN_MINOR_VERSION {
        return Err(OrtLibError::TooOld {
            path: shown(),
            version,
        });
    }
    Ok(version)
}

fn load(explicit: Option<&Path>) -> Result<Loaded, OrtLibError> {
    let mut tried = Vec::new();
    for (path, source, is_explicit) in candidates(explicit) {
        let attempt = probe_version(&path).and_then(|version| {
            let init_err = |e: &dyn std::fmt::Display| OrtLibError::Init {
                path: path.display().to_string(),
                reason: e.to_string(),
            };
            let env = ort::init_from(&path)
                .map_err(|e| init_err(&e))?
                .with_name("featscope")
                .with_telemetry(false)
                // ONNX Runtime would otherwise log to stderr, over the TUI; its failures reach
                // featscope as errors from the calls that failed.
                .with_logger(Arc::new(|_level, _category, _id, _location, _message| {}))
                .build()
                .map_err(|e| init_err(&e))?;
            Ok(Loaded {
                lib: OrtLib {
                    path: path.clone(),
                    source,
                    version,
                },
                env,
            })
        });
        match attempt {
            Ok(loaded) => return Ok(loaded),
            Err(e) if is_explicit => {
                return Err(OrtLibError::Named {
                    origin: source,
                    error: Box::new(e),
                })
            }
            Err(e) => tried.push(format!("{source}: {e}")),
        }
    }
    Err(OrtLibError::NotFound { tried })
}
