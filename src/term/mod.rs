//! The terminal as a screen for pictures: what it can show (asked, not guessed: [`probe`],
//! [`choice`]), and pictures encoded for it ([`sixel`], [`kitty`], [`iterm2`], half-block
//! [`pixels`] in truecolor or the [`ansi256`] palette). The view, `snapshot --print` and
//! `featscope doctor` share it; nothing here knows about ratatui's screen or about models.

pub mod ansi256;
pub mod cells;
pub mod choice;
pub mod iterm2;
pub mod kitty;
pub mod pixels;
pub mod print;
pub mod probe;
pub mod sixel;
