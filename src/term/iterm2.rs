//! iTerm2 inline images (also WezTerm's): a PNG in one OSC 1337, stretched over its cells.
//! The image belongs to the cells it covers, so text drawn there later replaces it.

use base64::Engine as _;

/// The escape sequence that shows `png` over `cols × rows` cells from the cursor.
pub fn sequence(png: &[u8], cols: u16, rows: u16) -> String {
    let data = base64::engine::general_purpose::STANDARD.encode(png);
    format!(
        "\x1b]1337;File=inline=1;size={};width={cols};height={rows};preserveAspectRatio=0;doNotMoveCursor=1:{data}\x07",
        png.len()
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_osc_with_the_cell_size() {
        let s = super::sequence(b"\x89PNG", 12, 5);
        assert_eq!(
            s,
            "\x1b]1337;File=inline=1;size=4;width=12;height=5;preserveAspectRatio=0;doNotMoveCursor=1:iVBORw==\x07"
        );
    }
}
