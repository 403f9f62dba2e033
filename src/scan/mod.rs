//! `featscope scan`: what excites each channel across a folder of images. Images are decoded in
//! parallel on their own thread while the model runs, reduced on the fly (per-channel running
//! figures and bounded top-k lists, see [`stats`]), checkpointed after every batch so a killed
//! scan resumes, and split into shards that merge exactly.

pub mod montage;
pub mod stats;

use crate::model::Model;
use crate::outdir::write_atomic;
use crate::pipeline::{Analyzer, RunConfig, Selection};
use crate::text::sanitize;
use anyhow::{bail, Context, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use stats::LayerStats;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

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

/// One image decoded and prepared for the model, or why it could not be.
type Decoded = (usize, Result<crate::preprocess::Prepared, String>);

pub fn run(job: &ScanJob) -> Result<ScanOutcome> {
    crate::outdir::clean_up_on_signals()?;
    let started = Instant::now();
    let model = job.run.open_model(&job.model)?;
    let only = crate::snapshot::select_layers(&model, &job.layers)?;
    let files = list_images(&job.data)?;
    if files.is_empty() {
        bail!("{}: the folder holds no images", job.data.display());
    }
    let mine: Vec<usize> = match job.shard {
        Some((i, n)) => (0..files.len()).filter(|k| k % n == i - 1).collect(),
        None => (0..files.len()).collect(),
    };
    std::fs::create_dir_all(&job.out)
        .with_context(|| format!("{}: cannot create the folder", job.out.display()))?;
    crate::snapshot::check_output_dir(&job.out)?;
    let _lock = crate::outdir::lock_folder(&job.out)?;
    crate::outdir::remove_stale_temp_files(&job.out);

    let selection = match &only {
        Some(t) => Selection::Tensors(t.clone()),
        None => Selection::All,
    };
    let mut run = job.run.clone();
    run.engine.runs_beside_other_work = true;
    let engines = engines_side_by_side(&model, &mut run);
    let mut analyzer = Analyzer::open(model.clone(), &run, &selection)?;
    if let Some(note) = &analyzer.engine_note {
        eprintln!("featscope: {}", sanitize(note));
    }
    // The others open while the first batch is decoded.
    let others = {
        let (run, selection) = (run.clone(), selection.clone());
        std::thread::spawn(move || -> Result<Vec<Analyzer>> {
            (1..engines)
                .map(|_| Analyzer::open(model.clone(), &run, &selection))
                .collect()
        })
    };
    analyzer.share_budget(engines);
    let model_name = job
        .model
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let wanted: Vec<String> = match &only {
        Some(t) => t.clone(),
        None => analyzer
            .model
            .sites
            .iter()
            .filter(|s| s.may_be_feature_map())
            .map(|s| s.tensor.clone())
            .collect(),
    };
    let fingerprint = format!(
        "{model_name}:{}:{}:{}:{}:{:?}",
        analyzer.model.bytes.len(),
        files.len(),
        wanted.join("|"),
        job.top,
        job.shard
    );
    let empty_result = || ScanResult {
        format: FORMAT.into(),
        model: model_name.clone(),
        files: files.clone(),
        top: job.top,
        shard: job.shard.map(|(i, n)| format!("{i}/{n}")),
        scanned: 0,
        skipped: Vec::new(),
        layers: Vec::new(),
    };
    let checkpoint_path = job.out.join(CHECKPOINT);
    let (mut result, mut next) = match job.resume.then(|| read_checkpoint(&checkpoint_path, job.top)) {
        Some(Some(c)) if c.fingerprint == fingerprint => {
            eprintln!(
                "featscope: resuming at image {} of {}",
                c.next,
                mine.len()
            );
            (
                ScanResult {
                    scanned: c.scanned,
                    skipped: c.skipped,
                    layers: c.layers,
                    ..empty_result()
                },
                c.next,
            )
        }
        Some(Some(_)) => bail!(
            "{}: the checkpoint is for another model, folder or settings; remove it or drop --resume",
            checkpoint_path.display()
        ),
        found => {
            if found.is_some() {
                eprintln!(
                    "featscope: no usable checkpoint in {}; scanning from the start",
                    sanitize(&job.out.display().to_string())
                );
            }
            (empty_result(), 0)
        }
    };

    let progress = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(mine.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {pos}/{len} images · {per_sec} · ETA {eta} {wide_msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_position(next as u64);
        bar
    });
    let batch = job.batch.max(1);
    let (mut decode_time, mut run_time) = (0f64, 0f64);
    let mut runs = 0usize;
    // Decoding runs a batch ahead of the model, on its own thread (and in parallel within it).
    let (tx, rx) = std::sync::mpsc::sync_channel::<(Vec<Decoded>, f64)>(1);
    let to_decode: Vec<(usize, PathBuf)> = mine[next.min(mine.len())..]
        .iter()
        .map(|&k| (k, job.data.join(&files[k])))
        .collect();
    let preparer = analyzer.preparer();
    let step_back = engines == 1;
    let side = side_pool(step_back)?;
    let decoder = {
        let side = side.clone();
        std::thread::Builder::new()
            .name("featscope-decode".into())
            .spawn(move || {
                // Decoding itself runs on the side pool; this thread only hands batches on.
                for group in to_decode.chunks(batch) {
                    let t = Instant::now();
                    let decoded: Vec<Decoded> = side.install(|| {
                        group
                            .par_iter()
                            .map(|(k, path)| {
                                let prepared = crate::preprocess::load_image(path)
                                    .map_err(anyhow::Error::from)
                                    .and_then(|img| preparer.prepare(&img, path))
                                    .map_err(|e| crate::text::error_line(&e));
                                (*k, prepared)
                            })
                            .collect()
                    });
                    if tx.send((decoded, t.elapsed().as_secs_f64())).is_err() {
                        return;
                    }
                }
            })
            .context("cannot start the decoding thread")?
    };
    // Reduction runs on its own thread too, one image behind the model; it owns the figures
    // and writes the checkpoints.
    let (to_reducer, reducer_rx) = std::sync::mpsc::sync_channel::<Reduce>(1);
    let reducer = {
        let (model, wanted, top) = (analyzer.model.clone(), wanted.clone(), job.top);
        let (checkpoint_path, fingerprint) = (checkpoint_path.clone(), fingerprint.clone());
        std::thread::Builder::new()
            .name("featscope-reduce".into())
            .spawn(move || -> Result<(ScanResult, f64)> {
                if step_back {
                    yield_to_inference();
                }
                let mut reduce_time = 0f64;
                let mut positions: Vec<usize> = Vec::new();
                for message in reducer_rx {
                    match message {
                        Reduce::Image(k, acts) => {
                            let t = Instant::now();
                            if result.layers.is_empty() {
                                result.layers = start_layers(&model, &acts, &wanted);
                            }
                            if positions.len() != result.layers.len() {
                                positions = result
                                    .layers
                                    .iter()
                                    .map(|l| {
                                        acts.layers
                                            .iter()
                                            .position(|a| sanitize(&a.tensor) == l.tensor)
                                            .unwrap_or(usize::MAX)
                                    })
                                    .collect();
                            }
                            side.install(|| {
                                result.layers.par_iter_mut().zip(&positions).for_each(
                                    |(layer, &at)| {
                                        let found = acts.layers.get(at);
                                        if let Some(fm) = found.and_then(|l| l.feature_maps()) {
                                            layer.stats.add(fm, k as u32, top);
                                        }
                                        if let Some(l) = found {
                                            layer.stats.add_nonfinite(l.nonfinite);
                                        }
                                    },
                                )
                            });
                            result.scanned += 1;
                            reduce_time += t.elapsed().as_secs_f64();
                        }
                        Reduce::Skipped(k, reason) => result.skipped.push(Skipped {
                            image: k as u32,
                            reason,
                        }),
                        Reduce::BatchDone(next) => {
                            save_checkpoint(&checkpoint_path, &fingerprint, next, &result)?;
                        }
                    }
                }
                Ok((result, reduce_time))
            })
            .context("cannot start the reducing thread")?
    };

    let mut others = match others.join() {
        Ok(opened) => opened?,
        Err(_) => bail!("opening the model's other engines crashed"),
    };
    for other in &mut others {
        other.share_budget(engines);
    }
    // What becomes of one image: its activations or why there are none, told to the reducer
    // (false when the reducer has stopped).
    let report = |k: usize, acts: Result<crate::activations::Activations>| -> bool {
        let message = match acts {
            Ok(acts) => Reduce::Image(k, Box::new(acts)),
            Err(e) => {
                let reason = crate::text::error_line(&e);
                let line = format!("featscope: skipped {reason}");
                match &progress {
                    Some(bar) => bar.println(line),
                    None => eprintln!("{line}"),
                }
                Reduce::Skipped(k, reason)
            }
        };
        if let Some(bar) = &progress {
            bar.inc(1);
        }
        to_reducer.send(message).is_ok()
    };
    'batches: for (decoded, decode_secs) in rx {
        decode_time += decode_secs;
        let count = decoded.len();
        let paths: Vec<PathBuf> = decoded
            .iter()
            .map(|(k, _)| job.data.join(&files[*k]))
            .collect();
        if analyzer.takes_batches() {
            // A free batch axis takes the batch as one input.
            let mut ready = Vec::new();
            let mut outcomes: Vec<(usize, Option<String>)> = Vec::new();
            for ((k, item), path) in decoded.into_iter().zip(&paths) {
                match item {
                    Ok(p) => {
                        ready.push((p, path.as_path()));
                        outcomes.push((k, None));
                    }
                    Err(e) => outcomes.push((k, Some(e))),
                }
            }
            let t = Instant::now();
            runs += usize::from(!ready.is_empty());
            let mut computed = analyzer.compute_batch(ready).into_iter();
            run_time += t.elapsed().as_secs_f64();
            for (k, failed) in outcomes {
                let acts = match failed {
                    Some(e) => Err(anyhow::Error::msg(e)),
                    None => computed
                        .next()
                        .unwrap_or_else(|| Err(anyhow::anyhow!("no result for this image"))),
                };
                if !report(k, acts) {
                    break 'batches;
                }
            }
        } else {
            // A fixed batch of one runs image by image, each handed to the reducer before the
            // next is run; with several engines the images take turns between them.
            let mut shares: Vec<Vec<_>> = (0..engines).map(|_| Vec::new()).collect();
            for (i, ((k, item), path)) in decoded.into_iter().zip(paths).enumerate() {
                shares[i % engines].push((k, path, item));
            }
            let engines_here = std::iter::once(&mut analyzer).chain(others.iter_mut());
            let report = &report;
            let done: Vec<Option<(usize, f64)>> = std::thread::scope(|scope| {
                let handles: Vec<_> = engines_here
                    .zip(shares)
                    .map(|(engine, share)| {
                        scope.spawn(move || {
                            let (mut runs, mut secs) = (0usize, 0f64);
                            for (k, path, item) in share {
                                let acts = match item {
                                    Ok(prepared) => {
                                        let t = Instant::now();
                                        let acts = engine.compute_prepared(prepared, &path);
                                        secs += t.elapsed().as_secs_f64();
                                        runs += 1;
                                        acts
                                    }
                                    Err(e) => Err(anyhow::Error::msg(e)),
                                };
                                if !report(k, acts) {
                                    return None;
                                }
                            }
                            Some((runs, secs))
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().ok().flatten())
                    .collect()
            });
            for d in &done {
                let Some((r, secs)) = d else {
                    break 'batches;
                };
                runs += r;
                run_time += secs / engines as f64;
            }
        }
        next += count;
        if to_reducer.send(Reduce::BatchDone(next)).is_err() {
            break;
        }
    }
    drop(to_reducer);
    let (mut result, reduce_time) = match reducer.join() {
        Ok(done) => done?,
        Err(_) => bail!("the reducing thread crashed"),
    };
    let _ = decoder.join();
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    result.skipped.sort_by_key(|s| s.image);
    for layer in &mut result.layers {
        layer.refresh();
    }
    let result_path = result.write(&job.out)?;
    let _ = std::fs::remove_file(&checkpoint_path);
    let total = started.elapsed().as_secs_f64();
    let log = format!(
        "featscope {} scan\nhost: {}\nengine: {}\nimages: {} scanned, {} skipped\n\
         inference runs: {runs} ({})\n\
         seconds: total {total:.3}, decoding {decode_time:.3} (on its own thread), \
         inference {run_time:.3}, reduction {reduce_time:.3}\nimages/s: {:.2}\n",
        env!("CARGO_PKG_VERSION"),
        host_name(),
        analyzer.engine_label(),
        result.scanned,
        result.skipped.len(),
        if analyzer.takes_batches() {
            "batches of up to --batch images".to_string()
        } else if engines > 1 {
            format!(
                "the model's batch axis is fixed: one image a run, {engines} engines side by side, \
                 {} threads each",
                run.engine.threads.unwrap_or(1)
            )
        } else {
            "the model's batch axis is fixed: one image a run".to_string()
        },
        result.scanned as f64 / total.max(1e-9),
    );
    write_atomic(&job.out.join("scan.log"), log.as_bytes())?;
    if job.montages && result.scanned > 0 {
        let mut analyzers = vec![analyzer];
        analyzers.append(&mut others);
        montage::write_all(&mut analyzers, &job.data, &result, &job.out)?;
    }
    eprintln!(
        "featscope: {} images scanned, {} skipped, {} layers, in {total:.1} s ({:.1} images/s); {}",
        result.scanned,
        result.skipped.len(),
        result.layers.len(),
        result.scanned as f64 / total.max(1e-9),
        sanitize(&result_path.display().to_string())
    );
    Ok(ScanOutcome {
        scanned: result.scanned,
        skipped: result.skipped.len(),
        result_path,
    })
}

/// How many engines a scan runs side by side, each given its share of the cores in `run`: on
/// the CPU, a model whose batch axis is fixed runs one small image at a time, and two such runs
/// at once (each on half the cores) keep the cores busier than one run split across all of
/// them, whose threads meet after every operator. One engine for batches, for a GPU, or when
/// `--threads` says how many threads to use.
fn engines_side_by_side(model: &Model, run: &mut RunConfig) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let one = model.takes_batches()
        || run.engine.device != crate::engine::Device::Cpu
        || run.engine.threads.is_some()
        || cores < 2;
    if one {
        return 1;
    }
    run.engine.threads = Some(cores / 2);
    2
}

/// The threads that decode and reduce beside the model: a pool of their own, so that they can
/// step back for a single engine running on every core (see [`yield_to_inference`]).
fn side_pool(step_back: bool) -> Result<std::sync::Arc<rayon::ThreadPool>> {
    let pool = rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("featscope-side-{i}"))
        .start_handler(move |_| {
            if step_back {
                yield_to_inference();
            }
        })
        .build()
        .context("cannot start the decoding threads")?;
    Ok(std::sync::Arc::new(pool))
}

/// Lowers the calling thread's priority a little (nice + 5). The engine's threads run an
/// operator in parallel and wait for the slowest; a decoding thread taking a core from one of
/// them stalls them all. A step lower, decoding and reduction fill the gaps between operators
/// instead: 16 block outputs of EfficientNet-Lite0 over 500 images on 2 cores, one engine on
/// both, went from 3.3 s to 2.7 s. Engines side by side, each on its own core, do not meet after
/// every operator, and there it does not help.
fn yield_to_inference() {
    #[cfg(target_os = "linux")]
    // SAFETY: with `who = 0`, getpriority and setpriority read and set the calling thread's nice
    // value (Linux schedules threads on their own); no memory is passed.
    unsafe {
        let now = libc::getpriority(libc::PRIO_PROCESS, 0);
        libc::setpriority(libc::PRIO_PROCESS, 0, (now + 5).min(19));
    }
}

/// What the model thread hands the reducing thread.
enum Reduce {
    Image(usize, Box<crate::activations::Activations>),
    Skipped(usize, String),
    /// Every image before this position is in: time for a checkpoint.
    BatchDone(usize),
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

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// `featscope scan merge`: shard results folded into one, identical to a single scan.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<PathBuf> {
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
            Some(m) => {
                if m.files != part.files || m.model != part.model || m.top != part.top {
                    bail!(
                        "{}: scanned another model, folder or --top than {}",
                        dir.display(),
                        dirs[0].display()
                    );
                }
                if m.layers.len() != part.layers.len()
                    && !m.layers.is_empty()
                    && !part.layers.is_empty()
                {
                    bail!(
                        "{}: scanned other layers than {}",
                        dir.display(),
                        dirs[0].display()
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
            }
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
    std::fs::create_dir_all(out)
        .with_context(|| format!("{}: cannot create the folder", out.display()))?;
    merged.write(out)
}
