//! kitty pictures float above the text: after each frame, placements whose picture left the
//! screen (or that text now covers in part) are deleted.

use crate::term::kitty::{set_sent, PLACE};
use ratatui::buffer::{Buffer, CellDiffOption};
use std::collections::HashSet;
use std::fmt::Write as _;

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
