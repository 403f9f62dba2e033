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
    /// NaN and ±Inf over every image, and the images that held any.
    pub nonfinite: crate::precision::NonFinite,
    pub nonfinite_images: u64,
    #[serde(skip)]
    floors: Floors,
}

/// Per channel, the hit a newcomer must beat to enter each top list (by max, by mean): the last
/// of a full list, none while it has room. Every channel of every image is checked against
/// these, and reading them side by side costs far less than reaching into each channel's list.
/// Worked out from the lists, so it is no part of the figures and never compared.
#[derive(Clone, Debug, Default)]
struct Floors(Vec<[Floor; 2]>);

#[derive(Clone, Copy, Debug)]
enum Floor {
    Room,
    Beat(Hit),
    Closed,
}

impl Floor {
    fn of(hits: &[Hit], top: usize) -> Floor {
        match hits.last() {
            _ if top == 0 => Floor::Closed,
            Some(last) if hits.len() >= top => Floor::Beat(*last),
            _ => Floor::Room,
        }
    }

    fn admits(&self, image: u32, score: f32) -> bool {
        match self {
            Floor::Room => true,
            Floor::Closed => false,
            Floor::Beat(last) => {
                let candidate = Hit {
                    image,
                    score,
                    y: 0,
                    x: 0,
                };
                candidate.before(last) == std::cmp::Ordering::Less
            }
        }
    }
}

impl PartialEq for Floors {
    fn eq(&self, _: &Floors) -> bool {
        true
    }
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
            nonfinite: Default::default(),
            nonfinite_images: 0,
            floors: Floors::default(),
        }
    }

    fn refresh_floors(&mut self, top: usize) {
        self.floors.0 = self
            .top_by_max
            .iter()
            .zip(&self.top_by_mean)
            .map(|(by_max, by_mean)| [Floor::of(by_max, top), Floor::of(by_mean, top)])
            .collect();
    }

    /// Adds one image's NaN and ±Inf (counted when the layer was made).
    pub fn add_nonfinite(&mut self, counts: crate::precision::NonFinite) {
        if counts.any() {
            self.nonfinite = self.nonfinite.plus(counts);
            self.nonfinite_images += 1;
        }
    }

    /// Adds one image's feature maps (`image`: its place in the file list).
    pub fn add(&mut self, fm: &FeatureMaps, image: u32, top: usize) {
        let channels = self.channels.min(fm.channels);
        let n = (fm.height * fm.width).max(1);
        if self.floors.0.len() != self.channels {
            self.refresh_floors(top);
        }
        self.images += 1;
        let data: &[f32] = &fm.data;
        for (c, values) in data.chunks_exact(n).take(channels).enumerate() {
            let (sum, max) = sum_and_max(values);
            let mean = sum / n as f64;
            self.mean_sums[c] += to_fixed(mean);
            self.max[c] = self.max[c].max(max);
            if max <= 0.0 || max.is_nan() {
                self.dead_images[c] += 1;
            }
            let floors = &mut self.floors.0[c];
            let mut peak = None;
            for (which, list, score) in [
                (0, &mut self.top_by_max[c], max),
                (1, &mut self.top_by_mean[c], mean as f32),
            ] {
                // Most images fall below the floor: their lists are not touched.
                if !score.is_finite() || !floors[which].admits(image, score) {
                    continue;
                }
                // Where the peak is matters only for an image that makes a top list.
                let (y, x) = *peak.get_or_insert_with(|| {
                    let i = values.iter().position(|&v| v == max).unwrap_or(0);
                    let w = fm.width.max(1);
                    ((i / w) as u32, (i % w) as u32)
                });
                // Admitted by the floor: it belongs in the list, whose last may now drop out.
                list.push(Hit { image, score, y, x });
                keep_top(list, top);
                floors[which] = Floor::of(list, top);
            }
        }
    }

    /// Folds another scan of other images of the same layer into this one.
    pub fn merge(&mut self, other: &LayerStats, top: usize) {
        self.images += other.images;
        self.nonfinite = self.nonfinite.plus(other.nonfinite);
        self.nonfinite_images += other.nonfinite_images;
        for c in 0..self.channels.min(other.channels) {
            self.mean_sums[c] += other.mean_sums[c];
            self.max[c] = self.max[c].max(other.max[c]);
            self.dead_images[c] += other.dead_images[c];
            self.top_by_max[c].extend_from_slice(&other.top_by_max[c]);
            keep_top(&mut self.top_by_max[c], top);
            self.top_by_mean[c].extend_from_slice(&other.top_by_mean[c]);
            keep_top(&mut self.top_by_mean[c], top);
        }
        self.refresh_floors(top);
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

/// Σ and max of a channel. Every activation of every image passes through here, so it is
/// written for the compiler to vectorise: sixteen f32 lanes, whose sums are carried into an f64
/// every 4096 values (f32 keeps a block's sum to about 1e-7 of its magnitude, the f64 total loses
/// nothing across blocks). The order of additions is fixed, so the figures are too.
fn sum_and_max(values: &[f32]) -> (f64, f32) {
    const LANES: usize = 16;
    const BLOCK: usize = 256 * LANES;
    let mut total = 0f64;
    let mut max = [f32::NEG_INFINITY; LANES];
    let mut rest = values;
    while rest.len() >= LANES {
        let (block, tail) = rest.split_at((rest.len() - rest.len() % LANES).min(BLOCK));
        let mut sum = [0f32; LANES];
        for chunk in block.chunks_exact(LANES) {
            for i in 0..LANES {
                sum[i] += chunk[i];
                // Not f32::max: this form compiles to one instruction; a NaN is passed over
                // either way.
                max[i] = if chunk[i] > max[i] { chunk[i] } else { max[i] };
            }
        }
        total += sum.iter().map(|&s| f64::from(s)).sum::<f64>();
        rest = tail;
    }
    let mut top = max.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    for &v in rest {
        total += f64::from(v);
        top = top.max(v);
    }
    (total, top)
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
    fn sum_and_max_agree_with_a_plain_loop() {
        for len in [0, 1, 15, 16, 17, 4095, 4096, 4097, 12547] {
            let values: Vec<f32> = (0..len)
                .map(|i| ((i * 7919 % 1013) as f32 - 500.0) / 37.0)
                .collect();
            let (sum, max) = sum_and_max(&values);
            let plain: f64 = values.iter().map(|&v| f64::from(v)).sum();
            let top = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            assert!(
                (sum - plain).abs() <= 1e-6 * (1.0 + plain.abs()),
                "{len}: {sum} vs {plain}"
            );
            assert_eq!(max, top, "{len}");
        }
        // A NaN is passed over, wherever it lies.
        for at in [0, 5, 16, 4100] {
            let mut values = vec![1.0f32; 4200];
            values[at] = f32::NAN;
            values[4199] = 2.0;
            assert_eq!(sum_and_max(&values).1, 2.0);
        }
    }

    #[test]
    fn a_scan_read_back_goes_on_as_if_never_stopped() {
        let image = |i: usize| -> Vec<f32> {
            (0..8)
                .map(|j| ((i * 31 + j * 17) % 23) as f32 / 4.0 - 2.0)
                .collect()
        };
        let mut straight = LayerStats::new(2);
        for i in 0..40 {
            straight.add(&FeatureMaps::new(2, 2, 2, image(i)), i as u32, 4);
        }
        let mut first = LayerStats::new(2);
        for i in 0..20 {
            first.add(&FeatureMaps::new(2, 2, 2, image(i)), i as u32, 4);
        }
        let bytes = postcard::to_allocvec(&first).expect("write");
        let mut resumed: LayerStats = postcard::from_bytes(&bytes).expect("read");
        for i in 20..40 {
            resumed.add(&FeatureMaps::new(2, 2, 2, image(i)), i as u32, 4);
        }
        assert_eq!(resumed, straight);
        assert_eq!(
            serde_json::to_string(&resumed).expect("json"),
            serde_json::to_string(&straight).expect("json")
        );
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
