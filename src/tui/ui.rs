//! Drawing: the sidebar and the status bar; the main pane is in [`super::pane`],
//! the help overlay in [`super::help`]. Where things go comes from [`super::layout`]; drawing
//! only reads the app. Everything here works on a `TestBackend` as on a real terminal.

use super::app::{App, Load, View};
use super::help::draw_help;
use super::layers::{Drawing, Entry};
use super::layout::{Sidebar, ViewLayout};
use super::pane::draw_main;
use super::picture::PictureCache;
use ratatui::layout::Rect;
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

    /// An SQNR that is fine (green), getting low (yellow) or under the threshold (error).
    pub(crate) fn good(&self) -> Style {
        self.pick(Style::new().fg(Color::Green), Style::new())
    }

    pub(crate) fn warn(&self) -> Style {
        self.pick(Style::new().fg(Color::Yellow), Style::new())
    }

    pub(crate) fn bar(&self) -> Style {
        self.pick(
            Style::new().fg(Color::White).bg(Color::DarkGray),
            Style::new().add_modifier(Modifier::REVERSED),
        )
    }
}

/// Draws the whole view as `layout` places it. Only the picture cache changes: drawing never
/// touches the app.
pub fn draw(f: &mut Frame<'_>, app: &App, layout: &ViewLayout, pictures: &mut PictureCache) {
    pictures.next_frame();
    let theme = Theme::new(app.no_color());
    if layout.too_small {
        draw_too_small(f, layout.area, &theme);
        return;
    }
    draw_sidebar(f, app, &layout.sidebar, &theme);
    draw_main(f, app, layout, pictures, &theme);
    draw_status(f, app, layout.status, &theme);
    if let Some(help) = &layout.help {
        draw_help(f, app, help, &theme);
    }
}

fn draw_too_small(f: &mut Frame<'_>, area: Rect, theme: &Theme) {
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

fn draw_sidebar(f: &mut Frame<'_>, app: &App, side: &Sidebar, theme: &Theme) {
    let total = app.entries().len();
    let title = if app.filter().is_empty() {
        format!(" Layers ({total}) ")
    } else {
        format!(" Layers ({}/{total}) ", app.visible().len())
    };
    let block = Block::bordered()
        .border_style(theme.border())
        .title(Span::styled(title, theme.title()));
    let inner = block.inner(side.block);
    f.render_widget(block, side.block);

    if let Some(row) = side.filter_row {
        let cursor = if app.filter_editing() { "▏" } else { "" };
        let text = truncate_left(&format!("/{}{cursor}", app.filter()), row.width as usize);
        let style = if app.filter_editing() {
            theme.accent()
        } else {
            theme.dim()
        };
        f.buffer_mut()
            .set_stringn(row.x, row.y, text, row.width as usize, style);
    }

    if side.shown.is_empty() {
        f.buffer_mut().set_stringn(
            inner.x,
            inner.y,
            "no layer matches",
            inner.width as usize,
            theme.dim(),
        );
    }
    let rows = side.rows;
    for (row, &i) in side.shown.iter().enumerate() {
        let e = &app.entries()[i];
        let row_style = RowStyle {
            selected: i == app.selected_index(),
            column: column_style(app, i, theme),
            nonfinite: e.nonfinite.any(),
        };
        let line = list_line(
            e,
            &column_text(app, i),
            row_style,
            rows.width as usize,
            (side.op_w, side.shape_w),
            theme,
        );
        f.buffer_mut()
            .set_line(rows.x, rows.y + row as u16, &line, rows.width);
    }

    let top5 = app.activations().and_then(|a| a.top5.as_ref());
    if let (Some(area), Some(top5)) = (side.top5, top5) {
        let block = Block::bordered()
            .border_style(theme.border())
            .title(Span::styled(" top-5 ", theme.title()));
        let inner = block.inner(area);
        f.render_widget(block, area);
        // The class whose evidence map is on screen is marked.
        let shown = (app.view() == View::Evidence)
            .then(|| app.evidence().and_then(|e| e.evidence.class))
            .flatten();
        for (k, s) in top5.iter().enumerate().take(inner.height as usize) {
            let mark = if shown == Some(s.index) { '▸' } else { ' ' };
            let text = format!("{:>5.1}%{mark}{}", s.probability * 100.0, s.label);
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

/// How a sidebar row stands out.
#[derive(Clone, Copy)]
struct RowStyle {
    selected: bool,
    /// The right column's style: dim, or when comparing, how far B is from A.
    column: Style,
    /// The layer holds NaN or ±Inf.
    nonfinite: bool,
}

/// The right column's colour: comparing two number formats, the SQNR graded (green well over
/// the threshold, yellow within 10 dB of it, red under it, bold where the layer's own format
/// loses); comparing runs, red above the threshold.
fn column_style(app: &App, i: usize, theme: &Theme) -> Style {
    let Some(d) = app.divergence_of(i) else {
        return theme.dim();
    };
    if !app.compares_precisions() {
        return if app.differs(i) {
            theme.error()
        } else {
            theme.dim()
        };
    }
    let threshold = app.sqnr_threshold();
    let style = match d.sqnr_db {
        Some(db) if db < threshold => theme.error(),
        Some(db) if db < threshold + 10.0 => theme.warn(),
        _ => theme.good(),
    };
    if app.loses_locally(i) {
        style.add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
    } else {
        style
    }
}

/// An SQNR for the sidebar and status: "29.6", "∞".
pub(crate) fn decibels(db: Option<f64>) -> String {
    match db {
        Some(v) if v.is_infinite() => "∞".into(),
        Some(v) => format!("{v:.1}"),
        None => "–".into(),
    }
}

/// The sidebar's right column for entry `i`: the layer's shape, or when comparing, how far B
/// is from A (max |A − B| / max |A|; "0" for the same values, "–" with no partner in B; for two
/// number formats the SQNR in dB).
pub(crate) fn column_text(app: &App, i: usize) -> String {
    let e = &app.entries()[i];
    if app.compares_precisions() {
        return match app.divergence_of(i) {
            Some(d) => format!("{}dB", decibels(d.sqnr_db)),
            None => "–".into(),
        };
    }
    if app.comparison().is_none() {
        // With a scan: how many channels never fired on the data set.
        if let Some((_, l)) = app.scan_layer(i) {
            return format!("{}/{} dead", l.dead_channels, l.stats.channels);
        }
        return short_shape(&e.shape).to_string();
    }
    match app.divergence_of(i) {
        Some(d) if d.rel == 0.0 => "0".into(),
        Some(d) if d.rel.is_finite() => format!("{:.1e}", d.rel),
        Some(_) => "∞".into(),
        None => "–".into(),
    }
}

fn list_line(
    e: &Entry,
    column: &str,
    style: RowStyle,
    width: usize,
    (op_w, shape_w): (usize, usize),
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
    let shape = format!(" {:>shape_w$}", truncate_left(column, shape_w));
    let not_drawn = matches!(e.state, Drawing::NotDrawn(_));
    if style.selected {
        let mut style = theme.selected();
        if not_drawn {
            style = style.add_modifier(Modifier::DIM);
        }
        return Line::from(format!("{name}{op}{shape}")).style(style);
    }
    let base = if style.nonfinite {
        theme.error()
    } else if not_drawn {
        theme.dim()
    } else {
        Style::new()
    };
    Line::from(vec![
        Span::styled(name, base),
        Span::styled(op, theme.dim()),
        Span::styled(shape, style.column),
    ])
}

// ---- status bar ----

fn draw_status(f: &mut Frame<'_>, app: &App, area: Rect, theme: &Theme) {
    let w = area.width as usize;
    let line1: Line<'_> = match (
        app.load(),
        app.selected_entry().map(|e| e.reason().map(str::to_string)),
    ) {
        (Load::Loading { stage, .. }, _) => Line::styled(format!(" {stage}…"), theme.dim()),
        (Load::Failed(_), _) => Line::styled(" the model did not run; q quits", theme.error()),
        (Load::Ready, _) if app.comparison().is_some() => compare_line(app, theme),
        (Load::Ready, Some(Some(reason))) => {
            Line::styled(format!(" not drawn: {reason}"), theme.dim())
        }
        (Load::Ready, _) => match app.info() {
            Some(info) => {
                let s = &info.stats;
                let channels = info.ranges.len();
                let key = |k: &str| Span::styled(format!(" {k} "), theme.dim());
                let mut spans = vec![
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
                ];
                spans.extend(precision_spans(app, theme));
                Line::from(spans)
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
                parts.push(a.engine.to_string());
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

/// What the selected layer's numbers are: its type (and scale), and NaN/±Inf drawn magenta.
fn precision_spans(app: &App, theme: &Theme) -> Vec<Span<'static>> {
    let Some(layer) = app.selected_layer() else {
        return Vec::new();
    };
    let mut spans = Vec::new();
    if !layer.precision.is_float32() {
        spans.push(Span::styled("  ", theme.dim()));
        spans.push(Span::raw(layer.precision.describe()));
    }
    if layer.nonfinite.any() {
        spans.push(Span::styled(
            format!("  ⚠ {} (magenta)", layer.nonfinite.describe()),
            theme.error(),
        ));
    }
    spans
}

/// The status line when comparing: how far B is from A in the selected layer.
fn compare_line(app: &App, theme: &Theme) -> Line<'static> {
    let key = |k: &str| Span::styled(format!(" {k} "), theme.dim());
    let Some((_, b, by, d)) = app.pair() else {
        return Line::styled(
            " not compared: B has no layer of this name or shape",
            theme.dim(),
        );
    };
    if app.compares_precisions() {
        let local_style = if app.loses_locally(app.selected_index()) {
            theme.error()
        } else {
            Style::new()
        };
        let mut spans = Vec::new();
        if let Some(input) = app.input_sqnr(app.selected_index()) {
            spans.push(key("input"));
            spans.push(Span::raw(format!("{} dB →", decibels(Some(input)))));
        }
        spans.extend([
            key("SQNR"),
            Span::styled(
                format!("{} dB", decibels(d.sqnr_db)),
                column_style(app, app.selected_index(), theme)
                    .remove_modifier(Modifier::UNDERLINED),
            ),
            key(" local"),
            Span::styled(format!("{} dB", decibels(d.local_sqnr_db)), local_style),
            key(" saturated"),
            Span::raw(format!("{:.2}%", d.saturated * 100.0)),
            key(" cosine"),
            Span::raw(format!("{:.4}", d.cosine)),
            key(" B"),
            Span::raw(b.precision.describe()),
        ]);
        match by {
            crate::compare::MatchedBy::Name => {}
            crate::compare::MatchedBy::Fused => {
                // B fused the activation after this layer: A is shown where B has it.
                spans.push(key(" B fused it: A shown after"));
                spans.push(Span::raw(
                    app.shown_layer()
                        .map(|l| l.name.to_string())
                        .unwrap_or_default(),
                ));
            }
            _ => {
                spans.push(key(&format!(" {}", by.name())));
                spans.push(Span::raw(b.name.to_string()));
            }
        }
        return Line::from(spans);
    }
    let rel = if d.rel == 0.0 {
        "0".into()
    } else if d.rel.is_finite() {
        format!("{:.2e}", d.rel)
    } else {
        "∞".into()
    };
    let mut spans = vec![
        key("max|A−B|"),
        Span::raw(fmt_num(d.max_abs)),
        key(" max|A−B|/max|A|"),
        Span::styled(
            rel,
            if app.differs(app.selected_index()) {
                theme.error()
            } else {
                Style::new()
            },
        ),
        key(" cosine"),
        Span::raw(format!("{:.6}", d.cosine)),
        key(" worst channel"),
        Span::raw(d.worst_channel.to_string()),
    ];
    if by == crate::compare::MatchedBy::Position {
        spans.push(key(" B's layer (same shape, same place)"));
        spans.push(Span::raw(b.name.to_string()));
    }
    Line::from(spans)
}

pub(crate) fn order_name(app: &App) -> &'static str {
    if app.ordered_by_mean() {
        "by mean"
    } else {
        "graph order"
    }
}
