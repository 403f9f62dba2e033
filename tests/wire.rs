//! Bytes on the wire per action, on real EfficientNet-Lite0 maps at 200×60 in xterm's 6×13 px
//! cells: over SSH every byte is latency. The budgets sit a little above what the view sends
//! today (README lists the figures; `cargo bench --bench tui` prints them), so a change that
//! sends more fails here.

mod common;

use common::wire::{bytes_per_step, efficientnet, halfblocks, sixel, tour, Step};
use crossterm::event::KeyCode;

fn most(bytes: &[usize], kind: &str) -> usize {
    tour()
        .iter()
        .zip(bytes)
        .filter(|(s, _)| s.name == kind)
        .map(|(_, &b)| b)
        .max()
        .unwrap_or(0)
}

#[test]
fn actions_stay_within_their_byte_budgets() {
    let acts = efficientnet();
    let half = bytes_per_step(&acts, halfblocks(), (200, 60), &tour());
    let six = bytes_per_step(&acts, sixel(), (200, 60), &tour());
    for (name, bytes, switch, zoom, view) in [
        ("half-blocks", &half, 240_000, 100_000, 260_000),
        ("sixel", &six, 580_000, 200_000, 580_000),
    ] {
        assert!(most(bytes, "j") <= switch, "{name} layer switch: {bytes:?}");
        assert!(most(bytes, "zoom") <= zoom, "{name} zoom: {bytes:?}");
        assert!(most(bytes, "s") <= view, "{name} s: {bytes:?}");
    }
}

#[test]
fn nothing_that_did_not_change_is_sent_again() {
    let acts = efficientnet();
    const STILL: &[Step] = &[
        // Next channel: the outline moves; no picture is sent.
        Step {
            name: "l",
            keys: &[KeyCode::Char('l')],
        },
        // A frame with nothing new.
        Step {
            name: "none",
            keys: &[],
        },
    ];
    for graphics in [halfblocks(), sixel()] {
        let bytes = bytes_per_step(&acts, graphics, (200, 60), STILL);
        assert!(bytes[0] < 2_000, "{}: {bytes:?}", graphics.name());
        assert!(bytes[1] < 100, "{}: {bytes:?}", graphics.name());
    }
}
