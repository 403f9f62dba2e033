//! `featscope scan merge`: shard results folded into one, identical to a single scan, and, given
//! the model and the folder the shards scanned, the same montages a single scan draws.

use super::{list_images, montage, run::engines_side_by_side, ScanResult};
use crate::outdir::OutputFolder;
use crate::pipeline::{Analyzer, RunConfig, Selection};
use crate::report::Reporter;
use crate::text::sanitize;
use anyhow::{bail, Result};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// What `scan merge` was asked.
#[derive(Clone, Debug)]
pub struct MergeJob {
    /// Shard output folders, each with its scan.json.
    pub dirs: Vec<PathBuf>,
    pub out: PathBuf,
    /// Where the montages come from; none: scan.json only.
    pub montages: Option<MontageSource>,
}

/// The model and the images the shards scanned, run again (as a single scan runs its top
/// images again) to draw the merged scan's montages.
#[derive(Clone, Debug)]
pub struct MontageSource {
    pub model: PathBuf,
    pub data: PathBuf,
    /// The engine and preprocessing options the shards were scanned with.
    pub run: RunConfig,
}

#[derive(Clone, Debug)]
pub struct MergeOutcome {
    pub result_path: PathBuf,
    /// Montages written.
    pub montages: usize,
    /// Whether a shard folder holds montages the merge did not draw again (no model and data
    /// were given).
    pub montages_left_out: bool,
}

/// Folds the shards in `job.dirs` into `job.out`.
pub fn merge(job: &MergeJob, report: &dyn Reporter) -> Result<MergeOutcome> {
    let merged = fold(&job.dirs)?;
    let folder = OutputFolder::open(&job.out)?;
    let result_path = merged.write(folder.path())?;
    let montages = match &job.montages {
        Some(source) if merged.scanned > 0 => draw_montages(source, &merged, &folder, report)?,
        _ => 0,
    };
    let montages_left_out =
        job.montages.is_none() && job.dirs.iter().any(|d| d.join("montages").is_dir());
    Ok(MergeOutcome {
        result_path,
        montages,
        montages_left_out,
    })
}

/// The shards' figures as one scan's.
fn fold(dirs: &[PathBuf]) -> Result<ScanResult> {
    let mut merged: Option<ScanResult> = None;
    let mut shards_seen = Vec::new();
    // Reading (JSON parsing) is most of a merge: the shards are read in parallel.
    let parts: Vec<ScanResult> = dirs
        .par_iter()
        .map(|d| ScanResult::read(d))
        .collect::<Result<_>>()?;
    for (dir, part) in dirs.iter().zip(parts) {
        shards_seen.push(part.shard.clone().unwrap_or_else(|| "whole".into()));
        match &mut merged {
            None => merged = Some(part),
            Some(m) => add_shard(m, part, dir, &dirs[0])?,
        }
    }
    let Some(mut merged) = merged else {
        bail!("scan merge: no shard folders given");
    };
    // The same shard twice would count its images twice.
    let mut unique = shards_seen.clone();
    unique.sort();
    unique.dedup();
    if unique.len() != shards_seen.len() {
        bail!(
            "scan merge: a shard is given twice ({})",
            shards_seen.join(", ")
        );
    }
    merged.shard = None;
    merged.skipped.sort_by_key(|s| s.image);
    for layer in &mut merged.layers {
        layer.refresh();
    }
    Ok(merged)
}

/// One more shard (read from `dir`) into `m`, which must be of the same model, files and layers
/// as the first (read from `first`).
fn add_shard(m: &mut ScanResult, part: ScanResult, dir: &Path, first: &Path) -> Result<()> {
    if m.files != part.files || m.model != part.model || m.top != part.top {
        bail!(
            "{}: scanned another model, folder or --top than {}",
            dir.display(),
            first.display()
        );
    }
    if m.layers.len() != part.layers.len() && !m.layers.is_empty() && !part.layers.is_empty() {
        bail!(
            "{}: scanned other layers than {}",
            dir.display(),
            first.display()
        );
    }
    if m.layers.is_empty() {
        m.layers = part.layers.clone();
    } else {
        let top = m.top;
        for (a, b) in m.layers.iter_mut().zip(&part.layers) {
            if a.tensor != b.tensor {
                bail!(
                    "{}: layer '{}' where '{}' was expected",
                    dir.display(),
                    b.name,
                    a.name
                );
            }
            if b.stats.images > 0 {
                a.stats.merge(&b.stats, top);
            }
        }
    }
    m.scanned += part.scanned;
    m.skipped.extend(part.skipped);
    Ok(())
}

/// The merged scan's montages, drawn as a single scan draws them: its top images run again on
/// the engines a scan opens.
fn draw_montages(
    source: &MontageSource,
    merged: &ScanResult,
    folder: &OutputFolder,
    report: &dyn Reporter,
) -> Result<usize> {
    let model = source.run.open_model(&source.model)?;
    let name = source
        .model
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name != merged.model {
        bail!(
            "{}: the shards scanned '{}', not this model",
            source.model.display(),
            sanitize(&merged.model)
        );
    }
    if list_images(&source.data)? != merged.files {
        bail!(
            "{}: holds other images than the {} the shards scanned",
            source.data.display(),
            merged.files.len()
        );
    }
    // scan.json names layers by their cleaned tensor names.
    let mut tensors = Vec::with_capacity(merged.layers.len());
    for layer in &merged.layers {
        match model
            .sites
            .iter()
            .find(|s| sanitize(&s.tensor) == layer.tensor)
        {
            Some(site) => tensors.push(site.tensor.clone()),
            None => bail!(
                "{}: has no layer '{}', which the shards scanned",
                source.model.display(),
                layer.tensor
            ),
        }
    }
    let selection = Selection::Tensors(tensors);
    let mut run = source.run.clone();
    run.engine.runs_beside_other_work = true;
    let count = engines_side_by_side(&model, &mut run);
    let mut engines = Vec::with_capacity(count);
    for _ in 0..count {
        let mut analyzer = Analyzer::open(model.clone(), &run, &selection)?;
        analyzer.share_budget(count);
        if engines.is_empty() {
            if let Some(note) = &analyzer.engine_note {
                report.note(note);
            }
        }
        engines.push(analyzer);
    }
    montage::write_all(&mut engines, &source.data, merged, folder.path())
}
