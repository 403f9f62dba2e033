//! The one "compute activations" call: model + image → engine → layers.
//! Both the snapshot command and the TUI go through [`Analyzer`].

use crate::activations::{classify, top_k, Activations, LayerData};
use crate::engine::{
    guard, open_engine, tract_engine, Backend, Engine, EngineError, EngineOptions,
};
use crate::memory::{self, Budget};
use crate::model::quant::QuantSource;
use crate::model::Model;
use crate::precision::Quantization;
use crate::preprocess::{self, InputGeometry, PreprocessOptions};
use crate::text::Clean;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Everything the user chose that shapes a run.
#[derive(Clone, Debug, Default)]
pub struct RunConfig {
    pub engine: EngineOptions,
    /// Command-line preprocessing; the model's sidecar fills what is unset.
    pub preprocess: PreprocessOptions,
    /// `--labels FILE`.
    pub labels: Option<PathBuf>,
    /// `--max-memory`: the most a run may take; `None` is three quarters of what is available.
    pub max_memory: Option<u64>,
    /// `--raw-graph`: every tensor its own layer; requantizations are not folded.
    pub raw_graph: bool,
}

impl RunConfig {
    /// Opens a model with its layers as this run lists them.
    pub fn open_model(&self, path: &Path) -> Result<Model, crate::model::ModelError> {
        let model = Model::open(path)?;
        Ok(if self.raw_graph {
            model.with_raw_graph()
        } else {
            model
        })
    }

    /// Opens a model and resolves `--layer` patterns against it (`None`: every layer): the
    /// opening every command that writes shares.
    pub fn open_selected(
        &self,
        path: &Path,
        patterns: &[String],
    ) -> Result<(Model, Option<Vec<String>>)> {
        let model = self.open_model(path)?;
        let only = crate::model::select_layers(&model, patterns)?;
        Ok((model, only))
    }
}

/// Why one run did not happen: the engine failed (a crashed engine is opened again for the
/// next), or the run was refused before it started (the memory budget).
enum RunError {
    Engine(EngineError),
    Refused(anyhow::Error),
}

impl From<EngineError> for RunError {
    fn from(e: EngineError) -> RunError {
        RunError::Engine(e)
    }
}

/// Inputs up to this size are run without a memory estimate from the engine that cannot give
/// one before running (ONNX Runtime): 32 MiB of pixels, a 2900×2900 RGB image, is far beyond
/// `--max-side`'s default, and far below any budget.
const UNCHECKED_INPUT_BYTES: u64 = 32 << 20;

/// Which tensors to compute.
#[derive(Clone, Debug)]
pub enum Selection {
    All,
    /// Tensor names.
    Tensors(Vec<String>),
}

pub struct Analyzer {
    pub model: Model,
    pub geometry: InputGeometry,
    pub preprocess: PreprocessOptions,
    pub labels: Option<Vec<Clean>>,
    /// How `--backend auto` decided, for one line on stderr.
    pub engine_note: Option<String>,
    /// `None` after the engine crashed: it is opened again for the next image.
    engine: Option<Box<dyn Engine>>,
    engine_label: String,
    engine_options: EngineOptions,
    tensors: Vec<String>,
    budget: Budget,
    /// The last input fed, for methods that run the model again on variations of it.
    last_input: Option<crate::engine::InputTensor>,
    /// An engine computing one tensor only (the class scores), opened on first use.
    scorer: Option<(String, Box<dyn Engine>)>,
}

/// Inputs run together when the model's batch axis is free.
const SCORE_BATCH: usize = 16;

impl Analyzer {
    /// Opens the model, resolves preprocessing and builds the engine for `selection`
    /// (graph outputs are always included so classifiers can report their top-5).
    pub fn open(model: Model, config: &RunConfig, selection: &Selection) -> Result<Analyzer> {
        let sidecar = preprocess::sidecar_options(&model.path)?;
        let preprocess = config.preprocess.clone().or(&sidecar);
        let geometry = preprocess::input_geometry(&model)?;
        let labels = load_labels(&model, config.labels.as_deref(), sidecar.labels.as_deref())?;
        let mut tensors: Vec<String> = match selection {
            Selection::All => model.sites.iter().map(|s| s.tensor.clone()).collect(),
            Selection::Tensors(t) => t.clone(),
        };
        for out in &model.graph_outputs {
            if !tensors.contains(out) && model.site(out).is_some() {
                tensors.push(out.clone());
            }
        }
        // A scale computed at run time (DynamicQuantizeLinear) is asked for with its tensor.
        for needed in dynamic_scales(&model, &tensors) {
            if !tensors.contains(&needed) {
                tensors.push(needed);
            }
        }
        let (engine, engine_note) = guard(&model.path, || {
            open_engine(&model, &tensors, &config.engine)
        })?;
        Ok(Analyzer {
            geometry,
            preprocess,
            labels,
            engine_note,
            engine_label: engine.label(),
            engine: Some(engine),
            engine_options: config.engine.clone(),
            tensors,
            budget: Budget::new(config.max_memory),
            last_input: None,
            scorer: None,
            model,
        })
    }

    pub fn engine_label(&self) -> String {
        self.engine_label.clone()
    }

    /// What prepares images for this model on another thread.
    pub fn preparer(&self) -> Preparer {
        Preparer {
            model_path: self.model.path.clone(),
            geometry: self.geometry.clone(),
            options: self.preprocess.clone(),
            budget: self.budget.clone(),
        }
    }

    /// The tensor fed on the last run.
    pub fn last_input(&self) -> Option<&crate::engine::InputTensor> {
        self.last_input.as_ref()
    }

    /// Whether the model's batch axis is free, so several inputs can run as one.
    pub fn takes_batches(&self) -> bool {
        self.model.takes_batches()
    }

    /// Splits the memory budget between `parts` analyzers running side by side.
    pub fn share_budget(&mut self, parts: usize) {
        if parts > 1 && self.budget.bytes != u64::MAX {
            self.budget.bytes /= parts as u64;
            self.budget.source = format!("{}, shared by {parts} engines", self.budget.source);
        }
    }

    /// Runs the model on `count` inputs, the i-th made by `make(i)` when its batch runs (each a
    /// batch of one, shaped alike), and returns `tensor`'s values for each: several at a time
    /// when the model takes batches and they fit the memory budget, so that only one batch of
    /// inputs is held. `progress` hears how many are done.
    pub fn score_inputs(
        &mut self,
        count: usize,
        make: &mut dyn FnMut(usize) -> Result<crate::engine::InputTensor>,
        tensor: &str,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Vec<Vec<f32>>> {
        if self.scorer.as_ref().is_none_or(|(t, _)| t != tensor) {
            let outputs = vec![tensor.to_string()];
            let (model, options) = (&self.model, &self.engine_options);
            let (engine, _) = guard(&model.path, || open_engine(model, &outputs, options))?;
            self.scorer = Some((tensor.to_string(), engine));
        }
        let path = self.model.path.clone();
        let mut scores = Vec::with_capacity(count);
        progress(0, count);
        let mut batch = 1;
        let mut next = 0;
        while next < count {
            let first = make(next)?;
            if next == 0 && self.takes_batches() {
                // The inputs of a batch, and their stacked copy, within the budget.
                let each = (first.data.len() as u64).saturating_mul(8).max(1);
                batch = SCORE_BATCH.min((self.budget.bytes / each).max(1) as usize);
            }
            let end = (next + batch).min(count);
            let mut group = vec![first];
            for i in next + 1..end {
                group.push(make(i)?);
            }
            let Some(input) = crate::engine::InputTensor::stack(group.iter()) else {
                break;
            };
            drop(group);
            let Some((_, engine)) = self.scorer.as_mut() else {
                anyhow::bail!("the scoring engine could not be opened");
            };
            let raw = match guard(&path, || engine.run(&input)) {
                Ok(raw) => raw,
                Err(e) => {
                    self.scorer = None;
                    return Err(e.into());
                }
            };
            let values = match raw.into_iter().next().map(|r| r.data) {
                Some(crate::engine::TensorData::F32(v)) => v,
                _ => anyhow::bail!(
                    "{}: '{}' is not a float tensor",
                    path.display(),
                    crate::text::sanitize(tensor)
                ),
            };
            let per = values.len() / (end - next);
            scores.extend(values.chunks_exact(per.max(1)).map(<[f32]>::to_vec));
            next = end;
            progress(scores.len(), count);
        }
        Ok(scores)
    }

    /// The engine, opened again if it crashed on the last image.
    fn engine(&mut self) -> Result<&mut Box<dyn Engine>, EngineError> {
        let engine = match self.engine.take() {
            Some(engine) => engine,
            None => {
                let (model, tensors, options) = (&self.model, &self.tensors, &self.engine_options);
                guard(&model.path, || open_engine(model, tensors, options))?.0
            }
        };
        Ok(self.engine.insert(engine))
    }

    /// After a failed run: a crashed engine is opened again for the next image, and a model
    /// that takes any size but failed on a tiny image is said to have failed on that image.
    fn explain_failure(
        &mut self,
        e: RunError,
        image_path: &Path,
        (w, h): (u32, u32),
    ) -> anyhow::Error {
        let e = match e {
            RunError::Refused(e) => return e,
            RunError::Engine(e) => e,
        };
        if matches!(e, EngineError::Crashed { .. }) {
            self.engine = None;
        }
        if w.min(h) < SMALL_SIDE && self.geometry.fixed_size.is_none() {
            return anyhow::anyhow!(
                "{}: the image is {w}×{h}, too small for {} ({e})",
                image_path.display(),
                self.model.path.display()
            );
        }
        e.into()
    }

    /// Refuses a run on an input of `shape` whose tensors would not fit the memory budget:
    /// the input, every tensor asked for, and the engine's copy of the model.
    fn check_memory(&mut self, image_path: &Path, shape: &[usize]) -> Result<(), RunError> {
        let budget = self.budget.clone();
        let input = input_within_budget(&self.model.path, image_path, shape, &budget)
            .map_err(RunError::Refused)?;
        let path = self.model.path.clone();
        let engine = self.engine()?;
        let known = guard(&path, || engine.output_bytes(shape))?;
        let outputs = match known {
            Some(bytes) => bytes,
            None if input <= UNCHECKED_INPUT_BYTES => return Ok(()),
            None => {
                let (model, tensors) = (&self.model, &self.tensors);
                let estimate = guard(&path, || {
                    tract_engine::estimate_output_bytes(model, tensors, shape)
                });
                match estimate {
                    Ok(Some(bytes)) => bytes,
                    // A large input whose run nobody can size is refused, unless the user set
                    // the budget: a model that declares 2³¹ pixels would otherwise run for hours
                    // or abort when an engine's allocation fails.
                    _ if budget.explicit => return Ok(()),
                    Ok(None) => {
                        let refusal = unsized_run(&path, image_path, shape, input, None);
                        return Err(RunError::Refused(refusal));
                    }
                    Err(e) => {
                        let refusal = unsized_run(&path, image_path, shape, input, Some(e));
                        return Err(RunError::Refused(refusal));
                    }
                }
            }
        };
        let engine_copy = match self.engine_options.backend {
            Backend::Tract => 0,
            _ => self.model.bytes.len() as u64,
        };
        let need = input
            .checked_add(outputs)
            .and_then(|n| n.checked_add(engine_copy));
        if need.is_none_or(|n| n > budget.bytes) {
            let what = format!("{} tensors asked for", self.tensors.len());
            let refusal = over_budget(&path, image_path, shape, need, &what, &budget);
            return Err(RunError::Refused(refusal));
        }
        Ok(())
    }

    /// Runs the model on one image file.
    pub fn compute(&mut self, image_path: &Path) -> Result<Activations> {
        let img = preprocess::load_image(image_path)?;
        self.compute_image(&img, image_path)
    }

    /// Runs the model on a mid-grey image of the input's size: enough to learn every shape.
    pub fn compute_blank(&mut self) -> Result<Activations> {
        let (w, h) = self
            .geometry
            .fixed_size
            .or(self.preprocess.size)
            .unwrap_or((224, 224));
        // A declared input of 100000×100000 is refused before its blank picture is made.
        let shape = self.geometry.tensor_shape((w, h));
        let blank = Path::new("(blank image)");
        if let Err(e) = self.check_memory(blank, &shape) {
            return Err(self.explain_failure(e, blank, (w, h)));
        }
        let img = image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
            w,
            h,
            image::Rgb([128, 128, 128]),
        ));
        self.compute_image(&img, Path::new("(blank image)"))
    }

    /// Runs the model on a decoded image; `image_path` names it in messages.
    pub fn compute_image(
        &mut self,
        img: &image::DynamicImage,
        image_path: &Path,
    ) -> Result<Activations> {
        let target = preprocess::target_size(
            (img.width(), img.height()),
            image_path,
            &self.geometry,
            &self.preprocess,
        )?;
        // Refused before the input tensor is even made.
        let shape = self.geometry.tensor_shape(target);
        if let Err(e) = self.check_memory(image_path, &shape) {
            return Err(self.explain_failure(e, image_path, target));
        }
        let prepared = preprocess::prepare(img, image_path, &self.geometry, &self.preprocess)?;
        self.run_prepared(prepared, image_path)
    }

    /// Runs the model on an image already prepared (e.g. on another thread).
    pub fn compute_prepared(
        &mut self,
        prepared: preprocess::Prepared,
        image_path: &Path,
    ) -> Result<Activations> {
        if let Err(e) = self.check_memory(image_path, &prepared.tensor.shape) {
            return Err(self.explain_failure(e, image_path, prepared.shown.dimensions()));
        }
        self.run_prepared(prepared, image_path)
    }

    /// The engine on one prepared image, its memory already checked.
    fn run_prepared(
        &mut self,
        prepared: preprocess::Prepared,
        image_path: &Path,
    ) -> Result<Activations> {
        let (raw, inference) = match self.run_engine(&prepared.tensor) {
            Ok(done) => done,
            Err(e) => {
                let size = prepared.shown.dimensions();
                return Err(self.explain_failure(RunError::Engine(e), image_path, size));
            }
        };
        self.last_input = Some(prepared.tensor);
        self.activations(raw, prepared.shown, &prepared.description, inference)
    }

    /// One timed engine run.
    fn run_engine(
        &mut self,
        input: &crate::engine::InputTensor,
    ) -> Result<(Vec<crate::engine::RawTensor>, std::time::Duration), EngineError> {
        let path = self.model.path.clone();
        let engine = self.engine()?;
        let started = Instant::now();
        let raw = guard(&path, || engine.run(input))?;
        Ok((raw, started.elapsed()))
    }

    /// Sorts one image's tensors into layers, with the top-5 when the model has labels.
    fn activations(
        &self,
        raw: Vec<crate::engine::RawTensor>,
        shown: image::RgbImage,
        description: &str,
        inference: std::time::Duration,
    ) -> Result<Activations> {
        let resolved = self.quantizations(&raw);
        let mut layers = Vec::with_capacity(raw.len());
        for tensor in raw {
            let site = self
                .model
                .site(&tensor.name)
                .with_context(|| format!("engine returned unknown tensor {}", tensor.name))?;
            let quantization = resolved.get(&tensor.name);
            layers.push(classify(site, tensor, quantization));
        }
        layers.sort_by_key(|l| l.index);
        let top5 = self.labels.as_ref().and_then(|labels| {
            layers
                .iter()
                .filter(|l| self.model.graph_outputs.contains(&l.tensor))
                .find_map(|l| match &l.data {
                    LayerData::Vector(v) if v.len() == labels.len() => Some(top_k(v, labels, 5)),
                    _ => None,
                })
        });
        Ok(Activations {
            layers,
            input_image: shown,
            input_description: Clean::new(description),
            engine: Clean::new(&self.engine_label),
            inference,
            top5,
        })
    }

    /// The scale and zero point of each quantized tensor of a run: the graph's, or, for one
    /// quantized at run time, the values the run computed for them.
    fn quantizations(
        &self,
        raw: &[crate::engine::RawTensor],
    ) -> std::collections::HashMap<String, Quantization> {
        use crate::engine::TensorData;
        let find = |name: &str| raw.iter().find(|t| t.name == name).map(|t| &t.data);
        let mut out = std::collections::HashMap::new();
        for tensor in raw {
            let Some(source) = self
                .model
                .site(&tensor.name)
                .and_then(|s| s.quantization.as_ref())
            else {
                continue;
            };
            let q = match source {
                QuantSource::Static(q) => Some(q.clone()),
                QuantSource::Dynamic {
                    elem,
                    scale,
                    zero_point,
                } => {
                    let scale = match find(scale) {
                        Some(TensorData::F32(v)) => v.first().copied(),
                        _ => None,
                    };
                    let zero_point = match zero_point.as_deref().map(find) {
                        Some(Some(TensorData::Int(z))) => z.first().copied(),
                        None => Some(0),
                        _ => None,
                    };
                    scale
                        .zip(zero_point)
                        .map(|(s, z)| Quantization::per_tensor(*elem, s, z))
                        .filter(Quantization::is_valid)
                }
            };
            if let Some(q) = q {
                out.insert(tensor.name.clone(), q);
            }
        }
        out
    }

    /// Runs several prepared images: as one batch when the model's batch axis is free and they
    /// have the same size, else one by one. One result per image, in order; one image's
    /// failure is its own (a failed batch is run again image by image).
    pub fn compute_batch(
        &mut self,
        items: Vec<(preprocess::Prepared, &Path)>,
    ) -> Vec<Result<Activations>> {
        let same = items
            .iter()
            .all(|(p, _)| p.tensor.shape == items[0].0.tensor.shape);
        if items.len() < 2 || !self.takes_batches() || !same {
            return items
                .into_iter()
                .map(|(p, path)| self.compute_prepared(p, path))
                .collect();
        }
        let (prepared, paths): (Vec<preprocess::Prepared>, Vec<&Path>) = items.into_iter().unzip();
        let n = prepared.len();
        let mut shape = prepared[0].tensor.shape.clone();
        shape[0] = n;
        let run = self.check_memory(paths[0], &shape).and_then(|()| {
            let input = crate::engine::InputTensor::stack(prepared.iter().map(|p| &p.tensor))
                .context("no images")
                .map_err(RunError::Refused)?;
            Ok(self.run_engine(&input)?)
        });
        let Ok((raw, inference)) = run else {
            // Run them alone: each failure is then said for its own image.
            return prepared
                .into_iter()
                .zip(paths)
                .map(|(p, path)| self.compute_prepared(p, path))
                .collect();
        };
        // Every tensor split along its batch axis, one part per image.
        let mut per_image: Vec<Vec<crate::engine::RawTensor>> = vec![Vec::new(); n];
        for tensor in raw {
            let first_is_batch = tensor.shape.first() == Some(&n);
            for (i, parts) in per_image.iter_mut().enumerate() {
                let mut shape = tensor.shape.clone();
                let data = match (&tensor.data, first_is_batch) {
                    (crate::engine::TensorData::F32(v), true) => {
                        shape[0] = 1;
                        let each = v.len() / n;
                        crate::engine::TensorData::F32(v.slice(i * each..(i + 1) * each))
                    }
                    (crate::engine::TensorData::Int(v), true) => {
                        shape[0] = 1;
                        let each = v.len() / n;
                        crate::engine::TensorData::Int(v[i * each..(i + 1) * each].to_vec())
                    }
                    (other, _) => other.clone(),
                };
                parts.push(crate::engine::RawTensor {
                    name: tensor.name.clone(),
                    shape,
                    elem: tensor.elem,
                    data,
                });
            }
        }
        self.last_input = prepared.last().map(|p| p.tensor.clone());
        prepared
            .into_iter()
            .zip(per_image)
            .map(|(p, raw)| self.activations(raw, p.shown, &p.description, inference / n as u32))
            .collect()
    }
}

/// Tensors holding the run-time scales and zero points of the quantized ones among `tensors`.
fn dynamic_scales(model: &Model, tensors: &[String]) -> Vec<String> {
    tensors
        .iter()
        .filter_map(|t| model.site(t)?.quantization.as_ref())
        .flat_map(|q| match q {
            QuantSource::Dynamic {
                scale, zero_point, ..
            } => std::iter::once(scale.clone())
                .chain(zero_point.clone())
                .collect(),
            QuantSource::Static(_) => Vec::new(),
        })
        .filter(|t| model.site(t).is_some())
        .collect()
}

/// The refusal of a run over the memory budget, saying what it would take.
fn over_budget(
    model_path: &Path,
    image_path: &Path,
    shape: &[usize],
    need: Option<u64>,
    what: &str,
    budget: &Budget,
) -> anyhow::Error {
    let need = need
        .map(memory::human)
        .unwrap_or_else(|| "more than 16 EiB".into());
    anyhow::anyhow!(
        "{}: on {} the input is {} and the run would need about {need} ({what}), \
         over the memory budget of {} ({})",
        model_path.display(),
        image_path.display(),
        shape
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("×"),
        memory::human(budget.bytes),
        budget.source
    )
}

/// The refusal of a run on a large input whose memory neither engine can estimate.
fn unsized_run(
    model_path: &Path,
    image_path: &Path,
    shape: &[usize],
    input: u64,
    why: Option<crate::engine::EngineError>,
) -> anyhow::Error {
    let why = why.map(|e| format!(" ({e})")).unwrap_or_default();
    anyhow::anyhow!(
        "{}: on {} the input is {} ({}) and the memory the run needs cannot be estimated{why}; \
         --max-memory to run it anyway",
        model_path.display(),
        image_path.display(),
        shape
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("×"),
        memory::human(input),
    )
}

/// The bytes of an input of `shape` and the picture shown beside it (3 bytes a pixel), or the
/// refusal when they alone exceed the budget: checked before the input is made.
fn input_within_budget(
    model_path: &Path,
    image_path: &Path,
    shape: &[usize],
    budget: &Budget,
) -> Result<u64> {
    let input = memory::product(shape, 4).and_then(|t| t.checked_add(t / 4 * 3 / 4));
    match input {
        Some(bytes) if bytes <= budget.bytes => Ok(bytes),
        _ => Err(over_budget(
            model_path,
            image_path,
            shape,
            input,
            "for its input alone",
            budget,
        )),
    }
}

/// Prepares images for the model off the model's thread: the input's size is checked against
/// the memory budget before the tensor is made, as [`Analyzer::compute_image`] does.
#[derive(Clone, Debug)]
pub struct Preparer {
    model_path: PathBuf,
    geometry: InputGeometry,
    options: PreprocessOptions,
    budget: Budget,
}

impl Preparer {
    pub fn prepare(
        &self,
        img: &image::DynamicImage,
        image_path: &Path,
    ) -> Result<preprocess::Prepared> {
        let target = preprocess::target_size(
            (img.width(), img.height()),
            image_path,
            &self.geometry,
            &self.options,
        )?;
        let shape = self.geometry.tensor_shape(target);
        input_within_budget(&self.model_path, image_path, &shape, &self.budget)?;
        Ok(preprocess::prepare(
            img,
            image_path,
            &self.geometry,
            &self.options,
        )?)
    }
}

/// The class names: `--labels` (the user's own file, anywhere), else the sidecar's, which must
/// stay inside the model's folder: a downloaded model must not read whatever file it names.
/// Images narrower than this are suspected first when a size-agnostic model fails on them.
const SMALL_SIDE: u32 = 32;

fn load_labels(
    model: &Model,
    cli: Option<&Path>,
    sidecar: Option<&str>,
) -> Result<Option<Vec<Clean>>> {
    use crate::files::{inside_folder, read_limited, LABELS_LIMIT};
    let path = match (cli, sidecar) {
        (Some(p), _) => p.to_path_buf(),
        (None, Some(name)) => inside_folder(&model.dir(), name, "a labels file its sidecar names")
            .with_context(|| {
                format!(
                    "{}: \"labels\"",
                    preprocess::sidecar_path(&model.path).display()
                )
            })?,
        (None, None) => return Ok(None),
    };
    let bytes = read_limited(&path, LABELS_LIMIT, "a labels file")?;
    Ok(Some(
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(|l| Clean::new(l.trim()))
            .collect(),
    ))
}
