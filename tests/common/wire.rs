//! Bytes on the wire: the view on real EfficientNet-Lite0 activations, drawn through the real
//! backend into memory, key by key, counting what each frame writes. Shared by the wire test
//! (budgets) and the TUI bench (README figures).
#![allow(dead_code)]

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use featscope::activations::Activations;
use featscope::engine::{Backend, EngineOptions};
use featscope::model::Model;
use featscope::pipeline::{Analyzer, RunConfig, Selection};
use featscope::tui::app::{App, AppOptions};
use featscope::tui::graphics::{CellSize, Graphics, Protocol};
use featscope::tui::halfblock::Colours;
use featscope::tui::screen::Screen;
use featscope::tui::Viewer;
use ratatui::layout::Rect;
use ratatui::Terminal;
use std::path::Path;

/// The bundled default: EfficientNet-Lite0 on chelsea.png, with tract (no library needed).
pub fn efficientnet() -> Activations {
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let model = Model::open(&models.join("efficientnet_lite0.onnx")).expect("model");
    let config = RunConfig {
        engine: EngineOptions {
            backend: Backend::Tract,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut analyzer = Analyzer::open(model, &config, &Selection::All).expect("engine");
    analyzer
        .compute(&models.join("chelsea.png"))
        .expect("inference")
}

/// xterm's 6×13 cells, as measured in xterm under Xvfb.
pub const XTERM_CELL: CellSize = CellSize {
    width: 6,
    height: 13,
    measured: true,
};

pub fn halfblocks() -> Graphics {
    Graphics {
        protocol: Protocol::HalfBlocks(Colours::True),
        cell: XTERM_CELL,
    }
}

pub fn sixel() -> Graphics {
    Graphics {
        protocol: Protocol::Sixel {
            registers: 256,
            max_px: (1000, 1000),
        },
        cell: XTERM_CELL,
    }
}

/// One action: the keys pressed before a frame is drawn.
pub struct Step {
    pub name: &'static str,
    pub keys: &'static [KeyCode],
}

/// Draws the first frame, then each step's keys and one frame; returns the bytes each step's
/// frame wrote (the first frame's not included).
pub fn bytes_per_step(
    acts: &Activations,
    graphics: Graphics,
    size: (u16, u16),
    steps: &[Step],
) -> Vec<usize> {
    let app = App::with_activations(
        acts.clone(),
        AppOptions {
            graphics,
            ..AppOptions::default()
        },
    );
    let mut app = Viewer::new(app, Rect::new(0, 0, size.0, size.1));
    let mut term = Terminal::new(Screen::with_size(Vec::new(), size.0, size.1)).expect("terminal");
    term.draw(|f| app.draw(f)).expect("draw");
    let mut out = Vec::new();
    for step in steps {
        for &code in step.keys {
            app.handle_event(&Event::Key(KeyEvent::new(code, KeyModifiers::NONE)));
        }
        let before = term.backend().writer().len();
        if app.app.take_full_redraw() {
            term.clear().expect("clear");
        }
        term.draw(|f| app.draw(f)).expect("draw");
        out.push(term.backend().writer().len() - before);
    }
    out
}

/// Layer switches down the first layers of EfficientNet-Lite0 (every kind of feature map it
/// has early on: 32, 16, 96 and 144 channels of 112² and 56²), then zoom, back, and `s` round
/// the four views.
pub fn tour() -> Vec<Step> {
    let step = |name, keys| Step { name, keys };
    let mut steps: Vec<Step> = (0..10).map(|_| step("j", &[KeyCode::Char('j')])).collect();
    steps.push(step("zoom", &[KeyCode::Enter]));
    steps.push(step("back", &[KeyCode::Esc]));
    steps.extend((0..4).map(|_| step("s", &[KeyCode::Char('s')])));
    steps
}
