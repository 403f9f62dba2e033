//! What a scan keeps per channel, reduced image by image and mergeable exactly: counts, maxima,
//! sums in fixed point (integer addition does not depend on order, so shards merge to the very
//! bytes of a single scan) and bounded top-k lists with a total order.

use crate::activations::FeatureMaps;
use serde::{Deserialize, Serialize};

/// Fractional bits of the fixed-point sums: per-image means are added as integers of 2⁻⁴⁰, exact
/// and associative. 2⁴⁰ ≈ 1.1e12, so a mean is kept to 1e-12 absolute; |means| up to 2⁶⁰
/// over 2²⁷ images fit in an i128 with room to spare.
const FRACTION_BITS: i32 = 40;
const SATURATE: f64 = (1u64 << 60) as f64;

fn to_fixed(v: f64) -> i128 {
    if !v.is_finite() {
        return 0;
    }
    (v.clamp(-SATURATE, SATURATE) * 2f64.powi(FRACTION_BITS)).round() as i128
}

fn from_fixed(v: i128) -> f64 {
    v as f64 / 2f64.powi(FRACTION_BITS)
}

/// One image among a channel's strongest: the image's position in the sorted file list, its
/// score, and where the channel peaked (row, column in the feature map).
/// In JSON as `[image, score, y, x]`: a scan keeps 2 × top of these per channel.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hit {
    pub image: u32,
    pub score: f32,
    pub y: u32,
    pub x: u32,
}

impl Serialize for Hit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (self.image, self.score, self.y, self.x).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Hit {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (image, score, y, x) = <(u32, f32, u32, u32)>::deserialize(d)?;
        Ok(Hit { image, score, y, x })
    }
}

impl Hit {
    /// Higher scores first; ties by the earlier image, so every order of arrival agrees.
    fn before(&self, other: &Hit) -> std::cmp::Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then(self.image.cmp(&other.image))
    }
}

/// Keeps the `k` best hits.
fn keep_top(hits: &mut Vec<Hit>, k: usize) {
    hits.sort_by(Hit::before);
    hits.truncate(k);
}

/// Everything kept for one layer: per channel, over the images seen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerStats {
    pub channels: usize,
    pub images: u64,
    /// Σ over images of the channel's mean, fixed point (as strings: JSON numbers are doubles).
    #[serde(with = "fixed_strings")]
    pub mean_sums: Vec<i128>,
    pub max: Vec<f32>,
    /// Images in which the channel never rose above 0.
    pub dead_images: Vec<u64>,
    pub top_by_max: Vec<Vec<Hit>>,
    pub top_by_mean: Vec<Vec<Hit>>,
}

mod fixed_strings {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[i128], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|x| x.to_string()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i128>, D::Error> {
        let strings = Vec::<String>::deserialize(d)?;
        strings
            .iter()
            .map(|s| s.parse().map_err(serde::de::Error::custom))
            .collect()
    }
}

impl LayerStats {
    pub fn new(channels: usize) -> LayerStats {
        LayerStats {
            channels,
            images: 0,
            mean_sums: vec![0; channels],
            max: vec![f32::NEG_INFINITY; channels],
            dead_images: vec![0; channels],
            top_by_max: vec![Vec::new(); channels],
            top_by_mean: vec![Vec::new(); channels],
        }
    }

    /// Adds one image's feature maps (`image`: its place in the file list).
    pub fn add(&mut self, fm: &FeatureMaps, image: u32, top: usize) {
        let channels = self.channels.min(fm.channels);
        let n = (fm.height * fm.width).max(1);
        self.images += 1;
        for c in 0..channels {
            let values = fm.channel(c);
            let (sum, max) = sum_and_max(values);
            let mean = sum / n as f64;
            self.mean_sums[c] += to_fixed(mean);
            self.max[c] = self.max[c].max(max);
            if max <= 0.0 || max.is_nan() {
                self.dead_images[c] += 1;
            }
            // Where the peak is matters only for an image that makes a top list.
            let place = || {
                let i = values.iter().position(|&v| v == max).unwrap_or(0);
                let w = fm.width.max(1);
                ((i / w) as u32, (i % w) as u32)
            };
            let mut peak = None;
            for (list, score) in [
                (&mut self.top_by_max[c], max),
                (&mut self.top_by_mean[c], mean as f32),
            ] {
                if !score.is_finite() || !makes_the_list(list, image, score, top) {
                    continue;
                }
                let (y, x) = *peak.get_or_insert_with(place);
                push_hit(list, Hit { image, score, y, x }, top);
            }
        }
    }

    /// Folds another scan of other images of the same layer into this one.
    pub fn merge(&mut self, other: &LayerStats, top: usize) {
        self.images += other.images;
        for c in 0..self.channels.min(other.channels) {
            self.mean_sums[c] += other.mean_sums[c];
            self.max[c] = self.max[c].max(other.max[c]);
            self.dead_images[c] += other.dead_images[c];
            self.top_by_max[c].extend_from_slice(&other.top_by_max[c]);
            keep_top(&mut self.top_by_max[c], top);
            self.top_by_mean[c].extend_from_slice(&other.top_by_mean[c]);
            keep_top(&mut self.top_by_mean[c], top);
        }
    }

    /// Whether every per-channel list has one entry per channel (a file read back, e.g. a
    /// checkpoint, is checked before use).
    pub fn is_consistent(&self, top: usize) -> bool {
        let n = self.channels;
        self.mean_sums.len() == n
            && self.max.len() == n
            && self.dead_images.len() == n
            && self.top_by_max.len() == n
            && self.top_by_mean.len() == n
            && self
                .top_by_max
                .iter()
                .chain(&self.top_by_mean)
                .all(|h| h.len() <= top)
    }

    pub fn mean(&self, c: usize) -> f64 {
        from_fixed(self.mean_sums[c]) / self.images.max(1) as f64
    }

    pub fn dead_fraction(&self, c: usize) -> f64 {
        self.dead_images[c] as f64 / self.images.max(1) as f64
    }

    /// Channels dead on every image seen.
    pub fn dead_channels(&self) -> usize {
        (0..self.channels)
            .filter(|&c| self.images > 0 && self.dead_images[c] == self.images)
            .count()
    }
}

/// Σ and max of a channel in eight lanes, which the compiler vectorises (every activation of
/// every image passes through here).
fn sum_and_max(values: &[f32]) -> (f64, f32) {
    const LANES: usize = 8;
    let mut sum = [0f64; LANES];
    let mut max = [f32::NEG_INFINITY; LANES];
    let whole = values.len() - values.len() % LANES;
    for chunk in values[..whole].chunks_exact(LANES) {
        for i in 0..LANES {
            sum[i] += chunk[i] as f64;
            max[i] = max[i].max(chunk[i]);
        }
    }
    let mut total: f64 = sum.iter().sum();
    let mut top = max.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    for &v in &values[whole..] {
        total += v as f64;
        top = top.max(v);
    }
    (total, top)
}

/// Whether a hit of `score` for `image` would enter a list kept at `top`.
fn makes_the_list(hits: &[Hit], image: u32, score: f32, top: usize) -> bool {
    if top == 0 {
        return false;
    }
    match hits.last() {
        Some(last) if hits.len() >= top => {
            let candidate = Hit {
                image,
                score,
                y: 0,
                x: 0,
            };
            candidate.before(last) == std::cmp::Ordering::Less
        }
        _ => true,
    }
}

/// Adds a hit to a list kept at `top`: cheap while the list is short, sorted when it is full.
fn push_hit(hits: &mut Vec<Hit>, hit: Hit, top: usize) {
    if top == 0 {
        return;
    }
    if hits.len() >= top {
        if let Some(last) = hits.last() {
            if hit.before(last) != std::cmp::Ordering::Less {
                return;
            }
        }
    }
    hits.push(hit);
    keep_top(hits, top);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fm(values: &[f32]) -> FeatureMaps {
        FeatureMaps::new(1, 1, values.len(), values.to_vec())
    }

    #[test]
    fn shards_merge_to_exactly_the_single_scan() {
        let images: Vec<Vec<f32>> = (0..40)
            .map(|i| {
                (0..6)
                    .map(|j| ((i * 37 + j * 11) % 17) as f32 / 3.0 - 2.5 + 1e-7 * i as f32)
                    .collect()
            })
            .collect();
        let mut whole = LayerStats::new(1);
        for (i, v) in images.iter().enumerate() {
            whole.add(&fm(v), i as u32, 5);
        }
        let mut merged = LayerStats::new(1);
        for shard in 0..3 {
            let mut part = LayerStats::new(1);
            for (i, v) in images.iter().enumerate().filter(|(i, _)| i % 3 == shard) {
                part.add(&fm(v), i as u32, 5);
            }
            merged.merge(&part, 5);
        }
        assert_eq!(merged, whole);
        assert_eq!(whole.top_by_max[0].len(), 5);
        assert!(whole.top_by_max[0]
            .windows(2)
            .all(|w| w[0].score >= w[1].score));
    }

    #[test]
    fn dead_channels_and_means() {
        let mut s = LayerStats::new(1);
        s.add(&fm(&[-1.0, 0.0]), 0, 3);
        s.add(&fm(&[-2.0, -1.0]), 1, 3);
        assert_eq!((s.dead_channels(), s.dead_fraction(0)), (1, 1.0));
        s.add(&fm(&[0.0, 3.0]), 2, 3);
        assert_eq!(s.dead_channels(), 0);
        assert!((s.mean(0) - (-0.5 - 1.5 + 1.5) / 3.0).abs() < 1e-12);
        assert_eq!(
            s.top_by_max[0][0],
            Hit {
                image: 2,
                score: 3.0,
                y: 0,
                x: 1
            }
        );
    }
}
