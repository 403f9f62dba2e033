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
pub mod probe;
pub mod sixel;

/// Whether this process is in the foreground of the terminal on stdin. A process in a
/// background group (`cmd &`, `timeout` without `--foreground`) that reads the terminal or
/// changes its modes is stopped by SIGTTIN/SIGTTOU, and would wait for `fg` forever.
pub fn in_foreground() -> bool {
    // SAFETY: tcgetpgrp and getpgrp take no pointers; tcgetpgrp fails (-1) on a non-terminal.
    let (terminal_group, own_group) = unsafe { (libc::tcgetpgrp(0), libc::getpgrp()) };
    terminal_group != -1 && terminal_group == own_group
}

/// Runs `ask` (which writes a query and reads the terminal's answer) with the terminal in raw
/// mode, so the answer is read rather than echoed, and only from the foreground, where reading
/// it cannot stop the process; otherwise says why the terminal was not asked.
pub fn ask_in_raw_mode<T>(ask: impl FnOnce() -> T) -> Result<T, &'static str> {
    if !in_foreground() {
        return Err("running in the background: the terminal is not asked");
    }
    if crossterm::terminal::enable_raw_mode().is_err() {
        return Err("cannot switch the terminal to raw mode");
    }
    let answer = ask();
    let _ = crossterm::terminal::disable_raw_mode();
    Ok(answer)
}
