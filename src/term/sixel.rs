//! Sixel pictures, encoded here rather than by a general-purpose encoder: a feature map has at
//! most the colormap's levels, so its palette is the colormap itself (no quantiser, no colour
//! drift), limited to the colour registers the terminal reports, and an image covers exactly
//! the cells it is drawn in.

use crate::render::{
    IndexedImage, BACKGROUND, BACKGROUND_INDEX, LABEL, LABEL_INDEX, NONFINITE, NONFINITE_INDEX,
};
use image::RgbImage;
use std::fmt::Write as _;

/// A picture as palette indices, ready for sixel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paletted {
    pub width: u32,
    pub height: u32,
    pub indices: Vec<u8>,
    /// At most 256 colours.
    pub palette: Vec<[u8; 3]>,
}

/// Registers for a map: 16 colormap levels, the gap, label and not-a-number colours. A sixel
/// picture costs bytes in proportion to the colours in each band of six rows; at the pixel size
/// of a sixel terminal, 16 levels ordered-dithered read as the full colormap at a third of the
/// bytes of 253.
pub const MAP_COLOURS: usize = 19;
/// Registers for a photo (the input, the overlay).
pub const PHOTO_COLOURS: usize = 128;

/// 4×4 Bayer thresholds, 0..16.
const BAYER: [[u8; 4]; 4] = [[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]];

/// A colormap picture in at most `registers` colours. With fewer registers than colormap
/// levels, the levels are spread evenly over the registers left after the gap and label
/// colours, and a level between two registers is ordered-dithered between them.
pub fn from_levels(img: &IndexedImage, registers: usize) -> Paletted {
    let lut = img.colormap.lut();
    let levels = lut.len();
    let registers = registers.clamp(5, 256);
    if registers >= levels + 3 {
        return Paletted {
            width: img.width,
            height: img.height,
            indices: img.indices.clone(),
            palette: img.palette(),
        };
    }
    let steps = registers - 3;
    let mut palette: Vec<[u8; 3]> = (0..steps)
        .map(|k| lut[k * (levels - 1) / (steps - 1)])
        .collect();
    let (background, label, nonfinite) = (steps as u8, steps as u8 + 1, steps as u8 + 2);
    palette.push(BACKGROUND);
    palette.push(LABEL);
    palette.push(NONFINITE);
    let w = img.width.max(1) as usize;
    let indices = img
        .indices
        .iter()
        .enumerate()
        .map(|(i, &level)| match level {
            BACKGROUND_INDEX => background,
            LABEL_INDEX => label,
            NONFINITE_INDEX => nonfinite,
            level => {
                // Position among the registers, in sixteenths.
                let at = level as usize * (steps - 1) * 16 / (levels - 1);
                let (low, share) = (at / 16, (at % 16) as u8);
                let (x, y) = (i % w, i / w);
                (low + usize::from(BAYER[y & 3][x & 3] < share)) as u8
            }
        })
        .collect();
    Paletted {
        width: img.width,
        height: img.height,
        indices,
        palette,
    }
}

/// A photo-like picture in at most `registers` colours: its own colours when it has that few,
/// else a NeuQuant palette.
pub fn from_rgb(img: &RgbImage, registers: usize) -> Paletted {
    let registers = registers.clamp(4, 256);
    let mut palette: Vec<[u8; 3]> = Vec::new();
    let mut lookup = std::collections::HashMap::new();
    let mut indices = Vec::with_capacity((img.width() * img.height()) as usize);
    for p in img.pixels() {
        let next = palette.len();
        let i = *lookup.entry(p.0).or_insert(next);
        if i == next {
            if next == registers {
                return quantised(img, registers);
            }
            palette.push(p.0);
        }
        indices.push(i as u8);
    }
    Paletted {
        width: img.width(),
        height: img.height(),
        indices,
        palette,
    }
}

fn quantised(img: &RgbImage, registers: usize) -> Paletted {
    let rgba: Vec<u8> = img
        .pixels()
        .flat_map(|p| [p.0[0], p.0[1], p.0[2], 255])
        .collect();
    let quant = color_quant::NeuQuant::new(10, registers, &rgba);
    let palette = quant
        .color_map_rgb()
        .chunks_exact(3)
        .map(|c| [c[0], c[1], c[2]])
        .collect();
    let indices = rgba
        .chunks_exact(4)
        .map(|px| quant.index_of(px) as u8)
        .collect();
    Paletted {
        width: img.width(),
        height: img.height(),
        indices,
        palette,
    }
}

/// The DCS sequence that draws `img` with its top-left corner at the cursor. Pixels outside
/// the image are left alone (transparent background), so it never paints beyond its cells.
pub fn encode(img: &Paletted) -> String {
    let (w, h) = (img.width as usize, img.height as usize);
    // P2 = 1: zero bits keep what is on screen. Raster attributes: square pixels, exact size.
    let mut out = format!("\x1bP0;1;0q\"1;1;{w};{h}");
    if w == 0 || h == 0 {
        out.push_str("\x1b\\");
        return out;
    }
    let mut used = [false; 256];
    for &i in &img.indices {
        used[i as usize] = true;
    }
    // tmux 3.5 drops a sixel picture that leaves register 0 undefined.
    used[0] = true;
    let percent = |v: u8| (v as u32 * 100 + 127) / 255;
    for (i, c) in img.palette.iter().enumerate().take(256) {
        if used[i] {
            let _ = write!(
                out,
                "#{i};2;{};{};{}",
                percent(c[0]),
                percent(c[1]),
                percent(c[2])
            );
        }
    }
    let mut row = vec![0u8; w];
    for band in 0..h.div_ceil(6) {
        let y0 = band * 6;
        let rows = (h - y0).min(6);
        // Which colours this band uses, in palette order, and where each starts and ends.
        let mut span = [(usize::MAX, 0usize); 256];
        for dy in 0..rows {
            for (x, &i) in img.indices[(y0 + dy) * w..(y0 + dy + 1) * w]
                .iter()
                .enumerate()
            {
                let s = &mut span[i as usize];
                s.0 = s.0.min(x);
                s.1 = s.1.max(x + 1);
            }
        }
        let colours: Vec<usize> = (0..256).filter(|&c| span[c].0 != usize::MAX).collect();
        for (k, &colour) in colours.iter().enumerate() {
            let (first, end) = span[colour];
            row[first..end].fill(0);
            for dy in 0..rows {
                let line = &img.indices[(y0 + dy) * w..(y0 + dy + 1) * w];
                for x in first..end {
                    if line[x] as usize == colour {
                        row[x] |= 1 << dy;
                    }
                }
            }
            let _ = write!(out, "#{colour}");
            if first > 0 {
                push_run(&mut out, b'?', first);
            }
            let mut x = first;
            while x < end {
                let bits = row[x];
                let run = row[x..end].iter().take_while(|&&b| b == bits).count();
                push_run(&mut out, b'?' + bits, run);
                x += run;
            }
            // `$` returns to the band's start for the next colour; the last one needs none.
            if k + 1 < colours.len() {
                out.push('$');
            }
        }
        if band + 1 < h.div_ceil(6) {
            out.push('-');
        }
    }
    out.push_str("\x1b\\");
    out
}

/// `n` copies of sixel `c`, run-length coded when that is shorter.
fn push_run(out: &mut String, c: u8, n: usize) {
    if n > 3 {
        let _ = write!(out, "!{n}{}", c as char);
    } else {
        for _ in 0..n {
            out.push(c as char);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::Colormap;

    /// What [`decode`] reads back: width, height, the registers defined (in percent), and each
    /// pixel's register (`None` where nothing is drawn).
    type Decoded = (usize, usize, Vec<(usize, [u32; 3])>, Vec<Option<usize>>);

    /// Decodes what [`encode`] writes, enough of the format to check it.
    fn decode(s: &str) -> Decoded {
        let body = s
            .strip_prefix("\x1bP0;1;0q\"1;1;")
            .and_then(|b| b.strip_suffix("\x1b\\"))
            .expect("framing");
        let mut chars = body.chars().peekable();
        let num = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| -> usize {
            let mut n = 0;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                n = n * 10 + d as usize;
                chars.next();
            }
            n
        };
        let w = num(&mut chars);
        assert_eq!(chars.next(), Some(';'));
        let h = num(&mut chars);
        let mut pixels = vec![None; w * h];
        let mut regs = Vec::new();
        let (mut x, mut band, mut colour) = (0usize, 0usize, 0usize);
        while let Some(c) = chars.next() {
            match c {
                '#' => {
                    colour = num(&mut chars);
                    if chars.peek() == Some(&';') {
                        chars.next();
                        assert_eq!(num(&mut chars), 2);
                        let mut rgb = [0u32; 3];
                        for v in &mut rgb {
                            assert_eq!(chars.next(), Some(';'));
                            *v = num(&mut chars) as u32;
                        }
                        regs.push((colour, rgb));
                    }
                }
                '$' => x = 0,
                '-' => {
                    x = 0;
                    band += 1;
                }
                '!' => {
                    let n = num(&mut chars);
                    let s = chars.next().expect("sixel after count");
                    for _ in 0..n {
                        put(&mut pixels, w, h, x, band, colour, s);
                        x += 1;
                    }
                }
                '?'..='~' => {
                    put(&mut pixels, w, h, x, band, colour, c);
                    x += 1;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        (w, h, regs, pixels)
    }

    fn put(
        px: &mut [Option<usize>],
        w: usize,
        h: usize,
        x: usize,
        band: usize,
        colour: usize,
        s: char,
    ) {
        let bits = s as u32 - '?' as u32;
        for dy in 0..6 {
            if bits & (1 << dy) != 0 {
                let y = band * 6 + dy;
                assert!(x < w && y < h, "pixel ({x}, {y}) outside {w}×{h}");
                assert!(px[y * w + x].is_none(), "pixel ({x}, {y}) drawn twice");
                px[y * w + x] = Some(colour);
            }
        }
    }

    #[test]
    fn every_pixel_is_drawn_once_in_its_colour() {
        let (w, h) = (37, 13);
        let indices: Vec<u8> = (0..w * h).map(|i| ((i * 7 + i / w) % 5) as u8).collect();
        let palette = vec![
            [0, 0, 0],
            [255, 0, 0],
            [0, 255, 0],
            [0, 0, 255],
            [255, 255, 255],
            [1, 2, 3],
        ];
        let img = Paletted {
            width: w as u32,
            height: h as u32,
            indices: indices.clone(),
            palette,
        };
        let (dw, dh, regs, pixels) = decode(&encode(&img));
        assert_eq!((dw, dh), (w, h));
        // Only the colours used are defined, in percent.
        assert_eq!(
            regs,
            vec![
                (0, [0, 0, 0]),
                (1, [100, 0, 0]),
                (2, [0, 100, 0]),
                (3, [0, 0, 100]),
                (4, [100, 100, 100])
            ]
        );
        let want: Vec<Option<usize>> = indices.iter().map(|&i| Some(i as usize)).collect();
        assert_eq!(pixels, want);
    }

    #[test]
    fn runs_are_compressed() {
        let img = Paletted {
            width: 100,
            height: 6,
            indices: vec![1; 600],
            palette: vec![[0, 0, 0], [255, 255, 255]],
        };
        assert_eq!(
            encode(&img),
            "\x1bP0;1;0q\"1;1;100;6#0;2;0;0;0#1;2;100;100;100#1!100~\x1b\\"
        );
    }

    #[test]
    fn colormap_levels_fit_the_registers() {
        let levels: Vec<u8> = (0..=252u8).chain([NONFINITE_INDEX]).collect();
        let img = IndexedImage {
            width: 254,
            height: 1,
            indices: levels,
            colormap: Colormap::Viridis,
        };
        let full = from_levels(&img, 256);
        assert_eq!(full.indices, img.indices);
        let lut = Colormap::Viridis.lut();
        let few = from_levels(&img, 16);
        assert_eq!(few.palette.len(), 16);
        assert_eq!(few.palette[0], lut[0]);
        assert_eq!(few.palette[12], lut[252]);
        assert_eq!(few.palette[13..], [BACKGROUND, LABEL, NONFINITE]);
        assert_eq!(few.indices.last(), Some(&15));
        // Each level goes to one of the two registers around it.
        for (level, &reg) in few.indices.iter().take(253).enumerate() {
            let at = level as f32 * 12.0 / 252.0;
            assert!(
                reg as f32 >= at.floor() && reg as f32 <= at.ceil(),
                "level {level} → register {reg}"
            );
        }
    }

    #[test]
    fn photos_are_quantised_to_the_registers() {
        let img = RgbImage::from_fn(64, 64, |x, y| {
            image::Rgb([(x * 4) as u8, (y * 4) as u8, 90])
        });
        let p = from_rgb(&img, 64);
        assert!(p.palette.len() <= 64);
        assert_eq!(p.indices.len(), 64 * 64);
        let few = RgbImage::from_fn(8, 8, |x, _| image::Rgb([(x % 3) as u8 * 100, 0, 0]));
        let p = from_rgb(&few, 16);
        assert_eq!(p.palette.len(), 3);
    }
}
