//! The terminal backend: ratatui's changed cells turned into as few bytes as the screen needs.
//!
//! Over SSH every byte is latency, and a layer switch repaints thousands of picture cells. So
//! unlike ratatui's crossterm backend this one sends only the colour that changed (not both),
//! both in one SGR when both change, short relative moves across small gaps, and nothing for
//! `NO_COLOR` to strip: the pictures' colours are data, and the chrome's colours are already
//! left out by the theme when `NO_COLOR` is set.

use super::halfblock::{LOWER_HALF, UPPER_HALF};
use ratatui::backend::{Backend, ClearType, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};
use ratatui::style::{Color, Modifier};
use std::io::{self, Write};
use unicode_width::UnicodeWidthStr;

/// A ratatui backend writing to `out` (stdout in the view, a byte counter in benches).
pub struct Screen<W: Write> {
    out: W,
    /// A fixed size for tests and benches; `None` asks the terminal.
    fixed: Option<Size>,
    cursor: Position,
}

impl<W: Write> Screen<W> {
    pub fn new(out: W) -> Screen<W> {
        Screen {
            out,
            fixed: None,
            cursor: Position::ORIGIN,
        }
    }

    /// A screen of a given size that never asks a terminal (tests, benches).
    pub fn with_size(out: W, width: u16, height: u16) -> Screen<W> {
        Screen {
            fixed: Some(Size::new(width, height)),
            ..Screen::new(out)
        }
    }

    pub fn writer(&self) -> &W {
        &self.out
    }

    pub fn writer_mut(&mut self) -> &mut W {
        &mut self.out
    }
}

/// What the terminal has set, as far as the bytes sent so far tell.
struct Pen {
    fg: Color,
    bg: Color,
    modifier: Modifier,
}

const MODIFIER_CODES: [(Modifier, u8); 9] = [
    (Modifier::BOLD, 1),
    (Modifier::DIM, 2),
    (Modifier::ITALIC, 3),
    (Modifier::UNDERLINED, 4),
    (Modifier::SLOW_BLINK, 5),
    (Modifier::RAPID_BLINK, 6),
    (Modifier::REVERSED, 7),
    (Modifier::HIDDEN, 8),
    (Modifier::CROSSED_OUT, 9),
];

/// Appends `;`-separated SGR parameters for `colour` as foreground (`base` 30) or background
/// (`base` 40).
fn push_colour(sgr: &mut String, colour: Color, base: u8) {
    use std::fmt::Write as _;
    if !sgr.is_empty() {
        sgr.push(';');
    }
    let named = |i: u8| if i < 8 { base + i } else { base + 60 + i - 8 };
    let _ = match colour {
        Color::Reset => write!(sgr, "{}", base + 9),
        Color::Black => write!(sgr, "{}", named(0)),
        Color::Red => write!(sgr, "{}", named(1)),
        Color::Green => write!(sgr, "{}", named(2)),
        Color::Yellow => write!(sgr, "{}", named(3)),
        Color::Blue => write!(sgr, "{}", named(4)),
        Color::Magenta => write!(sgr, "{}", named(5)),
        Color::Cyan => write!(sgr, "{}", named(6)),
        Color::Gray => write!(sgr, "{}", named(7)),
        Color::DarkGray => write!(sgr, "{}", named(8)),
        Color::LightRed => write!(sgr, "{}", named(9)),
        Color::LightGreen => write!(sgr, "{}", named(10)),
        Color::LightYellow => write!(sgr, "{}", named(11)),
        Color::LightBlue => write!(sgr, "{}", named(12)),
        Color::LightMagenta => write!(sgr, "{}", named(13)),
        Color::LightCyan => write!(sgr, "{}", named(14)),
        Color::White => write!(sgr, "{}", named(15)),
        Color::Indexed(i) => write!(sgr, "{};5;{i}", base + 8),
        Color::Rgb(r, g, b) => write!(sgr, "{};2;{r};{g};{b}", base + 8),
    };
}

/// The cheapest way from `from` to `to`: a relative move along the row, or an absolute one.
fn push_move(out: &mut Vec<u8>, from: Option<Position>, to: Position) {
    match from {
        Some(p) if p == to => {}
        Some(p) if p.y == to.y && to.x > p.x => {
            let n = to.x - p.x;
            if n == 1 {
                out.extend_from_slice(b"\x1b[C");
            } else {
                let _ = write!(out, "\x1b[{n}C");
            }
        }
        _ => {
            let _ = write!(out, "\x1b[{};{}H", to.y + 1, to.x + 1);
        }
    }
}

/// A half-block cell the way that costs the fewest colour changes from `pen`: the same two
/// pixels as `▀` (top = fg) or `▄` (top = bg), or a blank when both pixels are one colour.
/// The buffer keeps `▀` everywhere; only the bytes change.
fn cheapest_half_block<'a>(cell: &'a Cell, pen: &Pen) -> (&'a str, Color, Color) {
    let (symbol, top, bottom) = (cell.symbol(), cell.fg, cell.bg);
    if symbol != UPPER_HALF || !cell.modifier.is_empty() {
        return (symbol, top, bottom);
    }
    if top == bottom {
        return (" ", pen.fg, bottom);
    }
    // A default-coloured half (an odd picture's last row) only works as the background.
    if top == Color::Reset || bottom == Color::Reset {
        return (symbol, top, bottom);
    }
    let changes = |fg: Color, bg: Color| (fg != pen.fg) as u8 + (bg != pen.bg) as u8;
    if changes(bottom, top) < changes(top, bottom) {
        (LOWER_HALF, bottom, top)
    } else {
        (symbol, top, bottom)
    }
}

/// The bytes that draw `cells` (in screen order), starting from default colours and leaving
/// them default. Pure, so tests can read exactly what a terminal would get.
pub fn encode_cells<'a>(cells: impl Iterator<Item = (u16, u16, &'a Cell)>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut pen = Pen {
        fg: Color::Reset,
        bg: Color::Reset,
        modifier: Modifier::empty(),
    };
    let mut at: Option<Position> = None;
    let mut sgr = String::new();
    for (x, y, cell) in cells {
        let here = Position::new(x, y);
        push_move(&mut out, at, here);
        sgr.clear();
        let (symbol, fg, bg) = cheapest_half_block(cell, &pen);
        if cell.modifier != pen.modifier {
            // Modifiers have no single "off" each (22 ends both bold and dim): start over.
            sgr.push('0');
            for (m, code) in MODIFIER_CODES {
                if cell.modifier.contains(m) {
                    sgr.push(';');
                    sgr.push_str(&code.to_string());
                }
            }
            pen = Pen {
                fg: Color::Reset,
                bg: Color::Reset,
                modifier: cell.modifier,
            };
        }
        if fg != pen.fg {
            push_colour(&mut sgr, fg, 30);
            pen.fg = fg;
        }
        if bg != pen.bg {
            push_colour(&mut sgr, bg, 40);
            pen.bg = bg;
        }
        if !sgr.is_empty() {
            out.extend_from_slice(b"\x1b[");
            out.extend_from_slice(sgr.as_bytes());
            out.push(b'm');
        }
        out.extend_from_slice(symbol.as_bytes());
        // After an escape sequence (a picture) the terminal's cursor is its own business.
        at = if symbol.contains('\x1b') {
            None
        } else {
            Some(Position::new(x.saturating_add(symbol.width() as u16), y))
        };
    }
    if pen.fg != Color::Reset || pen.bg != Color::Reset || !pen.modifier.is_empty() {
        out.extend_from_slice(b"\x1b[0m");
    }
    out
}

impl<W: Write> Backend for Screen<W> {
    type Error = io::Error;

    fn draw<'a, I>(&mut self, content: I) -> io::Result<()>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        let bytes = encode_cells(content);
        self.out.write_all(&bytes)
    }

    fn hide_cursor(&mut self) -> io::Result<()> {
        self.out.write_all(b"\x1b[?25l")
    }

    fn show_cursor(&mut self) -> io::Result<()> {
        self.out.write_all(b"\x1b[?25h")
    }

    fn get_cursor_position(&mut self) -> io::Result<Position> {
        Ok(self.cursor)
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> io::Result<()> {
        let p = position.into();
        self.cursor = p;
        write!(self.out, "\x1b[{};{}H", p.y + 1, p.x + 1)
    }

    fn clear(&mut self) -> io::Result<()> {
        self.clear_region(ClearType::All)
    }

    fn clear_region(&mut self, clear_type: ClearType) -> io::Result<()> {
        let code: &[u8] = match clear_type {
            ClearType::All => {
                // kitty drops its pictures with the screen: they must be sent again.
                crate::term::kitty::screen_cleared();
                b"\x1b[2J"
            }
            ClearType::AfterCursor => b"\x1b[J",
            ClearType::BeforeCursor => b"\x1b[1J",
            ClearType::CurrentLine => b"\x1b[2K",
            ClearType::UntilNewLine => b"\x1b[K",
        };
        self.out.write_all(code)
    }

    fn size(&self) -> io::Result<Size> {
        match self.fixed {
            Some(size) => Ok(size),
            None => crossterm::terminal::size().map(|(w, h)| Size::new(w, h)),
        }
    }

    fn window_size(&mut self) -> io::Result<WindowSize> {
        let columns_rows = self.size()?;
        let pixels = match self.fixed {
            Some(_) => Size::default(),
            None => crossterm::terminal::window_size()
                .map(|w| Size::new(w.width, w.height))
                .unwrap_or_default(),
        };
        Ok(WindowSize {
            columns_rows,
            pixels,
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(symbol: &'static str, fg: Color, bg: Color) -> Cell {
        let mut c = Cell::new(symbol);
        c.set_fg(fg).set_bg(bg);
        c
    }

    fn encode(cells: &[(u16, u16, Cell)]) -> String {
        String::from_utf8(encode_cells(cells.iter().map(|(x, y, c)| (*x, *y, c)))).expect("utf8")
    }

    #[test]
    fn only_the_colour_that_changed_is_sent() {
        let a = Color::Rgb(1, 2, 3);
        let b = Color::Rgb(4, 5, 6);
        let cells = [
            (0, 0, cell("x", a, b)),
            (1, 0, cell("x", a, a)),
            (2, 0, cell("x", b, a)),
            (3, 0, cell("x", b, a)),
        ];
        assert_eq!(
            encode(&cells),
            "\x1b[1;1H\x1b[38;2;1;2;3;48;2;4;5;6mx\x1b[48;2;1;2;3mx\x1b[38;2;4;5;6mxx\x1b[0m"
        );
    }

    #[test]
    fn half_blocks_flip_or_blank_to_reuse_the_colours_set() {
        let (a, b, c) = (
            Color::Rgb(1, 1, 1),
            Color::Rgb(2, 2, 2),
            Color::Rgb(3, 3, 3),
        );
        let cells = [
            (0, 0, cell(UPPER_HALF, a, b)),
            // b over a is ▄ in the colours already set: nothing to send.
            (1, 0, cell(UPPER_HALF, b, a)),
            // One colour: a blank on the background, whatever the foreground.
            (2, 0, cell(UPPER_HALF, c, c)),
            (3, 0, cell(UPPER_HALF, a, Color::Reset)),
        ];
        assert_eq!(
            encode(&cells),
            "\x1b[1;1H\x1b[38;2;1;1;1;48;2;2;2;2m▀▄\x1b[48;2;3;3;3m \x1b[49m▀\x1b[0m"
        );
    }

    #[test]
    fn gaps_are_crossed_with_short_moves() {
        let cells = [
            (0, 0, Cell::new("a")),
            (1, 0, Cell::new("b")),
            (5, 0, Cell::new("c")),
            (6, 0, Cell::new("d")),
            (2, 3, Cell::new("e")),
        ];
        assert_eq!(encode(&cells), "\x1b[1;1Hab\x1b[3Ccd\x1b[4;3He");
    }

    #[test]
    fn modifiers_and_named_colours() {
        let mut bold = cell("x", Color::Yellow, Color::Reset);
        bold.modifier = Modifier::BOLD | Modifier::REVERSED;
        let cells = [
            (0, 0, bold),
            (1, 0, cell("y", Color::DarkGray, Color::Indexed(42))),
        ];
        assert_eq!(
            encode(&cells),
            "\x1b[1;1H\x1b[0;1;7;33mx\x1b[0;90;48;5;42my\x1b[0m"
        );
    }

    #[test]
    fn after_a_picture_the_next_cell_is_placed_absolutely() {
        let cells = [
            (0, 0, Cell::new("\x1bPq#0~\x1b\\")),
            (1, 0, Cell::new("a")),
            (2, 0, Cell::new("語")),
            (4, 0, Cell::new("b")),
        ];
        assert_eq!(encode(&cells), "\x1b[1;1H\x1bPq#0~\x1b\\\x1b[1;2Ha語b");
    }
}
