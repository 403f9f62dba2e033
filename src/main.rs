use anyhow::{Context, Result};
use clap::Parser;
use featscope::cli::{Cli, Command, DoctorArgs, LayersArgs, SnapshotArgs};
use featscope::model::Model;
use featscope::pipeline::{Analyzer, Selection};
use featscope::snapshot::{self, NoMatch, SnapshotOptions};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Like other Unix filters: `featscope layers m.onnx | head` ends quietly when head is done,
    // instead of panicking on a closed pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("featscope: error: {}", one_line(&e));
            if e.downcast_ref::<NoMatch>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

/// The error and its causes on one line, as `a: b: c`, safe to print: paths and values from
/// files may hold escape sequences.
fn one_line(e: &anyhow::Error) -> String {
    featscope::model::sanitize(&format!("{e:#}").replace(['\n', '\r'], " "))
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Some(Command::Snapshot(args)) => run_snapshot(args),
        Some(Command::Layers(args)) => run_layers(args),
        Some(Command::Doctor(args)) => run_doctor(args),
        None => featscope::tui::run(cli.view),
    }
}

const IMAGE_EXTENSIONS: [&str; 10] = [
    "png", "jpg", "jpeg", "bmp", "gif", "webp", "tif", "tiff", "pnm", "ppm",
];

/// Arguments → images: folders expand to their images, sorted; other paths stay as given (a
/// missing one then fails on its own). A folder with no image is one failure among the rest.
fn expand_images(args: &[PathBuf]) -> Vec<Result<PathBuf>> {
    let mut out = Vec::new();
    for arg in args {
        if !arg.is_dir() {
            out.push(Ok(arg.clone()));
            continue;
        }
        let listed = std::fs::read_dir(arg)
            .with_context(|| format!("{}: cannot list the folder", arg.display()));
        let mut found: Vec<PathBuf> = match listed {
            Ok(entries) => entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file()
                        && p.extension()
                            .and_then(|e| e.to_str())
                            .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_lowercase().as_str()))
                })
                .collect(),
            Err(e) => {
                out.push(Err(e));
                continue;
            }
        };
        if found.is_empty() {
            out.push(Err(anyhow::anyhow!(
                "{}: the folder holds no images",
                arg.display()
            )));
        }
        found.sort();
        out.extend(found.into_iter().map(Ok));
    }
    out
}

fn run_snapshot(args: SnapshotArgs) -> Result<ExitCode> {
    featscope::outdir::clean_up_on_signals()?;
    let model = Model::open(&args.model)?;
    let only = snapshot::select_layers(&model, &args.layers)?;
    let images = expand_images(&args.images);
    snapshot::check_output_dir(&args.out)?;
    let selection = match &only {
        Some(tensors) => Selection::Tensors(tensors.clone()),
        None => Selection::All,
    };
    let mut analyzer = Analyzer::open(model, &args.run.config(), &selection)?;
    if let Some(note) = &analyzer.engine_note {
        eprintln!("featscope: {}", featscope::model::sanitize(note));
    }
    let opts = SnapshotOptions {
        colormap: args.colormap,
        normalization: args.normalization,
        scale: args.scale,
        tile_labels: args.tile_labels,
        overlay: args.overlay,
        npy: args.npy,
        print: args.print,
    };
    let several = images.len() > 1;
    let dirs: Vec<PathBuf> = if several {
        let stems: Vec<String> = images
            .iter()
            .map(|p| {
                p.as_ref()
                    .ok()
                    .and_then(|p| p.file_stem())
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
            .collect();
        snapshot::unique_stems(stems.iter().map(String::as_str))
            .into_iter()
            .map(|s| args.out.join(s))
            .collect()
    } else {
        vec![args.out.clone()]
    };
    let progress = (several && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(images.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {wide_msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let mut failed = 0usize;
    let mut files = 0usize;
    for (image, dir) in images.iter().zip(&dirs) {
        let result = image
            .as_ref()
            .map_err(|e| anyhow::anyhow!("{e:#}"))
            .and_then(|image| {
                if let Some(bar) = &progress {
                    bar.set_message(featscope::model::sanitize(&image.display().to_string()));
                }
                analyzer.compute(image).and_then(|acts| {
                    snapshot::write_snapshot(
                        &acts,
                        &analyzer.model,
                        image,
                        only.as_deref(),
                        dir,
                        &opts,
                    )
                })
            });
        match result {
            Ok(written) => {
                files += written.len();
                if !args.print {
                    for f in &written {
                        let line = featscope::model::sanitize(&f.display().to_string());
                        match &progress {
                            Some(bar) => bar.println(line),
                            None => println!("{line}"),
                        }
                    }
                }
            }
            Err(e) => {
                failed += 1;
                let line = format!("featscope: error: {}", one_line(&e));
                match &progress {
                    Some(bar) => bar.println(line),
                    None => eprintln!("{line}"),
                }
            }
        }
        if let Some(bar) = &progress {
            bar.inc(1);
        }
    }
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    if several {
        eprintln!(
            "featscope: {} of {} images done, {files} files in {}",
            images.len() - failed,
            images.len(),
            featscope::model::sanitize(&args.out.display().to_string())
        );
    }
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[derive(serde::Serialize)]
struct LayerRow {
    index: usize,
    name: String,
    tensor: String,
    op: String,
    shape: Vec<usize>,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    layout: Option<featscope::model::Layout>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

fn run_layers(args: LayersArgs) -> Result<ExitCode> {
    let model = Model::open(&args.model)?;
    let mut analyzer = Analyzer::open(model, &args.run.config(), &Selection::All)?;
    if let Some(note) = &analyzer.engine_note {
        eprintln!("featscope: {}", featscope::model::sanitize(note));
    }
    let acts = match &args.image {
        Some(image) => analyzer.compute(image)?,
        None => analyzer.compute_blank()?,
    };
    let rows: Vec<LayerRow> = acts
        .layers
        .iter()
        .map(|l| LayerRow {
            index: l.index,
            name: l.name.clone(),
            tensor: featscope::model::sanitize(&l.tensor),
            op: l.op.clone(),
            shape: l.shape.clone(),
            kind: l.kind.label(),
            layout: (l.shape.len() == 4).then_some(l.layout),
            reason: match &l.kind {
                featscope::activations::LayerKind::Other(r) => Some(r.clone()),
                _ => None,
            },
        })
        .collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    let name_w = rows
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let op_w = rows.iter().map(|r| r.op.len()).max().unwrap_or(2).max(2);
    println!(
        "{:>4}  {:name_w$}  {:op_w$}  {:18}  KIND",
        "#", "NAME", "OP", "SHAPE"
    );
    for (row, layer) in rows.iter().zip(&acts.layers) {
        let kind = match &row.reason {
            Some(r) => format!("other: {r}"),
            None if row.kind == "feature map" => format!("feature map ({})", layer.layout),
            None => row.kind.to_string(),
        };
        println!(
            "{:>4}  {:name_w$}  {:op_w$}  {:18}  {kind}",
            row.index,
            row.name,
            row.op,
            layer.shape_text()
        );
    }
    let maps = rows.iter().filter(|r| r.kind == "feature map").count();
    eprintln!(
        "featscope: {} layers, {maps} feature maps ({}; input {})",
        rows.len(),
        acts.engine,
        acts.input_description
    );
    Ok(ExitCode::SUCCESS)
}

fn run_doctor(args: DoctorArgs) -> Result<ExitCode> {
    featscope::doctor::run(args.ort_lib.as_deref(), !args.no_terminal_query)?;
    Ok(ExitCode::SUCCESS)
}
