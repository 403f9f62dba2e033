//! The view's state and everything a key, a click or a worker message does to it. No terminal
//! here: tests build an [`App`] from synthetic [`Activations`] and drive it with crossterm events.

use super::graphics::Graphics;
use super::halfblock::Colours;
use super::keymap::{self, Action, Context};
use super::layers::{Drawing, Entry, LayerInfo};
use super::layout::ViewLayout;
use super::reads::{FileRead, ReadDone};
use crate::activations::{Activations, FeatureMaps, Layer};
use crate::compare::{Divergence, MatchedBy};
use crate::explain::run::Evidence;
use crate::model::Model;
use crate::render::{Colormap, Normalization};
use crate::snapshot::SnapshotOptions;
use crate::text::Clean;
use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::Position;
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
    /// `x`: a class evidence map over the input (one of the top-5 classes).
    Evidence,
    /// `f`: a convolution's kernels.
    Filters,
}

impl View {
    pub fn next(self) -> View {
        match self {
            View::Grid => View::Sum,
            View::Sum => View::Overlay,
            View::Overlay => View::Input,
            View::Input | View::Evidence | View::Filters => View::Grid,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            View::Grid => "grid",
            View::Sum => "sum",
            View::Overlay => "overlay",
            View::Input => "input",
            View::Evidence => "evidence",
            View::Filters => "filters",
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
    /// `featscope compare`: what A and B are called, and the divergence that counts.
    pub compare: Option<CompareOptions>,
    /// `--scan DIR`: what the channels do over a data set.
    pub scan: Option<ScanAttached>,
}

/// A `featscope scan` result beside the view.
#[derive(Clone, Debug)]
pub struct ScanAttached {
    pub dir: PathBuf,
    pub result: Arc<crate::scan::ScanResult>,
    /// The montage folder name of each scanned layer.
    pub stems: Vec<String>,
    /// Each scanned layer's position, by its (cleaned) tensor name.
    by_tensor: HashMap<String, usize>,
}

impl ScanAttached {
    pub fn read(dir: &std::path::Path) -> anyhow::Result<ScanAttached> {
        let result = crate::scan::ScanResult::read(dir)?;
        let stems = crate::outdir::unique_stems(result.layers.iter().map(|l| l.name.as_str()));
        let by_tensor = result
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| (l.tensor.clone(), i))
            .collect();
        Ok(ScanAttached {
            dir: dir.to_path_buf(),
            result: Arc::new(result),
            stems,
            by_tensor,
        })
    }
}

/// A channel's top images from the scan: the montage picture when the scan drew one.
pub struct ScanTop {
    pub layer: usize,
    pub channel: usize,
    pub picture: Option<image::RgbImage>,
    /// Asked for, not read yet.
    pub reading: bool,
}

#[derive(Clone, Debug)]
pub struct CompareOptions {
    pub name_a: Clean,
    pub name_b: Clean,
    /// A layer whose max |A − B| / max |A| is above this is marked.
    pub threshold: f32,
    /// A layer whose SQNR (dB) is below this is marked; `]`/`[` step to layers whose local
    /// SQNR is below it, when B is another number format.
    pub sqnr_threshold: f64,
}

/// The second run of `featscope compare`, paired with the first layer by layer.
pub struct Comparison {
    pub b: Arc<Activations>,
    /// For each of A's layers (by position) that has a partner: B's layer and how far apart.
    pub pairs: HashMap<usize, (usize, MatchedBy, Divergence)>,
    /// A's layers compared at another layer's values: where B fused an activation into the
    /// operator before it, A's tensor before the activation is shown and compared at the
    /// activation's output, the only place B has it.
    pub shown_as: HashMap<usize, usize>,
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
            compare: None,
            scan: None,
        }
    }
}

/// What the worker threads report.
pub enum Msg {
    /// A progress line ("opening the engine").
    Stage(String),
    Ready(Box<Activations>),
    /// Both runs of a compare.
    Compared(Box<crate::compare::ViewRuns>),
    Failed(String),
    Exported(Result<Vec<PathBuf>, String>),
    /// Evidence maps made so far (one per class of the top-5, in its order).
    Evidence(Vec<Evidence>),
    /// How the evidence maps are coming along, or why there are none.
    ExplainStatus(String),
    /// A file read the view asked for.
    Read(ReadDone),
}

/// A class evidence map, with the one-channel map render draws.
pub struct Shown {
    pub evidence: Evidence,
    pub maps: FeatureMaps,
}

/// A convolution's kernels as a picture, for the layer at `entry`.
pub struct Kernels {
    pub entry: usize,
    pub colormap: Colormap,
    pub picture: Option<image::RgbImage>,
    pub view: Option<crate::render::filters::KernelView>,
    pub shape: Vec<usize>,
    /// Asked for, not read yet.
    pub reading: bool,
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
    /// The evidence map on screen, written as `snapshot --cam` writes it.
    pub evidence: Option<Evidence>,
}

impl ExportJob {
    pub fn run(&self) -> anyhow::Result<Vec<PathBuf>> {
        crate::snapshot::write_snapshot_with(
            &self.acts,
            &self.model,
            &self.image,
            Some(std::slice::from_ref(&self.tensor)),
            &self.dir,
            &self.options,
            self.evidence.as_ref(),
            &crate::report::Silent,
        )
    }
}

#[derive(Clone, Debug)]
pub enum Load {
    Loading { since: Instant, stage: Clean },
    Ready,
    Failed(Clean),
}

/// What the keys are doing: browsing layers and channels, looking at one picture with a
/// cursor, typing a filter, or reading the help (over what was there).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Browse,
    Zoom,
    Filter { behind: Behind },
    Help { scroll: u16, behind: Behind },
}

/// What the help or the filter line goes back to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behind {
    Browse,
    Zoom,
}

impl From<Behind> for Mode {
    fn from(b: Behind) -> Mode {
        match b {
            Behind::Browse => Mode::Browse,
            Behind::Zoom => Mode::Zoom,
        }
    }
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
    mode: Mode,
    /// (y, x) in the selected layer's map: where zoom's cursor is, and comes back to.
    cursor: (usize, usize),
    /// The selected channel (an index into the layer, not a grid position).
    channel: usize,
    by_mean: bool,
    colormap: Colormap,
    normalization: Normalization,
    /// Layers whose name or op contains this (lower-cased) show in the list.
    filter: String,
    message: Option<Clean>,
    /// The selected layer's statistics, worked out when it is selected.
    infos: HashMap<usize, Rc<LayerInfo>>,
    comparison: Option<Comparison>,
    /// B's statistics, by B's layer position.
    infos_b: HashMap<usize, Rc<LayerInfo>>,
    /// Set when an overlay closes: terminal images under it must be sent again.
    full_redraw: bool,
    evidence: Vec<Shown>,
    /// Which evidence map `x` shows.
    evidence_pick: usize,
    explain_status: Option<Clean>,
    kernels: Option<Kernels>,
    scan_top: Option<ScanTop>,
    /// Reads asked for, for the event loop to run off this thread.
    reads: Vec<FileRead>,
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
            mode: Mode::Browse,
            cursor: (0, 0),
            channel: 0,
            by_mean: false,
            filter: String::new(),
            message: None,
            infos: HashMap::new(),
            comparison: None,
            infos_b: HashMap::new(),
            full_redraw: false,
            evidence: Vec::new(),
            evidence_pick: 0,
            explain_status: None,
            kernels: None,
            reads: Vec::new(),
            scan_top: None,
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
        self.work_out_info();
    }

    /// Both runs of a compare: A is shown as a single run would be, B is paired with it.
    pub fn set_comparison(&mut self, a: Activations, b: Activations) {
        let matching = crate::compare::match_layers(&a.layers, &b.layers, &[]);
        self.set_compared(crate::compare::ViewRuns { a, b, matching });
    }

    /// Both runs of a compare, paired as the graphs say.
    pub fn set_compared(&mut self, runs: crate::compare::ViewRuns) {
        let crate::compare::ViewRuns { a, b, matching } = runs;
        let pairs = matching
            .pairs
            .iter()
            .filter_map(|p| {
                let d = crate::compare::divergence(&a.layers[p.a_values], &b.layers[p.b])?;
                Some((p.a, (p.b, p.by, d)))
            })
            .collect();
        let shown_as = matching
            .pairs
            .iter()
            .filter(|p| p.a_values != p.a)
            .map(|p| (p.a, p.a_values))
            .collect();
        self.comparison = Some(Comparison {
            b: Arc::new(b),
            pairs,
            shown_as,
        });
        self.infos_b.clear();
        self.set_activations(a);
    }

    pub fn on_message(&mut self, msg: Msg) {
        match msg {
            Msg::Stage(stage) => {
                if let Load::Loading { stage: s, .. } = &mut self.load {
                    *s = Clean::new(&stage);
                }
            }
            Msg::Ready(acts) => self.set_activations(*acts),
            Msg::Compared(runs) => self.set_compared(*runs),
            Msg::Failed(e) => self.load = Load::Failed(Clean::one_line(&e)),
            Msg::Exported(Ok(files)) => {
                let pngs: Vec<String> = files
                    .iter()
                    .filter(|f| f.extension().is_some_and(|e| e == "png"))
                    .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .collect();
                let dir = self.opts.export_dir.display().to_string();
                self.message = Some(Clean::new(&format!("wrote {} in {dir}", pngs.join(", "))));
            }
            Msg::Evidence(list) => {
                self.evidence = list
                    .into_iter()
                    .map(|evidence| Shown {
                        maps: evidence.map.as_feature_maps(),
                        evidence,
                    })
                    .collect();
                self.evidence_pick = self
                    .evidence_pick
                    .min(self.evidence.len().saturating_sub(1));
            }
            Msg::ExplainStatus(s) => {
                self.explain_status = (!s.is_empty()).then(|| Clean::one_line(&s));
            }
            Msg::Exported(Err(e)) => {
                self.message = Some(Clean::one_line(&format!("export failed: {e}")))
            }
            Msg::Read(done) => self.read_done(done),
        }
    }

    /// A read's outcome, kept when it is the one last asked for; a failure goes to the
    /// status line.
    fn read_done(&mut self, done: ReadDone) {
        let error = match done {
            ReadDone::Montage(top, error) => {
                let asked = self.scan_top.as_ref().map(|t| (t.layer, t.channel));
                if asked != Some((top.layer, top.channel)) {
                    return;
                }
                self.scan_top = Some(top);
                error.map(|e| format!("cannot read the montage: {e}"))
            }
            ReadDone::Kernels(kernels, error) => {
                let asked = self.kernels.as_ref().map(|k| (k.entry, k.colormap));
                if asked != Some((kernels.entry, kernels.colormap)) {
                    return;
                }
                self.kernels = Some(kernels);
                error.map(|e| format!("cannot read the kernels: {e}"))
            }
        };
        if let Some(e) = error {
            self.message = Some(Clean::one_line(&e));
        }
    }

    /// The reads asked for since the last call, for the event loop to run.
    pub fn take_reads(&mut self) -> Vec<FileRead> {
        std::mem::take(&mut self.reads)
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

    /// The selected layer's maps as drawn: when comparing, at the values B is compared with
    /// (see [`Comparison::shown_as`]).
    pub fn feature_maps(&self) -> Option<&FeatureMaps> {
        self.shown_layer()?.feature_maps()
    }

    /// Where A's selected layer is drawn from: itself, or the layer it is compared at.
    fn shown_pos(&self) -> Option<usize> {
        let pos = self.selected_entry()?.layer?;
        Some(
            self.comparison
                .as_ref()
                .and_then(|c| c.shown_as.get(&pos).copied())
                .unwrap_or(pos),
        )
    }

    /// The layer A's pictures show (see [`App::feature_maps`]).
    pub fn shown_layer(&self) -> Option<&Layer> {
        self.acts.as_ref()?.layers.get(self.shown_pos()?)
    }

    pub fn load(&self) -> &Load {
        &self.load
    }

    pub fn view(&self) -> View {
        self.view
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// A single picture with its cursor, also under the help.
    pub fn is_zoomed(&self) -> bool {
        matches!(
            self.mode,
            Mode::Zoom
                | Mode::Help {
                    behind: Behind::Zoom,
                    ..
                }
                | Mode::Filter {
                    behind: Behind::Zoom
                }
        )
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
        matches!(self.mode, Mode::Help { .. })
    }

    pub fn help_scroll(&self) -> u16 {
        match self.mode {
            Mode::Help { scroll, .. } => scroll,
            _ => 0,
        }
    }

    pub fn filter(&self) -> &str {
        &self.filter
    }

    pub fn filter_editing(&self) -> bool {
        matches!(self.mode, Mode::Filter { .. })
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

    /// Entries that pass the filter, as indices into [`App::entries`].
    pub fn visible(&self) -> Vec<usize> {
        let f = self.filter.to_lowercase();
        (0..self.entries.len())
            .filter(|&i| self.entries[i].matches(&f))
            .collect()
    }

    /// Statistics and derived maps of the selected layer.
    pub fn info(&self) -> Option<Rc<LayerInfo>> {
        self.infos.get(&self.shown_pos()?).cloned()
    }

    /// Works out the selected layer's statistics once (drawing and the by-mean order read
    /// them).
    fn work_out_info(&mut self) {
        let Some(pos) = self.shown_pos() else {
            return;
        };
        if !self.infos.contains_key(&pos) {
            if let Some(fm) = self.feature_maps() {
                let info = Rc::new(LayerInfo::new(fm));
                self.infos.insert(pos, info);
            }
        }
        let b_pos = self.pair().map(|p| p.0);
        let b = self.comparison.as_ref().map(|c| c.b.clone());
        if let (Some(b_pos), Some(b)) = (b_pos, b) {
            if let Some(fm) = b.layers.get(b_pos).and_then(|l| l.feature_maps()) {
                self.infos_b
                    .entry(b_pos)
                    .or_insert_with(|| Rc::new(LayerInfo::new(fm)));
            }
        }
    }

    // ---- compare ----

    /// The scan's figures for entry `i`'s layer, with its position among the scanned layers.
    pub fn scan_layer(&self, i: usize) -> Option<(usize, &crate::scan::ScanLayer)> {
        let scan = self.opts.scan.as_ref()?;
        let layer = self.entries.get(i)?.layer?;
        let tensor = crate::text::sanitize(&self.acts.as_ref()?.layers.get(layer)?.tensor);
        let at = *scan.by_tensor.get(&tensor)?;
        Some((at, scan.result.layers.get(at)?))
    }

    pub fn scan(&self) -> Option<&ScanAttached> {
        self.opts.scan.as_ref()
    }

    /// The selected channel's top images over the scan's data set, in zoom.
    pub fn scan_top(&self) -> Option<&ScanTop> {
        let (layer, _) = self.scan_layer(self.selected)?;
        self.scan_top
            .as_ref()
            .filter(|t| t.layer == layer && t.channel == self.channel && self.is_zoomed())
    }

    /// Reads the montage the scan drew for the zoomed channel (once per channel).
    fn read_scan_top(&mut self) {
        if !self.is_zoomed() {
            return;
        }
        let Some((layer, _)) = self.scan_layer(self.selected) else {
            return;
        };
        if self
            .scan_top
            .as_ref()
            .is_some_and(|t| t.layer == layer && t.channel == self.channel)
        {
            return;
        }
        let path = self.opts.scan.as_ref().and_then(|scan| {
            let stem = scan.stems.get(layer)?;
            Some(crate::scan::montage::path(&scan.dir, stem, self.channel))
        });
        self.scan_top = Some(ScanTop {
            layer,
            channel: self.channel,
            picture: None,
            reading: path.is_some(),
        });
        if let Some(path) = path {
            self.reads.push(FileRead::Montage {
                layer,
                channel: self.channel,
                path,
            });
        }
    }

    /// The evidence map `x` shows, when it has arrived.
    pub fn evidence(&self) -> Option<&Shown> {
        self.evidence.get(self.evidence_pick)
    }

    pub fn evidence_pick(&self) -> usize {
        self.evidence_pick
    }

    pub fn evidence_count(&self) -> usize {
        self.evidence.len()
    }

    /// Score-CAM's progress, or why there is no evidence map.
    pub fn explain_status(&self) -> Option<&str> {
        self.explain_status.as_deref()
    }

    /// The selected layer's kernels, once `f` asked for them.
    pub fn kernels(&self) -> Option<&Kernels> {
        self.kernels.as_ref().filter(|k| k.entry == self.selected)
    }

    /// Asks for the selected layer's kernels from the model's weights (once per layer and
    /// colormap).
    fn read_kernels(&mut self) {
        if self.kernels().is_some_and(|k| k.colormap == self.colormap) {
            return;
        }
        let tensor = self.selected_layer().map(|l| l.tensor.clone());
        let (Some(model), Some(tensor)) = (self.model.as_ref(), tensor) else {
            return;
        };
        self.kernels = Some(Kernels {
            entry: self.selected,
            colormap: self.colormap,
            view: None,
            picture: None,
            shape: Vec::new(),
            reading: true,
        });
        self.reads.push(FileRead::Kernels {
            entry: self.selected,
            colormap: self.colormap,
            model: Box::new(model.clone()),
            tensor,
        });
    }

    pub fn comparison(&self) -> Option<&Comparison> {
        self.comparison.as_ref()
    }

    pub fn compare_options(&self) -> Option<&CompareOptions> {
        self.opts.compare.as_ref()
    }

    /// B's layer paired with the selected one: its position, the layer, and how far apart.
    pub fn pair(&self) -> Option<(usize, &Layer, MatchedBy, Divergence)> {
        let c = self.comparison.as_ref()?;
        let pos = self.selected_entry()?.layer?;
        let &(b, by, d) = c.pairs.get(&pos)?;
        Some((b, c.b.layers.get(b)?, by, d))
    }

    /// Statistics of B's layer paired with the selected one.
    pub fn info_b(&self) -> Option<Rc<LayerInfo>> {
        self.infos_b.get(&self.pair()?.0).cloned()
    }

    /// How far B is from A in entry `i`'s layer.
    pub fn divergence_of(&self, i: usize) -> Option<Divergence> {
        let pos = self.entries.get(i)?.layer?;
        self.comparison.as_ref()?.pairs.get(&pos).map(|p| p.2)
    }

    /// Whether entry `i`'s layer differs by more than the threshold: for two number formats,
    /// an SQNR under the SQNR threshold.
    pub fn differs(&self, i: usize) -> bool {
        let Some(d) = self.divergence_of(i) else {
            return false;
        };
        if self.compares_precisions() {
            return d.sqnr_db.is_some_and(|db| db < self.sqnr_threshold());
        }
        let threshold = self
            .opts
            .compare
            .as_ref()
            .map_or(crate::compare::DEFAULT_THRESHOLD, |c| c.threshold);
        d.rel > threshold
    }

    /// Whether B is another number format of A (float16, int8…): figures are then SQNRs.
    pub fn compares_precisions(&self) -> bool {
        self.comparison
            .as_ref()
            .is_some_and(|c| c.pairs.values().any(|p| p.2.local_sqnr_db.is_some()))
    }

    pub fn sqnr_threshold(&self) -> f64 {
        self.opts
            .compare
            .as_ref()
            .map_or(crate::compare::DEFAULT_SQNR_THRESHOLD, |c| c.sqnr_threshold)
    }

    /// The SQNR of what entry `i`'s layer computes from (its operator's input).
    pub fn input_sqnr(&self, i: usize) -> Option<f64> {
        let acts = self.acts.as_ref()?;
        let layer = acts.layers.get(self.entries.get(i)?.layer?)?;
        let source = layer.source.as_ref()?;
        let at = acts.layers.iter().position(|l| &l.tensor == source)?;
        self.comparison.as_ref()?.pairs.get(&at)?.2.sqnr_db
    }

    /// Whether entry `i`'s layer loses precision by itself: a local SQNR under the threshold.
    pub fn loses_locally(&self, i: usize) -> bool {
        self.divergence_of(i)
            .and_then(|d| d.local_sqnr_db)
            .is_some_and(|db| db < self.sqnr_threshold())
    }

    /// The layer whose own format loses the most.
    fn move_to_worst_local(&mut self) {
        let worst = self
            .visible()
            .into_iter()
            .filter_map(|i| Some((self.divergence_of(i)?.local_sqnr_db?, i)))
            .min_by(|a, b| a.0.total_cmp(&b.0));
        match worst {
            Some((db, i)) => {
                self.select(i);
                self.message = Some(Clean::new(&format!(
                    "the layer that loses most by itself: local SQNR {db:.1} dB"
                )));
            }
            None => self.message = Some("no local SQNR: B is not another number format".into()),
        }
    }

    /// The first layer, in graph order, holding NaN or ±Inf.
    fn move_to_first_nonfinite(&mut self) {
        let found = self
            .visible()
            .into_iter()
            .find(|&i| self.entries[i].nonfinite.any());
        match found {
            Some(i) => {
                self.select(i);
                self.message = Some(Clean::new(&format!(
                    "first non-finite values: {} (magenta)",
                    self.entries[i].nonfinite.describe()
                )));
            }
            None => self.message = Some("no layer holds NaN or ±Inf".into()),
        }
    }

    /// The next (or previous) visible layer that differs by more than the threshold; when B is
    /// another number format, the next whose own format loses (local SQNR under the
    /// threshold), or, with none, the one that loses most.
    fn move_to_differing(&mut self, forward: bool) {
        let Some(threshold) = self.opts.compare.as_ref().map(|c| c.threshold) else {
            self.message = Some("no second run: `featscope compare` shows differences".into());
            return;
        };
        let precisions = self.compares_precisions();
        let vis = self.visible();
        let here = vis.iter().position(|&i| i == self.selected).unwrap_or(0);
        let order: Vec<usize> = if forward {
            vis[here + 1..].to_vec()
        } else {
            vis[..here].iter().rev().copied().collect()
        };
        let hit = |app: &App, i: usize| {
            if precisions {
                app.loses_locally(i)
            } else {
                app.differs(i)
            }
        };
        match order.into_iter().find(|&i| hit(self, i)) {
            Some(i) => self.select(i),
            None if precisions && !vis.iter().any(|&i| self.loses_locally(i)) => {
                self.move_to_worst_local()
            }
            None if precisions => {
                self.message = Some(Clean::new(&format!(
                    "no {} layer loses precision by itself (local SQNR under {} dB)",
                    if forward { "later" } else { "earlier" },
                    self.sqnr_threshold()
                )))
            }
            None => {
                self.message = Some(Clean::new(&format!(
                    "no {} layer differs by more than {threshold:e}",
                    if forward { "later" } else { "earlier" }
                )))
            }
        }
    }

    fn move_to_worst_channel(&mut self) {
        match self.pair() {
            Some((_, layer, _, d)) if layer.feature_maps().is_some() => {
                self.channel = d.worst_channel
            }
            _ => self.message = Some("no paired feature map here".into()),
        }
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
    /// The integer the selected quantized layer stores under the cursor.
    pub fn cursor_integer(&self) -> Option<i32> {
        let (y, x) = self.cursor;
        (self.view == View::Grid)
            .then(|| self.selected_layer()?.stored_integer(self.channel, y, x))
            .flatten()
    }

    pub fn cursor_value(&self) -> Option<f32> {
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
            self.full_redraw = true;
        }
    }

    // ---- events ----

    /// The contexts whose bindings apply now, most specific first.
    fn contexts(&self) -> &'static [Context] {
        match self.mode {
            Mode::Help { .. } => &[Context::Always, Context::Help, Context::Global],
            Mode::Filter { .. } => &[Context::Always, Context::Filter],
            Mode::Zoom => &[Context::Always, Context::Zoom, Context::Global],
            Mode::Browse => &[
                Context::Always,
                Context::Browse,
                Context::Compare,
                Context::Global,
            ],
        }
    }

    /// What is under the help or the filter line.
    fn behind(&self) -> Behind {
        if self.is_zoomed() {
            Behind::Zoom
        } else {
            Behind::Browse
        }
    }

    /// A key or a click on the screen `layout` describes (rows of tiles, pages, the help's
    /// height, what was clicked).
    pub fn handle_event(&mut self, ev: &Event, layout: &ViewLayout) -> Option<Effect> {
        let effect = match ev {
            Event::Key(key) => self.handle_key(key, layout),
            Event::Mouse(m) => {
                self.handle_mouse(m, layout);
                None
            }
            _ => None,
        };
        if self.opts.scan.is_some() {
            self.read_scan_top();
        }
        effect
    }

    pub fn handle_key(&mut self, key: &KeyEvent, layout: &ViewLayout) -> Option<Effect> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        self.message = None;
        match keymap::lookup(self.contexts(), key) {
            Some(action) => self.apply(action, layout),
            None => {
                if self.filter_editing() {
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
    pub fn apply(&mut self, action: Action, layout: &ViewLayout) -> Option<Effect> {
        match action {
            Action::Quit => return Some(Effect::Quit),
            Action::ToggleHelp => match self.mode {
                Mode::Help { behind, .. } => self.close_help(behind),
                _ => {
                    self.mode = Mode::Help {
                        scroll: 0,
                        behind: self.behind(),
                    }
                }
            },
            Action::CloseHelp => {
                if let Mode::Help { behind, .. } = self.mode {
                    self.close_help(behind);
                }
            }
            Action::HelpDown | Action::HelpUp => {
                if let Mode::Help { scroll, behind } = self.mode {
                    let most = layout.help.as_ref().map(|h| h.max_scroll).unwrap_or(0);
                    let scroll = if action == Action::HelpDown {
                        scroll.saturating_add(1).min(most)
                    } else {
                        scroll.saturating_sub(1)
                    };
                    self.mode = Mode::Help { scroll, behind };
                }
            }
            Action::LayerDown => self.move_layer(1),
            Action::LayerUp => self.move_layer(-1),
            Action::FirstLayer => self.move_layer(isize::MIN / 2),
            Action::LastLayer => self.move_layer(isize::MAX / 2),
            Action::ChannelNext => self.move_channel(1),
            Action::ChannelPrev => self.move_channel(-1),
            Action::RowDown => self.move_rows(1, layout),
            Action::RowUp => self.move_rows(-1, layout),
            Action::PageDown => self.move_page(1, layout),
            Action::PageUp => self.move_page(-1, layout),
            Action::FirstChannel => self.move_channel(isize::MIN / 2),
            Action::LastChannel => self.move_channel(isize::MAX / 2),
            Action::Zoom => self.enter_zoom(),
            Action::Back => {
                if self.mode == Mode::Zoom {
                    self.mode = Mode::Browse;
                } else if !self.filter.is_empty() {
                    self.filter.clear();
                }
            }
            Action::CycleView => self.view = self.view.next(),
            Action::NextColormap => {
                self.colormap = self.colormap.next();
                if self.view == View::Filters {
                    self.read_kernels();
                }
            }
            Action::ToggleNormalization => self.normalization = self.normalization.toggle(),
            Action::ToggleOrder => self.by_mean = !self.by_mean,
            Action::StartFilter => {
                self.full_redraw |= self.help_visible();
                self.mode = Mode::Filter {
                    behind: self.behind(),
                };
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
            Action::FilterApply => {
                if let Mode::Filter { behind } = self.mode {
                    self.mode = behind.into();
                }
            }
            Action::FilterClear => {
                self.filter.clear();
                if let Mode::Filter { behind } = self.mode {
                    self.mode = behind.into();
                }
            }
            Action::FilterBackspace => {
                self.filter.pop();
                self.fix_selection_for_filter();
            }
            Action::FilterInput => {}
            Action::NextDiffering => self.move_to_differing(true),
            Action::PrevDiffering => self.move_to_differing(false),
            Action::WorstChannel => self.move_to_worst_channel(),
            Action::WorstLocal => self.move_to_worst_local(),
            Action::FirstNonFinite => self.move_to_first_nonfinite(),
            Action::Evidence => {
                if self.view == View::Evidence && !self.evidence.is_empty() {
                    self.evidence_pick = (self.evidence_pick + 1) % self.evidence.len();
                } else {
                    self.view = View::Evidence;
                    self.mode = Mode::Browse;
                }
            }
            Action::Filters => {
                if self.view == View::Filters {
                    self.view = View::Grid;
                } else {
                    self.view = View::Filters;
                    self.mode = Mode::Browse;
                    self.read_kernels();
                }
            }
        }
        None
    }

    /// Closes the help; terminal pictures under it are sent again.
    fn close_help(&mut self, behind: Behind) {
        self.mode = behind.into();
        self.full_redraw = true;
    }

    fn handle_mouse(&mut self, m: &MouseEvent, layout: &ViewLayout) {
        let at = Position::new(m.column, m.row);
        let in_list = layout.sidebar.rows.contains(at);
        match m.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                if let Some(i) = layout.entry_at(at) {
                    self.select(i);
                } else if let Some(p) = layout.tile_at(at) {
                    let c = self.channel_at(p);
                    // A click on the selected tile zooms into it, like Enter.
                    if c == self.channel {
                        self.enter_zoom();
                    } else {
                        self.channel = c;
                    }
                } else if let Some(r) = layout.zoomed().filter(|r| r.contains(at)) {
                    if let Some((h, w)) = self.feature_maps().map(|f| (f.height, f.width)) {
                        let x = (m.column - r.x) as usize * w / r.width.max(1) as usize;
                        let y = (m.row - r.y) as usize * h / r.height.max(1) as usize;
                        self.cursor = (y.min(h.saturating_sub(1)), x.min(w.saturating_sub(1)));
                    }
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
                } else if layout.inner.contains(at) {
                    if self.mode == Mode::Zoom {
                        self.move_cursor(step, 0);
                    } else {
                        self.move_rows(step, layout);
                    }
                }
            }
            _ => {}
        }
    }

    // ---- moves ----

    /// A row of tiles down (or up), as the grid is on screen.
    fn move_rows(&mut self, rows: isize, layout: &ViewLayout) {
        let Some(n) = self.feature_maps().map(|f| f.channels) else {
            return;
        };
        // Rows and pages are the grid's: with no grid on screen (the sum, the overlay) there
        // are none to move by.
        let Some(grid) = layout.grid() else {
            return;
        };
        let next = grid.move_rows(self.position_of(self.channel), rows, n);
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

    /// Selects entry `i`, keeping the channel, and the cursor's place relative to the map's
    /// size, where they fit.
    fn select(&mut self, i: usize) {
        if i >= self.entries.len() {
            return;
        }
        let old = self.feature_maps().map(|f| (f.height, f.width));
        self.selected = i;
        if let Some(fm) = self.feature_maps() {
            let (c, h, w) = (fm.channels, fm.height, fm.width);
            if self.channel >= c {
                self.channel = 0;
            }
            let (y, x) = self.cursor;
            self.cursor = match old {
                Some((oh, ow)) => (y * h / oh.max(1), x * w / ow.max(1)),
                None => (h / 2, w / 2),
            };
            self.cursor = (
                self.cursor.0.min(h.saturating_sub(1)),
                self.cursor.1.min(w.saturating_sub(1)),
            );
        }
        self.work_out_info();
        if self.view == View::Filters {
            self.read_kernels();
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

    fn move_page(&mut self, delta: isize, layout: &ViewLayout) {
        let Some(n) = self.feature_maps().map(|f| f.channels) else {
            return;
        };
        let Some(grid) = layout.grid() else {
            return;
        };
        let per_page = grid.per_page.max(1);
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
            self.mode = Mode::Zoom;
            if let Some(fm) = self.feature_maps() {
                let (h, w) = (fm.height, fm.width);
                self.cursor = (
                    self.cursor.0.min(h.saturating_sub(1)),
                    self.cursor.1.min(w.saturating_sub(1)),
                );
            }
        } else if let Some(e) = self.selected_entry() {
            self.message = Some(match e.reason() {
                Some(r) => Clean::new(&format!("{} is not drawn: {r}", e.name)),
                None => "no activations yet; the model is still running".into(),
            });
        }
    }

    /// After the filter changed: keep the selection among the matches.
    fn fix_selection_for_filter(&mut self) {
        let vis = self.visible();
        if let Some(&first) = vis.first().filter(|_| !vis.contains(&self.selected)) {
            self.select(first);
        }
    }

    fn export(&mut self) -> Option<Effect> {
        let Some(acts) = self.acts.clone() else {
            self.message = Some("nothing to export yet: the model is still running".into());
            return None;
        };
        let layer = self.selected_layer()?;
        if layer.feature_maps().is_none() {
            self.message = Some(Clean::new(&format!(
                "{} is not a feature map; nothing to export",
                layer.name
            )));
            return None;
        }
        let tensor = layer.tensor.clone();
        let name = layer.name.clone();
        let Some(model) = self.model.clone() else {
            self.message = Some("export needs the model file".into());
            return None;
        };
        self.message = Some(Clean::new(&format!(
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
                overlay: self.view == View::Overlay,
                // The pictures on screen are exported: the kernels, the evidence map.
                filters: self.view == View::Filters,
                ..SnapshotOptions::default()
            },
            evidence: (self.view == View::Evidence)
                .then(|| self.evidence().map(|e| e.evidence.clone()))
                .flatten(),
        })))
    }
}
