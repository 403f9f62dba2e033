//! The interactive view: terminal setup and restore, the worker that runs the model, and the
//! event loop. State lives in [`app`], where things go on screen in [`layout`], drawing in
//! [`ui`], keys in [`keymap`]; [`Viewer`] holds the three together.

pub mod app;
pub mod graphics;
pub mod grid;
pub mod halfblock;
mod help;
pub mod keymap;
mod kitty;
pub mod layers;
pub mod layout;
mod pane;
pub mod picture;
pub mod reads;
pub mod screen;
pub mod ui;
mod viewer;

pub use viewer::Viewer;

use crate::model::Model;
use crate::pipeline::{Analyzer, RunConfig, Selection};
use anyhow::{bail, Context as _, Result};
use app::{App, AppOptions, Effect, Msg};
use crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event, MouseEventKind};
use crossterm::terminal::{self, EnterAlternateScreen, LeaveAlternateScreen};
use graphics::Graphics;
use halfblock::Colours;
use ratatui::Terminal;
use screen::Screen;
use std::io::{IsTerminal, Stdout};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Once};
use std::time::Duration;

/// How often the loop wakes without input: the spinner and elapsed time while loading, and
/// the signal flag.
const TICK: Duration = Duration::from_millis(100);

/// Whether the terminal is in raw mode / the alternate screen, so restoring is idempotent and
/// safe from the panic hook.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// What the view is asked to show, and how.
#[derive(Clone, Debug)]
pub struct ViewOptions {
    /// The model [default: see [`crate::defaults`]].
    pub model: Option<PathBuf>,
    /// The image [default: the default model's photo].
    pub image: Option<PathBuf>,
    pub graphics: crate::term::choice::Request,
    pub colormap: crate::render::Colormap,
    /// Where `e` exports.
    pub export_dir: PathBuf,
    /// `--scan DIR`: a scan of this model over a data set.
    pub scan: Option<PathBuf>,
    pub run: RunConfig,
}

/// What the worker computes.
enum Work {
    /// One model on one image.
    Single,
    /// Two runs, A and B, of every layer or those the patterns name.
    Compare {
        inputs: crate::compare::Inputs,
        layers: Vec<String>,
    },
}

/// The view of one model on one image.
pub fn run(opts: ViewOptions) -> Result<ExitCode> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        bail!(
            "the interactive view needs a terminal (stdout is not a TTY); \
             use `featscope snapshot MODEL IMAGE` to write PNGs instead"
        );
    }
    refuse_background()?;
    run_view(opts, Work::Single, None)
}

/// The view of two runs side by side (`featscope compare` without `--out`).
pub fn run_compare(
    mut opts: ViewOptions,
    inputs: crate::compare::Inputs,
    layers: Vec<String>,
    (threshold, sqnr_threshold): (f32, f64),
) -> Result<ExitCode> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        bail!(
            "the interactive view needs a terminal (stdout is not a TTY); \
             use `featscope compare … --out DIR` to write the pictures and compare.json instead"
        );
    }
    refuse_background()?;
    // Fail before the screen switches, like the single view.
    if let crate::compare::Inputs::TwoModels { b, .. } = &inputs {
        opts.run.open_model(b)?;
    }
    std::fs::metadata(inputs.image_b())
        .with_context(|| format!("{}: cannot read", inputs.image_b().display()))?;
    opts.model = Some(inputs.model_a().to_path_buf());
    opts.image = Some(inputs.image_a().to_path_buf());
    let (name_a, name_b) = inputs.names();
    let compare = app::CompareOptions {
        name_a,
        name_b,
        threshold,
        sqnr_threshold,
    };
    run_view(opts, Work::Compare { inputs, layers }, Some(compare))
}

fn run_view(
    opts: ViewOptions,
    work: Work,
    compare: Option<app::CompareOptions>,
) -> Result<ExitCode> {
    let (model_path, image_path) = match (opts.model.clone(), opts.image.clone()) {
        (Some(model), Some(image)) => (model, image),
        (model, image) => {
            let defaults = crate::defaults::resolve()?;
            (
                model.unwrap_or(defaults.model),
                image.unwrap_or(defaults.image),
            )
        }
    };
    // Fail before the screen switches: these errors then read like any other command's.
    let model = opts.run.open_model(&model_path)?;
    std::fs::metadata(&image_path)
        .with_context(|| format!("{}: cannot read", image_path.display()))?;
    let scan = match &opts.scan {
        Some(dir) => Some(app::ScanAttached::read(dir)?),
        None => None,
    };

    let stop = Arc::new(AtomicBool::new(false));
    watch_signals(stop.clone())?;
    install_panic_hook();
    let mut terminal = enter()?;
    // The terminal is asked what it can show while the first frames are drawn; stdin is
    // the answer's until it is in (see `event_loop`).
    let probe = start_probe();
    // Until then, half-blocks in the colours the environment promises.
    let env_colours = if crate::term::choice::colorterm_truecolor() {
        Colours::True
    } else {
        Colours::Palette256
    };
    let mut app = App::new(AppOptions {
        colormap: opts.colormap,
        normalization: Default::default(),
        graphics: Graphics::halfblocks(env_colours),
        no_color: crate::term::choice::no_color_from_env(),
        export_dir: opts.export_dir.clone(),
        image_path: image_path.clone(),
        compare,
        scan,
    });
    app.set_model(model.clone());

    let (tx, rx) = mpsc::channel();
    spawn_worker(model, opts.run.clone(), image_path, work, tx.clone());
    let size = terminal.size()?;
    let mut viewer = Viewer::new(
        app,
        ratatui::layout::Rect::new(0, 0, size.width, size.height),
    );
    let result = event_loop(
        &mut terminal,
        &mut viewer,
        &rx,
        &tx,
        probe,
        opts.graphics,
        &stop,
    );
    restore();
    result.map(|()| ExitCode::SUCCESS)
}

/// The view started in the background (`featscope &`) would be stopped by the kernel the
/// moment it set raw mode, and wait for `fg` with the terminal half set up: refused instead.
fn refuse_background() -> Result<()> {
    if !crate::term::in_foreground() {
        bail!(
            "the interactive view needs the terminal's foreground (it was started in the \
             background, with & or under timeout without --foreground)"
        );
    }
    Ok(())
}

/// What the terminal said, and the keys typed while it was asked.
type ProbeResult = (crate::term::choice::Facts, Vec<u8>);

/// Sends the graphics query and reads the answer on a thread of its own, so the first frame
/// does not wait for a terminal that never answers (the read is bounded by
/// [`crate::term::choice::query_timeout`], so the thread always ends).
fn start_probe() -> Option<Receiver<ProbeResult>> {
    crate::term::choice::send_query().ok()?;
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("featscope-probe".into())
        .spawn(move || {
            let _ = tx.send(crate::term::choice::collect());
        })
        .ok()?;
    Some(rx)
}

/// Keys typed while the terminal was being asked, as the events they would have been.
fn typed_keys(bytes: &[u8]) -> Vec<Event> {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let key = |code, modifiers| Event::Key(KeyEvent::new(code, modifiers));
    bytes
        .iter()
        .filter_map(|&b| match b {
            0x03 => Some(key(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            b'\r' => Some(key(KeyCode::Enter, KeyModifiers::NONE)),
            0x1b => Some(key(KeyCode::Esc, KeyModifiers::NONE)),
            0x7f => Some(key(KeyCode::Backspace, KeyModifiers::NONE)),
            0x20..=0x7e => Some(key(KeyCode::Char(b as char), KeyModifiers::NONE)),
            _ => None,
        })
        .collect()
}

/// SIGTERM, SIGHUP (a dropped SSH connection) and SIGINT ask the event loop to stop. When the
/// terminal is gone, crossterm's reader can spin on the dead tty without ever returning to the
/// loop, so after a grace period the watcher restores what it can and exits itself.
fn watch_signals(stop: Arc<AtomicBool>) -> Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGHUP, SIGINT])
        .context("cannot install signal handlers")?;
    std::thread::Builder::new()
        .name("featscope-signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                stop.store(true, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(500));
                restore();
                // An export (`e`) may be writing.
                crate::outdir::remove_temp_files();
                std::process::exit(128 + signal);
            }
        })
        .context("cannot start the signal watcher")?;
    Ok(())
}

type Term = Terminal<Screen<Stdout>>;

fn enter() -> Result<Term> {
    terminal::enable_raw_mode().context("cannot switch the terminal to raw mode")?;
    ACTIVE.store(true, Ordering::SeqCst);
    let setup = (|| -> Result<Term> {
        crossterm::execute!(
            std::io::stdout(),
            EnterAlternateScreen,
            EnableMouseCapture,
            crossterm::cursor::Hide
        )?;
        let mut t = Terminal::new(Screen::new(std::io::stdout()))?;
        t.clear()?;
        Ok(t)
    })();
    if setup.is_err() {
        restore();
    }
    setup
}

/// Puts the terminal back: main screen, cooked mode, visible cursor, no mouse reports.
fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = crossterm::execute!(
            std::io::stdout(),
            DisableMouseCapture,
            LeaveAlternateScreen,
            crossterm::cursor::Show
        );
        let _ = terminal::disable_raw_mode();
    }
}

/// A panic on the UI thread restores the terminal before the message prints, so it is readable
/// and the shell usable. Worker panics are caught and reported in the view instead.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name() == Some("featscope-worker") {
                return;
            }
            restore();
            previous(info);
        }));
    });
}

/// Opens the engine and runs the model off the UI thread; progress and the result come back
/// as [`Msg`]s.
fn spawn_worker(model: Model, config: RunConfig, image: PathBuf, work: Work, tx: Sender<Msg>) {
    let fail = tx.clone();
    let spawned = std::thread::Builder::new()
        .name("featscope-worker".into())
        .spawn(move || {
            let work = std::panic::AssertUnwindSafe(|| -> Result<Msg> {
                let _ = tx.send(Msg::Stage("opening the engine".into()));
                if let Work::Compare { inputs, layers } = &work {
                    let stage = |s: String| {
                        let _ = tx.send(Msg::Stage(s));
                    };
                    let runs = crate::compare::compute_for_view(inputs, layers, &config, &stage)?;
                    return Ok(Msg::Compared(Box::new(runs)));
                }
                let mut analyzer = Analyzer::open(model, &config, &Selection::All)?;
                let _ = tx.send(Msg::Stage(format!(
                    "running {} on {}",
                    analyzer.engine_label(),
                    image.display()
                )));
                let acts = analyzer.compute(&image)?;
                let explainer = crate::explain::run::Explainer::new(&analyzer.model);
                let head = explainer.as_ref().ok().and_then(|e| e.head());
                let slim = explain_inputs(&acts, head.map(|h| h.features.as_str()));
                let _ = tx.send(Msg::Ready(Box::new(acts)));
                // The last word on evidence: nothing (all made) or why there is none.
                let outcome =
                    explainer.and_then(|e| explain_in_background(&e, &mut analyzer, &slim, &tx));
                Ok(Msg::ExplainStatus(match outcome {
                    Ok(()) => String::new(),
                    Err(e) => format!("no evidence map: {e:#}"),
                }))
            });
            let msg = match std::panic::catch_unwind(work) {
                Ok(Ok(msg)) => msg,
                Ok(Err(e)) => Msg::Failed(crate::text::one_line(&format!("{e:#}"))),
                Err(panic) => {
                    let what = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "unknown panic".into());
                    Msg::Failed(crate::text::one_line(&format!(
                        "the engine crashed: {what}"
                    )))
                }
            };
            let _ = tx.send(msg);
        });
    if let Err(e) = spawned {
        let _ = fail.send(Msg::Failed(format!("cannot start the worker thread: {e}")));
    }
}

/// The layers the evidence maps read (class scores, the feature map pooled by the head, the
/// last feature map larger than 1×1): kept while the full set goes to the view.
fn explain_inputs(
    acts: &crate::activations::Activations,
    pooled: Option<&str>,
) -> crate::activations::Activations {
    let last_map = acts.layers.iter().rposition(|l| {
        l.feature_maps()
            .is_some_and(|f| f.height * f.width > 1 && f.channels > 1)
    });
    let layers = acts
        .layers
        .iter()
        .enumerate()
        .filter(|(i, l)| {
            Some(*i) == last_map
                || Some(l.tensor.as_str()) == pooled
                || matches!(l.data, crate::activations::LayerData::Vector(_))
        })
        .map(|(_, l)| l.clone())
        .collect();
    crate::activations::Activations {
        layers,
        input_image: acts.input_image.clone(),
        input_description: acts.input_description.clone(),
        engine: acts.engine.clone(),
        inference: acts.inference,
        top5: acts.top5.clone(),
    }
}

/// Evidence maps for the top-5 classes (or the top class), sent as each is made; exact CAM
/// when the model's head allows it, else Score-CAM with its progress.
fn explain_in_background(
    explainer: &crate::explain::run::Explainer,
    analyzer: &mut Analyzer,
    acts: &crate::activations::Activations,
    tx: &Sender<Msg>,
) -> Result<()> {
    use crate::explain::run::{ClassPick, EvidenceRequest, DEFAULT_MAX_CHANNELS};
    let classes: Vec<ClassPick> = match &acts.top5 {
        Some(top) => top.iter().map(|c| ClassPick::Index(c.index)).collect(),
        None => vec![ClassPick::Top],
    };
    let mut made = Vec::new();
    for class in classes {
        let request = EvidenceRequest {
            class,
            max_channels: DEFAULT_MAX_CHANNELS,
            ..Default::default()
        };
        let mut progress = |done: usize, total: usize| {
            if done < total {
                let _ = tx.send(Msg::ExplainStatus(format!(
                    "score-cam for class {}: {done}/{total} masked inputs",
                    made.len() + 1
                )));
            }
        };
        let evidence = explainer.explain(analyzer, acts, &request, &mut progress)?;
        made.push(evidence);
        let _ = tx.send(Msg::Evidence(made.clone()));
    }
    Ok(())
}

/// Runs the reads the view asked for, each on a thread of its own, their outcomes sent back.
fn spawn_reads(viewer: &mut Viewer, tx: &Sender<Msg>) {
    for read in viewer.app.take_reads() {
        let (tx, fail) = (tx.clone(), tx.clone());
        let crashed = read.failed("the read crashed");
        let unstarted = read.failed("cannot start a thread");
        let spawned = std::thread::Builder::new()
            .name("featscope-read".into())
            .spawn(move || {
                let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read.run()));
                let _ = tx.send(Msg::Read(done.unwrap_or(crashed)));
            });
        if spawned.is_err() {
            let _ = fail.send(Msg::Read(unstarted));
        }
    }
}

fn spawn_export(job: Box<app::ExportJob>, tx: Sender<Msg>) {
    let fail = tx.clone();
    let spawned = std::thread::Builder::new()
        .name("featscope-worker".into())
        .spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.run()));
            let msg = match result {
                Ok(Ok(files)) => Ok(files),
                Ok(Err(e)) => Err(crate::text::one_line(&format!("{e:#}"))),
                Err(_) => Err("the export crashed".into()),
            };
            let _ = tx.send(Msg::Exported(msg));
        });
    if let Err(e) = spawned {
        let _ = fail.send(Msg::Exported(Err(format!("cannot start a thread: {e}"))));
    }
}

#[allow(clippy::too_many_arguments)]
fn event_loop(
    terminal: &mut Term,
    viewer: &mut Viewer,
    rx: &Receiver<Msg>,
    tx: &Sender<Msg>,
    mut probe: Option<Receiver<ProbeResult>>,
    request: crate::term::choice::Request,
    stop: &AtomicBool,
) -> Result<()> {
    let mut dirty = true;
    let mut kitty_placements = kitty::Placements::default();
    loop {
        if stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        while let Ok(msg) = rx.try_recv() {
            viewer.app.on_message(msg);
            dirty = true;
        }
        let mut typed = Vec::new();
        if let Some(answer) = probe.as_ref().map(|p| p.try_recv()) {
            match answer {
                Ok((facts, keys)) => {
                    let chosen = crate::term::choice::choose(request, &facts).graphics;
                    viewer.app.set_graphics(chosen);
                    typed = typed_keys(&keys);
                    probe = None;
                    dirty = true;
                }
                Err(mpsc::TryRecvError::Disconnected) => probe = None,
                Err(mpsc::TryRecvError::Empty) => {}
            }
        }
        if dirty {
            // Messages and the terminal's answer changed the app: the keys below are read
            // against the screen as it will be drawn.
            let area = viewer.layout().area;
            viewer.relayout(area);
        }
        for ev in &typed {
            match viewer.handle_event(ev) {
                Some(Effect::Quit) => return Ok(()),
                Some(Effect::Export(job)) => spawn_export(job, tx.clone()),
                None => {}
            }
            spawn_reads(viewer, tx);
        }
        let loading = matches!(viewer.app.load(), app::Load::Loading { .. });
        if dirty || loading {
            if viewer.app.take_full_redraw() {
                terminal.clear()?;
            }
            let frame = terminal.draw(|f| viewer.draw(f))?;
            if matches!(
                viewer.app.graphics().protocol,
                crate::term::choice::Protocol::Kitty
            ) {
                let deletes = kitty_placements.update(&kitty::placements(frame.buffer));
                if !deletes.is_empty() {
                    use std::io::Write;
                    let out = terminal.backend_mut().writer_mut();
                    out.write_all(deletes.as_bytes())?;
                    out.flush()?;
                }
            }
            dirty = false;
        }
        if probe.is_some() {
            // The answer is on its way through stdin: read no events until it is in.
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        if !event::poll(TICK)? {
            continue;
        }
        // Apply everything queued (key repeat) before drawing once.
        loop {
            let ev = event::read()?;
            if !matches!(&ev, Event::Mouse(m) if m.kind == MouseEventKind::Moved) {
                dirty = true;
            }
            match viewer.handle_event(&ev) {
                Some(Effect::Quit) => return Ok(()),
                Some(Effect::Export(job)) => spawn_export(job, tx.clone()),
                None => {}
            }
            spawn_reads(viewer, tx);
            if !event::poll(Duration::ZERO)? {
                break;
            }
        }
    }
}
