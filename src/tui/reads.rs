//! Files the view reads while it runs: the montage a scan drew for the zoomed channel, and a
//! convolution's kernels from the model's weights (which may be external data files). `App`
//! only asks for them ([`FileRead`]); the event loop runs each off the UI thread and hands the
//! outcome back as a [`Msg::Read`](super::app::Msg::Read), a failure included, which the status
//! line then shows.

use super::app::{Kernels, ScanTop};
use crate::model::Model;
use crate::render::Colormap;
use std::path::PathBuf;

/// A read the view asked for.
pub enum FileRead {
    /// The montage of the scanned layer at `layer` (its place in scan.json), channel `channel`.
    Montage {
        layer: usize,
        channel: usize,
        path: PathBuf,
    },
    /// The kernels of the convolution that makes `tensor`, for the sidebar entry `entry`.
    Kernels {
        entry: usize,
        colormap: Colormap,
        model: Box<Model>,
        tensor: String,
    },
}

/// What a read gave: what the view shows, and why it shows nothing when the read failed.
pub enum ReadDone {
    Montage(ScanTop, Option<String>),
    Kernels(Kernels, Option<String>),
}

/// The biggest montage read back: a scan writes them far smaller (9 tiles of 64 px).
const MONTAGE_LIMIT: u64 = 64 << 20;

impl FileRead {
    /// The outcome of this read when it could not run (its thread did not start or crashed).
    pub fn failed(&self, why: &str) -> ReadDone {
        match self {
            FileRead::Montage { layer, channel, .. } => ReadDone::Montage(
                ScanTop {
                    layer: *layer,
                    channel: *channel,
                    picture: None,
                    reading: false,
                },
                Some(why.to_string()),
            ),
            FileRead::Kernels {
                entry, colormap, ..
            } => ReadDone::Kernels(
                Kernels {
                    entry: *entry,
                    colormap: *colormap,
                    picture: None,
                    view: None,
                    shape: Vec::new(),
                    reading: false,
                },
                Some(why.to_string()),
            ),
        }
    }

    pub fn run(self) -> ReadDone {
        match self {
            FileRead::Montage {
                layer,
                channel,
                path,
            } => {
                let read = crate::files::read_limited(&path, MONTAGE_LIMIT, "a montage")
                    .map_err(anyhow::Error::from)
                    .and_then(|bytes| {
                        image::load_from_memory(&bytes)
                            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
                    });
                let (picture, error) = match read {
                    Ok(img) => (Some(img.to_rgb8()), None),
                    // A channel the scan drew no montage for (no top image) has none to show.
                    Err(_) if !path.exists() => (None, None),
                    Err(e) => (None, Some(crate::text::error_line(&e))),
                };
                let top = ScanTop {
                    layer,
                    channel,
                    picture,
                    reading: false,
                };
                ReadDone::Montage(top, error)
            }
            FileRead::Kernels {
                entry,
                colormap,
                model,
                tensor,
            } => {
                let weight = crate::model::weights::Constants::of(&model)
                    .and_then(|c| crate::model::structure::conv_kernels(&c, &model, &tensor));
                let (weight, error) = match weight {
                    Ok(w) => (w, None),
                    Err(e) => (None, Some(crate::text::one_line(&e.to_string()))),
                };
                let drawn = weight.as_ref().and_then(|w| {
                    crate::render::filters::render_kernels(&w.dims, &w.values, colormap)
                });
                let kernels = Kernels {
                    entry,
                    colormap,
                    view: drawn.as_ref().map(|d| d.1),
                    picture: drawn.map(|d| d.0),
                    shape: weight.map(|w| w.dims).unwrap_or_default(),
                    reading: false,
                };
                ReadDone::Kernels(kernels, error)
            }
        }
    }
}
