//! Reading the files people download and point featscope at: models, images, sidecars, label
//! lists. Only regular files are read (a FIFO would block forever, `/dev/zero` never ends), their
//! size is known before reading, and every kind of file has a ceiling.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// An ONNX file is one protobuf message, which cannot exceed 2 GiB; larger models keep their
/// weights as external data.
pub const MODEL_LIMIT: u64 = 2 << 30;
/// Images: far above any photo, far below what would strain memory before decoding.
pub const IMAGE_LIMIT: u64 = 256 << 20;
/// A `<model>.featscope.json`.
pub const SIDECAR_LIMIT: u64 = 1 << 20;
/// A labels file: one class per line.
pub const LABELS_LIMIT: u64 = 10 << 20;

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{path}: cannot read: {reason}")]
    Io { path: String, reason: String },
    #[error("{path}: is {kind}, not a regular file")]
    NotRegular { path: String, kind: &'static str },
    #[error("{path}: is {size} bytes, over the {limit}-byte limit for {what}")]
    TooLarge {
        path: String,
        size: u64,
        limit: u64,
        what: &'static str,
    },
    #[error("{path}: {what} must be inside the model's folder {dir} (a relative path, no '..', no link out)")]
    Outside {
        path: String,
        what: &'static str,
        dir: String,
    },
}

/// The OS's reason without Rust's "(os error N)" suffix, which the message does not need.
fn reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "a special file"
    }
}

/// Opens `path` for reading without blocking (a FIFO with no writer would block the open
/// itself) and checks that it is a regular file; returns it with its size.
pub fn open_regular(path: &Path) -> Result<(File, u64), FileError> {
    use std::os::unix::fs::OpenOptionsExt;
    let shown = path.display().to_string();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| FileError::Io {
            path: shown.clone(),
            reason: reason(&e),
        })?;
    let meta = file.metadata().map_err(|e| FileError::Io {
        path: shown.clone(),
        reason: reason(&e),
    })?;
    if !meta.is_file() {
        return Err(FileError::NotRegular {
            path: shown,
            kind: kind_of(&meta),
        });
    }
    Ok((file, meta.len()))
}

/// The whole of a regular file of at most `limit` bytes (`what` names the kind of file in the
/// message when it is larger).
pub fn read_limited(path: &Path, limit: u64, what: &'static str) -> Result<Vec<u8>, FileError> {
    let (file, size) = open_regular(path)?;
    let shown = || path.display().to_string();
    if size > limit {
        return Err(FileError::TooLarge {
            path: shown(),
            size,
            limit,
            what,
        });
    }
    let mut bytes = Vec::with_capacity(size as usize);
    // A file that grows while read still stops at the limit.
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| FileError::Io {
            path: shown(),
            reason: reason(&e),
        })?;
    if bytes.len() as u64 > limit {
        return Err(FileError::TooLarge {
            path: shown(),
            size: bytes.len() as u64,
            limit,
            what,
        });
    }
    Ok(bytes)
}

/// A file a model's sidecar names (`name`, relative to the model's folder `dir`), checked to
/// stay inside that folder once links are resolved.
pub fn inside_folder(dir: &Path, name: &str, what: &'static str) -> Result<PathBuf, FileError> {
    let path = dir.join(name);
    let outside = || FileError::Outside {
        path: path.display().to_string(),
        what,
        dir: dir.display().to_string(),
    };
    let relative = Path::new(name);
    if name.is_empty()
        || relative.is_absolute()
        || relative
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(outside());
    }
    let real_dir = dir.canonicalize().map_err(|e| FileError::Io {
        path: dir.display().to_string(),
        reason: reason(&e),
    })?;
    let real = path.canonicalize().map_err(|e| FileError::Io {
        path: path.display().to_string(),
        reason: reason(&e),
    })?;
    if !real.starts_with(&real_dir) {
        return Err(outside());
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_files_are_refused_without_blocking() {
        let dir = tempfile::tempdir().expect("temp dir");
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).expect("path");
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read_limited(&fifo, 10, "a test").expect_err("a FIFO");
        assert!(
            e.to_string().ends_with("is a FIFO, not a regular file"),
            "{e}"
        );
        let e = read_limited(Path::new("/dev/zero"), 10, "a test").expect_err("a device");
        assert!(e.to_string().contains("character device"), "{e}");
        let e = read_limited(dir.path(), 10, "a test").expect_err("a directory");
        assert_eq!(
            e.to_string(),
            format!(
                "{}: is a directory, not a regular file",
                dir.path().display()
            )
        );
        let e = read_limited(&dir.path().join("nope"), 10, "a test").expect_err("missing");
        assert!(!e.to_string().contains("os error"), "{e}");
    }

    #[test]
    fn sizes_are_bounded() {
        let dir = tempfile::tempdir().expect("temp dir");
        let f = dir.path().join("f");
        std::fs::write(&f, b"0123456789").expect("write");
        assert_eq!(read_limited(&f, 10, "a test").expect("fits"), b"0123456789");
        let e = read_limited(&f, 9, "a test").expect_err("too big");
        assert!(
            e.to_string()
                .contains("10 bytes, over the 9-byte limit for a test"),
            "{e}"
        );
    }

    #[test]
    fn sidecar_paths_stay_in_the_folder() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("labels.txt"), "cat\n").expect("write");
        assert!(inside_folder(dir.path(), "labels.txt", "labels").is_ok());
        for bad in ["../x", "/etc/passwd", "", "a/../../x"] {
            assert!(
                matches!(
                    inside_folder(dir.path(), bad, "labels"),
                    Err(FileError::Outside { .. })
                ),
                "{bad}"
            );
        }
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("link")).expect("symlink");
        assert!(matches!(
            inside_folder(dir.path(), "link", "labels"),
            Err(FileError::Outside { .. })
        ));
    }
}
