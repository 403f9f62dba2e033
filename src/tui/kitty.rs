//! kitty graphics: each picture is sent once as a PNG under its own image id, then placed at
//! the cursor, scaled to its cells. A kitty image floats above the text, so when a picture
//! leaves the screen (or text covers part of it) its placement must be deleted: the event loop
//! calls [`Placements::update`] after each frame with what the frame holds.

use base64::Engine as _;
use ratatui::buffer::{Buffer, CellDiffOption};
use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::Mutex;

/// Escape-code payloads are sent in chunks of at most this many base64 bytes.
const CHUNK: usize = 4096;

/// Image ids whose data the terminal holds.
static SENT: Mutex<Option<HashSet<u32>>> = Mutex::new(None);

fn sent(id: u32) -> bool {
    SENT.lock()
        .map(|s| s.as_ref().is_some_and(|s| s.contains(&id)))
        .unwrap_or(false)
}

fn set_sent(id: u32, yes: bool) {
    if let Ok(mut s) = SENT.lock() {
        let s = s.get_or_insert_with(HashSet::new);
        if yes {
            s.insert(id);
        } else {
            s.remove(&id);
        }
    }
}

/// The screen was cleared: kitty drops every picture with it, data included.
pub fn screen_cleared() {
    if let Ok(mut s) = SENT.lock() {
        *s = None;
    }
}

/// A picture for kitty: its PNG (as the transmit command) and its placement.
pub struct KittyImage {
    pub id: u32,
    transmit: String,
    place: String,
}

/// The marker that starts every placement we write, and lets [`placements`] find them.
const PLACE: &str = "\x1b_Ga=p,i=";

impl KittyImage {
    /// `png` shown over `cols × rows` cells.
    pub fn new(id: u32, png: &[u8], cols: u16, rows: u16) -> KittyImage {
        let data = base64::engine::general_purpose::STANDARD.encode(png);
        let mut transmit = String::with_capacity(data.len() + data.len() / CHUNK * 16 + 64);
        let chunks: Vec<&str> = data
            .as_bytes()
            .chunks(CHUNK)
            .map(|c| std::str::from_utf8(c).unwrap_or(""))
            .collect();
        for (k, chunk) in chunks.iter().enumerate() {
            let more = u8::from(k + 1 < chunks.len());
            if k == 0 {
                // q=2: no replies, which would arrive on stdin as keys.
                let _ = write!(
                    transmit,
                    "\x1b_Ga=t,f=100,t=d,i={id},q=2,m={more};{chunk}\x1b\\"
                );
            } else {
                let _ = write!(transmit, "\x1b_Gm={more},q=2;{chunk}\x1b\\");
            }
        }
        // C=1: the cursor stays, so the next cell is where ratatui thinks it is.
        let place = format!("{PLACE}{id},p=1,c={cols},r={rows},C=1,q=2\x1b\\");
        KittyImage {
            id,
            transmit,
            place,
        }
    }

    /// The escape sequence for its first cell: the data until the terminal has it (see
    /// [`Placements::update`]), then the placement alone.
    pub fn sequence(&self) -> String {
        if sent(self.id) {
            self.place.clone()
        } else {
            format!("{}{}", self.transmit, self.place)
        }
    }
}

/// A picture in a drawn frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shown {
    pub id: u32,
    /// All of its cells are still its own (no text drawn over part of it).
    pub whole: bool,
    /// Its cell carries the image data too.
    pub with_data: bool,
}

/// The kitty pictures in a drawn frame.
pub fn placements(buf: &Buffer) -> Vec<Shown> {
    let mut found = Vec::new();
    let area = buf.area;
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            let symbol = buf[(x, y)].symbol();
            let Some(at) = symbol.find(PLACE) else {
                continue;
            };
            let args = &symbol[at + PLACE.len()..];
            let number = |key: &str| -> Option<u32> {
                let start = args.find(key)? + key.len();
                args[start..]
                    .split(|c: char| !c.is_ascii_digit())
                    .next()?
                    .parse()
                    .ok()
            };
            let (Some(id), Some(cols), Some(rows)) = (
                args.split(',').next().and_then(|s| s.parse().ok()),
                number(",c="),
                number(",r="),
            ) else {
                continue;
            };
            let whole = (0..rows as u16).all(|dy| {
                (0..cols as u16).all(|dx| {
                    (dx == 0 && dy == 0)
                        || buf
                            .cell((x + dx, y + dy))
                            .is_some_and(|c| c.diff_option == CellDiffOption::Skip)
                })
            });
            found.push(Shown {
                id,
                whole,
                with_data: symbol.contains("a=t,"),
            });
        }
    }
    found
}

/// What was on screen after the last frame.
#[derive(Default)]
pub struct Placements {
    present: HashSet<u32>,
}

impl Placements {
    /// The commands that make the screen match `now` (from [`placements`]): pictures gone from
    /// the frame are deleted with their data; pictures partly covered by text lose their
    /// placement until the next full redraw. A cell on screen has reached the terminal (in
    /// this frame or an earlier one with the same content), so data in it counts as sent; a
    /// picture drawn and then covered in the same frame never did.
    pub fn update(&mut self, now: &[Shown]) -> String {
        let mut out = String::new();
        let present: HashSet<u32> = now.iter().map(|s| s.id).collect();
        for &id in self.present.difference(&present) {
            let _ = write!(out, "\x1b_Ga=d,d=I,i={id},q=2\x1b\\");
            set_sent(id, false);
        }
        for s in now {
            if s.with_data {
                set_sent(s.id, true);
            }
            if !s.whole {
                let _ = write!(out, "\x1b_Ga=d,d=i,i={},q=2\x1b\\", s.id);
            }
        }
        self.present = present;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::layout::Rect;

    #[test]
    fn sent_once_on_screen_then_only_placed() {
        let png = vec![7u8; 5000];
        let img = KittyImage::new(900_001, &png, 4, 2);
        let first = img.sequence();
        assert!(first.starts_with("\x1b_Ga=t,f=100,t=d,i=900001,q=2,m=1;"));
        // 5000 bytes are 6668 base64 characters: two chunks.
        assert_eq!(first.matches("\x1b_G").count(), 3);
        let place = "\x1b_Ga=p,i=900001,p=1,c=4,r=2,C=1,q=2\x1b\\";
        assert!(first.ends_with(place));
        // Drawn but covered before it reached the screen: still to be sent.
        assert_eq!(img.sequence(), first);
        let mut state = Placements::default();
        let shown = Shown {
            id: 900_001,
            whole: true,
            with_data: true,
        };
        assert_eq!(state.update(&[shown]), "");
        assert_eq!(img.sequence(), place);
        // Gone from the screen: deleted with its data, and sent again next time.
        assert_eq!(state.update(&[]), "\x1b_Ga=d,d=I,i=900001,q=2\x1b\\");
        assert_eq!(img.sequence(), first);
        // A cleared screen has no pictures left either.
        state.update(&[shown]);
        screen_cleared();
        assert_eq!(img.sequence(), first);
    }

    #[test]
    fn pictures_that_leave_or_get_covered_are_deleted() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 10, 4));
        let mark = |buf: &mut Buffer, x: u16, id: u32| {
            for dy in 0..2 {
                for dx in 0..3 {
                    buf[(x + dx, dy)].set_diff_option(CellDiffOption::Skip);
                }
            }
            buf[(x, 0)].set_symbol(&format!("{PLACE}{id},p=1,c=3,r=2,C=1,q=2\x1b\\"));
        };
        mark(&mut buf, 0, 800_001);
        mark(&mut buf, 5, 800_002);
        let mut state = Placements::default();
        let now = placements(&buf);
        let shown = |id, whole| Shown {
            id,
            whole,
            with_data: false,
        };
        assert_eq!(now, vec![shown(800_001, true), shown(800_002, true)]);
        assert_eq!(state.update(&now), "");
        // Text over part of the second; the first gone.
        let mut next = Buffer::empty(Rect::new(0, 0, 10, 4));
        mark(&mut next, 5, 800_002);
        next[(6, 1)].reset();
        next[(6, 1)].set_symbol("x");
        let now = placements(&next);
        assert_eq!(now, vec![shown(800_002, false)]);
        assert_eq!(
            state.update(&now),
            "\x1b_Ga=d,d=I,i=800001,q=2\x1b\\\x1b_Ga=d,d=i,i=800002,q=2\x1b\\"
        );
    }
}
