//! Compare and class evidence maps on EfficientNet-Lite0 (the bundled classifier), with the
//! engine `--backend auto` picks (ONNX Runtime when it is installed):
//! - `compare` of two images over every layer against one `snapshot` of the same layers;
//! - exact CAM beyond the forward pass, Score-CAM with 64 channels, Eigen-CAM.
//!
//! `cargo bench --bench explain`

use criterion::{criterion_group, criterion_main, Criterion};
use featscope::compare::{CompareJob, Inputs};
use featscope::explain::run::{ClassPick, EvidenceRequest, Explainer, MethodChoice};
use featscope::model::Model;
use featscope::pipeline::{Analyzer, RunConfig, Selection};
use featscope::render::Colormap;
use featscope::snapshot::{write_snapshot, SnapshotOptions};
use std::path::{Path, PathBuf};

fn models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models")
}

fn options() -> SnapshotOptions {
    SnapshotOptions::default()
}

fn compare(c: &mut Criterion) {
    let model_path = models().join("efficientnet_lite0.onnx");
    let (cat, cup) = (models().join("chelsea.png"), models().join("coffee.png"));
    let config = RunConfig::default();
    let out = tempfile::tempdir().expect("tempdir");
    let mut group = c.benchmark_group("efficientnet_lite0 compare");
    group.sample_size(10);
    group.bench_function("snapshot, every layer: open, run, render, write", |b| {
        b.iter(|| {
            let model = Model::open(&model_path).expect("model");
            let mut analyzer = Analyzer::open(model, &config, &Selection::All).expect("engine");
            let acts = analyzer.compute(&cat).expect("inference");
            write_snapshot(&acts, &analyzer.model, &cat, None, out.path(), &options())
                .expect("write")
        })
    });
    let job = CompareJob {
        inputs: Inputs::TwoImages {
            model: model_path.clone(),
            a: cat.clone(),
            b: cup.clone(),
        },
        layers: Vec::new(),
        out: out.path().join("compare"),
        threshold: featscope::compare::DEFAULT_THRESHOLD,
        fail_above: None,
        fail_below_sqnr: None,
        colormap: Colormap::Viridis,
        run: config.clone(),
    };
    group.bench_function(
        "compare two images, every layer: open, run twice, render, write",
        |b| b.iter(|| featscope::compare::run(&job, &featscope::report::Silent).expect("compare")),
    );
    group.finish();
}

fn evidence(c: &mut Criterion) {
    let model = Model::open(&models().join("efficientnet_lite0.onnx")).expect("model");
    let explainer = Explainer::new(&model).expect("head");
    let mut analyzer =
        Analyzer::open(model, &RunConfig::default(), &Selection::All).expect("engine");
    eprintln!("evidence: {}", analyzer.engine_label());
    let acts = analyzer
        .compute(&models().join("chelsea.png"))
        .expect("inference");
    let request = |method, max_channels| EvidenceRequest {
        method,
        class: ClassPick::Top,
        layer: None,
        max_channels,
    };
    let mut group = c.benchmark_group("efficientnet_lite0 evidence");
    group.sample_size(10);
    for (name, method, channels) in [
        ("exact CAM, beyond the forward pass", MethodChoice::Cam, 0),
        ("Score-CAM, 64 channels", MethodChoice::ScoreCam, 64),
        ("Eigen-CAM", MethodChoice::EigenCam, 0),
    ] {
        let request = request(method, channels);
        group.bench_function(name, |b| {
            b.iter(|| {
                explainer
                    .explain(&mut analyzer, &acts, &request, &mut |_, _| {})
                    .expect("evidence")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, compare, evidence);
criterion_main!(benches);
