//! What the terminal can show, and the choice made from it: half-blocks (everywhere, truecolor
//! or dithered 256 colours), sixel, kitty or iTerm2. The choice is made from what the terminal
//! answers to [`probe::query`], so it holds over SSH and inside tmux; the view, `snapshot
//! --print` and `featscope doctor` all make it here, the same way.

use super::pixels::Colours;
use super::probe::{self, Answers};
use crate::text::sanitize;
use std::io::{IsTerminal, Write};
use std::time::Duration;

/// How long the terminal gets to answer. Terminals answer the device attributes at once; this
/// bounds the wait for one that answers nothing at all, and a slow SSH link.
pub const QUERY_TIMEOUT: Duration = Duration::from_millis(1000);

/// [`QUERY_TIMEOUT`], or `FEATSCOPE_QUERY_TIMEOUT_MS` for links slower than a second.
pub fn query_timeout() -> Duration {
    std::env::var("FEATSCOPE_QUERY_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_millis)
        .unwrap_or(QUERY_TIMEOUT)
}

/// What the user asked for with `--graphics`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    Auto,
    HalfBlocks,
    Sixel,
    Kitty,
    Iterm2,
}

/// The terminal's cell size in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CellSize {
    pub width: u16,
    pub height: u16,
    /// Reported by the terminal (else the usual 1:2 guess).
    pub measured: bool,
}

impl CellSize {
    pub const GUESS: CellSize = CellSize {
        width: 10,
        height: 20,
        measured: false,
    };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    HalfBlocks(Colours),
    /// Sixel with this many colour registers, and pictures of at most `max_px` pixels (a
    /// larger one is dropped whole by xterm).
    Sixel {
        registers: u16,
        max_px: (u16, u16),
    },
    Kitty,
    Iterm2,
}

/// How pictures are drawn, and the cell geometry they are drawn into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Graphics {
    pub protocol: Protocol,
    pub cell: CellSize,
}

impl Graphics {
    pub fn halfblocks(colours: Colours) -> Graphics {
        Graphics {
            protocol: Protocol::HalfBlocks(colours),
            cell: CellSize::GUESS,
        }
    }

    pub fn name(&self) -> &'static str {
        match self.protocol {
            Protocol::HalfBlocks(Colours::True) => "half-blocks",
            Protocol::HalfBlocks(Colours::Palette256) => "half-blocks (256 colours)",
            Protocol::Sixel { .. } => "sixel",
            Protocol::Kitty => "kitty",
            Protocol::Iterm2 => "iterm2",
        }
    }

    pub fn is_halfblocks(&self) -> bool {
        matches!(self.protocol, Protocol::HalfBlocks(_))
    }

    /// Picture pixels per terminal cell, (width, height).
    pub fn cell_px(&self) -> (u32, u32) {
        match self.protocol {
            Protocol::HalfBlocks(_) => (1, 2),
            _ => (
                self.cell.width.max(1) as u32,
                self.cell.height.max(1) as u32,
            ),
        }
    }

    /// How many times taller than wide one picture pixel looks on screen.
    pub fn pixel_aspect(&self) -> f64 {
        let (pw, ph) = self.cell_px();
        let cell = self.cell.height.max(1) as f64 / self.cell.width.max(1) as f64;
        cell * pw as f64 / ph as f64
    }

    /// The largest picture, in cells, that the protocol can draw inside `cols × rows`.
    pub fn clamp_cells(&self, cols: u16, rows: u16) -> (u16, u16) {
        match self.protocol {
            Protocol::Sixel { max_px, .. } => {
                let (fw, fh) = self.cell_px();
                (
                    cols.min((max_px.0 as u32 / fw).max(1) as u16),
                    rows.min((max_px.1 as u32 / fh).max(1) as u16),
                )
            }
            _ => (cols, rows),
        }
    }
}

fn env_set(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty())
}

/// NO_COLOR (<https://no-color.org>): any non-empty value.
pub fn no_color_from_env() -> bool {
    env_set("NO_COLOR")
}

/// What the environment says. It may be stale or missing (SSH forwards none of it), so it only
/// ever adds to what the terminal answers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Environment {
    pub term: String,
    /// `COLORTERM` is `truecolor` or `24bit`.
    pub colorterm_truecolor: bool,
    pub ssh: bool,
    pub tmux: Option<Tmux>,
}

/// What tmux says about itself and the terminal it runs in (read-only queries).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tmux {
    pub version: String,
    /// `#{client_termfeatures}`: `RGB` means tmux passes truecolor on.
    pub features: String,
}

impl Tmux {
    pub fn rgb(&self) -> bool {
        self.features.split(',').any(|f| f == "RGB")
    }

    pub fn sixel_feature(&self) -> bool {
        self.features.split(',').any(|f| f == "sixel")
    }
}

/// `COLORTERM` is `truecolor` or `24bit`.
pub fn colorterm_truecolor() -> bool {
    let colorterm = std::env::var("COLORTERM")
        .unwrap_or_default()
        .to_ascii_lowercase();
    colorterm == "truecolor" || colorterm == "24bit"
}

impl Environment {
    /// The environment, and tmux's answers when inside tmux.
    pub fn read() -> Environment {
        Environment {
            term: sanitize(&std::env::var("TERM").unwrap_or_default()),
            colorterm_truecolor: colorterm_truecolor(),
            ssh: env_set("SSH_CONNECTION") || env_set("SSH_CLIENT") || env_set("SSH_TTY"),
            tmux: env_set("TMUX").then(ask_tmux),
        }
    }
}

/// `tmux display -p`, bounded: reads tmux's version and the client terminal's features. Never
/// sets anything.
fn ask_tmux() -> Tmux {
    use std::process::{Command, Stdio};
    let child = Command::new("tmux")
        .args(["display-message", "-p", "#{version}|#{client_termfeatures}"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        return Tmux::default();
    };
    let deadline = std::time::Instant::now() + Duration::from_millis(500);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Tmux::default();
            }
        }
    }
    let mut out = String::new();
    if let Some(stdout) = child.stdout.take() {
        use std::io::Read;
        let _ = stdout.take(4096).read_to_string(&mut out);
    }
    let (version, features) = out.trim().split_once('|').unwrap_or(("", ""));
    Tmux {
        version: sanitize(version),
        features: sanitize(features),
    }
}

/// Everything known about the terminal when the choice is made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Facts {
    pub env: Environment,
    /// The answers, or why there are none.
    pub answers: Result<Answers, String>,
    /// The text area in pixels from the pty (`TIOCGWINSZ`), and in cells.
    pub window_px: Option<(u16, u16)>,
    pub window_cells: (u16, u16),
}

impl Default for Facts {
    fn default() -> Facts {
        Facts {
            env: Environment::default(),
            answers: Err("not asked".into()),
            window_px: None,
            window_cells: (0, 0),
        }
    }
}

/// Inside tmux or GNU screen (their own variables, or what `TERM` says).
fn in_multiplexer() -> bool {
    let term = std::env::var("TERM").unwrap_or_default();
    env_set("TMUX") || env_set("STY") || term.starts_with("tmux") || term.starts_with("screen")
}

/// Sends [`probe::query`] to the terminal on stdout. Call in raw mode; then read the answers
/// with [`collect`] before anything else reads stdin.
pub fn send_query() -> std::io::Result<()> {
    let mut out = std::io::stdout();
    out.write_all(&probe::query(in_multiplexer()))?;
    out.flush()
}

/// Reads the terminal's answers (bounded by [`query_timeout`]) and the rest of the facts.
/// Returns the facts and the bytes that were not answers (keys typed meanwhile).
pub fn collect() -> (Facts, Vec<u8>) {
    let stdin = std::io::stdin();
    let (answers, other) = if !stdin.is_terminal() {
        (Err("stdin is not a terminal".to_string()), Vec::new())
    } else {
        use std::os::fd::AsFd;
        let timeout = query_timeout();
        match probe::read_answers(stdin.as_fd(), timeout) {
            Ok((Some(a), other)) => (Ok(a), other),
            Ok((None, other)) => (
                Err(format!("no answer within {} ms", timeout.as_millis())),
                other,
            ),
            Err(e) => (Err(format!("cannot read the answer: {e}")), Vec::new()),
        }
    };
    let size = crossterm::terminal::window_size().ok();
    let facts = Facts {
        env: Environment::read(),
        answers,
        window_px: size
            .as_ref()
            .map(|s| (s.width, s.height))
            .filter(|&(w, h)| w > 0 && h > 0),
        window_cells: size.map(|s| (s.columns, s.rows)).unwrap_or((0, 0)),
    };
    (facts, other)
}

/// The choice, and what it rests on, for `featscope doctor`.
#[derive(Clone, Debug, PartialEq)]
pub struct Choice {
    pub graphics: Graphics,
    /// Why this protocol and these colours.
    pub why: Vec<String>,
    /// What the user could change to get more (never done for them).
    pub hints: Vec<String>,
}

fn cell_size(facts: &Facts) -> (CellSize, String) {
    let answered = facts.answers.as_ref().ok();
    let from_window = |px: (u16, u16), cells: (u16, u16)| {
        (cells.0 > 0 && cells.1 > 0 && px.0 >= cells.0 && px.1 >= cells.1)
            .then(|| (px.0 / cells.0, px.1 / cells.1))
    };
    let (w, h, source) = if let Some((w, h)) = answered.and_then(|a| a.cell_px) {
        (w, h, "reported by the terminal")
    } else if let Some((w, h)) = answered
        .and_then(|a| a.window_px)
        .and_then(|px| from_window(px, facts.window_cells))
    {
        (w, h, "from the terminal's size in pixels")
    } else if let Some((w, h)) = facts
        .window_px
        .and_then(|px| from_window(px, facts.window_cells))
    {
        (w, h, "from the pty's size in pixels")
    } else {
        let g = CellSize::GUESS;
        return (
            g,
            format!("cell {}×{} px (a guess: not reported)", g.width, g.height),
        );
    };
    (
        CellSize {
            width: w,
            height: h,
            measured: true,
        },
        format!("cell {w}×{h} px ({source})"),
    )
}

/// The colours half-blocks are drawn in, and why (into `why` and `hints`).
fn half_block_colours(facts: &Facts, why: &mut Vec<String>, hints: &mut Vec<String>) -> Colours {
    let answers = facts.answers.as_ref().ok();
    let tmux = facts.env.tmux.as_ref();
    if let Some(t) = tmux.filter(|t| !t.version.is_empty() || !t.features.is_empty()) {
        if t.rgb() {
            why.push(
                "truecolor: tmux passes RGB colours to this terminal (client feature RGB)".into(),
            );
            Colours::True
        } else {
            why.push("256 colours: tmux does not pass RGB colours to this terminal".into());
            if answers.is_some_and(|a| a.rgb_kept == Some(true) || a.rgb_capability)
                || facts.env.colorterm_truecolor
            {
                hints.push("if the terminal outside tmux has truecolor, tell tmux: set -as terminal-features ',*:RGB'".into());
            } else {
                hints.push("if the terminal outside tmux has truecolor, `set -as terminal-features ',*:RGB'` in tmux passes it on".into());
            }
            Colours::Palette256
        }
    } else if answers.is_some_and(|a| a.rgb_kept == Some(true)) {
        why.push("truecolor: the terminal kept an RGB colour (DECRQSS)".into());
        Colours::True
    } else if answers.is_some_and(|a| a.rgb_capability) {
        why.push("truecolor: the terminal lists RGB (XTGETTCAP)".into());
        Colours::True
    } else if facts.env.colorterm_truecolor {
        why.push("truecolor: COLORTERM says so".into());
        Colours::True
    } else {
        why.push(
            "256 colours: the terminal did not confirm RGB colours and COLORTERM is not truecolor"
                .into(),
        );
        hints.push(
            "COLORTERM=truecolor featscope … forces truecolor if your terminal has it".into(),
        );
        Colours::Palette256
    }
}

/// Picks how to draw, from what is known. Pure: tests feed it each terminal's answers.
pub fn choose(request: Request, facts: &Facts) -> Choice {
    let mut why: Vec<String> = Vec::new();
    let mut hints: Vec<String> = Vec::new();
    let answers = facts.answers.as_ref().ok();
    let tmux = facts.env.tmux.as_ref();
    let version = answers.and_then(|a| a.version.clone());

    let colours = half_block_colours(facts, &mut why, &mut hints);

    let (cell, cell_why) = cell_size(facts);
    let registers = answers
        .and_then(|a| a.colour_registers)
        .unwrap_or(256)
        .clamp(2, 256);
    // xterm's default limit; a terminal that says nothing gets the same care.
    let max_px = answers.and_then(|a| a.sixel_max_px).unwrap_or((1000, 1000));
    let protocol = match request {
        Request::HalfBlocks => {
            why.insert(
                0,
                "half-blocks: asked for with --graphics halfblocks".into(),
            );
            Protocol::HalfBlocks(colours)
        }
        Request::Sixel => {
            why.insert(0, "sixel: asked for with --graphics sixel".into());
            Protocol::Sixel { registers, max_px }
        }
        Request::Kitty => {
            why.insert(0, "kitty: asked for with --graphics kitty".into());
            Protocol::Kitty
        }
        Request::Iterm2 => {
            why.insert(0, "iterm2: asked for with --graphics iterm2".into());
            Protocol::Iterm2
        }
        Request::Auto => {
            match answers {
                None => {
                    let reason = facts.answers.as_ref().err().cloned().unwrap_or_default();
                    why.insert(0, format!("half-blocks: the terminal did not answer the graphics query ({reason})"));
                    Protocol::HalfBlocks(colours)
                }
                Some(a) if a.kitty => {
                    why.insert(
                        0,
                        "kitty: the terminal answered the kitty graphics query".into(),
                    );
                    Protocol::Kitty
                }
                Some(a)
                    if version
                        .as_deref()
                        .is_some_and(|v| v.starts_with("iTerm2") || v.starts_with("WezTerm")) =>
                {
                    let _ = a;
                    why.insert(
                        0,
                        format!(
                            "iterm2: {} draws iTerm2 inline images",
                            version.clone().unwrap_or_default()
                        ),
                    );
                    Protocol::Iterm2
                }
                Some(a) if a.sixel() && tmux.is_none_or(Tmux::sixel_feature) => {
                    let who = if tmux.is_some() {
                        "tmux"
                    } else {
                        "the terminal"
                    };
                    why.insert(0, format!("sixel: {who} reports sixel graphics (device attribute 4), {registers} colour registers"));
                    Protocol::Sixel { registers, max_px }
                }
                Some(a) => {
                    if let Some(t) = tmux {
                        let v = if t.version.is_empty() {
                            "tmux".to_string()
                        } else {
                            format!("tmux {}", t.version)
                        };
                        if a.sixel() {
                            why.insert(0, format!("half-blocks: {v} has sixel, but the terminal it runs in does not (no sixel in tmux's client features)"));
                        } else {
                            why.insert(0, format!("half-blocks: {v} draws no graphics itself (no sixel in its device attributes)"));
                        }
                        hints.push("tmux 3.4 or newer built with sixel support shows sixel pictures; featscope never turns on tmux's allow-passthrough".into());
                    } else {
                        why.insert(
                            0,
                            "half-blocks: the terminal reports no sixel, kitty or iTerm2 graphics"
                                .into(),
                        );
                    }
                    Protocol::HalfBlocks(colours)
                }
            }
        }
    };
    if !matches!(protocol, Protocol::HalfBlocks(_)) {
        // The colour line only concerns half-blocks.
        why.retain(|l| !l.starts_with("truecolor") && !l.starts_with("256 colours"));
        hints.retain(|h| !h.contains("truecolor"));
    }
    why.push(cell_why);
    if facts.env.ssh {
        why.push("over SSH: answers came from the terminal at the other end".into());
    }
    Choice {
        graphics: Graphics { protocol, cell },
        why,
        hints,
    }
}

/// The lines `featscope doctor` prints about the terminal: the choice the view would make, and
/// why.
/// Bounded: the query times out, and is skipped when there is no terminal to ask.
pub fn report(query_terminal: bool) -> Vec<String> {
    let mut lines = Vec::new();
    let stdout = std::io::stdout();
    if !stdout.is_terminal() {
        lines.push("terminal:     stdout is not a TTY".to_string());
        return lines;
    }
    let facts = if query_terminal {
        ask_outside_the_view()
    } else {
        Facts {
            env: Environment::read(),
            answers: Err("not asked (--no-terminal-query)".into()),
            ..Facts::default()
        }
    };
    let env = &facts.env;
    let size = crossterm::terminal::size()
        .map(|(w, h)| format!("{w}×{h}"))
        .unwrap_or_else(|_| "size unknown".into());
    let mut notes = vec![format!("{size}, TERM={}", env.term)];
    if let Some(t) = &env.tmux {
        notes.push(format!("inside tmux {}", t.version));
    }
    if env.ssh {
        notes.push("over SSH".into());
    }
    if no_color_from_env() {
        notes.push("NO_COLOR: monochrome chrome, pictures in colour".into());
    }
    lines.push(format!("terminal:     {}", notes.join("; ")));
    if let Ok(a) = &facts.answers {
        if let Some(v) = &a.version {
            lines.push(format!("              answers as {v}"));
        }
    }
    let choice = choose(Request::Auto, &facts);
    lines.push(format!("pictures:     {}", choice.graphics.name()));
    for line in &choice.why {
        lines.push(format!("  because     {line}"));
    }
    for hint in &choice.hints {
        lines.push(format!("  hint        {hint}"));
    }
    lines
}

/// Asks the terminal from a plain command (not the view): raw mode just for the query. Only
/// when both ends are the terminal: answers nobody reads would land in the shell.
pub fn ask_outside_the_view() -> Facts {
    let unasked = |reason: &str| Facts {
        env: Environment::read(),
        answers: Err(reason.into()),
        ..Facts::default()
    };
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return unasked("stdin or stdout is not a terminal");
    }
    let asked = super::ask_in_raw_mode(|| {
        let sent = send_query();
        (sent, collect().0)
    });
    match asked {
        Err(reason) => unasked(reason),
        Ok((Err(e), mut facts)) => {
            facts.answers = Err(format!("cannot send the query: {e}"));
            facts
        }
        Ok((Ok(()), facts)) => facts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers(reply: &[u8]) -> Result<Answers, String> {
        let (a, _) = probe::parse(reply);
        assert!(a.complete());
        Ok(a)
    }

    fn facts(reply: &[u8], tmux: Option<&str>) -> Facts {
        Facts {
            env: Environment {
                term: "xterm".into(),
                colorterm_truecolor: false,
                ssh: false,
                tmux: tmux.map(|features| Tmux {
                    version: "3.3a".into(),
                    features: features.into(),
                }),
            },
            answers: answers(reply),
            window_px: None,
            window_cells: (200, 60),
        }
    }

    const VT340: &[u8] = b"\x1bP1$r0;38:2::1:2:3m\x1b\\\x1bP>|XTerm(379)\x1b\\\x1b[?1;0;1024S\x1b[?2;0;1000;780S\x1b[?63;1;2;4;6;9;15;16;22;28c";
    const XTERM: &[u8] = b"\x1bP1$r0;38:2::1:2:3m\x1b\\\x1bP>|XTerm(379)\x1b\\\x1b[?64;1;2;6;9;15;16;17;18;21;22;28c";
    const TMUX: &[u8] = b"\x1bP>|tmux 3.3a\x1b\\\x1b[?1;2c";

    #[test]
    fn xterm_vt340_gets_sixel_with_its_cell_size() {
        let mut f = facts(VT340, None);
        // xterm answers no cell-size query by default; the pty has the pixels (with borders).
        f.window_px = Some((1204, 784));
        let c = choose(Request::Auto, &f);
        assert_eq!(
            c.graphics.protocol,
            Protocol::Sixel {
                registers: 256,
                max_px: (1000, 780)
            }
        );
        assert_eq!((c.graphics.cell.width, c.graphics.cell.height), (6, 13));
        assert!(c.graphics.cell.measured);
        assert!(c.why[0].starts_with("sixel"), "{:?}", c.why);
    }

    #[test]
    fn plain_xterm_gets_truecolor_half_blocks_without_colorterm() {
        let c = choose(Request::Auto, &facts(XTERM, None));
        assert_eq!(c.graphics.protocol, Protocol::HalfBlocks(Colours::True));
        assert!(c.why.iter().any(|l| l.contains("DECRQSS")), "{:?}", c.why);
        // No cell size reported, none from the pty: the usual guess.
        assert!(!c.graphics.cell.measured);
    }

    #[test]
    fn inside_tmux_only_what_tmux_draws_counts() {
        let c = choose(Request::Auto, &facts(TMUX, Some("bpaste,focus,title")));
        assert_eq!(
            c.graphics.protocol,
            Protocol::HalfBlocks(Colours::Palette256)
        );
        assert!(c.why[0].contains("tmux 3.3a"), "{:?}", c.why);
        assert!(c.hints.iter().any(|h| h.contains("allow-passthrough")));
        let c = choose(Request::Auto, &facts(TMUX, Some("256,RGB,title")));
        assert_eq!(c.graphics.protocol, Protocol::HalfBlocks(Colours::True));
        let c = choose(
            Request::Auto,
            &facts(b"\x1bP>|tmux 3.5a\x1b\\\x1b[?1;2;4c", Some("RGB,sixel")),
        );
        assert!(matches!(c.graphics.protocol, Protocol::Sixel { .. }));
    }

    #[test]
    fn no_answer_means_half_blocks_and_says_so() {
        let mut f = facts(XTERM, None);
        f.answers = Err("no answer within 1000 ms".into());
        f.env.colorterm_truecolor = true;
        let c = choose(Request::Auto, &f);
        assert_eq!(c.graphics.protocol, Protocol::HalfBlocks(Colours::True));
        assert!(c.why[0].contains("no answer"), "{:?}", c.why);
        // Forced protocols stay forced.
        let c = choose(Request::Sixel, &f);
        assert!(matches!(c.graphics.protocol, Protocol::Sixel { .. }));
    }

    #[test]
    fn kitty_with_its_reported_cell_size() {
        let f = facts(
            b"\x1b_Gi=31;OK\x1b\\\x1b[6;17;8t\x1bP1$r38:2:1:2:3m\x1b\\\x1bP>|kitty(0.26.5)\x1b\\\x1b[?62;c",
            None,
        );
        let c = choose(Request::Auto, &f);
        assert_eq!(c.graphics.protocol, Protocol::Kitty);
        assert_eq!((c.graphics.cell.width, c.graphics.cell.height), (8, 17));
        // Without a reported size, the pty's pixels divided by its cells.
        let mut f = facts(b"\x1b[?62;c", None);
        f.window_px = Some((1400, 900));
        let c = choose(Request::Auto, &f);
        assert!(c.graphics.is_halfblocks());
        assert_eq!((c.graphics.cell.width, c.graphics.cell.height), (7, 15));
    }
}
