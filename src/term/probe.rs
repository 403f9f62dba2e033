//! Asking the terminal what it can show. Environment variables do not cross SSH, so the
//! terminal itself is asked, in one write: kitty graphics, cell size in pixels, whether an RGB
//! colour survives (DECRQSS) or RGB is a capability (XTGETTCAP), its name and version
//! (XTVERSION), sixel colour registers (XTSMGRAPHICS), and last the primary device attributes,
//! which every terminal answers, so their answer ends the wait. Inside tmux, tmux answers for
//! itself: that is the point, since only what tmux can draw will show.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

/// kitty graphics: a 1×1 query image that is never stored or shown.
const KITTY_QUERY: &[u8] = b"\x1b_Gi=31,s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\";

/// The other queries, in the order the answers come back; the device attributes go last.
const QUERIES: &[u8] = concat!(
    // Cell size, then text area size, in pixels.
    "\x1b[16t",
    "\x1b[14t",
    // Set an RGB foreground, ask which SGR is in effect, then reset it.
    "\x1b[38;2;1;2;3m\x1bP$qm\x1b\\\x1b[0m",
    // XTGETTCAP RGB and Tc.
    "\x1bP+q524742;5463\x1b\\",
    // XTVERSION.
    "\x1b[>0q",
    // XTSMGRAPHICS: how many sixel colour registers, and the largest sixel picture.
    "\x1b[?1;1;0S",
    "\x1b[?2;1;0S",
    // Primary device attributes.
    "\x1b[c",
)
.as_bytes();

/// The bytes to send. tmux and screen take an APC sequence for a window title, so inside a
/// multiplexer (which draws no kitty graphics anyway) the kitty query is left out.
pub fn query(in_multiplexer: bool) -> Vec<u8> {
    let mut q = Vec::with_capacity(KITTY_QUERY.len() + QUERIES.len());
    if !in_multiplexer {
        q.extend_from_slice(KITTY_QUERY);
    }
    q.extend_from_slice(QUERIES);
    q
}

/// What the terminal answered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Answers {
    /// Primary device attributes (`CSI ? … c`); their arrival ends the query.
    pub attributes: Option<Vec<u16>>,
    /// Cell size in pixels, (width, height).
    pub cell_px: Option<(u16, u16)>,
    /// Text area size in pixels, (width, height).
    pub window_px: Option<(u16, u16)>,
    /// The SGR in effect after setting RGB (1, 2, 3): `Some(true)` when it kept the RGB colour.
    pub rgb_kept: Option<bool>,
    /// XTGETTCAP says RGB or Tc.
    pub rgb_capability: bool,
    /// XTVERSION's answer, e.g. `XTerm(379)` or `tmux 3.3a` (control characters removed).
    pub version: Option<String>,
    /// The kitty graphics query was answered OK.
    pub kitty: bool,
    /// Sixel colour registers (XTSMGRAPHICS).
    pub colour_registers: Option<u16>,
    /// The largest sixel picture in pixels, (width, height) (XTSMGRAPHICS).
    pub sixel_max_px: Option<(u16, u16)>,
}

impl Answers {
    /// The device attributes list 4: sixel graphics.
    pub fn sixel(&self) -> bool {
        self.attributes.as_ref().is_some_and(|a| a.contains(&4))
    }

    pub fn complete(&self) -> bool {
        self.attributes.is_some()
    }
}

fn numbers(params: &[u8]) -> Vec<u16> {
    params
        .split(|&b| b == b';')
        .map(|p| {
            std::str::from_utf8(p)
                .ok()
                .and_then(|s| s.parse::<u16>().ok())
                .unwrap_or(0)
        })
        .collect()
}

/// Reads the answers out of `bytes`; whatever is not an answer (keys the user pressed
/// meanwhile) comes back as the second value, in order.
pub fn parse(bytes: &[u8]) -> (Answers, Vec<u8>) {
    let mut answers = Answers::default();
    let mut other = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != 0x1b || i + 1 >= bytes.len() {
            other.push(bytes[i]);
            i += 1;
            continue;
        }
        match bytes[i + 1] {
            b'[' => {
                // CSI: parameters, intermediates, one final byte.
                let start = i + 2;
                let mut j = start;
                while j < bytes.len() && (0x20..0x40).contains(&bytes[j]) {
                    j += 1;
                }
                if j >= bytes.len() {
                    // Cut short: the rest has not arrived yet.
                    other.extend_from_slice(&bytes[i..]);
                    break;
                }
                csi(&mut answers, &bytes[start..j], bytes[j]);
                i = j + 1;
            }
            kind @ (b'P' | b'_' | b']') => {
                // DCS, APC, OSC: up to ST (or BEL, for OSC).
                let start = i + 2;
                let end = (start..bytes.len()).find(|&j| {
                    bytes[j] == 0x07 || (bytes[j] == 0x1b && bytes.get(j + 1) == Some(&b'\\'))
                });
                let Some(end) = end else {
                    other.extend_from_slice(&bytes[i..]);
                    break;
                };
                let body = &bytes[start..end];
                match kind {
                    b'P' => dcs(&mut answers, body),
                    b'_' => answers.kitty |= body.starts_with(b"G") && contains(body, b";OK"),
                    _ => {}
                }
                i = end + if bytes[end] == 0x07 { 1 } else { 2 };
            }
            _ => {
                other.push(bytes[i]);
                i += 1;
            }
        }
    }
    (answers, other)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn csi(answers: &mut Answers, params: &[u8], last: u8) {
    match (params.first(), last) {
        (Some(b'?'), b'c') => answers.attributes = Some(numbers(&params[1..])),
        (Some(b'?'), b'S') => {
            // `? item ; status ; values S`; status 0 is success.
            match numbers(&params[1..])[..] {
                [1, 0, n, ..] if n > 0 => answers.colour_registers = Some(n),
                [2, 0, w, h, ..] if w > 0 && h > 0 => answers.sixel_max_px = Some((w, h)),
                _ => {}
            }
        }
        (_, b't') => match numbers(params)[..] {
            [6, h, w] if h > 0 && w > 0 => answers.cell_px = Some((w, h)),
            [4, h, w] if h > 0 && w > 0 => answers.window_px = Some((w, h)),
            _ => {}
        },
        _ => {}
    }
}

fn dcs(answers: &mut Answers, body: &[u8]) {
    if let Some(sgr) = body.strip_prefix(b"1$r") {
        // xterm writes `38:2::1:2:3`, others `38:2:1:2:3` or `38;2;1;2;3`.
        let kept = [&b"2::1:2:3"[..], b"2:1:2:3", b"38;2;1;2;3"]
            .iter()
            .any(|form| contains(sgr, form));
        answers.rgb_kept = Some(kept);
    } else if body.starts_with(b"0$r") {
        answers.rgb_kept = Some(false);
    } else if let Some(caps) = body.strip_prefix(b"1+r") {
        answers.rgb_capability |= caps
            .split(|&b| b == b';')
            .any(|cap| cap.starts_with(b"524742") || cap.starts_with(b"5463"));
    } else if let Some(version) = body.strip_prefix(b">|") {
        let text: String = String::from_utf8_lossy(version)
            .chars()
            .filter(|c| !c.is_control())
            .take(80)
            .collect();
        answers.version = Some(text);
    }
}

/// Reads answers from `input` (a terminal in raw mode that was just sent [`query`]) until the
/// device attributes arrive or `timeout` passes; a terminal that has begun to answer gets five
/// times as long to finish, since answers read later by the view would arrive as keys. Returns
/// the answers (`None` when nothing complete came) and the bytes that were not answers.
pub fn read_answers(
    input: BorrowedFd<'_>,
    timeout: Duration,
) -> io::Result<(Option<Answers>, Vec<u8>)> {
    let start = Instant::now();
    let mut deadline = start + timeout;
    let mut received = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let (answers, other) = parse(&received);
            return Ok((answers.complete().then_some(answers), other));
        }
        let mut fds = [libc::pollfd {
            fd: input.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        let millis = left.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
        // SAFETY: one valid pollfd, and its count.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), 1, millis) };
        if ready < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        if ready == 0 {
            continue;
        }
        if fds[0].revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0
            && fds[0].revents & libc::POLLIN == 0
        {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the terminal hung up",
            ));
        }
        // SAFETY: reads at most chunk.len() bytes into chunk.
        let n = unsafe { libc::read(input.as_raw_fd(), chunk.as_mut_ptr().cast(), chunk.len()) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if matches!(
                err.kind(),
                io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
            ) {
                continue;
            }
            return Err(err);
        }
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the terminal hung up",
            ));
        }
        received.extend_from_slice(&chunk[..n as usize]);
        let (answers, other) = parse(&received);
        if answers.complete() {
            return Ok((Some(answers), other));
        }
        if answers != Answers::default() || other.first() == Some(&0x1b) {
            deadline = start + timeout * 5;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xterm_vt340_answers() {
        let reply = b"\x1b[6;13;6t\x1b[4;780;1200t\x1bP1$r0;38:2::1:2:3m\x1b\\\x1bP0+r\x1b\\\
\x1bP>|XTerm(379)\x1b\\\x1b[?1;0;1024S\x1b[?2;0;1000;780S\x1b[?63;1;2;4;6;9;15;16;22;28c";
        let (a, other) = parse(reply);
        assert!(other.is_empty(), "{other:?}");
        assert_eq!(a.cell_px, Some((6, 13)));
        assert_eq!(a.window_px, Some((1200, 780)));
        assert_eq!(a.rgb_kept, Some(true));
        assert!(!a.rgb_capability);
        assert_eq!(a.version.as_deref(), Some("XTerm(379)"));
        assert_eq!(a.colour_registers, Some(1024));
        assert_eq!(a.sixel_max_px, Some((1000, 780)));
        assert!(a.sixel() && !a.kitty && a.complete());
        // Plain xterm fails XTSMGRAPHICS: nothing is taken from it.
        let (a, _) = parse(b"\x1b[?1;3S\x1b[?2;3S\x1b[?64;1;2c");
        assert_eq!((a.colour_registers, a.sixel_max_px), (None, None));
        assert!(!a.sixel());
    }

    #[test]
    fn tmux_answers_for_itself() {
        let (a, _) = parse(b"\x1bP>|tmux 3.3a\x1b\\\x1b[?1;2c");
        assert_eq!(a.version.as_deref(), Some("tmux 3.3a"));
        assert!(!a.sixel());
        assert_eq!(a.rgb_kept, None);
        let (a, _) = parse(b"\x1b[?1;2;4c");
        assert!(a.sixel());
    }

    #[test]
    fn kitty_and_capabilities() {
        let (a, _) =
            parse(b"\x1b_Gi=31;OK\x1b\\\x1bP1+r524742=\x1b\\\x1bP>|kitty(0.26.5)\x1b\\\x1b[?62;c");
        assert!(a.kitty && a.rgb_capability && !a.sixel());
        assert_eq!(a.version.as_deref(), Some("kitty(0.26.5)"));
        assert_eq!(a.attributes, Some(vec![62, 0]));
    }

    #[test]
    fn a_terminal_that_has_begun_to_answer_gets_longer() {
        use std::io::Write;
        use std::os::fd::AsFd;
        let (reader, mut writer) = std::io::pipe().expect("pipe");
        writer.write_all(b"\x1bP>|slow\x1b\\").expect("write");
        let late = std::thread::spawn(move || {
            // After the plain time-out, well before the extended one.
            std::thread::sleep(Duration::from_millis(400));
            writer.write_all(b"\x1b[?1;2c").expect("write");
            writer
        });
        let (answers, _) =
            read_answers(reader.as_fd(), Duration::from_millis(200)).expect("answers");
        let _writer = late.join();
        let answers = answers.expect("complete");
        assert_eq!(answers.version.as_deref(), Some("slow"));
        assert!(answers.complete());
        // Silence is not waited for longer.
        let (reader, _writer) = std::io::pipe().expect("pipe");
        let (answers, other) =
            read_answers(reader.as_fd(), Duration::from_millis(50)).expect("nothing");
        assert!(answers.is_none() && other.is_empty());
    }

    #[test]
    fn no_apc_inside_a_multiplexer() {
        let plain = query(false);
        let muxed = query(true);
        assert!(plain.starts_with(b"\x1b_G"));
        assert!(
            !muxed.windows(2).any(|w| w == b"\x1b_"),
            "tmux would take it for a title"
        );
        assert!(muxed.ends_with(b"\x1b[c") && plain.ends_with(b"\x1b[c"));
    }

    #[test]
    fn keys_typed_meanwhile_are_kept_and_partial_answers_wait() {
        let (a, other) = parse(b"j\x1b[6;20;10tq\x1b[?6");
        assert_eq!(a.cell_px, Some((10, 20)));
        assert!(!a.complete());
        assert_eq!(other, b"jq\x1b[?6");
        // A 256-colour terminal answers with what it made of the RGB colour.
        let (a, _) = parse(b"\x1bP1$r0;38;5;16m\x1b\\\x1bP0$r\x1b\\");
        assert_eq!(a.rgb_kept, Some(false));
        // Control characters in a version string do not survive.
        let (a, _) = parse(b"\x1bP>|evil\x07\x1b]0;x\x1b\\");
        assert!(a.version.is_none_or(|v| !v.contains('\x1b')));
    }
}
