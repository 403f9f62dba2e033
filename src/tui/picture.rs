//! Pictures at terminal-cell resolution: grid geometry, fitting, resampling, and the cache that
//! keeps each encoded picture for as long as its view state is on screen.

use super::app::App;
use super::graphics::{Graphics, Picture, Raster};
use super::layers::LayerInfo;
use crate::activations::{Activations, Layer};
use crate::render::{self, Colormap, Normalization};
use std::collections::HashMap;

pub use crate::term::cells::{fit, Fit};

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
            // In f64: a near-constant map (a range of 1e-6 at magnitude 7) must average to a
            // value inside its own range, or per-channel scaling paints it all at one end.
            let mut sum = 0f64;
            let mut n = 0u32;
            for y in y0..y1 {
                for &v in &values[y * w + x0..y * w + x1] {
                    if v.is_finite() {
                        sum += v as f64;
                        n += 1;
                    }
                }
            }
            out.push(if n > 0 {
                (sum / n as f64) as f32
            } else {
                f32::NAN
            });
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

/// Encoded pictures, kept while they are on screen. The event loop owns it and hands it to
/// drawing; it is the only state a frame changes.
#[derive(Default)]
pub struct PictureCache {
    map: HashMap<PicKey, (Picture, u64)>,
    frame: u64,
    /// What the pictures were encoded for; a change (the terminal answered) empties the cache.
    graphics: Option<Graphics>,
}

impl PictureCache {
    /// The picture of `subject` for the app's selected layer at `fit`'s size, encoded on first
    /// use.
    pub fn picture(&mut self, app: &App, subject: Subject, fit: Fit) -> Option<&Picture> {
        let acts = app.activations()?;
        let layer_pos = app.selected_entry().and_then(|e| e.layer);
        let key = PicKey {
            layer: layer_pos.unwrap_or(usize::MAX),
            subject,
            colormap: app.colormap(),
            per_layer: app.normalization() == Normalization::PerLayer,
            cols: fit.cols,
            rows: fit.rows,
            px_w: fit.px_w,
            px_h: fit.px_h,
        }
        .canonical();
        let info = match subject {
            Subject::Input => None,
            _ => Some(app.info()?),
        };
        let graphics = app.graphics();
        if self.graphics.as_ref() != Some(graphics) {
            self.map.clear();
            self.graphics = Some(*graphics);
        }
        let layer = layer_pos.and_then(|p| acts.layers.get(p));
        Some(self.get_or_insert_with(key, || {
            let img = build_image(acts, layer, info.as_deref(), &key);
            super::graphics::encode(graphics, img, key.cols, key.rows)
        }))
    }

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
) -> Raster {
    let (pw, ph) = (key.px_w.max(1), key.px_h.max(1));
    let fm = layer.and_then(|l| l.feature_maps());
    let resize = |img: &image::RgbImage| {
        Raster::Rgb(image::imageops::resize(
            img,
            pw,
            ph,
            image::imageops::FilterType::Triangle,
        ))
    };
    let levels = |values: &[f32], h: usize, w: usize, range: (f32, f32)| {
        let v = resample(values, h, w, ph as usize, pw as usize);
        Raster::Levels(render::colorize_indexed(
            &v,
            ph as usize,
            pw as usize,
            range,
            key.colormap,
            1,
        ))
    };
    match (key.subject, fm, info) {
        (Subject::Channel(c), Some(fm), Some(info)) if c < fm.channels => {
            let range = if key.per_layer {
                (info.stats.min, info.stats.max)
            } else {
                info.ranges[c]
            };
            levels(fm.channel(c), fm.height, fm.width, range)
        }
        (Subject::Sum, Some(fm), Some(info)) => {
            levels(&info.sum, fm.height, fm.width, info.sum_range)
        }
        (Subject::Overlay, Some(fm), _) => resize(&render::render_overlay(
            fm,
            &acts.input_image,
            key.colormap,
            0.5,
        )),
        (Subject::Input, _, _) => resize(&acts.input_image),
        _ => Raster::Rgb(image::RgbImage::from_pixel(
            pw,
            ph,
            image::Rgb(render::BACKGROUND),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_of_a_near_constant_map_stay_in_its_range() {
        // EfficientNet-Lite0's stem channel 31: −7.0733476 … −7.073347.
        let (lo, hi) = (-7.073_347_6_f32, -7.073_347_f32);
        let values: Vec<f32> = (0..112 * 112)
            .map(|i| if i % 3 == 0 { hi } else { lo })
            .collect();
        for v in resample(&values, 112, 112, 16, 18) {
            assert!((lo..=hi).contains(&v), "{v} outside {lo}..{hi}");
        }
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
