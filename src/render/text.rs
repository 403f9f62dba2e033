//! Tile labels drawn with the public-domain 8×8 font from `font8x8`.

use super::{IndexedImage, LABEL_INDEX};
use font8x8::UnicodeFonts;

pub const HEIGHT: usize = 8;
const ADVANCE: usize = 7;

pub fn width(text: &str) -> usize {
    text.chars().count() * ADVANCE
}

/// Draws `text` at (x, y) in the label colour, clipped to `max_width` pixels and to the image.
pub fn draw(img: &mut IndexedImage, x: usize, y: usize, max_width: usize, text: &str) {
    let (w, h) = (img.width as usize, img.height as usize);
    for (i, ch) in text.chars().enumerate() {
        let Some(glyph) = font8x8::BASIC_FONTS.get(ch) else {
            continue;
        };
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..8 {
                let px = x + i * ADVANCE + col;
                let py = y + row;
                if bits & (1 << col) != 0 && px < x + max_width && px < w && py < h {
                    img.indices[py * w + px] = LABEL_INDEX;
                }
            }
        }
    }
}
