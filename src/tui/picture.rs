//! Pictures at terminal-cell resolution: grid geometry, fitting, resampling, and the cache that
//! keeps each encoded picture for as long as its view state is on screen.

use super::graphics::Picture;
use super::layers::LayerInfo;
use crate::activations::{Activations, Layer};
use crate::render::{self, Colormap};
use std::collections::HashMap;

/// The smallest tile width (cells) still worth looking at; smaller maps keep their own width.
pub const MIN_TILE_COLS: usize = 12;

/// Where a layer's channels go in a pane: tile size in cells, tiles per row and per page.
/// Tiles sit one cell apart, with a one-cell margin, so the selection outline fits around any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GridLayout {
    pub tile_cols: u16,
    pub tile_rows: u16,
    pub cols: usize,
    pub rows: usize,
    pub per_page: usize,
    pub pages: usize,
}

/// Lays out `n` maps of `map_w × map_h` in `width × height` cells, whose cells are
/// `cell_aspect` times taller than wide: the largest tiles that fit them all, or pages of
/// readable tiles when they do not.
pub fn grid_layout(
    n: usize,
    map_w: usize,
    map_h: usize,
    width: u16,
    height: u16,
    cell_aspect: f64,
) -> GridLayout {
    let (width, height) = (width as usize, height as usize);
    let map_w = map_w.max(1);
    let map_h = map_h.max(1);
    let rows_for = |tw: usize| -> usize {
        ((tw as f64 * map_h as f64 / map_w as f64 / cell_aspect).round() as usize).max(1)
    };
    let fits = |tw: usize| -> (usize, usize, usize) {
        let th = rows_for(tw);
        let cols = width.saturating_sub(1) / (tw + 1);
        let rows = height.saturating_sub(1) / (th + 1);
        (th, cols, rows)
    };
    let min_tw = map_w.clamp(2, MIN_TILE_COLS);
    let max_tw = width.saturating_sub(2).max(1);
    let mut chosen = None;
    for tw in (min_tw..=max_tw).rev() {
        let (th, cols, rows) = fits(tw);
        if th + 2 > height {
            continue;
        }
        if cols * rows >= n {
            chosen = Some((tw, th, cols, rows));
            break;
        }
    }
    let (tw, th, cols, rows) = chosen.unwrap_or_else(|| {
        // Even the smallest readable tile leaves some out: page at that size, shrinking the
        // tile only when not even one fits.
        let mut tw = min_tw;
        loop {
            let (th, cols, rows) = fits(tw);
            if (cols >= 1 && rows >= 1) || tw <= 1 {
                return (tw, th, cols.max(1), rows.max(1));
            }
            tw -= 1;
        }
    });
    let (mut cols, mut rows) = (cols, rows);
    if cols * rows >= n && n > 0 {
        // One page: balance the rows (9 maps as 3×3, not 4+4+1).
        rows = n.div_ceil(cols);
        cols = n.div_ceil(rows);
    }
    let per_page = (cols * rows).max(1);
    GridLayout {
        tile_cols: tw as u16,
        tile_rows: th as u16,
        cols,
        rows,
        per_page,
        pages: n.div_ceil(per_page).max(1),
    }
}

/// A picture's size: cells on screen and pixels in the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fit {
    pub cols: u16,
    pub rows: u16,
    pub px_w: u32,
    pub px_h: u32,
}

/// Fits `src_w × src_h` into `cols × rows` cells of `cell_px` pixels, keeping its shape.
/// `integer` enlarges by whole multiples only, so every activation stays the same size.
pub fn fit(
    src_w: u32,
    src_h: u32,
    cols: u16,
    rows: u16,
    cell_px: (u32, u32),
    integer: bool,
) -> Fit {
    let (fw, fh) = cell_px;
    let avail_w = cols as u32 * fw;
    let avail_h = rows as u32 * fh;
    let (src_w, src_h) = (src_w.max(1), src_h.max(1));
    let mut scale = (avail_w as f64 / src_w as f64).min(avail_h as f64 / src_h as f64);
    if integer && scale >= 1.0 {
        scale = scale.floor();
    }
    let px_w = ((src_w as f64 * scale).round() as u32).clamp(1, avail_w.max(1));
    let px_h = ((src_h as f64 * scale).round() as u32).clamp(1, avail_h.max(1));
    Fit {
        cols: px_w.div_ceil(fw).min(cols as u32) as u16,
        rows: px_h.div_ceil(fh).min(rows as u32) as u16,
        px_w,
        px_h,
    }
}

/// Resamples a `h × w` map to `th × tw`: shrinking averages the values each target pixel covers
/// (so thin features are not skipped), enlarging repeats values (crisp squares). Non-finite
/// values are left out of averages; a pixel with none is NaN (drawn as the colormap's low end).
pub fn resample(values: &[f32], h: usize, w: usize, th: usize, tw: usize) -> Vec<f32> {
    if h == th && w == tw {
        return values.to_vec();
    }
    let span = |t: usize, n: usize, tn: usize| {
        let a = t * n / tn;
        let b = ((t + 1) * n / tn).max(a + 1).min(n);
        (a, b)
    };
    let xs: Vec<(usize, usize)> = (0..tw).map(|tx| span(tx, w, tw)).collect();
    let mut out = Vec::with_capacity(th * tw);
    for ty in 0..th {
        let (y0, y1) = span(ty, h, th);
        for &(x0, x1) in &xs {
            let mut sum = 0f32;
            let mut n = 0u32;
            for y in y0..y1 {
                for &v in &values[y * w + x0..y * w + x1] {
                    if v.is_finite() {
                        sum += v;
                        n += 1;
                    }
                }
            }
            out.push(if n > 0 { sum / n as f32 } else { f32::NAN });
        }
    }
    out
}

/// What a picture shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Subject {
    Channel(usize),
    Sum,
    Overlay,
    Input,
}

/// Everything a picture depends on; equal keys mean the cached encoding can be reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PicKey {
    pub layer: usize,
    pub subject: Subject,
    pub colormap: Colormap,
    pub per_layer: bool,
    pub cols: u16,
    pub rows: u16,
    pub px_w: u32,
    pub px_h: u32,
}

impl PicKey {
    /// Drops what a subject does not depend on, so e.g. `n` keeps the sum's encoding.
    pub fn canonical(mut self) -> PicKey {
        match self.subject {
            Subject::Channel(_) => {}
            Subject::Sum | Subject::Overlay => self.per_layer = false,
            Subject::Input => {
                self.per_layer = false;
                self.colormap = Colormap::Viridis;
                self.layer = usize::MAX;
            }
        }
        self
    }
}

/// Entries not drawn for this many frames go when the cache is over its size.
const KEEP_FRAMES: u64 = 8;
/// A page holds at most a few hundred tiles; sixel encodings can be ~100 kB each.
const MAX_ENTRIES: usize = 600;

#[derive(Default)]
pub struct PictureCache {
    map: HashMap<PicKey, (Picture, u64)>,
    frame: u64,
}

impl PictureCache {
    /// Starts a frame; trims entries long unused when the cache has grown.
    pub fn next_frame(&mut self) {
        self.frame += 1;
        if self.map.len() > MAX_ENTRIES {
            let now = self.frame;
            self.map.retain(|_, (_, used)| now - *used <= KEEP_FRAMES);
        }
    }

    pub fn get_or_insert_with(&mut self, key: PicKey, make: impl FnOnce() -> Picture) -> &Picture {
        let frame = self.frame;
        let entry = self.map.entry(key).or_insert_with(|| (make(), frame));
        entry.1 = frame;
        &entry.0
    }

    pub fn clear(&mut self) {
        self.map.clear();
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Renders one picture at exactly its pixel size: maps resampled in value space then coloured
/// (so a 112×112 map in an 8×8 tile costs 64 colour lookups), images resized.
pub(crate) fn build_image(
    acts: &Activations,
    layer: Option<&Layer>,
    info: Option<&LayerInfo>,
    key: &PicKey,
) -> image::RgbImage {
    let (pw, ph) = (key.px_w.max(1), key.px_h.max(1));
    let fm = layer.and_then(|l| l.feature_maps());
    let resize = |img: &image::RgbImage| {
        image::imageops::resize(img, pw, ph, image::imageops::FilterType::Triangle)
    };
    match (key.subject, fm, info) {
        (Subject::Channel(c), Some(fm), Some(info)) if c < fm.channels => {
            let range = if key.per_layer {
                (info.stats.min, info.stats.max)
            } else {
                info.ranges[c]
            };
            let v = resample(fm.channel(c), fm.height, fm.width, ph as usize, pw as usize);
            render::colorize(&v, ph as usize, pw as usize, range, key.colormap, 1)
        }
        (Subject::Sum, Some(fm), Some(info)) => {
            let v = resample(&info.sum, fm.height, fm.width, ph as usize, pw as usize);
            render::colorize(
                &v,
                ph as usize,
                pw as usize,
                info.sum_range,
                key.colormap,
                1,
            )
        }
        (Subject::Overlay, Some(fm), _) => resize(&render::render_overlay(
            fm,
            &acts.input_image,
            key.colormap,
            0.5,
        )),
        (Subject::Input, _, _) => resize(&acts.input_image),
        _ => image::RgbImage::from_pixel(pw, ph, image::Rgb(render::BACKGROUND)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_channels_get_big_tiles() {
        let g = grid_layout(9, 4, 4, 80, 30, 2.0);
        assert_eq!(g.pages, 1);
        assert!(g.per_page >= 9);
        assert!(g.tile_cols >= 8, "{g:?}");
        assert!(g.cols * (g.tile_cols as usize + 1) < 80);
        assert!(g.rows * (g.tile_rows as usize + 1) < 30);
    }

    #[test]
    fn many_channels_page_at_a_readable_size() {
        let g = grid_layout(512, 7, 7, 150, 50, 2.0);
        assert_eq!(g.tile_cols, 7);
        assert_eq!(g.tile_rows, 4);
        assert!(g.pages > 1, "{g:?}");
        assert_eq!(g.pages, 512usize.div_ceil(g.per_page));
    }

    #[test]
    fn tiny_panes_still_show_one_tile() {
        let g = grid_layout(64, 112, 112, 5, 3, 2.0);
        assert!(g.per_page >= 1);
        assert!(g.tile_cols >= 1 && g.tile_rows >= 1);
    }

    #[test]
    fn fit_keeps_whole_multiples() {
        let f = fit(7, 7, 60, 20, (1, 2), true);
        assert_eq!((f.px_w, f.px_h), (35, 35));
        assert_eq!((f.cols, f.rows), (35, 18));
        let f = fit(224, 224, 60, 20, (1, 2), true);
        assert_eq!((f.px_w, f.px_h), (40, 40));
    }

    #[test]
    fn resample_averages_down_and_repeats_up() {
        let v = [1.0, 3.0, 5.0, 7.0];
        assert_eq!(resample(&v, 2, 2, 1, 1), vec![4.0]);
        assert_eq!(resample(&v, 2, 2, 1, 2), vec![3.0, 5.0]);
        assert_eq!(
            resample(&v, 2, 2, 2, 4),
            vec![1.0, 1.0, 3.0, 3.0, 5.0, 5.0, 7.0, 7.0]
        );
        let nan = [f32::NAN, 2.0];
        assert_eq!(resample(&nan, 1, 2, 1, 1), vec![2.0]);
    }
}
