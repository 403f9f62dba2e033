//! The scan, in named steps: [`plan`] (which images, which layers), [`resume`] (from a
//! checkpoint), [`start_decoding`] and [`start_reducing`] (a thread each), [`infer`] (on this
//! thread, on one engine or two side by side) and [`finish`] (scan.json, scan.log, montages).
//! [`run`] starts the threads and joins them, in one place.

use super::{
    list_images, montage, read_checkpoint, save_checkpoint, start_layers, ScanJob, ScanOutcome,
    ScanResult, Skipped, CHECKPOINT, FORMAT,
};
use crate::activations::Activations;
use crate::model::Model;
use crate::outdir::{write_atomic, OutputFolder};
use crate::pipeline::{Analyzer, RunConfig, Selection};
use crate::report::{Reporter, Work};
use crate::text::sanitize;
use anyhow::{bail, Context, Result};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

/// Scans `job.data` into `job.out`, telling `report` what happens.
pub fn run(job: &ScanJob, report: &dyn Reporter) -> Result<ScanOutcome> {
    let started = Instant::now();
    let (model, only) = job.run.open_selected(&job.model, &job.layers)?;
    let plan = plan(job, &model, only.as_deref())?;
    let folder = OutputFolder::open(&job.out)?;
    let selection = match &only {
        Some(t) => Selection::Tensors(t.clone()),
        None => Selection::All,
    };
    let mut run = job.run.clone();
    run.engine.runs_beside_other_work = true;
    let engines = engines_side_by_side(&model, &mut run);
    let mut first = Analyzer::open(model.clone(), &run, &selection)?;
    if let Some(note) = &first.engine_note {
        report.note(note);
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
    first.share_budget(engines);
    let (result, next) = resume(job, &plan, folder.path(), report)?;
    report.start(Work::Scan, plan.mine.len() as u64, next as u64);
    let step_back = engines == 1;
    let side = side_pool(step_back)?;
    let (batches, decoder) = start_decoding(job, &plan, next, &first, side.clone())?;
    let reduce = Reducer {
        model: first.model.clone(),
        wanted: plan.wanted.clone(),
        top: job.top,
        checkpoint: folder.path().join(CHECKPOINT),
        fingerprint: plan.fingerprint.clone(),
        side,
        step_back,
    };
    let (to_reducer, reducer) = start_reducing(reduce, result)?;

    let mut engines_here = vec![first];
    match others.join() {
        Ok(opened) => engines_here.extend(opened?),
        Err(_) => bail!("opening the model's other engines crashed"),
    }
    for other in &mut engines_here[1..] {
        other.share_budget(engines);
    }
    let inferred = infer(
        job,
        &plan,
        next,
        batches,
        &to_reducer,
        &mut engines_here,
        report,
    );
    drop(to_reducer);
    let reduced = reducer.join();
    let _ = decoder.join();
    report.finish();
    let mut timing = inferred?;
    let (result, reduce_time) = match reduced {
        Ok(done) => done?,
        Err(_) => bail!("the reducing thread crashed"),
    };
    timing.reduce = reduce_time;
    timing.total_since = Some(started);
    finish(job, &folder, result, &timing, &run, engines_here, report)
}

/// Which images this scan (or shard) takes and what identifies its checkpoint.
pub(super) struct Plan {
    pub files: Vec<String>,
    /// Positions in `files` of this shard's images, in order.
    pub mine: Vec<usize>,
    /// The tensors scanned.
    pub wanted: Vec<String>,
    pub model_name: String,
    /// Says which model, files, layers and settings a checkpoint's figures belong to.
    pub fingerprint: String,
}

fn plan(job: &ScanJob, model: &Model, only: Option<&[String]>) -> Result<Plan> {
    let files = list_images(&job.data)?;
    if files.is_empty() {
        bail!("{}: the folder holds no images", job.data.display());
    }
    let mine: Vec<usize> = match job.shard {
        Some((i, n)) => (0..files.len()).filter(|k| k % n == i - 1).collect(),
        None => (0..files.len()).collect(),
    };
    let model_name = job
        .model
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let wanted: Vec<String> = match only {
        Some(t) => t.to_vec(),
        None => model
            .sites
            .iter()
            .filter(|s| s.may_be_feature_map())
            .map(|s| s.tensor.clone())
            .collect(),
    };
    let fingerprint = format!(
        "{model_name}:{}:{}:{}:{}:{:?}",
        model.bytes.len(),
        files.len(),
        wanted.join("|"),
        job.top,
        job.shard
    );
    Ok(Plan {
        files,
        mine,
        wanted,
        model_name,
        fingerprint,
    })
}

/// The figures so far and where to go on: from the checkpoint with `--resume`, else empty at 0.
fn resume(
    job: &ScanJob,
    plan: &Plan,
    out: &Path,
    report: &dyn Reporter,
) -> Result<(ScanResult, usize)> {
    let empty = ScanResult {
        format: FORMAT.into(),
        model: plan.model_name.clone(),
        files: plan.files.clone(),
        top: job.top,
        shard: job.shard.map(|(i, n)| format!("{i}/{n}")),
        scanned: 0,
        skipped: Vec::new(),
        layers: Vec::new(),
    };
    let path = out.join(CHECKPOINT);
    match job.resume.then(|| read_checkpoint(&path, job.top)) {
        Some(Some(c)) if c.fingerprint == plan.fingerprint => {
            report.note(&format!(
                "resuming at image {} of {}",
                c.next,
                plan.mine.len()
            ));
            let result = ScanResult {
                scanned: c.scanned,
                skipped: c.skipped,
                layers: c.layers,
                ..empty
            };
            Ok((result, c.next))
        }
        Some(Some(_)) => bail!(
            "{}: the checkpoint is for another model, folder or settings; remove it or drop --resume",
            path.display()
        ),
        Some(None) => {
            report.note(&format!(
                "no usable checkpoint in {}; scanning from the start",
                out.display()
            ));
            Ok((empty, 0))
        }
        None => Ok((empty, 0)),
    }
}

/// One image decoded and prepared for the model, or why it could not be.
type Decoded = (usize, Result<crate::preprocess::Prepared, String>);

/// A batch of decoded images and the seconds decoding took.
type DecodedBatch = (Vec<Decoded>, f64);

/// Decodes this shard's images from `next` on, a batch ahead of the model, on a thread of its
/// own (and in parallel within it, on the side pool).
fn start_decoding(
    job: &ScanJob,
    plan: &Plan,
    next: usize,
    analyzer: &Analyzer,
    side: Arc<rayon::ThreadPool>,
) -> Result<(Receiver<DecodedBatch>, JoinHandle<()>)> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<DecodedBatch>(1);
    let to_decode: Vec<(usize, PathBuf)> = plan.mine[next.min(plan.mine.len())..]
        .iter()
        .map(|&k| (k, job.data.join(&plan.files[k])))
        .collect();
    let preparer = analyzer.preparer();
    let batch = job.batch.max(1);
    let decoder = std::thread::Builder::new()
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
        .context("cannot start the decoding thread")?;
    Ok((rx, decoder))
}

/// What the model thread hands the reducing thread.
enum Reduce {
    Image(usize, Box<Activations>),
    Skipped(usize, String),
    /// Every image before this position is in: time for a checkpoint.
    BatchDone(usize),
}

/// What the reducing thread needs besides the figures.
struct Reducer {
    model: Model,
    wanted: Vec<String>,
    top: usize,
    checkpoint: PathBuf,
    fingerprint: String,
    side: Arc<rayon::ThreadPool>,
    step_back: bool,
}

/// The figures, and the seconds reducing took.
type Reduced = (ScanResult, f64);

/// Reduces each image's activations into the figures, one image behind the model, on a thread
/// of its own that owns them and writes the checkpoints; it hands back the figures and the
/// seconds it spent.
fn start_reducing(
    reducer: Reducer,
    mut result: ScanResult,
) -> Result<(SyncSender<Reduce>, JoinHandle<Result<Reduced>>)> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Reduce>(1);
    let handle = std::thread::Builder::new()
        .name("featscope-reduce".into())
        .spawn(move || -> Result<Reduced> {
            if reducer.step_back {
                yield_to_inference();
            }
            let mut reduce_time = 0f64;
            let mut positions: Vec<usize> = Vec::new();
            for message in rx {
                match message {
                    Reduce::Image(k, acts) => {
                        let t = Instant::now();
                        reducer.add(&mut result, &mut positions, k, &acts);
                        reduce_time += t.elapsed().as_secs_f64();
                    }
                    Reduce::Skipped(k, reason) => result.skipped.push(Skipped {
                        image: k as u32,
                        reason,
                    }),
                    Reduce::BatchDone(next) => {
                        save_checkpoint(&reducer.checkpoint, &reducer.fingerprint, next, &result)?;
                    }
                }
            }
            Ok((result, reduce_time))
        })
        .context("cannot start the reducing thread")?;
    Ok((tx, handle))
}

impl Reducer {
    /// Image `k`'s maps into every scanned layer's figures (the layers in parallel).
    /// `positions`: where each scanned layer is among an image's layers, found once.
    fn add(
        &self,
        result: &mut ScanResult,
        positions: &mut Vec<usize>,
        k: usize,
        acts: &Activations,
    ) {
        if result.layers.is_empty() {
            result.layers = start_layers(&self.model, acts, &self.wanted);
        }
        if positions.len() != result.layers.len() {
            *positions = result
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
        let top = self.top;
        self.side.install(|| {
            result
                .layers
                .par_iter_mut()
                .zip(positions.as_slice())
                .for_each(|(layer, &at)| {
                    let found = acts.layers.get(at);
                    if let Some(fm) = found.and_then(|l| l.feature_maps()) {
                        layer.stats.add(fm, k as u32, top);
                    }
                    if let Some(l) = found {
                        layer.stats.add_nonfinite(l.nonfinite);
                    }
                })
        });
        result.scanned += 1;
    }
}

/// Where the seconds went, for scan.log.
#[derive(Default)]
struct Timing {
    decode: f64,
    run: f64,
    reduce: f64,
    runs: usize,
    total_since: Option<Instant>,
}

/// Why an image has no activations.
enum Failure {
    /// It could not be decoded or prepared: the image's own fault.
    Image(String),
    /// The engine failed on it.
    Engine(anyhow::Error),
}

/// Hands an image's activations, or why there are none, to the reducer, and counts it.
/// `Ok(false)` when the reducer has stopped. An engine failure ends the scan when the model
/// takes one fixed input size: every image then reaches the engine as the same shape, so what
/// failed on one fails on all, and skipping each would only say so once per image.
struct Handover<'a> {
    to_reducer: &'a SyncSender<Reduce>,
    report: &'a dyn Reporter,
    same_input_for_all: bool,
}

impl Handover<'_> {
    fn hand(&self, k: usize, acts: Result<Activations, Failure>) -> Result<bool> {
        let message = match acts {
            Ok(acts) => Reduce::Image(k, Box::new(acts)),
            Err(Failure::Engine(e)) if self.same_input_for_all => return Err(e),
            Err(failure) => {
                let reason = match failure {
                    Failure::Image(reason) => reason,
                    Failure::Engine(e) => crate::text::error_line(&e),
                };
                self.report.skipped(&reason);
                Reduce::Skipped(k, reason)
            }
        };
        self.report.advance();
        Ok(self.to_reducer.send(message).is_ok())
    }
}

/// Runs every decoded batch through the engines and hands each image on as it is done.
fn infer(
    job: &ScanJob,
    plan: &Plan,
    mut next: usize,
    batches: Receiver<DecodedBatch>,
    to_reducer: &SyncSender<Reduce>,
    engines: &mut [Analyzer],
    report: &dyn Reporter,
) -> Result<Timing> {
    let handover = Handover {
        to_reducer,
        report,
        same_input_for_all: engines
            .first()
            .is_some_and(|a| a.geometry.fixed_size.is_some()),
    };
    let mut timing = Timing::default();
    for (decoded, decode_secs) in batches {
        timing.decode += decode_secs;
        let count = decoded.len();
        let with_paths: Vec<(usize, PathBuf, Result<_, String>)> = decoded
            .into_iter()
            .map(|(k, item)| (k, job.data.join(&plan.files[k]), item))
            .collect();
        let going_on = if engines.first().is_some_and(|a| a.takes_batches()) {
            infer_as_one_batch(&mut engines[0], with_paths, &handover, &mut timing)?
        } else {
            infer_image_by_image(engines, with_paths, &handover, &mut timing)?
        };
        next += count;
        if !going_on || to_reducer.send(Reduce::BatchDone(next)).is_err() {
            break;
        }
    }
    Ok(timing)
}

/// A free batch axis takes the batch as one input. `Ok(false)` when the reducer has stopped.
fn infer_as_one_batch(
    analyzer: &mut Analyzer,
    items: Vec<(usize, PathBuf, Result<crate::preprocess::Prepared, String>)>,
    handover: &Handover<'_>,
    timing: &mut Timing,
) -> Result<bool> {
    let paths: Vec<PathBuf> = items.iter().map(|(_, path, _)| path.clone()).collect();
    let mut ready = Vec::new();
    let mut outcomes: Vec<(usize, Option<String>)> = Vec::new();
    for ((k, _, item), path) in items.into_iter().zip(&paths) {
        match item {
            Ok(p) => {
                ready.push((p, path.as_path()));
                outcomes.push((k, None));
            }
            Err(e) => outcomes.push((k, Some(e))),
        }
    }
    let t = Instant::now();
    timing.runs += usize::from(!ready.is_empty());
    let mut computed = analyzer.compute_batch(ready).into_iter();
    timing.run += t.elapsed().as_secs_f64();
    for (k, failed) in outcomes {
        let acts = match failed {
            Some(e) => Err(Failure::Image(e)),
            None => computed
                .next()
                .unwrap_or_else(|| Err(anyhow::anyhow!("no result for this image")))
                .map_err(Failure::Engine),
        };
        if !handover.hand(k, acts)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A fixed batch of one runs image by image, each handed on before the next is run; with
/// several engines the images take turns between them. `Ok(false)` when the reducer has stopped.
fn infer_image_by_image(
    engines: &mut [Analyzer],
    items: Vec<(usize, PathBuf, Result<crate::preprocess::Prepared, String>)>,
    handover: &Handover<'_>,
    timing: &mut Timing,
) -> Result<bool> {
    let count = engines.len().max(1);
    let mut shares: Vec<Vec<_>> = (0..count).map(|_| Vec::new()).collect();
    for (i, item) in items.into_iter().enumerate() {
        shares[i % count].push(item);
    }
    let done: Vec<Result<Option<(usize, f64)>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = engines
            .iter_mut()
            .zip(shares)
            .map(|(engine, share)| {
                scope.spawn(move || -> Result<Option<(usize, f64)>> {
                    let (mut runs, mut secs) = (0usize, 0f64);
                    for (k, path, item) in share {
                        let acts = match item {
                            Ok(prepared) => {
                                let t = Instant::now();
                                let acts = engine.compute_prepared(prepared, &path);
                                secs += t.elapsed().as_secs_f64();
                                runs += 1;
                                acts.map_err(Failure::Engine)
                            }
                            Err(e) => Err(Failure::Image(e)),
                        };
                        if !handover.hand(k, acts)? {
                            return Ok(None);
                        }
                    }
                    Ok(Some((runs, secs)))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Ok(None)))
            .collect()
    });
    let mut going_on = true;
    for d in done {
        match d? {
            Some((runs, secs)) => {
                timing.runs += runs;
                timing.run += secs / count as f64;
            }
            None => going_on = false,
        }
    }
    Ok(going_on)
}

/// The figures finished and written (scan.json, then scan.log, then the montages), the
/// checkpoint removed, and one line on how it went.
fn finish(
    job: &ScanJob,
    folder: &OutputFolder,
    mut result: ScanResult,
    timing: &Timing,
    run: &RunConfig,
    mut engines: Vec<Analyzer>,
    report: &dyn Reporter,
) -> Result<ScanOutcome> {
    result.skipped.sort_by_key(|s| s.image);
    for layer in &mut result.layers {
        layer.refresh();
    }
    let result_path = result.write(folder.path())?;
    let _ = std::fs::remove_file(folder.path().join(CHECKPOINT));
    let total = timing
        .total_since
        .map_or(0.0, |t| t.elapsed().as_secs_f64());
    let Some(first) = engines.first() else {
        bail!("scan: no engine");
    };
    let how = if first.takes_batches() {
        "batches of up to --batch images".to_string()
    } else if engines.len() > 1 {
        format!(
            "the model's batch axis is fixed: one image a run, {} engines side by side, \
             {} threads each",
            engines.len(),
            run.engine.threads.unwrap_or(1)
        )
    } else {
        "the model's batch axis is fixed: one image a run".to_string()
    };
    let log = format!(
        "featscope {} scan\nhost: {}\nengine: {}\nimages: {} scanned, {} skipped\n\
         inference runs: {} ({how})\n\
         seconds: total {total:.3}, decoding {:.3} (on its own thread), \
         inference {:.3}, reduction {:.3}\nimages/s: {:.2}\n",
        env!("CARGO_PKG_VERSION"),
        host_name(),
        first.engine_label(),
        result.scanned,
        result.skipped.len(),
        timing.runs,
        timing.decode,
        timing.run,
        timing.reduce,
        result.scanned as f64 / total.max(1e-9),
    );
    write_atomic(&folder.path().join("scan.log"), log.as_bytes())?;
    if job.montages && result.scanned > 0 {
        montage::write_all(&mut engines, &job.data, &result, folder.path())?;
    }
    report.note(&format!(
        "{} images scanned, {} skipped, {} layers, in {total:.1} s ({:.1} images/s); {}",
        result.scanned,
        result.skipped.len(),
        result.layers.len(),
        result.scanned as f64 / total.max(1e-9),
        result_path.display()
    ));
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
pub(super) fn engines_side_by_side(model: &Model, run: &mut RunConfig) -> usize {
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
fn side_pool(step_back: bool) -> Result<Arc<rayon::ThreadPool>> {
    let pool = rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("featscope-side-{i}"))
        .start_handler(move |_| {
            if step_back {
                yield_to_inference();
            }
        })
        .build()
        .context("cannot start the decoding threads")?;
    Ok(Arc::new(pool))
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

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}
