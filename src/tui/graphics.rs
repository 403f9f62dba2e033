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

/// What the terminal says about itself.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Probe {
    pub protocol: ProtocolType,
    /// Cell size in pixels (a guess when not reported).
    pub font: (u16, u16),
    pub font_reported: bool,
}

/// The hidden `featscope __probe-terminal` runs this: ratatui-image's query on the inherited
/// terminal, the answer on stderr as `protocol width height reported`.
pub fn probe_child() {
    let mut options = ratatui_image::picker::cap_parser::QueryStdioOptions::default();
    options.timeout = QUERY_TIMEOUT;
    if let Ok(picker) = Picker::from_query_stdio_with_options(options) {
        let reported = picker
            .capabilities()
            .iter()
            .any(|c| matches!(c, ratatui_image::picker::Capability::CellSize(Some(_))));
        let (w, h) = picker.font_size();
        eprintln!(
            "{} {w} {h} {}",
            protocol_name(picker.protocol_type()),
            u8::from(reported)
        );
    }
}

/// Asks the terminal for its graphics protocol and font size, in a child process: a terminal
/// that never answers would otherwise leave ratatui-image's reader thread blocked on stdin,
/// where it would eat the user's first key. A child that overstays is killed, reader and all.
fn query() -> Result<Probe, String> {
    use std::io::Read;
    use std::process::{Command, Stdio};
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err("stdin or stdout is not a terminal".into());
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = Command::new(exe)
        .arg("__probe-terminal")
        .stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the terminal probe: {e}"))?;
    let deadline = std::time::Instant::now() + QUERY_TIMEOUT + Duration::from_millis(500);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("the terminal did not answer".into());
            }
        }
    }
    let mut answer = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut answer);
    }
    parse_probe(&answer).ok_or_else(|| "the terminal did not answer".into())
}

fn parse_probe(answer: &str) -> Option<Probe> {
    let mut parts = answer.split_whitespace();
    let protocol = match parts.next()? {
        "sixel" => ProtocolType::Sixel,
        "kitty" => ProtocolType::Kitty,
        "iterm2" => ProtocolType::Iterm2,
        _ => ProtocolType::Halfblocks,
    };
    let w = parts.next()?.parse().ok()?;
    let h = parts.next()?.parse().ok()?;
    let font_reported = parts.next()? == "1";
    Some(Probe {
        protocol,
        font: (w, h),
        font_reported,
    })
}

/// A picker for `protocol` with the probed cell size (tmux is detected from its environment).
#[allow(deprecated)] // `from_fontsize` is the one constructor that takes a known cell size.
fn picker(font: (u16, u16), protocol: ProtocolType) -> Picker {
    let mut picker = Picker::from_fontsize(font);
    picker.set_protocol_type(protocol);
    picker
}

/// Picks the graphics for `--graphics`. Call in raw mode, before the event loop reads stdin.
pub fn detect(arg: GraphicsArg) -> Graphics {
    let forced = match arg {
        GraphicsArg::Halfblocks => return Graphics::halfblocks(),
        GraphicsArg::Auto => None,
        GraphicsArg::Sixel => Some(ProtocolType::Sixel),
        GraphicsArg::Kitty => Some(ProtocolType::Kitty),
        GraphicsArg::Iterm2 => Some(ProtocolType::Iterm2),
    };
    match (query(), forced) {
        (Ok(probe), None) if probe.protocol != ProtocolType::Halfblocks => {
            Graphics::Protocol(Box::new(picker(probe.font, probe.protocol)))
        }
        (_, None) => Graphics::halfblocks(),
        (result, Some(protocol)) => {
            // Forced: keep the queried cell size when there is one.
            let font = result.map(|p| p.font).unwrap_or((10, 20));
            Graphics::Protocol(Box::new(picker(font, protocol)))
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
        notes.push("over SSH: pictures cross the network (half-blocks are the lightest)");
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
        Ok(probe) => {
            let verdict = if probe.protocol == ProtocolType::Halfblocks {
                "no graphics protocol reported; half-blocks".to_string()
            } else {
                protocol_name(probe.protocol).to_string()
            };
            let (fw, fh) = probe.font;
            let font = if probe.font_reported {
                format!("font {fw}×{fh} px")
            } else {
                "font size not reported".to_string()
            };
            println!("graphics:     {verdict} ({font})");
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

#[cfg(test)]
mod probe_tests {
    use super::*;

    #[test]
    fn probe_answers_parse() {
        let p = parse_probe("kitty 9 18 1\n").expect("parses");
        assert_eq!(p.protocol, ProtocolType::Kitty);
        assert_eq!((p.font, p.font_reported), ((9, 18), true));
        let p = parse_probe("half-blocks 10 20 0").expect("parses");
        assert_eq!(p.protocol, ProtocolType::Halfblocks);
        assert!(!p.font_reported);
        assert!(parse_probe("").is_none());
        assert!(parse_probe("sixel x 20 1").is_none());
    }
}
