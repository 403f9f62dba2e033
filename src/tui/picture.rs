//! Pictures at terminal-cell resolution: grid geometry, fitting, resampling, and the cache that
//! keeps each encoded picture for as long as its view state is on screen.

use super::app::App;
use super::graphics::{Graphics, Picture, Raster};
use super::layers::LayerInfo;
use crate::activations::{Activations, FeatureMaps, Layer};
use crate::render::{self, Colormap, Normalization};
use std::borrow::Cow;
use std::collections::HashMap;
use std::rc::Rc;

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
    /// The `k`-th class evidence map over the input.
    Evidence(usize),
    /// The selected convolution's kernels.
    Filters,
    /// The channel's top images over a scanned data set.
    ScanTop(usize),
}

/// Which run a picture shows: the only one (or A), B, or A − B.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Side {
    #[default]
    A,
    B,
    Diff,
}

/// Everything a picture depends on; equal keys mean the cached encoding can be reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PicKey {
    pub layer: usize,
    pub side: Side,
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
            Subject::Evidence(_) => {
                self.per_layer = false;
                self.layer = usize::MAX;
            }
            Subject::Filters => self.per_layer = false,
            Subject::ScanTop(_) => {
                self.per_layer = false;
                self.colormap = Colormap::Viridis;
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
        self.picture_of(app, Side::A, subject, fit)
    }

    /// The picture of `subject` in run `side` (A, B or A − B when comparing).
    pub fn picture_of(
        &mut self,
        app: &App,
        side: Side,
        subject: Subject,
        fit: Fit,
    ) -> Option<&Picture> {
        let layer_pos = app.selected_entry().and_then(|e| e.layer);
        let key = PicKey {
            layer: layer_pos.unwrap_or(usize::MAX),
            side,
            subject,
            colormap: app.colormap(),
            per_layer: app.normalization() == Normalization::PerLayer,
            cols: fit.cols,
            rows: fit.rows,
            px_w: fit.px_w,
            px_h: fit.px_h,
        }
        .canonical();
        let graphics = app.graphics();
        if self.graphics.as_ref() != Some(graphics) {
            self.map.clear();
            self.graphics = Some(*graphics);
        }
        if !self.map.contains_key(&key) {
            // Worked out only on a miss: a difference costs a pass over the channel.
            let source = source(app, &key)?;
            let img = render_source(source, key.px_w, key.px_h);
            let picture = super::graphics::encode(graphics, img, key.cols, key.rows);
            self.map.insert(key, (picture, self.frame));
        }
        let entry = self.map.get_mut(&key)?;
        entry.1 = self.frame;
        Some(&entry.0)
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

/// What a picture is made from.
pub(crate) enum Source<'a> {
    /// Values drawn over `range` with `colormap`.
    Map {
        values: Cow<'a, [f32]>,
        height: usize,
        width: usize,
        range: (f32, f32),
        colormap: Colormap,
    },
    /// The summed maps blended over the input.
    Overlay {
        maps: &'a FeatureMaps,
        image: &'a image::RgbImage,
        colormap: Colormap,
    },
    Image(&'a image::RgbImage),
}

/// One run's layer and its statistics.
struct Run<'a> {
    acts: &'a Activations,
    layer: Option<&'a Layer>,
    info: Option<Rc<LayerInfo>>,
}

impl<'a> Run<'a> {
    fn maps(&self) -> Option<&'a FeatureMaps> {
        self.layer?.feature_maps()
    }
}

fn union(a: (f32, f32), b: Option<(f32, f32)>) -> (f32, f32) {
    match b {
        Some(b) => (a.0.min(b.0), a.1.max(b.1)),
        None => a,
    }
}

/// The values, range and colours a picture of `key` shows. When comparing, A and B share one
/// range, so the same colour is the same value on both sides; A − B is drawn around 0.
pub(crate) fn source<'a>(app: &'a App, key: &PicKey) -> Option<Source<'a>> {
    match key.subject {
        Subject::Evidence(_) => {
            return Some(Source::Overlay {
                maps: &app.evidence()?.maps,
                image: &app.activations()?.input_image,
                colormap: key.colormap,
            })
        }
        Subject::Filters => return Some(Source::Image(app.kernels()?.picture.as_ref()?)),
        Subject::ScanTop(_) => return Some(Source::Image(app.scan_top()?.picture.as_ref()?)),
        _ => {}
    }
    let a = Run {
        acts: app.activations()?,
        layer: app.shown_layer(),
        info: app.info(),
    };
    let b = app.comparison().map(|c| Run {
        acts: &c.b,
        layer: app.pair().map(|p| p.1),
        info: app.info_b(),
    });
    let range_of = |run: &Run<'_>, subject: Subject| -> Option<(f32, f32)> {
        let info = run.info.as_ref()?;
        Some(match subject {
            Subject::Channel(_) if key.per_layer => (info.stats.min, info.stats.max),
            Subject::Channel(c) => *info.ranges.get(c)?,
            _ => info.sum_range,
        })
    };
    let shared = |subject: Subject| -> Option<(f32, f32)> {
        let own = range_of(&a, subject)?;
        Some(union(own, b.as_ref().and_then(|b| range_of(b, subject))))
    };
    let map = |values: Cow<'a, [f32]>, fm: &FeatureMaps, range, colormap| Source::Map {
        values,
        height: fm.height,
        width: fm.width,
        range,
        colormap,
    };
    let run = match key.side {
        Side::A => &a,
        Side::B => b.as_ref()?,
        Side::Diff => {
            let b = b.as_ref()?;
            let (fa, fb) = (a.maps()?, b.maps()?);
            let values: Vec<f32> = match key.subject {
                Subject::Channel(c) if c < fa.channels && c < fb.channels => {
                    diff(fa.channel(c), fb.channel(c))
                }
                Subject::Sum => diff(&a.info.as_ref()?.sum, &b.info.as_ref()?.sum),
                _ => return None,
            };
            let range = match key.subject {
                // One range for the layer: the largest difference anywhere in it.
                Subject::Channel(_) if key.per_layer => {
                    let m = app.pair()?.3.max_abs;
                    if m > 0.0 && m.is_finite() {
                        (-m, m)
                    } else {
                        (-1.0, 1.0)
                    }
                }
                _ => crate::compare::symmetric_range(&values),
            };
            return Some(map(Cow::Owned(values), fa, range, Colormap::RdBu));
        }
    };
    let colormap = key.colormap;
    Some(match key.subject {
        Subject::Channel(c) => {
            let fm = run.maps()?;
            if c >= fm.channels {
                return None;
            }
            map(
                Cow::Borrowed(fm.channel(c)),
                fm,
                shared(key.subject)?,
                colormap,
            )
        }
        Subject::Sum => {
            let fm = run.maps()?;
            let info = run.info.as_ref()?;
            // The sum lives in the run's statistics: cloned out of the Rc for the picture.
            map(
                Cow::Owned(info.sum.clone()),
                fm,
                shared(key.subject)?,
                colormap,
            )
        }
        Subject::Overlay => Source::Overlay {
            maps: run.maps()?,
            image: &run.acts.input_image,
            colormap,
        },
        Subject::Input => Source::Image(&run.acts.input_image),
        Subject::Evidence(_) | Subject::Filters | Subject::ScanTop(_) => return None,
    })
}

/// A − B, element by element (0 where both are the same non-finite value).
fn diff(a: &[f32], b: &[f32]) -> Vec<f32> {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            if x.to_bits() == y.to_bits() {
                0.0
            } else {
                x - y
            }
        })
        .collect()
}

/// Renders one picture at exactly its pixel size: maps resampled in value space then coloured
/// (so a 112×112 map in an 8×8 tile costs 64 colour lookups), images resized.
pub(crate) fn render_source(source: Source<'_>, px_w: u32, px_h: u32) -> Raster {
    let (pw, ph) = (px_w.max(1), px_h.max(1));
    let resize = |img: &image::RgbImage| {
        Raster::Rgb(image::imageops::resize(
            img,
            pw,
            ph,
            image::imageops::FilterType::Triangle,
        ))
    };
    match source {
        Source::Map {
            values,
            height,
            width,
            range,
            colormap,
        } => {
            let v = resample(&values, height, width, ph as usize, pw as usize);
            Raster::Levels(render::colorize_indexed(
                &v,
                ph as usize,
                pw as usize,
                range,
                colormap,
                1,
            ))
        }
        Source::Overlay {
            maps,
            image,
            colormap,
        } => resize(&render::render_overlay(maps, image, colormap, 0.5)),
        Source::Image(img) => resize(img),
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
