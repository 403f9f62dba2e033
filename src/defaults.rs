//! The model and image the view opens when none is given. EfficientNet-Lite0 and its photo when
//! they are at hand (a checkout's `models/` in the current folder, or `models/` beside the
//! binary, as a release archive has them); else the seed CNN and a photo that travel inside the
//! binary, so an installed featscope opens something anywhere.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// The default model and image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Defaults {
    pub model: PathBuf,
    pub image: PathBuf,
}

const MODEL: &str = "efficientnet_lite0.onnx";
const IMAGE: &str = "chelsea.png";

/// Built into the binary: the seed recipe's CNN with its preprocessing, and a photo.
const BUILT_IN: [(&str, &[u8]); 3] = [
    ("seed_cnn.onnx", include_bytes!("../models/seed_cnn.onnx")),
    (
        "seed_cnn.featscope.json",
        include_bytes!("../models/seed_cnn.featscope.json"),
    ),
    (IMAGE, include_bytes!("../models/chelsea.png")),
];

/// Folders where `models/` may be: the current folder (a checkout), and the binary's own.
fn model_folders() -> Vec<PathBuf> {
    let mut folders = vec![PathBuf::from("models")];
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
    {
        folders.push(dir.join("models"));
        folders.push(dir);
    }
    folders
}

/// EfficientNet-Lite0 and its photo, where they are at hand.
pub fn find() -> Option<Defaults> {
    model_folders().into_iter().find_map(|dir| {
        let (model, image) = (dir.join(MODEL), dir.join(IMAGE));
        (model.is_file() && image.is_file()).then_some(Defaults { model, image })
    })
}

/// The default model and image: EfficientNet-Lite0 when found, else the built-in seed CNN,
/// written once to a cache folder (engines and sidecars read files).
pub fn resolve() -> Result<Defaults> {
    if let Some(found) = find() {
        return Ok(found);
    }
    let dir = built_in_folder()?;
    Ok(Defaults {
        model: dir.join(BUILT_IN[0].0),
        image: dir.join(IMAGE),
    })
}

/// `$XDG_CACHE_HOME/featscope/<version>` (or `~/.cache/…`, else the temp folder), with the
/// built-in files in it, written whole if they are not there yet.
fn built_in_folder() -> Result<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })
        .unwrap_or_else(std::env::temp_dir);
    let dir = base
        .join("featscope")
        .join(format!("built-in-{}", env!("CARGO_PKG_VERSION")));
    std::fs::create_dir_all(&dir).with_context(|| {
        format!(
            "{}: cannot create the folder for the built-in model",
            dir.display()
        )
    })?;
    for (name, bytes) in BUILT_IN {
        let path = dir.join(name);
        // Compared whole (a few hundred kB): a file that differs, however it came to, is
        // replaced.
        let current =
            crate::files::read_limited(&path, 1 << 20, "built-in file").is_ok_and(|b| b == bytes);
        if !current {
            crate::outdir::write_atomic(&path, bytes)?;
        }
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_built_in_files_are_the_bundled_ones() {
        let models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
        for (name, bytes) in super::BUILT_IN {
            assert_eq!(
                std::fs::read(models.join(name)).expect("bundled file"),
                bytes,
                "{name}"
            );
        }
    }
}
