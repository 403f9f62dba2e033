//! How much memory a run may take. A model declares its input size, and a downloaded one may
//! declare 2³¹ pixels: the memory a run needs is estimated from the shapes before anything is
//! allocated, and a run beyond the budget is refused with what it would take.

/// The share of available memory a run may use by default.
const DEFAULT_SHARE: f64 = 0.75;

/// The memory budget and where it comes from, for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Budget {
    pub bytes: u64,
    pub source: String,
    /// Set by the user (`--max-memory`): trusted even where a run cannot be sized.
    pub explicit: bool,
}

impl Budget {
    /// `--max-memory` when given, else three quarters of the memory available now.
    pub fn new(max_memory: Option<u64>) -> Budget {
        if let Some(bytes) = max_memory {
            return Budget {
                bytes,
                source: "--max-memory".into(),
                explicit: true,
            };
        }
        match available() {
            Some(available) => Budget {
                bytes: (available as f64 * DEFAULT_SHARE) as u64,
                source: format!(
                    "{:.0}% of the {} available; --max-memory to change",
                    DEFAULT_SHARE * 100.0,
                    human(available)
                ),
                explicit: false,
            },
            None => Budget {
                bytes: u64::MAX,
                source: "available memory unknown".into(),
                explicit: false,
            },
        }
    }
}

/// Memory available to new work: `MemAvailable` from /proc/meminfo, else physical memory; no
/// more than the process may address (`ulimit -v`, a container's `prlimit --as`).
fn available() -> Option<u64> {
    let limit = {
        let mut rl = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit fills the struct it is given.
        let ok = unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut rl) } == 0;
        (ok && rl.rlim_cur != libc::RLIM_INFINITY).then_some(rl.rlim_cur)
    };
    match (system_available(), limit) {
        (Some(a), Some(l)) => Some(a.min(l)),
        (a, l) => a.or(l),
    }
}

fn system_available() -> Option<u64> {
    let from_meminfo = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("MemAvailable:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .map(|kb| kb * 1024)
        });
    from_meminfo.or_else(|| {
        // SAFETY: sysconf only reads system constants.
        let (pages, size) = unsafe {
            (
                libc::sysconf(libc::_SC_PHYS_PAGES),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        (pages > 0 && size > 0).then(|| pages as u64 * size as u64)
    })
}

/// `512M`, `4G`, `1.5G`, `800000000` → bytes (binary units: K = 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (number, unit) = match t.find(|c: char| c.is_ascii_alphabetic()) {
        Some(at) => (&t[..at], t[at..].to_ascii_uppercase()),
        None => (t, String::new()),
    };
    let scale: u64 = match unit.trim_end_matches("IB").trim_end_matches('B') {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => return Err(format!("'{s}': use a size like 512M, 4G or 1.5G")),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("'{s}': use a size like 512M, 4G or 1.5G"))?;
    if !(value.is_finite() && value > 0.0) {
        return Err(format!("'{s}': the size must be positive"));
    }
    Ok((value * scale as f64) as u64)
}

/// Bytes for people: `1.5 GiB`, `300 MiB`, `12 KiB`.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else if value < 10.0 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

/// `a × b × …` in bytes, or `None` past `u64` (a declared 2³¹ × 2³¹ input).
pub fn product(dims: &[usize], bytes_each: u64) -> Option<u64> {
    dims.iter()
        .try_fold(bytes_each, |acc, &d| acc.checked_mul(d as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4G"), Ok(4 << 30));
        assert_eq!(parse_size("512m"), Ok(512 << 20));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(
            parse_size("0").is_err() && parse_size("lots").is_err() && parse_size("4Q").is_err()
        );
        assert_eq!(human(3 << 29), "1.5 GiB");
        assert_eq!(human(300 << 20), "300 MiB");
        assert_eq!(human(12), "12 B");
        assert_eq!(product(&[1, 3, 224, 224], 4), Some(602_112));
        assert_eq!(product(&[1, 3, 1 << 31, 1 << 31, 1 << 31], 4), None);
        assert!(Budget::new(None).bytes > 0);
        assert_eq!(Budget::new(Some(7)).bytes, 7);
    }
}
