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
    }
}
