//! Pictures measured in terminal cells: how large a picture of a given shape can be in a
//! `cols × rows` area of cells of a given pixel size.

/// A picture's size: cells on screen and pixels in the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fit {
    pub cols: u16,
    pub rows: u16,
    pub px_w: u32,
    pub px_h: u32,
}

/// Fits `src_w × src_h` (square pixels) into `cols × rows` cells of `cell_px` picture pixels,
/// each picture pixel `pixel_aspect` times taller than wide on screen, keeping its shape.
/// `integer` enlarges by whole multiples, so every activation stays the same size, when that
/// costs at most a fifth of the size; it needs square picture pixels, and is dropped when they
/// are not (a cell that is not 1:2 for half-blocks), where the shape matters more.
pub fn fit(
    src_w: u32,
    src_h: u32,
    cols: u16,
    rows: u16,
    cell_px: (u32, u32),
    pixel_aspect: f64,
    integer: bool,
) -> Fit {
    let (fw, fh) = cell_px;
    let avail_w = cols as u32 * fw;
    let avail_h = rows as u32 * fh;
    let (src_w, src_h) = (src_w.max(1), src_h.max(1));
    let aspect = if pixel_aspect.is_finite() && pixel_aspect > 0.0 {
        pixel_aspect
    } else {
        1.0
    };
    // Picture pixels per source pixel across; down, a picture pixel covers `aspect` of them.
    let mut scale = (avail_w as f64 / src_w as f64).min(avail_h as f64 * aspect / src_h as f64);
    let square = (aspect - 1.0).abs() < 0.03;
    if integer && square && scale >= 1.0 && scale.floor() >= 0.8 * scale {
        scale = scale.floor();
    }
    let px_w = ((src_w as f64 * scale).round() as u32).clamp(1, avail_w.max(1));
    let px_h = ((src_h as f64 * scale / aspect).round() as u32).clamp(1, avail_h.max(1));
    Fit {
        cols: px_w.div_ceil(fw).min(cols as u32) as u16,
        rows: px_h.div_ceil(fh).min(rows as u32) as u16,
        px_w,
        px_h,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_keeps_whole_multiples() {
        let f = fit(7, 7, 60, 20, (1, 2), 1.0, true);
        assert_eq!((f.px_w, f.px_h), (35, 35));
        assert_eq!((f.cols, f.rows), (35, 18));
        let f = fit(224, 224, 60, 20, (1, 2), 1.0, true);
        assert_eq!((f.px_w, f.px_h), (40, 40));
        // Not at the price of a third of the picture: 112 px in 162 stays 162, not 112.
        let f = fit(112, 112, 27, 30, (6, 6), 1.0, true);
        assert_eq!((f.px_w, f.px_h), (162, 162));
        // Cells of 6×13 px: a half-block pixel is 6×6.5, so a square map is drawn 12/13 as
        // many pixels tall as wide, at any scale.
        let f = fit(112, 112, 60, 30, (1, 2), 13.0 / 12.0, true);
        assert_eq!((f.px_w, f.px_h), (60, 55));
    }
}
