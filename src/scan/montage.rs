//! A picture per channel for reports: its top images (by maximum), each cropped around the place
//! where the channel peaked, with the channel's map blended over the crop.

use super::ScanResult;
use crate::outdir::write_atomic;
use crate::pipeline::Analyzer;
use crate::render::{self, Colormap};
use anyhow::{Context, Result};
use image::RgbImage;
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Pixels a side of one crop in a montage.
pub const TILE: u32 = 64;
const GAP: u32 = 2;

/// Where a montage lies in a scan folder: `montages/<layer>/c<channel>.png`.
pub fn path(dir: &Path, layer_stem: &str, channel: usize) -> PathBuf {
    dir.join("montages")
        .join(layer_stem)
        .join(format!("c{channel}.png"))
}

/// The smallest crop drawn, in input pixels: a first layer's 3-pixel field would be a blur.
const MIN_CROP: u32 = 16;

/// One montage tile: the crop of `base` (the image as fed) around the peak at (y, x) of the
/// channel's `h × w` map — the position's receptive field (`field`: its side in input pixels;
/// `None`: the whole picture), at least 16 px — with the map (bilinear, scaled to its own
/// range) blended over it.
pub fn tile(
    base: &RgbImage,
    channel: &[f32],
    (h, w): (usize, usize),
    (y, x): (u32, u32),
    field: Option<u64>,
) -> RgbImage {
    let (bw, bh) = base.dimensions();
    let (h, w) = (h.max(1), w.max(1));
    let small = bw.min(bh).max(1);
    let side = field
        .map(|f| f.min(small as u64) as u32)
        .unwrap_or(small)
        .clamp(MIN_CROP.min(small), small);
    let cx = ((x as f64 + 0.5) * bw as f64 / w as f64) as i64;
    let cy = ((y as f64 + 0.5) * bh as f64 / h as f64) as i64;
    let half = side as i64 / 2;
    let x0 = (cx - half).clamp(0, (bw - side) as i64) as f64;
    let y0 = (cy - half).clamp(0, (bh - side) as i64) as f64;
    let (lo, hi) = render::min_max(channel);
    let inv = if hi > lo { 1.0 / (hi - lo) as f64 } else { 0.0 };
    let lut = Colormap::Viridis.lut();
    let step = side as f64 / TILE as f64;
    let at = |yy: usize, xx: usize| channel[yy.min(h - 1) * w + xx.min(w - 1)] as f64;
    let mut out = RgbImage::new(TILE, TILE);
    for ty in 0..TILE {
        let by = y0 + (ty as f64 + 0.5) * step;
        let my = (by * h as f64 / bh as f64 - 0.5).max(0.0);
        let (my0, fy) = (my.floor() as usize, my - my.floor());
        for tx in 0..TILE {
            let bx = x0 + (tx as f64 + 0.5) * step;
            let mx = (bx * w as f64 / bw as f64 - 0.5).max(0.0);
            let (mx0, fx) = (mx.floor() as usize, mx - mx.floor());
            let v = (at(my0, mx0) * (1.0 - fx) + at(my0, mx0 + 1) * fx) * (1.0 - fy)
                + (at(my0 + 1, mx0) * (1.0 - fx) + at(my0 + 1, mx0 + 1) * fx) * fy;
            let level = render::colormap::level(((v - lo as f64) * inv) as f32);
            let heat = lut[level];
            let px = base
                .get_pixel((bx as u32).min(bw - 1), (by as u32).min(bh - 1))
                .0;
            let blend = |k: usize| (px[k] as f64 * 0.55 + heat[k] as f64 * 0.45).round() as u8;
            out.put_pixel(tx, ty, image::Rgb([blend(0), blend(1), blend(2)]));
        }
    }
    out
}

/// Tiles in the recipe's rows and columns, on the grids' background.
pub fn compose(tiles: &[RgbImage]) -> RgbImage {
    let (rows, cols) = render::grid_shape(tiles.len().max(1));
    let (rows, cols) = (rows as u32, cols as u32);
    let mut out = RgbImage::from_pixel(
        cols * TILE + (cols - 1) * GAP,
        rows * TILE + (rows - 1) * GAP,
        image::Rgb(render::BACKGROUND),
    );
    for (i, tile) in tiles.iter().enumerate() {
        let (r, c) = (i as u32 / cols, i as u32 % cols);
        image::imageops::replace(
            &mut out,
            tile,
            (c * (TILE + GAP)) as i64,
            (r * (TILE + GAP)) as i64,
        );
    }
    out
}

/// A tile an image fills: (layer, channel, rank in the channel's top list).
type Use = (usize, usize, usize);

/// A channel's tiles as they are drawn, in rank order.
type Slots = Vec<Option<RgbImage>>;

/// Writes every layer's channel montages: the top images are run again (each once, whatever
/// the number of channels they top; with several analyzers, that many at a time) to draw their
/// maps over the crops.
pub fn write_all(
    analyzers: &mut [Analyzer],
    data: &Path,
    result: &ScanResult,
    out: &Path,
) -> Result<usize> {
    let stems = crate::outdir::unique_stems(result.layers.iter().map(|l| l.name.as_str()));
    // Each layer's receptive field, by the (cleaned) tensor name scan.json keeps.
    let fields: std::collections::HashMap<String, Option<u64>> = match analyzers.first() {
        Some(a) => crate::model::structure::receptive_fields(&a.model)?,
        None => return Ok(0),
    }
    .into_iter()
    .map(|(t, f)| {
        (
            crate::text::sanitize(&t),
            f.map(|f| f.size[0].max(f.size[1])),
        )
    })
    .collect();
    // For each image: the (layer, channel, rank) tiles it fills.
    let mut wanted: BTreeMap<u32, Vec<Use>> = BTreeMap::new();
    for (li, layer) in result.layers.iter().enumerate() {
        for (c, hits) in layer.stats.top_by_max.iter().enumerate() {
            for (rank, hit) in hits.iter().enumerate() {
                wanted.entry(hit.image).or_default().push((li, c, rank));
            }
        }
    }
    // A channel's montage is written as soon as its last tile is drawn, so only the channels
    // still waiting for an image hold tiles.
    let mut tiles: BTreeMap<(usize, usize), Slots> = BTreeMap::new();
    let mut waiting: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    for (li, layer) in result.layers.iter().enumerate() {
        for (c, hits) in layer.stats.top_by_max.iter().enumerate() {
            waiting.insert((li, c), hits.len());
        }
    }
    let write = |key: (usize, usize), slots: Slots| -> Result<usize> {
        let ready: Vec<RgbImage> = slots.into_iter().flatten().collect();
        if ready.is_empty() {
            return Ok(0);
        }
        let file = path(out, &stems[key.0], key.1);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("{}: cannot create the folder", parent.display()))?;
        }
        write_atomic(
            &file,
            &render::png::encode_rgb(&compose(&ready)).context("PNG encoding failed")?,
        )?;
        Ok(1)
    };
    // Montages written on every core; how many had a tile.
    let write_each = |done: Vec<((usize, usize), Slots)>| -> Result<usize> {
        done.into_par_iter()
            .map(|(key, slots)| write(key, slots))
            .sum()
    };
    let mut written = 0;
    let skipped: BTreeSet<u32> = result.skipped.iter().map(|s| s.image).collect();
    let todo: Vec<(Vec<Use>, PathBuf)> = wanted
        .into_iter()
        .filter(|(image, _)| !skipped.contains(image))
        .filter_map(|(image, uses)| Some((uses, data.join(result.files.get(image as usize)?))))
        .collect();
    let mut write_image_tiles =
        |acts: &crate::activations::Activations, uses: &[Use]| -> Result<()> {
            // Each scanned layer's maps in this image, by the layer's place in the result.
            let maps: Vec<Option<&crate::activations::FeatureMaps>> = result
                .layers
                .iter()
                .map(|layer| {
                    acts.layers
                        .iter()
                        .find(|l| crate::text::sanitize(&l.tensor) == layer.tensor)
                        .and_then(|l| l.feature_maps())
                })
                .collect();
            // The image's tiles are drawn, and the montages it completes written, on every core.
            let drawn: Vec<((usize, usize), usize, Option<RgbImage>)> = uses
                .par_iter()
                .map(|&(li, c, rank)| {
                    let layer = &result.layers[li];
                    let tile = maps[li].filter(|fm| c < fm.channels).map(|fm| {
                        let hit = layer.stats.top_by_max[c][rank];
                        tile(
                            &acts.input_image,
                            fm.channel(c),
                            (fm.height, fm.width),
                            (hit.y, hit.x),
                            fields.get(&layer.tensor).copied().flatten(),
                        )
                    });
                    ((li, c), rank, tile)
                })
                .collect();
            let mut complete = Vec::new();
            for (key, rank, drawn) in drawn {
                if let Some(drawn) = drawn {
                    let slots = tiles.entry(key).or_insert_with(|| {
                        vec![None; result.layers[key.0].stats.top_by_max[key.1].len()]
                    });
                    if let Some(slot) = slots.get_mut(rank) {
                        *slot = Some(drawn);
                    }
                }
                let left = waiting.entry(key).or_insert(1);
                *left = left.saturating_sub(1);
                if *left == 0 {
                    if let Some(slots) = tiles.remove(&key) {
                        complete.push((key, slots));
                    }
                }
            }
            written += write_each(complete)?;
            Ok(())
        };
    for chunk in todo.chunks(analyzers.len().max(1)) {
        let computed: Vec<Result<crate::activations::Activations>> = std::thread::scope(|scope| {
            let runs: Vec<_> = analyzers
                .iter_mut()
                .zip(chunk)
                .map(|(analyzer, (_, path))| scope.spawn(move || analyzer.compute(path)))
                .collect();
            runs.into_iter()
                .map(|run| {
                    run.join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("the engine crashed")))
                })
                .collect()
        });
        for ((uses, path), acts) in chunk.iter().zip(computed) {
            let acts = acts.with_context(|| format!("montage: {}", path.display()))?;
            write_image_tiles(&acts, uses)?;
        }
    }
    // Channels whose top list names a skipped image: what was drawn.
    written += write_each(std::mem::take(&mut tiles).into_iter().collect())?;
    Ok(written)
}
