//! The view's state as the event loop holds it: the app, the screen's layout worked out from
//! it, and the encoded pictures. Events change the app and then the layout; drawing reads
//! both and fills the picture cache.

use super::app::{App, Effect};
use super::layout::{Body, ViewLayout};
use super::picture::PictureCache;
use super::ui;
use crossterm::event::Event;
use ratatui::layout::Rect;
use ratatui::Frame;

pub struct Viewer {
    pub app: App,
    layout: ViewLayout,
    pictures: PictureCache,
}

impl Viewer {
    /// The view of `app` on a screen of `area`.
    pub fn new(app: App, area: Rect) -> Viewer {
        let layout = ViewLayout::compute(&app, area, None);
        Viewer {
            app,
            layout,
            pictures: PictureCache::default(),
        }
    }

    pub fn layout(&self) -> &ViewLayout {
        &self.layout
    }

    /// Lays the view out again on a screen of `area` (after a resize, or a change to the app
    /// made outside [`Viewer::handle_event`]).
    pub fn relayout(&mut self, area: Rect) {
        self.layout = ViewLayout::compute(&self.app, area, Some(&self.layout));
    }

    /// A key or a click, read against what is on screen; the layout follows the new state.
    pub fn handle_event(&mut self, ev: &Event) -> Option<Effect> {
        if let Event::Resize(w, h) = ev {
            self.relayout(Rect::new(0, 0, *w, *h));
        }
        let effect = self.app.handle_event(ev, &self.layout);
        self.relayout(self.layout.area);
        effect
    }

    /// Runs the file reads the app asked for here, on this thread, and hands it their
    /// outcomes: what the event loop does on threads of its own, for tests and benches.
    pub fn run_reads(&mut self) {
        for read in self.app.take_reads() {
            self.app.on_message(super::app::Msg::Read(read.run()));
        }
        self.relayout(self.layout.area);
    }

    /// Lays out for the frame's size and the app as it is now (a worker's message or the
    /// terminal's answer may have changed it), then draws.
    pub fn draw(&mut self, f: &mut Frame<'_>) {
        self.relayout(f.area());
        ui::draw(f, &self.app, &self.layout, &mut self.pictures);
    }

    /// Pictures encoded and kept.
    pub fn cached_pictures(&self) -> usize {
        self.pictures.len()
    }

    /// The grid's page and page count, when the pane shows a grid.
    pub fn page(&self) -> Option<(usize, usize)> {
        match &self.layout.body {
            Body::Grid(g) => Some((g.page, g.pages)),
            _ => None,
        }
    }
}
