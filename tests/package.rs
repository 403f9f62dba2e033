//! What `cargo package` (and so `cargo publish`) takes: within crates.io's 10 MB limit, and with
//! the files built into the binary, so `cargo install featscope` builds and opens a default.

use std::path::Path;
use std::process::Command;

/// crates.io refuses larger crates (the compressed size; the files' own sizes bound it).
const CRATES_IO_LIMIT: u64 = 10 * 1000 * 1000;

#[test]
fn the_package_fits_crates_io_and_holds_the_built_in_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["package", "--list", "--allow-dirty", "--offline"])
        .current_dir(root)
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo package --list failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = String::from_utf8_lossy(&out.stdout);
    let files: Vec<&str> = list.lines().collect();
    // Files cargo writes itself (Cargo.toml.orig, .cargo_vcs_info.json) are not on disk.
    let total: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(root.join(f)).ok())
        .map(|m| m.len())
        .sum();
    assert!(
        total < CRATES_IO_LIMIT,
        "the package holds {total} bytes of files; crates.io takes {CRATES_IO_LIMIT}"
    );
    for built_in in [
        "models/seed_cnn.onnx",
        "models/seed_cnn.featscope.json",
        "models/chelsea.png",
        "models/PROVENANCE.md",
    ] {
        assert!(files.contains(&built_in), "{built_in} is not packaged");
    }
    assert!(
        !files.contains(&"models/efficientnet_lite0.onnx"),
        "EfficientNet-Lite0 (18 MB) ships in release archives, not in the crate"
    );
}
