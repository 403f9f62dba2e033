//! How pictures reach the terminal: our own half-blocks, or sixel / kitty / iTerm2 through
//! ratatui-image when the terminal answers the query. Also `featscope doctor`'s terminal report.

use super::halfblock::HalfBlocks;
use crate::cli::GraphicsArg;
use crate::model::sanitize;
use image::{DynamicImage, RgbImage};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::Widget;
use ratatui_image::picker::{Picker, ProtocolType};
use ratatui_image::protocol::Protocol;
use ratatui_image::{Image, Resize};
use std::io::IsTerminal;
use std::time::Duration;

/// How long the terminal gets to answer the graphics query. A terminal that supports none of
/// the protocols still answers the status report at once; this bounds the wait for one that
/// answers nothing at all.
const QUERY_TIMEOUT: Duration = Duration::from_millis(1000);

#[derive(Clone, Debug)]
pub enum Graphics {
    HalfBlocks { truecolor: bool },
    Protocol(Box<Picker>),
}

impl Graphics {
    /// Half-blocks, in truecolor when `COLORTERM` says so.
    pub fn halfblocks() -> Graphics {
        Graphics::HalfBlocks {
            truecolor: truecolor_from_env(),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Graphics::HalfBlocks { truecolor: true } => "half-blocks",
            Graphics::HalfBlocks { truecolor: false } => "half-blocks (256 colours)",
            Graphics::Protocol(p) => protocol_name(p.protocol_type()),
        }
    }

    /// Picture pixels per terminal cell, (width, height).
    pub fn cell_px(&self) -> (u32, u32) {
        match self {
            Graphics::HalfBlocks { .. } => (1, 2),
            Graphics::Protocol(p) => {
                let (w, h) = p.font_size();
                (w.max(1) as u32, h.max(1) as u32)
            }
        }
    }

    /// Encodes `img` once for a `cols × rows` cell area; the result is cached by the caller.
    pub fn encode(&self, img: RgbImage, cols: u16, rows: u16) -> Picture {
        match self {
            Graphics::HalfBlocks { truecolor } => Picture::Pixels {
                image: img,
                truecolor: *truecolor,
            },
            Graphics::Protocol(picker) => {
                let area = Rect::new(0, 0, cols, rows);
                match picker.new_protocol(DynamicImage::ImageRgb8(img), area, Resize::Fit(None)) {
                    Ok(p) => Picture::Encoded(Box::new(p)),
                    Err(e) => Picture::Failed(sanitize(&e.to_string())),
                }
            }
        }
    }
}

/// A picture ready to draw: pixels for half-blocks, or an encoded escape sequence.
pub enum Picture {
    Pixels { image: RgbImage, truecolor: bool },
    Encoded(Box<Protocol>),
    Failed(String),
}

impl Widget for &Picture {
    fn render(self, area: Rect, buf: &mut Buffer) {
        match self {
            Picture::Pixels { image, truecolor } => {
                HalfBlocks::new(image, *truecolor).render(area, buf)
            }
            Picture::Encoded(p) => Image::new(p).render(area, buf),
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

fn protocol_name(p: ProtocolType) -> &'static str {
    match p {
        ProtocolType::Halfblocks => "half-blocks",
        ProtocolType::Sixel => "sixel",
        ProtocolType::Kitty => "kitty",
        ProtocolType::Iterm2 => "iterm2",
    }
}

fn env_set(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty())
}

pub fn truecolor_from_env() -> bool {
    std::env::var("COLORTERM")
        .map(|v| {
            let v = v.to_ascii_lowercase();
            v == "truecolor" || v == "24bit"
        })
        .unwrap_or(false)
}

/// NO_COLOR (<https://no-color.org>): any non-empty value.
pub fn no_color_from_env() -> bool {
    env_set("NO_COLOR")
}

fn over_ssh() -> bool {
    env_set("SSH_CONNECTION") || env_set("SSH_CLIENT") || env_set("SSH_TTY")
}

fn in_tmux() -> bool {
    env_set("TMUX")
}

/// Asks the terminal for its graphics protocol and font size. Only with a terminal on both
/// stdin and stdout: the query writes to one and reads the answer from the other.
fn query() -> Result<Picker, String> {
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err("stdin or stdout is not a terminal".into());
    }
    let mut options = ratatui_image::picker::cap_parser::QueryStdioOptions::default();
    options.timeout = QUERY_TIMEOUT;
    Picker::from_query_stdio_with_options(options).map_err(|e| sanitize(&e.to_string()))
}

/// Picks the graphics for `--graphics`. Call in raw mode, before the event loop reads stdin.
pub fn detect(arg: GraphicsArg) -> Graphics {
    let forced = match arg {
        GraphicsArg::Halfblocks => return Graphics::halfblocks(),
        // Over SSH every picture crosses the network; half-blocks are small and always work.
        GraphicsArg::Auto if over_ssh() => return Graphics::halfblocks(),
        GraphicsArg::Auto => None,
        GraphicsArg::Sixel => Some(ProtocolType::Sixel),
        GraphicsArg::Kitty => Some(ProtocolType::Kitty),
        GraphicsArg::Iterm2 => Some(ProtocolType::Iterm2),
    };
    match (query(), forced) {
        (Ok(picker), None) if picker.protocol_type() != ProtocolType::Halfblocks => {
            Graphics::Protocol(Box::new(picker))
        }
        (_, None) => Graphics::halfblocks(),
        (result, Some(protocol)) => {
            // Forced: keep the queried font size when there is one.
            let mut picker = result.unwrap_or_else(|_| Picker::halfblocks());
            picker.set_protocol_type(protocol);
            Graphics::Protocol(Box::new(picker))
        }
    }
}

/// What `featscope doctor` prints about the terminal. Bounded: the query times out, and is
/// skipped when there is no terminal to ask.
pub fn terminal_report(query_terminal: bool) {
    let stdout = std::io::stdout();
    if !stdout.is_terminal() {
        println!("terminal:     stdout is not a TTY");
        return;
    }
    let size = crossterm::terminal::size()
        .map(|(w, h)| format!("{w}×{h}"))
        .unwrap_or_else(|_| "size unknown".into());
    let var = |n: &str| sanitize(&std::env::var(n).unwrap_or_default());
    let colours = if truecolor_from_env() {
        "truecolor"
    } else {
        "256 colours (COLORTERM is not truecolor/24bit)"
    };
    println!("terminal:     {size}, TERM={}, {colours}", var("TERM"));
    let mut notes = Vec::new();
    if in_tmux() {
        notes.push("inside tmux");
    }
    if over_ssh() {
        notes.push("over SSH: --graphics auto uses half-blocks");
    }
    if no_color_from_env() {
        notes.push("NO_COLOR: monochrome chrome");
    }
    if !notes.is_empty() {
        println!("              {}", notes.join("; "));
    }
    if !query_terminal {
        println!("graphics:     not queried (--no-terminal-query)");
        return;
    }
    match query() {
        Ok(picker) => {
            let protocol = picker.protocol_type();
            let verdict = if protocol == ProtocolType::Halfblocks {
                "no graphics protocol reported; half-blocks".to_string()
            } else {
                protocol_name(protocol).to_string()
            };
            // Without a reported cell size the picker falls back to a guess; say so.
            let reported = picker
                .capabilities()
                .iter()
                .any(|c| matches!(c, ratatui_image::picker::Capability::CellSize(Some(_))));
            let (fw, fh) = picker.font_size();
            let font = if reported {
                format!("font {fw}×{fh} px")
            } else {
                "font size not reported".to_string()
            };
            println!("graphics:     {verdict} ({font})");
            if over_ssh() && protocol != ProtocolType::Halfblocks {
                println!("              --graphics auto uses half-blocks over SSH; --graphics {} forces it", protocol_name(protocol));
            }
        }
        Err(e) => println!("graphics:     no answer ({e}); half-blocks"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_encode_once_and_render_into_the_buffer() {
        for protocol in [
            ProtocolType::Sixel,
            ProtocolType::Kitty,
            ProtocolType::Iterm2,
        ] {
            let mut picker = Picker::halfblocks();
            picker.set_protocol_type(protocol);
            let graphics = Graphics::Protocol(Box::new(picker));
            let (fw, fh) = graphics.cell_px();
            let img = RgbImage::from_pixel(4 * fw, 2 * fh, image::Rgb([200, 10, 10]));
            let pic = graphics.encode(img, 4, 2);
            assert!(matches!(pic, Picture::Encoded(_)), "{protocol:?}");
            let mut buf = Buffer::empty(Rect::new(0, 0, 10, 5));
            (&pic).render(Rect::new(1, 1, 4, 2), &mut buf);
            assert!(
                buf.content().iter().any(|c| c.symbol().contains('\x1b')),
                "{protocol:?}: the escape sequence goes into the buffer"
            );
        }
    }
}
