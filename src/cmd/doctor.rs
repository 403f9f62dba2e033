//! `featscope doctor`: what would run, and why.

use anyhow::Result;
use featscope::engine::ort_lib;
use featscope::text::sanitize;
use std::path::Path;
use std::process::ExitCode;

pub fn run(ort_lib_arg: Option<&Path>, query_terminal: bool) -> Result<ExitCode> {
    println!("featscope {}", env!("CARGO_PKG_VERSION"));
    println!(
        "tract:        {} (built in, cpu)",
        env!("FEATSCOPE_TRACT_VERSION")
    );
    match featscope::defaults::find() {
        Some(d) => println!(
            "default:      {} on {}",
            sanitize(&d.model.display().to_string()),
            sanitize(&d.image.display().to_string())
        ),
        None => println!("default:      the seed CNN built into featscope, on chelsea.png"),
    }
    println!("ONNX Runtime search order:");
    for (path, source, _) in ort_lib::candidates(ort_lib_arg) {
        let verdict = match ort_lib::probe_version(&path) {
            Ok(v) => format!("ONNX Runtime {v}"),
            Err(e) => e.to_string(),
        };
        println!("  {source:<20} {}  → {verdict}", path.display());
    }
    match ort_lib::init(ort_lib_arg) {
        Ok(lib) => {
            println!(
                "onnxruntime:  {} at {} ({})",
                lib.version,
                lib.path.display(),
                lib.source
            );
            use ort::ep::ExecutionProvider;
            let yes_no = |b: ort::Result<bool>| match b {
                Ok(true) => "available",
                Ok(false) => "not in this build",
                Err(_) => "unknown",
            };
            println!("  CUDA:       {}", yes_no(ort::ep::CUDA::is_available()));
            println!(
                "  TensorRT:   {}",
                yes_no(ort::ep::TensorRT::is_available())
            );
            println!("--backend auto uses: onnxruntime {}", lib.version);
        }
        Err(e) => {
            println!("onnxruntime:  not loaded: {e}");
            if ort_lib::is_explicit(ort_lib_arg) {
                println!("--backend auto fails: the library you named does not load");
            } else {
                println!("--backend auto uses: tract");
            }
        }
    }
    for line in featscope::term::choice::report(query_terminal) {
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}
