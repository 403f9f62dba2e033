//! kitty graphics: each picture is sent once as a PNG under its own image id, then placed at
//! the cursor, scaled to its cells. A kitty image floats above the text, so the view deletes a
//! placement when its picture leaves the screen (see `tui::kitty`).

use base64::Engine as _;
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

pub(crate) fn set_sent(id: u32, yes: bool) {
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

/// The marker that starts every placement we write, so that a frame's placements can be found.
pub const PLACE: &str = "\x1b_Ga=p,i=";

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

#[cfg(test)]
mod tests {
    use super::*;

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
        // Until the view has seen it on screen, it is still to be sent.
        assert_eq!(img.sequence(), first);
        set_sent(900_001, true);
        assert_eq!(img.sequence(), place);
        set_sent(900_001, false);
        assert_eq!(img.sequence(), first);
        // A cleared screen has no pictures left either.
        set_sent(900_001, true);
        screen_cleared();
        assert_eq!(img.sequence(), first);
    }
}
