//! Pictures printed straight to stdout, one after another, for `featscope snapshot --print`:
//! the same choice of protocol as the view (asked of the terminal, bounded), and the same
//! encoders, without a screen to manage.

use super::choice::{self as graphics, Graphics, Protocol, Request};
use super::pixels::{Colours, Pixels};
use super::{iterm2, sixel};
use base64::Engine as _;
use image::RgbImage;
use ratatui::style::Color;
use std::io::{self, IsTerminal, Write};

/// Prints pictures no wider than the terminal (80 columns into a pipe).
pub struct Printer {
    graphics: Graphics,
    cols: u16,
}

impl Printer {
    /// Decides once how to print: the terminal is asked only when stdin and stdout are both
    /// it; into a pipe, truecolor half-blocks.
    pub fn for_stdout() -> Printer {
        let terminal = io::stdout().is_terminal();
        let graphics = if terminal {
            graphics::choose(Request::Auto, &graphics::ask_outside_the_view()).graphics
        } else {
            Graphics::halfblocks(Colours::True)
        };
        let cols = if terminal {
            crossterm::terminal::size().map(|(w, _)| w).unwrap_or(80)
        } else {
            80
        };
        Printer {
            graphics,
            cols: cols.clamp(8, 400),
        }
    }

    /// Prints `img` scaled to fit the width, keeping its shape, then a new line.
    pub fn print(&self, img: &RgbImage) -> io::Result<()> {
        let out = io::stdout();
        let mut out = out.lock();
        let bytes = self.encode(img);
        out.write_all(&bytes)?;
        out.flush()
    }

    fn encode(&self, img: &RgbImage) -> Vec<u8> {
        let g = &self.graphics;
        let (cols, rows) = g.clamp_cells(self.cols.saturating_sub(1).max(1), 400);
        let fit = super::cells::fit(
            img.width(),
            img.height(),
            cols,
            rows,
            g.cell_px(),
            g.pixel_aspect(),
            false,
        );
        let scaled = image::imageops::resize(
            img,
            fit.px_w,
            fit.px_h,
            image::imageops::FilterType::Triangle,
        );
        match g.protocol {
            Protocol::HalfBlocks(colours) => half_blocks(&Pixels::new(&scaled, colours)),
            Protocol::Sixel { registers, .. } => {
                let paletted = sixel::from_rgb(&scaled, (registers as usize).min(256));
                let mut out = sixel::encode(&paletted).into_bytes();
                out.push(b'\n');
                out
            }
            Protocol::Kitty => {
                let png = crate::render::png::encode_rgb(&scaled).unwrap_or_default();
                kitty_display(&png, fit.cols, fit.rows)
            }
            Protocol::Iterm2 => {
                let png = crate::render::png::encode_rgb(&scaled).unwrap_or_default();
                let mut out = iterm2::sequence(&png, fit.cols, fit.rows)
                    .replace(";doNotMoveCursor=1", "")
                    .into_bytes();
                out.push(b'\n');
                out
            }
        }
    }
}

/// Rows of `▀`, each ending with a reset and a new line.
fn half_blocks(px: &Pixels) -> Vec<u8> {
    let mut out = Vec::new();
    let sgr = |c: Color, base: u8| match c {
        Color::Rgb(r, g, b) => format!("{};2;{r};{g};{b}", base + 8),
        Color::Indexed(i) => format!("{};5;{i}", base + 8),
        _ => format!("{}", base + 9),
    };
    for row in 0..px.height.div_ceil(2) {
        for col in 0..px.width {
            let top = px.colours[2 * row * px.width + col];
            let bottom = if 2 * row + 1 < px.height {
                px.colours[(2 * row + 1) * px.width + col]
            } else {
                Color::Reset
            };
            let _ = write!(out, "\x1b[{};{}m▀", sgr(top, 30), sgr(bottom, 40));
        }
        out.extend_from_slice(b"\x1b[0m\n");
    }
    out
}

/// kitty: transmit and display at the cursor, which then moves below the picture.
fn kitty_display(png: &[u8], cols: u16, rows: u16) -> Vec<u8> {
    let data = base64::engine::general_purpose::STANDARD.encode(png);
    let chunks: Vec<&[u8]> = data.as_bytes().chunks(4096).collect();
    let mut out = Vec::new();
    for (k, chunk) in chunks.iter().enumerate() {
        let more = u8::from(k + 1 < chunks.len());
        if k == 0 {
            let _ = write!(out, "\x1b_Ga=T,f=100,t=d,q=2,c={cols},r={rows},m={more};");
        } else {
            let _ = write!(out, "\x1b_Gm={more},q=2;");
        }
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\x1b\\");
    }
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_blocks_into_a_pipe() {
        let printer = Printer {
            graphics: Graphics::halfblocks(Colours::True),
            cols: 11,
        };
        let img = RgbImage::from_pixel(40, 40, image::Rgb([10, 20, 30]));
        let text = String::from_utf8(printer.encode(&img)).expect("utf8");
        // 10 columns wide (one short of the width), square: 5 rows of two pixels.
        assert_eq!(text.lines().count(), 5, "{text:?}");
        assert!(text
            .lines()
            .all(|l| l.matches('▀').count() == 10 && l.ends_with("\x1b[0m")));
        assert!(text.contains("38;2;10;20;30;48;2;10;20;30"));
    }
}
