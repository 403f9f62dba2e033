//! Rendering: the seed's grid rule, colormaps, normalisation, sums and overlays, pixel by pixel.

use featscope::activations::FeatureMaps;
use featscope::render::{
    self, channel_sum, grid_shape, layer_stats, render_grid, Colormap, GridStyle, Normalization,
    BACKGROUND,
};

#[test]
fn grid_shape_follows_the_seed_rule() {
    // rows = round(√n); cols = rows + 1 if √n > rows else rows (values from the Python recipe).
    let expected = [
        (1, (1, 1)),
        (2, (1, 2)),
        (3, (2, 2)),
        (4, (2, 2)),
        (5, (2, 3)),
        (6, (2, 3)),
        (7, (3, 3)),
        (8, (3, 3)),
        (9, (3, 3)),
        (10, (3, 4)),
        (12, (3, 4)),
        (13, (4, 4)),
        (16, (4, 4)),
        (32, (6, 6)),
        (64, (8, 8)),
        (128, (11, 12)),
        (256, (16, 16)),
        (512, (23, 23)),
        (1280, (36, 36)),
    ];
    for (n, shape) in expected {
        assert_eq!(grid_shape(n), shape, "n = {n}");
        assert!(shape.0 * shape.1 >= n);
    }
    assert_eq!(grid_shape(0), (0, 0));
}

#[test]
fn colormaps_match_matplotlib_at_their_ends() {
    assert_eq!(Colormap::Viridis.color(0.0), [68, 1, 84]); // #440154
    assert_eq!(Colormap::Viridis.color(1.0), [253, 231, 37]); // #fde725
    assert_eq!(Colormap::Magma.color(0.0), [0, 0, 4]);
    assert_eq!(Colormap::Gray.color(0.0), [0, 0, 0]);
    assert_eq!(Colormap::Gray.color(1.0), [255, 255, 255]);
    // RdBu: matplotlib's ends are #053061 (low) and #67001f (high); colorous interpolates
    // d3's scheme, within 2 of them. Near-white in the middle.
    let close = |a: [u8; 3], b: [u8; 3]| (0..3).all(|k| a[k].abs_diff(b[k]) <= 2);
    assert!(close(Colormap::RdBu.color(0.0), [5, 48, 97]));
    assert!(close(Colormap::RdBu.color(1.0), [103, 0, 31]));
    let mid = Colormap::RdBu.color(0.5);
    assert!(mid.iter().all(|&c| c > 230), "{mid:?}");
    assert_eq!(Colormap::Viridis.color(f32::NAN), [68, 1, 84]);
    // Cycling visits every map once.
    let mut c = Colormap::Viridis;
    let mut seen = vec![c];
    for _ in 0..Colormap::ALL.len() - 1 {
        c = c.next();
        seen.push(c);
    }
    assert_eq!(seen, Colormap::ALL.to_vec());
    assert_eq!(c.next(), Colormap::Viridis);
}

/// Two 2×2 channels: ch0 = [0, 1, 2, 3], ch1 = [10, 10, 10, 30].
fn two_channels() -> FeatureMaps {
    FeatureMaps::new(2, 2, 2, vec![0.0, 1.0, 2.0, 3.0, 10.0, 10.0, 10.0, 30.0])
}

fn px(img: &render::IndexedImage, x: u32, y: u32) -> [u8; 3] {
    img.rgb_at(x, y)
}

const TOP: usize = render::colormap::LEVELS - 1;

#[test]
fn grid_scales_each_channel_to_its_own_range() {
    let fm = two_channels();
    let style = GridStyle {
        colormap: Colormap::Gray,
        normalization: Normalization::PerChannel,
        scale: 1,
        gap: 1,
        labels: false,
        range: None,
    };
    let img = render_grid(&fm, &[0, 1], &style);
    // Two channels: 1 row × 2 cols, tiles 2×2, a 1 px gap.
    assert_eq!((img.width, img.height), (5, 2));
    let lut = Colormap::Gray.lut();
    assert_eq!(px(&img, 0, 0), lut[0]);
    assert_eq!(px(&img, 1, 0), lut[render::colormap::level(1.0 / 3.0)]);
    assert_eq!(px(&img, 1, 1), lut[TOP]);
    assert_eq!(px(&img, 2, 0), BACKGROUND);
    // ch1: 10 is its minimum, 30 its maximum.
    assert_eq!(px(&img, 3, 0), lut[0]);
    assert_eq!(px(&img, 4, 1), lut[TOP]);
}

#[test]
fn per_layer_scale_puts_channels_on_one_range() {
    let fm = two_channels();
    let style = GridStyle {
        colormap: Colormap::Gray,
        normalization: Normalization::PerLayer,
        scale: 2,
        gap: 0,
        labels: false,
        range: None,
    };
    let img = render_grid(&fm, &[0, 1], &style);
    assert_eq!((img.width, img.height), (8, 4));
    let lut = Colormap::Gray.lut();
    // Range 0..30: ch0's 3 is dim, ch1's 10 is a third of the way.
    assert_eq!(px(&img, 2, 2), lut[render::colormap::level(3.0 / 30.0)]);
    assert_eq!(px(&img, 3, 3), lut[render::colormap::level(3.0 / 30.0)]);
    assert_eq!(px(&img, 4, 0), lut[render::colormap::level(10.0 / 30.0)]);
    assert_eq!(px(&img, 7, 3), lut[TOP]);
}

#[test]
fn grid_draws_channels_in_the_given_order_and_labels_them() {
    let fm = two_channels();
    let mut style = GridStyle::for_maps(&fm);
    style.colormap = Colormap::Gray;
    style.gap = 0;
    style.scale = 1;
    let swapped = render_grid(&fm, &[1, 0], &style);
    let normal = render_grid(&fm, &[0, 1], &style);
    assert_eq!(px(&swapped, 0, 0), px(&normal, 2, 0));
    style.labels = true;
    style.scale = 60;
    let labelled = render_grid(&fm, &[0, 1], &style);
    assert!(labelled.height > 120, "a label strip above the tiles");
    let strip_has_text =
        (0..labelled.width).any(|x| (0..8).any(|y| px(&labelled, x, y) == render::LABEL));
    assert!(strip_has_text);
}

#[test]
fn a_constant_channel_takes_the_low_colour() {
    let fm = FeatureMaps::new(1, 2, 2, vec![5.0; 4]);
    let style = GridStyle::for_maps(&fm);
    let img = render::render_channel(&fm, 0, &style);
    assert!(img.pixels().all(|p| p.0 == Colormap::Viridis.color(0.0)));
    // The RGB and palette pictures agree pixel for pixel.
    let indexed = render::colorize_indexed(
        fm.channel(0),
        2,
        2,
        (5.0, 5.0),
        Colormap::Viridis,
        style.scale,
    );
    assert!(indexed.to_rgb() == img, "palette and RGB pictures differ");
}

#[test]
fn the_sum_map_is_the_one_to_one_sum_of_channels() {
    let fm = two_channels();
    assert_eq!(channel_sum(&fm), vec![10.0, 11.0, 12.0, 33.0]);
    let img = render::render_sum(&fm, Colormap::Gray, 1);
    let lut = Colormap::Gray.lut();
    assert_eq!(px(&img, 0, 0), lut[0]);
    assert_eq!(px(&img, 1, 1), lut[TOP]);
    assert_eq!(px(&img, 1, 0), lut[render::colormap::level(1.0 / 23.0)]);
    assert_eq!(img.palette().len(), 256, "one 8-bit PNG palette");
}

#[test]
fn overlay_blends_the_sum_over_the_image() {
    let fm = two_channels();
    let base = image::RgbImage::from_pixel(4, 4, image::Rgb([200, 100, 0]));
    let only_image = render::render_overlay(&fm, &base, Colormap::Gray, 0.0);
    assert_eq!(only_image, base);
    let half = render::render_overlay(&fm, &base, Colormap::Gray, 0.5);
    assert_eq!((half.width(), half.height()), (4, 4));
    // Top-left is the sum's minimum (black): half of the base colour.
    assert_eq!(half.get_pixel(0, 0).0, [100, 50, 0]);
}

#[test]
fn stats_count_zeros_dead_channels_and_means() {
    let fm = FeatureMaps::new(3, 1, 2, vec![0.0, 4.0, 0.0, 0.0, -1.0, 3.0]);
    let stats = layer_stats(&fm);
    assert_eq!(stats.min, -1.0);
    assert_eq!(stats.max, 4.0);
    assert_eq!(stats.mean, 1.0);
    assert_eq!(stats.zero_fraction, 3.0 / 6.0);
    assert_eq!(stats.dead_channels, 1);
    assert_eq!(stats.channel_means, vec![2.0, 0.0, 1.0]);
    assert_eq!(render::channels_by_mean(&stats), vec![0, 2, 1]);
}

#[test]
fn auto_scale_enlarges_small_maps_only() {
    assert_eq!(render::auto_scale(224, 224, 32), 1);
    assert_eq!(render::auto_scale(7, 7, 32), 5);
    assert_eq!(render::auto_scale(1, 1, 32), 32);
}

#[test]
fn ranges_ignore_infinities_and_nans() {
    let mut values: Vec<f32> = (0..37).map(|i| i as f32 - 10.0).collect();
    assert_eq!(render::min_max(&values), (-10.0, 26.0));
    values[5] = f32::INFINITY;
    values[30] = f32::NEG_INFINITY;
    values[31] = f32::NAN;
    assert_eq!(render::min_max(&values), (-10.0, 26.0));
    assert_eq!(render::min_max(&[f32::NAN; 9]), (0.0, 0.0));
    assert_eq!(render::min_max(&[]), (0.0, 0.0));
}
