//! Half-block pictures: two pixels per cell, `▀` with the top pixel as foreground and the bottom
//! one as background. Works wherever colours do (plain SSH, tmux, the Linux console with 256
//! colours), so it is the fallback for every other protocol.

use image::RgbImage;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::widgets::Widget;

pub const UPPER_HALF: &str = "▀";

/// Draws an image at 1×2 pixels per cell, top-left aligned, clipped to the area.
pub struct HalfBlocks<'a> {
    image: &'a RgbImage,
    truecolor: bool,
}

impl<'a> HalfBlocks<'a> {
    /// `truecolor: false` quantises to the xterm 256-colour palette.
    pub fn new(image: &'a RgbImage, truecolor: bool) -> Self {
        HalfBlocks { image, truecolor }
    }
}

impl Widget for HalfBlocks<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        let (w, h) = (self.image.width() as usize, self.image.height() as usize);
        let cols = w.min(area.width as usize);
        let rows = h.div_ceil(2).min(area.height as usize);
        let raw = self.image.as_raw();
        let px = |x: usize, y: usize| {
            let i = (y * w + x) * 3;
            [raw[i], raw[i + 1], raw[i + 2]]
        };
        for row in 0..rows {
            let top_y = row * 2;
            for col in 0..cols {
                let fg = color(px(col, top_y), self.truecolor);
                // An odd last pixel row leaves the lower half to the terminal's background.
                let bg = if top_y + 1 < h {
                    color(px(col, top_y + 1), self.truecolor)
                } else {
                    Color::Reset
                };
                let cell = &mut buf[(area.x + col as u16, area.y + row as u16)];
                cell.set_symbol(UPPER_HALF).set_fg(fg).set_bg(bg);
            }
        }
    }
}

/// The terminal colour for `rgb`: itself in truecolor, else the nearest xterm-256 entry.
pub fn color(rgb: [u8; 3], truecolor: bool) -> Color {
    if truecolor {
        Color::Rgb(rgb[0], rgb[1], rgb[2])
    } else {
        Color::Indexed(ansi256(rgb))
    }
}

const CUBE: [u8; 6] = [0, 95, 135, 175, 215, 255];

/// Nearest xterm-256 colour: the 6×6×6 cube (16..=231) or the 24-step grey ramp (232..=255).
pub fn ansi256([r, g, b]: [u8; 3]) -> u8 {
    // Cube level boundaries are the midpoints between 0, 95, 135, 175, 215, 255.
    let level = |v: u8| -> usize {
        match v {
            0..48 => 0,
            48..115 => 1,
            _ => ((v - 35) / 40) as usize,
        }
    };
    let (ri, gi, bi) = (level(r), level(g), level(b));
    let cube = [CUBE[ri], CUBE[gi], CUBE[bi]];
    let avg = (r as u32 + g as u32 + b as u32) / 3;
    let grey_i = (avg.saturating_sub(3) / 10).min(23);
    let grey = (8 + 10 * grey_i) as u8;
    let dist = |c: [u8; 3]| -> u32 {
        [r, g, b]
            .iter()
            .zip(c)
            .map(|(&a, b)| (a as i32 - b as i32).pow(2) as u32)
            .sum()
    };
    if dist([grey; 3]) < dist(cube) {
        232 + grey_i as u8
    } else {
        16 + (36 * ri + 6 * gi + bi) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn palette_corners_and_greys() {
        assert_eq!(ansi256([0, 0, 0]), 16);
        assert_eq!(ansi256([255, 255, 255]), 231);
        assert_eq!(ansi256([255, 0, 0]), 196);
        assert_eq!(ansi256([0, 0, 255]), 21);
        assert_eq!(ansi256([128, 128, 128]), 244);
        assert_eq!(ansi256([95, 135, 175]), 16 + 36 + 12 + 3);
    }

    #[test]
    fn two_pixels_per_cell() {
        let mut img = RgbImage::new(2, 3);
        img.put_pixel(0, 0, image::Rgb([255, 0, 0]));
        img.put_pixel(0, 1, image::Rgb([0, 0, 255]));
        img.put_pixel(1, 2, image::Rgb([0, 255, 0]));
        let mut buf = Buffer::empty(Rect::new(0, 0, 4, 4));
        HalfBlocks::new(&img, true).render(Rect::new(1, 1, 3, 3), &mut buf);
        let c = &buf[(1, 1)];
        assert_eq!(c.symbol(), UPPER_HALF);
        assert_eq!(c.fg, Color::Rgb(255, 0, 0));
        assert_eq!(c.bg, Color::Rgb(0, 0, 255));
        assert_eq!(buf[(2, 2)].fg, Color::Rgb(0, 255, 0));
        assert_eq!(buf[(2, 2)].bg, Color::Reset);
        assert_eq!(buf[(3, 1)].symbol(), " ");
        assert_eq!(buf[(1, 3)].symbol(), " ");
    }
}
