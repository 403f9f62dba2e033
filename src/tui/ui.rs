//! Drawing: the layout, the sidebar and the status bar; the main pane is in [`super::pane`],
//! the help overlay in [`super::help`]. Pure over [`App`]: everything here works on a
//! `TestBackend` as on a real terminal.

use super::app::{App, Load};
use super::help::draw_help;
use super::layers::{Drawing, Entry};
use super::pane::draw_main;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

/// Below this the view shows a "terminal too small" message instead of a cramped layout.
pub const MIN_WIDTH: u16 = 40;
pub const MIN_HEIGHT: u16 = 12;

/// Chrome styles; with NO_COLOR only modifiers (bold, reverse, dim) remain.
#[derive(Clone, Copy)]
pub struct Theme {
    mono: bool,
}

impl Theme {
    pub fn new(mono: bool) -> Theme {
        Theme { mono }
    }

    fn pick(&self, colour: Style, mono: Style) -> Style {
        if self.mono {
            mono
        } else {
            colour
        }
    }

    pub(crate) fn border(&self) -> Style {
        self.pick(Style::new().fg(Color::DarkGray), Style::new())
    }

    pub(crate) fn title(&self) -> Style {
        self.pick(
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            Style::new().add_modifier(Modifier::BOLD),
        )
    }

    pub(crate) fn selected(&self) -> Style {
        self.pick(
            Style::new()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD),
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
        )
    }

    pub(crate) fn dim(&self) -> Style {
        self.pick(
            Style::new().fg(Color::DarkGray),
            Style::new().add_modifier(Modifier::DIM),
        )
    }

    pub(crate) fn accent(&self) -> Style {
        self.pick(
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            Style::new().add_modifier(Modifier::BOLD),
        )
    }

    pub(crate) fn error(&self) -> Style {
        self.pick(
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            Style::new().add_modifier(Modifier::BOLD),
        )
    }

    pub(crate) fn bar(&self) -> Style {
        self.pick(
            Style::new().fg(Color::White).bg(Color::DarkGray),
            Style::new().add_modifier(Modifier::REVERSED),
        )
    }
}

/// Draws the whole view.
pub fn draw(f: &mut Frame, app: &mut App) {
    let area = f.area();
    app.begin_frame();
    app.hits = Default::default();
    let theme = Theme::new(app.no_color());
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        draw_too_small(f, area, &theme);
        return;
    }
    let [body, status] = Layout::vertical([Constraint::Min(1), Constraint::Length(2)]).areas(area);
    let side_w = sidebar_width(app, body.width);
    let [side, main] =
        Layout::horizontal([Constraint::Length(side_w), Constraint::Min(1)]).areas(body);
    draw_sidebar(f, app, side, &theme);
    draw_main(f, app, main, &theme);
    draw_status(f, app, status, &theme);
    if app.help_visible() {
        draw_help(f, app, area, &theme);
    }
}

fn draw_too_small(f: &mut Frame, area: Rect, theme: &Theme) {
    let text = vec![
        Line::styled("terminal too small", theme.error()),
        Line::raw(format!(
            "{}×{}; featscope needs {MIN_WIDTH}×{MIN_HEIGHT}",
            area.width, area.height
        )),
        Line::raw("q quits"),
    ];
    let h = (text.len() as u16).min(area.height);
    let y = area.y + area.height.saturating_sub(h) / 2;
    f.render_widget(
        Paragraph::new(text)
            .alignment(ratatui::layout::Alignment::Center)
            .wrap(Wrap { trim: true }),
        Rect::new(area.x, y, area.width, h),
    );
}

// ---- text helpers ----

pub(crate) fn chars(s: &str) -> usize {
    s.chars().count()
}

/// Keeps the end of long names ("…blocks.15/_swish/Clip"): it tells layers apart.
pub(crate) fn truncate_left(s: &str, width: usize) -> String {
    let n = chars(s);
    if n <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let tail: String = s.chars().skip(n - (width - 1)).collect();
    format!("…{tail}")
}

pub(crate) fn truncate_right(s: &str, width: usize) -> String {
    if chars(s) <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let head: String = s.chars().take(width - 1).collect();
    format!("{head}…")
}

/// `1×32×112×112` → `32×112×112`: the batch of one says nothing in a narrow column.
pub(crate) fn short_shape(s: &str) -> &str {
    match s.strip_prefix("1×") {
        Some(rest) if rest.matches('×').count() == 2 => rest,
        _ => s,
    }
}

/// Numbers in the status bar and zoom: short, fixed-ish width.
pub fn fmt_num(v: f32) -> String {
    let a = v.abs();
    if !v.is_finite() {
        format!("{v}")
    } else if a != 0.0 && !(1e-3..1e5).contains(&a) {
        format!("{v:.2e}")
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

// ---- sidebar ----

fn sidebar_width(app: &App, total: u16) -> u16 {
    let entries = app.entries();
    let name = entries.iter().map(|e| chars(&e.name)).max().unwrap_or(8);
    let op = entries
        .iter()
        .map(|e| chars(&e.op))
        .max()
        .unwrap_or(2)
        .min(10);
    let shape = entries
        .iter()
        .map(|e| chars(short_shape(&e.shape)))
        .max()
        .unwrap_or(4);
    let want = (name + op + shape + 4) as u16;
    let most = (total * 2 / 5).max(24);
    want.clamp(24, most.min(60))
}

fn draw_sidebar(f: &mut Frame, app: &mut App, area: Rect, theme: &Theme) {
    let top5 = app.activations().and_then(|a| a.top5.clone());
    let (list_area, top5_area) = match &top5 {
        Some(t) if area.height >= 20 && !t.is_empty() => {
            let h = t.len() as u16 + 2;
            let [a, b] = Layout::vertical([Constraint::Min(1), Constraint::Length(h)]).areas(area);
            (a, Some(b))
        }
        _ => (area, None),
    };
    let vis = app.visible();
    let total = app.entries().len();
    let title = if app.filter().is_empty() {
        format!(" Layers ({total}) ")
    } else {
        format!(" Layers ({}/{total}) ", vis.len())
    };
    let block = Block::bordered()
        .border_style(theme.border())
        .title(Span::styled(title, theme.title()));
    let inner = block.inner(list_area);
    f.render_widget(block, list_area);

    let show_filter = app.filter_editing() || !app.filter().is_empty();
    let rows_h = inner.height.saturating_sub(show_filter as u16) as usize;
    let rows = Rect::new(inner.x, inner.y, inner.width, rows_h as u16);
    if show_filter && inner.height > 0 {
        let y = inner.y + inner.height - 1;
        let cursor = if app.filter_editing() { "▏" } else { "" };
        let text = truncate_left(&format!("/{}{cursor}", app.filter()), inner.width as usize);
        let style = if app.filter_editing() {
            theme.accent()
        } else {
            theme.dim()
        };
        f.buffer_mut()
            .set_stringn(inner.x, y, text, inner.width as usize, style);
    }

    if vis.is_empty() {
        f.buffer_mut().set_stringn(
            rows.x,
            rows.y,
            "no layer matches",
            rows.width as usize,
            theme.dim(),
        );
        return;
    }
    // Scroll just enough to keep the selection in view.
    let sel = vis
        .iter()
        .position(|&i| i == app.selected_index())
        .unwrap_or(0);
    let mut offset = app.list_offset.min(vis.len().saturating_sub(rows_h.max(1)));
    if sel < offset {
        offset = sel;
    } else if rows_h > 0 && sel >= offset + rows_h {
        offset = sel + 1 - rows_h;
    }
    app.list_offset = offset;

    let width = inner.width as usize;
    let shown: Vec<usize> = vis.iter().copied().skip(offset).take(rows_h).collect();
    let widest = |f: &dyn Fn(&Entry) -> usize| {
        shown
            .iter()
            .map(|&i| f(&app.entries()[i]))
            .max()
            .unwrap_or(0)
    };
    let shape_w = widest(&|e| chars(short_shape(&e.shape))).min(width * 2 / 5);
    let name_max = widest(&|e| chars(&e.name));
    let op_max = widest(&|e| chars(&e.op)).min(10);
    // The op column goes first when names would get too short to tell apart.
    let op_w = if width.saturating_sub(shape_w + op_max + 2) >= name_max.min(12) {
        op_max
    } else {
        0
    };
    for (row, &i) in shown.iter().enumerate() {
        let e = &app.entries()[i];
        let line = list_line(e, i == app.selected_index(), width, op_w, shape_w, theme);
        f.buffer_mut()
            .set_line(rows.x, rows.y + row as u16, &line, rows.width);
    }
    app.hits.list = Rect::new(rows.x, rows.y, rows.width, shown.len() as u16);
    app.hits.list_entries = shown;

    if let (Some(area), Some(top5)) = (top5_area, top5) {
        let block = Block::bordered()
            .border_style(theme.border())
            .title(Span::styled(" top-5 ", theme.title()));
        let inner = block.inner(area);
        f.render_widget(block, area);
        for (k, s) in top5.iter().enumerate().take(inner.height as usize) {
            let text = format!(
                "{:>5.1}% {}",
                s.probability * 100.0,
                crate::model::sanitize(&s.label)
            );
            let style = if k == 0 { theme.accent() } else { Style::new() };
            f.buffer_mut().set_stringn(
                inner.x,
                inner.y + k as u16,
                truncate_right(&text, inner.width as usize),
                inner.width as usize,
                style,
            );
        }
    }
}

fn list_line(
    e: &Entry,
    selected: bool,
    width: usize,
    op_w: usize,
    shape_w: usize,
    theme: &Theme,
) -> Line<'static> {
    let gaps = 1 + (op_w > 0) as usize;
    let name_w = width.saturating_sub(op_w + shape_w + gaps).max(1);
    let name = format!("{:<name_w$}", truncate_left(&e.name, name_w));
    let op = if op_w > 0 {
        format!(" {:<op_w$}", truncate_right(&e.op, op_w))
    } else {
        String::new()
    };
    let shape = format!(
        " {:>shape_w$}",
        truncate_left(short_shape(&e.shape), shape_w)
    );
    let not_drawn = matches!(e.state, Drawing::NotDrawn(_));
    if selected {
        let mut style = theme.selected();
        if not_drawn {
            style = style.add_modifier(Modifier::DIM);
        }
        return Line::from(format!("{name}{op}{shape}")).style(style);
    }
    let base = if not_drawn { theme.dim() } else { Style::new() };
    Line::from(vec![
        Span::styled(name, base),
        Span::styled(op, theme.dim()),
        Span::styled(shape, theme.dim()),
    ])
}

// ---- status bar ----

fn draw_status(f: &mut Frame, app: &mut App, area: Rect, theme: &Theme) {
    let w = area.width as usize;
    let line1: Line = match (
        app.load(),
        app.selected_entry().map(|e| e.reason().map(str::to_string)),
    ) {
        (Load::Loading { stage, .. }, _) => Line::styled(format!(" {stage}…"), theme.dim()),
        (Load::Failed(_), _) => Line::styled(" the model did not run; q quits", theme.error()),
        (Load::Ready, Some(Some(reason))) => {
            Line::styled(format!(" not drawn: {reason}"), theme.dim())
        }
        (Load::Ready, _) => match app.info() {
            Some(info) => {
                let s = &info.stats;
                let channels = info.ranges.len();
                let key = |k: &str| Span::styled(format!(" {k} "), theme.dim());
                Line::from(vec![
                    key("min"),
                    Span::raw(fmt_num(s.min)),
                    key(" max"),
                    Span::raw(fmt_num(s.max)),
                    key(" mean"),
                    Span::raw(fmt_num(s.mean)),
                    key(" zeros"),
                    Span::raw(format!("{:.1}%", s.zero_fraction * 100.0)),
                    key(" dead"),
                    Span::raw(format!("{}/{channels}", s.dead_channels)),
                ])
            }
            None => Line::raw(""),
        },
    };
    f.buffer_mut().set_line(area.x, area.y, &line1, area.width);

    let bar = Rect::new(area.x, area.y + 1, area.width, 1);
    f.buffer_mut().set_style(bar, theme.bar());
    let right = " ? help  q quit ";
    let left = match app.message() {
        Some(m) => format!(" {m}"),
        None => {
            let mut parts = Vec::new();
            if let Some(a) = app.activations() {
                parts.push(crate::model::sanitize(&a.engine));
                parts.push(format!("{:.0} ms", a.inference.as_secs_f64() * 1000.0));
            }
            parts.push(app.colormap().name().to_string());
            parts.push(app.normalization().name().to_string());
            parts.push(order_name(app).to_string());
            parts.push(app.view().name().to_string());
            parts.push(app.graphics().name().to_string());
            format!(" {}", parts.join(" · "))
        }
    };
    let room = w.saturating_sub(chars(right));
    let left = truncate_right(&left, room);
    let pad = room.saturating_sub(chars(&left));
    let text = format!("{left}{}{right}", " ".repeat(pad));
    f.buffer_mut()
        .set_stringn(bar.x, bar.y, text, w, theme.bar());
}

pub(crate) fn order_name(app: &App) -> &'static str {
    if app.ordered_by_mean() {
        "by mean"
    } else {
        "graph order"
    }
}
