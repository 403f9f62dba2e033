//! `featscope layers`: the table (or JSON) of every layer after one run.

use featscope::activations::LayerData;
use featscope::pipeline::{Analyzer, RunConfig, Selection};
use featscope::record::LayerRecord;
use featscope::report::Reporter;
use std::process::ExitCode;
use unicode_width::UnicodeWidthStr;

/// `featscope layers`: every layer of `model` after a run on `image` (or a blank image of the
/// input's size), as a table on stdout or, with `json`, as [`LayerRecord`]s.
pub fn run(
    model: &std::path::Path,
    image: Option<&std::path::Path>,
    json: bool,
    run: &RunConfig,
) -> anyhow::Result<ExitCode> {
    let report = super::Terminal::default();
    let model = run.open_model(model)?;
    let mut analyzer = Analyzer::open(model, run, &Selection::All)?;
    if let Some(note) = &analyzer.engine_note {
        report.note(note);
    }
    let acts = match image {
        Some(image) => analyzer.compute(image)?,
        None => analyzer.compute_blank()?,
    };
    let rows: Vec<LayerRecord> = acts.layers.iter().map(LayerRecord::of).collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    // Columns by display width: a CJK or emoji layer name takes two columns a character.
    let width = |texts: &mut dyn Iterator<Item = usize>, least: usize| {
        texts.max().unwrap_or(least).max(least)
    };
    let name_w = width(&mut rows.iter().map(|r| r.name.width()), 4);
    let op_w = width(&mut rows.iter().map(|r| r.op.width()), 2);
    let types: Vec<String> = acts.layers.iter().map(|l| l.precision.describe()).collect();
    let type_w = width(&mut types.iter().map(|t| t.width()), 4);
    println!(
        "{:>4}  {}  {}  {:18}  {}  KIND",
        "#",
        padded("NAME", name_w),
        padded("OP", op_w),
        "SHAPE",
        padded("TYPE", type_w)
    );
    for ((row, layer), dtype) in rows.iter().zip(&acts.layers).zip(&types) {
        let kind = match &layer.data {
            LayerData::Other(r) => format!("other: {r}"),
            LayerData::FeatureMaps(_) => format!("feature map ({})", layer.layout),
            data => data.label().to_string(),
        };
        let nonfinite = if layer.nonfinite.any() {
            format!("  ⚠ {}", layer.nonfinite.describe())
        } else {
            String::new()
        };
        println!(
            "{:>4}  {}  {}  {:18}  {}  {kind}{nonfinite}",
            row.index,
            padded(&row.name, name_w),
            padded(&row.op, op_w),
            layer.shape_text(),
            padded(dtype, type_w),
        );
    }
    let maps = acts
        .layers
        .iter()
        .filter(|l| l.feature_maps().is_some())
        .count();
    report.note(&format!(
        "{} layers, {maps} feature maps ({}; input {})",
        rows.len(),
        acts.engine,
        acts.input_description
    ));
    Ok(ExitCode::SUCCESS)
}

/// `text` and spaces up to `width` display columns.
fn padded(text: &str, width: usize) -> String {
    let gap = width.saturating_sub(text.width());
    format!("{text}{}", " ".repeat(gap))
}
