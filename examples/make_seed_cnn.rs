//! Writes `models/seed_cnn.onnx`, the seed recipe's 4-layer random CNN (see
//! `featscope::model::seed` for its exact definition). Byte-for-byte reproducible.
//!
//! ```text
//! cargo run --example make_seed_cnn [-- OUTPUT.onnx]    # default: models/seed_cnn.onnx
//! ```

use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/models/seed_cnn.onnx"))
        });
    let bytes = featscope::model::seed::seed_cnn();
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&out, &bytes)?;
    println!("wrote {} ({} bytes)", out.display(), bytes.len());
    Ok(())
}
