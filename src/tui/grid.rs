//! Where a layer's pictures go in the main pane: the channel tiles and the summed map. Pure
//! geometry in cells, so it is tested without drawing.
//!
//! The sum sits in the top-right corner and the tiles flow around it: rows beside the sum are
//! shorter, rows below it use the full width. Every sum size is tried; the tiles get the largest
//! size that shows every channel on one page, and the split that shows the most of both wins.

use ratatui::layout::Rect;

/// The smallest tile width (cells) still worth looking at; smaller maps keep their own width.
pub const MIN_TILE_COLS: usize = 8;

/// The tiles of one layer. Tiles sit one cell apart, with a one-cell margin, so the selection
/// outline fits around any. The first `short_rows` rows (beside the sum) hold `short_cols`
/// tiles, the rest `cols`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GridLayout {
    pub tile_cols: u16,
    pub tile_rows: u16,
    pub cols: usize,
    pub short_cols: usize,
    pub short_rows: usize,
    /// Rows on a page.
    pub rows: usize,
    pub per_page: usize,
    pub pages: usize,
}

impl GridLayout {
    /// Tiles in row `row` of a page.
    pub fn row_len(&self, row: usize) -> usize {
        if row < self.short_rows {
            self.short_cols
        } else {
            self.cols
        }
    }

    /// (row, column) of the `i`-th tile on a page.
    pub fn place(&self, i: usize) -> (usize, usize) {
        let short = self.short_rows * self.short_cols;
        if i < short {
            (i / self.short_cols, i % self.short_cols)
        } else {
            let rest = i - short;
            let cols = self.cols.max(1);
            (self.short_rows + rest / cols, rest % cols)
        }
    }

    /// The index on a page of the tile at (row, column), the column clamped to the row.
    fn index(&self, row: usize, col: usize) -> usize {
        let col = col.min(self.row_len(row).saturating_sub(1));
        if row < self.short_rows {
            row * self.short_cols + col
        } else {
            self.short_rows * self.short_cols + (row - self.short_rows) * self.cols + col
        }
    }

    /// The cell rectangle of the `i`-th tile on a page whose grid starts at `origin`.
    pub fn tile_rect(&self, origin: (u16, u16), i: usize) -> Rect {
        let (row, col) = self.place(i);
        Rect::new(
            origin.0 + 1 + col as u16 * (self.tile_cols + 1),
            origin.1 + 1 + row as u16 * (self.tile_rows + 1),
            self.tile_cols,
            self.tile_rows,
        )
    }

    /// The position `rows` rows below (or above, negative) position `p` of `n`, keeping the
    /// column where the row has it; across pages, like one long grid.
    pub fn move_rows(&self, p: usize, rows: isize, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        let per_page = self.per_page.max(1);
        let (page, i) = (p / per_page, p % per_page);
        let (row, col) = self.place(i);
        // Rows of the last page that hold tiles.
        let last_page = (n - 1) / per_page;
        let last_row = self.place((n - 1) % per_page).0;
        let rows_per_page = self.rows.max(1);
        let global = (page * rows_per_page + row) as isize + rows;
        let global = global.clamp(0, (last_page * rows_per_page + last_row) as isize) as usize;
        let (page, row) = (global / rows_per_page, global % rows_per_page);
        (page * per_page + self.index(row, col)).min(n - 1)
    }

    /// Tiles a page holds.
    fn capacity(&self) -> usize {
        let short = self.short_rows.min(self.rows);
        short * self.short_cols + (self.rows - short) * self.cols
    }
}

/// Where the grid and the sum go in the main pane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PaneLayout {
    /// The grid's top-left corner (tiles start one cell in, after the outline's margin).
    pub origin: (u16, u16),
    pub grid: GridLayout,
    /// The sum's box, its caption in the first row; none when the pane is too small.
    pub sum_area: Option<Rect>,
}

/// Tiles of `tw` cells for maps of `map_h / map_w` in cells `cell_aspect` times taller than
/// wide: `th` keeps the map's shape.
fn tile_rows(tw: usize, map_w: usize, map_h: usize, cell_aspect: f64) -> usize {
    ((tw as f64 * map_h as f64 / map_w as f64 / cell_aspect).round() as usize).max(1)
}

/// The grid of `tw`-wide tiles in a `width × height` pane whose top-right `sum` (cols, rows)
/// cells belong to the sum.
fn grid_with(
    tw: usize,
    map: (usize, usize),
    (width, height): (usize, usize),
    sum: (usize, usize),
    cell_aspect: f64,
) -> GridLayout {
    let th = tile_rows(tw, map.0, map.1, cell_aspect);
    let cols = width.saturating_sub(1) / (tw + 1);
    let rows = height.saturating_sub(1) / (th + 1);
    let (short_cols, short_rows) = if sum.0 == 0 || sum.1 == 0 {
        (cols, 0)
    } else {
        // Rows whose outline would reach into the sum's rows stop one cell before its column.
        (
            width.saturating_sub(sum.0 + 1) / (tw + 1),
            sum.1.div_ceil(th + 1).min(rows),
        )
    };
    let mut g = GridLayout {
        tile_cols: tw as u16,
        tile_rows: th as u16,
        cols,
        short_cols,
        short_rows,
        rows,
        per_page: 0,
        pages: 0,
    };
    g.per_page = g.capacity();
    g
}

/// The largest tiles that show all `n` maps in one page, or pages of the smallest readable
/// tiles (smaller only when not even one of those fits).
fn fit_grid(
    n: usize,
    map: (usize, usize),
    pane: (usize, usize),
    sum: (usize, usize),
    cell_aspect: f64,
) -> GridLayout {
    let min_tw = map.0.clamp(2, MIN_TILE_COLS);
    let max_tw = pane.0.saturating_sub(2).max(1);
    let fits = |g: &GridLayout| g.tile_rows as usize + 2 <= pane.1 && g.per_page >= n.max(1);
    let mut grid = (min_tw..=max_tw)
        .rev()
        .map(|tw| grid_with(tw, map, pane, sum, cell_aspect))
        .find(fits)
        .unwrap_or_else(|| {
            let mut tw = min_tw;
            loop {
                let g = grid_with(tw, map, pane, sum, cell_aspect);
                if g.per_page > 0 || tw <= 1 {
                    return g;
                }
                tw -= 1;
            }
        });
    if grid.short_rows == 0 && grid.per_page >= n && n > 0 {
        // One page without a notch: balance the rows (9 maps as 3×3, not 4+4+1).
        let rows = n.div_ceil(grid.cols.max(1));
        grid.cols = n.div_ceil(rows);
        grid.short_cols = grid.cols;
        grid.rows = rows;
        grid.per_page = grid.capacity();
    }
    grid.per_page = grid.per_page.max(1);
    grid.pages = n.div_ceil(grid.per_page).max(1);
    grid
}

/// Lays out `n` maps of `map_w × map_h` in `width × height` cells, whose cells are
/// `cell_aspect` times taller than wide, with nothing else in the pane.
pub fn grid_layout(
    n: usize,
    map_w: usize,
    map_h: usize,
    width: u16,
    height: u16,
    cell_aspect: f64,
) -> GridLayout {
    let map = (map_w.max(1), map_h.max(1));
    fit_grid(
        n,
        map,
        (width as usize, height as usize),
        (0, 0),
        cell_aspect,
    )
}

/// The cells a `map_w × map_h` sum takes at most `cols` wide and `rows` tall (without its
/// caption), keeping its shape.
fn sum_cells(map: (usize, usize), cols: usize, rows: usize, cell_aspect: f64) -> (usize, usize) {
    // Width in cell widths; height in cell heights.
    let scale = (cols as f64 / map.0 as f64).min(rows as f64 * cell_aspect / map.1 as f64);
    let w = ((map.0 as f64 * scale).round() as usize).clamp(1, cols.max(1));
    let h = ((map.1 as f64 * scale / cell_aspect).round() as usize).clamp(1, rows.max(1));
    (w, h)
}

/// How good a split is: the area the tiles on a page take (with the gaps that hold the
/// selection outline) and the sum's, weighted four to one: the grid holds every channel and
/// gets most of the pane, the sum is one map and still gets about a third of it across.
fn split_score(grid: &GridLayout, n: usize, sum: (usize, usize)) -> f64 {
    let tiles =
        grid.per_page.min(n) as f64 * (grid.tile_cols as f64 + 1.0) * (grid.tile_rows as f64 + 1.0);
    let sum = (sum.0 * sum.1) as f64;
    tiles.powf(0.8) * sum.powf(0.2)
}

/// Splits `area` between the grid of `n` maps of `map_w × map_h` and their sum, trying every
/// sum width: the best [`split_score`] wins, among layouts that show every channel on one page
/// when any does (paging is for when tiles would get too small to read). The search costs
/// more than drawing a frame from cached pictures, so the last answer is kept.
pub fn pane_layout(
    n: usize,
    map_w: usize,
    map_h: usize,
    area: Rect,
    cell_aspect: f64,
) -> PaneLayout {
    type Key = (usize, usize, usize, Rect, u64);
    thread_local! {
        static LAST: std::cell::Cell<Option<(Key, PaneLayout)>> = const { std::cell::Cell::new(None) };
    }
    let key = (n, map_w, map_h, area, cell_aspect.to_bits());
    if let Some((k, layout)) = LAST.get() {
        if k == key {
            return layout;
        }
    }
    let layout = search_pane_layout(n, map_w, map_h, area, cell_aspect);
    LAST.set(Some((key, layout)));
    layout
}

fn search_pane_layout(
    n: usize,
    map_w: usize,
    map_h: usize,
    area: Rect,
    cell_aspect: f64,
) -> PaneLayout {
    let map = (map_w.max(1), map_h.max(1));
    let pane = (area.width as usize, area.height as usize);
    let origin = (area.x, area.y);
    let grid_only = PaneLayout {
        origin,
        grid: fit_grid(n, map, pane, (0, 0), cell_aspect),
        sum_area: None,
    };
    if pane.0 < 30 || pane.1 < 6 {
        return grid_only;
    }
    let mut best: Option<(bool, f64, PaneLayout)> = None;
    for width in MIN_TILE_COLS..=pane.0 * 7 / 10 {
        let (w, h) = sum_cells(map, width, pane.1 - 1, cell_aspect);
        if w < width {
            // Taller than the pane: a wider box would not make the sum larger.
            break;
        }
        let sum = (w, h + 1);
        let grid = fit_grid(n, map, pane, sum, cell_aspect);
        let paged = grid.pages > 1;
        let score = split_score(&grid, n, (w, h));
        if best
            .as_ref()
            .is_none_or(|(p, s, _)| (paged, -score) < (*p, -*s))
        {
            let sum_area = Rect::new(
                area.x + area.width - w as u16,
                area.y,
                w as u16,
                sum.1 as u16,
            );
            best = Some((
                paged,
                score,
                PaneLayout {
                    origin,
                    grid,
                    sum_area: Some(sum_area),
                },
            ));
        }
    }
    best.map(|(_, _, l)| l).unwrap_or(grid_only)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_channels_get_big_tiles() {
        let g = grid_layout(9, 4, 4, 80, 30, 2.0);
        assert_eq!(g.pages, 1);
        assert!(g.per_page >= 9);
        assert_eq!((g.cols, g.rows), (3, 3), "balanced rows");
        assert!(g.tile_cols >= 8, "{g:?}");
        assert!(g.cols * (g.tile_cols as usize + 1) < 80);
        assert!(g.rows * (g.tile_rows as usize + 1) < 30);
    }

    #[test]
    fn many_channels_page_at_a_readable_size() {
        let g = grid_layout(512, 7, 7, 150, 50, 2.0);
        assert_eq!(g.tile_cols, 7);
        assert_eq!(g.tile_rows, 4);
        assert!(g.pages > 1, "{g:?}");
        assert_eq!(g.pages, 512usize.div_ceil(g.per_page));
    }

    #[test]
    fn tiny_panes_still_show_one_tile() {
        let g = grid_layout(64, 112, 112, 5, 3, 2.0);
        assert!(g.per_page >= 1);
        assert!(g.tile_cols >= 1 && g.tile_rows >= 1);
    }

    /// Every tile inside the pane, none overlapping another or the sum (outlines included).
    fn check_whole(l: &PaneLayout, area: Rect, n: usize) {
        let g = &l.grid;
        let mut outlines: Vec<Rect> = Vec::new();
        for i in 0..g.per_page.min(n) {
            let r = g.tile_rect(l.origin, i);
            let outline = Rect::new(r.x - 1, r.y - 1, r.width + 2, r.height + 2);
            assert_eq!(
                outline.intersection(area),
                outline,
                "tile {i} {r:?} outside {area:?}"
            );
            if let Some(s) = l.sum_area {
                assert!(
                    outline.intersection(s).is_empty(),
                    "tile {i} {r:?} over the sum {s:?}"
                );
            }
            assert!(
                outlines.iter().all(|o| o.intersection(r).is_empty()),
                "tile {i} overlaps"
            );
            outlines.push(outline);
        }
        if let Some(s) = l.sum_area {
            assert_eq!(s.intersection(area), s);
        }
    }

    #[test]
    fn the_pane_is_shared_between_big_tiles_and_a_big_sum() {
        let pane = Rect::new(30, 2, 143, 56);
        // EfficientNet-Lite0's stem in xterm (6×13 px cells): one page, tiles of their shape.
        let l = pane_layout(32, 112, 112, pane, 13.0 / 6.0);
        check_whole(&l, pane, 32);
        let g = l.grid;
        assert_eq!(g.pages, 1);
        assert!(g.tile_cols >= 16, "{l:?}");
        let shape = g.tile_rows as f64 * 13.0 / (g.tile_cols as f64 * 6.0);
        assert!(
            (shape - 1.0).abs() < 0.1,
            "tiles of 112×112 maps look square: {shape}"
        );
        let sum = l.sum_area.expect("a sum");
        assert!(sum.width >= 143 / 4, "{l:?}");
        // Little of the pane is left over: tiles and sum cover most of it.
        let tiles = 32 * (g.tile_cols as usize + 1) * (g.tile_rows as usize + 1);
        let covered = (tiles + sum.area() as usize) as f64 / pane.area() as f64;
        assert!(covered > 0.75, "{covered:.2} of the pane: {l:?}");
        // 96 maps still fit one page at readable tiles; 1280 cannot, and page.
        let l = pane_layout(96, 112, 112, pane, 13.0 / 6.0);
        check_whole(&l, pane, 96);
        assert_eq!(l.grid.pages, 1, "{l:?}");
        assert!(l.grid.tile_cols as usize >= MIN_TILE_COLS);
        let l = pane_layout(1280, 7, 7, pane, 2.0);
        check_whole(&l, pane, 1280);
        assert!(l.grid.pages > 1);
        assert_eq!(
            l.grid.tile_cols, 7,
            "small maps keep their width when paging"
        );
    }

    #[test]
    fn rows_move_down_the_notch_and_across_pages() {
        let g = GridLayout {
            tile_cols: 8,
            tile_rows: 4,
            cols: 5,
            short_cols: 3,
            short_rows: 2,
            rows: 3,
            per_page: 11,
            pages: 3,
        };
        assert_eq!(g.place(4), (1, 1));
        assert_eq!(g.place(7), (2, 1));
        // From the notch's last column straight down; from the wide row back up, clamped.
        assert_eq!(g.move_rows(5, 1, 30), 8);
        assert_eq!(g.move_rows(10, -1, 30), 5);
        // Off the last row: the next page's first row, same column.
        assert_eq!(g.move_rows(7, 1, 30), 12);
        assert_eq!(g.move_rows(12, -1, 30), 7);
        // Never past the last channel.
        assert_eq!(g.move_rows(20, 5, 30), 29);
        assert_eq!(g.move_rows(1, -3, 30), 1);
    }
}
