//! Where everything goes on screen, worked out in one pure step from the app's state and the
//! terminal's size: the sidebar's rows, the grid's tiles, the single picture, the help box. The
//! event loop keeps the last layout; drawing reads it, and so do the keys and clicks that depend
//! on what is on screen (a row of tiles down, a click on a tile).

use super::app::{App, View};
use super::grid::{self, GridLayout, PaneLayout};
use super::help;
use super::picture::{self, Fit, Side, Subject};
use super::ui::{chars, column_text, MIN_HEIGHT, MIN_WIDTH};
use ratatui::layout::{Constraint, Layout, Position, Rect};

/// The screen, laid out.
#[derive(Clone, Debug, PartialEq)]
pub struct ViewLayout {
    pub area: Rect,
    /// The terminal is smaller than [`MIN_WIDTH`] × [`MIN_HEIGHT`]: only a message shows.
    pub too_small: bool,
    pub sidebar: Sidebar,
    /// The main pane's frame, and inside it.
    pub main: Rect,
    pub inner: Rect,
    pub body: Body,
    pub status: Rect,
    pub help: Option<HelpBox>,
}

/// The layer list and the top-5 panel.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sidebar {
    /// The list's frame, and the rows inside it.
    pub block: Rect,
    pub rows: Rect,
    /// The filter's line, when it shows.
    pub filter_row: Option<Rect>,
    /// The first visible entry's place among the visible ones.
    pub offset: usize,
    /// Entries on the rows, top to bottom (indices into `App::entries`).
    pub shown: Vec<usize>,
    /// Column widths: ops (0: not shown) and shapes.
    pub op_w: usize,
    pub shape_w: usize,
    pub top5: Option<Rect>,
}

/// What the main pane holds.
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    /// Too small to draw in.
    Nothing,
    /// The model is loading or failed.
    Waiting,
    /// The selected layer is not a feature map.
    NotDrawn,
    /// Nothing to show yet, or nothing of this kind here: a line saying why.
    Note(String),
    Grid(GridBody),
    Single(SingleBody),
    /// Two runs side by side (`featscope compare`).
    Compare(CompareBody),
}

/// A, B and A − B of one subject, side by side.
#[derive(Clone, Debug, PartialEq)]
pub struct CompareBody {
    pub subject: Subject,
    pub panels: Vec<Panel>,
}

/// One run's picture in a comparison, with its caption's row above.
#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    pub side: Side,
    pub caption: Rect,
    /// Where the picture goes, and its size.
    pub placed: Option<(Rect, Fit)>,
}

/// A page of tiles and the sum.
#[derive(Clone, Debug, PartialEq)]
pub struct GridBody {
    pub pane: PaneLayout,
    /// 1-based page and page count.
    pub page: usize,
    pub pages: usize,
    /// Each tile on the page and the grid position (in the current order) it shows.
    pub tiles: Vec<(Rect, usize)>,
    /// Every tile's picture size.
    pub tile_fit: Fit,
    /// The sum's picture and its size, and the caption's row.
    pub sum: Option<(Rect, Fit, Rect)>,
}

/// One picture filling the pane: a zoomed channel, the sum, the overlay or the input.
#[derive(Clone, Debug, PartialEq)]
pub struct SingleBody {
    pub subject: Subject,
    /// Where the picture goes, and its size.
    pub placed: Option<(Rect, Fit)>,
    /// A cursor with rulers above and beside (zoom on a feature map).
    pub cursor: bool,
    /// With `--scan`, in zoom on a channel: the panel of its top images over the data set.
    pub scan: Option<ScanPanel>,
}

/// The right part of a zoomed channel: a caption row, then the montage (or a list of files).
#[derive(Clone, Debug, PartialEq)]
pub struct ScanPanel {
    pub area: Rect,
    pub placed: Option<(Rect, Fit)>,
}

/// The help overlay's box.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HelpBox {
    pub popup: Rect,
    /// Two columns side by side, each this wide; else one.
    pub two_columns: Option<u16>,
    pub max_scroll: u16,
}

impl ViewLayout {
    /// Lays out `app` on a screen of `area`. The sidebar keeps the scroll `previous` had when
    /// the selection is still in view.
    pub fn compute(app: &App, area: Rect, previous: Option<&ViewLayout>) -> ViewLayout {
        let empty = ViewLayout {
            area,
            too_small: true,
            sidebar: Sidebar::default(),
            main: Rect::default(),
            inner: Rect::default(),
            body: Body::Nothing,
            status: Rect::default(),
            help: None,
        };
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            return empty;
        }
        let [body_area, status] =
            Layout::vertical([Constraint::Min(1), Constraint::Length(2)]).areas(area);
        let side_w = sidebar_width(app, body_area.width);
        let [side, main] =
            Layout::horizontal([Constraint::Length(side_w), Constraint::Min(1)]).areas(body_area);
        let offset = previous.map(|p| p.sidebar.offset).unwrap_or(0);
        let inner = Rect::new(
            main.x + 1,
            main.y + 1,
            main.width.saturating_sub(2),
            main.height.saturating_sub(2),
        );
        ViewLayout {
            area,
            too_small: false,
            sidebar: sidebar(app, side, offset),
            main,
            inner,
            body: body(app, inner),
            status,
            help: app.help_visible().then(|| help::help_box(area)),
        }
    }

    /// The grid on screen, when the pane shows one.
    pub fn grid(&self) -> Option<&GridLayout> {
        match &self.body {
            Body::Grid(g) => Some(&g.pane.grid),
            _ => None,
        }
    }

    /// The grid position of the tile at `at`.
    pub fn tile_at(&self, at: Position) -> Option<usize> {
        match &self.body {
            Body::Grid(g) => g.tiles.iter().find(|(r, _)| r.contains(at)).map(|t| t.1),
            _ => None,
        }
    }

    /// The entry on the sidebar row at `at`.
    pub fn entry_at(&self, at: Position) -> Option<usize> {
        let rows = self.sidebar.rows;
        if !rows.contains(at) {
            return None;
        }
        self.sidebar.shown.get((at.y - rows.y) as usize).copied()
    }

    /// The zoomed picture's rectangle, when the cursor is on screen.
    pub fn zoomed(&self) -> Option<Rect> {
        match &self.body {
            Body::Single(SingleBody {
                placed: Some((rect, _)),
                cursor: true,
                ..
            }) => Some(*rect),
            _ => None,
        }
    }
}

fn sidebar_width(app: &App, total: u16) -> u16 {
    let entries = app.entries();
    let name = entries.iter().map(|e| chars(&e.name)).max().unwrap_or(8);
    let op = entries
        .iter()
        .map(|e| chars(&e.op))
        .max()
        .unwrap_or(2)
        .min(10);
    let shape = (0..entries.len())
        .map(|i| chars(&column_text(app, i)))
        .max()
        .unwrap_or(4);
    let want = (name + op + shape + 4) as u16;
    let most = (total * 2 / 5).max(24);
    want.clamp(24, most.min(60))
}

fn sidebar(app: &App, area: Rect, previous_offset: usize) -> Sidebar {
    let top5_len = app
        .activations()
        .and_then(|a| a.top5.as_ref())
        .map(Vec::len)
        .filter(|&n| n > 0 && area.height >= 20);
    let (block, top5) = match top5_len {
        Some(n) => {
            let [a, b] = Layout::vertical([Constraint::Min(1), Constraint::Length(n as u16 + 2)])
                .areas(area);
            (a, Some(b))
        }
        None => (area, None),
    };
    let inner = Rect::new(
        block.x + 1,
        block.y + 1,
        block.width.saturating_sub(2),
        block.height.saturating_sub(2),
    );
    let show_filter = app.filter_editing() || !app.filter().is_empty();
    let rows_h = inner.height.saturating_sub(show_filter as u16) as usize;
    let filter_row = (show_filter && inner.height > 0)
        .then(|| Rect::new(inner.x, inner.y + inner.height - 1, inner.width, 1));
    let vis = app.visible();
    // Scroll just enough to keep the selection in view.
    let sel = vis
        .iter()
        .position(|&i| i == app.selected_index())
        .unwrap_or(0);
    let mut offset = previous_offset.min(vis.len().saturating_sub(rows_h.max(1)));
    if sel < offset {
        offset = sel;
    } else if rows_h > 0 && sel >= offset + rows_h {
        offset = sel + 1 - rows_h;
    }
    let shown: Vec<usize> = vis.iter().copied().skip(offset).take(rows_h).collect();
    let width = inner.width as usize;
    let widest = |f: &dyn Fn(usize) -> usize| shown.iter().map(|&i| f(i)).max().unwrap_or(0);
    let shape_w = widest(&|i| chars(&column_text(app, i))).min(width * 2 / 5);
    let name_max = widest(&|i| chars(&app.entries()[i].name));
    let op_max = widest(&|i| chars(&app.entries()[i].op)).min(10);
    // The op column goes first when names would get too short to tell apart.
    let op_w = if width.saturating_sub(shape_w + op_max + 2) >= name_max.min(12) {
        op_max
    } else {
        0
    };
    Sidebar {
        block,
        rows: Rect::new(inner.x, inner.y, inner.width, shown.len() as u16),
        filter_row,
        offset,
        shown,
        op_w,
        shape_w,
        top5,
    }
}

fn body(app: &App, inner: Rect) -> Body {
    if inner.height < 2 || inner.width < 4 {
        return Body::Nothing;
    }
    if app.activations().is_none() {
        return Body::Waiting;
    }
    match app.view() {
        View::Evidence => {
            return match (app.evidence(), app.comparison()) {
                (Some(_), _) => single(app, inner, Subject::Evidence(app.evidence_pick())),
                (None, Some(_)) => Body::Note("evidence maps are made for single runs".into()),
                (None, None) => Body::Note(
                    app.explain_status()
                        .unwrap_or("making the class evidence map…")
                        .to_string(),
                ),
            }
        }
        View::Filters => {
            return match app.kernels() {
                Some(k) if k.picture.is_some() => single(app, inner, Subject::Filters),
                Some(k) if k.reading => Body::Note("reading the kernels…".into()),
                _ => Body::Note(
                    "no kernels to show: this layer is not a convolution with constant weights"
                        .into(),
                ),
            }
        }
        _ => {}
    }
    if app.comparison().is_some() && !app.is_zoomed() {
        if let Some(body) = compare_body(app, inner) {
            return body;
        }
    }
    let maps = app.feature_maps().map(|f| (f.channels, f.height, f.width));
    match (app.view(), maps) {
        (View::Input, _) => single(app, inner, Subject::Input),
        (_, None) => Body::NotDrawn,
        (View::Grid, Some(m)) if !app.is_zoomed() => grid_body(app, inner, m),
        (View::Grid, Some(_)) => single(app, inner, Subject::Channel(app.channel())),
        (View::Sum, Some(_)) => single(app, inner, Subject::Sum),
        (View::Overlay, Some(_)) => single(app, inner, Subject::Overlay),
        (View::Evidence | View::Filters, Some(_)) => Body::NotDrawn,
    }
}

/// Fits a picture of `src` pixels in `area`: centred across, top-aligned (captions and rulers
/// sit right above).
fn place(app: &App, src: (u32, u32), area: Rect, integer: bool) -> Option<(Rect, Fit)> {
    if area.width == 0 || area.height == 0 {
        return None;
    }
    let graphics = app.graphics();
    // A sixel picture larger than the terminal allows would not show at all.
    let (cols, rows) = graphics.clamp_cells(area.width, area.height);
    let fit = picture::fit(
        src.0,
        src.1,
        cols,
        rows,
        graphics.cell_px(),
        graphics.pixel_aspect(),
        integer,
    );
    let rect = Rect::new(
        area.x + (area.width - fit.cols) / 2,
        area.y,
        fit.cols,
        fit.rows,
    );
    Some((rect, fit))
}

fn grid_body(app: &App, inner: Rect, (channels, height, width): (usize, usize, usize)) -> Body {
    let content = Rect::new(inner.x, inner.y + 1, inner.width, inner.height - 1);
    let graphics = app.graphics();
    let (fw, fh) = graphics.cell_px();
    let cell_aspect = graphics.cell.height.max(1) as f64 / graphics.cell.width.max(1) as f64;
    let pane = grid::pane_layout(channels, width, height, content, cell_aspect);
    let g = pane.grid;
    let per_page = g.per_page.max(1);
    let page = app.position_of(app.channel()) / per_page + 1;
    let first = (page - 1) * per_page;
    let last = (first + per_page).min(channels);
    let tiles = (first..last)
        .map(|p| (g.tile_rect(pane.origin, p - first), p))
        .collect();
    let tile_fit = Fit {
        cols: g.tile_cols,
        rows: g.tile_rows,
        px_w: g.tile_cols as u32 * fw,
        px_h: g.tile_rows as u32 * fh,
    };
    let sum = pane.sum_area.and_then(|s| {
        let pic_area = Rect::new(s.x, s.y + 1, s.width, s.height.saturating_sub(1));
        let (rect, fit) = place(app, (width as u32, height as u32), pic_area, true)?;
        // The caption sits right above the picture.
        let caption = Rect::new(rect.x, s.y, s.x + s.width - rect.x, 1);
        Some((rect, fit, caption))
    });
    Body::Grid(GridBody {
        pane,
        page,
        pages: g.pages,
        tiles,
        tile_fit,
        sum,
    })
}

/// Columns between compared pictures.
const PANEL_GAP: u16 = 2;

/// The selected layer in both runs, side by side; `None` when it has no partner in B (it is
/// then shown alone).
fn compare_body(app: &App, inner: Rect) -> Option<Body> {
    let paired_maps = app.pair().and_then(|p| p.1.feature_maps()).is_some();
    let maps = app.feature_maps().filter(|_| paired_maps);
    let subject = match (app.view(), maps) {
        (View::Input, _) => Subject::Input,
        (_, None) => return None,
        (View::Grid, Some(_)) => Subject::Channel(app.channel()),
        (View::Sum, Some(_)) => Subject::Sum,
        (View::Overlay, Some(_)) => Subject::Overlay,
        (View::Evidence | View::Filters, _) => return None,
    };
    let sides: &[Side] = match subject {
        Subject::Channel(_) | Subject::Sum => &[Side::A, Side::B, Side::Diff],
        Subject::Overlay | Subject::Input => &[Side::A, Side::B],
        Subject::Evidence(_) | Subject::Filters | Subject::ScanTop(_) => return None,
    };
    let src = match (subject, maps) {
        (Subject::Channel(_) | Subject::Sum, Some(fm)) => (fm.width as u32, fm.height as u32),
        _ => app.activations()?.input_image.dimensions(),
    };
    let integer = matches!(subject, Subject::Channel(_) | Subject::Sum);
    let content = Rect::new(
        inner.x,
        inner.y + 1,
        inner.width,
        inner.height.saturating_sub(1),
    );
    // In a row, a column, or two columns, whichever shows the pictures largest.
    let area = |p: &[Panel]| {
        p.first()
            .and_then(|p| p.placed)
            .map_or(0, |(r, _)| r.width as u32 * r.height as u32)
    };
    let n = sides.len() as u16;
    let mut best: Vec<Panel> = Vec::new();
    for columns in [n, 2, 1] {
        let candidate = panels(app, sides, src, integer, content, columns);
        // On a tie the earlier (wider) arrangement stays.
        if best.is_empty() || area(&candidate) > area(&best) {
            best = candidate;
        }
    }
    let panels = best;
    Some(Body::Compare(CompareBody { subject, panels }))
}

/// One panel per side in `content`, laid out in `columns` columns, each a caption row and its
/// picture.
fn panels(
    app: &App,
    sides: &[Side],
    src: (u32, u32),
    integer: bool,
    content: Rect,
    columns: u16,
) -> Vec<Panel> {
    let n = sides.len() as u16;
    let columns = columns.clamp(1, n);
    let rows = n.div_ceil(columns);
    let step_w = content.width.saturating_sub(PANEL_GAP * (columns - 1)) / columns;
    let step_h = content.height.saturating_sub(rows - 1) / rows;
    sides
        .iter()
        .enumerate()
        .map(|(k, &side)| {
            let (col, row) = (k as u16 % columns, k as u16 / columns);
            let x = content.x + col * (step_w + PANEL_GAP);
            let y = content.y + row * (step_h + 1);
            let caption = Rect::new(x, y, step_w, 1.min(step_h));
            let area = Rect::new(x, y + 1, step_w, step_h.saturating_sub(1));
            Panel {
                side,
                caption,
                placed: place(app, src, area, integer),
            }
        })
        .collect()
}

fn single(app: &App, inner: Rect, subject: Subject) -> Body {
    let maps = app
        .feature_maps()
        .map(|f| (f.width as u32, f.height as u32));
    let cursor = app.is_zoomed()
        && maps.is_some()
        && !matches!(subject, Subject::Evidence(_) | Subject::Filters);
    let src = match (subject, maps) {
        (Subject::Channel(_) | Subject::Sum, Some(m)) => m,
        (Subject::Filters, _) => app
            .kernels()
            .and_then(|k| k.picture.as_ref())
            .map(|p| p.dimensions())
            .unwrap_or((1, 1)),
        _ => app
            .activations()
            .map(|a| a.input_image.dimensions())
            .unwrap_or((1, 1)),
    };
    let integer = matches!(
        subject,
        Subject::Channel(_) | Subject::Sum | Subject::Filters
    );
    // Zoom keeps a ruler row and column for the cursor markers.
    let margin = cursor as u16;
    let mut content = Rect::new(
        inner.x + margin,
        inner.y + 1 + margin,
        inner.width.saturating_sub(margin),
        inner.height.saturating_sub(1 + margin),
    );
    // A scanned channel in zoom: two fifths of the width for its top images.
    let scanned = matches!(subject, Subject::Channel(_))
        && app.is_zoomed()
        && app.scan_layer(app.selected_index()).is_some();
    let scan = scanned.then(|| {
        let width = content.width * 2 / 5;
        content.width -= width;
        let area = Rect::new(
            content.x + content.width,
            inner.y + 1,
            width,
            inner.height.saturating_sub(1),
        );
        let picture_area = Rect::new(
            area.x + 1,
            area.y + 1,
            area.width.saturating_sub(1),
            area.height.saturating_sub(1),
        );
        let placed = app
            .scan_top()
            .and_then(|t| t.picture.as_ref())
            .and_then(|p| place(app, p.dimensions(), picture_area, false));
        ScanPanel { area, placed }
    });
    Body::Single(SingleBody {
        subject,
        placed: place(app, src, content, integer),
        cursor,
        scan,
    })
}
