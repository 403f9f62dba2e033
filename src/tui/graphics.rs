//! How the view draws pictures: each is encoded once for its cells (half-blocks, sixel, kitty,
//! iTerm2, as [`Graphics`] says) and drawn as a ratatui widget.

use super::halfblock::HalfBlocks;
use crate::render::IndexedImage;
pub use crate::term::choice::{CellSize, Graphics, Protocol};
use crate::term::kitty::KittyImage;
use crate::term::pixels::Pixels;
use crate::term::{iterm2, sixel};
use crate::text::sanitize;
use image::RgbImage;
use ratatui::buffer::{Buffer, CellDiffOption};
use ratatui::layout::Rect;
use ratatui::widgets::Widget;
use std::num::NonZeroU16;

/// Encodes a picture once for a `cols × rows` cell area in `graphics`; the caller caches it.
pub fn encode(graphics: &Graphics, raster: Raster, cols: u16, rows: u16) -> Picture {
    match graphics.protocol {
        Protocol::HalfBlocks(colours) => Picture::Pixels(Pixels::new(&raster.into_rgb(), colours)),
        Protocol::Sixel { registers, .. } => {
            let paletted = match &raster {
                Raster::Levels(img) => {
                    sixel::from_levels(img, (registers as usize).min(sixel::MAP_COLOURS))
                }
                Raster::Rgb(img) => {
                    sixel::from_rgb(img, (registers as usize).min(sixel::PHOTO_COLOURS))
                }
            };
            Picture::Escape {
                data: erased(cols, rows) + &sixel::encode(&paletted),
                cols,
                rows,
            }
        }
        Protocol::Kitty | Protocol::Iterm2 => {
            let png = match &raster {
                Raster::Levels(img) => crate::render::png::encode_indexed(img),
                Raster::Rgb(img) => crate::render::png::encode_rgb(img),
            };
            let png = match png {
                Ok(png) => png,
                Err(e) => return Picture::Failed(sanitize(&e.to_string())),
            };
            if graphics.protocol == Protocol::Kitty {
                Picture::Kitty {
                    image: KittyImage::new(next_kitty_id(), &png, cols, rows),
                    cols,
                    rows,
                }
            } else {
                Picture::Escape {
                    data: erased(cols, rows) + &iterm2::sequence(&png, cols, rows),
                    cols,
                    rows,
                }
            }
        }
    }
}

/// Erases `cols × rows` cells from the cursor and comes back: the picture about to be drawn
/// there may not cover every pixel of its last row and column, and whatever was drawn there
/// before (another picture, text) must not show through.
fn erased(cols: u16, rows: u16) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for row in 0..rows {
        let _ = write!(out, "\x1b[{cols}X");
        if row + 1 < rows {
            out.push_str("\x1b[B");
        }
    }
    if rows > 1 {
        let _ = write!(out, "\x1b[{}A", rows - 1);
    }
    out
}

/// kitty image ids: distinct per picture and per process (two featscope views in one kitty
/// window must not replace each other's pictures), never 0.
fn next_kitty_id() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let base = (std::process::id() & 0xffff) << 15;
    (base | (NEXT.fetch_add(1, Ordering::Relaxed) & 0x7fff)).max(1)
}

/// A picture before encoding: colormap levels (maps) or RGB (the input, the overlay).
pub enum Raster {
    Levels(IndexedImage),
    Rgb(RgbImage),
}

impl Raster {
    pub fn into_rgb(self) -> RgbImage {
        match self {
            Raster::Levels(img) => img.to_rgb(),
            Raster::Rgb(img) => img,
        }
    }
}

/// A picture ready to draw: pixels for half-blocks, or an encoded escape sequence.
pub enum Picture {
    Pixels(Pixels),
    /// Sixel or iTerm2: one escape sequence that draws the whole picture.
    Escape {
        data: String,
        cols: u16,
        rows: u16,
    },
    Kitty {
        image: KittyImage,
        cols: u16,
        rows: u16,
    },
    Failed(String),
}

/// The escape sequence goes into the first cell, which the diff must treat as one column wide
/// (ratatui 0.30 would otherwise skip the cells after it); the rest of the picture's cells are
/// the picture's, so the diff leaves them alone.
fn put_escape(data: &str, area: Rect, buf: &mut Buffer) {
    let area = area.intersection(buf.area);
    if area.is_empty() {
        return;
    }
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            buf[(x, y)].reset();
            buf[(x, y)].set_diff_option(CellDiffOption::Skip);
        }
    }
    let first = &mut buf[(area.x, area.y)];
    first.set_symbol(data);
    first.set_diff_option(CellDiffOption::ForcedWidth(NonZeroU16::MIN));
}

impl Widget for &Picture {
    fn render(self, area: Rect, buf: &mut Buffer) {
        match self {
            Picture::Pixels(pixels) => HalfBlocks::new(pixels).render(area, buf),
            // Only where the whole picture fits: a clipped one would spill over.
            Picture::Escape { data, cols, rows } => {
                if *cols <= area.width && *rows <= area.height {
                    put_escape(data, Rect::new(area.x, area.y, *cols, *rows), buf);
                }
            }
            Picture::Kitty { image, cols, rows } => {
                if *cols <= area.width && *rows <= area.height {
                    // Text under a kitty picture stays in the terminal: erased, so that it
                    // does not show when the picture goes.
                    let data = erased(*cols, *rows) + &image.sequence();
                    put_escape(&data, Rect::new(area.x, area.y, *cols, *rows), buf);
                }
            }
            Picture::Failed(why) => {
                buf.set_stringn(
                    area.x,
                    area.y,
                    why,
                    area.width as usize,
                    ratatui::style::Style::new(),
                );
            }
        }
    }
}

// ---- what we know about the terminal ----

#[cfg(test)]
mod tests {
    use super::*;

    fn sixel_6x12() -> Graphics {
        Graphics {
            protocol: Protocol::Sixel {
                registers: 256,
                max_px: (1000, 1000),
            },
            cell: CellSize {
                width: 6,
                height: 12,
                measured: true,
            },
        }
    }

    #[test]
    fn sixel_and_iterm2_pictures_erase_their_cells_first() {
        assert_eq!(erased(4, 3), "\x1b[4X\x1b[B\x1b[4X\x1b[B\x1b[4X\x1b[2A");
        assert_eq!(erased(7, 1), "\x1b[7X");
        let graphics = sixel_6x12();
        let pic = encode(&graphics, Raster::Rgb(RgbImage::new(24, 20)), 4, 2);
        let Picture::Escape { data, .. } = pic else {
            panic!("sixel is one escape sequence");
        };
        assert!(
            data.starts_with("\x1b[4X\x1b[B\x1b[4X\x1b[1A\x1bP"),
            "{data:?}"
        );
    }

    #[test]
    fn protocols_encode_into_one_cell_and_skip_the_rest() {
        for protocol in [sixel_6x12().protocol, Protocol::Kitty, Protocol::Iterm2] {
            let graphics = Graphics {
                protocol,
                ..sixel_6x12()
            };
            let (fw, fh) = graphics.cell_px();
            let img = RgbImage::from_pixel(4 * fw, 2 * fh, image::Rgb([200, 10, 10]));
            let pic = encode(&graphics, Raster::Rgb(img), 4, 2);
            assert!(!matches!(pic, Picture::Failed(_)), "{protocol:?}");
            let mut buf = Buffer::empty(Rect::new(0, 0, 10, 5));
            (&pic).render(Rect::new(1, 1, 4, 2), &mut buf);
            let first = &buf[(1, 1)];
            assert!(first.symbol().contains('\x1b'), "{protocol:?}");
            assert_eq!(
                first.diff_option,
                CellDiffOption::ForcedWidth(NonZeroU16::MIN),
                "{protocol:?}"
            );
        }
    }

    #[test]
    fn a_sixel_picture_redraws_everything_after_it() {
        // The regression behind "sixel draws one tile, then nothing": ratatui's diff must still
        // see the cells after a picture's escape sequence.
        use ratatui::backend::TestBackend;
        use ratatui::Terminal;
        let graphics = sixel_6x12();
        let tile = || {
            encode(
                &graphics,
                Raster::Rgb(RgbImage::from_pixel(24, 24, image::Rgb([9, 9, 9]))),
                4,
                2,
            )
        };
        let (a, b) = (tile(), tile());
        let mut term = Terminal::new(TestBackend::new(20, 4)).expect("terminal");
        let frame = term
            .draw(|f| {
                f.render_widget(&a, Rect::new(0, 0, 4, 2));
                f.render_widget(&b, Rect::new(5, 0, 4, 2));
                f.buffer_mut()
                    .set_string(0, 3, "status", ratatui::style::Style::new());
            })
            .expect("draw");
        let _ = frame;
        let buf = term.backend().buffer();
        assert!(buf[(5, 0)].symbol().contains('\x1b'), "second picture sent");
        assert_eq!(buf[(0, 3)].symbol(), "s", "text after the pictures sent");
    }
}
