//! Text from files (model names, labels, paths, values quoted in errors) on its way to the
//! terminal. Control characters would let a file drive the terminal (ESC, BEL), and
//! bidirectional overrides and zero-width marks would let it disguise what is shown.

/// Replaces control characters (ESC, BEL, CR, C1 controls), bidirectional overrides and
/// zero-width marks with `?`.
pub fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            let disguising = matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}');
            if c.is_control() || disguising {
                '?'
            } else {
                c
            }
        })
        .collect()
}

/// `s` on one line (line breaks become spaces), cleaned.
pub fn one_line(s: &str) -> String {
    sanitize(&s.replace(['\n', '\r'], " "))
}

/// Text that is safe to show: made only by cleaning ([`sanitize`]), so a name, label or message
/// typed `Clean` cannot carry a control character to the terminal. Model strings, labels and
/// engine messages become `Clean` where they are read; what the view and the commands print
/// of them is this type.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Clean(String);

impl Clean {
    pub fn new(s: &str) -> Clean {
        Clean(sanitize(s))
    }

    /// `s` on one line, cleaned.
    pub fn one_line(s: &str) -> Clean {
        Clean(one_line(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Clean {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Clean {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Clean {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad` so that widths and alignment in format strings apply (tables).
        f.pad(&self.0)
    }
}

impl From<&str> for Clean {
    fn from(s: &str) -> Clean {
        Clean::new(s)
    }
}

impl From<String> for Clean {
    fn from(s: String) -> Clean {
        Clean::new(&s)
    }
}

impl From<Clean> for std::borrow::Cow<'_, str> {
    fn from(c: Clean) -> Self {
        std::borrow::Cow::Owned(c.0)
    }
}

impl From<Clean> for String {
    fn from(c: Clean) -> String {
        c.0
    }
}

impl PartialEq<str> for Clean {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Clean {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// An error and its causes on one line, as `a: b: c`, cleaned: what featscope prints when
/// something fails.
pub fn error_line(e: &anyhow::Error) -> String {
    one_line(&format!("{e:#}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_disguises_are_replaced() {
        assert_eq!(sanitize("a\x1b]0;x\x07b"), "a?]0;x?b");
        assert_eq!(sanitize("x\u{202E}y\u{200B}"), "x?y?");
        assert_eq!(one_line("a\nb\rc"), "a b c");
        let e = anyhow::anyhow!("inner\x1b[31m").context("outer");
        assert_eq!(error_line(&e), "outer: inner?[31m");
        let clean = Clean::from("name\x1b[2J");
        assert_eq!(clean, "name?[2J");
        assert_eq!(Clean::one_line("a\nb"), "a b");
    }
}
