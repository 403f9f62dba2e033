//! The view in real terminal emulators under Xvfb, checked on screenshots: xterm as a VT340
//! (sixel), plain xterm (truecolor half-blocks), and kitty (kitty graphics) when it is
//! installed. A buffer test is not proof of what a terminal shows; these are.
//!
//! A screenshot is read as a grid of cells: a cell is "picture" when most of its pixels are
//! viridis colours (the chrome has none). Tiles sit a cell apart, so each tile, and the sum, is
//! one connected group of picture cells.
//!
//! Needs `Xvfb`, `xterm`, `xdotool` and ImageMagick's `import` (Debian: xvfb, xterm, xdotool,
//! imagemagick); skipped without them unless FEATSCOPE_REQUIRE_XTERM=1 (CI) makes that a
//! failure. kitty runs with software GL when present.

use image::RgbImage;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn tools_present(test: &str, tools: &[&str]) -> bool {
    let missing: Vec<&&str> = tools.iter().filter(|t| !have(t)).collect();
    if missing.is_empty() {
        return true;
    }
    if std::env::var("FEATSCOPE_REQUIRE_XTERM").as_deref() == Ok("1") {
        panic!("{test}: {missing:?} not installed, and FEATSCOPE_REQUIRE_XTERM=1");
    }
    eprintln!("skipping {test}: {missing:?} not installed");
    false
}

/// Where failing tests leave their screenshots.
fn shots_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("xterm-shots")
}

/// An X server of our own, gone with the test.
struct Display {
    number: u32,
    server: Child,
}

impl Display {
    fn start() -> Display {
        use std::io::Read;
        // Xvfb picks a free display itself and says which (tests run in parallel).
        let mut server = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb starts");
        let mut out = server.stdout.take().expect("Xvfb's stdout");
        let mut answer = String::new();
        let mut byte = [0u8; 1];
        while out.read(&mut byte).is_ok_and(|n| n == 1) && byte[0] != b'\n' {
            answer.push(byte[0] as char);
        }
        let number = answer.trim().parse().expect("Xvfb names its display");
        Display { number, server }
    }

    fn name(&self) -> String {
        format!(":{}", self.number)
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("DISPLAY", self.name());
        c
    }

    fn screenshot(&self) -> RgbImage {
        let out = self
            .command("import")
            .args(["-window", "root", "ppm:-"])
            .output()
            .expect("import runs");
        assert!(
            out.status.success(),
            "import failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        image::load_from_memory(&out.stdout)
            .expect("a screenshot")
            .to_rgb8()
    }

    fn key(&self, keys: &str) {
        let ok = self
            .command("xdotool")
            .args(["key", "--delay", "30"])
            .args(keys.split_whitespace())
            .status()
            .expect("xdotool runs");
        assert!(ok.success(), "xdotool key {keys}");
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// How a terminal emulator is started and how big its cells are.
#[derive(Clone, Copy)]
enum Emulator {
    /// `xterm -ti vt340`: sixel graphics.
    XtermVt340,
    /// Plain xterm: no graphics protocol, truecolor half-blocks.
    Xterm,
    Kitty,
}

impl Emulator {
    fn cell(self) -> (u32, u32) {
        match self {
            Emulator::Kitty => (8, 17),
            _ => (6, 13),
        }
    }
}

/// featscope running in a terminal emulator on `display`, then a shell line that records its
/// exit status.
struct Session<'a> {
    display: &'a Display,
    emulator: Emulator,
    term: Child,
    status_file: PathBuf,
    typescript: PathBuf,
    _dir: tempfile::TempDir,
    name: String,
}

impl<'a> Session<'a> {
    /// featscope `args` with `env` set, in an emulator of 200×60 cells (kitty's size is fixed).
    fn start(display: &'a Display, emulator: Emulator, name: &str, env: &str, args: &str) -> Self {
        Self::sized(display, emulator, name, env, args, (200, 60))
    }

    fn sized(
        display: &'a Display,
        emulator: Emulator,
        name: &str,
        env: &str,
        args: &str,
        size: (u16, u16),
    ) -> Self {
        // Under `script`, so the bytes featscope writes can be read back as text too.
        let line = format!(
            "script -qfec \"{env} '{}' {args}\" '{{typescript}}'",
            env!("CARGO_BIN_EXE_featscope")
        );
        Self::shell(display, emulator, name, &line, size)
    }

    /// A shell `line` in the emulator, in the repository, its exit status recorded; `{typescript}`
    /// in it names a file in the session's folder.
    fn shell(
        display: &'a Display,
        emulator: Emulator,
        name: &str,
        line: &str,
        (cols, rows): (u16, u16),
    ) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let status_file = dir.path().join("status");
        let typescript = dir.path().join("typescript");
        let line = line.replace("{typescript}", &typescript.display().to_string());
        let script = format!(
            "cd '{}' && {line}; echo $? > '{}'; sleep 600",
            env!("CARGO_MANIFEST_DIR"),
            status_file.display()
        );
        let mut cmd = match emulator {
            Emulator::XtermVt340 | Emulator::Xterm => {
                let mut c = display.command("xterm");
                if matches!(emulator, Emulator::XtermVt340) {
                    c.args(["-ti", "vt340"]);
                }
                c.args([
                    "-u8",
                    "-fn",
                    "-misc-fixed-medium-r-semicondensed--13-120-75-75-c-60-iso10646-1",
                    "-geometry",
                    &format!("{cols}x{rows}+0+0"),
                    "-b",
                    "0",
                    "-bw",
                    "0",
                    "-bg",
                    "black",
                    "-fg",
                    "white",
                ]);
                c
            }
            Emulator::Kitty => {
                let mut c = display.command("kitty");
                c.env("LIBGL_ALWAYS_SOFTWARE", "1").args([
                    "--config",
                    "NONE",
                    "-o",
                    "font_family=DejaVu Sans Mono",
                    "-o",
                    "font_size=10",
                    "-o",
                    "initial_window_width=1200",
                    "-o",
                    "initial_window_height=780",
                    "-o",
                    "remember_window_size=no",
                    "-o",
                    "window_padding_width=0",
                    "-o",
                    "placement_strategy=top-left",
                    "-o",
                    "linux_display_server=x11",
                ]);
                c
            }
        };
        cmd.args(["-e", "env", "LANG=C.UTF-8", "sh", "-c", &script]);
        let term = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the terminal emulator starts");
        Session {
            display,
            emulator,
            term,
            status_file,
            typescript,
            _dir: dir,
            name: name.to_string(),
        }
    }

    /// Takes screenshots until `done` holds for one; fails (saving the last) at the deadline.
    fn wait(&self, what: &str, timeout: Duration, done: impl Fn(&Cells) -> bool) -> Cells {
        let deadline = Instant::now() + timeout;
        loop {
            let shot = self.display.screenshot();
            let cells = Cells::read(&shot, self.emulator.cell());
            if done(&cells) {
                return cells;
            }
            if Instant::now() > deadline {
                let dir = shots_dir();
                let _ = std::fs::create_dir_all(&dir);
                let path = dir.join(format!("{}-{}.png", self.name, what.replace(' ', "-")));
                let _ = shot.save(&path);
                panic!(
                    "{}: waited {timeout:?} for {what}; {} groups of picture cells {:?}, \
                     {} stray pixels, pictures over {:?} px, {} red or blue pixels; \
                     screenshot {}",
                    self.name,
                    cells.groups.len(),
                    cells.groups,
                    cells.stray,
                    cells.extent,
                    cells.diverging,
                    path.display()
                );
            }
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    /// The view's text as the bytes sent so far draw it (a 200×60 screen).
    fn text(&self) -> String {
        std::fs::read(&self.typescript)
            .map(|bytes| screen_text(&bytes))
            .unwrap_or_default()
    }

    /// Waits until the text the view sent contains every one of `parts`.
    fn wait_text(&self, parts: &[&str], timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.text();
            if parts.iter().all(|p| text.contains(p)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{}: waited {timeout:?} for {parts:?} in:\n{text}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn exit_status(&self, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(s) = std::fs::read_to_string(&self.status_file) {
                if !s.trim().is_empty() {
                    return s.trim().to_string();
                }
            }
            assert!(
                Instant::now() < deadline,
                "{}: featscope did not exit",
                self.name
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn window(&self) -> String {
        let class = match self.emulator {
            Emulator::Kitty => "kitty",
            _ => "xterm",
        };
        let out = self
            .display
            .command("xdotool")
            .args(["search", "--class", class])
            .output()
            .expect("xdotool runs");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .expect("the terminal's window")
            .to_string()
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        let _ = self.term.kill();
        let _ = self.term.wait();
    }
}

/// A screenshot as cells: which are picture, and the connected groups they form.
struct Cells {
    picture: Vec<bool>,
    /// Viridis pixels in cells that are not picture: what a picture left behind.
    stray: usize,
    /// Where viridis pixels are on screen, in pixels: (left, top, width, height).
    extent: (u32, u32, u32, u32),
    /// Each group's bounding box in cells: (col, row, width, height), and its cell count.
    groups: Vec<(usize, usize, usize, usize, usize)>,
    /// Pixels clearly red or blue in the diverging colormap (a difference drawn by compare).
    diverging: usize,
}

fn is_diverging(rgb: [u8; 3], memo: &mut HashMap<[u8; 3], bool>) -> bool {
    *memo.entry(rgb).or_insert_with(|| {
        (rgb[0] as i32 - rgb[2] as i32).abs() > 60
            && featscope::render::Colormap::RdBu.lut().iter().any(|c| {
                (0..3)
                    .map(|k| (c[k] as i32 - rgb[k] as i32).pow(2))
                    .sum::<i32>()
                    < 12 * 12
            })
    })
}

fn is_viridis(rgb: [u8; 3], memo: &mut HashMap<[u8; 3], bool>) -> bool {
    *memo.entry(rgb).or_insert_with(|| {
        featscope::render::Colormap::Viridis.lut().iter().any(|c| {
            (0..3)
                .map(|k| (c[k] as i32 - rgb[k] as i32).pow(2))
                .sum::<i32>()
                < 12 * 12
        })
    })
}

impl Cells {
    fn read(shot: &RgbImage, (cw, ch): (u32, u32)) -> Cells {
        let cols = (shot.width() / cw) as usize;
        let rows = (shot.height() / ch) as usize;
        let mut memo = HashMap::new();
        let mut diverging_memo = HashMap::new();
        let mut diverging = 0;
        let mut picture = vec![false; cols * rows];
        let mut stray = 0;
        let (mut left, mut top, mut right, mut bottom) = (u32::MAX, u32::MAX, 0, 0);
        for r in 0..rows {
            for c in 0..cols {
                let mut hits = 0;
                for y in 0..ch {
                    for x in 0..cw {
                        let (px, py) = (c as u32 * cw + x, r as u32 * ch + y);
                        let rgb = shot.get_pixel(px, py).0;
                        if is_diverging(rgb, &mut diverging_memo) {
                            diverging += 1;
                        }
                        if is_viridis(rgb, &mut memo) {
                            hits += 1;
                            (left, top) = (left.min(px), top.min(py));
                            (right, bottom) = (right.max(px + 1), bottom.max(py + 1));
                        }
                    }
                }
                picture[r * cols + c] = hits * 10 >= cw * ch * 6;
                if !picture[r * cols + c] {
                    stray += hits as usize;
                }
            }
        }
        let mut seen = vec![false; cols * rows];
        let mut groups = Vec::new();
        for start in 0..cols * rows {
            if !picture[start] || seen[start] {
                continue;
            }
            let (mut x0, mut y0, mut x1, mut y1, mut n) = (cols, rows, 0, 0, 0);
            let mut stack = vec![start];
            seen[start] = true;
            while let Some(i) = stack.pop() {
                let (x, y) = (i % cols, i / cols);
                (x0, y0, x1, y1, n) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y), n + 1);
                let mut push = |j: usize| {
                    if picture[j] && !seen[j] {
                        seen[j] = true;
                        stack.push(j);
                    }
                };
                if x > 0 {
                    push(i - 1);
                }
                if x + 1 < cols {
                    push(i + 1);
                }
                if y > 0 {
                    push(i - cols);
                }
                if y + 1 < rows {
                    push(i + cols);
                }
            }
            // A stray cell or two (a colour in the chrome) is not a picture.
            if n >= 4 {
                groups.push((x0, y0, x1 - x0 + 1, y1 - y0 + 1, n));
            }
        }
        Cells {
            picture,
            stray,
            extent: (
                left,
                top,
                right.saturating_sub(left),
                bottom.saturating_sub(top),
            ),
            groups,
            diverging,
        }
    }

    /// Groups that fill their bounding box: whole pictures, not torn ones.
    fn whole_rectangles(&self) -> bool {
        self.groups
            .iter()
            .all(|&(_, _, w, h, n)| n * 10 >= w * h * 9)
    }

    fn count(&self) -> usize {
        self.picture.iter().filter(|&&p| p).count()
    }

    /// Cells that are picture in one and not the other.
    fn differ(&self, other: &Cells) -> usize {
        self.picture
            .iter()
            .zip(&other.picture)
            .filter(|(a, b)| a != b)
            .count()
    }
}

/// EfficientNet-Lite0's stem: 32 tiles and the sum, every one whole, nothing else.
fn grid_of_32(c: &Cells) -> bool {
    c.groups.len() == 33 && c.whole_rectangles() && c.stray == 0
}

const LONG: Duration = Duration::from_secs(180);
const SHORT: Duration = Duration::from_secs(20);

/// The walk both xterm modes take: grid, zoom and back, `s` and back, help and back, quit.
fn walk(session: &Session<'_>, display: &Display) {
    let grid = session.wait("the stem's 32 tiles and the sum", LONG, grid_of_32);
    // Everything after the pictures reached the terminal too: the status bar, the top-5.
    session.wait_text(&["dead 0/32", "tiger cat", "? help  q quit"], SHORT);
    // Zoom: one picture, larger than any tile.
    display.key("Return");
    // The channel's map is square, and so is what is on screen: the real cell shape is used
    // (6×13 px cells are not 1:2), and no earlier picture shows below or beside it. Half-blocks
    // are exact to half a cell; pixels to one.
    let (cw, ch) = session.emulator.cell();
    let slack = if matches!(session.emulator, Emulator::Xterm) {
        ch.max(cw) / 2 + 1
    } else {
        1
    };
    let zoom = session.wait("the zoomed channel, square, nothing else", SHORT, |c| {
        let (_, _, w, h) = c.extent;
        c.groups.len() == 1
            && c.count() > grid.groups[0].4 * 4
            && c.stray == 0
            && w.abs_diff(h) <= slack
    });
    assert!(zoom.whole_rectangles());
    // Back: exactly the grid again, nothing of the zoom left.
    display.key("Escape");
    session.wait("the grid after Esc, with no zoom pixels", SHORT, |c| {
        c.differ(&grid) == 0 && c.stray == 0
    });
    // `s` shows the sum alone; three more come back to the grid.
    display.key("s");
    session.wait("the sum view", SHORT, |c| {
        c.groups.len() == 1 && c.differ(&grid) > 0
    });
    display.key("s s s");
    session.wait("the grid after s s s s", SHORT, |c| {
        c.differ(&grid) == 0 && c.stray == 0
    });
    // Help over the pictures, then the pictures whole again.
    display.key("question");
    session.wait("the help over the grid", SHORT, |c| c.differ(&grid) > 0);
    // All of the help, top to bottom.
    session.wait_text(
        &[
            "Layers and channels",
            "next layer",
            "scroll layers, channel rows, the cursor",
        ],
        SHORT,
    );
    display.key("Escape");
    session.wait("the grid after the help", SHORT, |c| {
        c.differ(&grid) == 0 && c.stray == 0
    });
    // A new layer draws all of its tiles (32 channels again).
    display.key("j");
    session.wait("the next layer's 32 tiles", SHORT, |c| {
        grid_of_32(c) && c.count() == grid.count()
    });
    display.key("q");
    assert_eq!(session.exit_status(SHORT), "0");
    session.wait("a clean screen after q", SHORT, |c| {
        c.count() == 0 && c.stray == 0
    });
}

#[test]
fn sixel_in_xterm_vt340() {
    if !tools_present(
        "sixel_in_xterm_vt340",
        &["Xvfb", "xterm", "xdotool", "import"],
    ) {
        return;
    }
    let display = Display::start();
    let session = Session::start(
        &display,
        Emulator::XtermVt340,
        "vt340",
        "",
        "--backend tract",
    );
    walk(&session, &display);
}

/// A, B and A − B: two viridis pictures of one size in one row, whole, and the difference in
/// red and blue. (Pale blues of the difference pass for viridis here and there, so stray
/// pixels are not counted.)
fn compare_panels(c: &Cells) -> bool {
    match c.groups.as_slice() {
        [a, b] => {
            c.whole_rectangles()
                && (a.2, a.3) == (b.2, b.3)
                && a.1 == b.1
                && a.0 != b.0
                && c.diverging > 2000
        }
        _ => false,
    }
}

#[test]
fn compare_in_xterm_vt340() {
    if !tools_present(
        "compare_in_xterm_vt340",
        &["Xvfb", "xterm", "xdotool", "import"],
    ) {
        return;
    }
    let display = Display::start();
    let session = Session::start(
        &display,
        Emulator::XtermVt340,
        "compare-vt340",
        "",
        "compare models/seed_cnn.onnx models/chelsea.png models/coffee.png --backend tract",
    );
    let first = session.wait("A, B and A − B of conv1", LONG, compare_panels);
    session.wait_text(
        &[
            "A: chelsea.png",
            "B: coffee.png",
            "max|A−B|/max|A|",
            "? help",
        ],
        SHORT,
    );
    // ] to the next layer that differs: its three pictures replace the first ones whole (the
    // same places: relu1 has conv1's shape; the difference is another picture).
    display.key("bracketright");
    session.wait_text(&[" relu1 · Relu "], SHORT);
    session.wait("A, B and A − B of relu1", SHORT, |c| {
        compare_panels(c) && c.diverging != first.diverging
    });
    display.key("s");
    session.wait_text(&["sum of 9 channels"], SHORT);
    session.wait("the sums of A, B and A − B", SHORT, compare_panels);
    display.key("q");
    assert_eq!(session.exit_status(SHORT), "0");
    session.wait("a clean screen after q", SHORT, |c| {
        c.count() == 0 && c.stray == 0 && c.diverging == 0
    });
}

/// The precision debugger in a real terminal: EfficientNet-Lite0 against its int8 QDQ version,
/// each layer's SQNR in the sidebar, A, B and A − B drawn in sixel, `W` to the layer that loses
/// most by itself.
#[test]
fn precision_compare_in_xterm_vt340() {
    if !tools_present(
        "precision_compare_in_xterm_vt340",
        &["Xvfb", "xterm", "xdotool", "import"],
    ) {
        return;
    }
    let display = Display::start();
    let session = Session::start(
        &display,
        Emulator::XtermVt340,
        "precision-vt340",
        "",
        "compare models/efficientnet_lite0.onnx \
         models/deployed/efficientnet_lite0_int8_qdq.onnx models/chelsea.png --backend tract",
    );
    session.wait("A, B and A − B of the stem", LONG, compare_panels);
    session.wait_text(
        &[
            "B: efficientnet_lite0_int8_qdq.onnx",
            "dB│",
            " SQNR ",
            " local ",
            "uint8 s=",
        ],
        SHORT,
    );
    display.key("W");
    session.wait_text(&["loses most by itself"], SHORT);
    session.wait("A, B and A − B of the worst layer", SHORT, compare_panels);
    display.key("q");
    assert_eq!(session.exit_status(SHORT), "0");
}

#[test]
fn half_blocks_in_plain_xterm() {
    if !tools_present(
        "half_blocks_in_plain_xterm",
        &["Xvfb", "xterm", "xdotool", "import"],
    ) {
        return;
    }
    let display = Display::start();
    let session = Session::start(&display, Emulator::Xterm, "xterm", "", "--backend tract");
    walk(&session, &display);
}

#[test]
fn no_color_keeps_the_maps_in_colour_in_xterm() {
    if !tools_present("no_color_in_xterm", &["Xvfb", "xterm", "xdotool", "import"]) {
        return;
    }
    let display = Display::start();
    for (emulator, name) in [
        (Emulator::Xterm, "no-color-xterm"),
        (Emulator::XtermVt340, "no-color-vt340"),
    ] {
        let session = Session::start(&display, emulator, name, "NO_COLOR=1", "--backend tract");
        session.wait("coloured maps with NO_COLOR=1", LONG, grid_of_32);
        display.key("q");
        assert_eq!(session.exit_status(SHORT), "0");
    }
}

#[test]
fn a_resize_redraws_the_layout_whole() {
    if !tools_present(
        "a_resize_redraws_the_layout_whole",
        &["Xvfb", "xterm", "xdotool", "import"],
    ) {
        return;
    }
    let display = Display::start();
    // What featscope draws when started at 150×50…
    let direct = {
        let session = Session::sized(
            &display,
            Emulator::XtermVt340,
            "resize-direct",
            "",
            "--backend tract",
            (150, 50),
        );
        let cells = session.wait("the grid at 150×50", LONG, |c| {
            c.groups.len() == 33 && c.whole_rectangles()
        });
        display.key("q");
        assert_eq!(session.exit_status(SHORT), "0");
        cells
    };
    // …is what it draws when a 200×60 window is made 150×50 (900×650 px).
    let session = Session::start(
        &display,
        Emulator::XtermVt340,
        "resize",
        "",
        "--backend tract",
    );
    session.wait("the grid at 200×60", LONG, grid_of_32);
    let window = session.window();
    let resized = display
        .command("xdotool")
        .args(["windowsize", "--sync", &window, "900", "650"])
        .status()
        .expect("xdotool runs");
    assert!(resized.success());
    session.wait(
        "the same picture cells as a fresh start at 150×50",
        SHORT,
        |c| c.differ(&direct) == 0,
    );
    display.key("q");
    assert_eq!(session.exit_status(SHORT), "0");
}

#[test]
fn kitty_graphics_in_kitty() {
    if !tools_present(
        "kitty_graphics_in_kitty",
        &["Xvfb", "kitty", "xdotool", "import"],
    ) {
        return;
    }
    let display = Display::start();
    let session = Session::start(&display, Emulator::Kitty, "kitty", "", "--backend tract");
    walk(&session, &display);
}

/// The text of the view's last screen, from a typescript of its output played on a 200×60
/// screen, up to where it leaves the alternate screen.
fn screen_text(typescript: &[u8]) -> String {
    let end = typescript
        .windows(8)
        .rposition(|w| w == b"\x1b[?1049l")
        .unwrap_or(typescript.len());
    let size = |n: u16| std::num::NonZeroU16::new(n).expect("a size");
    let mut parser = vt100::Parser::new(size(60), size(200), 0);
    parser.process(&typescript[..end]);
    parser.screen().contents()
}

/// The graphics the view's status bar names at the end of a typescript of its output.
fn graphics_in_status_bar(typescript: &[u8]) -> Option<&'static str> {
    let screen = screen_text(typescript);
    let bar = screen.lines().last()?.to_string();
    [
        "half-blocks (256 colours)",
        "half-blocks",
        "sixel",
        "kitty",
        "iterm2",
    ]
    .into_iter()
    .find(|name| bar.contains(&format!("· {name}  ")))
}

/// How the commands reach the terminal.
enum Via<'a> {
    Direct,
    /// A tmux session inside the terminal.
    Tmux,
    /// `ssh -t` to a server on this machine.
    Ssh(&'a SshServer),
}

/// `featscope doctor` then the view, both under `script` so their output is kept: doctor must
/// name the pictures the view then uses, in each terminal, inside tmux and over SSH.
fn doctor_says_what_the_view_uses(emulator: Emulator, via: Via<'_>, name: &str, expected: &str) {
    let display = Display::start();
    let bin = env!("CARGO_BIN_EXE_featscope");
    let dir = tempfile::tempdir().expect("temp dir");
    let (doctor_log, view_log) = (dir.path().join("doctor"), dir.path().join("view"));
    let status = dir.path().join("status");
    let commands = format!(
        "cd '{}' && script -qfc \"'{bin}' doctor\" '{}' && script -qfec \"'{bin}' --backend tract\" '{}'; echo $? > '{}'",
        env!("CARGO_MANIFEST_DIR"),
        doctor_log.display(),
        view_log.display(),
        status.display()
    );
    let line = match via {
        Via::Direct => commands,
        Via::Tmux => {
            let socket = format!("featscope-xterm-{}-{name}", std::process::id());
            format!(
                "tmux -L {socket} -f /dev/null new-session {}; tmux -L {socket} kill-server 2>/dev/null; true",
                shell_quote(&commands)
            )
        }
        Via::Ssh(server) => server.command(&commands),
    };
    let session = Session::shell(&display, emulator, name, &line, (200, 60));
    session.wait("the view", LONG, |c| c.groups.len() >= 2);
    display.key("q");
    let deadline = Instant::now() + SHORT;
    while std::fs::read_to_string(&status).map_or(true, |s| s.trim().is_empty()) {
        assert!(Instant::now() < deadline, "{name}: the view did not quit");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        std::fs::read_to_string(&status).unwrap_or_default().trim(),
        "0"
    );
    let doctor = std::fs::read_to_string(&doctor_log).expect("doctor's output");
    let said = doctor
        .lines()
        .find_map(|l| l.strip_prefix("pictures:"))
        .map(str::trim)
        .unwrap_or_else(|| panic!("{name}: doctor names no pictures:\n{doctor}"));
    assert!(
        doctor.contains("because"),
        "{name}: doctor says why:\n{doctor}"
    );
    assert_eq!(said, expected, "{name}: doctor said\n{doctor}");
    if matches!(via, Via::Ssh(_)) {
        assert!(
            doctor.contains("over SSH"),
            "{name}: doctor notices SSH:\n{doctor}"
        );
    }
    let view = std::fs::read(&view_log).expect("the view's output");
    assert_eq!(
        graphics_in_status_bar(&view),
        Some(expected),
        "{name}: the view's status bar"
    );
}

/// An OpenSSH server on a free loopback port, for this user, with keys made for the test.
struct SshServer {
    dir: tempfile::TempDir,
    port: u16,
    server: Child,
}

impl SshServer {
    fn start() -> SshServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = |name: &str| dir.path().join(name);
        for key in ["host", "client"] {
            let ok = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(path(key))
                .status()
                .expect("ssh-keygen runs");
            assert!(ok.success(), "ssh-keygen");
        }
        std::fs::copy(path("client.pub"), path("authorized_keys")).expect("authorized_keys");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\n\
             PermitRootLogin prohibit-password\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPidFile {}\n",
            path("host").display(),
            path("authorized_keys").display(),
            path("sshd.pid").display()
        );
        std::fs::write(path("sshd_config"), config).expect("sshd_config");
        // sshd wants its privilege separation directory to exist.
        let _ = std::fs::create_dir_all("/run/sshd");
        let server = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(path("sshd_config"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sshd starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        SshServer { dir, port, server }
    }

    /// The shell line that runs `commands` over `ssh -t` (a terminal at the far end).
    fn command(&self, commands: &str) -> String {
        let user = std::env::var("USER")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| {
                let out = Command::new("id").arg("-un").output().expect("id runs");
                String::from_utf8_lossy(&out.stdout).trim().to_string()
            });
        format!(
            "ssh -t -p {} -i '{}' -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
             -o LogLevel=ERROR {user}@127.0.0.1 {}",
            self.port,
            self.dir.path().join("client").display(),
            shell_quote(commands)
        )
    }
}

impl Drop for SshServer {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[test]
fn doctor_and_view_agree_in_every_terminal() {
    if !tools_present(
        "doctor_and_view_agree",
        &["Xvfb", "xterm", "xdotool", "import", "script", "tmux"],
    ) {
        return;
    }
    doctor_says_what_the_view_uses(Emulator::XtermVt340, Via::Direct, "agree-vt340", "sixel");
    doctor_says_what_the_view_uses(Emulator::Xterm, Via::Direct, "agree-xterm", "half-blocks");
    // Debian's tmux (3.3a) draws no sixel, even in a sixel terminal; it passes RGB colours on
    // to an xterm it recognises.
    doctor_says_what_the_view_uses(Emulator::XtermVt340, Via::Tmux, "agree-tmux", "half-blocks");
    if have("kitty") {
        doctor_says_what_the_view_uses(Emulator::Kitty, Via::Direct, "agree-kitty", "kitty");
    }
}

#[test]
fn doctor_and_view_agree_over_ssh() {
    if !tools_present(
        "doctor_and_view_agree_over_ssh",
        &[
            "Xvfb",
            "xterm",
            "xdotool",
            "import",
            "script",
            "ssh",
            "ssh-keygen",
            "/usr/sbin/sshd",
        ],
    ) {
        return;
    }
    let server = SshServer::start();
    // Nothing from this side's environment crosses: the far end asks the terminal.
    doctor_says_what_the_view_uses(
        Emulator::XtermVt340,
        Via::Ssh(&server),
        "ssh-vt340",
        "sixel",
    );
    doctor_says_what_the_view_uses(
        Emulator::Xterm,
        Via::Ssh(&server),
        "ssh-xterm",
        "half-blocks",
    );
}

/// `snapshot --print` (viuer) in a real terminal: the grid (the channels, with gaps between
/// them) and below it the sum, as one picture the width of the grid, each under its title.
fn printed_grid_and_sum(emulator: Emulator, name: &str) {
    let display = Display::start();
    let out = tempfile::tempdir().expect("temp dir");
    let args = format!(
        "snapshot models/mnist-8.onnx models/digit7.png --layer 0 --print --out '{}'",
        out.path().display()
    );
    // kitty's window is 150 columns whatever it is asked: the pictures are kept 40 wide there
    // by telling the pty so (featscope reads its width from the pty).
    let line = format!(
        "stty cols 40; script -qfec \"'{}' {args}\" '{{typescript}}'",
        env!("CARGO_BIN_EXE_featscope")
    );
    let session = Session::shell(&display, emulator, name, &line, (40, 60));
    assert_eq!(session.exit_status(SHORT), "0");
    // The terminal's answers to viuer's query are read, not echoed onto the screen.
    assert!(!session.text().contains("^["), "{}", session.text());
    let sent = std::fs::read(&session.typescript).expect("the typescript");
    let expected: &[u8] = match emulator {
        Emulator::Xterm => "▄".as_bytes(),
        Emulator::XtermVt340 => b"\x1bP",
        Emulator::Kitty => b"\x1b_G",
    };
    assert!(
        sent.windows(expected.len()).any(|w| w == expected),
        "{name}: no {expected:?} in what featscope printed"
    );
    session.wait_text(&["Convolution28 — grid", "Convolution28 — sum"], SHORT);
    let cells = session.wait("the printed grid and sum", SHORT, |c| {
        let Some(sum) = c.groups.last() else {
            return false;
        };
        let grid: Vec<_> = c.groups[..c.groups.len() - 1].to_vec();
        let (left, right) = (
            grid.iter().map(|g| g.0).min().unwrap_or(0),
            grid.iter().map(|g| g.0 + g.2).max().unwrap_or(0),
        );
        let grid_bottom = grid.iter().map(|g| g.1 + g.3).max().unwrap_or(0);
        !grid.is_empty()
            && grid_bottom < sum.1
            && sum.0.abs_diff(left) <= 1
            && (sum.0 + sum.2).abs_diff(right) <= 1
            && sum.2 >= 20
    });
    eprintln!("{name}: {:?}", cells.groups);
    let dir = shots_dir();
    let _ = std::fs::create_dir_all(&dir);
    let _ = display.screenshot().save(dir.join(format!("{name}.png")));
}

#[test]
fn print_draws_half_blocks_in_plain_xterm() {
    if tools_present(
        "print_draws_half_blocks_in_plain_xterm",
        &["Xvfb", "xterm", "import"],
    ) {
        printed_grid_and_sum(Emulator::Xterm, "print-xterm");
    }
}

#[test]
fn print_draws_kitty_graphics_in_kitty() {
    if tools_present(
        "print_draws_kitty_graphics_in_kitty",
        &["Xvfb", "kitty", "import"],
    ) {
        printed_grid_and_sum(Emulator::Kitty, "print-kitty");
    }
}

#[test]
fn print_draws_sixel_in_xterm_vt340() {
    if tools_present(
        "print_draws_sixel_in_xterm_vt340",
        &["Xvfb", "xterm", "import"],
    ) {
        printed_grid_and_sum(Emulator::XtermVt340, "print-vt340");
    }
}
