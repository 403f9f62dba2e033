//! The help overlay, generated from [`KEYMAP`] so that it always says what the keys do.

use super::app::App;
use super::keymap::{Context, KEYMAP};
use super::layout::HelpBox;
use super::ui::{chars, Theme};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

/// The help text, generated from [`KEYMAP`]: one section per context.
pub fn help_sections() -> Vec<(&'static str, Vec<(String, &'static str)>)> {
    let order = [
        vec![Context::Browse],
        vec![Context::Global, Context::Always],
        vec![Context::Zoom],
        vec![Context::Compare],
        vec![Context::Filter],
        vec![Context::Help],
    ];
    order
        .iter()
        .map(|ctxs| {
            let rows = KEYMAP
                .iter()
                .filter(|b| ctxs.contains(&b.context))
                .map(|b| (b.keys_label(), b.help))
                .collect();
            (ctxs[0].title(), rows)
        })
        .collect()
}

const MOUSE_HELP: [(&str, &str); 2] = [
    ("click", "select a layer or a tile (again: zoom)"),
    ("wheel", "scroll layers, channel rows, the cursor"),
];

fn help_lines(
    sections: &[(&'static str, Vec<(String, &'static str)>)],
    key_w: usize,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for (title, rows) in sections {
        if !lines.is_empty() {
            lines.push(Line::raw(""));
        }
        lines.push(Line::styled(title.to_string(), theme.title()));
        for (keys, help) in rows {
            lines.push(Line::from(vec![
                Span::styled(format!("  {keys:<key_w$} "), theme.accent()),
                Span::raw(help.to_string()),
            ]));
        }
    }
    lines
}

/// The two halves of the help: browsing and the keys that work anywhere (what a narrow screen
/// shows first); zoom, compare, the filter line, the help itself and the mouse.
fn columns(theme: &Theme) -> (Vec<Line<'static>>, Vec<Line<'static>>) {
    let sections = help_sections();
    let key_w = sections
        .iter()
        .flat_map(|(_, rows)| rows.iter().map(|(k, _)| chars(k)))
        .chain(MOUSE_HELP.iter().map(|(k, _)| chars(k)))
        .max()
        .unwrap_or(4);
    let mouse = (
        "Mouse",
        MOUSE_HELP
            .iter()
            .map(|(k, h)| (k.to_string(), *h))
            .collect::<Vec<_>>(),
    );
    let (first, rest) = sections.split_at(2);
    let mut right = rest.to_vec();
    right.push(mouse);
    (
        help_lines(first, key_w, theme),
        help_lines(&right, key_w, theme),
    )
}

fn column_width(left: &[Line<'_>], right: &[Line<'_>]) -> u16 {
    left.iter()
        .chain(right)
        .map(|l| l.width())
        .max()
        .unwrap_or(20) as u16
}

/// The help's box on a screen of `area`: centred, two columns when they fit, and how far it
/// scrolls when the screen is shorter than the help.
pub fn help_box(area: Rect) -> HelpBox {
    let (left, right) = columns(&Theme::new(true));
    let col_w = column_width(&left, &right);
    let two = area.width >= 2 * col_w + 7;
    let (content_w, content_h) = if two {
        (2 * col_w + 3, left.len().max(right.len()) as u16)
    } else {
        (col_w, (left.len() + 1 + right.len()) as u16)
    };
    let w = (content_w + 4).min(area.width.saturating_sub(2));
    let h = (content_h + 2).min(area.height.saturating_sub(2));
    let popup = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    HelpBox {
        popup,
        two_columns: two.then_some(col_w),
        max_scroll: content_h.saturating_sub(h.saturating_sub(2)),
    }
}

pub(crate) fn draw_help(f: &mut Frame<'_>, app: &App, help: &HelpBox, theme: &Theme) {
    let (left, right) = columns(theme);
    let more = if help.max_scroll > 0 {
        " j/k scroll "
    } else {
        ""
    };
    let block = Block::bordered()
        .border_style(theme.accent())
        .title(Span::styled(" Keys ", theme.title()))
        .title_bottom(Line::styled(
            format!("{more} ? or Esc closes "),
            theme.dim(),
        ));
    let inner = block
        .inner(help.popup)
        .inner(ratatui::layout::Margin::new(1, 0));
    f.render_widget(Clear, help.popup);
    f.render_widget(block, help.popup);
    let scroll = (app.help_scroll().min(help.max_scroll), 0);
    match help.two_columns {
        Some(col_w) => {
            let [l, _, r] = Layout::horizontal([
                Constraint::Length(col_w),
                Constraint::Length(3),
                Constraint::Min(1),
            ])
            .areas(inner);
            f.render_widget(Paragraph::new(left).scroll(scroll), l);
            f.render_widget(Paragraph::new(right).scroll(scroll), r);
        }
        None => {
            let mut all = left;
            all.push(Line::raw(""));
            all.extend(right);
            f.render_widget(Paragraph::new(all).scroll(scroll), inner);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1200×780 px kitty window with a 10 pt font is 150×45 cells; an 80×24 terminal is the
    /// smallest anyone uses. The help must show whole on the first without scrolling, so a new
    /// key's text has to stay short enough for two columns there.
    #[test]
    fn the_whole_help_fits_150_columns_in_two_columns() {
        let help = help_box(Rect::new(0, 0, 150, 45));
        assert!(help.two_columns.is_some(), "one column at 150 wide");
        assert_eq!(help.max_scroll, 0, "the help scrolls at 150×45");
    }

    #[test]
    fn a_small_terminal_scrolls_the_help_instead_of_cutting_it() {
        let help = help_box(Rect::new(0, 0, 80, 24));
        assert!(help.two_columns.is_none());
        assert!(help.max_scroll > 0);
        assert!(help.popup.width <= 78 && help.popup.height <= 22);
    }
}
