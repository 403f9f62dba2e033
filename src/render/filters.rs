//! Convolution kernels as pictures: a 4-D array `out × in × kh × kw` (render does not know where
//! it came from).
//!
//! - Three input channels (a first layer, fed the image): each kernel as an RGB tile, scaled to
//!   its own range, so the colours it looks for show.
//! - Other kernels larger than 1×1: each kernel averaged over its input channels, as a grid of
//!   heat-map tiles (the recipe's rows and columns), each scaled to its own range.
//! - 1×1 kernels: the `out × in` weight matrix as one heat-map (a row per filter), on a scale
//!   symmetric around 0.

use super::{grid_shape, min_max, Colormap, GridStyle, IndexedImage, Normalization, BACKGROUND};
use crate::activations::FeatureMaps;
use image::RgbImage;

/// How the kernels were drawn, for captions and summary.json.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KernelView {
    Rgb,
    MeanOverInputs,
    Matrix,
}

/// Pixels between tiles, and the smallest side a tile is drawn at.
const GAP: usize = 2;
const MIN_TILE: usize = 24;

/// The kernels of one convolution, drawn; `dims` is `[out, in, kh, kw]` (`None` for any other
/// shape, or values that do not fill it).
pub fn render_kernels(
    dims: &[usize],
    values: &[f32],
    colormap: Colormap,
) -> Option<(RgbImage, KernelView)> {
    let &[out, inputs, kh, kw] = dims else {
        return None;
    };
    let dims = [out, inputs, kh, kw];
    if out == 0 || inputs == 0 || kh == 0 || kw == 0 || values.len() != out * inputs * kh * kw {
        return None;
    }
    if inputs == 3 && kh * kw > 1 {
        return Some((rgb_tiles(dims, values), KernelView::Rgb));
    }
    if kh * kw == 1 {
        let (lo, hi) = min_max(values);
        let bound = lo.abs().max(hi.abs());
        let scale = super::auto_scale(out, inputs, 256).min(8);
        let img = super::colorize(values, out, inputs, (-bound, bound), colormap, scale);
        return Some((img, KernelView::Matrix));
    }
    let plane = kh * kw;
    let mut means = vec![0f32; out * plane];
    for (f, mean) in means.chunks_exact_mut(plane).enumerate() {
        let kernel = &values[f * inputs * plane..(f + 1) * inputs * plane];
        for i in 0..plane {
            let sum: f64 = (0..inputs).map(|c| kernel[c * plane + i] as f64).sum();
            mean[i] = (sum / inputs as f64) as f32;
        }
    }
    let fm = FeatureMaps::new(out, kh, kw, means);
    let style = GridStyle {
        colormap,
        normalization: Normalization::PerChannel,
        scale: super::auto_scale(kh, kw, MIN_TILE),
        gap: GAP as u32,
        labels: false,
        range: None,
    };
    let channels: Vec<usize> = (0..out).collect();
    let grid: IndexedImage = super::render_grid(&fm, &channels, &style);
    Some((grid.to_rgb(), KernelView::MeanOverInputs))
}

/// First-layer kernels as colour tiles: channel 0, 1, 2 as red, green, blue.
fn rgb_tiles([out, _, kh, kw]: [usize; 4], values: &[f32]) -> RgbImage {
    let (rows, cols) = grid_shape(out);
    let s = super::auto_scale(kh, kw, MIN_TILE) as usize;
    let (tw, th) = (kw * s, kh * s);
    let width = cols * tw + cols.saturating_sub(1) * GAP;
    let height = rows * th + rows.saturating_sub(1) * GAP;
    let mut img = RgbImage::from_pixel(width as u32, height as u32, image::Rgb(BACKGROUND));
    let plane = kh * kw;
    for f in 0..out {
        let kernel = &values[f * 3 * plane..(f + 1) * 3 * plane];
        let (lo, hi) = min_max(kernel);
        let inv = if hi > lo { 255.0 / (hi - lo) } else { 0.0 };
        let (x0, y0) = ((f % cols) * (tw + GAP), (f / cols) * (th + GAP));
        for y in 0..th {
            for x in 0..tw {
                let i = (y / s) * kw + x / s;
                let px = [0, 1, 2].map(|c| ((kernel[c * plane + i] - lo) * inv).round() as u8);
                img.put_pixel((x0 + x) as u32, (y0 + y) as u32, image::Rgb(px));
            }
        }
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rgb_kernels_show_the_colour_they_weigh_most() {
        // Two 1-pixel-wide 2×1 kernels: the first all red, the second all blue.
        let mut values = vec![0f32; 2 * 3 * 2];
        values[0..2].fill(1.0); // filter 0, channel 0 (red)
        values[6 + 4..6 + 6].fill(1.0); // filter 1, channel 2 (blue)
        let (img, view) = render_kernels(&[2, 3, 2, 1], &values, Colormap::Viridis).unwrap();
        assert_eq!(view, KernelView::Rgb);
        assert_eq!(img.get_pixel(0, 0).0, [255, 0, 0]);
        let x = img.width() - 1;
        assert_eq!(img.get_pixel(x, 0).0, [0, 0, 255]);
    }

    #[test]
    fn deeper_kernels_average_their_inputs_and_1x1_become_a_matrix() {
        let values: Vec<f32> = (0..4 * 2 * 3 * 3).map(|v| v as f32).collect();
        let (img, view) = render_kernels(&[4, 2, 3, 3], &values, Colormap::Gray).unwrap();
        assert_eq!(view, KernelView::MeanOverInputs);
        // 2×2 tiles of 3×3 kernels at 8 px, 2 px gaps.
        assert_eq!((img.width(), img.height()), (50, 50));
        assert!(img.get_pixel(0, 0).0[0] < 5);
        assert!(img.get_pixel(23, 23).0[0] > 250);
        let (m, view) = render_kernels(
            &[2, 3, 1, 1],
            &[1.0, 0.0, -1.0, 0.5, 0.5, 0.5],
            Colormap::Gray,
        )
        .unwrap();
        assert_eq!(view, KernelView::Matrix);
        assert_eq!(m.width() / 3, m.height() / 2);
        assert!(render_kernels(&[2, 3, 1, 1], &[1.0], Colormap::Gray).is_none());
    }
}
