//! Pure functions from activations to pictures: colormaps, normalisation, channel grid, sum
//! map, overlay, statistics. Nothing here knows about ONNX or terminals.

pub mod colormap;
pub mod filters;
pub mod png;
mod text;

pub use colormap::Colormap;

use crate::activations::FeatureMaps;
use image::RgbImage;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Normalization {
    /// Each channel scaled to its own min..max (matplotlib imshow's default).
    #[default]
    PerChannel,
    /// One min..max for the whole layer, so channels compare.
    PerLayer,
}

impl Normalization {
    pub fn toggle(self) -> Self {
        match self {
            Normalization::PerChannel => Normalization::PerLayer,
            Normalization::PerLayer => Normalization::PerChannel,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Normalization::PerChannel => "per-channel",
            Normalization::PerLayer => "per-layer",
        }
    }
}

/// Gap colour between tiles.
pub const BACKGROUND: [u8; 3] = [24, 24, 24];
/// Tile label colour.
pub const LABEL: [u8; 3] = [230, 230, 230];
/// NaN and ±Inf: magenta, which no colormap featscope draws with holds.
pub const NONFINITE: [u8; 3] = [255, 0, 255];
/// Palette slots after the colormap's [`colormap::LEVELS`] colours.
pub const BACKGROUND_INDEX: u8 = colormap::LEVELS as u8;
pub const LABEL_INDEX: u8 = colormap::LEVELS as u8 + 1;
pub const NONFINITE_INDEX: u8 = colormap::LEVELS as u8 + 2;

/// A picture as palette indices: the colormap's levels, then [`BACKGROUND`], [`LABEL`] and
/// [`NONFINITE`].
/// Feature maps need no more colours, and one byte a pixel makes grids cheap to encode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexedImage {
    pub width: u32,
    pub height: u32,
    /// Row-major palette indices.
    pub indices: Vec<u8>,
    pub colormap: Colormap,
}

impl IndexedImage {
    fn filled(width: usize, height: usize, index: u8, colormap: Colormap) -> IndexedImage {
        IndexedImage {
            width: width as u32,
            height: height as u32,
            indices: vec![index; width * height],
            colormap,
        }
    }

    /// 256 RGB entries: the colormap, background, label, not-a-number.
    pub fn palette(&self) -> Vec<[u8; 3]> {
        let mut palette = self.colormap.lut().to_vec();
        palette.push(BACKGROUND);
        palette.push(LABEL);
        palette.push(NONFINITE);
        palette
    }

    pub fn rgb_at(&self, x: u32, y: u32) -> [u8; 3] {
        match self.indices[(y * self.width + x) as usize] {
            BACKGROUND_INDEX => BACKGROUND,
            LABEL_INDEX => LABEL,
            NONFINITE_INDEX => NONFINITE,
            level => self.colormap.lut()[level as usize],
        }
    }

    pub fn to_rgb(&self) -> RgbImage {
        let palette = self.palette();
        let data: Vec<u8> = self
            .indices
            .iter()
            .flat_map(|&i| palette[i as usize])
            .collect();
        RgbImage::from_raw(self.width, self.height, data).unwrap_or_default()
    }
}

/// Tiles in a near-square grid: rows = round(√n); cols = rows + 1 if √n > rows, else rows.
pub fn grid_shape(n: usize) -> (usize, usize) {
    if n == 0 {
        return (0, 0);
    }
    let root = (n as f64).sqrt();
    let rows = root.round() as usize;
    let cols = if root > rows as f64 { rows + 1 } else { rows };
    (rows, cols)
}

/// Integer upscale so that small maps stay visible: the shorter side reaches `min_side` pixels.
pub fn auto_scale(height: usize, width: usize, min_side: usize) -> u32 {
    let short = height.min(width).max(1);
    min_side.div_ceil(short).clamp(1, 64) as u32
}

/// One pass over a slice: min, max (of finite values), sum and count of exact zeros.
/// Eight independent lanes let the compiler vectorise it; this runs over every activation.
#[derive(Clone, Copy, Debug)]
struct Summary {
    lo: f32,
    hi: f32,
    sum: f64,
    zeros: usize,
}

fn summarize(values: &[f32]) -> Summary {
    const LANES: usize = 8;
    let mut lo = [f32::INFINITY; LANES];
    let mut hi = [f32::NEG_INFINITY; LANES];
    let mut sum = [0f64; LANES];
    let mut zeros = [0u32; LANES];
    let whole = values.len() - values.len() % LANES;
    let (body, rest) = values.split_at(whole);
    for c in body.chunks_exact(LANES) {
        for i in 0..LANES {
            lo[i] = lo[i].min(c[i]);
            hi[i] = hi[i].max(c[i]);
            sum[i] += c[i] as f64;
            zeros[i] += (c[i] == 0.0) as u32;
        }
    }
    let mut summary = Summary {
        lo: lo.iter().copied().fold(f32::INFINITY, f32::min),
        hi: hi.iter().copied().fold(f32::NEG_INFINITY, f32::max),
        sum: sum.iter().sum(),
        zeros: zeros.iter().map(|&z| z as usize).sum(),
    };
    for &v in rest {
        summary.lo = summary.lo.min(v);
        summary.hi = summary.hi.max(v);
        summary.sum += v as f64;
        summary.zeros += (v == 0.0) as usize;
    }
    if !summary.lo.is_finite() || !summary.hi.is_finite() {
        // ±∞ present (rare): the range comes from the finite values only.
        let (lo, hi) = values
            .iter()
            .filter(|v| v.is_finite())
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| {
                (l.min(v), h.max(v))
            });
        summary.lo = lo;
        summary.hi = hi;
    }
    summary
}

/// Finite min and max of `values` (0, 0 when there is none).
pub fn min_max(values: &[f32]) -> (f32, f32) {
    let s = summarize(values);
    if s.lo > s.hi {
        (0.0, 0.0)
    } else {
        (s.lo, s.hi)
    }
}

/// Draws `values` (row-major `height × width`) as palette indices, `scale`× enlarged, mapping
/// `lo..hi` to the colormap. A constant map (lo == hi) takes the low end, like matplotlib;
/// NaN and ±Inf take [`NONFINITE`].
pub fn colorize_indexed(
    values: &[f32],
    height: usize,
    width: usize,
    range: (f32, f32),
    colormap: Colormap,
    scale: u32,
) -> IndexedImage {
    let s = scale.max(1) as usize;
    let mut img = IndexedImage::filled(width * s, height * s, 0, colormap);
    paint(&mut img, 0, 0, values, height, width, range, s);
    img
}

/// [`colorize_indexed`] as an RGB picture.
pub fn colorize(
    values: &[f32],
    height: usize,
    width: usize,
    range: (f32, f32),
    colormap: Colormap,
    scale: u32,
) -> RgbImage {
    colorize_indexed(values, height, width, range, colormap, scale).to_rgb()
}

#[allow(clippy::too_many_arguments)]
fn paint(
    img: &mut IndexedImage,
    x0: usize,
    y0: usize,
    values: &[f32],
    height: usize,
    width: usize,
    (lo, hi): (f32, f32),
    s: usize,
) {
    let range = hi - lo;
    let inv = if range > 0.0 && range.is_finite() {
        1.0 / range
    } else {
        0.0
    };
    let stride = img.width as usize;
    let buf = &mut img.indices;
    let row_len = width * s;
    for (y, line) in values.chunks_exact(width).take(height).enumerate() {
        let first = (y0 + y * s) * stride + x0;
        let row = &mut buf[first..first + row_len];
        for (block, &v) in row.chunks_exact_mut(s).zip(line) {
            block.fill(if v.is_finite() {
                colormap::level((v - lo) * inv) as u8
            } else {
                NONFINITE_INDEX
            });
        }
        // Enlarged maps repeat the row just drawn.
        for k in 1..s {
            let start = (y0 + y * s + k) * stride + x0;
            buf.copy_within(first..first + row_len, start);
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GridStyle {
    pub colormap: Colormap,
    pub normalization: Normalization,
    /// Pixels per activation value.
    pub scale: u32,
    /// Pixels between tiles.
    pub gap: u32,
    /// Label each tile `feature_map_i` (or `i` where the tile is too narrow).
    pub labels: bool,
    /// One value range for every tile instead of the normalisation's (the symmetric range of
    /// a difference, so 0 is the colormap's middle).
    pub range: Option<(f32, f32)>,
}

impl GridStyle {
    /// Defaults for a layer: viridis, per-channel, maps enlarged to at least 32 px, 2 px gaps.
    pub fn for_maps(fm: &FeatureMaps) -> GridStyle {
        GridStyle {
            colormap: Colormap::Viridis,
            normalization: Normalization::PerChannel,
            scale: auto_scale(fm.height, fm.width, 32),
            gap: 2,
            labels: false,
            range: None,
        }
    }
}

/// The value range a channel is drawn with.
pub fn channel_range(fm: &FeatureMaps, c: usize, normalization: Normalization) -> (f32, f32) {
    match normalization {
        Normalization::PerChannel => min_max(fm.channel(c)),
        Normalization::PerLayer => min_max(&fm.data),
    }
}

/// One channel as an image.
pub fn render_channel(fm: &FeatureMaps, c: usize, style: &GridStyle) -> RgbImage {
    colorize(
        fm.channel(c),
        fm.height,
        fm.width,
        channel_range(fm, c, style.normalization),
        style.colormap,
        style.scale,
    )
}

/// The channel grid: `channels` (an order or subset of channel indices) laid out by
/// [`grid_shape`], one tile each, row by row.
pub fn render_grid(fm: &FeatureMaps, channels: &[usize], style: &GridStyle) -> IndexedImage {
    let (rows, cols) = grid_shape(channels.len());
    let s = style.scale.max(1) as usize;
    let (tw, th) = (fm.width * s, fm.height * s);
    let gap = style.gap as usize;
    let label_h = if style.labels { text::HEIGHT + 2 } else { 0 };
    let width = cols * tw + cols.saturating_sub(1) * gap;
    let height = rows * (th + label_h) + rows.saturating_sub(1) * gap;
    let mut img = IndexedImage::filled(
        width.max(1),
        height.max(1),
        BACKGROUND_INDEX,
        style.colormap,
    );
    let layer_range = min_max(&fm.data);
    for (i, &c) in channels.iter().enumerate() {
        let (r, col) = (i / cols, i % cols);
        let x0 = col * (tw + gap);
        let y0 = r * (th + label_h + gap);
        if style.labels {
            let long = format!("feature_map_{c}");
            let label = if text::width(&long) <= tw {
                long
            } else {
                c.to_string()
            };
            text::draw(&mut img, x0, y0 + 1, tw, &label);
        }
        let range = match (style.range, style.normalization) {
            (Some(range), _) => range,
            (None, Normalization::PerChannel) => min_max(fm.channel(c)),
            (None, Normalization::PerLayer) => layer_range,
        };
        paint(
            &mut img,
            x0,
            y0 + label_h,
            fm.channel(c),
            fm.height,
            fm.width,
            range,
            s,
        );
    }
    img
}

/// The element-wise 1:1 sum of all channels (height × width).
pub fn channel_sum(fm: &FeatureMaps) -> Vec<f32> {
    let n = fm.height * fm.width;
    let mut sum = vec![0f32; n];
    for c in 0..fm.channels {
        for (acc, v) in sum.iter_mut().zip(fm.channel(c)) {
            *acc += v;
        }
    }
    sum
}

/// The summed map, scaled to its own min..max.
pub fn render_sum(fm: &FeatureMaps, colormap: Colormap, scale: u32) -> IndexedImage {
    let sum = channel_sum(fm);
    colorize_indexed(&sum, fm.height, fm.width, min_max(&sum), colormap, scale)
}

/// The summed map, colourised and stretched over `base` (the image as fed), blended with `alpha`
/// (0 = only the image, 1 = only the map).
pub fn render_overlay(
    fm: &FeatureMaps,
    base: &image::RgbImage,
    colormap: Colormap,
    alpha: f32,
) -> RgbImage {
    let heat = render_sum(fm, colormap, 1).to_rgb();
    let heat = image::imageops::resize(
        &heat,
        base.width().max(1),
        base.height().max(1),
        image::imageops::FilterType::Triangle,
    );
    let a = alpha.clamp(0.0, 1.0);
    let mut out = base.clone();
    for (o, h) in out.pixels_mut().zip(heat.pixels()) {
        for k in 0..3 {
            o.0[k] = (o.0[k] as f32 * (1.0 - a) + h.0[k] as f32 * a).round() as u8;
        }
    }
    out
}

/// Numbers that describe a layer.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct LayerStats {
    pub min: f32,
    pub max: f32,
    pub mean: f32,
    /// Fraction of values exactly 0 (what ReLU switched off).
    pub zero_fraction: f32,
    /// Channels whose every value is 0.
    pub dead_channels: usize,
    #[serde(skip)]
    pub channel_means: Vec<f32>,
}

pub fn layer_stats(fm: &FeatureMaps) -> LayerStats {
    let mut lo = f32::INFINITY;
    let mut hi = f32::NEG_INFINITY;
    let mut zeros = 0usize;
    let mut dead = 0usize;
    let mut total = 0f64;
    let mut channel_means = Vec::with_capacity(fm.channels);
    for c in 0..fm.channels {
        let ch = fm.channel(c);
        let s = summarize(ch);
        lo = lo.min(s.lo);
        hi = hi.max(s.hi);
        zeros += s.zeros;
        if s.zeros == ch.len() {
            dead += 1;
        }
        total += s.sum;
        channel_means.push((s.sum / ch.len().max(1) as f64) as f32);
    }
    let n = fm.data.len().max(1);
    let (min, max) = if lo > hi { (0.0, 0.0) } else { (lo, hi) };
    LayerStats {
        min,
        max,
        mean: (total / n as f64) as f32,
        zero_fraction: zeros as f32 / n as f32,
        dead_channels: dead,
        channel_means,
    }
}

/// Channel indices sorted by mean activation, highest first (ties by index).
pub fn channels_by_mean(stats: &LayerStats) -> Vec<usize> {
    let mut order: Vec<usize> = (0..stats.channel_means.len()).collect();
    order.sort_by(|&a, &b| {
        stats.channel_means[b]
            .total_cmp(&stats.channel_means[a])
            .then(a.cmp(&b))
    });
    order
}

/// One image's map in a montage, with the label drawn above it.
pub struct MontageTile<'a> {
    pub label: &'a str,
    pub values: &'a [f32],
    pub height: usize,
    pub width: usize,
}

/// The same channel on several images: one tile each, in the recipe's rows and columns, all on
/// one value range so that brighter means stronger across images. Tiles of different sizes
/// (a model that takes any size) sit top-left in cells of the largest.
pub fn render_montage(
    tiles: &[MontageTile<'_>],
    range: (f32, f32),
    colormap: Colormap,
    scale: u32,
) -> IndexedImage {
    let (rows, cols) = grid_shape(tiles.len());
    let s = scale.max(1) as usize;
    let cell_w = tiles.iter().map(|t| t.width * s).max().unwrap_or(1);
    let cell_h = tiles.iter().map(|t| t.height * s).max().unwrap_or(1);
    let gap = 2;
    let label_h = text::HEIGHT + 2;
    let width = cols * cell_w + cols.saturating_sub(1) * gap;
    let height = rows * (cell_h + label_h) + rows.saturating_sub(1) * gap;
    let mut img = IndexedImage::filled(width.max(1), height.max(1), BACKGROUND_INDEX, colormap);
    for (i, t) in tiles.iter().enumerate() {
        let x0 = (i % cols) * (cell_w + gap);
        let y0 = (i / cols) * (cell_h + label_h + gap);
        text::draw(&mut img, x0, y0 + 1, cell_w, t.label);
        paint(
            &mut img,
            x0,
            y0 + label_h,
            t.values,
            t.height,
            t.width,
            range,
            s,
        );
    }
    img
}
