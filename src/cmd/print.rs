//! Pictures printed straight to stdout, one after another, for `featscope snapshot --print`:
//! the same choice of protocol as the view (asked of the terminal, bounded), printed by viuer.
//!
//! viuer asks the terminal again before its first sixel or kitty picture, and waits for the
//! answer without a timeout; so it is allowed only the protocol featscope's bounded probe found,
//! a query that terminal has just answered. Everything else viuer would decide by itself is
//! decided here: truecolor from the terminal's answers (not COLORTERM, which does not cross
//! SSH), the picture's size from the cell size the probe measured. iTerm2 pictures keep
//! featscope's own encoder (viuer recognises iTerm2 only from environment variables), and so
//! does sixel on a terminal with fewer than 256 colour registers (viuer's encoder uses up to 256).

use featscope::term::choice::{self as graphics, Graphics, Protocol, Request};
use featscope::term::pixels::Colours;
use featscope::term::{iterm2, sixel};
use image::RgbImage;
use std::io::{self, IsTerminal, Write};

/// Prints pictures no wider than the terminal (80 columns into a pipe).
pub struct Printer {
    graphics: Graphics,
    cols: u16,
    /// viuer's own check found the protocol too (it prints only what it found itself).
    viuer_agrees: bool,
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
        let viuer_agrees = viuer_finds(graphics.protocol);
        Printer {
            graphics,
            cols: cols.clamp(8, 400),
            viuer_agrees,
        }
    }

    /// Prints `img` scaled to fit the width, keeping its shape, then a new line.
    pub fn print(&self, img: &RgbImage) -> io::Result<()> {
        let (fit, scaled) = self.scaled(img);
        match self.output(&fit, scaled) {
            Output::Viuer(config, picture) => {
                viuer::print(&picture, &config).map_err(io::Error::other)?;
                if config.use_sixel {
                    println!();
                }
                io::stdout().flush()
            }
            Output::Bytes(bytes) => {
                let out = io::stdout();
                let mut out = out.lock();
                out.write_all(&bytes)?;
                out.flush()
            }
        }
    }

    /// The picture resized to the cells it will take, and those cells.
    fn scaled(&self, img: &RgbImage) -> (featscope::term::cells::Fit, RgbImage) {
        let g = &self.graphics;
        let (cols, rows) = g.clamp_cells(self.cols.saturating_sub(1).max(1), 400);
        let fit = featscope::term::cells::fit(
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
        (fit, scaled)
    }

    /// How the fitted picture is printed: by viuer, allowed only the protocol chosen, at the
    /// cursor, at the size featscope fitted; or as featscope's own bytes where viuer may not.
    fn output(&self, fit: &featscope::term::cells::Fit, scaled: RgbImage) -> Output {
        let base = viuer::Config {
            absolute_offset: false,
            use_kitty: false,
            use_iterm: false,
            use_sixel: false,
            truecolor: true,
            ..viuer::Config::default()
        };
        let config = match self.graphics.protocol {
            // The picture is already cols × 2·rows pixels: viuer resizes it to itself.
            Protocol::HalfBlocks(colours) => viuer::Config {
                truecolor: colours == Colours::True,
                width: Some(fit.px_w),
                height: Some(fit.px_h.div_ceil(2)),
                ..base
            },
            // viuer draws a sixel cell as 6×12 pixels: sized so its picture has ours (rounded
            // down, within the terminal's largest sixel picture).
            Protocol::Sixel { .. } if self.viuer_agrees => viuer::Config {
                use_sixel: true,
                width: Some((fit.px_w / 6).max(1)),
                height: Some((fit.px_h / 12).max(1)),
                ..base
            },
            Protocol::Sixel { registers, .. } => {
                let paletted = sixel::from_rgb(&scaled, (registers as usize).min(256));
                let mut out = sixel::encode(&paletted).into_bytes();
                out.push(b'\n');
                return Output::Bytes(out);
            }
            // Without viuer's agreement, half-blocks at the kitty picture's size in cells.
            Protocol::Kitty => viuer::Config {
                use_kitty: self.viuer_agrees,
                width: Some(u32::from(fit.cols)),
                height: Some(u32::from(fit.rows)),
                ..base
            },
            Protocol::Iterm2 => {
                let png = featscope::render::png::encode_rgb(&scaled).unwrap_or_default();
                let mut out = iterm2::sequence(&png, fit.cols, fit.rows)
                    .replace(";doNotMoveCursor=1", "")
                    .into_bytes();
                out.push(b'\n');
                return Output::Bytes(out);
            }
        };
        Output::Viuer(config, image::DynamicImage::ImageRgb8(scaled))
    }
}

/// A picture ready to print.
enum Output {
    Viuer(viuer::Config, image::DynamicImage),
    Bytes(Vec<u8>),
}

/// Whether viuer may print `protocol` at all: not iTerm2, which viuer recognises only from
/// environment variables, nor sixel on a terminal with fewer colour registers than its encoder
/// uses.
fn viuer_may_print(protocol: Protocol) -> bool {
    match protocol {
        Protocol::HalfBlocks(_) | Protocol::Kitty => true,
        Protocol::Sixel { registers, .. } => registers >= 256,
        Protocol::Iterm2 => false,
    }
}

/// Whether viuer's own check finds `protocol`. It asks the terminal the first time, without a
/// timeout, and keeps the answer: asked here, only for a protocol the bounded probe found (so
/// the terminal answers), in raw mode so the answer is not echoed onto the screen. Half-blocks
/// need no check.
fn viuer_finds(protocol: Protocol) -> bool {
    if !viuer_may_print(protocol) {
        return false;
    }
    let check: fn() -> bool = match protocol {
        Protocol::Sixel { .. } => viuer::is_sixel_supported,
        Protocol::Kitty => || viuer::get_kitty_support() != viuer::KittySupport::None,
        Protocol::HalfBlocks(_) | Protocol::Iterm2 => return true,
    };
    featscope::term::ask_in_raw_mode(check).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printer(protocol: Protocol) -> Printer {
        let mut graphics = Graphics::halfblocks(Colours::True);
        graphics.protocol = protocol;
        Printer {
            graphics,
            cols: 11,
            viuer_agrees: viuer_may_print(protocol),
        }
    }

    fn viuer_config(p: &Printer, fit: &featscope::term::cells::Fit) -> Option<viuer::Config> {
        match p.output(fit, RgbImage::new(12, 12)) {
            Output::Viuer(config, _) => Some(config),
            Output::Bytes(_) => None,
        }
    }

    #[test]
    fn half_blocks_are_fitted_before_viuer_sees_them() {
        let p = printer(Protocol::HalfBlocks(Colours::True));
        let (fit, scaled) = p.scaled(&RgbImage::from_pixel(40, 40, image::Rgb([10, 20, 30])));
        // 10 columns wide (one short of the width), square: 5 rows of two pixels.
        assert_eq!((scaled.width(), scaled.height()), (10, 10));
        let c = viuer_config(&p, &fit).expect("viuer prints half-blocks");
        assert_eq!((c.width, c.height), (Some(10), Some(5)));
        assert!(c.truecolor && !c.use_sixel && !c.use_kitty && !c.use_iterm);
        assert!(!c.absolute_offset);
        let c = viuer_config(&printer(Protocol::HalfBlocks(Colours::Palette256)), &fit)
            .expect("viuer prints half-blocks");
        assert!(
            !c.truecolor,
            "256 colours from the probe, whatever COLORTERM says"
        );
    }

    #[test]
    fn viuer_may_ask_only_for_the_protocol_the_probe_found() {
        let sixel = Protocol::Sixel {
            registers: 1024,
            max_px: (1000, 1000),
        };
        let fit = featscope::term::cells::Fit {
            cols: 20,
            rows: 10,
            px_w: 120,
            px_h: 130,
        };
        let c = viuer_config(&printer(sixel), &fit).expect("viuer prints sixel");
        assert!(c.use_sixel && !c.use_kitty && !c.use_iterm);
        // viuer's 6×12-pixel cells: its picture is ours, rounded down.
        assert_eq!((c.width, c.height), (Some(20), Some(10)));
        let c = viuer_config(&printer(Protocol::Kitty), &fit).expect("viuer prints kitty");
        assert!(c.use_kitty && !c.use_sixel && !c.use_iterm);
        assert_eq!((c.width, c.height), (Some(20), Some(10)));
        // Fewer colour registers than viuer's encoder uses, and iTerm2: featscope's encoders.
        let few = Protocol::Sixel {
            registers: 16,
            max_px: (1000, 1000),
        };
        assert!(viuer_config(&printer(few), &fit).is_none());
        let Output::Bytes(bytes) = printer(few).output(&fit, RgbImage::new(12, 12)) else {
            panic!("featscope's sixel for 16 registers");
        };
        assert!(bytes.starts_with(b"\x1bP") && bytes.ends_with(b"\x1b\\\n"));
        assert!(viuer_config(&printer(Protocol::Iterm2), &fit).is_none());
    }
}
