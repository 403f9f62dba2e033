//! `featscope scan`: what excites each channel across a folder of images. Images are decoded in
//! parallel on their own thread while the model runs, reduced on the fly (per-channel running
//! figures and bounded top-k lists, see [`stats`]), checkpointed after every batch so a killed
//! scan resumes, and split into shards that merge exactly.

mod merge;
pub mod montage;
mod run;
pub mod stats;

pub use merge::{merge, MergeJob, MergeOutcome, MontageSource};
pub use run::run;

use crate::model::Model;
use crate::outdir::write_atomic;
use crate::pipeline::RunConfig;
use crate::text::sanitize;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use stats::LayerStats;
use std::path::{Path, PathBuf};

/// What `featscope scan` was asked.
#[derive(Clone, Debug)]
pub struct ScanJob {
    pub model: PathBuf,
    pub data: PathBuf,
    pub out: PathBuf,
    /// `--layer` patterns; none means every feature map.
    pub layers: Vec<String>,
    /// Images decoded and run per step (and per checkpoint).
    pub batch: usize,
    pub top: usize,
    /// `--shard i/n`: the i-th (1-based) of n interleaved parts of the sorted file list.
    pub shard: Option<(usize, usize)>,
    pub resume: bool,
    pub strict: bool,
    /// Draw the montages (the CLI does for layers named with `--layer`).
    pub montages: bool,
    pub run: RunConfig,
}

/// `scan.json`: everything that depends only on the model and the data, nothing about the
/// machine or the time (those go to `scan.log`), so equal inputs give equal bytes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScanResult {
    pub format: String,
    /// The model's file name.
    pub model: String,
    /// Every image of the folder, relative to it, sorted; hits name images by position here.
    pub files: Vec<String>,
    pub top: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    pub scanned: u64,
    pub skipped: Vec<Skipped>,
    pub layers: Vec<ScanLayer>,
}

pub const FORMAT: &str = "featscope-scan/1";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    pub image: u32,
    pub reason: String,
}

/// One layer over the data set. `mean`, `max` and `dead_fraction` are per channel, for
/// loading straight into pandas or numpy; `stats` holds what merging needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScanLayer {
    pub name: String,
    pub tensor: String,
    /// The map's size as the model declares it (none where it follows the image's size).
    pub height: Option<usize>,
    pub width: Option<usize>,
    pub dead_channels: usize,
    pub mean: Vec<f64>,
    #[serde(with = "finite")]
    pub max: Vec<f32>,
    pub dead_fraction: Vec<f64>,
    pub stats: LayerStats,
}

/// Non-finite numbers (a channel never seen) as JSON null.
mod finite {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[f32], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|x| x.is_finite().then_some(*x)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f32>, D::Error> {
        Ok(Vec::<Option<f32>>::deserialize(d)?
            .into_iter()
            .map(|x| x.unwrap_or(f32::NEG_INFINITY))
            .collect())
    }
}

impl ScanLayer {
    fn refresh(&mut self) {
        let s = &self.stats;
        self.dead_channels = s.dead_channels();
        self.mean = (0..s.channels).map(|c| s.mean(c)).collect();
        self.max = s.max.clone();
        self.dead_fraction = (0..s.channels).map(|c| s.dead_fraction(c)).collect();
    }
}

impl ScanResult {
    /// Reads a finished scan's `scan.json` (a partial one is never taken for it).
    pub fn read(dir: &Path) -> Result<ScanResult> {
        let path = dir.join("scan.json");
        let bytes = crate::files::read_limited(&path, 4 << 30, "a scan result")?;
        let result: ScanResult = serde_json::from_slice(&bytes)
            .with_context(|| format!("{}: not a featscope scan result", path.display()))?;
        if result.format != FORMAT {
            bail!(
                "{}: format '{}', expected '{FORMAT}'",
                path.display(),
                sanitize(&result.format)
            );
        }
        if !result.is_consistent() {
            bail!(
                "{}: the per-channel lists do not match the channel counts",
                path.display()
            );
        }
        Ok(result)
    }

    /// Every layer's lists as long as its channels, every hit naming a listed file.
    fn is_consistent(&self) -> bool {
        let files = self.files.len();
        self.layers.iter().all(|l| {
            let s = &l.stats;
            s.is_consistent(self.top)
                && l.mean.len() == s.channels
                && l.max.len() == s.channels
                && l.dead_fraction.len() == s.channels
                && s.top_by_max
                    .iter()
                    .chain(&s.top_by_mean)
                    .flatten()
                    .all(|h| (h.image as usize) < files)
        })
    }

    pub fn layer(&self, tensor: &str) -> Option<&ScanLayer> {
        self.layers.iter().find(|l| l.tensor == tensor)
    }

    fn write(&self, dir: &Path) -> Result<PathBuf> {
        let path = dir.join("scan.json");
        let json = serde_json::to_vec(self).context("scan.json")?;
        write_atomic(&path, &json)?;
        Ok(path)
    }
}

/// The scan so far, written after every batch: a killed scan starts again from `next`.
/// Written from borrowed layers (`L = &[ScanLayer]`), read back as owned ones. Binary
/// (postcard): a scan of every layer keeps megabytes of figures, rewritten after every batch,
/// and JSON took a tenth of the scan's time to write them.
#[derive(Serialize, Deserialize)]
struct Checkpoint<L> {
    /// Says which model, files, layers and settings the figures belong to.
    fingerprint: String,
    /// How many of this shard's images are done.
    next: usize,
    scanned: u64,
    skipped: Vec<Skipped>,
    layers: L,
}

const CHECKPOINT: &str = "scan.partial";
/// The first bytes of a checkpoint: what it is and which layout follows.
const CHECKPOINT_MAGIC: &[u8] = b"featscope-scan-checkpoint/1\n";

/// Every image file under `dir` (sub-folders too), relative, sorted: the same list on every
/// machine, so shards split it alike.
pub fn list_images(dir: &Path) -> Result<Vec<String>> {
    let mut found = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(rel) = pending.pop() {
        let entries = std::fs::read_dir(dir.join(&rel))
            .with_context(|| format!("{}: cannot list the folder", dir.join(&rel).display()))?;
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let name = rel.join(entry.file_name());
            if kind.is_dir() {
                pending.push(name);
            } else if kind.is_file() && crate::preprocess::has_image_extension(&name) {
                if let Some(text) = name.to_str() {
                    found.push(text.to_string());
                }
            }
        }
    }
    found.sort();
    Ok(found)
}

/// How a scan went: exit 1 when nothing was scanned, or with `--strict` when anything was skipped.
#[derive(Clone, Debug)]
pub struct ScanOutcome {
    pub scanned: u64,
    pub skipped: usize,
    pub result_path: PathBuf,
}

/// The scanned layers, empty, as the first image's activations show them.
fn start_layers(
    model: &Model,
    acts: &crate::activations::Activations,
    wanted: &[String],
) -> Vec<ScanLayer> {
    acts.layers
        .iter()
        .filter(|l| wanted.contains(&l.tensor))
        .filter_map(|l| {
            let fm = l.feature_maps()?;
            let (height, width) = declared_size(model, &l.tensor);
            Some(ScanLayer {
                name: l.name.to_string(),
                tensor: sanitize(&l.tensor),
                height,
                width,
                dead_channels: 0,
                mean: Vec::new(),
                max: Vec::new(),
                dead_fraction: Vec::new(),
                stats: LayerStats::new(fm.channels),
            })
        })
        .collect()
}

/// A feature map's declared height and width, where fixed.
fn declared_size(model: &Model, tensor: &str) -> (Option<usize>, Option<usize>) {
    let Some(site) = model.site(tensor) else {
        return (None, None);
    };
    let Some(dims) = site.declared.dims.as_ref().filter(|d| d.len() == 4) else {
        return (None, None);
    };
    let (h, w) = match site.layout {
        crate::model::Layout::Nchw => (&dims[2], &dims[3]),
        crate::model::Layout::Nhwc => (&dims[1], &dims[2]),
    };
    let fixed = |d: &crate::model::Dim| d.fixed().map(|v| v as usize);
    (fixed(h), fixed(w))
}

fn read_checkpoint(path: &Path, top: usize) -> Option<Checkpoint<Vec<ScanLayer>>> {
    let bytes = crate::files::read_limited(path, 4 << 30, "a scan checkpoint").ok()?;
    let body = bytes.strip_prefix(CHECKPOINT_MAGIC)?;
    let checkpoint: Checkpoint<Vec<ScanLayer>> = postcard::from_bytes(body).ok()?;
    // Figures that would not add up are not resumed from.
    checkpoint
        .layers
        .iter()
        .all(|l| l.stats.is_consistent(top))
        .then_some(checkpoint)
}

fn save_checkpoint(path: &Path, fingerprint: &str, next: usize, result: &ScanResult) -> Result<()> {
    let checkpoint = Checkpoint {
        fingerprint: fingerprint.to_string(),
        next,
        scanned: result.scanned,
        skipped: result.skipped.clone(),
        layers: result.layers.as_slice(),
    };
    let bytes = CHECKPOINT_MAGIC.to_vec();
    let bytes = postcard::to_extend(&checkpoint, bytes).context("scan checkpoint")?;
    write_atomic(path, &bytes)
}
