//! End to end in a real terminal: the built binary in a detached tmux session, driven with
//! send-keys and read back with capture-pane. Skipped when tmux is missing, unless
//! FEATSCOPE_REQUIRE_TMUX=1 (CI) makes that a failure.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// One tmux server per test, on its own socket, so tests and the user's tmux never meet.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(name: &str, width: u16, height: u16, shell_command: &str) -> Option<Tmux> {
        Tmux::start_in(
            name,
            width,
            height,
            Path::new(env!("CARGO_MANIFEST_DIR")),
            shell_command,
        )
    }

    /// A session whose shell starts in `folder`.
    fn start_in(
        name: &str,
        width: u16,
        height: u16,
        folder: &Path,
        shell_command: &str,
    ) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            if std::env::var("FEATSCOPE_REQUIRE_TMUX").as_deref() == Ok("1") {
                panic!("tmux is not installed, and FEATSCOPE_REQUIRE_TMUX=1");
            }
            eprintln!("skipping {name}: tmux is not installed");
            return None;
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let tmux = Tmux {
            socket: format!("featscope-{name}-{}-{nanos}", std::process::id()),
        };
        let out = tmux.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            "-c",
            &folder.to_string_lossy(),
            shell_command,
        ]);
        assert!(
            out.status.success(),
            "tmux new-session failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(tmux)
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs")
    }

    fn capture(&self) -> String {
        let out = self.run(&["capture-pane", "-p", "-t", "t"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn send(&self, keys: &str) {
        let out = self.run(&["send-keys", "-t", "t", keys]);
        assert!(out.status.success(), "send-keys {keys}");
    }

    /// Polls the pane until `want` shows, or fails with what the pane showed.
    fn wait_for(&self, want: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let screen = self.capture();
            if screen.contains(want) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!("waited {timeout:?} for {want:?}; the pane shows:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn wait_until_gone(&self, unwanted: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let screen = self.capture();
            if !screen.contains(unwanted) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!("waited {timeout:?} for {unwanted:?} to go; the pane shows:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The pane runs featscope, then prints its exit status and stays open to be read.
fn featscope_command(args: &str) -> String {
    let bin = quote(env!("CARGO_BIN_EXE_featscope"));
    format!(
        "sh -c {}",
        quote(&format!("{bin} {args}; echo EXIT=$?; sleep 600"))
    )
}

#[test]
fn bundled_model_in_tmux() {
    assert!(Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models/efficientnet_lite0.onnx")
        .exists());
    let Some(tmux) = Tmux::start(
        "bundled",
        120,
        40,
        &featscope_command("--backend tract --graphics halfblocks"),
    ) else {
        return;
    };
    // The sidebar lists the graph's layers at once, before inference ends.
    tmux.wait_for("/_conv_stem/Conv", Duration::from_secs(30));
    // Inference done: the grid, the layer's stats, the engine in the status bar.
    // A capture can land mid-frame, so each part is waited for rather than read off one capture.
    tmux.wait_for("channel 0 of 32", Duration::from_secs(180));
    for part in ["Layers (94)", "dead 0/32", "tract 0.", "tiger cat"] {
        tmux.wait_for(part, Duration::from_secs(10));
    }

    tmux.send("j");
    tmux.wait_for(
        " /_swish/Clip · Clip · 1×32×112×112 ",
        Duration::from_secs(10),
    );
    // Pictures are drawn as half-blocks.
    tmux.wait_for("▀", Duration::from_secs(10));

    tmux.send("?");
    tmux.wait_for("next colormap", Duration::from_secs(10));
    tmux.wait_for(
        "cycle grid / sum / overlay / input",
        Duration::from_secs(10),
    );
    tmux.send("Escape");
    tmux.wait_until_gone("next colormap", Duration::from_secs(10));

    tmux.send("q");
    let screen = tmux.wait_for("EXIT=0", Duration::from_secs(10));
    // The alternate screen is gone: the view's chrome is no longer on the pane.
    assert!(!screen.contains("Layers (94)"), "{screen}");
}

/// What `cargo install` or a downloaded binary gives: featscope alone, run with no arguments in a
/// folder with no models. It opens the seed CNN and the photo built into it.
#[test]
fn the_binary_alone_opens_the_built_in_default() {
    let home = tempfile::tempdir().expect("tempdir");
    let empty = home.path().join("empty");
    std::fs::create_dir(&empty).expect("folder");
    let bin = empty.join("featscope");
    std::fs::copy(env!("CARGO_BIN_EXE_featscope"), &bin).expect("copy the binary");
    let cache = home.path().join("cache");
    let command = format!(
        "sh -c {}",
        quote(&format!(
            "HOME={} XDG_CACHE_HOME={} ./featscope; echo EXIT=$?; sleep 600",
            quote(&home.path().to_string_lossy()),
            quote(&cache.to_string_lossy())
        ))
    );
    let Some(tmux) = Tmux::start_in("alone", 120, 40, &empty, &command) else {
        return;
    };
    // The seed CNN: four convolutions of 9 channels; its first layer selected and drawn.
    tmux.wait_for(" conv1 · Conv · 1×9×", Duration::from_secs(60));
    for part in ["channel 0 of 9", "sum of 9 channels", "▀"] {
        tmux.wait_for(part, Duration::from_secs(60));
    }
    tmux.send("q");
    tmux.wait_for("EXIT=0", Duration::from_secs(10));
    // The built-in files went to the cache, nothing into the folder the binary was run in.
    let built_in = cache.join(format!("featscope/built-in-{}", env!("CARGO_PKG_VERSION")));
    for name in ["seed_cnn.onnx", "seed_cnn.featscope.json", "chelsea.png"] {
        assert!(built_in.join(name).is_file(), "{name} in {built_in:?}");
    }
    let left: Vec<_> = std::fs::read_dir(&empty)
        .expect("read folder")
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("featscope")]);
}

#[test]
fn not_a_tty_points_to_snapshot() {
    let out = Command::new(env!("CARGO_BIN_EXE_featscope"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("featscope runs");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains("featscope snapshot"), "{err}");
}

#[test]
fn sigterm_restores_the_terminal() {
    // The shell sends SIGTERM once the test has seen the view up (it creates `go`), so the
    // signal never lands before featscope has installed its handlers.
    let dir = tempfile::tempdir().expect("temp dir");
    let go = dir.path().join("go");
    let script = format!(
        "models/seed_cnn.onnx models/chelsea.png --backend tract --graphics halfblocks < /dev/tty & pid=$!; \
         while [ ! -e {go} ]; do sleep 0.1; done; kill -TERM $pid; wait $pid",
        go = quote(&go.to_string_lossy())
    );
    let Some(tmux) = Tmux::start("sigterm", 100, 30, &featscope_command(&script)) else {
        return;
    };
    tmux.wait_for("Layers (11)", Duration::from_secs(60));
    std::fs::write(&go, "").expect("signal file");
    let screen = tmux.wait_for("EXIT=0", Duration::from_secs(60));
    assert!(!screen.contains("Layers ("), "{screen}");
}

#[test]
fn tiny_terminal_in_tmux() {
    let Some(tmux) = Tmux::start(
        "tiny",
        30,
        10,
        &featscope_command(
            "models/seed_cnn.onnx models/chelsea.png --backend tract --graphics halfblocks",
        ),
    ) else {
        return;
    };
    tmux.wait_for("terminal too small", Duration::from_secs(30));
    tmux.send("q");
    tmux.wait_for("EXIT=0", Duration::from_secs(10));
}

#[test]
fn a_hung_up_terminal_ends_featscope() {
    // featscope runs as the pane's own process, so closing the pane hangs up its terminal,
    // as a dropped SSH connection does.
    let bin = quote(env!("CARGO_BIN_EXE_featscope"));
    let Some(tmux) = Tmux::start(
        "hangup",
        100,
        30,
        &format!(
            "{bin} models/seed_cnn.onnx models/chelsea.png --backend tract --graphics halfblocks"
        ),
    ) else {
        return;
    };
    tmux.wait_for("Layers (", Duration::from_secs(30));
    let out = tmux.run(&["display-message", "-p", "-t", "t", "#{pane_pid}"]);
    let pid = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(!pid.is_empty(), "pane pid");
    let proc_dir = Path::new("/proc").join(&pid);
    assert!(proc_dir.exists(), "featscope is running");
    let _ = tmux.run(&["kill-server"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while proc_dir.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    // A zombie (State: Z) has exited too; only a live process fails.
    let alive = std::fs::read_to_string(proc_dir.join("status"))
        .map(|s| !s.contains("State:\tZ"))
        .unwrap_or(false);
    assert!(
        !alive,
        "featscope {pid} kept running after its terminal hung up"
    );
}

#[test]
fn the_first_key_reaches_the_view_after_the_graphics_query() {
    // `--graphics auto` asks the terminal; a detached tmux has no outer terminal to answer
    // passthrough queries, so the query times out. The user's first key must still count.
    let Some(tmux) = Tmux::start(
        "first-key",
        100,
        30,
        &featscope_command("models/seed_cnn.onnx models/chelsea.png --backend tract"),
    ) else {
        return;
    };
    tmux.wait_for("channel 0 of 9", Duration::from_secs(60));
    tmux.send("j");
    tmux.wait_for(" relu1 · Relu · ", Duration::from_secs(10));
    tmux.send("q");
    tmux.wait_for("EXIT=0", Duration::from_secs(10));
}

#[test]
fn doctor_leaves_tmux_as_it_was() {
    let Some(tmux) = Tmux::start("doctor", 120, 40, &featscope_command("doctor")) else {
        return;
    };
    let settings = || {
        let passthrough = tmux.run(&["show-options", "-p", "-t", "t", "allow-passthrough"]);
        let title = tmux.run(&["display-message", "-p", "-t", "t", "#{pane_title}"]);
        (
            String::from_utf8_lossy(&passthrough.stdout).into_owned(),
            String::from_utf8_lossy(&title.stdout).into_owned(),
        )
    };
    let before = settings();
    let screen = tmux.wait_for("EXIT=0", Duration::from_secs(30));
    // It says what the view would use, and why: tmux answers for itself.
    assert!(screen.contains("pictures:"), "{screen}");
    assert!(
        screen.contains("because     ") && screen.contains("tmux"),
        "{screen}"
    );
    // Neither passthrough nor the pane title changed (the kitty query is an APC, which tmux
    // would take for a title).
    assert_eq!(settings(), before);
}

#[test]
fn no_color_keeps_the_pictures_in_colour() {
    let Some(tmux) = Tmux::start(
        "no-color",
        100,
        30,
        &featscope_command(
            "models/seed_cnn.onnx models/chelsea.png --backend tract --graphics halfblocks",
        )
        .replacen("sh -c", "env NO_COLOR=1 sh -c", 1),
    ) else {
        return;
    };
    tmux.wait_for("channel 0 of 9", Duration::from_secs(60));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = tmux.run(&["capture-pane", "-e", "-p", "-t", "t"]);
        let screen = String::from_utf8_lossy(&out.stdout).into_owned();
        // Picture cells carry colours (RGB or the 256-colour palette), chrome none.
        if screen.contains("▀") && (screen.contains("38;2;") || screen.contains("38;5;")) {
            break;
        }
        assert!(Instant::now() < deadline, "no coloured pictures:\n{screen}");
        std::thread::sleep(Duration::from_millis(100));
    }
    tmux.send("q");
    tmux.wait_for("EXIT=0", Duration::from_secs(10));
}

/// featscope in a pty of `script`'s, which forwards our writes as the terminal's answers and
/// hands us everything featscope writes; the terminal answers only when the test says so.
#[test]
fn the_view_is_up_before_the_terminal_answers() {
    use std::io::{Read, Write};
    use std::process::Stdio;
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipping: util-linux script is not installed");
        return;
    }
    let bin = quote(env!("CARGO_BIN_EXE_featscope"));
    let inner = format!(
        "stty cols 100 rows 30; exec {bin} models/seed_cnn.onnx models/chelsea.png --backend tract"
    );
    let mut child = Command::new("script")
        .args(["-qfec", &inner, "/dev/null"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        // Far longer than the test waits: the view must not be waiting for the answer.
        .env("FEATSCOPE_QUERY_TIMEOUT_MS", "600000")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("script runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let wait_for = |want: &str, seen: &mut Vec<u8>| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !String::from_utf8_lossy(seen).contains(want) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no {want:?} in:\n{}",
                String::from_utf8_lossy(seen)
            );
            if let Ok(chunk) = rx.recv_timeout(left) {
                seen.extend_from_slice(&chunk);
            }
        }
    };
    // The query went out, nobody answered, and the sidebar is drawn all the same.
    wait_for("\x1b[c", &mut seen);
    wait_for("Layers (11)", &mut seen);
    // Now the terminal answers (device attributes, no graphics), and `q` quits.
    stdin.write_all(b"\x1b[?1;2c").expect("answer");
    stdin.write_all(b"q").expect("q");
    stdin.flush().expect("flush");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "featscope did not quit");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
}

/// Under `timeout` without `--foreground` (its own process group, in the background of the
/// terminal), `snapshot --print` used to be stopped by SIGTTOU the moment it set raw mode to
/// ask the terminal, and waited forever. It prints half-blocks without asking; the view refuses.
#[test]
fn print_from_the_background_does_not_stop() {
    let out = tempfile::tempdir().expect("temp dir");
    let args = format!(
        "snapshot models/mnist-8.onnx models/digit7.png --layer 0 --print --out {}",
        quote(&out.path().to_string_lossy())
    );
    let bin = quote(env!("CARGO_BIN_EXE_featscope"));
    let view = "models/mnist-8.onnx models/digit7.png";
    let line = format!(
        "timeout 60 {bin} {args}; echo EXIT=$?; timeout 60 {bin} {view}; echo VIEW=$?; sleep 600"
    );
    let Some(tmux) = Tmux::start("background", 100, 40, &format!("sh -c {}", quote(&line))) else {
        return;
    };
    let screen = tmux.wait_for("VIEW=", Duration::from_secs(90));
    assert!(screen.contains("EXIT=0"), "{screen}");
    // The view cannot work from the background: one line, exit 1, not a stopped process.
    assert!(screen.contains("VIEW=1"), "{screen}");
    assert!(
        screen.contains("needs the terminal's foreground"),
        "{screen}"
    );
    assert!(screen.contains('▄'), "no picture printed:\n{screen}");
    assert!(out.path().join("summary.json").exists());
}
