//! The view's state and everything a key, a click or a worker message does to it. No terminal
//! here: tests build an [`App`] from synthetic [`Activations`] and drive it with crossterm events.

use super::graphics::{Graphics, Picture};
use super::grid::GridLayout;
use super::halfblock::Colours;
use super::keymap::{self, Action, Context};
use super::layers::{Drawing, Entry, LayerInfo};
use super::picture::{self, PicKey, PictureCache, Subject};
use crate::activations::{Activations, FeatureMaps, Layer};
use crate::model::{sanitize, Model};
use crate::render::{Colormap, Normalization};
use crate::snapshot::SnapshotOptions;
use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::{Position, Rect};
use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

/// What the main pane shows; `s` cycles through them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum View {
    /// The channel grid, with the summed map beside or below it.
    Grid,
    Sum,
    /// The summed map blended over the input image.
    Overlay,
    /// The input image as fed to the model.
    Input,
}

impl View {
    pub fn next(self) -> View {
        match self {
            View::Grid => View::Sum,
            View::Sum => View::Overlay,
            View::Overlay => View::Input,
            View::Input => View::Grid,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            View::Grid => "grid",
            View::Sum => "sum",
            View::Overlay => "overlay",
            View::Input => "input",
        }
    }
}

#[derive(Clone, Debug)]
pub struct AppOptions {
    pub colormap: Colormap,
    pub normalization: Normalization,
    pub graphics: Graphics,
    /// NO_COLOR: monochrome chrome; pictures keep their colours.
    pub no_color: bool,
    /// Where `e` writes.
    pub export_dir: PathBuf,
    /// The image the model runs on (for titles and exports).
    pub image_path: PathBuf,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            colormap: Colormap::Viridis,
            normalization: Normalization::PerChannel,
            graphics: Graphics::halfblocks(Colours::True),
            no_color: false,
            export_dir: PathBuf::from("out"),
            image_path: PathBuf::from("image"),
        }
    }
}

/// What the worker threads report.
pub enum Msg {
    /// A progress line ("opening the engine").
    Stage(String),
    Ready(Box<Activations>),
    Failed(String),
    Exported(Result<Vec<PathBuf>, String>),
}

/// What the event loop must do after an event.
pub enum Effect {
    Quit,
    Export(Box<ExportJob>),
}

/// `e`: the selected layer's files, written like `featscope snapshot --layer` would.
pub struct ExportJob {
    pub acts: Arc<Activations>,
    pub model: Model,
    pub image: PathBuf,
    pub tensor: String,
    pub dir: PathBuf,
    pub options: SnapshotOptions,
}

impl ExportJob {
    pub fn run(&self) -> anyhow::Result<Vec<PathBuf>> {
        crate::snapshot::write_snapshot(
            &self.acts,
            &self.model,
            &self.image,
            Some(std::slice::from_ref(&self.tensor)),
            &self.dir,
            &self.options,
        )
    }
}

#[derive(Clone, Debug)]
pub enum Load {
    Loading { since: Instant, stage: String },
    Ready,
    Failed(String),
}

/// Screen regions from the last frame, for mouse clicks.
#[derive(Clone, Debug, Default)]
pub struct Hits {
    /// The sidebar's list rows, and the entry shown on each.
    pub list: Rect,
    pub list_entries: Vec<usize>,
    /// Channel tiles on the current page.
    pub tiles: Vec<(Rect, usize)>,
    /// The zoomed picture and the map size it shows.
    pub zoom: Option<(Rect, usize, usize)>,
    pub main: Rect,
}

/// Cursor moves per far step (H J K L in zoom).
const FAR: isize = 8;

pub struct App {
    opts: AppOptions,
    entries: Vec<Entry>,
    selected: usize,
    acts: Option<Arc<Activations>>,
    model: Option<Model>,
    load: Load,
    view: View,
    zoom: bool,
    /// (y, x) in the selected layer's map.
    cursor: (usize, usize),
    /// The selected channel (an index into the layer, not a grid position).
    channel: usize,
    by_mean: bool,
    colormap: Colormap,
    normalization: Normalization,
    help: bool,
    pub(crate) help_scroll: u16,
    filter: String,
    filter_editing: bool,
    message: Option<String>,
    infos: HashMap<usize, Rc<LayerInfo>>,
    pictures: PictureCache,
    pub(crate) hits: Hits,
    /// The grid as last drawn, for row and page moves.
    pub(crate) grid: Option<GridLayout>,
    pub(crate) list_offset: usize,
    /// Set when an overlay closes: terminal images under it must be sent again.
    full_redraw: bool,
}

impl App {
    pub fn new(opts: AppOptions) -> App {
        App {
            colormap: opts.colormap,
            normalization: opts.normalization,
            opts,
            entries: Vec::new(),
            selected: 0,
            acts: None,
            model: None,
            load: Load::Loading {
                since: Instant::now(),
                stage: "opening the model".into(),
            },
            view: View::Grid,
            zoom: false,
            cursor: (0, 0),
            channel: 0,
            by_mean: false,
            help: false,
            help_scroll: 0,
            filter: String::new(),
            filter_editing: false,
            message: None,
            infos: HashMap::new(),
            pictures: PictureCache::default(),
            hits: Hits::default(),
            grid: None,
            list_offset: 0,
            full_redraw: false,
        }
    }

    /// A ready app on computed activations (tests, benches).
    pub fn with_activations(acts: Activations, opts: AppOptions) -> App {
        let mut app = App::new(opts);
        app.set_activations(acts);
        app
    }

    /// Shows the model's layers (names and ops; shapes as declared) while inference runs, and
    /// keeps the model for exports.
    pub fn set_model(&mut self, model: Model) {
        if self.acts.is_none() {
            self.entries = model.sites.iter().map(Entry::from_site).collect();
            self.selected = self.selected.min(self.entries.len().saturating_sub(1));
        }
        self.model = Some(model);
    }

    pub fn set_activations(&mut self, acts: Activations) {
        let before = self.entries.get(self.selected).map(|e| e.name.clone());
        self.entries = acts
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| Entry::from_layer(i, l))
            .collect();
        self.acts = Some(Arc::new(acts));
        self.infos.clear();
        self.pictures.clear();
        self.load = Load::Ready;
        // Keep the layer picked while loading; else start on the first drawable one.
        self.selected = before
            .and_then(|n| self.entries.iter().position(|e| e.name == n))
            .filter(|_| self.selected != 0)
            .or_else(|| self.entries.iter().position(|e| e.state == Drawing::Drawn))
            .unwrap_or(0);
        self.channel = 0;
        self.cursor = self
            .feature_maps()
            .map(|f| (f.height / 2, f.width / 2))
            .unwrap_or((0, 0));
        self.fix_selection_for_filter();
    }

    pub fn on_message(&mut self, msg: Msg) {
        match msg {
            Msg::Stage(stage) => {
                if let Load::Loading { stage: s, .. } = &mut self.load {
                    *s = sanitize(&stage);
                }
            }
            Msg::Ready(acts) => self.set_activations(*acts),
            Msg::Failed(e) => self.load = Load::Failed(sanitize(&e)),
            Msg::Exported(Ok(files)) => {
                let pngs: Vec<String> = files
                    .iter()
                    .filter(|f| f.extension().is_some_and(|e| e == "png"))
                    .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .collect();
                let dir = self.opts.export_dir.display().to_string();
                self.message = Some(sanitize(&format!("wrote {} in {dir}", pngs.join(", "))));
            }
            Msg::Exported(Err(e)) => self.message = Some(sanitize(&format!("export failed: {e}"))),
        }
    }

    // ---- read access for drawing and tests ----

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn selected_index(&self) -> usize {
        self.selected
    }

    pub fn selected_entry(&self) -> Option<&Entry> {
        self.entries.get(self.selected)
    }

    pub fn activations(&self) -> Option<&Activations> {
        self.acts.as_deref()
    }

    pub fn selected_layer(&self) -> Option<&Layer> {
        let pos = self.selected_entry()?.layer?;
        self.acts.as_ref()?.layers.get(pos)
    }

    pub fn feature_maps(&self) -> Option<&FeatureMaps> {
        self.selected_layer()?.feature_maps()
    }

    pub fn load(&self) -> &Load {
        &self.load
    }

    pub fn view(&self) -> View {
        self.view
    }

    pub fn is_zoomed(&self) -> bool {
        self.zoom
    }

    pub fn cursor(&self) -> (usize, usize) {
        self.cursor
    }

    pub fn channel(&self) -> usize {
        self.channel
    }

    pub fn ordered_by_mean(&self) -> bool {
        self.by_mean
    }

    pub fn colormap(&self) -> Colormap {
        self.colormap
    }

    pub fn normalization(&self) -> Normalization {
        self.normalization
    }

    pub fn help_visible(&self) -> bool {
        self.help
    }

    pub fn filter(&self) -> &str {
        &self.filter
    }

    pub fn filter_editing(&self) -> bool {
        self.filter_editing
    }

    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    pub fn graphics(&self) -> &Graphics {
        &self.opts.graphics
    }

    pub fn no_color(&self) -> bool {
        self.opts.no_color
    }

    pub fn image_path(&self) -> &std::path::Path {
        &self.opts.image_path
    }

    pub fn model(&self) -> Option<&Model> {
        self.model.as_ref()
    }

    /// Current page and page count of the grid as last drawn (1-based page).
    pub fn page(&self) -> (usize, usize) {
        match (self.grid, self.feature_maps()) {
            (Some(g), Some(_)) => (self.position_of(self.channel) / g.per_page + 1, g.pages),
            _ => (1, 1),
        }
    }

    /// Entries that pass the filter, as indices into [`App::entries`].
    pub fn visible(&self) -> Vec<usize> {
        let f = self.filter.to_lowercase();
        (0..self.entries.len())
            .filter(|&i| self.entries[i].matches(&f))
            .collect()
    }

    /// Statistics and derived maps of the selected layer, computed on first use.
    pub fn info(&mut self) -> Option<Rc<LayerInfo>> {
        let pos = self.selected_entry()?.layer?;
        if let Some(info) = self.infos.get(&pos) {
            return Some(info.clone());
        }
        let info = Rc::new(LayerInfo::new(self.feature_maps()?));
        self.infos.insert(pos, info.clone());
        Some(info)
    }

    /// The channel at grid position `p` in the current order.
    pub fn channel_at(&self, p: usize) -> usize {
        match self.ordered_info() {
            Some(info) => info.by_mean.get(p).copied().unwrap_or(p),
            None => p,
        }
    }

    /// The grid position of channel `c` in the current order.
    pub fn position_of(&self, c: usize) -> usize {
        match self.ordered_info() {
            Some(info) => info.rank.get(c).copied().unwrap_or(c),
            None => c,
        }
    }

    fn ordered_info(&self) -> Option<&LayerInfo> {
        if !self.by_mean {
            return None;
        }
        self.infos.get(&self.selected_entry()?.layer?).map(|i| &**i)
    }

    /// The value under the zoom cursor, for the subject shown.
    pub fn cursor_value(&mut self) -> Option<f32> {
        let (y, x) = self.cursor;
        let info = self.info()?;
        let fm = self.feature_maps()?;
        if y >= fm.height || x >= fm.width {
            return None;
        }
        Some(match self.view {
            View::Grid => fm.value(self.channel, y, x),
            _ => info.sum[y * fm.width + x],
        })
    }

    /// Whether the terminal must be cleared before the next frame (and clears the flag). Only
    /// protocol images need it: the cells under a closed overlay are "skip" cells, which a
    /// diffing redraw would leave showing the overlay.
    pub fn take_full_redraw(&mut self) -> bool {
        std::mem::take(&mut self.full_redraw) && !self.opts.graphics.is_halfblocks()
    }

    /// Switches how pictures are drawn (once the terminal has answered): every picture is
    /// encoded again, and the screen repainted.
    pub fn set_graphics(&mut self, graphics: Graphics) {
        if graphics != self.opts.graphics {
            self.opts.graphics = graphics;
            self.pictures.clear();
            self.full_redraw = true;
        }
    }

    // ---- pictures ----

    pub(crate) fn begin_frame(&mut self) {
        self.pictures.next_frame();
    }

    /// How many encoded pictures are cached (tests, benches).
    pub fn cached_pictures(&self) -> usize {
        self.pictures.len()
    }

    /// The picture of `subject` for the selected layer at `cols × rows` cells of
    /// `px_w × px_h` pixels, encoded on first use and cached.
    pub(crate) fn picture(&mut self, subject: Subject, fit: picture::Fit) -> Option<&Picture> {
        let acts = self.acts.clone()?;
        let layer_pos = self.selected_entry().and_then(|e| e.layer);
        let key = PicKey {
            layer: layer_pos.unwrap_or(usize::MAX),
            subject,
            colormap: self.colormap,
            per_layer: self.normalization == Normalization::PerLayer,
            cols: fit.cols,
            rows: fit.rows,
            px_w: fit.px_w,
            px_h: fit.px_h,
        }
        .canonical();
        let info = match subject {
            Subject::Input => None,
            _ => Some(self.info()?),
        };
        let layer = layer_pos.and_then(|p| acts.layers.get(p));
        let graphics = &self.opts.graphics;
        Some(self.pictures.get_or_insert_with(key, || {
            let img = picture::build_image(&acts, layer, info.as_deref(), &key);
            super::graphics::encode(graphics, img, key.cols, key.rows)
        }))
    }

    // ---- events ----

    /// The contexts whose bindings apply now, most specific first.
    fn contexts(&self) -> &'static [Context] {
        if self.help {
            &[Context::Always, Context::Help, Context::Global]
        } else if self.filter_editing {
            &[Context::Always, Context::Filter]
        } else if self.zoom {
            &[Context::Always, Context::Zoom, Context::Global]
        } else {
            &[Context::Always, Context::Browse, Context::Global]
        }
    }

    pub fn handle_event(&mut self, ev: &Event) -> Option<Effect> {
        match ev {
            Event::Key(key) => self.handle_key(key),
            Event::Mouse(m) => {
                self.handle_mouse(m);
                None
            }
            _ => None,
        }
    }

    pub fn handle_key(&mut self, key: &KeyEvent) -> Option<Effect> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        self.message = None;
        match keymap::lookup(self.contexts(), key) {
            Some(action) => self.apply(action),
            None => {
                if self.filter_editing {
                    if let KeyCode::Char(c) = key.code {
                        if !key
                            .modifiers
                            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
                            && !c.is_control()
                        {
                            self.filter.push(c);
                            self.fix_selection_for_filter();
                        }
                    }
                }
                None
            }
        }
    }

    /// Does what a binding names.
    pub fn apply(&mut self, action: Action) -> Option<Effect> {
        match action {
            Action::Quit => return Some(Effect::Quit),
            Action::ToggleHelp => {
                self.full_redraw |= self.help;
                self.help = !self.help;
                self.help_scroll = 0;
            }
            Action::CloseHelp => {
                self.full_redraw |= self.help;
                self.help = false;
            }
            Action::HelpDown => self.help_scroll = self.help_scroll.saturating_add(1),
            Action::HelpUp => self.help_scroll = self.help_scroll.saturating_sub(1),
            Action::LayerDown => self.move_layer(1),
            Action::LayerUp => self.move_layer(-1),
            Action::FirstLayer => self.move_layer(isize::MIN / 2),
            Action::LastLayer => self.move_layer(isize::MAX / 2),
            Action::ChannelNext => self.move_channel(1),
            Action::ChannelPrev => self.move_channel(-1),
            Action::RowDown => self.move_rows(1),
            Action::RowUp => self.move_rows(-1),
            Action::PageDown => self.move_page(1),
            Action::PageUp => self.move_page(-1),
            Action::FirstChannel => self.move_channel(isize::MIN / 2),
            Action::LastChannel => self.move_channel(isize::MAX / 2),
            Action::Zoom => self.enter_zoom(),
            Action::Back => {
                if self.zoom {
                    self.zoom = false;
                } else if !self.filter.is_empty() {
                    self.filter.clear();
                }
            }
            Action::CycleView => self.view = self.view.next(),
            Action::NextColormap => self.colormap = self.colormap.next(),
            Action::ToggleNormalization => self.normalization = self.normalization.toggle(),
            Action::ToggleOrder => {
                self.by_mean = !self.by_mean;
                // The order needs the layer's means.
                let _ = self.info();
            }
            Action::StartFilter => {
                self.filter_editing = true;
                self.full_redraw |= self.help;
                self.help = false;
            }
            Action::Export => return self.export(),
            Action::CursorLeft => self.move_cursor(0, -1),
            Action::CursorRight => self.move_cursor(0, 1),
            Action::CursorUp => self.move_cursor(-1, 0),
            Action::CursorDown => self.move_cursor(1, 0),
            Action::CursorLeftFar => self.move_cursor(0, -FAR),
            Action::CursorRightFar => self.move_cursor(0, FAR),
            Action::CursorUpFar => self.move_cursor(-FAR, 0),
            Action::CursorDownFar => self.move_cursor(FAR, 0),
            Action::FilterApply => self.filter_editing = false,
            Action::FilterClear => {
                self.filter.clear();
                self.filter_editing = false;
            }
            Action::FilterBackspace => {
                self.filter.pop();
                self.fix_selection_for_filter();
            }
            Action::FilterInput => {}
        }
        None
    }

    fn handle_mouse(&mut self, m: &MouseEvent) {
        let at = Position::new(m.column, m.row);
        let in_list = self.hits.list.contains(at);
        match m.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                if in_list {
                    let row = (m.row - self.hits.list.y) as usize;
                    if let Some(&i) = self.hits.list_entries.get(row) {
                        self.select(i);
                    }
                } else if let Some(&(_, c)) = self.hits.tiles.iter().find(|(r, _)| r.contains(at)) {
                    // A click on the selected tile zooms into it, like Enter.
                    if c == self.channel {
                        self.enter_zoom();
                    } else {
                        self.channel = c;
                    }
                } else if let Some((r, h, w)) = self.hits.zoom.filter(|(r, _, _)| r.contains(at)) {
                    let x = (m.column - r.x) as usize * w / r.width.max(1) as usize;
                    let y = (m.row - r.y) as usize * h / r.height.max(1) as usize;
                    self.cursor = (y.min(h.saturating_sub(1)), x.min(w.saturating_sub(1)));
                }
            }
            MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
                let step: isize = if m.kind == MouseEventKind::ScrollDown {
                    1
                } else {
                    -1
                };
                if in_list {
                    self.move_layer(step);
                } else if self.hits.main.contains(at) {
                    if self.zoom {
                        self.move_cursor(step, 0);
                    } else {
                        self.move_rows(step);
                    }
                }
            }
            _ => {}
        }
    }

    // ---- moves ----

    /// A row of tiles down (or up), as the grid was last drawn.
    fn move_rows(&mut self, rows: isize) {
        let Some(n) = self.feature_maps().map(|f| f.channels) else {
            return;
        };
        let pos = self.position_of(self.channel);
        let next = match self.grid {
            Some(g) => g.move_rows(pos, rows, n),
            // Not drawn yet: rows of eight.
            None => (pos as isize + 8 * rows).clamp(0, n.saturating_sub(1) as isize) as usize,
        };
        self.channel = self.channel_at(next);
    }

    fn move_layer(&mut self, delta: isize) {
        let vis = self.visible();
        if vis.is_empty() {
            return;
        }
        let pos = vis.iter().position(|&i| i == self.selected).unwrap_or(0);
        let next = (pos as isize)
            .saturating_add(delta)
            .clamp(0, vis.len() as isize - 1);
        self.select(vis[next as usize]);
    }

    /// Selects entry `i`, keeping the channel and the cursor's relative place where they fit.
    fn select(&mut self, i: usize) {
        if i == self.selected || i >= self.entries.len() {
            return;
        }
        let old = self.feature_maps().map(|f| (f.height, f.width));
        self.selected = i;
        if let Some(fm) = self.feature_maps() {
            let (c, h, w) = (fm.channels, fm.height, fm.width);
            if self.channel >= c {
                self.channel = 0;
            }
            if let Some((oh, ow)) = old {
                let (y, x) = self.cursor;
                self.cursor = (
                    (y * h / oh.max(1)).min(h.saturating_sub(1)),
                    (x * w / ow.max(1)).min(w.saturating_sub(1)),
                );
            } else {
                self.cursor = (h / 2, w / 2);
            }
        }
        if self.by_mean {
            let _ = self.info();
        }
    }

    fn move_channel(&mut self, delta: isize) {
        let Some(n) = self.feature_maps().map(|f| f.channels) else {
            return;
        };
        if n == 0 {
            return;
        }
        let pos = self.position_of(self.channel) as isize;
        let next = pos.saturating_add(delta).clamp(0, n as isize - 1);
        self.channel = self.channel_at(next as usize);
    }

    fn move_page(&mut self, delta: isize) {
        let Some(n) = self.feature_maps().map(|f| f.channels) else {
            return;
        };
        let per_page = self.grid.map(|g| g.per_page).unwrap_or(64).max(1);
        let pos = self.position_of(self.channel);
        let page = pos / per_page;
        let pages = n.div_ceil(per_page);
        let target = (page as isize + delta).clamp(0, pages as isize - 1) as usize;
        if target != page {
            // Same place on the next page, or its last tile.
            let next = (target * per_page + pos % per_page).min(n - 1);
            self.channel = self.channel_at(next);
        }
    }

    fn move_cursor(&mut self, dy: isize, dx: isize) {
        let Some((h, w)) = self.feature_maps().map(|f| (f.height, f.width)) else {
            return;
        };
        let (y, x) = self.cursor;
        self.cursor = (
            (y as isize + dy).clamp(0, h as isize - 1) as usize,
            (x as isize + dx).clamp(0, w as isize - 1) as usize,
        );
    }

    fn enter_zoom(&mut self) {
        if self.feature_maps().is_some() || (self.view == View::Input && self.acts.is_some()) {
            self.zoom = true;
            if let Some(fm) = self.feature_maps() {
                let (h, w) = (fm.height, fm.width);
                self.cursor = (
                    self.cursor.0.min(h.saturating_sub(1)),
                    self.cursor.1.min(w.saturating_sub(1)),
                );
            }
        } else if let Some(e) = self.selected_entry() {
            self.message = Some(match e.reason() {
                Some(r) => format!("{} is not drawn: {r}", e.name),
                None => "no activations yet; the model is still running".into(),
            });
        }
    }

    /// After the filter changed: keep the selection among the matches.
    fn fix_selection_for_filter(&mut self) {
        let vis = self.visible();
        self.list_offset = 0;
        if let Some(&first) = vis.first().filter(|_| !vis.contains(&self.selected)) {
            self.select_fresh(first);
        }
    }

    fn select_fresh(&mut self, i: usize) {
        self.selected = i;
        if let Some(fm) = self.feature_maps() {
            let (c, h, w) = (fm.channels, fm.height, fm.width);
            if self.channel >= c {
                self.channel = 0;
            }
            self.cursor = (
                self.cursor.0.min(h.saturating_sub(1)),
                self.cursor.1.min(w.saturating_sub(1)),
            );
        }
    }

    fn export(&mut self) -> Option<Effect> {
        let Some(acts) = self.acts.clone() else {
            self.message = Some("nothing to export yet: the model is still running".into());
            return None;
        };
        let layer = self.selected_layer()?;
        if layer.feature_maps().is_none() {
            self.message = Some(format!(
                "{} is not a feature map; nothing to export",
                layer.name
            ));
            return None;
        }
        let tensor = layer.tensor.clone();
        let name = layer.name.clone();
        let Some(model) = self.model.clone() else {
            self.message = Some("export needs the model file".into());
            return None;
        };
        self.message = Some(sanitize(&format!(
            "exporting {name} to {}…",
            self.opts.export_dir.display()
        )));
        Some(Effect::Export(Box::new(ExportJob {
            acts,
            model,
            image: self.opts.image_path.clone(),
            tensor,
            dir: self.opts.export_dir.clone(),
            options: SnapshotOptions {
                colormap: self.colormap,
                normalization: self.normalization,
                scale: None,
                tile_labels: false,
                overlay: self.view == View::Overlay,
                npy: false,
                print: false,
            },
        })))
    }
}
