//! The interactive view on a `TestBackend`: synthetic activations with known numbers, driven by
//! real crossterm events through the app's own dispatch, checked as text snapshots.

use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use featscope::tui::app::{App, AppOptions, Effect, View};
use featscope::tui::graphics::Graphics;
use featscope::tui::halfblock::Colours;
use featscope::tui::keymap::KEYMAP;
use featscope::tui::Viewer;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::Terminal;

#[path = "common/fixtures.rs"]
mod fixtures;
use fixtures::{conv, synthetic};

/// The size keys are read against before a test draws anything.
const AREA: Rect = Rect::new(0, 0, 100, 30);

fn viewer() -> Viewer {
    Viewer::new(
        App::with_activations(synthetic(), AppOptions::default()),
        AREA,
    )
}

fn key(code: KeyCode) -> Event {
    Event::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

/// Sends keys the way the event loop does: `"j"`, `"J"`, or named keys in angle brackets; the
/// file reads a key asks for are run after it, as the event loop's threads would.
fn press(view: &mut Viewer, keys: &[&str]) -> Option<Effect> {
    let mut last = None;
    for k in keys {
        last = press_only(view, &[k]);
        view.run_reads();
    }
    last
}

/// [`press`], with the reads left waiting: what the screen shows until they are done.
fn press_only(view: &mut Viewer, keys: &[&str]) -> Option<Effect> {
    let mut last = None;
    for k in keys {
        let code = match *k {
            "<enter>" => KeyCode::Enter,
            "<esc>" => KeyCode::Esc,
            "<pgdn>" => KeyCode::PageDown,
            "<pgup>" => KeyCode::PageUp,
            "<down>" => KeyCode::Down,
            "<bs>" => KeyCode::Backspace,
            s => KeyCode::Char(s.chars().next().expect("key")),
        };
        last = view.handle_event(&key(code));
    }
    last
}

fn draw(view: &mut Viewer, w: u16, h: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    terminal.draw(|f| view.draw(f)).expect("draw");
    terminal.backend().buffer().clone()
}

/// The buffer's symbols, one line per row, trailing spaces dropped.
fn text(buf: &Buffer) -> String {
    let area = buf.area;
    let mut out = String::new();
    for y in area.top()..area.bottom() {
        let mut line = String::new();
        for x in area.left()..area.right() {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn screen(view: &mut Viewer, w: u16, h: u16) -> String {
    text(&draw(view, w, h))
}

#[test]
fn default_view() {
    let mut view = viewer();
    let s = screen(&mut view, 100, 30);
    assert!(s.contains(" conv1 · Conv · 1×6×8×8 "), "{s}");
    assert!(s.contains("channel 0 of 6"));
    assert!(s.contains("sum of 6 channels"));
    assert!(s.contains("synthetic (cpu) · 12 ms · viridis · per-channel"));
    assert!(s.contains("61.0% tabby"));
    // Stats of conv1: min = 6·(0−7)/10, max = 6·7/10; the diagonal is 0 in every channel.
    assert!(s.contains("min -4.200") && s.contains("max 4.200"), "{s}");
    assert!(s.contains("zeros 12.5%") && s.contains("dead 0/6"), "{s}");
    insta::assert_snapshot!("default_view", s);
}

#[test]
fn layer_change() {
    let mut view = viewer();
    draw(&mut view, 100, 30);
    press(&mut view, &["j"]);
    assert_eq!(
        view.app.selected_entry().map(|e| e.name.as_str()),
        Some("relu1")
    );
    let s = screen(&mut view, 100, 30);
    assert!(s.contains(" relu1 · Relu · 1×6×8×8 "), "{s}");
    // ReLU: half of each map (y < x) is zero, plus the diagonal.
    assert!(s.contains("min 0.000") && s.contains("zeros 56.2%"), "{s}");
    insta::assert_snapshot!("layer_change", s);
    press(&mut view, &["k", "<down>", "<down>"]);
    assert_eq!(
        view.app.selected_entry().map(|e| e.name.as_str()),
        Some("pool1")
    );
}

#[test]
fn paging() {
    let mut view = viewer();
    press(&mut view, &["j", "j", "j"]);
    assert_eq!(
        view.app.selected_entry().map(|e| e.name.as_str()),
        Some("wide")
    );
    let s = screen(&mut view, 80, 24);
    assert!(
        s.contains("page 1/"),
        "64 tiles should not fit in 80×24:\n{s}"
    );
    let (_, pages) = view.page().expect("a grid");
    assert!(pages > 1);
    press(&mut view, &["<pgdn>"]);
    let s = screen(&mut view, 80, 24);
    assert_eq!(view.page().expect("a grid").0, 2);
    assert!(s.contains(&format!("page 2/{pages}")), "{s}");
    insta::assert_snapshot!("paging", s);
    // Rows move by the grid's column count; PgUp comes back.
    let before = view.app.channel();
    press(&mut view, &["J"]);
    let cols = view.app.channel() - before;
    assert!(cols > 1);
    press(&mut view, &["K", "<pgup>"]);
    assert_eq!(view.page().expect("a grid").0, 1);
}

#[test]
fn zoom_with_cursor_values() {
    let mut view = viewer();
    draw(&mut view, 100, 30);
    press(&mut view, &["l", "l", "<enter>"]);
    assert!(view.app.is_zoomed());
    let start = view.app.cursor();
    press(&mut view, &["j", "j", "l"]);
    let (y, x) = view.app.cursor();
    assert_eq!((y, x), (start.0 + 2, start.1 + 1));
    let s = screen(&mut view, 100, 30);
    let expected = format!("(c, y, x) = (2, {y}, {x})  {:.3}", conv(2, y, x));
    assert!(s.contains(&expected), "want {expected:?} in\n{s}");
    assert!(s.contains('▼') && s.contains('▶'), "cursor rulers:\n{s}");
    insta::assert_snapshot!("zoom_cursor", s);
    // The cursor stops at the map's edge.
    press(&mut view, &["L", "L", "J", "J"]);
    assert_eq!(view.app.cursor(), (7, 7));
    // Esc goes back to the grid; the sum zooms too.
    press(&mut view, &["<esc>"]);
    assert!(!view.app.is_zoomed());
    press(&mut view, &["s", "<enter>"]);
    let s = screen(&mut view, 100, 30);
    assert_eq!(view.app.view(), View::Sum);
    // The sum over channels of (c+1)(y−x)/10 at (7, 7) is 0.
    assert!(s.contains("(sum, y, x) = (all, 7, 7)  0.000"), "{s}");
}

#[test]
fn help_overlay() {
    let mut view = viewer();
    press(&mut view, &["?"]);
    assert!(view.app.help_visible());
    let s = screen(&mut view, 120, 66);
    // Generated from the keymap: every binding's text is there.
    for b in KEYMAP {
        assert!(s.contains(b.help), "help lacks {:?}:\n{s}", b.help);
    }
    insta::assert_snapshot!("help_overlay", s);
    press(&mut view, &["<esc>"]);
    assert!(!view.app.help_visible());
    let s = screen(&mut view, 120, 44);
    assert!(!s.contains("next colormap"));
}

#[test]
fn help_scrolls_in_a_small_terminal() {
    let mut view = viewer();
    press(&mut view, &["?"]);
    let s = screen(&mut view, 60, 20);
    assert!(s.contains("j/k scroll"), "{s}");
    for _ in 0..100 {
        press(&mut view, &["j"]);
    }
    let s = screen(&mut view, 60, 20);
    assert!(s.contains("Mouse"), "scrolled to the end:\n{s}");
}

#[test]
fn filter() {
    let mut view = viewer();
    press(&mut view, &["/", "p", "o", "o"]);
    assert!(view.app.filter_editing());
    assert_eq!(
        view.app.selected_entry().map(|e| e.name.as_str()),
        Some("pool1")
    );
    let typing = screen(&mut view, 100, 30);
    assert!(typing.contains("/poo▏"), "{typing}");
    press(&mut view, &["l", "<enter>"]);
    assert!(!view.app.filter_editing());
    assert_eq!(view.app.filter(), "pool");
    let s = screen(&mut view, 100, 30);
    // "pool" matches pool1 by name and gap by its op (GlobalAveragePool).
    assert!(s.contains("Layers (2/7)"), "{s}");
    assert!(!s.contains("relu1"));
    insta::assert_snapshot!("filter", s);
    press(&mut view, &["j"]);
    assert_eq!(
        view.app.selected_entry().map(|e| e.name.as_str()),
        Some("gap")
    );
    // Esc in the list clears the filter; the selection stays.
    press(&mut view, &["<esc>"]);
    assert_eq!(view.app.filter(), "");
    let s = screen(&mut view, 100, 30);
    assert!(s.contains("relu1") && s.contains(" gap · "), "{s}");
    // A filter matching nothing says so.
    press(&mut view, &["/", "z", "z", "z"]);
    assert!(screen(&mut view, 100, 30).contains("no layer matches"));
    press(&mut view, &["<bs>", "<esc>"]);
    assert_eq!(view.app.filter(), "");
}

#[test]
fn tiny_terminal() {
    let mut view = viewer();
    let s = screen(&mut view, 30, 10);
    assert!(s.contains("terminal too small"), "{s}");
    insta::assert_snapshot!("tiny_terminal", s);
    // Keys still work, and a resize lays out again.
    press(&mut view, &["j"]);
    let s = screen(&mut view, 100, 30);
    assert!(s.contains(" relu1 · "));
    for (w, h) in [(40, 12), (41, 13), (200, 12), (40, 60), (1, 1)] {
        draw(&mut view, w, h);
    }
}

#[test]
fn non_drawable_layer() {
    let mut view = viewer();
    press(&mut view, &["G"]);
    assert_eq!(
        view.app.selected_entry().map(|e| e.name.as_str()),
        Some("argmax")
    );
    let s = screen(&mut view, 100, 30);
    assert!(
        s.contains("not drawn: int64 tensor; only float tensors are drawn"),
        "{s}"
    );
    insta::assert_snapshot!("non_drawable", s);
    press(&mut view, &["k"]);
    let s = screen(&mut view, 100, 30);
    assert!(
        s.contains("a vector of 64 values, not a feature map"),
        "{s}"
    );
    assert!(s.contains("64 values · min 0.000 · max 7.875"), "{s}");
    // Enter explains instead of zooming; export refuses.
    press(&mut view, &["<enter>"]);
    assert!(!view.app.is_zoomed());
    assert!(view
        .app
        .message()
        .is_some_and(|m| m.contains("is not drawn")));
    assert!(press(&mut view, &["e"]).is_none());
    // The input image is there whatever the layer.
    press(&mut view, &["s", "s", "s"]);
    assert_eq!(view.app.view(), View::Input);
    assert!(screen(&mut view, 100, 30).contains("input 32×32"));
}

#[test]
fn views_cycle_and_styles_change() {
    let mut view = viewer();
    for name in ["sum", "overlay", "input", "grid"] {
        press(&mut view, &["s"]);
        let s = screen(&mut view, 100, 30);
        assert_eq!(view.app.view().name(), name);
        assert!(s.contains(&format!("· {name} ·")), "{s}");
    }
    press(&mut view, &["c", "n", "o"]);
    let s = screen(&mut view, 100, 30);
    assert!(s.contains("magma · per-layer · by mean"), "{s}");
}

#[test]
fn order_by_mean() {
    let mut view = viewer();
    press(&mut view, &["j", "j", "j", "o"]);
    draw(&mut view, 100, 30);
    // gap-like "wide" layer: the first tile is now the channel with the highest mean.
    assert!(view.app.ordered_by_mean());
    let first = view.app.channel_at(0);
    press(&mut view, &["<esc>"]);
    assert_eq!(view.app.position_of(first), 0);
    press(&mut view, &["o"]);
    assert_eq!(view.app.channel_at(0), 0);
}

#[test]
fn mouse_selects_layers_and_tiles() {
    let mut view = viewer();
    let buf = draw(&mut view, 100, 30);
    // Find the row that shows pool1 in the sidebar and click it.
    let s = text(&buf);
    let row = s
        .lines()
        .position(|l| l.contains("pool1"))
        .expect("pool1 row") as u16;
    let click = |x, y| {
        Event::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: x,
            row: y,
            modifiers: KeyModifiers::NONE,
        })
    };
    view.handle_event(&click(3, row));
    assert_eq!(
        view.app.selected_entry().map(|e| e.name.as_str()),
        Some("pool1")
    );
    // Click the third tile: that channel is selected; clicking it again zooms.
    draw(&mut view, 100, 30);
    let (x, y) = tile_centre(&buf_after(&mut view), 2);
    view.handle_event(&click(x, y));
    assert_eq!(view.app.channel(), 2);
    view.handle_event(&click(x, y));
    assert!(view.app.is_zoomed());
    // The wheel over the sidebar moves between layers.
    let wheel = Event::Mouse(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column: 3,
        row,
        modifiers: KeyModifiers::NONE,
    });
    draw(&mut view, 100, 30);
    view.handle_event(&wheel);
    assert_eq!(
        view.app.selected_entry().map(|e| e.name.as_str()),
        Some("wide")
    );
}

fn buf_after(view: &mut Viewer) -> Buffer {
    draw(view, 100, 30)
}

/// The centre of the `n`-th picture tile in reading order: tiles are the runs of `▀` as wide
/// as the first one (the sum is wider), found at their top-left corners.
fn tile_centre(buf: &Buffer, n: usize) -> (u16, u16) {
    let picture = |x: u16, y: u16| buf[(x, y)].symbol() == "▀";
    let mut tiles = Vec::new();
    let mut tile_w = None;
    for y in 0..buf.area.height {
        let mut x = 0;
        while x < buf.area.width {
            if !picture(x, y) {
                x += 1;
                continue;
            }
            let start = x;
            while x < buf.area.width && picture(x, y) {
                x += 1;
            }
            let w = x - start;
            let top = y == 0 || !picture(start, y - 1);
            if top && *tile_w.get_or_insert(w) == w {
                tiles.push((start + w / 2, y + 1));
            }
        }
    }
    *tiles
        .get(n)
        .unwrap_or_else(|| panic!("no tile {n}: {tiles:?}"))
}

#[test]
fn pictures_are_cached_per_view_state() {
    let mut view = viewer();
    draw(&mut view, 100, 30);
    let after_first = view.cached_pictures();
    assert_eq!(after_first, 7, "6 tiles and the sum");
    // Moving the selection redraws no picture; a new colormap makes new ones.
    press(&mut view, &["l", "l"]);
    draw(&mut view, 100, 30);
    assert_eq!(view.cached_pictures(), after_first);
    press(&mut view, &["c"]);
    draw(&mut view, 100, 30);
    assert_eq!(view.cached_pictures(), after_first + 6 + 1);
}

#[test]
fn half_blocks_follow_the_colormap() {
    let mut view = viewer();
    let buf = draw(&mut view, 100, 30);
    // The sum of conv1 is lowest at the top-right corner ((y − x) most negative) and highest at
    // the bottom-left; viridis runs from dark purple to yellow.
    let cells: Vec<_> = buf.content().iter().filter(|c| c.symbol() == "▀").collect();
    assert!(!cells.is_empty());
    let low = featscope::render::Colormap::Viridis.color(0.0);
    let high = featscope::render::Colormap::Viridis.color(1.0);
    let has = |rgb: [u8; 3]| {
        cells.iter().any(|c| {
            c.fg == Color::Rgb(rgb[0], rgb[1], rgb[2]) || c.bg == Color::Rgb(rgb[0], rgb[1], rgb[2])
        })
    };
    assert!(has(low) && has(high));
}

#[test]
fn without_truecolor_pictures_use_256_colours() {
    let opts = AppOptions {
        graphics: Graphics::halfblocks(Colours::Palette256),
        ..AppOptions::default()
    };
    let mut view = Viewer::new(App::with_activations(synthetic(), opts), AREA);
    let buf = draw(&mut view, 100, 30);
    for c in buf.content().iter().filter(|c| c.symbol() == "▀") {
        assert!(matches!(c.fg, Color::Indexed(_)), "{c:?}");
    }
}

#[test]
fn no_color_makes_the_chrome_monochrome() {
    let opts = AppOptions {
        no_color: true,
        ..AppOptions::default()
    };
    let mut view = Viewer::new(App::with_activations(synthetic(), opts), AREA);
    let mut pictures = 0;
    for keys in [&[][..], &["?"][..], &["<esc>", "<enter>"][..]] {
        press(&mut view, keys);
        let buf = draw(&mut view, 100, 30);
        for c in buf.content() {
            if c.symbol() == "▀" || (view.app.is_zoomed() && c.bg != Color::Reset) {
                pictures += 1;
                continue;
            }
            assert_eq!((c.fg, c.bg), (Color::Reset, Color::Reset), "{c:?}");
        }
    }
    assert!(pictures > 0, "pictures keep their colours");
}

#[test]
fn loading_shows_the_graph_layers() {
    use featscope::model::builder::{attr_ints, tensor_f32, Dim, GraphBuilder};
    use featscope::model::proto::data_type;
    let dims = |d: &[i64]| d.iter().map(|&v| Dim::Fixed(v)).collect::<Vec<_>>();
    let mut g = GraphBuilder::new("tiny", 13);
    g.input("x", data_type::FLOAT, &dims(&[1, 3, 8, 8]))
        .initializer(tensor_f32("w", &[2, 3, 3, 3], &[0.1; 54]))
        .node(
            "Conv",
            "c1",
            &["x", "w"],
            &["y"],
            vec![attr_ints("kernel_shape", &[3, 3])],
        )
        .node("Relu", "r1", &["y"], &["z"], vec![])
        .output("z", data_type::FLOAT, &dims(&[1, 2, 6, 6]));
    let bytes = g.finish_bytes("test");
    let model =
        featscope::model::Model::from_bytes(std::path::Path::new("tiny.onnx"), bytes.into())
            .expect("model");
    let mut view = Viewer::new(App::new(AppOptions::default()), AREA);
    view.app.set_model(model);
    let s = screen(&mut view, 100, 30);
    assert!(s.contains("c1") && s.contains("r1"), "{s}");
    assert!(s.contains("2×6×6"), "declared shape of the output: {s}");
    assert!(s.contains("opening the model…"), "{s}");
    // Keys answer while loading; q quits.
    press(&mut view, &["j", "?", "<esc>", "s", "e"]);
    assert_eq!(
        view.app.selected_entry().map(|e| e.name.as_str()),
        Some("r1")
    );
    assert!(matches!(press(&mut view, &["q"]), Some(Effect::Quit)));
    // Ctrl-C quits too, even while typing a filter.
    press(&mut view, &["/"]);
    let ctrl_c = Event::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(matches!(view.handle_event(&ctrl_c), Some(Effect::Quit)));
}

/// The engine options the command line would give for `--backend tract`.
fn tract_config() -> featscope::pipeline::RunConfig {
    use clap::Parser;
    featscope::cli::Cli::try_parse_from(["featscope", "--backend", "tract"])
        .expect("arguments")
        .view
        .run
        .config()
}

#[test]
fn real_model_through_the_analyzer() {
    use featscope::model::Model;
    use featscope::pipeline::{Analyzer, Selection};
    use featscope::tui::app::Msg;
    let models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let seed = models.join("seed_cnn.onnx").exists();
    // The seed CNN takes any size, so its shapes follow the image: only the channels are fixed.
    let (model_path, image, first, shape) = if seed {
        (
            models.join("seed_cnn.onnx"),
            models.join("chelsea.png"),
            "conv1",
            " · 1×9×",
        )
    } else {
        (
            models.join("mnist-8.onnx"),
            models.join("digit2.png"),
            "Convolution28",
            " · 1×8×28×28",
        )
    };
    let model = Model::open(&model_path).expect("model");
    let out = tempfile::tempdir().expect("tempdir");
    let mut view = Viewer::new(
        App::new(AppOptions {
            export_dir: out.path().join("export"),
            image_path: image.clone(),
            ..AppOptions::default()
        }),
        AREA,
    );
    view.app.set_model(model.clone());
    let loading = screen(&mut view, 120, 40);
    assert!(loading.contains(first), "{loading}");

    let mut analyzer = Analyzer::open(model, &tract_config(), &Selection::All).expect("engine");
    let acts = analyzer.compute(&image).expect("inference");
    view.app.on_message(Msg::Ready(Box::new(acts)));
    let s = screen(&mut view, 120, 40);
    assert!(s.contains(first) && s.contains(shape), "{s}");
    assert!(s.contains("tract"), "engine in the status bar: {s}");
    assert!(s.contains("channel 0 of"), "{s}");
    // Every layer can be selected and drawn.
    for _ in 0..view.app.entries().len() {
        press(&mut view, &["j"]);
        screen(&mut view, 120, 40);
    }
    press(&mut view, &["g"]);
    match press(&mut view, &["e"]) {
        Some(Effect::Export(job)) => {
            let files = job.run().expect("export");
            let names: Vec<String> = files
                .iter()
                .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect();
            assert!(names.iter().any(|n| n.ends_with("_grid.png")), "{names:?}");
            assert!(names.iter().any(|n| n.ends_with("_sum.png")), "{names:?}");
            assert!(names.contains(&"summary.json".to_string()), "{names:?}");
            view.app.on_message(Msg::Exported(Ok(files)));
            assert!(view.app.message().is_some_and(|m| m.contains("_grid.png")));
        }
        _ => panic!("e should export the selected layer"),
    }
}

#[test]
fn escape_sequences_in_names_never_reach_the_screen() {
    use featscope::model::builder::{attr_ints, tensor_f32, Dim, GraphBuilder};
    use featscope::model::proto::data_type;
    use featscope::model::Model;
    use featscope::pipeline::{Analyzer, Selection};
    use featscope::tui::app::Msg;
    let evil_conv = "evil\x1b[2J\x1b]0;pwned\x07";
    let evil_tensor = "t\x1b[31mred\u{9b}31m";
    let evil_relu = "relu\x07\x1b[5m";
    let evil_out = "out\x1b]52;c;AAAA\x07";
    let d = |v: &[i64]| v.iter().map(|&x| Dim::Fixed(x)).collect::<Vec<_>>();
    let mut g = GraphBuilder::new("evil\x1b[H", 13);
    g.input("input", data_type::FLOAT, &d(&[1, 3, 8, 8]))
        .initializer(tensor_f32("w", &[2, 3, 3, 3], &[0.05; 54]))
        .node(
            "Conv",
            evil_conv,
            &["input", "w"],
            &[evil_tensor],
            vec![attr_ints("kernel_shape", &[3, 3])],
        )
        .node("Relu", evil_relu, &[evil_tensor], &[evil_out], vec![])
        .output(evil_out, data_type::FLOAT, &d(&[1, 2, 6, 6]));
    let dir = tempfile::tempdir().expect("tempdir");
    let model_path = dir.path().join("evil.onnx");
    std::fs::write(&model_path, g.finish_bytes("evil\x1b[2J")).expect("write model");
    let image_path = dir.path().join("img\x1b[2J\x07.png");
    image::RgbImage::from_fn(8, 8, |x, y| {
        image::Rgb([(x * 30) as u8, (y * 30) as u8, 99])
    })
    .save_with_format(&image_path, image::ImageFormat::Png)
    .expect("write image");

    let model = Model::open(&model_path).expect("model");
    let mut view = Viewer::new(
        App::new(AppOptions {
            image_path: image_path.clone(),
            export_dir: dir.path().join("out\x1b[2J"),
            ..AppOptions::default()
        }),
        AREA,
    );
    let check = |view: &mut Viewer, label: &str| {
        for (w, h) in [(100, 30), (60, 16)] {
            let buf = draw(view, w, h);
            for cell in buf.content() {
                let sym = cell.symbol();
                assert!(
                    !sym.chars().any(|c| c.is_control()),
                    "{label}: control character in cell {sym:?}\n{}",
                    text(&buf)
                );
            }
        }
    };
    view.app.set_model(model.clone());
    check(&mut view, "loading");
    view.app
        .on_message(Msg::Stage(format!("running on {}", image_path.display())));
    check(&mut view, "stage");
    let mut analyzer = Analyzer::open(model, &tract_config(), &Selection::All).expect("engine");
    let acts = analyzer.compute(&image_path).expect("inference");
    view.app.on_message(Msg::Ready(Box::new(acts)));
    check(&mut view, "grid");
    let s = screen(&mut view, 100, 30);
    assert!(
        s.contains("evil?[2J?]0;pwned?"),
        "names are shown, neutralised: {s}"
    );
    for keys in [
        &["j"][..],
        &["<enter>"],
        &["<esc>", "s", "<enter>"],
        &["<esc>", "s", "s", "s"],
        &["?"],
        &["<esc>", "/", "e"],
    ] {
        press(&mut view, keys);
        check(&mut view, &format!("after {keys:?}"));
    }
    press(&mut view, &["<esc>"]);
    view.app.on_message(Msg::Exported(Err(
        "cannot write out\x1b[2J/x.png\x07".into()
    )));
    check(&mut view, "export error");
    view.app.on_message(Msg::Failed(format!(
        "{}: \x1b[31mbroken",
        image_path.display()
    )));
    check(&mut view, "failure");
}

#[test]
fn layout_is_computed_without_drawing() {
    use featscope::tui::layout::{Body, ViewLayout};
    use ratatui::layout::Position;
    let mut app = App::with_activations(synthetic(), AppOptions::default());
    let area = Rect::new(0, 0, 100, 30);
    let layout = ViewLayout::compute(&app, area, None);
    // conv1's six tiles and its sum, on one page; every layer has a row in the sidebar.
    let Body::Grid(grid) = &layout.body else {
        panic!("a grid: {:?}", layout.body);
    };
    assert_eq!(grid.tiles.len(), 6);
    assert_eq!((grid.page, grid.pages), (1, 1));
    assert!(grid.sum.is_some());
    assert_eq!(layout.sidebar.shown, (0..7).collect::<Vec<_>>());
    // The same state gives the same layout.
    assert_eq!(ViewLayout::compute(&app, area, Some(&layout)), layout);

    // Click the fourth tile, never drawn: its channel is selected; again, it zooms.
    let (rect, position) = grid.tiles[3];
    let centre = Position::new(rect.x + rect.width / 2, rect.y + rect.height / 2);
    assert_eq!(layout.tile_at(centre), Some(3));
    let click = Event::Mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: centre.x,
        row: centre.y,
        modifiers: KeyModifiers::NONE,
    });
    app.handle_event(&click, &layout);
    assert_eq!(app.channel(), position);
    app.handle_event(&click, &layout);
    assert!(app.is_zoomed());
    // Zoomed, the layout is one picture with the cursor, and the click regions follow.
    let zoomed = ViewLayout::compute(&app, area, Some(&layout));
    assert!(matches!(zoomed.body, Body::Single(ref s) if s.cursor));
    assert_eq!(zoomed.tile_at(centre), None);
    assert!(zoomed.zoomed().is_some());

    // A click on the sidebar's third row selects pool1.
    let row = layout.sidebar.rows;
    let pool = Position::new(row.x + 1, row.y + 2);
    assert_eq!(layout.entry_at(pool), Some(2));
    app.handle_event(&key(KeyCode::Esc), &zoomed);
    let browse = ViewLayout::compute(&app, area, Some(&zoomed));
    let click_row = Event::Mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: pool.x,
        row: pool.y,
        modifiers: KeyModifiers::NONE,
    });
    app.handle_event(&click_row, &browse);
    assert_eq!(app.selected_entry().map(|e| e.name.as_str()), Some("pool1"));

    // Too small a screen lays out nothing to click.
    let tiny = ViewLayout::compute(&app, Rect::new(0, 0, 30, 10), None);
    assert!(tiny.too_small);
    assert_eq!(tiny.tile_at(centre), None);
    assert_eq!(tiny.entry_at(pool), None);
}

#[test]
fn modes_follow_keys() {
    use featscope::tui::app::{Behind, Mode};
    let mut view = viewer();
    assert_eq!(view.app.mode(), Mode::Browse);
    press(&mut view, &["<enter>"]);
    assert_eq!(view.app.mode(), Mode::Zoom);
    // Help over zoom goes back to zoom; the filter over zoom too.
    press(&mut view, &["?"]);
    assert_eq!(
        view.app.mode(),
        Mode::Help {
            scroll: 0,
            behind: Behind::Zoom
        }
    );
    press(&mut view, &["?"]);
    assert_eq!(view.app.mode(), Mode::Zoom);
    press(&mut view, &["/"]);
    assert_eq!(
        view.app.mode(),
        Mode::Filter {
            behind: Behind::Zoom
        }
    );
    press(&mut view, &["<enter>", "<esc>"]);
    assert_eq!(view.app.mode(), Mode::Browse);
    // Help scrolls no further than its text.
    let mut small = Viewer::new(
        App::with_activations(synthetic(), AppOptions::default()),
        Rect::new(0, 0, 60, 20),
    );
    press(&mut small, &["?"]);
    let most = small.layout().help.as_ref().expect("help box").max_scroll;
    assert!(most > 0);
    for _ in 0..100 {
        press(&mut small, &["j"]);
    }
    assert!(matches!(small.app.mode(), Mode::Help { scroll, .. } if scroll == most));
}

/// `featscope compare`'s view: B is A with one channel of relu1 changed.
fn compare_view() -> Viewer {
    use featscope::tui::app::CompareOptions;
    let a = synthetic();
    let mut b = synthetic();
    if let featscope::activations::LayerData::FeatureMaps(fm) = &mut b.layers[1].data {
        // Channel 2, row 7: raised by 0.5 (relu1's largest value is 4.2).
        let (h, w) = (fm.height, fm.width);
        for x in 0..w {
            fm.data[2 * h * w + 7 * w + x] += 0.5;
        }
    }
    let opts = AppOptions {
        compare: Some(CompareOptions {
            name_a: "a.png".into(),
            name_b: "b.png".into(),
            threshold: 1e-3,
            sqnr_threshold: 30.0,
        }),
        ..AppOptions::default()
    };
    let mut app = App::new(opts);
    app.set_comparison(a, b);
    Viewer::new(app, AREA)
}

#[test]
fn compare_shows_a_b_and_their_difference() {
    let mut view = compare_view();
    let s = screen(&mut view, 120, 34);
    // The sidebar says how far apart each layer is: only relu1 differs.
    let row = |name: &str| {
        s.lines()
            .find(|l| l.contains(&format!("│{name} ")))
            .unwrap_or_else(|| panic!("no {name} row:\n{s}"))
            .to_string()
    };
    assert!(row("conv1").contains(" 0│"), "{s}");
    assert!(row("relu1").contains("1.2e-1"), "{s}");
    assert!(row("flatten").contains(" 0│"), "{s}");
    assert!(row("argmax").contains("–"), "not compared: {s}");
    assert!(
        s.contains("A: a.png") && s.contains("B: b.png") && s.contains("A − B"),
        "{s}"
    );
    insta::assert_snapshot!("compare", s);

    // ] goes to the first layer that differs, w to its worst channel.
    press(&mut view, &["]"]);
    assert_eq!(
        view.app.selected_entry().map(|e| e.name.as_str()),
        Some("relu1")
    );
    let s = screen(&mut view, 120, 34);
    assert!(
        s.contains("max|A−B| 0.500") && s.contains("worst channel 2"),
        "{s}"
    );
    press(&mut view, &["w"]);
    assert_eq!(view.app.channel(), 2);
    let s = screen(&mut view, 120, 34);
    assert!(s.contains("this channel: max|A−B| 0.500"), "{s}");
    press(&mut view, &["]"]);
    assert!(
        view.app
            .message()
            .is_some_and(|m| m.contains("no later layer")),
        "{:?}",
        view.app.message()
    );
    press(&mut view, &["["]);
    assert_eq!(
        view.app.selected_entry().map(|e| e.name.as_str()),
        Some("relu1")
    );
    // The sum and the inputs compare too; zoom shows A with its cursor.
    press(&mut view, &["s"]);
    assert!(screen(&mut view, 120, 34).contains("sum of 6 channels"));
    press(&mut view, &["s", "s"]);
    let s = screen(&mut view, 120, 34);
    assert!(
        s.contains("the inputs as fed") && !s.contains("A − B"),
        "{s}"
    );
}

/// EfficientNet-Lite0 on chelsea.png, run in process, with the evidence maps the view's worker
/// would send.
fn efficientnet_view() -> Viewer {
    use featscope::explain::run::{ClassPick, EvidenceRequest, Explainer};
    use featscope::model::Model;
    use featscope::pipeline::{Analyzer, Selection};
    use featscope::tui::app::Msg;
    let models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let model = Model::open(&models.join("efficientnet_lite0.onnx")).expect("model");
    let explainer = Explainer::new(&model).expect("head");
    let mut analyzer =
        Analyzer::open(model.clone(), &tract_config(), &Selection::All).expect("engine");
    let mut acts = analyzer
        .compute(&models.join("chelsea.png"))
        .expect("inference");
    // The time varies from run to run; the snapshots show a fixed one.
    acts.inference = std::time::Duration::from_millis(50);
    let mut evidence = Vec::new();
    for class in acts.top5.as_ref().expect("top-5") {
        let request = EvidenceRequest {
            class: ClassPick::Index(class.index),
            ..Default::default()
        };
        evidence.push(
            explainer
                .explain(&mut analyzer, &acts, &request, &mut |_, _| {})
                .expect("cam"),
        );
    }
    let opts = AppOptions {
        export_dir: std::env::temp_dir().join(format!("featscope-tui-{}", std::process::id())),
        ..AppOptions::default()
    };
    let mut view = Viewer::new(App::new(opts), AREA);
    view.app.set_model(model);
    view.app.on_message(Msg::Ready(Box::new(acts)));
    // Before the maps arrive, x says they are coming.
    press(&mut view, &["x"]);
    let s = screen(&mut view, 120, 36);
    assert!(s.contains("making the class evidence map"), "{s}");
    press(&mut view, &["s"]);
    view.app.on_message(Msg::Evidence(evidence));
    view
}

#[test]
fn x_shows_where_each_top_class_came_from() {
    let mut view = efficientnet_view();
    press(&mut view, &["x"]);
    assert_eq!(view.app.view(), View::Evidence);
    let s = screen(&mut view, 120, 36);
    assert!(
        s.contains("tiger cat (282) 1/5 · cam on /_swish_1/Clip 7×7"),
        "{s}"
    );
    assert!(
        s.contains(" 39.4%▸tiger cat"),
        "the class shown is marked: {s}"
    );
    insta::assert_snapshot!("evidence", s);
    press(&mut view, &["x"]);
    let s = screen(&mut view, 120, 36);
    assert!(s.contains("Egyptian cat (285) 2/5"), "{s}");
    assert!(
        s.contains(" 34.8%▸Egyptian cat") && !s.contains(" 39.4%▸"),
        "{s}"
    );
    // e writes what is on screen: the evidence map, as snapshot --cam would.
    match press(&mut view, &["e"]) {
        Some(Effect::Export(job)) => {
            let files = job.run().expect("export");
            let names: Vec<String> = files
                .iter()
                .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect();
            assert!(
                names.contains(&"cam_285_overlay.png".to_string()),
                "{names:?}"
            );
            let _ = std::fs::remove_dir_all(&job.dir);
        }
        _ => panic!("e should export"),
    }
    press(&mut view, &["x", "x", "x", "x"]);
    assert!(
        screen(&mut view, 120, 36).contains("(282) 1/5"),
        "x wraps around"
    );
    press(&mut view, &["s"]);
    assert_eq!(view.app.view(), View::Grid);
}

#[test]
fn f_shows_a_convolution_s_kernels() {
    let mut view = efficientnet_view();
    press(&mut view, &["g", "f"]);
    assert_eq!(view.app.view(), View::Filters);
    let s = screen(&mut view, 120, 36);
    assert!(
        s.contains("kernels 32×3×3×3 · each kernel in RGB"),
        "the stem's kernels: {s}"
    );
    insta::assert_snapshot!("filters", s);
    // A layer that is not a convolution says so; the next one shows its own kernels.
    press(&mut view, &["j"]);
    let s = screen(&mut view, 120, 36);
    assert!(s.contains("not a convolution"), "{s}");
    press(&mut view, &["j"]);
    let s = screen(&mut view, 120, 36);
    assert!(
        s.contains("kernels 32×1×3×3 · each kernel averaged"),
        "depthwise kernels: {s}"
    );
    press(&mut view, &["f"]);
    assert_eq!(view.app.view(), View::Grid);
}

/// A scan of the synthetic model's relu1 over three "images" (the layer itself, scaled), with a
/// montage drawn for channel 1 only.
fn scanned_view(dir: &std::path::Path) -> Viewer {
    use featscope::scan::{stats::LayerStats, ScanLayer, ScanResult, FORMAT};
    use featscope::tui::app::ScanAttached;
    let acts = synthetic();
    let relu1 = acts
        .layers
        .iter()
        .find(|l| l.name.as_str() == "relu1")
        .expect("scan fixture");
    let fm = relu1.feature_maps().expect("scan fixture").clone();
    let mut stats = LayerStats::new(fm.channels);
    for (i, k) in [1.0f32, -1.0, 0.5].iter().enumerate() {
        let mut scaled = fm.clone();
        scaled.data.iter_mut().for_each(|v| *v *= k);
        stats.add(&scaled, i as u32, 3);
    }
    let mut layer = ScanLayer {
        name: "relu1".into(),
        tensor: relu1.tensor.clone(),
        height: Some(fm.height),
        width: Some(fm.width),
        dead_channels: 0,
        mean: Vec::new(),
        max: Vec::new(),
        dead_fraction: Vec::new(),
        stats,
    };
    layer.dead_channels = layer.stats.dead_channels();
    layer.mean = (0..fm.channels).map(|c| layer.stats.mean(c)).collect();
    layer.max = layer.stats.max.clone();
    layer.dead_fraction = (0..fm.channels)
        .map(|c| layer.stats.dead_fraction(c))
        .collect();
    let result = ScanResult {
        format: FORMAT.into(),
        model: "synthetic.onnx".into(),
        files: vec!["a.png".into(), "b.png".into(), "c.png".into()],
        top: 3,
        shard: None,
        scanned: 3,
        skipped: Vec::new(),
        layers: vec![layer],
    };
    std::fs::write(
        dir.join("scan.json"),
        serde_json::to_vec(&result).expect("scan fixture"),
    )
    .expect("scan fixture");
    let montage = featscope::scan::montage::path(dir, "relu1", 1);
    std::fs::create_dir_all(montage.parent().expect("scan fixture")).expect("scan fixture");
    image::RgbImage::from_pixel(130, 130, image::Rgb([200, 40, 40]))
        .save(&montage)
        .expect("scan fixture");
    let opts = AppOptions {
        scan: Some(ScanAttached::read(dir).expect("scan fixture")),
        ..AppOptions::default()
    };
    Viewer::new(App::with_activations(acts, opts), AREA)
}

#[test]
fn a_scan_shows_dead_channels_and_a_zoomed_channel_s_top_images() {
    let dir = tempfile::tempdir().unwrap();
    let mut view = scanned_view(dir.path());
    let s = screen(&mut view, 120, 34);
    // relu1's channels fire on the first image: none is dead on every image.
    let row = s
        .lines()
        .find(|l| l.contains("│relu1 "))
        .expect("relu1 row");
    assert!(row.contains("0/6 dead"), "{s}");
    let conv = s
        .lines()
        .find(|l| l.contains("│conv1 "))
        .expect("conv1 row");
    assert!(
        conv.contains("6×8×8"),
        "unscanned layers keep their shape: {s}"
    );

    // Zoom on relu1's channel 0: no montage for it, so the files, best first.
    press(&mut view, &["j", "<enter>"]);
    let s = screen(&mut view, 120, 34);
    assert!(s.contains("top 3 of 3 images"), "{s}");
    let a = s.find("a.png").expect("a.png listed");
    let c = s.find("c.png").expect("c.png listed");
    assert!(a < c, "the image with the higher peak first: {s}");
    insta::assert_snapshot!("scan_zoom", s);

    // Channel 1 has a montage: it is drawn (red in half-blocks) instead of the list.
    press(&mut view, &["<pgdn>"]);
    let buf = draw(&mut view, 120, 34);
    let red = (0..buf.area.height)
        .flat_map(|y| (0..buf.area.width).map(move |x| (x, y)))
        .filter(|&(x, y)| buf[(x, y)].fg == Color::Rgb(200, 40, 40))
        .count();
    assert!(red > 50, "the montage is on screen ({red} cells)");
    assert!(!text(&buf).contains("a.png"));
}

/// `featscope compare` of a model and its int8 version: B is A with each layer's values through
/// an int8 scale of its own, relu1's coarse (it loses by itself), pool1 computed from it.
fn precision_view() -> Viewer {
    use featscope::precision::{ElemType, Precision, Quantization};
    use featscope::tui::app::CompareOptions;
    let mut a = synthetic();
    a.layers[2].source = Some("relu1_out".into());
    let mut b = synthetic();
    for layer in &mut b.layers {
        // A scale that holds the layer's largest value; relu1's 30 times coarser.
        let largest = match &layer.data {
            featscope::activations::LayerData::FeatureMaps(fm) => {
                fm.data.iter().fold(0f32, |m, v| m.max(v.abs()))
            }
            featscope::activations::LayerData::Vector(v) => {
                v.iter().fold(0f32, |m, v| m.max(v.abs()))
            }
            _ => 1.0,
        };
        let scale = (largest / 127.0).max(1e-3) * if layer.name == "relu1" { 30.0 } else { 1.0 };
        let q = Quantization::per_tensor(ElemType::Int8, scale, 0);
        let shape = layer.shape.clone();
        match &mut layer.data {
            featscope::activations::LayerData::FeatureMaps(fm) => {
                let (stored, _) = q.round_trip(&fm.data, &shape);
                fm.data.copy_from_slice(&stored);
            }
            featscope::activations::LayerData::Vector(v) => {
                let (stored, _) = q.round_trip(v, &shape);
                *v = stored;
            }
            _ => {}
        }
        layer.precision = Precision {
            elem: ElemType::Int8,
            quantization: Some(q),
        };
    }
    let opts = AppOptions {
        compare: Some(CompareOptions {
            name_a: "model.onnx".into(),
            name_b: "model_int8.onnx".into(),
            threshold: 1e-3,
            sqnr_threshold: 30.0,
        }),
        ..AppOptions::default()
    };
    let mut app = App::new(opts);
    app.set_comparison(a, b);
    Viewer::new(app, AREA)
}

#[test]
fn a_precision_compare_shows_sqnr_and_steps_to_the_layer_that_loses() {
    let mut view = precision_view();
    let s = screen(&mut view, 120, 34);
    let row = |s: &str, name: &str| {
        s.lines()
            .find(|l| l.contains(&format!("│{name} ")))
            .unwrap_or_else(|| panic!("no {name} row:\n{s}"))
            .to_string()
    };
    // Each layer's SQNR in dB; relu1's coarse scale is far under the 30 dB threshold.
    assert!(row(&s, "conv1").contains("dB│"), "{s}");
    assert!(row(&s, "argmax").contains("–"), "{s}");
    insta::assert_snapshot!("precision_compare", s);
    // ] steps to the first layer whose own format loses (local SQNR under 30 dB): relu1.
    press(&mut view, &["]"]);
    assert_eq!(
        view.app.selected_entry().map(|e| e.name.as_str()),
        Some("relu1")
    );
    let s = screen(&mut view, 120, 34);
    assert!(
        s.contains("SQNR") && s.contains("local") && s.contains("int8 s=0.99"),
        "{s}"
    );
    // pool1 reads relu1: the status shows the SQNR it inherits.
    press(&mut view, &["j"]);
    let s = screen(&mut view, 120, 34);
    assert!(s.contains(" input 12.7 dB → SQNR 44.9 dB"), "{s}");
    // W: the layer that loses most by itself.
    press(&mut view, &["g", "W"]);
    let worst = view.app.selected_entry().map(|e| e.name.to_string());
    assert!(
        matches!(worst.as_deref(), Some("relu1" | "pool1")),
        "{worst:?}"
    );
}

#[test]
fn nan_layers_are_marked_and_bang_goes_to_the_first() {
    let mut acts = synthetic();
    if let featscope::activations::LayerData::FeatureMaps(fm) = &mut acts.layers[2].data {
        fm.data[3] = f32::NAN;
        fm.data[5] = f32::NEG_INFINITY;
    }
    acts.layers[2].nonfinite = featscope::precision::NonFinite::count(
        acts.layers[2]
            .feature_maps()
            .map(|f| &f.data[..])
            .unwrap_or(&[]),
    );
    let mut app = App::new(AppOptions::default());
    app.set_activations(acts);
    let mut view = Viewer::new(app, AREA);
    press(&mut view, &["!"]);
    assert_eq!(
        view.app.selected_entry().map(|e| e.name.as_str()),
        Some("pool1")
    );
    let s = screen(&mut view, 120, 34);
    assert!(s.contains("1 NaN, 1 −Inf"), "{s}");
    // The sidebar draws its name in the error colour; its tile holds magenta cells.
    let buf = draw(&mut view, 120, 34);
    let magenta = Color::Rgb(255, 0, 255);
    let cells = buf
        .content()
        .iter()
        .filter(|c| c.fg == magenta || c.bg == magenta)
        .count();
    assert!(cells > 0, "no magenta cell");
}

#[test]
fn file_reads_wait_for_the_event_loop_and_their_failures_reach_the_status_line() {
    // The kernels come from the model's weights, read off the UI thread: until then, a note.
    let mut view = efficientnet_view();
    press_only(&mut view, &["g", "f"]);
    let s = screen(&mut view, 120, 36);
    assert!(s.contains("reading the kernels…"), "{s}");
    assert!(!s.contains("kernels 32×3×3×3"), "{s}");
    view.run_reads();
    let s = screen(&mut view, 120, 36);
    assert!(s.contains("kernels 32×3×3×3 · each kernel in RGB"), "{s}");

    // A montage that is not a picture: the file list stays, and the status line says why.
    let dir = tempfile::tempdir().unwrap();
    let mut view = scanned_view(dir.path());
    let broken = featscope::scan::montage::path(dir.path(), "relu1", 2);
    std::fs::write(&broken, b"\x89PNG\r\n\x1a\nnot a picture").unwrap();
    press(&mut view, &["j", "<enter>", "<pgdn>", "<pgdn>"]);
    let s = screen(&mut view, 120, 34);
    assert!(s.contains("cannot read the montage"), "{s}");
    assert!(s.contains("c2.png"), "the file is named: {s}");
}
