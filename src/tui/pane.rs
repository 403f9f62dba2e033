//! The main pane: the channel grid with the summed map, single pictures (sum, overlay, input),
//! zoom with its cursor, and what shows while the model runs or when a layer is not drawn.

use super::app::{App, Load, View};
use super::layout::{Body, CompareBody, GridBody, ScanPanel, SingleBody, ViewLayout};
use super::picture::{Fit, PictureCache, Side, Subject};
use super::ui::{fmt_num, order_name, truncate_right, Theme};
use crate::activations::LayerData;
use crate::render::filters::KernelView;
use crate::text::Clean;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

pub(crate) fn draw_main(
    f: &mut Frame<'_>,
    app: &App,
    layout: &ViewLayout,
    pictures: &mut PictureCache,
    theme: &Theme,
) {
    let title = match (app.view(), app.selected_entry()) {
        (View::Evidence, _) => " class evidence ".to_string(),
        (_, Some(e)) => format!(" {} · {} · {} ", e.name, e.op, e.shape),
        (_, None) => " featscope ".to_string(),
    };
    let block = Block::bordered()
        .border_style(theme.border())
        .title(Span::styled(title, theme.title()));
    f.render_widget(block, layout.main);
    let inner = layout.inner;
    match &layout.body {
        Body::Nothing => {}
        Body::Waiting => draw_waiting(f, app, inner, theme),
        Body::NotDrawn => draw_not_drawn(f, app, inner, theme),
        Body::Note(note) => {
            let lines = vec![
                Line::styled(note.clone(), theme.dim()),
                Line::raw(""),
                Line::styled("s: back to the grid", theme.dim()),
            ];
            f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), inner);
        }
        Body::Grid(grid) => draw_grid_and_sum(f, app, inner, grid, pictures, theme),
        Body::Single(single) => draw_single(f, app, inner, single, pictures, theme),
        Body::Compare(compare) => draw_compare(f, app, inner, compare, pictures, theme),
    }
}

/// A, B and A − B side by side, each captioned, with the figures above.
fn draw_compare(
    f: &mut Frame<'_>,
    app: &App,
    inner: Rect,
    body: &CompareBody,
    pictures: &mut PictureCache,
    theme: &Theme,
) {
    let (name_a, name_b) = match app.compare_options() {
        Some(c) => (c.name_a.to_string(), c.name_b.to_string()),
        None => ("A".into(), "B".into()),
    };
    for panel in &body.panels {
        if let Some((rect, fit)) = panel.placed {
            if let Some(pic) = pictures.picture_of(app, panel.side, body.subject, fit) {
                f.render_widget(pic, rect);
            }
        }
        let caption = match panel.side {
            Side::A => format!("A: {name_a}"),
            Side::B => format!("B: {name_b}"),
            Side::Diff => "A − B (blue: B larger, red: A larger)".into(),
        };
        let x = panel.placed.map_or(panel.caption.x, |(r, _)| r.x);
        let room = (panel.caption.x + panel.caption.width).saturating_sub(x) as usize;
        f.buffer_mut().set_stringn(
            x,
            panel.caption.y,
            truncate_right(&caption, room),
            room,
            theme.dim(),
        );
    }
    let mut spans: Vec<Span<'static>> = Vec::new();
    let fm = app.feature_maps();
    match (body.subject, fm) {
        (Subject::Channel(c), Some(m)) => {
            spans.push(Span::styled(format!("channel {c}"), theme.accent()));
            spans.push(Span::raw(format!(" of {}", m.channels)));
            if let Some(d) = channel_divergence(app, c) {
                spans.push(Span::styled(
                    format!(" · this channel: max|A−B| {}", fmt_num(d)),
                    theme.dim(),
                ));
            }
        }
        (Subject::Sum, Some(m)) => {
            spans.push(Span::styled(
                format!("sum of {} channels", m.channels),
                theme.accent(),
            ));
        }
        (Subject::Overlay, _) => {
            spans.push(Span::styled("sums over the inputs", theme.accent()));
        }
        (Subject::Input, _) => spans.push(Span::styled("the inputs as fed", theme.accent())),
        _ => {}
    }
    if let Some((_, _, _, d)) = app.pair() {
        spans.push(Span::styled(
            format!(
                " · worst channel {} (w) · ] next difference",
                d.worst_channel
            ),
            theme.dim(),
        ));
    }
    info_line(f, inner, spans);
}

/// max |A − B| within channel `c` of the selected layer.
fn channel_divergence(app: &App, c: usize) -> Option<f32> {
    let (a, b) = (app.feature_maps()?, app.pair()?.1.feature_maps()?);
    if c >= a.channels || c >= b.channels {
        return None;
    }
    Some(
        a.channel(c)
            .iter()
            .zip(b.channel(c))
            .map(|(&x, &y)| {
                if x.to_bits() == y.to_bits() {
                    0.0
                } else {
                    (x - y).abs()
                }
            })
            .fold(
                0f32,
                |m, v| if v.is_nan() { f32::INFINITY } else { m.max(v) },
            ),
    )
}

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

fn draw_waiting(f: &mut Frame<'_>, app: &App, area: Rect, theme: &Theme) {
    let image = Clean::new(&app.image_path().display().to_string());
    let lines = match app.load() {
        Load::Loading { since, stage } => {
            let t = since.elapsed();
            let spin = SPINNER[(t.as_millis() / 100) as usize % SPINNER.len()];
            vec![
                Line::from(vec![
                    Span::styled(format!("{spin} {stage}… "), theme.accent()),
                    Span::styled(format!("{:.1} s", t.as_secs_f32()), theme.dim()),
                ]),
                Line::raw(""),
                Line::styled(format!("image  {image}"), theme.dim()),
                Line::styled(
                    "the layers are listed from the graph; shapes come with the first run",
                    theme.dim(),
                ),
                Line::styled("q quits at any time", theme.dim()),
            ]
        }
        Load::Failed(e) => vec![
            Line::styled("featscope could not run the model", theme.error()),
            Line::raw(""),
            Line::raw(e.clone()),
            Line::raw(""),
            Line::styled("q quits", theme.dim()),
        ],
        Load::Ready => vec![],
    };
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
}

fn draw_not_drawn(f: &mut Frame<'_>, app: &App, area: Rect, theme: &Theme) {
    let Some(e) = app.selected_entry() else {
        return;
    };
    let mut lines = vec![
        Line::styled(e.name.clone(), theme.title()),
        Line::raw(format!("op {} · shape {}", e.op, e.shape)),
        Line::raw(""),
        Line::styled(
            format!("not drawn: {}", e.reason().unwrap_or_default()),
            theme.dim(),
        ),
    ];
    if let Some(LayerData::Vector(v)) = app.selected_layer().map(|l| &l.data) {
        let (lo, hi) = crate::render::min_max(v);
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / v.len().max(1) as f64;
        let argmax = v
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i)
            .unwrap_or(0);
        lines.push(Line::raw(format!(
            "{} values · min {} · max {} · mean {} · argmax {argmax}",
            v.len(),
            fmt_num(lo),
            fmt_num(hi),
            fmt_num(mean as f32)
        )));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "s → input shows the image; j/k picks another layer",
        theme.dim(),
    ));
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
}

fn info_line(f: &mut Frame<'_>, area: Rect, spans: Vec<Span<'static>>) {
    f.buffer_mut()
        .set_line(area.x, area.y, &Line::from(spans), area.width);
}

fn draw_grid_and_sum(
    f: &mut Frame<'_>,
    app: &App,
    inner: Rect,
    grid: &GridBody,
    pictures: &mut PictureCache,
    theme: &Theme,
) {
    let Some(fm) = app.feature_maps() else {
        return;
    };
    let pos = app.position_of(app.channel());
    let mut outline = None;
    for &(rect, p) in &grid.tiles {
        let c = app.channel_at(p);
        if let Some(pic) = pictures.picture(app, Subject::Channel(c), grid.tile_fit) {
            f.render_widget(pic, rect);
        }
        if p == pos {
            outline = Some(rect);
        }
    }
    if let Some(r) = outline {
        draw_outline(f.buffer_mut(), r, theme.accent());
    }

    let mut spans = vec![
        Span::styled(format!("channel {}", app.channel()), theme.accent()),
        Span::raw(format!(" of {}", fm.channels)),
    ];
    if grid.pages > 1 {
        spans.push(Span::raw(format!(" · page {}/{}", grid.page, grid.pages)));
    }
    spans.push(Span::styled(
        format!(" · {}×{} each · {}", fm.height, fm.width, order_name(app)),
        theme.dim(),
    ));
    info_line(f, inner, spans);

    if let Some((rect, fit, caption)) = grid.sum {
        if let Some(pic) = pictures.picture(app, Subject::Sum, fit) {
            f.render_widget(pic, rect);
        }
        let room = caption.width as usize;
        let text = truncate_right(&format!("sum of {} channels", fm.channels), room);
        f.buffer_mut()
            .set_stringn(caption.x, caption.y, text, room, theme.dim());
    }
}

/// A box drawn in the cells around `r` (the grid leaves a one-cell gap for it).
fn draw_outline(buf: &mut Buffer, r: Rect, style: Style) {
    if r.x == 0 || r.y == 0 {
        return;
    }
    let (l, t, rt, b) = (r.x - 1, r.y - 1, r.x + r.width, r.y + r.height);
    let mut put = |x: u16, y: u16, s: &str| {
        if let Some(cell) = buf.cell_mut((x, y)) {
            cell.reset();
            cell.set_symbol(s).set_style(style);
        }
    };
    for x in r.x..rt {
        put(x, t, "─");
        put(x, b, "─");
    }
    for y in r.y..b {
        put(l, y, "│");
        put(rt, y, "│");
    }
    put(l, t, "┌");
    put(rt, t, "┐");
    put(l, b, "└");
    put(rt, b, "┘");
}

/// One picture (a zoomed channel, the sum, the overlay or the input) filling the pane; with a
/// cursor when zoomed.
fn draw_single(
    f: &mut Frame<'_>,
    app: &App,
    inner: Rect,
    single: &SingleBody,
    pictures: &mut PictureCache,
    theme: &Theme,
) {
    let Some(acts) = app.activations() else {
        return;
    };
    let (iw, ih) = acts.input_image.dimensions();
    let desc = &acts.input_description;
    let fm = app.feature_maps();
    let (subject, cursor, placed) = (single.subject, single.cursor, single.placed);
    if let Some((rect, fit)) = placed {
        if let Some(pic) = pictures.picture(app, subject, fit) {
            f.render_widget(pic, rect);
        }
    }
    if let (Some(panel), Subject::Channel(c)) = (&single.scan, subject) {
        draw_scan_panel(f, app, panel, c, pictures, theme);
    }

    let mut spans: Vec<Span<'static>> = Vec::new();
    match (subject, fm) {
        (Subject::Evidence(k), _) => {
            if let Some(shown) = app.evidence() {
                let e = &shown.evidence;
                spans.push(Span::styled(e.class_text(), theme.accent()));
                let n = app.evidence_count();
                if n > 1 {
                    spans.push(Span::raw(format!(" {}/{n}", k + 1)));
                }
                spans.push(Span::raw(format!(
                    " · {} on {} {}×{}",
                    e.method.name(),
                    e.layer,
                    e.map.height,
                    e.map.width
                )));
                if let Some(score) = e.score {
                    spans.push(Span::styled(
                        format!(" · score {}", fmt_num(score)),
                        theme.dim(),
                    ));
                }
                if n > 1 {
                    spans.push(Span::styled(" · x: next class", theme.dim()));
                }
                if let Some(status) = app.explain_status() {
                    spans.push(Span::styled(format!(" · {status}"), theme.dim()));
                }
            }
        }
        (Subject::Filters, _) => {
            if let Some(k) = app.kernels() {
                let dims: Vec<String> = k.shape.iter().map(|d| d.to_string()).collect();
                spans.push(Span::styled(
                    format!("kernels {}", dims.join("×")),
                    theme.accent(),
                ));
                let how = match k.view {
                    Some(KernelView::Rgb) => " · each kernel in RGB, scaled to its own range",
                    Some(KernelView::MeanOverInputs) => {
                        " · each kernel averaged over its inputs, own range"
                    }
                    Some(KernelView::Matrix) => " · 1×1: a row per filter, a column per input",
                    None => "",
                };
                spans.push(Span::styled(how, theme.dim()));
            }
        }
        (Subject::Input, _) => {
            spans.push(Span::styled(format!("input {iw}×{ih}"), theme.accent()));
            spans.push(Span::styled(format!(" · {desc}"), theme.dim()));
        }
        (Subject::Channel(c), Some(m)) => {
            spans.push(Span::styled(format!("channel {c}"), theme.accent()));
            spans.push(Span::raw(format!(
                " of {} · {}×{}",
                m.channels, m.height, m.width
            )));
        }
        (Subject::Sum, Some(m)) => {
            spans.push(Span::styled(
                format!("sum of {} channels", m.channels),
                theme.accent(),
            ));
            spans.push(Span::raw(format!(" · {}×{}", m.height, m.width)));
        }
        (Subject::Overlay, Some(m)) => {
            spans.push(Span::styled(
                format!("sum of {} channels over the input", m.channels),
                theme.accent(),
            ));
            spans.push(Span::raw(format!(" · {}×{}", m.height, m.width)));
        }
        _ => {}
    }
    if let (true, Some(m), Some((rect, fit))) = (cursor, fm, placed) {
        let (y, x) = app.cursor();
        let what = match subject {
            Subject::Channel(c) => format!("(c, y, x) = ({c}, {y}, {x})"),
            Subject::Input => format!("(y, x) = ({y}, {x})"),
            _ => format!("(sum, y, x) = (all, {y}, {x})"),
        };
        let value = match subject {
            Subject::Input => {
                // The input pixel at the centre of the map cell.
                let px = ((x as f64 + 0.5) * iw as f64 / m.width as f64) as u32;
                let py = ((y as f64 + 0.5) * ih as f64 / m.height as f64) as u32;
                let p = acts_pixel(app, px, py);
                format!("rgb({}, {}, {})", p[0], p[1], p[2])
            }
            _ => {
                let real = app.cursor_value().map(fmt_num).unwrap_or_default();
                match app.cursor_integer() {
                    Some(q) => format!("{real} (stored {q})"),
                    None => real,
                }
            }
        };
        spans.insert(0, Span::styled(format!("{what}  {value}"), theme.accent()));
        spans.insert(1, Span::styled("  ·  ", theme.dim()));
        draw_cursor(f, app, rect, fit, (m.height, m.width), theme);
        spans.push(Span::styled(" · Esc back", theme.dim()));
    } else if fm.is_some()
        && !matches!(
            subject,
            Subject::Input | Subject::Evidence(_) | Subject::Filters
        )
    {
        spans.push(Span::styled(" · Enter: cursor", theme.dim()));
    }
    info_line(f, inner, spans);
}

/// A zoomed channel's top images over the scanned data set: the scan's montage, or where it
/// drew none, the files and their peaks.
fn draw_scan_panel(
    f: &mut Frame<'_>,
    app: &App,
    panel: &ScanPanel,
    channel: usize,
    pictures: &mut PictureCache,
    theme: &Theme,
) {
    let Some((_, layer)) = app.scan_layer(app.selected_index()) else {
        return;
    };
    let Some(scan) = app.scan() else {
        return;
    };
    let area = panel.area;
    let hits = layer
        .stats
        .top_by_max
        .get(channel)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let caption = format!(
        " top {} of {} images · mean {} · dead on {:.0}%",
        hits.len(),
        layer.stats.images,
        layer
            .mean
            .get(channel)
            .map(|&m| fmt_num(m as f32))
            .unwrap_or_default(),
        layer.dead_fraction.get(channel).copied().unwrap_or(0.0) * 100.0
    );
    f.buffer_mut().set_stringn(
        area.x,
        area.y,
        truncate_right(&caption, area.width as usize),
        area.width as usize,
        theme.accent(),
    );
    if let Some((rect, fit)) = panel.placed {
        if let Some(pic) = pictures.picture(app, Subject::ScanTop(channel), fit) {
            f.render_widget(pic, rect);
            return;
        }
    }
    // No montage (the layer was scanned without --layer): the files, best first.
    let lines: Vec<Line<'static>> = hits
        .iter()
        .map(|h| {
            let file = scan
                .result
                .files
                .get(h.image as usize)
                .map(|f| Clean::new(f).to_string())
                .unwrap_or_default();
            Line::from(vec![
                Span::styled(format!("{:>9} ", fmt_num(h.score)), theme.accent()),
                Span::raw(file),
                Span::styled(format!(" ({}, {})", h.y, h.x), theme.dim()),
            ])
        })
        .collect();
    let list = Rect::new(
        area.x + 1,
        area.y + 1,
        area.width.saturating_sub(1),
        area.height.saturating_sub(1),
    );
    f.render_widget(Paragraph::new(lines), list);
}

fn acts_pixel(app: &App, x: u32, y: u32) -> [u8; 3] {
    app.activations()
        .and_then(|a| a.input_image.get_pixel_checked(x, y))
        .map(|p| p.0)
        .unwrap_or([0, 0, 0])
}

/// Cursor markers: `▼` above and `▶` left of the picture (work with every protocol), and for
/// half-blocks a mark on the cell itself.
fn draw_cursor(
    f: &mut Frame<'_>,
    app: &App,
    rect: Rect,
    fit: Fit,
    map: (usize, usize),
    theme: &Theme,
) {
    let (h, w) = (map.0.max(1), map.1.max(1));
    let (y, x) = app.cursor();
    let (fw, fh) = app.graphics().cell_px();
    let span = |i: usize, n: usize, px: u32, cell: u32, limit: u16| -> (u16, u16) {
        let a = (i as u64 * px as u64 / n as u64) as u32;
        let b = (((i + 1) as u64 * px as u64 / n as u64) as u32).max(a + 1);
        let c0 = (a / cell) as u16;
        let c1 = ((b - 1) / cell) as u16;
        (c0.min(limit - 1), c1.min(limit - 1))
    };
    let (c0, c1) = span(x, w, fit.px_w, fw, rect.width.max(1));
    let (r0, r1) = span(y, h, fit.px_h, fh, rect.height.max(1));
    let buf = f.buffer_mut();
    if rect.y > 0 {
        for cx in c0..=c1 {
            if let Some(cell) = buf.cell_mut((rect.x + cx, rect.y - 1)) {
                cell.set_symbol("▼").set_style(theme.accent());
            }
        }
    }
    if rect.x > 0 {
        for cy in r0..=r1 {
            if let Some(cell) = buf.cell_mut((rect.x - 1, rect.y + cy)) {
                cell.set_symbol("▶").set_style(theme.accent());
            }
        }
    }
    if !app.graphics().is_halfblocks() {
        return;
    }
    let mut mark = |cx: u16, cy: u16, s: &str| {
        if let Some(cell) = buf.cell_mut((rect.x + cx, rect.y + cy)) {
            let fg = contrast(cell.bg);
            cell.set_symbol(s).set_fg(fg);
        }
    };
    if c1 > c0 && r1 > r0 {
        mark(c0, r0, "┌");
        mark(c1, r0, "┐");
        mark(c0, r1, "└");
        mark(c1, r1, "┘");
    } else {
        mark(c0, r0, "┼");
    }
}

/// Black or white, whichever reads on `bg`.
fn contrast(bg: Color) -> Color {
    let rgb = match bg {
        Color::Rgb(r, g, b) => [r, g, b],
        Color::Indexed(i) => crate::term::ansi256::rgb(i),
        _ => [0, 0, 0],
    };
    let luma = 0.299 * rgb[0] as f32 + 0.587 * rgb[1] as f32 + 0.114 * rgb[2] as f32;
    if luma > 140.0 {
        Color::Black
    } else {
        Color::White
    }
}
