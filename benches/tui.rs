//! The interactive view's drawing budget: a 512-channel grid into a 200×60 buffer in ≤ 10 ms,
//! and a layer switch to the next frame in ≤ 50 ms (half-blocks, `TestBackend`); and the bytes
//! each action sends to the terminal, on EfficientNet-Lite0 at 200×60 in xterm's 6×13 cells
//! (printed as a table before the timings, which time the same frames through the real backend).
//!
//! ```text
//! cargo bench --bench tui
//! ```

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};

use featscope::tui::app::{App, AppOptions};
use featscope::tui::screen::Screen;
use featscope::tui::Viewer;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use ratatui::Terminal;
use std::hint::black_box;

#[path = "../tests/common/wire.rs"]
mod wire;

#[path = "../tests/common/fixtures.rs"]
mod fixtures;
use fixtures::large as activations;

/// The benches' screen.
const AREA: Rect = Rect::new(0, 0, 200, 60);

fn terminal() -> Terminal<TestBackend> {
    Terminal::new(TestBackend::new(200, 60)).expect("test terminal")
}

fn key(c: char) -> Event {
    Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn bench(c: &mut Criterion) {
    let acts = activations();
    let mut group = c.benchmark_group("tui");
    group.sample_size(20);

    // Nothing cached: statistics, resampling, colouring and the buffer writes.
    group.bench_function("grid_512ch_200x60_cold", |b| {
        b.iter_batched(
            || {
                (
                    Viewer::new(
                        App::with_activations(acts.clone(), AppOptions::default()),
                        AREA,
                    ),
                    terminal(),
                )
            },
            |(mut app, mut term)| {
                term.draw(|f| app.draw(f)).expect("draw");
                black_box(app)
            },
            BatchSize::LargeInput,
        )
    });

    // Key repeat on the same layer: pictures come from the cache.
    group.bench_function("grid_512ch_200x60_cached", |b| {
        let mut app = Viewer::new(
            App::with_activations(acts.clone(), AppOptions::default()),
            AREA,
        );
        let mut term = terminal();
        term.draw(|f| app.draw(f)).expect("draw");
        b.iter(|| {
            app.handle_event(&key('l'));
            app.handle_event(&key('h'));
            term.draw(|f| app.draw(f)).expect("draw");
        })
    });

    // `j` onto a layer never shown: 96 maps of 112×112 (stats over 1.2 M values) and 1280 of 7×7.
    for (name, presses) in [("switch_to_96x112x112", 1), ("switch_to_1280x7x7", 2)] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    let mut app = Viewer::new(
                        App::with_activations(acts.clone(), AppOptions::default()),
                        AREA,
                    );
                    let mut term = terminal();
                    term.draw(|f| app.draw(f)).expect("draw");
                    for _ in 1..presses {
                        app.handle_event(&key('j'));
                        term.draw(|f| app.draw(f)).expect("draw");
                    }
                    (app, term)
                },
                |(mut app, mut term)| {
                    app.handle_event(&key('j'));
                    term.draw(|f| app.draw(f)).expect("draw");
                    black_box(app)
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

/// Prints the bytes per action (min / median / max over the tour's steps of each kind) and
/// times a layer switch through the real backend.
fn bench_wire(c: &mut Criterion) {
    let acts = wire::efficientnet();
    eprintln!("bytes per action, EfficientNet-Lite0 on chelsea.png, 200×60, 6×13 px cells:");
    for (name, graphics) in [
        ("half-blocks", wire::halfblocks()),
        ("sixel", wire::sixel()),
    ] {
        let tour = wire::tour();
        let bytes = wire::bytes_per_step(&acts, graphics, (200, 60), &tour);
        for kind in ["j", "zoom", "back", "s"] {
            let mut of_kind: Vec<usize> = tour
                .iter()
                .zip(&bytes)
                .filter(|(s, _)| s.name == kind)
                .map(|(_, &b)| b)
                .collect();
            of_kind.sort_unstable();
            let kb = |b: usize| b as f64 / 1000.0;
            eprintln!(
                "  {name:<12} {kind:<5} {:>7.1} / {:>7.1} / {:>7.1} KB (min / median / max of {})",
                kb(of_kind[0]),
                kb(of_kind[of_kind.len() / 2]),
                kb(of_kind[of_kind.len() - 1]),
                of_kind.len()
            );
        }
    }
    let mut group = c.benchmark_group("wire");
    group.sample_size(10);
    for (name, graphics) in [
        ("half-blocks", wire::halfblocks()),
        ("sixel", wire::sixel()),
    ] {
        group.bench_function(
            format!("{name}: layer switch (key → bytes written)"),
            |b| {
                b.iter_batched(
                    || {
                        let opts = AppOptions {
                            graphics,
                            ..AppOptions::default()
                        };
                        let mut app = Viewer::new(App::with_activations(acts.clone(), opts), AREA);
                        let mut term = Terminal::new(Screen::with_size(Vec::new(), 200, 60))
                            .expect("terminal");
                        term.draw(|f| app.draw(f)).expect("draw");
                        (app, term)
                    },
                    |(mut app, mut term)| {
                        app.handle_event(&key('j'));
                        term.draw(|f| app.draw(f)).expect("draw");
                        black_box(term.backend().writer().len())
                    },
                    BatchSize::LargeInput,
                )
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench, bench_wire);
criterion_main!(benches);
