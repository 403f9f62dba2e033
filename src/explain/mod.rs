//! Class evidence maps: where in the picture a class (or a layer's strongest pattern) came from.
//!
//! - **CAM** (exact): for a classifier whose head is global average pooling then one linear
//!   layer, class k's map is the pooled feature map weighted by the linear layer's row k. Its mean
//!   plus the bias is the class's logit, so it says exactly how each position voted.
//! - **Score-CAM**: for any model; each channel of a layer, upsampled and scaled to 0..1, masks
//!   the input; the class score of each masked input, softmaxed over the channels, weights the
//!   channels. Forward passes only (batched when the model takes a batch).
//! - **Eigen-CAM**: the layer's first principal component over positions; class-agnostic.
//!
//! Maps are raw (no ReLU, no normalisation), at the feature map's resolution.

use crate::activations::FeatureMaps;
use crate::engine::InputTensor;
use crate::model::structure::LinearHead;
use crate::model::Layout;

pub mod run;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Method {
    #[serde(rename = "cam")]
    Cam,
    #[serde(rename = "score-cam")]
    ScoreCam,
    #[serde(rename = "eigen-cam")]
    EigenCam,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Cam => "cam",
            Method::ScoreCam => "score-cam",
            Method::EigenCam => "eigen-cam",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    #[error("the head expects {expected} channels and '{layer}' has {found}")]
    Channels {
        layer: String,
        expected: usize,
        found: usize,
    },
    #[error("class {class} is out of range: the model has {classes} classes")]
    Class { class: usize, classes: usize },
}

/// One evidence map, row-major `height × width`.
#[derive(Clone, Debug, PartialEq)]
pub struct EvidenceMap {
    pub height: usize,
    pub width: usize,
    pub values: Vec<f32>,
}

impl EvidenceMap {
    /// As a one-channel feature map, so render's pictures and overlays draw it.
    pub fn as_feature_maps(&self) -> FeatureMaps {
        FeatureMaps::new(1, self.height, self.width, self.values.clone())
    }

    pub fn mean(&self) -> f64 {
        self.values.iter().map(|&v| v as f64).sum::<f64>() / self.values.len().max(1) as f64
    }
}

/// Exact CAM of `class`: `Σ_c W[class][c] · F_c`.
pub fn class_activation_map(
    head: &LinearHead,
    features: &FeatureMaps,
    layer: &str,
    class: usize,
) -> Result<EvidenceMap, ExplainError> {
    if features.channels != head.channels {
        return Err(ExplainError::Channels {
            layer: layer.to_string(),
            expected: head.channels,
            found: features.channels,
        });
    }
    if class >= head.classes {
        return Err(ExplainError::Class {
            class,
            classes: head.classes,
        });
    }
    let n = features.height * features.width;
    // Summed in f64: 1280 channels of mixed signs lose digits in f32.
    let mut acc = vec![0f64; n];
    for (c, &w) in head.row(class).iter().enumerate() {
        if w == 0.0 {
            continue;
        }
        let w = w as f64;
        for (a, &v) in acc.iter_mut().zip(features.channel(c)) {
            *a += w * v as f64;
        }
    }
    Ok(EvidenceMap {
        height: features.height,
        width: features.width,
        values: acc.into_iter().map(|v| v as f32).collect(),
    })
}

/// Eigen-CAM: the positions' projection on the first principal component of the channels
/// (centred over positions), signed so that it agrees with the channel sum.
pub fn eigen_cam(features: &FeatureMaps) -> EvidenceMap {
    let (c, n) = (features.channels, features.height * features.width);
    // Positions × channels, centred per channel.
    let means: Vec<f64> = (0..c)
        .map(|k| features.channel(k).iter().map(|&v| v as f64).sum::<f64>() / n.max(1) as f64)
        .collect();
    // The values are taken once: reading an engine's buffer is a call into the engine.
    let data: &[f32] = &features.data;
    let centred = |k: usize, i: usize| data[k * n + i] as f64 - means[k];
    // Power iteration on XᵀX without forming it: v ← Xᵀ(Xv).
    let mut v: Vec<f64> = (0..c).map(|k| 1.0 + (k % 7) as f64 * 0.01).collect();
    let mut projection = vec![0f64; n];
    for _ in 0..200 {
        projection.iter_mut().for_each(|p| *p = 0.0);
        for (k, &vk) in v.iter().enumerate() {
            for (i, p) in projection.iter_mut().enumerate() {
                *p += centred(k, i) * vk;
            }
        }
        let mut next = vec![0f64; c];
        for (k, nk) in next.iter_mut().enumerate() {
            *nk = projection
                .iter()
                .enumerate()
                .map(|(i, p)| centred(k, i) * p)
                .sum();
        }
        let norm = next.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm == 0.0 || !norm.is_finite() {
            break;
        }
        next.iter_mut().for_each(|x| *x /= norm);
        let change: f64 = next.iter().zip(&v).map(|(a, b)| (a - b).abs()).sum();
        v = next;
        if change < 1e-10 {
            break;
        }
    }
    projection.iter_mut().for_each(|p| *p = 0.0);
    for (k, &vk) in v.iter().enumerate() {
        for (i, p) in projection.iter_mut().enumerate() {
            *p += centred(k, i) * vk;
        }
    }
    // A principal component's sign is arbitrary: pick the one that follows the channel sum.
    let agreement: f64 = (0..n)
        .map(|i| projection[i] * (0..c).map(|k| centred(k, i)).sum::<f64>())
        .sum();
    let sign = if agreement < 0.0 { -1.0 } else { 1.0 };
    EvidenceMap {
        height: features.height,
        width: features.width,
        values: projection.iter().map(|p| (p * sign) as f32).collect(),
    }
}

/// The channels Score-CAM uses: the `max` with the highest mean, in channel order.
pub fn score_cam_channels(features: &FeatureMaps, max: usize) -> Vec<usize> {
    let n = (features.height * features.width).max(1) as f64;
    let means: Vec<f64> = (0..features.channels)
        .map(|k| features.channel(k).iter().map(|&v| v as f64).sum::<f64>() / n)
        .collect();
    let mut order: Vec<usize> = (0..features.channels).collect();
    order.sort_by(|&a, &b| means[b].total_cmp(&means[a]).then(a.cmp(&b)));
    order.truncate(max.max(1));
    order.sort_unstable();
    order
}

/// Channel `c` upsampled to the input's `height × width` (bilinear, half-pixel centres, as
/// torch's `interpolate(align_corners=False)`), then scaled to 0..1; `None` for a flat channel,
/// which masks nothing and is left out.
pub fn upsampled_mask(
    features: &FeatureMaps,
    c: usize,
    height: usize,
    width: usize,
) -> Option<Vec<f32>> {
    let (h, w) = (features.height, features.width);
    let src = features.channel(c);
    let (lo, hi) = crate::render::min_max(src);
    if hi <= lo {
        return None;
    }
    let axis = |out: usize, size: usize, len: usize| {
        let s = ((out as f64 + 0.5) * size as f64 / len as f64 - 0.5).max(0.0);
        let i0 = (s.floor() as usize).min(size - 1);
        let i1 = (i0 + 1).min(size - 1);
        (i0, i1, s - i0 as f64)
    };
    let xs: Vec<_> = (0..width).map(|x| axis(x, w, width)).collect();
    let inv = 1.0 / (hi - lo) as f64;
    let mut mask = Vec::with_capacity(height * width);
    for y in 0..height {
        let (y0, y1, fy) = axis(y, h, height);
        for &(x0, x1, fx) in &xs {
            let at = |yy: usize, xx: usize| src[yy * w + xx] as f64;
            let top = at(y0, x0) * (1.0 - fx) + at(y0, x1) * fx;
            let bottom = at(y1, x0) * (1.0 - fx) + at(y1, x1) * fx;
            let v = top * (1.0 - fy) + bottom * fy;
            mask.push(((v - lo as f64) * inv) as f32);
        }
    }
    Some(mask)
}

/// The input multiplied by a mask of its spatial size, in the input's layout.
pub fn masked_input(input: &InputTensor, layout: Layout, mask: &[f32]) -> InputTensor {
    let mut data = input.data.clone();
    match layout {
        Layout::Nchw => {
            let plane = mask.len();
            for chunk in data.chunks_exact_mut(plane) {
                for (d, m) in chunk.iter_mut().zip(mask) {
                    *d *= m;
                }
            }
        }
        Layout::Nhwc => {
            let channels = data.len() / mask.len().max(1);
            for (pixel, m) in data.chunks_exact_mut(channels.max(1)).zip(mask) {
                pixel.iter_mut().for_each(|d| *d *= m);
            }
        }
    }
    InputTensor {
        name: input.name.clone(),
        shape: input.shape.clone(),
        data,
        elem: input.elem,
    }
}

/// Score-CAM's map from each used channel's class score: softmax over the scores weights the
/// channels.
pub fn score_cam_map(features: &FeatureMaps, channels: &[usize], scores: &[f32]) -> EvidenceMap {
    let max = scores.iter().cloned().fold(f32::NEG_INFINITY, f32::max) as f64;
    let exps: Vec<f64> = scores.iter().map(|&s| (s as f64 - max).exp()).collect();
    let total: f64 = exps.iter().sum();
    let n = features.height * features.width;
    let mut acc = vec![0f64; n];
    for (&c, e) in channels.iter().zip(&exps) {
        let weight = e / total;
        for (a, &v) in acc.iter_mut().zip(features.channel(c)) {
            *a += weight * v as f64;
        }
    }
    EvidenceMap {
        height: features.height,
        width: features.width,
        values: acc.into_iter().map(|v| v as f32).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(weights: Vec<f32>, classes: usize, channels: usize) -> LinearHead {
        LinearHead {
            features: "f".into(),
            logits: "l".into(),
            pooling: "GlobalAveragePool".into(),
            channels,
            classes,
            bias: vec![0.0; classes],
            weights,
        }
    }

    #[test]
    fn cam_weights_channels_by_the_class_row() {
        let fm = FeatureMaps::new(2, 1, 2, vec![1.0, 2.0, 10.0, 20.0]);
        let h = head(vec![1.0, 0.0, 0.5, -1.0], 2, 2);
        assert_eq!(
            class_activation_map(&h, &fm, "f", 0).unwrap().values,
            vec![1.0, 2.0]
        );
        assert_eq!(
            class_activation_map(&h, &fm, "f", 1).unwrap().values,
            vec![-9.5, -19.0]
        );
        assert!(class_activation_map(&h, &fm, "f", 2).is_err());
        let three = FeatureMaps::new(1, 1, 2, vec![0.0, 0.0]);
        assert!(class_activation_map(&h, &three, "f", 0).is_err());
    }

    #[test]
    fn eigen_cam_finds_the_shared_pattern_with_the_sum_s_sign() {
        // Two channels carrying the same pattern (one scaled), a third flat.
        let pattern = [0.0f32, 1.0, 4.0, 9.0];
        let mut data = pattern.to_vec();
        data.extend(pattern.iter().map(|v| v * 2.0));
        data.extend([3.0; 4]);
        let map = eigen_cam(&FeatureMaps::new(3, 2, 2, data));
        let mean = pattern.iter().sum::<f32>() / 4.0;
        let scale = map.values[3] / (pattern[3] - mean);
        assert!(scale > 0.0);
        for (m, p) in map.values.iter().zip(pattern) {
            assert!((m - scale * (p - mean)).abs() < 1e-4, "{:?}", map.values);
        }
    }

    #[test]
    fn masks_span_zero_to_one_and_follow_the_channel() {
        let fm = FeatureMaps::new(2, 2, 2, vec![0.0, 1.0, 2.0, 3.0, 5.0, 5.0, 5.0, 5.0]);
        let m = upsampled_mask(&fm, 0, 4, 4).unwrap();
        assert_eq!(m.len(), 16);
        assert_eq!((m[0], m[15]), (0.0, 1.0));
        assert!(m[0] < m[1] && m[1] < m[2]);
        assert!(upsampled_mask(&fm, 1, 4, 4).is_none());
        let input = InputTensor {
            name: "x".into(),
            shape: vec![1, 2, 1, 2],
            data: vec![1.0, 2.0, 3.0, 4.0],
            elem: Default::default(),
        };
        let nchw = masked_input(&input, Layout::Nchw, &[0.5, 0.0]);
        assert_eq!(nchw.data, vec![0.5, 0.0, 1.5, 0.0]);
        let nhwc = masked_input(&input, Layout::Nhwc, &[0.5, 0.0]);
        assert_eq!(nhwc.data, vec![0.5, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn score_cam_weights_are_a_softmax_of_the_scores() {
        let fm = FeatureMaps::new(2, 1, 1, vec![1.0, 100.0]);
        let map = score_cam_map(&fm, &[0, 1], &[0.0, 0.0]);
        assert!((map.values[0] - 50.5).abs() < 1e-4);
        let map = score_cam_map(&fm, &[0, 1], &[50.0, 0.0]);
        assert!((map.values[0] - 1.0).abs() < 1e-3);
        assert_eq!(score_cam_channels(&fm, 1), vec![1]);
    }
}
