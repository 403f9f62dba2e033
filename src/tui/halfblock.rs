//! Half-block pictures: two pixels per cell, `▀` with the top pixel as foreground and the bottom
//! one as background. Works wherever colours do (plain SSH, tmux, the Linux console with 256
//! colours), so it is the fallback for every other protocol.

pub use crate::term::pixels::{Colours, Pixels};
#[cfg(test)]
use image::RgbImage;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::widgets::Widget;

pub const UPPER_HALF: &str = "▀";
/// The same two pixels the other way round; the backend uses it when it saves bytes.
pub const LOWER_HALF: &str = "▄";

/// Draws pixels at 1×2 per cell, top-left aligned, clipped to the area.
pub struct HalfBlocks<'a> {
    pixels: &'a Pixels,
}

impl<'a> HalfBlocks<'a> {
    pub fn new(pixels: &'a Pixels) -> Self {
        HalfBlocks { pixels }
    }
}

impl Widget for HalfBlocks<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        let (w, h) = (self.pixels.width, self.pixels.height);
        let cols = w.min(area.width as usize);
        let rows = h.div_ceil(2).min(area.height as usize);
        let colour = |x: usize, y: usize| self.pixels.colours[y * w + x];
        for row in 0..rows {
            let top_y = row * 2;
            for col in 0..cols {
                let fg = colour(col, top_y);
                // An odd last pixel row leaves the lower half to the terminal's background.
                let bg = if top_y + 1 < h {
                    colour(col, top_y + 1)
                } else {
                    Color::Reset
                };
                let cell = &mut buf[(area.x + col as u16, area.y + row as u16)];
                cell.set_symbol(UPPER_HALF).set_fg(fg).set_bg(bg);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_pixels_per_cell() {
        let mut img = RgbImage::new(2, 3);
        img.put_pixel(0, 0, image::Rgb([255, 0, 0]));
        img.put_pixel(0, 1, image::Rgb([0, 0, 255]));
        img.put_pixel(1, 2, image::Rgb([0, 255, 0]));
        let mut buf = Buffer::empty(Rect::new(0, 0, 4, 4));
        let px = Pixels::new(&img, Colours::True);
        HalfBlocks::new(&px).render(Rect::new(1, 1, 3, 3), &mut buf);
        let c = &buf[(1, 1)];
        assert_eq!(c.symbol(), UPPER_HALF);
        assert_eq!(c.fg, Color::Rgb(255, 0, 0));
        assert_eq!(c.bg, Color::Rgb(0, 0, 255));
        assert_eq!(buf[(2, 2)].fg, Color::Rgb(0, 255, 0));
        assert_eq!(buf[(2, 2)].bg, Color::Reset);
        assert_eq!(buf[(3, 1)].symbol(), " ");
        assert_eq!(buf[(1, 3)].symbol(), " ");
    }

    #[test]
    fn palette_pixels_are_dithered_by_position() {
        // A colour between two palette entries shows as both, in a fixed pattern.
        let img = RgbImage::from_pixel(4, 4, image::Rgb([40, 120, 140]));
        let mut buf = Buffer::empty(Rect::new(0, 0, 4, 2));
        let px = Pixels::new(&img, Colours::Palette256);
        HalfBlocks::new(&px).render(buf.area, &mut buf);
        let mut seen = std::collections::BTreeSet::new();
        for c in buf.content() {
            for colour in [c.fg, c.bg] {
                match colour {
                    Color::Indexed(i) => seen.insert(i),
                    other => panic!("not a palette colour: {other:?}"),
                };
            }
        }
        assert_eq!(seen.len(), 2, "{seen:?}");
    }
}
