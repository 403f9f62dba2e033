//! The headless path: for each image, write each selected layer's grid, sum (and optional
//! overlay and .npy) plus a summary.json. No TTY needed; stable file names.

use crate::activations::{Activations, ClassScore, Layer, LayerData};
use crate::explain::run::{Evidence, Explainer};
use crate::model::structure::conv_kernels;
use crate::model::weights::{Constants, Weight};
use crate::model::Model;
use crate::outdir::write_atomic;
use crate::pipeline::{Analyzer, RunConfig, Selection};
use crate::record::{GridShape, LayerRecord, TopChannel};
use crate::render::{self, Colormap, GridStyle, Normalization};
use crate::report::{Reporter, Work};
use crate::text::sanitize;
use anyhow::{bail, Context, Result};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// The defaults are `featscope snapshot`'s: viridis, per-channel, nothing optional written.
#[derive(Clone, Debug, Default)]
pub struct SnapshotOptions {
    pub colormap: Colormap,
    pub normalization: Normalization,
    /// Pixels per activation value; `None` = enlarge small maps to at least 32 px.
    pub scale: Option<u32>,
    pub tile_labels: bool,
    pub overlay: bool,
    pub npy: bool,
    pub print: bool,
    /// Also write `<layer>_filters.png` for convolutions with constant kernels.
    pub filters: bool,
    /// A class evidence map to make for each image.
    pub cam: Option<crate::explain::run::EvidenceRequest>,
    /// `--montage C`: channel C of each layer on every image, one PNG per layer.
    pub montage: Option<usize>,
    /// `--fail-on-nonfinite`: an image whose layers hold NaN or ±Inf counts as failed.
    pub fail_on_nonfinite: bool,
}

/// The first layer, in graph order, holding NaN or ±Inf: where a broken model breaks.
pub fn first_nonfinite(acts: &Activations) -> Option<&Layer> {
    acts.layers.iter().find(|l| l.nonfinite.any())
}

/// One line for it: "layer 'x' (Log) holds 12 NaN, 3 −Inf of 4096 values".
pub fn nonfinite_line(layer: &Layer) -> String {
    let total: usize = layer.shape.iter().product();
    format!(
        "first non-finite values at layer '{}' ({}): {} of {total} values",
        layer.name,
        layer.op,
        layer.nonfinite.describe()
    )
}

pub use crate::error::UsageError;

/// One image's channel in a montage: its label, values, height and width.
type MontageEntry = (String, Vec<f32>, usize, usize);

/// Channel C of one layer on each image, gathered while the images run.
#[derive(Default)]
struct Montage {
    /// Per layer position: the layer's name and one entry per image.
    tiles: std::collections::BTreeMap<usize, (String, Vec<MontageEntry>)>,
}

impl Montage {
    fn add(&mut self, label: &str, acts: &Activations, only: Option<&[String]>, channel: usize) {
        for layer in &acts.layers {
            if only.is_some_and(|names| !names.contains(&layer.tensor)) {
                continue;
            }
            let Some(fm) = layer.feature_maps() else {
                continue;
            };
            if channel >= fm.channels {
                continue;
            }
            let entry = self
                .tiles
                .entry(layer.index)
                .or_insert_with(|| (layer.name.to_string(), Vec::new()));
            entry.1.push((
                label.to_string(),
                fm.channel(channel).to_vec(),
                fm.height,
                fm.width,
            ));
        }
    }

    /// Writes `montage_<layer>_c<channel>.png` for each layer into `out`; returns the files.
    fn write(&self, out: &Path, channel: usize, opts: &SnapshotOptions) -> Result<Vec<PathBuf>> {
        let names: Vec<&str> = self.tiles.values().map(|(n, _)| n.as_str()).collect();
        let stems = crate::outdir::unique_stems(names);
        let mut written = Vec::new();
        for ((_, (_, tiles)), stem) in self.tiles.iter().zip(stems) {
            let all: Vec<f32> = tiles.iter().flat_map(|t| t.1.iter().copied()).collect();
            let range = render::min_max(&all);
            let (h, w) = tiles
                .iter()
                .fold((1, 1), |(h, w), t| (h.max(t.2), w.max(t.3)));
            let scale = opts.scale.unwrap_or_else(|| render::auto_scale(h, w, 64));
            let drawn: Vec<render::MontageTile<'_>> = tiles
                .iter()
                .map(|(label, values, height, width)| render::MontageTile {
                    label,
                    values,
                    height: *height,
                    width: *width,
                })
                .collect();
            let img = render::render_montage(&drawn, range, opts.colormap, scale);
            let path = out.join(format!("montage_{stem}_c{channel}.png"));
            write_atomic(&path, &encode_indexed_png(&img)?)?;
            written.push(path);
        }
        Ok(written)
    }
}

/// An 8-bit palette PNG: a third of the bytes of RGB for the same picture.
pub fn encode_indexed_png(img: &render::IndexedImage) -> Result<Vec<u8>> {
    render::png::encode_indexed(img).context("PNG encoding failed")
}

/// A float32 array as `.npy` bytes (`numpy.load` reads them).
fn encode_npy(arr: &impl ndarray_npy::WriteNpyExt) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    arr.write_npy(&mut buf).context("npy encoding failed")?;
    Ok(buf)
}

fn encode_png(img: &image::RgbImage) -> Result<Vec<u8>> {
    render::png::encode_rgb(img).context("PNG encoding failed")
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
        .chain(std::iter::once(&json["cam"]))
        .flat_map(|l| l["files"].as_array().into_iter().flatten())
        .filter_map(|f| f.as_str())
        .filter(|f| !f.is_empty() && crate::outdir::file_stem(f) == *f)
        .map(str::to_string)
        .collect()
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
    layers: Vec<LayerRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cam: Option<CamRecord>,
}

/// summary.json's account of the evidence map: how it was made and where it lies.
#[derive(serde::Serialize)]
struct CamRecord {
    method: crate::explain::Method,
    layer: String,
    tensor: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    class: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<f32>,
    channels: usize,
    height: usize,
    width: usize,
    min: f32,
    max: f32,
    mean: f64,
    files: Vec<String>,
}

/// Writes the evidence map's files: the map, its overlay on the input, and (with `--npy`) the
/// raw values.
fn write_evidence(
    evidence: &Evidence,
    out: &Path,
    acts: &Activations,
    opts: &SnapshotOptions,
    report: &dyn Reporter,
) -> Result<CamRecord> {
    let map = &evidence.map;
    let stem = evidence.stem();
    let range = render::min_max(&map.values);
    let scale = opts
        .scale
        .unwrap_or_else(|| render::auto_scale(map.height, map.width, 224));
    let picture = render::colorize_indexed(
        &map.values,
        map.height,
        map.width,
        range,
        opts.colormap,
        scale,
    );
    let overlay = render::render_overlay(
        &map.as_feature_maps(),
        &acts.input_image,
        opts.colormap,
        0.5,
    );
    let mut files = vec![
        (format!("{stem}.png"), encode_indexed_png(&picture)?),
        (format!("{stem}_overlay.png"), encode_png(&overlay)?),
    ];
    if opts.npy {
        let arr = ndarray::Array2::from_shape_vec((map.height, map.width), map.values.clone())
            .context("evidence map shape")?;
        files.push((format!("{stem}.npy"), encode_npy(&arr)?));
    }
    for (name, bytes) in &files {
        write_atomic(&out.join(name), bytes)?;
    }
    if opts.print {
        report.picture(&evidence.caption(), &overlay);
    }
    Ok(CamRecord {
        method: evidence.method,
        layer: evidence.layer.to_string(),
        tensor: sanitize(&evidence.tensor),
        class: evidence.class,
        label: evidence.label.as_ref().map(|l| l.to_string()),
        score: evidence.score,
        channels: evidence.channels,
        height: map.height,
        width: map.width,
        min: range.0,
        max: range.1,
        mean: map.mean(),
        files: files.into_iter().map(|(n, _)| n).collect(),
    })
}

/// Renders and writes one layer's files; returns its summary entry.
fn write_layer(
    layer: &Layer,
    stem: &str,
    out: &Path,
    acts: &Activations,
    kernels: Option<&Weight>,
    opts: &SnapshotOptions,
) -> Result<(LayerRecord, Vec<(String, image::RgbImage)>)> {
    let mut summary = LayerRecord::of(layer);
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
    if let Some((img, view)) =
        kernels.and_then(|w| render::filters::render_kernels(&w.dims, &w.values, style.colormap))
    {
        files.push((format!("{stem}_filters.png"), encode_png(&img)?));
        summary.filters = Some(view);
        if opts.print {
            printed.push((format!("{} — filters", layer.name), img));
        }
    }
    if opts.npy {
        let arr =
            ndarray::Array3::from_shape_vec((fm.channels, fm.height, fm.width), fm.data.to_vec())
                .context("activation shape")?;
        files.push((format!("{stem}.npy"), encode_npy(&arr)?));
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
    write_snapshot_with(
        acts,
        model,
        image,
        only,
        out,
        opts,
        None,
        &crate::report::Silent,
    )
}

/// [`write_snapshot`], with an evidence map made for this image; with `--print`, the pictures
/// go to `report` as they are written.
#[allow(clippy::too_many_arguments)]
pub fn write_snapshot_with(
    acts: &Activations,
    model: &Model,
    image: &Path,
    only: Option<&[String]>,
    out: &Path,
    opts: &SnapshotOptions,
    evidence: Option<&Evidence>,
    report: &dyn Reporter,
) -> Result<Vec<PathBuf>> {
    let _folder = crate::outdir::OutputFolder::open(out)?;
    let before = files_listed(out);
    let layers: Vec<&Layer> = acts
        .layers
        .iter()
        .filter(|l| match only {
            Some(names) => names.contains(&l.tensor),
            None => matches!(l.data, LayerData::FeatureMaps(_)),
        })
        .collect();
    if layers.is_empty() {
        bail!("{}: no feature maps to draw", model.path.display());
    }
    let stems = crate::outdir::unique_stems(layers.iter().map(|l| l.name.as_str()));
    let kernels: Vec<Option<Weight>> = if opts.filters {
        let constants = Constants::of(model)?;
        layers
            .iter()
            .map(|l| conv_kernels(&constants, model, &l.tensor))
            .collect::<Result<_, _>>()?
    } else {
        vec![None; layers.len()]
    };
    // Layers render in parallel; each holds only its own pictures.
    let results: Vec<_> = layers
        .par_iter()
        .zip(stems.par_iter())
        .zip(kernels.par_iter())
        .map(|((layer, stem), kernels)| write_layer(layer, stem, out, acts, kernels.as_ref(), opts))
        .collect::<Result<_>>()?;
    let mut written = Vec::new();
    let mut summaries = Vec::new();
    for (summary, printed) in results {
        written.extend(summary.files.iter().map(|f| out.join(f)));
        for (title, img) in printed {
            report.picture(&title, &img);
        }
        summaries.push(summary);
    }
    let cam = match evidence {
        Some(e) => {
            let record = write_evidence(e, out, acts, opts, report)?;
            written.extend(record.files.iter().map(|f| out.join(f)));
            Some(record)
        }
        None => None,
    };
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
        cam,
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

// ---- the command: a batch of images ----

/// What `featscope snapshot` was asked.
#[derive(Clone, Debug)]
pub struct Batch {
    pub model: PathBuf,
    /// Images, or folders of images.
    pub images: Vec<PathBuf>,
    /// `--layer` patterns; none means every feature map.
    pub layers: Vec<String>,
    pub out: PathBuf,
    pub options: SnapshotOptions,
    pub run: RunConfig,
}

/// How a batch went: the command exits 1 when any image failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchOutcome {
    pub images: usize,
    pub failed: usize,
}

/// Arguments → images: folders expand to their images, sorted; other paths stay as given (a
/// missing one then fails on its own). A folder with no image is one failure among the rest.
fn expand_images(args: &[PathBuf]) -> Vec<Result<PathBuf>> {
    let mut out = Vec::new();
    for arg in args {
        if !arg.is_dir() {
            out.push(Ok(arg.clone()));
            continue;
        }
        let listed = std::fs::read_dir(arg)
            .with_context(|| format!("{}: cannot list the folder", arg.display()));
        let mut found: Vec<PathBuf> = match listed {
            Ok(entries) => entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && crate::preprocess::has_image_extension(p))
                .collect(),
            Err(e) => {
                out.push(Err(e));
                continue;
            }
        };
        if found.is_empty() {
            out.push(Err(anyhow::anyhow!(
                "{}: the folder holds no images",
                arg.display()
            )));
        }
        found.sort();
        out.extend(found.into_iter().map(Ok));
    }
    out
}

/// Runs one `featscope snapshot`: every image (or folder of images) through the model, files
/// for each into `out` (one sub-folder each when there are several), their paths on stdout,
/// one line on stderr for each image that failed (the others are still done).
pub fn run_batch(batch: &Batch, report: &dyn Reporter) -> Result<BatchOutcome> {
    let (model, only) = batch.run.open_selected(&batch.model, &batch.layers)?;
    let images = expand_images(&batch.images);
    if batch.options.montage.is_some() && images.len() < 2 {
        return Err(UsageError(
            "--montage shows one channel across images: give two or more images, or a folder"
                .into(),
        )
        .into());
    }
    // Fails early on a folder that cannot be written; each image's folder is held as written.
    drop(crate::outdir::OutputFolder::open(&batch.out)?);
    let mut job = BatchRun::open(batch, model, only)?;
    if let Some(note) = &job.analyzer.engine_note {
        report.note(note);
    }
    let several = images.len() > 1;
    let dirs = image_folders(&batch.out, &images);
    if several {
        report.start(Work::Images, images.len() as u64, 0);
    }
    let mut failed = 0usize;
    let mut files = 0usize;
    for (image, dir) in images.iter().zip(&dirs) {
        let result = image
            .as_ref()
            .map_err(|e| anyhow::anyhow!("{e:#}"))
            .and_then(|image| {
                if several {
                    report.doing(&image.display().to_string());
                }
                job.one_image(image, dir, report)
            });
        match result {
            Ok((written, broken)) => {
                if let Some(line) = broken {
                    if batch.options.fail_on_nonfinite {
                        failed += 1;
                    }
                    report.note(&line);
                }
                files += written.len();
                if !batch.options.print {
                    for f in &written {
                        report.wrote(f);
                    }
                }
            }
            Err(e) => {
                failed += 1;
                report.failed(&crate::text::error_line(&e));
            }
        }
        if several {
            report.advance();
        }
    }
    if several {
        report.finish();
    }
    let opts = &batch.options;
    if let (Some(m), Some(c)) = (&job.montage, opts.montage) {
        if m.tiles.is_empty() && failed < images.len() {
            report.failed(&format!(
                "no selected layer has a channel {c}; no montage written"
            ));
            failed = failed.max(1);
        }
        for path in m.write(&batch.out, c, opts)? {
            files += 1;
            report.wrote(&path);
        }
    }
    if several {
        report.note(&format!(
            "{} of {} images done, {files} files in {}",
            images.len() - failed,
            images.len(),
            batch.out.display()
        ));
    }
    Ok(BatchOutcome {
        images: images.len(),
        failed,
    })
}

/// Each image's output folder: `out` itself for one image, else a sub-folder per image named
/// after it (names made distinct).
fn image_folders(out: &Path, images: &[Result<PathBuf>]) -> Vec<PathBuf> {
    if images.len() <= 1 {
        return vec![out.to_path_buf()];
    }
    let stems: Vec<String> = images
        .iter()
        .map(|p| {
            p.as_ref()
                .ok()
                .and_then(|p| p.file_stem())
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    crate::outdir::unique_stems(stems.iter().map(String::as_str))
        .into_iter()
        .map(|s| out.join(s))
        .collect()
}

/// A batch opened: the engine, the layers written, the evidence maps asked for, and the
/// montage being gathered.
struct BatchRun<'a> {
    batch: &'a Batch,
    analyzer: Analyzer,
    only: Option<Vec<String>>,
    request: Option<crate::explain::run::EvidenceRequest>,
    explainer: Option<Explainer>,
    montage: Option<Montage>,
}

impl<'a> BatchRun<'a> {
    fn open(batch: &'a Batch, model: Model, only: Option<Vec<String>>) -> Result<BatchRun<'a>> {
        let mut request = batch.options.cam.clone();
        if let Some(r) = request.as_mut() {
            // --cam-layer is a pattern like --layer's; it must name one layer.
            if let Some(pattern) = r.layer.take() {
                let found = crate::model::select_layers(&model, std::slice::from_ref(&pattern))?
                    .unwrap_or_default();
                match found.as_slice() {
                    [one] => r.layer = Some(one.clone()),
                    _ => bail!(
                        "--cam-layer '{}' matches {} layers; name one",
                        sanitize(&pattern),
                        found.len()
                    ),
                }
            }
        }
        let explainer = match &request {
            Some(request) => {
                let explainer = Explainer::new(&model)?;
                let needed = explainer
                    .tensors_needed(&model, request)
                    .with_context(|| model.path.display().to_string())?;
                Some((explainer, needed))
            }
            None => None,
        };
        let selection = match &only {
            Some(tensors) => {
                let mut tensors = tensors.clone();
                for t in explainer.iter().flat_map(|(_, needed)| needed) {
                    if !tensors.contains(t) {
                        tensors.push(t.clone());
                    }
                }
                Selection::Tensors(tensors)
            }
            None => Selection::All,
        };
        let analyzer = Analyzer::open(model, &batch.run, &selection)?;
        Ok(BatchRun {
            batch,
            analyzer,
            only,
            request,
            explainer: explainer.map(|(e, _)| e),
            montage: batch.options.montage.map(|_| Montage::default()),
        })
    }

    /// One image into `dir`: the files written, and a line when a value is not finite.
    fn one_image(
        &mut self,
        image: &Path,
        dir: &Path,
        report: &dyn Reporter,
    ) -> Result<(Vec<PathBuf>, Option<String>)> {
        let opts = &self.batch.options;
        let acts = self.analyzer.compute(image)?;
        let broken =
            first_nonfinite(&acts).map(|l| format!("{}: {}", image.display(), nonfinite_line(l)));
        let evidence = match (&self.explainer, &self.request) {
            (Some(explainer), Some(request)) => {
                let mut progress = |done: usize, total: usize| {
                    if total > 0 {
                        report.doing(&format!("score-cam {done}/{total} masked inputs"));
                    }
                    if done == total {
                        report.doing("");
                    }
                };
                let evidence = explainer
                    .explain(&mut self.analyzer, &acts, request, &mut progress)
                    .with_context(|| image.display().to_string())?;
                Some(evidence)
            }
            _ => None,
        };
        let written = write_snapshot_with(
            &acts,
            &self.analyzer.model,
            image,
            self.only.as_deref(),
            dir,
            opts,
            evidence.as_ref(),
            report,
        )?;
        if let (Some(m), Some(c)) = (self.montage.as_mut(), opts.montage) {
            let label = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            m.add(&label, &acts, self.only.as_deref(), c);
        }
        Ok((written, broken))
    }
}
