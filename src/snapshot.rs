//! The headless path: for each image, write each selected layer's grid, sum (and optional
//! overlay and .npy) plus a summary.json. No TTY needed; stable file names.

use crate::activations::{Activations, ClassScore, Layer, LayerKind};
use crate::model::{Model, TensorSite};
use crate::render::{self, Colormap, GridStyle, Normalization};
use anyhow::{bail, Context, Result};
use rayon::prelude::*;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct SnapshotOptions {
    pub colormap: Colormap,
    pub normalization: Normalization,
    /// Pixels per activation value; `None` = enlarge small maps to at least 32 px.
    pub scale: Option<u32>,
    pub tile_labels: bool,
    pub overlay: bool,
    pub npy: bool,
    pub print: bool,
}

/// Why a `--layer` pattern matched nothing, with the closest names.
#[derive(Debug, thiserror::Error)]
#[error("no layer matches '{pattern}'{hint}")]
pub struct NoMatch {
    pub pattern: String,
    pub hint: String,
}

/// Resolves `--layer` patterns (exact name, tensor name, glob, or index) to tensor names, in
/// graph order. An empty list means every layer.
pub fn select_layers(model: &Model, patterns: &[String]) -> Result<Option<Vec<String>>, NoMatch> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut chosen: HashSet<usize> = HashSet::new();
    for pattern in patterns {
        let matched: Vec<&TensorSite> = if let Ok(index) = pattern.parse::<usize>() {
            model.sites.iter().filter(|s| s.index == index).collect()
        } else if let Some(site) = model
            .sites
            .iter()
            .find(|s| s.display == *pattern || s.tensor == *pattern)
        {
            vec![site]
        } else {
            match glob::Pattern::new(pattern) {
                Ok(p) => model
                    .sites
                    .iter()
                    .filter(|s| p.matches(&s.display) || p.matches(&s.tensor))
                    .collect(),
                Err(_) => Vec::new(),
            }
        };
        if matched.is_empty() {
            return Err(NoMatch {
                pattern: crate::model::sanitize(pattern),
                hint: near_matches(model, pattern),
            });
        }
        chosen.extend(matched.iter().map(|s| s.index));
    }
    Ok(Some(
        model
            .sites
            .iter()
            .filter(|s| chosen.contains(&s.index))
            .map(|s| s.tensor.clone())
            .collect(),
    ))
}

fn near_matches(model: &Model, pattern: &str) -> String {
    let lower = pattern.to_lowercase();
    let mut scored: Vec<(f64, &str)> = model
        .sites
        .iter()
        .map(|s| {
            let name = s.display.to_lowercase();
            let mut score = strsim::jaro_winkler(&lower, &name);
            if name.contains(&lower) {
                score += 0.5;
            }
            (score, s.display.as_str())
        })
        .filter(|(score, _)| *score > 0.6)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    if scored.is_empty() {
        format!("; `featscope layers {}` lists them", model.path.display())
    } else {
        let names: Vec<&str> = scored.iter().take(5).map(|(_, n)| *n).collect();
        format!("; did you mean: {}", names.join(", "))
    }
}

/// A name that is safe as a file name on every OS: [A-Za-z0-9._-], no leading dot, ≤ 100 chars.
pub fn file_stem(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    s = s.trim_start_matches(['.', '_']).to_string();
    s.truncate(100);
    if s.is_empty() {
        s = "layer".into();
    }
    s
}

/// Gives each name a distinct file stem (case-insensitively, for macOS and Windows).
pub fn unique_stems<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut used: HashSet<String> = HashSet::new();
    names
        .into_iter()
        .map(|n| {
            let base = file_stem(n);
            let mut stem = base.clone();
            let mut k = 2;
            while !used.insert(stem.to_lowercase()) {
                stem = format!("{base}_{k}");
                k += 1;
            }
            stem
        })
        .collect()
}

pub use crate::outdir::write_atomic;

/// An 8-bit palette PNG: a third of the bytes of RGB for the same picture.
pub fn encode_indexed_png(img: &render::IndexedImage) -> Result<Vec<u8>> {
    render::png::encode_indexed(img).context("PNG encoding failed")
}

pub fn encode_png(img: &image::RgbImage) -> Result<Vec<u8>> {
    render::png::encode_rgb(img).context("PNG encoding failed")
}

pub fn check_output_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("{}: cannot create the output folder", dir.display()))?;
    crate::outdir::check_writable(dir)
}

/// The files a summary.json in `dir` lists (plain names only), to remove those a new snapshot
/// does not write again: the folder then holds exactly what its summary describes.
fn files_listed(dir: &Path) -> Vec<String> {
    let Ok(bytes) = crate::files::read_limited(&dir.join("summary.json"), 64 << 20, "a summary")
    else {
        return Vec::new();
    };
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Vec::new();
    };
    json["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|l| l["files"].as_array().into_iter().flatten())
        .filter_map(|f| f.as_str())
        .filter(|f| !f.is_empty() && file_stem(f) == *f)
        .map(str::to_string)
        .collect()
}

#[derive(serde::Serialize)]
struct TopChannel {
    channel: usize,
    mean: f32,
}

#[derive(serde::Serialize)]
struct LayerSummary {
    name: String,
    tensor: String,
    index: usize,
    op: String,
    shape: Vec<usize>,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    layout: Option<crate::model::Layout>,
    #[serde(skip_serializing_if = "Option::is_none")]
    grid: Option<GridShape>,
    #[serde(skip_serializing_if = "Option::is_none", flatten)]
    stats: Option<render::LayerStats>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    top_channels: Vec<TopChannel>,
    files: Vec<String>,
}

#[derive(serde::Serialize)]
struct GridShape {
    rows: usize,
    cols: usize,
}

#[derive(serde::Serialize)]
struct Summary<'a> {
    model: String,
    image: String,
    engine: &'a str,
    input: &'a str,
    inference_ms: f64,
    colormap: Colormap,
    normalization: Normalization,
    #[serde(skip_serializing_if = "Option::is_none")]
    top5: Option<&'a [ClassScore]>,
    layers: Vec<LayerSummary>,
}

/// Renders and writes one layer's files; returns its summary entry.
fn write_layer(
    layer: &Layer,
    stem: &str,
    out: &Path,
    acts: &Activations,
    opts: &SnapshotOptions,
) -> Result<(LayerSummary, Vec<(String, image::RgbImage)>)> {
    let mut summary = LayerSummary {
        name: layer.name.clone(),
        tensor: crate::model::sanitize(&layer.tensor),
        index: layer.index,
        op: layer.op.clone(),
        shape: layer.shape.clone(),
        kind: layer.kind.label(),
        reason: match &layer.kind {
            LayerKind::Other(r) => Some(r.clone()),
            _ => None,
        },
        layout: None,
        grid: None,
        stats: None,
        top_channels: Vec::new(),
        files: Vec::new(),
    };
    let mut printed = Vec::new();
    let Some(fm) = layer.feature_maps() else {
        return Ok((summary, printed));
    };
    let mut style = GridStyle::for_maps(fm);
    style.colormap = opts.colormap;
    style.normalization = opts.normalization;
    style.labels = opts.tile_labels;
    if let Some(s) = opts.scale {
        style.scale = s.max(1);
    }
    let stats = render::layer_stats(fm);
    let channels: Vec<usize> = (0..fm.channels).collect();
    let (rows, cols) = render::grid_shape(fm.channels);
    let grid = render::render_grid(fm, &channels, &style);
    // The summed map is one picture: enlarged further so small maps read at a glance.
    let sum_scale = opts
        .scale
        .unwrap_or_else(|| render::auto_scale(fm.height, fm.width, 224));
    let sum = render::render_sum(fm, style.colormap, sum_scale);
    let mut files = vec![
        (format!("{stem}_grid.png"), encode_indexed_png(&grid)?),
        (format!("{stem}_sum.png"), encode_indexed_png(&sum)?),
    ];
    if opts.overlay {
        let overlay = render::render_overlay(fm, &acts.input_image, style.colormap, 0.5);
        files.push((format!("{stem}_overlay.png"), encode_png(&overlay)?));
    }
    if opts.npy {
        let arr =
            ndarray::Array3::from_shape_vec((fm.channels, fm.height, fm.width), fm.data.clone())
                .context("activation shape")?;
        let mut buf = Vec::new();
        ndarray_npy::WriteNpyExt::write_npy(&arr, &mut buf).context("npy encoding failed")?;
        files.push((format!("{stem}.npy"), buf));
    }
    for (name, bytes) in &files {
        write_atomic(&out.join(name), bytes)?;
    }
    if opts.print {
        printed.push((format!("{} — grid", layer.name), grid.to_rgb()));
        printed.push((format!("{} — sum", layer.name), sum.to_rgb()));
    }
    summary.layout = Some(layer.layout);
    summary.grid = Some(GridShape { rows, cols });
    summary.top_channels = render::channels_by_mean(&stats)
        .into_iter()
        .take(5)
        .map(|c| TopChannel {
            channel: c,
            mean: stats.channel_means[c],
        })
        .collect();
    summary.stats = Some(stats);
    summary.files = files.into_iter().map(|(n, _)| n).collect();
    Ok((summary, printed))
}

/// Writes everything for one image's activations into `out`. `only` limits the layers written
/// (tensor names); `None` writes every feature map.
pub fn write_snapshot(
    acts: &Activations,
    model: &Model,
    image: &Path,
    only: Option<&[String]>,
    out: &Path,
    opts: &SnapshotOptions,
) -> Result<Vec<PathBuf>> {
    check_output_dir(out)?;
    let _lock = crate::outdir::lock_folder(out)?;
    crate::outdir::remove_stale_temp_files(out);
    let before = files_listed(out);
    let layers: Vec<&Layer> = acts
        .layers
        .iter()
        .filter(|l| match only {
            Some(names) => names.contains(&l.tensor),
            None => l.kind == LayerKind::FeatureMap,
        })
        .collect();
    if layers.is_empty() {
        bail!("{}: no feature maps to draw", model.path.display());
    }
    let stems = unique_stems(layers.iter().map(|l| l.name.as_str()));
    // Layers render in parallel; each holds only its own pictures.
    let results: Vec<_> = layers
        .par_iter()
        .zip(stems.par_iter())
        .map(|(layer, stem)| write_layer(layer, stem, out, acts, opts))
        .collect::<Result<_>>()?;
    let mut written = Vec::new();
    let mut summaries = Vec::new();
    for (summary, printed) in results {
        written.extend(summary.files.iter().map(|f| out.join(f)));
        for (title, img) in printed {
            print_image(&title, &img);
        }
        summaries.push(summary);
    }
    let summary = Summary {
        model: model.path.display().to_string(),
        image: image.display().to_string(),
        engine: &acts.engine,
        input: &acts.input_description,
        inference_ms: acts.inference.as_secs_f64() * 1000.0,
        colormap: opts.colormap,
        normalization: opts.normalization,
        top5: acts.top5.as_deref(),
        layers: summaries,
    };
    let json = serde_json::to_vec_pretty(&summary).context("summary.json")?;
    let path = out.join("summary.json");
    write_atomic(&path, &json)?;
    written.push(path);
    // What an earlier snapshot wrote here and this one did not: it would not be described.
    for old in before {
        let old = out.join(old);
        if !written.contains(&old) {
            let _ = std::fs::remove_file(old);
        }
    }
    Ok(written)
}

/// Draws a picture on stdout the way the terminal shows pictures (asked once, with a bounded
/// wait; half-blocks into a pipe).
fn print_image(title: &str, img: &image::RgbImage) {
    static PRINTER: std::sync::OnceLock<crate::term::print::Printer> = std::sync::OnceLock::new();
    println!("{}", crate::model::sanitize(title));
    let printer = PRINTER.get_or_init(crate::term::print::Printer::for_stdout);
    if let Err(e) = printer.print(img) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!(
                "featscope: cannot print {}: {e}",
                crate::model::sanitize(title)
            );
        }
    }
}
