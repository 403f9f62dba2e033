//! Hostile inputs against the featscope binary: sidecars that point outside the model's folder,
//! names full of escape sequences, special files, degenerate graphs, absurd declared sizes,
//! interrupted and concurrent snapshots. Whatever the input, featscope must end (within 20 s,
//! under a 4 GB address-space cap) with exit code 1 or 2 and exactly one clean line on stderr
//! naming the offending file: no panic, no raw terminal control bytes, no leaked file contents,
//! no temporary files left behind.

mod common;

use common::model;
use featscope::model::builder::{attr_ints, tensor_f32, Dim, GraphBuilder};
use featscope::model::proto::data_type::FLOAT;
use featscope::model::proto::{AttributeProto, TensorProto};
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Running the binary: watchdog, memory cap, captured output.
// ---------------------------------------------------------------------------------------------

/// Every run must end within this; the watchdog kills it (and fails the test) after that.
const WATCHDOG: Duration = Duration::from_secs(20);
/// Address-space cap for every run (4 GiB): a blow-up becomes an allocation failure.
const MEMORY_CAP: &str = "--as=4294967296";
/// Refusing bad input needs no big allocation: an error run whose resident memory peaked over
/// this read or allocated what it should have refused first (without the cap, it would have
/// taken the machine's memory).
const ERROR_PEAK_RSS_KIB: i64 = 1024 * 1024;
/// The NumPy and PNG file signatures.
const NPY_MAGIC: &[u8] = b"\x93NUMPY";
const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Builds an argument vector from anything path- or string-like.
macro_rules! argv {
    ($($a:expr),* $(,)?) => { vec![$(OsString::from($a)),*] };
}

/// What a finished run left: exit status, streams, time taken.
struct Out {
    what: String,
    code: Option<i32>,
    signal: Option<i32>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    elapsed: Duration,
    /// Peak resident memory of the child, from wait4's rusage.
    peak_rss_kib: i64,
}

impl Out {
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    fn describe(&self) -> String {
        format!(
            "{}\n  exit code {:?}, signal {:?}, {:.1}s, peak {} MiB\n  stderr: {:?}\n  stdout (start): {:?}",
            self.what,
            self.code,
            self.signal,
            self.elapsed.as_secs_f64(),
            self.peak_rss_kib / 1024,
            self.stderr(),
            self.stdout().chars().take(400).collect::<String>()
        )
    }
}

/// A started child in its own process group, its pipes drained by two threads.
struct Running {
    what: String,
    child: Child,
    started: Instant,
    stdout: JoinHandle<Vec<u8>>,
    stderr: JoinHandle<Vec<u8>>,
}

fn drain(mut r: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

fn prlimit_available() -> bool {
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| {
        Command::new("sh")
            .args(["-c", "command -v prlimit"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// `program args…` under the 4 GB cap (when prlimit exists), stdin from /dev/null.
fn capped(program: impl Into<OsString>, args: &[OsString]) -> Command {
    let program = program.into();
    let mut cmd = if prlimit_available() {
        let mut c = Command::new("prlimit");
        c.arg(MEMORY_CAP).arg("--").arg(&program);
        c
    } else {
        Command::new(&program)
    };
    cmd.args(args)
        .env_remove("ORT_DYLIB_PATH")
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .stdin(Stdio::null());
    cmd
}

/// The featscope binary with `args`, capped.
fn featscope_cmd(args: &[OsString]) -> Command {
    capped(env!("CARGO_BIN_EXE_featscope"), args)
}

fn spawn(mut cmd: Command) -> Running {
    let what = format!("{cmd:?}");
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let stdout = drain(child.stdout.take().expect("stdout piped"));
    let stderr = drain(child.stderr.take().expect("stderr piped"));
    Running {
        what,
        child,
        started: Instant::now(),
        stdout,
        stderr,
    }
}

impl Running {
    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends `sig` to the child itself (prlimit execs featscope, so this is featscope).
    fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on a pid we spawned and have not reaped yet.
        unsafe {
            libc::kill(self.pid(), sig);
        }
    }

    /// Reaps the child if it has ended (blocking when `block`): its status and peak RSS.
    fn reap(&self, block: bool) -> Option<(ExitStatus, i64)> {
        let mut status = 0;
        // SAFETY: a zeroed rusage is valid; wait4 fills it for our own child.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let flags = if block { 0 } else { libc::WNOHANG };
        // SAFETY: wait4 on the pid we spawned; std's Child is never waited on as well.
        let pid = unsafe { libc::wait4(self.pid(), &mut status, flags, &mut usage) };
        assert!(pid >= 0, "wait4: {}", std::io::Error::last_os_error());
        (pid == self.pid()).then(|| (ExitStatus::from_raw(status), usage.ru_maxrss))
    }

    /// Waits for the end; past the watchdog, kills the whole process group and fails.
    fn wait(self) -> Out {
        let (status, peak_rss_kib) = loop {
            if let Some(done) = self.reap(false) {
                break done;
            }
            if self.started.elapsed() > WATCHDOG {
                // SAFETY: the child leads its own process group (process_group(0)).
                unsafe {
                    libc::kill(-self.pid(), libc::SIGKILL);
                }
                let _ = self.reap(true);
                let err = self.stderr.join().unwrap_or_default();
                panic!(
                    "still running after {}s, killed: {}\n  stderr so far: {:?}",
                    WATCHDOG.as_secs(),
                    self.what,
                    String::from_utf8_lossy(&err)
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let elapsed = self.started.elapsed();
        Out {
            what: self.what,
            code: status.code(),
            signal: status.signal(),
            stdout: self.stdout.join().unwrap_or_default(),
            stderr: self.stderr.join().unwrap_or_default(),
            elapsed,
            peak_rss_kib,
        }
    }
}

/// Runs featscope with `args` under the watchdog and the memory cap.
fn run(args: &[OsString]) -> Out {
    spawn(featscope_cmd(args)).wait()
}

/// `featscope snapshot ARGS… --backend BACKEND`.
fn snapshot(backend: &str, args: Vec<OsString>) -> Out {
    let mut all = argv!["snapshot"];
    all.extend(args);
    all.extend(argv!["--backend", backend]);
    run(&all)
}

/// tract always; ONNX Runtime too where FEATSCOPE_REQUIRE_ORT=1 or `featscope doctor` loads it.
fn backends() -> &'static [&'static str] {
    static ALL: OnceLock<Vec<&'static str>> = OnceLock::new();
    ALL.get_or_init(|| {
        let require = std::env::var("FEATSCOPE_REQUIRE_ORT").as_deref() == Ok("1");
        let loaded = require || {
            let o = run(&["doctor".into(), "--no-terminal-query".into()]);
            o.stdout().contains("--backend auto uses: onnxruntime")
        };
        if loaded {
            vec!["tract", "ort"]
        } else {
            vec!["tract"]
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Assertions.
// ---------------------------------------------------------------------------------------------

/// No panic text, no backtrace hint, no raw ESC/BEL in either stream.
fn assert_clean_streams(out: &Out) {
    let both = [out.stderr.as_slice(), out.stdout.as_slice()].concat();
    let text = String::from_utf8_lossy(&both);
    assert!(!text.contains("panicked"), "panic: {}", out.describe());
    assert!(
        !text.contains("RUST_BACKTRACE"),
        "backtrace hint: {}",
        out.describe()
    );
    assert!(
        !both.contains(&0x1b),
        "raw ESC byte in the output: {}",
        out.describe()
    );
    assert!(
        !both.contains(&0x07),
        "raw BEL byte in the output: {}",
        out.describe()
    );
}

/// A failure as users must see it: exit code 1 or 2 (not a signal), exactly one line on
/// stderr, a `featscope: error:` line naming `must_name`, clean streams.
fn assert_one_line_error(out: &Out, must_name: &str) {
    assert!(
        matches!(out.code, Some(1) | Some(2)),
        "exit code 1 or 2 expected: {}",
        out.describe()
    );
    assert_clean_streams(out);
    let err = out.stderr();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "exactly one line on stderr expected: {}",
        out.describe()
    );
    assert!(
        lines[0].starts_with("featscope: error:"),
        "not an error line: {}",
        out.describe()
    );
    assert!(
        lines[0].contains(must_name),
        "the error does not name '{must_name}': {}",
        out.describe()
    );
    assert!(
        out.peak_rss_kib < ERROR_PEAK_RSS_KIB,
        "refusing took over {} MiB of memory: {}",
        ERROR_PEAK_RSS_KIB / 1024,
        out.describe()
    );
}

/// [`assert_one_line_error`] with exit code 1: a runtime failure, not a usage error.
fn assert_runtime_error(out: &Out, must_name: &str) {
    assert_one_line_error(out, must_name);
    assert_eq!(
        out.code,
        Some(1),
        "exit code 1 expected: {}",
        out.describe()
    );
}

/// A batch where the `bad` inputs failed and the rest was done: exit 1, one error line per bad
/// input naming it, nothing else on stderr but the "N of M images done" tally.
fn assert_batch_failures(out: &Out, bad: &[&str]) {
    assert_eq!(
        out.code,
        Some(1),
        "exit code 1 expected: {}",
        out.describe()
    );
    assert_clean_streams(out);
    let err = out.stderr();
    let errors: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("featscope: error:"))
        .collect();
    assert_eq!(
        errors.len(),
        bad.len(),
        "one error line per bad input expected: {}",
        out.describe()
    );
    for name in bad {
        assert!(
            errors.iter().any(|l| l.contains(name)),
            "no error names '{name}': {}",
            out.describe()
        );
    }
    let others: Vec<&str> = err
        .lines()
        .filter(|l| !l.starts_with("featscope: error:") && !l.contains("images done"))
        .collect();
    assert!(others.is_empty(), "stray stderr lines: {}", out.describe());
}

fn assert_success(out: &Out) {
    assert_eq!(out.code, Some(0), "success expected: {}", out.describe());
    assert!(!out.stderr().contains("panicked"), "{}", out.describe());
}

/// Every file under `dir`, recursively (symlinks not followed).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn is_temp_file(p: &Path) -> bool {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    name.ends_with(".part") || name.ends_with(".tmp") || name.starts_with(".featscope")
}

fn assert_no_temp_files(dir: &Path, when: &str) {
    let left: Vec<PathBuf> = files_under(dir)
        .into_iter()
        .filter(|p| is_temp_file(p))
        .collect();
    assert!(left.is_empty(), "{when}: temporary files left: {left:?}");
}

fn summary(dir: &Path) -> serde_json::Value {
    let path = dir.join("summary.json");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The files summary.json lists, over all layers.
fn listed_files(summary: &serde_json::Value) -> BTreeSet<String> {
    summary["layers"]
        .as_array()
        .expect("layers array")
        .iter()
        .flat_map(|l| l["files"].as_array().cloned().unwrap_or_default())
        .map(|f| f.as_str().expect("file name").to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Fixtures.
// ---------------------------------------------------------------------------------------------

fn seed() -> PathBuf {
    model("seed_cnn.onnx")
}

fn chelsea() -> PathBuf {
    model("chelsea.png")
}

fn coffee() -> PathBuf {
    model("coffee.png")
}

fn fixed(dims: &[i64]) -> Vec<Dim> {
    dims.iter().map(|&d| Dim::Fixed(d)).collect()
}

/// Writes the graph `build` makes as `dir/name`.
fn write_model(dir: &Path, name: &str, build: impl FnOnce(&mut GraphBuilder)) -> PathBuf {
    let mut g = GraphBuilder::new("hostile", 13);
    build(&mut g);
    let path = dir.join(name);
    std::fs::write(&path, g.finish_bytes("featscope-hostile")).expect("write the model");
    path
}

/// Deterministic small weights.
fn weights(n: usize) -> Vec<f32> {
    (0..n).map(|i| ((i % 7) as f32 - 3.0) * 0.05).collect()
}

/// `x [input] → Conv(out_ch, k×k, attrs) → y`: the smallest image model, with `attrs` on the Conv.
fn conv_model(
    dir: &Path,
    name: &str,
    input: &[i64],
    out_ch: i64,
    k: i64,
    attrs: Vec<AttributeProto>,
) -> PathBuf {
    let in_ch = input[1];
    write_model(dir, name, |g| {
        let mut all = vec![attr_ints("kernel_shape", &[k, k])];
        all.extend(attrs);
        g.input("x", FLOAT, &fixed(input))
            .initializer(tensor_f32(
                "w",
                &[out_ch, in_ch, k, k],
                &weights((out_ch * in_ch * k * k) as usize),
            ))
            .node("Conv", "conv", &["x", "w"], &["y"], all)
            .output("y", FLOAT, &[]);
    })
}

/// `x [1,3,32,32] → MaxPool(attrs) → y`.
fn maxpool_model(dir: &Path, name: &str, attrs: Vec<AttributeProto>) -> PathBuf {
    write_model(dir, name, |g| {
        g.input("x", FLOAT, &fixed(&[1, 3, 32, 32]))
            .node("MaxPool", "pool", &["x"], &["y"], attrs)
            .output("y", FLOAT, &[]);
    })
}

/// A classifier with `classes` outputs: x [1,3,8,8] → Conv 1×1 → GlobalAveragePool → Flatten.
/// With a labels file of `classes` lines its top-5 names land in summary.json, so a labels file
/// read from the wrong place would show.
fn classifier_model(dir: &Path, name: &str, classes: i64) -> PathBuf {
    write_model(dir, name, |g| {
        let w: Vec<f32> = (0..classes * 3).map(|i| (i as f32) * 0.001).collect();
        g.input("x", FLOAT, &fixed(&[1, 3, 8, 8]))
            .initializer(tensor_f32("w", &[classes, 3, 1, 1], &w))
            .node(
                "Conv",
                "features",
                &["x", "w"],
                &["features"],
                vec![attr_ints("kernel_shape", &[1, 1])],
            )
            .node("GlobalAveragePool", "gap", &["features"], &["gap"], vec![])
            .node(
                "Flatten",
                "flatten",
                &["gap"],
                &["logits"],
                vec![featscope::model::builder::attr_int("axis", 1)],
            )
            .output("logits", FLOAT, &fixed(&[1, classes]));
    })
}

fn write_png(path: &Path, w: u32, h: u32) {
    image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 7) as u8, (y * 5) as u8, 90]))
        .save(path)
        .expect("write the image");
}

fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo")
        .arg(path)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "mkfifo {} failed", path.display());
}

/// A copy of the seed CNN as `dir/m.onnx`, with `sidecar` as `dir/m.featscope.json` when given.
fn seed_copy(dir: &Path, sidecar: Option<&str>) -> PathBuf {
    let m = dir.join("m.onnx");
    std::fs::copy(seed(), &m).expect("copy the model");
    if let Some(text) = sidecar {
        std::fs::write(dir.join("m.featscope.json"), text).expect("write the sidecar");
    }
    m
}

// ---------------------------------------------------------------------------------------------
// 1. Sidecar labels that escape the model's folder.
// ---------------------------------------------------------------------------------------------

fn passwd_lines() -> Vec<String> {
    std::fs::read_to_string("/etc/passwd")
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| l.len() >= 8)
        .map(String::from)
        .collect()
}

/// A classifier in its own folder whose labels count matches /etc/passwd, so a leak would
/// surface as top-5 labels in summary.json.
fn labels_setup(dir: &Path, labels: &str) -> PathBuf {
    let classes = std::fs::read_to_string("/etc/passwd")
        .map(|t| t.lines().count())
        .unwrap_or(0)
        .max(5) as i64;
    let m = classifier_model(dir, "m.onnx", classes);
    let json = serde_json::json!({ "labels": labels }).to_string();
    std::fs::write(dir.join("m.featscope.json"), json).expect("write the sidecar");
    m
}

/// Fails naming the sidecar, and nothing of /etc/passwd reaches any stream or output file.
fn assert_labels_refused(model_dir: &Path, m: &Path) {
    for backend in backends() {
        let out = model_dir.join(format!("out-{backend}"));
        let o = snapshot(backend, argv![m, chelsea(), "--out", &out]);
        assert_runtime_error(&o, "m.featscope.json");
        let mut seen = [o.stdout.clone(), o.stderr.clone()].concat();
        for f in files_under(&out) {
            seen.extend(std::fs::read(&f).unwrap_or_default());
        }
        let seen = String::from_utf8_lossy(&seen);
        for line in passwd_lines() {
            assert!(
                !seen.contains(&line),
                "a line of /etc/passwd leaked: {line:?}\n{}",
                o.describe()
            );
        }
    }
}

/// `"labels": "../../…/etc/passwd"` in a sidecar must not read outside the model's folder.
#[test]
fn sidecar_labels_with_dot_dot_cannot_leave_the_model_folder() {
    let dir = tempfile::tempdir().unwrap();
    let m = labels_setup(dir.path(), "../../../../../../../../../../etc/passwd");
    assert_labels_refused(dir.path(), &m);
}

/// An absolute `labels` path in a sidecar is refused.
#[test]
fn sidecar_labels_with_an_absolute_path_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let m = labels_setup(dir.path(), "/etc/passwd");
    assert_labels_refused(dir.path(), &m);
}

/// A labels file inside the folder that is a symlink to a file outside it is refused.
#[test]
fn sidecar_labels_through_a_symlink_out_of_the_folder_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let m = labels_setup(dir.path(), "labels.txt");
    std::os::unix::fs::symlink("/etc/passwd", dir.path().join("labels.txt")).unwrap();
    assert_labels_refused(dir.path(), &m);
}

/// Positive control: a regular labels file inside the model's folder keeps working, and its
/// names reach summary.json's top-5 (which is what makes the leak checks above meaningful).
#[test]
fn sidecar_labels_inside_the_model_folder_still_work() {
    let dir = tempfile::tempdir().unwrap();
    let m = labels_setup(dir.path(), "labels.txt");
    let classes = std::fs::read_to_string("/etc/passwd")
        .map(|t| t.lines().count())
        .unwrap_or(0)
        .max(5);
    let text: String = (0..classes).map(|i| format!("class{i}\n")).collect();
    std::fs::write(dir.path().join("labels.txt"), text).unwrap();
    for backend in backends() {
        let out = dir.path().join(format!("out-{backend}"));
        let o = snapshot(backend, argv![&m, chelsea(), "--out", &out]);
        assert_success(&o);
        assert_clean_streams(&o);
        let s = summary(&out);
        let top = s["top5"][0]["label"].as_str().unwrap_or_default();
        assert!(top.starts_with("class"), "top-5 from labels.txt: {s}");
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Escape sequences in file names and sidecar values.
// ---------------------------------------------------------------------------------------------

/// A missing image whose name holds ESC and BEL (an OSC title sequence) is reported on one line
/// without those bytes reaching the terminal.
#[test]
fn an_image_name_with_escape_sequences_is_not_echoed_raw() {
    let dir = tempfile::tempdir().unwrap();
    let evil = dir.path().join("\x1b]0;pwned\x07.png");
    for backend in backends() {
        let o = snapshot(
            backend,
            argv![seed(), &evil, "--out", dir.path().join("out")],
        );
        assert_runtime_error(&o, "pwned");
    }
}

/// A model path with ESC: missing, or present but not ONNX, the one error line has no raw ESC.
#[test]
fn a_model_name_with_escape_sequences_is_not_echoed_raw() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("\x1b[31mpwned\x1b]0;x\x07.onnx");
    let garbage = dir.path().join("\x1b[2Jgarbage-pwned.onnx");
    std::fs::write(&garbage, b"\x1b[2J\x07 not a model").unwrap();
    for backend in backends() {
        for m in [&missing, &garbage] {
            let o = snapshot(
                backend,
                argv![m, chelsea(), "--out", dir.path().join("out")],
            );
            assert_runtime_error(&o, "pwned");
        }
    }
}

/// A sidecar value holding ESC (`"preset": "\u001b[31mx"`) is reported naming the sidecar,
/// without the raw ESC.
#[test]
fn a_sidecar_value_with_escape_sequences_is_not_echoed_raw() {
    let dir = tempfile::tempdir().unwrap();
    let m = seed_copy(dir.path(), Some(r#"{"preset": "\u001b[31mx\u0007"}"#));
    for backend in backends() {
        let o = snapshot(
            backend,
            argv![&m, chelsea(), "--out", dir.path().join("out")],
        );
        assert_runtime_error(&o, "m.featscope.json");
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Temporary-file collisions, concurrent writers.
// ---------------------------------------------------------------------------------------------

/// Layers `Lk` and `Lk_grid`: `Lk_grid.png` and `Lk_grid.npy` share the stem a
/// `with_extension("part")` temp name would give them. Pairs of varied size make the parallel
/// writers overlap.
fn colliding_stems_model(dir: &Path) -> PathBuf {
    write_model(dir, "collide.onnx", |g| {
        g.input("x", FLOAT, &fixed(&[1, 3, 96, 96]));
        for k in 1..=4i64 {
            for (node, ch) in [(format!("L{k}"), 4 * k), (format!("L{k}_grid"), 20 - 4 * k)] {
                let w = format!("{node}.w");
                let conv = format!("{node}.conv");
                g.initializer(tensor_f32(&w, &[ch, 3, 1, 1], &weights((ch * 3) as usize)))
                    .node(
                        "Conv",
                        "",
                        &["x", &w],
                        &[&conv],
                        vec![attr_ints("kernel_shape", &[1, 1])],
                    )
                    .node("Relu", &node, &[&conv], &[&node], vec![])
                    .output(&node, FLOAT, &[]);
            }
        }
    })
}

/// Layer file names that collide once a temp suffix replaces the extension must not corrupt
/// each other: every run succeeds, every .npy is NumPy and every .png is PNG, nothing temporary
/// is left.
#[test]
fn layer_names_whose_temp_files_would_collide_write_intact_files() {
    let dir = tempfile::tempdir().unwrap();
    let m = colliding_stems_model(dir.path());
    for backend in backends() {
        for i in 0..10 {
            let out = dir.path().join(format!("out-{backend}-{i}"));
            let o = snapshot(backend, argv![&m, chelsea(), "--npy", "--out", &out]);
            assert_success(&o);
            assert_clean_streams(&o);
            let files = files_under(&out);
            for k in 1..=4 {
                for f in [format!("L{k}_grid.png"), format!("L{k}_grid.npy")] {
                    assert!(out.join(&f).is_file(), "run {i}: {f} missing: {files:?}");
                }
            }
            for f in &files {
                let bytes = std::fs::read(f).unwrap();
                let name = f.file_name().unwrap().to_string_lossy();
                if name.ends_with(".npy") {
                    assert!(bytes.starts_with(NPY_MAGIC), "run {i}: {name} is not NumPy");
                } else if name.ends_with(".png") {
                    assert!(bytes.starts_with(PNG_MAGIC), "run {i}: {name} is not PNG");
                }
            }
            assert_no_temp_files(&out, &format!("run {i}"));
            let listed = listed_files(&summary(&out));
            for f in &listed {
                assert!(out.join(f).is_file(), "run {i}: listed {f} missing");
            }
        }
    }
}

/// Two processes snapshotting different images into the same --out: whatever order they end
/// in, the folder is consistent afterwards: summary.json names an image, every file it lists is
/// that image's (byte-equal to a solo run), and no other featscope file lies beside them.
#[test]
fn two_concurrent_snapshots_into_one_folder_leave_a_consistent_folder() {
    let dir = tempfile::tempdir().unwrap();
    for backend in backends() {
        let solo = |image: &Path, name: &str| {
            let out = dir.path().join(format!("solo-{backend}-{name}"));
            let o = snapshot(backend, argv![seed(), image, "--npy", "--out", &out]);
            assert_success(&o);
            out
        };
        let refs = [
            (chelsea(), solo(&chelsea(), "a")),
            (coffee(), solo(&coffee(), "b")),
        ];
        // Solo runs are deterministic, or byte comparison below would mean nothing.
        let again = solo(&chelsea(), "a2");
        for f in listed_files(&summary(&refs[0].1)) {
            assert_eq!(
                std::fs::read(refs[0].1.join(&f)).unwrap(),
                std::fs::read(again.join(&f)).unwrap(),
                "solo runs differ in {f}"
            );
        }
        for round in 0..5 {
            let out = dir.path().join(format!("shared-{backend}-{round}"));
            let start = |image: &Path| {
                let mut args = argv!["snapshot", seed(), image, "--npy", "--out", &out];
                args.extend(argv!["--backend", *backend]);
                spawn(featscope_cmd(&args))
            };
            let a = start(&refs[0].0);
            let b = start(&refs[1].0);
            let (a, b) = (a.wait(), b.wait());
            for o in [&a, &b] {
                if o.code != Some(0) {
                    // Refusing a folder in use is acceptable; crashing or garbling is not.
                    assert_runtime_error(o, &out.file_name().unwrap().to_string_lossy());
                }
            }
            assert!(
                a.code == Some(0) || b.code == Some(0),
                "round {round}: neither run succeeded:\n{}\n{}",
                a.describe(),
                b.describe()
            );
            assert_no_temp_files(&out, &format!("round {round}"));
            let s = summary(&out);
            let image = s["image"].as_str().expect("summary.json image");
            let (_, reference) = refs
                .iter()
                .find(|(img, _)| image.ends_with(&*img.file_name().unwrap().to_string_lossy()))
                .unwrap_or_else(|| panic!("round {round}: summary names {image}"));
            let listed = listed_files(&s);
            for f in &listed {
                let got = std::fs::read(out.join(f))
                    .unwrap_or_else(|e| panic!("round {round}: listed {f}: {e}"));
                let want = std::fs::read(reference.join(f)).unwrap();
                assert!(
                    got == want,
                    "round {round}: {f} is not from {image}, which summary.json names"
                );
            }
            let present: BTreeSet<String> = files_under(&out)
                .iter()
                .map(|p| p.strip_prefix(&out).unwrap().to_string_lossy().into_owned())
                .filter(|n| n != "summary.json")
                .collect();
            assert_eq!(
                present, listed,
                "round {round}: files beside summary.json differ from those it lists"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Interrupted snapshots.
// ---------------------------------------------------------------------------------------------

/// The VGG runs take ~10 s of both cores each: one test at a time holds them, so the watchdog
/// measures featscope and not the other tests.
fn heavy() -> MutexGuard<'static, ()> {
    static HEAVY: Mutex<()> = Mutex::new(());
    HEAVY.lock().unwrap_or_else(|e| e.into_inner())
}

fn vgg_args(out: &Path) -> Vec<OsString> {
    argv![
        model("light_vgg19.onnx"),
        chelsea(),
        "--all",
        "--npy",
        "--out",
        out
    ]
}

fn start_vgg(backend: &str, out: &Path) -> Running {
    let mut args = argv!["snapshot"];
    args.extend(vgg_args(out));
    args.extend(argv!["--backend", backend]);
    spawn(featscope_cmd(&args))
}

/// Waits until the first file appears in `dir` (the run is writing), or `limit` passes.
fn wait_for_first_file(dir: &Path, limit: Duration) {
    let t = Instant::now();
    while t.elapsed() < limit {
        let writing = files_under(dir).iter().any(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(".featscope-write-test"))
        });
        if writing {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// When a signal is sent: this long after the start (loading, running), or this long after the
/// first file appeared in --out (writing).
#[derive(Clone, Copy, Debug)]
enum Moment {
    AfterStart(u64),
    WhileWriting(u64),
}

/// SIGINT or SIGTERM during a big snapshot: exit 130 / 143, and no temporary files left, at
/// several moments (loading, running, and while files are being written).
fn interrupted(sig: i32, code: i32) {
    let _one_at_a_time = heavy();
    let dir = tempfile::tempdir().expect("tempdir");
    for backend in backends() {
        let moments = [
            Moment::AfterStart(500),
            Moment::AfterStart(1000),
            Moment::AfterStart(1500),
            Moment::WhileWriting(0),
            Moment::WhileWriting(100),
        ];
        for (i, moment) in moments.into_iter().enumerate() {
            let out = dir.path().join(format!("out-{backend}-{i}"));
            let r = start_vgg(backend, &out);
            match moment {
                Moment::AfterStart(ms) => std::thread::sleep(Duration::from_millis(ms)),
                Moment::WhileWriting(ms) => {
                    wait_for_first_file(&out, Duration::from_secs(15));
                    std::thread::sleep(Duration::from_millis(ms));
                }
            }
            r.signal(sig);
            let o = r.wait();
            let when = format!("--backend {backend}, signal {sig} at {moment:?} (ms)");
            if o.code != Some(0) {
                assert_eq!(
                    o.code,
                    Some(code),
                    "{when}: exit {code} expected: {}",
                    o.describe()
                );
            }
            assert!(!o.stderr().contains("panicked"), "{when}: {}", o.describe());
            assert_clean_streams(&o);
            assert_no_temp_files(&out, &when);
        }
    }
}

/// Ctrl-C during a big snapshot: exit 130, no temp files.
#[test]
fn sigint_during_a_snapshot_exits_130_and_leaves_no_temp_files() {
    interrupted(libc::SIGINT, 130);
}

/// SIGTERM during a big snapshot: exit 143, no temp files.
#[test]
fn sigterm_during_a_snapshot_exits_143_and_leaves_no_temp_files() {
    interrupted(libc::SIGTERM, 143);
}

/// SIGKILL mid-write can leave temp files; the next snapshot into the same folder must sweep
/// them and finish cleanly.
#[test]
fn a_snapshot_after_a_sigkill_mid_write_leaves_no_stale_temp_files() {
    let _one_at_a_time = heavy();
    let dir = tempfile::tempdir().unwrap();
    for backend in backends() {
        let out = dir.path().join(format!("out-{backend}"));
        let r = start_vgg(backend, &out);
        wait_for_first_file(&out, Duration::from_secs(15));
        r.signal(libc::SIGKILL);
        let killed = r.wait();
        assert_eq!(killed.signal, Some(libc::SIGKILL), "{}", killed.describe());
        let left = files_under(&out)
            .into_iter()
            .filter(|p| is_temp_file(p))
            .count();
        eprintln!("SIGKILL mid-write left {left} temporary file(s)");
        let o = snapshot(backend, vgg_args(&out));
        assert_success(&o);
        assert_clean_streams(&o);
        assert_no_temp_files(&out, "after the rerun");
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Degenerate graphs and images that could panic.
// ---------------------------------------------------------------------------------------------

/// Each model must be refused with exit 1 and one line naming the model file, on every backend.
fn assert_model_refused(model: &Path) {
    let name = model
        .file_name()
        .expect("a file name")
        .to_string_lossy()
        .into_owned();
    for backend in backends() {
        let out = model.with_extension(format!("out-{backend}"));
        let o = snapshot(backend, argv![model, chelsea(), "--out", &out]);
        assert_runtime_error(&o, &name);
    }
}

/// An image input of rank 1 ([3]) or rank 0 is refused, not indexed out of bounds.
#[test]
fn an_input_of_rank_one_or_zero_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (name, dims) in [("rank1.onnx", fixed(&[3])), ("rank0.onnx", vec![])] {
        let m = write_model(dir.path(), name, |g| {
            g.input("x", FLOAT, &dims)
                .node("Relu", "relu", &["x"], &["y"], vec![])
                .output("y", FLOAT, &[]);
        });
        assert_model_refused(&m);
    }
}

/// Conv with strides [0, 0] (a division by zero in shape inference).
#[test]
fn a_conv_with_zero_strides_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let m = conv_model(
        dir.path(),
        "conv_stride0.onnx",
        &[1, 3, 32, 32],
        4,
        3,
        vec![attr_ints("strides", &[0, 0])],
    );
    assert_model_refused(&m);
}

/// Conv with `pads` of the wrong length ([1, 1] for a 2-D conv, which needs 4).
#[test]
fn a_conv_with_pads_of_the_wrong_length_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let m = conv_model(
        dir.path(),
        "conv_pads2.onnx",
        &[1, 3, 32, 32],
        4,
        3,
        vec![attr_ints("pads", &[1, 1])],
    );
    assert_model_refused(&m);
}

/// MaxPool with kernel_shape [0, 0].
#[test]
fn a_maxpool_with_a_zero_kernel_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let m = maxpool_model(
        dir.path(),
        "pool_k0.onnx",
        vec![attr_ints("kernel_shape", &[0, 0])],
    );
    assert_model_refused(&m);
}

/// MaxPool with strides [0, 0].
#[test]
fn a_maxpool_with_zero_strides_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let m = maxpool_model(
        dir.path(),
        "pool_s0.onnx",
        vec![
            attr_ints("kernel_shape", &[2, 2]),
            attr_ints("strides", &[0, 0]),
        ],
    );
    assert_model_refused(&m);
}

/// A string-typed initializer (data_type 8) fed to an arithmetic node.
#[test]
fn a_string_initializer_used_by_a_node_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let m = write_model(dir.path(), "string_init.onnx", |g| {
        g.input("x", FLOAT, &fixed(&[1, 3, 32, 32]))
            .initializer(TensorProto {
                dims: vec![1],
                data_type: 8,
                name: "s".into(),
                raw_data: bytes::Bytes::from_static(b"\x03abc"),
                ..Default::default()
            })
            .node("Mul", "mul", &["x", "s"], &["y"], vec![])
            .output("y", FLOAT, &[]);
    });
    assert_model_refused(&m);
}

/// A graph output that names a tensor nothing produces.
#[test]
fn a_graph_output_that_names_no_tensor_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let m = write_model(dir.path(), "ghost_output.onnx", |g| {
        g.input("x", FLOAT, &fixed(&[1, 3, 32, 32]))
            .node("Relu", "relu", &["x"], &["y"], vec![])
            .output("ghost", FLOAT, &fixed(&[1, 3, 32, 32]));
    });
    assert_model_refused(&m);
}

/// Images too small for the seed CNN's valid convolutions (1×1, 1×300, 16×16) fail with one
/// line naming the image, alone or in a folder; the good images in that folder are done.
#[test]
fn images_too_small_for_the_network_fail_cleanly_and_the_rest_is_done() {
    let dir = tempfile::tempdir().unwrap();
    let batch = dir.path().join("batch");
    std::fs::create_dir(&batch).unwrap();
    let small = [
        ("tiny1x1.png", 1, 1),
        ("thin1x300.png", 1, 300),
        ("small16.png", 16, 16),
    ];
    for (name, w, h) in small {
        write_png(&batch.join(name), w, h);
    }
    std::fs::copy(chelsea(), batch.join("good_a.png")).unwrap();
    std::fs::copy(chelsea(), batch.join("good_b.png")).unwrap();
    for backend in backends() {
        for (name, _, _) in small {
            let out = dir.path().join(format!("one-{backend}-{name}"));
            let o = snapshot(backend, argv![seed(), batch.join(name), "--out", &out]);
            assert_runtime_error(&o, name);
        }
        let out = dir.path().join(format!("batch-{backend}"));
        let o = snapshot(backend, argv![seed(), &batch, "--out", &out]);
        assert_batch_failures(&o, &["tiny1x1.png", "thin1x300.png", "small16.png"]);
        for good in ["good_a", "good_b"] {
            assert!(
                out.join(good).join("summary.json").is_file(),
                "{good} not done: {}",
                o.describe()
            );
        }
        for (name, _, _) in small {
            let stem = name.trim_end_matches(".png");
            assert!(!out.join(stem).join("summary.json").exists(), "{stem}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Absurd declared input sizes.
// ---------------------------------------------------------------------------------------------

/// A fixed input of [1,3,2147483647,224], or [1,3,100000,224] feeding 512 channels (46 GB of
/// activations), is refused up front, saying how much memory it would take, instead of
/// allocating (the 4 GB cap turns that into an abort).
#[test]
fn a_huge_declared_input_is_refused_with_the_memory_it_would_need() {
    let dir = tempfile::tempdir().unwrap();
    for (h, channels) in [(2_147_483_647i64, 2), (100_000, 512)] {
        let name = format!("tall{h}.onnx");
        let m = conv_model(dir.path(), &name, &[1, 3, h, 224], channels, 1, vec![]);
        for backend in backends() {
            let out = dir.path().join(format!("out-{backend}"));
            let o = snapshot(backend, argv![&m, chelsea(), "--out", &out]);
            assert_runtime_error(&o, &name);
            let line = o.stderr();
            assert!(
                ["memory", "GB", "GiB", "TB", "TiB"]
                    .iter()
                    .any(|u| line.contains(u)),
                "the error does not say how much memory it needs: {}",
                o.describe()
            );
        }
    }
}

/// `layers` and `compare` go through the same budget as `snapshot`: `layers` used to make a blank
/// picture of the declared size first (mnist-8 re-declared as 100000×100000 aborted allocating
/// 30 GB). A large input whose graph contradicts it (a Reshape to a fixed size after the Conv,
/// as mnist-8 has), so that no engine can size the run, is refused too, not run for hours.
#[test]
fn every_command_refuses_a_declared_input_it_cannot_afford_or_size() {
    let dir = tempfile::tempdir().unwrap();
    let huge = conv_model(
        dir.path(),
        "huge.onnx",
        &[1, 1, 100_000, 100_000],
        8,
        5,
        vec![],
    );
    let contradicted = write_model(dir.path(), "contradicted.onnx", |g| {
        g.input("x", FLOAT, &fixed(&[1, 3, 3000, 3000]))
            .initializer(tensor_f32("w", &[4, 3, 1, 1], &weights(12)))
            .initializer(featscope::model::builder::tensor_i64("to", &[2], &[1, 256]))
            .node("Conv", "conv", &["x", "w"], &["y"], vec![])
            .node("Reshape", "flat", &["y", "to"], &["z"], vec![])
            .output("z", FLOAT, &[]);
    });
    for (model, name) in [(&huge, "huge.onnx"), (&contradicted, "contradicted.onnx")] {
        for backend in backends() {
            let out = dir.path().join(format!("out-{name}-{backend}"));
            let commands = [
                argv!["layers", model, "--backend", backend],
                argv![
                    "snapshot",
                    model,
                    chelsea(),
                    "--out",
                    &out,
                    "--backend",
                    backend
                ],
                argv![
                    "compare",
                    model,
                    chelsea(),
                    coffee(),
                    "--out",
                    &out,
                    "--backend",
                    backend
                ],
            ];
            for args in commands {
                let o = run(&args);
                assert_runtime_error(&o, name);
                assert!(
                    o.stderr().contains("memory") || o.stderr().contains("tract could not"),
                    "neither the memory nor the engine's reason: {}",
                    o.describe()
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 7. Special files.
// ---------------------------------------------------------------------------------------------

/// /dev/zero as the model: refused (not read forever).
#[test]
fn dev_zero_as_the_model_is_refused() {
    for backend in backends() {
        let dir = tempfile::tempdir().unwrap();
        let o = snapshot(backend, argv!["/dev/zero", chelsea(), "--out", dir.path()]);
        assert_runtime_error(&o, "/dev/zero");
    }
}

/// /dev/zero as the image: refused.
#[test]
fn dev_zero_as_the_image_is_refused() {
    for backend in backends() {
        let dir = tempfile::tempdir().unwrap();
        let o = snapshot(backend, argv![seed(), "/dev/zero", "--out", dir.path()]);
        assert_runtime_error(&o, "/dev/zero");
    }
}

/// A FIFO as the model: refused, not a hang waiting for a writer.
#[test]
fn a_fifo_as_the_model_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.onnx");
    mkfifo(&fifo);
    for backend in backends() {
        let o = snapshot(
            backend,
            argv![&fifo, chelsea(), "--out", dir.path().join("out")],
        );
        assert_runtime_error(&o, "fifo.onnx");
    }
}

/// A FIFO as the image: refused, not a hang.
#[test]
fn a_fifo_as_the_image_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.png");
    mkfifo(&fifo);
    for backend in backends() {
        let o = snapshot(
            backend,
            argv![seed(), &fifo, "--out", dir.path().join("out")],
        );
        assert_runtime_error(&o, "fifo.png");
    }
}

/// A FIFO as the model's sidecar (m.featscope.json): refused naming it, not a hang.
#[test]
fn a_fifo_as_the_sidecar_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let m = seed_copy(dir.path(), None);
    mkfifo(&dir.path().join("m.featscope.json"));
    for backend in backends() {
        let o = snapshot(
            backend,
            argv![&m, chelsea(), "--out", dir.path().join("out")],
        );
        assert_runtime_error(&o, "m.featscope.json");
    }
}

/// A FIFO as the labels file the sidecar names inside the model folder: refused, not a hang.
#[test]
fn a_fifo_as_the_labels_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let m = seed_copy(dir.path(), Some(r#"{"labels": "labels.txt"}"#));
    mkfifo(&dir.path().join("labels.txt"));
    for backend in backends() {
        let o = snapshot(
            backend,
            argv![&m, chelsea(), "--out", dir.path().join("out")],
        );
        assert_runtime_error(&o, "labels.txt");
    }
}

/// A sidecar that is a symlink to /dev/zero: refused naming it, not read forever.
#[test]
fn a_sidecar_symlinked_to_dev_zero_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let m = seed_copy(dir.path(), None);
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("m.featscope.json")).unwrap();
    for backend in backends() {
        let o = snapshot(
            backend,
            argv![&m, chelsea(), "--out", dir.path().join("out")],
        );
        assert_runtime_error(&o, "m.featscope.json");
    }
}

// ---------------------------------------------------------------------------------------------
// 8. Enormous pads.
// ---------------------------------------------------------------------------------------------

/// Conv pads of 2^40 on every side: refused quickly, not a spin or a giant allocation.
#[test]
fn a_conv_with_enormous_pads_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = 1i64 << 40;
    let m = conv_model(
        dir.path(),
        "huge_pads.onnx",
        &[1, 3, 32, 32],
        2,
        3,
        vec![attr_ints("pads", &[p, p, p, p])],
    );
    assert_model_refused(&m);
}

// ---------------------------------------------------------------------------------------------
// 9. A terminal that never answers.
// ---------------------------------------------------------------------------------------------

fn shell_quote(p: &Path) -> String {
    format!("'{}'", p.to_string_lossy().replace('\'', r"'\''"))
}

/// `snapshot --print` with stdout a terminal that never answers queries (script's pty, stdin
/// /dev/null) must still finish.
#[test]
fn print_to_a_terminal_that_never_answers_finishes() {
    let dir = tempfile::tempdir().unwrap();
    for backend in backends() {
        let out = dir.path().join(format!("out-{backend}"));
        let inner = format!(
            "{} snapshot {} {} --layer 0 --print --out {} --backend {backend}",
            shell_quote(Path::new(env!("CARGO_BIN_EXE_featscope"))),
            shell_quote(&seed()),
            shell_quote(&chelsea()),
            shell_quote(&out),
        );
        let mut cmd = capped(
            "script",
            &["-qfec".into(), inner.into(), "/dev/null".into()],
        );
        cmd.env("SHELL", "/bin/sh").env("TERM", "xterm-256color");
        let o = spawn(cmd).wait();
        assert_eq!(o.code, Some(0), "{}", o.describe());
        assert!(!o.stdout().contains("panicked"), "{}", o.describe());
        assert!(out.join("summary.json").is_file(), "{}", o.describe());
    }
}

// ---------------------------------------------------------------------------------------------
// 10. Messages that name the right file.
// ---------------------------------------------------------------------------------------------

/// A fixed input height of 0: the error names the model file.
#[test]
fn a_zero_input_dimension_names_the_model_file() {
    let dir = tempfile::tempdir().unwrap();
    let m = conv_model(dir.path(), "zero_h.onnx", &[1, 3, 0, 224], 2, 1, vec![]);
    assert_model_refused(&m);
}

/// `"std": [0,0,0]` in a sidecar: the error names the sidecar, not a `--std` flag never given.
#[test]
fn a_zero_std_in_the_sidecar_names_the_sidecar() {
    let dir = tempfile::tempdir().unwrap();
    let m = seed_copy(dir.path(), Some(r#"{"std": [0, 0, 0]}"#));
    for backend in backends() {
        let o = snapshot(
            backend,
            argv![&m, chelsea(), "--out", dir.path().join("out")],
        );
        assert_runtime_error(&o, "m.featscope.json");
    }
}

/// A folder given as the model: one line, the OS error not repeated.
#[test]
fn a_directory_as_the_model_gives_one_line_without_a_doubled_os_error() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("model_dir.onnx");
    std::fs::create_dir(&folder).unwrap();
    for backend in backends() {
        let o = snapshot(
            backend,
            argv![&folder, chelsea(), "--out", dir.path().join("out")],
        );
        assert_runtime_error(&o, "model_dir.onnx");
        let err = o.stderr();
        let mut seen = BTreeSet::new();
        for part in err.split("(os error ").skip(1) {
            let n = part.split(')').next().unwrap_or_default();
            assert!(
                seen.insert(n.to_string()),
                "os error {n} twice: {}",
                o.describe()
            );
        }
    }
}

/// An empty folder among several image arguments is one failure; the other images are done.
#[test]
fn an_empty_folder_among_images_is_one_failure_and_the_rest_is_done() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty_folder");
    std::fs::create_dir(&empty).unwrap();
    for backend in backends() {
        let out = dir.path().join(format!("out-{backend}"));
        let o = snapshot(
            backend,
            argv![
                seed(),
                chelsea(),
                &empty,
                coffee(),
                "--layer",
                "pool1",
                "--out",
                &out
            ],
        );
        assert_batch_failures(&o, &["empty_folder"]);
        for done in ["chelsea", "coffee"] {
            assert!(
                out.join(done).join("summary.json").is_file(),
                "{done} not done: {}",
                o.describe()
            );
        }
    }
}
