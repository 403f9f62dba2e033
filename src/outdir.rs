//! Writing into an output folder so that what is there is always whole: each file goes to a
//! temporary name of its own (unique per process and per file) and is renamed into place; one
//! process writes a folder at a time (an advisory lock on the folder); temporary files are
//! removed when the process is interrupted, and the next run removes those that a killed process
//! left behind.

use anyhow::{Context, Result};
use std::collections::HashSet;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Every temporary file featscope writes is named `.featscope-<pid>-<random>.part`.
const TEMP_PREFIX: &str = ".featscope-";
const TEMP_SUFFIX: &str = ".part";

/// Temporary files being written now, for the signal handler.
static LIVE: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

fn live(f: impl FnOnce(&mut HashSet<PathBuf>)) {
    let mut guard = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    f(guard.get_or_insert_with(HashSet::new));
}

/// Removes every temporary file this process is writing: call it on the way out (a signal).
/// The registry stays locked, so no writer registers a new name; one that registered just
/// before may still be creating its file, so the names are removed twice, a moment apart.
pub fn remove_temp_files() {
    let guard = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    let names: Vec<PathBuf> = guard.iter().flatten().cloned().collect();
    for _ in 0..2 {
        for path in &names {
            let _ = std::fs::remove_file(path);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Held until the process exits.
    std::mem::forget(guard);
}

/// A temporary name of ours in `dir`, unique to this process and this file.
fn temp_name(dir: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    dir.join(format!(
        "{TEMP_PREFIX}{}-{n}-{nanos:08x}{TEMP_SUFFIX}",
        std::process::id()
    ))
}

/// Creates `temp` (which must not exist) and runs `write` on it. The name is registered
/// before the file exists, so a signal's clean-up either sees it or stops it being created.
fn with_temp_file<T>(
    temp: &Path,
    write: impl FnOnce(&mut File) -> std::io::Result<T>,
) -> std::io::Result<T> {
    live(|l| {
        l.insert(temp.to_path_buf());
    });
    let result = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(temp)
        .and_then(|mut f| write(&mut f));
    if result.is_err() {
        let _ = std::fs::remove_file(temp);
    }
    result
}

fn forget_temp_file(temp: &Path) {
    live(|l| {
        l.remove(temp);
    });
}

/// Writes `bytes` to `path` whole or not at all: a temporary file in the same folder, renamed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let temp = temp_name(dir);
    let result = with_temp_file(&temp, |f| {
        f.write_all(bytes)?;
        std::fs::rename(&temp, path)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    forget_temp_file(&temp);
    result.with_context(|| format!("{}: cannot write", path.display()))
}

/// Proves `dir` writable by creating (and removing) a file of our own kind in it.
pub fn check_writable(dir: &Path) -> Result<()> {
    let temp = temp_name(dir);
    let result = with_temp_file(&temp, |_| Ok(()));
    let _ = std::fs::remove_file(&temp);
    forget_temp_file(&temp);
    result.with_context(|| format!("{}: the output folder is not writable", dir.display()))
}

/// Whether process `pid` is alive on this machine.
fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Removes the temporary files in `dir` that featscope processes which no longer run left
/// behind (killed mid-write): named like ours, with the id of a dead process.
pub fn remove_stale_temp_files(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        let Some(rest) = name
            .strip_prefix(TEMP_PREFIX)
            .and_then(|r| r.strip_suffix(TEMP_SUFFIX))
        else {
            continue;
        };
        let pid = rest.split('-').next().and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| p > 0 && !alive(p)) && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// An exclusive lock on an output folder, held while it is written: two featscope processes
/// writing the same folder take turns, so its summary always describes the files beside it.
pub struct FolderLock {
    _dir: File,
}

pub fn lock_folder(dir: &Path) -> Result<FolderLock> {
    let handle =
        File::open(dir).with_context(|| format!("{}: cannot open the folder", dir.display()))?;
    handle
        .lock()
        .with_context(|| format!("{}: cannot lock the folder", dir.display()))?;
    Ok(FolderLock { _dir: handle })
}

/// An output folder held by one command: created, proved writable, locked against another
/// featscope writing into it at the same time, and cleared of the temporary files a killed run
/// left. Files go into it whole ([`write_atomic`]); the lock goes when the guard does.
pub struct OutputFolder {
    path: PathBuf,
    _lock: FolderLock,
}

impl OutputFolder {
    pub fn open(dir: &Path) -> Result<OutputFolder> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create the output folder", dir.display()))?;
        check_writable(dir)?;
        let lock = lock_folder(dir)?;
        remove_stale_temp_files(dir);
        Ok(OutputFolder {
            path: dir.to_path_buf(),
            _lock: lock,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `name` (a plain name or a path below the folder) whole; its path.
    pub fn write(&self, name: impl AsRef<Path>, bytes: &[u8]) -> Result<PathBuf> {
        let path = self.path.join(name);
        write_atomic(&path, bytes)?;
        Ok(path)
    }
}

/// On SIGINT or SIGTERM: remove the temporary files being written and exit with 128 + the
/// signal (130, 143), as shells expect.
pub fn clean_up_on_signals() -> Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .context("cannot install signal handlers")?;
    std::thread::Builder::new()
        .name("featscope-signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                remove_temp_files();
                std::process::exit(128 + signal);
            }
        })
        .context("cannot start the signal watcher")?;
    Ok(())
}

/// A name that is safe as a file name on every OS: [A-Za-z0-9._-], no leading dot, ≤ 100 chars.
pub fn file_stem(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    s = s.trim_start_matches(['.', '_']).to_string();
    s.truncate(100);
    if s.is_empty() {
        s = "layer".into();
    }
    s
}

/// Gives each name a distinct file stem (case-insensitively, for macOS and Windows).
pub fn unique_stems<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut used: HashSet<String> = HashSet::new();
    names
        .into_iter()
        .map(|n| {
            let base = file_stem(n);
            let mut stem = base.clone();
            let mut k = 2;
            while !used.insert(stem.to_lowercase()) {
                stem = format!("{base}_{k}");
                k += 1;
            }
            stem
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_written_whole_under_their_own_temporary_names() {
        let dir = tempfile::tempdir().expect("temp dir");
        let a = dir.path().join("L11_grid.png");
        let b = dir.path().join("L11_grid.npy");
        std::thread::scope(|s| {
            for _ in 0..20 {
                s.spawn(|| write_atomic(&a, b"png").expect("a"));
                s.spawn(|| write_atomic(&b, b"npy").expect("b"));
            }
        });
        assert_eq!(std::fs::read(&a).expect("a"), b"png");
        assert_eq!(std::fs::read(&b).expect("b"), b"npy");
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn stale_temporary_files_of_dead_processes_go() {
        let dir = tempfile::tempdir().expect("temp dir");
        // A pid that cannot be alive: beyond the kernel's maximum.
        let dead = dir.path().join(".featscope-2147483646-abc.part");
        let mine = dir
            .path()
            .join(format!(".featscope-{}-abc.part", std::process::id()));
        let other = dir.path().join(".featscope-notapid.part");
        let user = dir.path().join("notes.part");
        for f in [&dead, &mine, &other, &user] {
            std::fs::write(f, b"x").expect("write");
        }
        remove_stale_temp_files(dir.path());
        assert!(!dead.exists());
        assert!(mine.exists() && other.exists() && user.exists());
    }
}
