//! Pictures on terminals without truecolor: the 240 colours xterm's 256-colour palette defines
//! for everyone (16..=255; 0..=15 follow the user's theme), chosen by perceptual distance in
//! OKLab and ordered-dithered between the two nearest, so that a colormap's gradient stays a
//! gradient instead of collapsing onto a few cube colours.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// The six levels of the 6×6×6 colour cube (16..=231).
const CUBE: [u8; 6] = [0, 95, 135, 175, 215, 255];

/// xterm's default RGB for palette entry `index` (16..=255; lower entries are themed, and are
/// given here as their usual xterm values only so every index has an answer).
pub fn rgb(index: u8) -> [u8; 3] {
    match index {
        0..=15 => {
            const BASIC: [[u8; 3]; 16] = [
                [0, 0, 0],
                [205, 0, 0],
                [0, 205, 0],
                [205, 205, 0],
                [0, 0, 238],
                [205, 0, 205],
                [0, 205, 205],
                [229, 229, 229],
                [127, 127, 127],
                [255, 0, 0],
                [0, 255, 0],
                [255, 255, 0],
                [92, 92, 255],
                [255, 0, 255],
                [0, 255, 255],
                [255, 255, 255],
            ];
            BASIC[index as usize]
        }
        16..=231 => {
            let i = index - 16;
            [
                CUBE[(i / 36) as usize],
                CUBE[(i / 6 % 6) as usize],
                CUBE[(i % 6) as usize],
            ]
        }
        _ => [8 + 10 * (index - 232); 3],
    }
}

type Lab = [f32; 3];

fn linear(c: u8) -> f32 {
    let c = c as f32 / 255.0;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

/// sRGB → OKLab (Björn Ottosson, 2020): distances there follow what the eye sees.
fn oklab([r, g, b]: [u8; 3]) -> Lab {
    let (r, g, b) = (linear(r), linear(g), linear(b));
    let l = (0.412_221_46 * r + 0.536_332_55 * g + 0.051_445_995 * b).cbrt();
    let m = (0.211_903_5 * r + 0.680_699_5 * g + 0.107_396_96 * b).cbrt();
    let s = (0.088_302_46 * r + 0.281_718_85 * g + 0.629_978_7 * b).cbrt();
    [
        0.210_454_26 * l + 0.793_617_8 * m - 0.004_072_047 * s,
        1.977_998_5 * l - 2.428_592_2 * m + 0.450_593_7 * s,
        0.025_904_037 * l + 0.782_771_77 * m - 0.808_675_77 * s,
    ]
}

fn dist2(a: Lab, b: Lab) -> f32 {
    (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)
}

/// How much a dither pattern's own noise counts against it: mixing two far-apart colours
/// matches the mean but shows as grain.
const NOISE_WEIGHT: f32 = 0.3;

/// One entry of the dither table: draw `low`, or `high` where the threshold is below `share`
/// (out of 16).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Mix {
    low: u8,
    high: u8,
    share: u8,
}

fn palette() -> &'static [(u8, Lab)] {
    static PALETTE: OnceLock<Vec<(u8, Lab)>> = OnceLock::new();
    PALETTE.get_or_init(|| (16..=255u8).map(|i| (i, oklab(rgb(i)))).collect())
}

/// The two palette colours and the share of the second whose ordered mix is nearest `target`.
fn best_mix(target: Lab) -> Mix {
    let pal = palette();
    let (low, a) = pal
        .iter()
        .copied()
        .min_by(|x, y| dist2(target, x.1).total_cmp(&dist2(target, y.1)))
        .unwrap_or((16, [0.0; 3]));
    let mut best = (
        dist2(target, a),
        Mix {
            low,
            high: low,
            share: 0,
        },
    );
    for &(high, b) in pal {
        let d = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
        let len2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
        if high == low || len2 == 0.0 {
            continue;
        }
        let along =
            (target[0] - a[0]) * d[0] + (target[1] - a[1]) * d[1] + (target[2] - a[2]) * d[2];
        let share = (along / len2 * 16.0).round().clamp(0.0, 16.0);
        if share == 0.0 {
            continue;
        }
        let t = share / 16.0;
        let mean = [a[0] + t * d[0], a[1] + t * d[1], a[2] + t * d[2]];
        let cost = dist2(target, mean) + NOISE_WEIGHT * t * (1.0 - t) * len2;
        if cost < best.0 {
            best = (
                cost,
                Mix {
                    low,
                    high,
                    share: share as u8,
                },
            );
        }
    }
    best.1
}

/// 4×4 Bayer thresholds, 0..16.
const BAYER: [[u8; 4]; 4] = [[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]];

/// Mixes already worked out: pictures have few colours (a colormap's levels), and the same
/// ones again and again.
static MIXES: Mutex<Option<HashMap<[u8; 3], Mix>>> = Mutex::new(None);
/// Beyond this many remembered colours (photos), start over.
const MAX_MIXES: usize = 1 << 18;

/// The palette entries for an RGB picture, row-major: over each 4×4 patch, the entries mix to
/// the pixels' colour as closely as the palette allows.
pub fn dither(rgb: &[u8], width: usize) -> Vec<u8> {
    let mut guard = MIXES.lock().unwrap_or_else(|e| e.into_inner());
    let mixes = guard.get_or_insert_with(HashMap::new);
    if mixes.len() > MAX_MIXES {
        mixes.clear();
    }
    rgb.chunks_exact(3)
        .enumerate()
        .map(|(i, p)| {
            let colour = [p[0], p[1], p[2]];
            let mix = *mixes
                .entry(colour)
                .or_insert_with(|| best_mix(oklab(colour)));
            let (x, y) = (i % width.max(1), i / width.max(1));
            if BAYER[y & 3][x & 3] < mix.share {
                mix.high
            } else {
                mix.low
            }
        })
        .collect()
}

/// The single nearest palette entry by perceptual distance (what dithering improves on).
#[cfg(test)]
fn nearest(colour: [u8; 3]) -> u8 {
    let target = oklab(colour);
    palette()
        .iter()
        .min_by(|x, y| dist2(target, x.1).total_cmp(&dist2(target, y.1)))
        .map(|p| p.0)
        .unwrap_or(16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::Colormap;

    #[test]
    fn palette_entries() {
        assert_eq!(rgb(16), [0, 0, 0]);
        assert_eq!(rgb(231), [255, 255, 255]);
        assert_eq!(rgb(196), [255, 0, 0]);
        assert_eq!(rgb(232), [8, 8, 8]);
        assert_eq!(rgb(255), [238, 238, 238]);
        assert_eq!(nearest([255, 0, 0]), 196);
        assert_eq!(nearest([128, 128, 128]), 244);
        // Exact palette colours dither to themselves.
        for i in [16u8, 21, 46, 196, 231, 244] {
            let patch: Vec<u8> = (0..16).flat_map(|_| rgb(i)).collect();
            assert!(dither(&patch, 4).iter().all(|&d| d == i), "{i}");
        }
    }

    /// The mean colour of a 4×4 patch of dithered pixels, in OKLab.
    fn patch_mean(colour: [u8; 3], dithered: bool) -> Lab {
        let patch: Vec<u8> = (0..16).flat_map(|_| colour).collect();
        let entries = if dithered {
            dither(&patch, 4)
        } else {
            vec![nearest(colour); 16]
        };
        let mut sum = [0f32; 3];
        for i in entries {
            let c = oklab(rgb(i));
            (0..3).for_each(|k| sum[k] += c[k] / 16.0);
        }
        sum
    }

    #[test]
    fn a_colormap_gradient_stays_a_gradient() {
        for cmap in [Colormap::Viridis, Colormap::Magma, Colormap::Gray] {
            let ramp: Vec<[u8; 3]> = (0..=100).map(|i| cmap.color(i as f32 / 100.0)).collect();
            let err = |dither: bool| -> f32 {
                ramp.iter()
                    .map(|&c| dist2(oklab(c), patch_mean(c, dither)).sqrt())
                    .sum::<f32>()
                    / ramp.len() as f32
            };
            let (dithered_err, nearest_err) = (err(true), err(false));
            assert!(
                dithered_err < nearest_err * 0.6,
                "{cmap:?}: dithered {dithered_err:.4} vs nearest {nearest_err:.4}"
            );
            // Lightness rises along these colormaps; so must what the patches show.
            let lightness: Vec<f32> = ramp.iter().map(|&c| patch_mean(c, true)[0]).collect();
            let distinct = lightness
                .windows(2)
                .filter(|w| (w[1] - w[0]).abs() > 1e-4)
                .count();
            assert!(distinct > 60, "{cmap:?}: only {distinct} steps of 100");
            // Allowing steps back smaller than a just-noticeable difference (~0.02 in OKLab L).
            let worst = lightness
                .windows(2)
                .map(|w| w[0] - w[1])
                .fold(0f32, f32::max);
            assert!(
                worst < 0.015,
                "{cmap:?}: lightness falls by {worst} along the ramp"
            );
        }
    }
}
