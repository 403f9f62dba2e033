//! The one "compute activations" call: model + image → engine → layers.
//! Both the snapshot command and the TUI go through [`Analyzer`].

use crate::activations::{classify, top_k, Activations, LayerData};
use crate::engine::{open_engine, Engine, EngineOptions};
use crate::model::Model;
use crate::preprocess::{self, InputGeometry, PreprocessOptions};
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
}

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
    pub labels: Option<Vec<String>>,
    /// How `--backend auto` decided, for one line on stderr.
    pub engine_note: Option<String>,
    engine: Box<dyn Engine>,
}

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
        let (engine, engine_note) = open_engine(&model, &tensors, &config.engine)?;
        Ok(Analyzer {
            model,
            geometry,
            preprocess,
            labels,
            engine_note,
            engine,
        })
    }

    pub fn engine_label(&self) -> String {
        self.engine.label()
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
        let prepared = preprocess::prepare(img, image_path, &self.geometry, &self.preprocess)?;
        let started = Instant::now();
        let raw = self.engine.run(&prepared.tensor)?;
        let inference = started.elapsed();
        let mut layers = Vec::with_capacity(raw.len());
        for tensor in raw {
            let site = self
                .model
                .site(&tensor.name)
                .with_context(|| format!("engine returned unknown tensor {}", tensor.name))?;
            layers.push(classify(site, tensor));
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
            input_image: prepared.shown,
            input_description: prepared.description,
            engine: self.engine.label(),
            inference,
            top5,
        })
    }
}

fn load_labels(
    model: &Model,
    cli: Option<&Path>,
    sidecar: Option<&str>,
) -> Result<Option<Vec<String>>> {
    let path = match (cli, sidecar) {
        (Some(p), _) => p.to_path_buf(),
        (None, Some(s)) => model.dir().join(s),
        (None, None) => return Ok(None),
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("{}: cannot read labels", path.display()))?;
    Ok(Some(
        text.lines()
            .map(|l| crate::model::sanitize(l.trim()))
            .collect(),
    ))
}
