//! Making one evidence map for one image: which method, which layer, which class, and the runs
//! Score-CAM needs (through the pipeline's [`Analyzer`]).

use super::{EvidenceMap, Method};
use crate::activations::{Activations, FeatureMaps, Layer, LayerData};
use crate::model::structure::{linear_head, LinearHead};
use crate::model::Model;
use crate::pipeline::Analyzer;
use crate::text::Clean;
use anyhow::{bail, Context, Result};

/// What the user asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MethodChoice {
    /// Exact CAM when the model's head allows it, else Score-CAM.
    #[default]
    Auto,
    Cam,
    ScoreCam,
    EigenCam,
}

/// Which class to explain.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum ClassPick {
    /// The highest-scoring class.
    #[default]
    Top,
    Index(usize),
    /// A label from the model's labels file.
    Label(String),
}

impl ClassPick {
    /// `--cam 282`, `--cam "tiger cat"`, `--cam top`.
    pub fn parse(text: &str) -> ClassPick {
        match text.trim() {
            "" | "top" | "top1" => ClassPick::Top,
            t => t
                .parse()
                .map(ClassPick::Index)
                .unwrap_or_else(|_| ClassPick::Label(t.to_string())),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct EvidenceRequest {
    pub method: MethodChoice,
    pub class: ClassPick,
    /// The layer (a tensor name) for Score-CAM and Eigen-CAM; `None` picks one.
    pub layer: Option<String>,
    /// Score-CAM's cap on channels (the top ones by mean).
    pub max_channels: usize,
}

pub const DEFAULT_MAX_CHANNELS: usize = 64;

/// One image's evidence map and what made it.
#[derive(Clone, Debug)]
pub struct Evidence {
    pub method: Method,
    /// The feature map it was made from.
    pub layer: Clean,
    pub tensor: String,
    /// The class explained (Eigen-CAM has none).
    pub class: Option<usize>,
    pub label: Option<Clean>,
    /// The class's score on the image (the logit for exact CAM).
    pub score: Option<f32>,
    /// The channels it combined.
    pub channels: usize,
    pub map: EvidenceMap,
}

impl Evidence {
    /// File stem: `cam_<class>`, or `cam_eigen` for the class-agnostic map.
    pub fn stem(&self) -> String {
        match self.class {
            Some(k) => format!("cam_{k}"),
            None => "cam_eigen".into(),
        }
    }

    /// "tiger cat (282)", "class 7", or "class-agnostic".
    pub fn class_text(&self) -> String {
        match (&self.label, self.class) {
            (Some(l), Some(k)) => format!("{l} ({k})"),
            (None, Some(k)) => format!("class {k}"),
            _ => "class-agnostic".into(),
        }
    }

    /// One line for messages: "cam · tiger cat (282) · /_swish_1/Clip".
    pub fn caption(&self) -> String {
        format!(
            "{} · {} · {}",
            self.method.name(),
            self.class_text(),
            self.layer
        )
    }
}

/// Knows a model's head (read once) and makes evidence maps for its images.
#[derive(Clone, Debug)]
pub struct Explainer {
    head: Option<LinearHead>,
}

impl Explainer {
    pub fn new(model: &Model) -> Result<Explainer> {
        Ok(Explainer {
            head: linear_head(model)?,
        })
    }

    pub fn head(&self) -> Option<&LinearHead> {
        self.head.as_ref()
    }

    /// The method `choice` comes to for this model.
    pub fn method(&self, choice: MethodChoice) -> Result<Method> {
        Ok(match choice {
            MethodChoice::Auto if self.head.is_some() => Method::Cam,
            MethodChoice::Auto | MethodChoice::ScoreCam => Method::ScoreCam,
            MethodChoice::EigenCam => Method::EigenCam,
            MethodChoice::Cam if self.head.is_some() => Method::Cam,
            MethodChoice::Cam => bail!(
                "exact CAM needs global average pooling followed by one linear layer, and this \
                 model's head is not; use --cam-method score-cam or eigen-cam"
            ),
        })
    }

    /// The tensors a run must compute besides the layers shown: the feature map and the class
    /// scores.
    pub fn tensors_needed(&self, model: &Model, request: &EvidenceRequest) -> Result<Vec<String>> {
        let method = self.method(request.method)?;
        let mut tensors = Vec::new();
        match (&self.head, method) {
            (Some(head), Method::Cam) => {
                tensors.push(head.features.clone());
                tensors.push(head.logits.clone());
            }
            _ => {
                if let Some(layer) = &request.layer {
                    tensors.push(layer.clone());
                } else if let Some(head) = &self.head {
                    tensors.push(head.features.clone());
                } else {
                    // Every feature map, to find the last one with a spatial extent.
                    tensors.extend(
                        model
                            .sites
                            .iter()
                            .filter(|s| s.may_be_feature_map())
                            .map(|s| s.tensor.clone()),
                    );
                }
                if let Some(head) = &self.head {
                    tensors.push(head.logits.clone());
                }
            }
        }
        Ok(tensors)
    }

    /// The class-score vector: the head's logits, else the classifier output.
    fn scores<'a>(&self, acts: &'a Activations, model: &Model) -> Option<(&'a Layer, &'a [f32])> {
        let vector = |l: &'a Layer| match &l.data {
            LayerData::Vector(v) => Some((l, v.as_slice())),
            _ => None,
        };
        if let Some(head) = &self.head {
            if let Some(found) = acts
                .layers
                .iter()
                .find(|l| l.tensor == head.logits)
                .and_then(vector)
            {
                return Some(found);
            }
        }
        acts.layers
            .iter()
            .filter(|l| model.graph_outputs.contains(&l.tensor))
            .find_map(vector)
    }

    /// Makes the evidence map `request` asks for from one image's activations (the image
    /// `analyzer` ran last). `progress` hears Score-CAM's runs.
    pub fn explain(
        &self,
        analyzer: &mut Analyzer,
        acts: &Activations,
        request: &EvidenceRequest,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Evidence> {
        let method = self.method(request.method)?;
        let model_path = analyzer.model.path.display().to_string();
        let scores = self.scores(acts, &analyzer.model);
        let class = match method {
            Method::EigenCam => None,
            _ => {
                let Some((_, values)) = scores else {
                    bail!("{model_path}: the model has no class-score output to explain");
                };
                Some(resolve_class(
                    &request.class,
                    values,
                    analyzer.labels.as_deref(),
                )?)
            }
        };
        let score = class.and_then(|k| scores.and_then(|(_, v)| v.get(k).copied()));
        let label = class.and_then(|k| analyzer.labels.as_ref().and_then(|l| l.get(k)).cloned());
        let layer = self.layer(acts, method, request.layer.as_deref())?;
        let features = layer
            .feature_maps()
            .with_context(|| format!("{model_path}: '{}' is not a feature map", layer.name))?;
        let (map, channels) = match method {
            Method::Cam => {
                let head = self.head.as_ref().context("no linear head")?;
                let k = class.unwrap_or(0);
                let map = super::class_activation_map(head, features, layer.name.as_str(), k)
                    .with_context(|| model_path.clone())?;
                (map, features.channels)
            }
            Method::EigenCam => (super::eigen_cam(features), features.channels),
            Method::ScoreCam => {
                let Some((score_layer, _)) = scores else {
                    bail!("{model_path}: the model has no class-score output to explain");
                };
                let tensor = score_layer.tensor.clone();
                let k = class.unwrap_or(0);
                score_cam(
                    analyzer,
                    features,
                    &tensor,
                    k,
                    request.max_channels,
                    progress,
                )?
            }
        };
        Ok(Evidence {
            method,
            layer: layer.name.clone(),
            tensor: layer.tensor.clone(),
            class,
            label,
            score,
            channels,
            map,
        })
    }

    /// The feature map a method reads: the head's for CAM; the one asked for; else the head's,
    /// else the last one larger than 1×1.
    fn layer<'a>(
        &self,
        acts: &'a Activations,
        method: Method,
        asked: Option<&str>,
    ) -> Result<&'a Layer> {
        let find = |tensor: &str| acts.layers.iter().find(|l| l.tensor == tensor);
        let wanted = match (method, &self.head, asked) {
            (Method::Cam, Some(head), _) => Some(head.features.as_str()),
            (_, _, Some(asked)) => Some(asked),
            (_, Some(head), None) => Some(head.features.as_str()),
            _ => None,
        };
        if let Some(tensor) = wanted {
            return find(tensor)
                .with_context(|| format!("'{}' was not computed", crate::text::sanitize(tensor)));
        }
        acts.layers
            .iter()
            .rev()
            .find(|l| {
                l.feature_maps()
                    .is_some_and(|f| f.height * f.width > 1 && f.channels > 1)
            })
            .context("the model has no feature map larger than 1×1 to explain with")
    }
}

/// The class index `pick` names among `values`.
fn resolve_class(pick: &ClassPick, values: &[f32], labels: Option<&[Clean]>) -> Result<usize> {
    match pick {
        ClassPick::Top => values
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))
            .map(|(i, _)| i)
            .context("the class-score output is empty"),
        ClassPick::Index(k) if *k < values.len() => Ok(*k),
        ClassPick::Index(k) => bail!(
            "class {k} is out of range: the model has {} classes (0..{})",
            values.len(),
            values.len().saturating_sub(1)
        ),
        ClassPick::Label(name) => {
            let Some(labels) = labels else {
                bail!(
                    "class '{}' is not a number and the model has no labels",
                    crate::text::sanitize(name)
                );
            };
            let wanted = name.to_lowercase();
            labels
                .iter()
                .position(|l| l.as_str().to_lowercase() == wanted)
                .filter(|&k| k < values.len())
                .with_context(|| format!("no class is labelled '{}'", crate::text::sanitize(name)))
        }
    }
}

/// Score-CAM over the top `max_channels` channels by mean: one run per masked input.
fn score_cam(
    analyzer: &mut Analyzer,
    features: &FeatureMaps,
    scores_tensor: &str,
    class: usize,
    max_channels: usize,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(EvidenceMap, usize)> {
    let input = analyzer
        .last_input()
        .cloned()
        .context("no image has been run")?;
    let layout = analyzer.geometry.layout;
    let (height, width) = match (layout, input.shape.as_slice()) {
        (crate::model::Layout::Nchw, [_, _, h, w]) | (crate::model::Layout::Nhwc, [_, h, w, _]) => {
            (*h, *w)
        }
        _ => bail!("the input is not an image tensor"),
    };
    // A flat channel masks nothing and is left out; the masked inputs are made a batch at a
    // time, as they run.
    let channels: Vec<usize> = super::score_cam_channels(features, max_channels.max(1))
        .into_iter()
        .filter(|&c| {
            let (lo, hi) = crate::render::min_max(features.channel(c));
            hi > lo
        })
        .collect();
    if channels.is_empty() {
        bail!("every channel of the layer is flat: nothing to mask with");
    }
    let mut make = |i: usize| {
        super::upsampled_mask(features, channels[i], height, width)
            .map(|mask| super::masked_input(&input, layout, &mask))
            .context("a flat channel")
    };
    let outputs = analyzer.score_inputs(channels.len(), &mut make, scores_tensor, progress)?;
    let scores: Vec<f32> = outputs
        .iter()
        .map(|o| o.get(class).copied().unwrap_or(f32::NEG_INFINITY))
        .collect();
    let used = channels.len();
    Ok((super::score_cam_map(features, &channels, &scores), used))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_picked_by_rank_index_or_label() {
        let values = [0.1, 3.0, 2.0];
        let labels: Vec<Clean> = ["a", "Tiger Cat", "c"]
            .iter()
            .map(|l| Clean::new(l))
            .collect();
        assert_eq!(resolve_class(&ClassPick::Top, &values, None).unwrap(), 1);
        assert_eq!(
            resolve_class(&ClassPick::Index(2), &values, None).unwrap(),
            2
        );
        assert!(resolve_class(&ClassPick::Index(3), &values, None).is_err());
        let by_label = ClassPick::parse("tiger cat");
        assert_eq!(resolve_class(&by_label, &values, Some(&labels)).unwrap(), 1);
        assert!(resolve_class(&by_label, &values, None).is_err());
        assert_eq!(ClassPick::parse("282"), ClassPick::Index(282));
        assert_eq!(ClassPick::parse("top"), ClassPick::Top);
    }
}
