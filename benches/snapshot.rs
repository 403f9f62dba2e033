//! The speed claims in README: on light_vgg19 at 224×224 (37 feature maps, 119 MiB),
//! rendering every feature map to grid + sum PNGs costs less than one ONNX Runtime run, and
//! a whole `snapshot --all` stays within 1.3× of building the session plus one run.
//!
//! `cargo bench --bench snapshot`. Uses ONNX Runtime when found (as `--backend auto`), else tract.

use criterion::{criterion_group, criterion_main, Criterion};
use featscope::engine::{open_engine, Backend, EngineOptions};
use featscope::model::Model;
use featscope::pipeline::{Analyzer, RunConfig, Selection};
use featscope::preprocess;
use featscope::snapshot::{write_snapshot, SnapshotOptions};
use std::path::{Path, PathBuf};

fn models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models")
}

fn options() -> SnapshotOptions {
    SnapshotOptions::default()
}

fn bench_model(c: &mut Criterion, file: &str, group_name: &str) {
    let model_path = models().join(file);
    let image = models().join("chelsea.png");
    let config = RunConfig::default();
    let model = Model::open(&model_path).expect("model");
    let all: Vec<String> = model.sites.iter().map(|s| s.tensor.clone()).collect();
    let mut analyzer = Analyzer::open(model.clone(), &config, &Selection::All).expect("engine");
    eprintln!("{group_name}: {}", analyzer.engine_label());
    let backend = if analyzer.engine_label().starts_with("onnxruntime") {
        Backend::Ort
    } else {
        Backend::Tract
    };
    let engine_options = EngineOptions {
        backend,
        ..Default::default()
    };
    let acts = analyzer.compute(&image).expect("inference");
    let img = preprocess::load_image(&image).expect("image");
    let prepared =
        preprocess::prepare(&img, &image, &analyzer.geometry, &analyzer.preprocess).expect("prep");
    let out = tempfile::tempdir().expect("tempdir");

    let mut group = c.benchmark_group(group_name);
    group.sample_size(10);
    group.bench_function("inference: one run", |b| {
        let (mut engine, _) = open_engine(&model, &all, &engine_options).expect("engine");
        b.iter(|| engine.run(&prepared.tensor).expect("run"))
    });
    group.bench_function("render: every feature map to grid+sum PNGs", |b| {
        b.iter(|| {
            write_snapshot(&acts, &model, &image, None, out.path(), &options()).expect("write")
        })
    });
    group.bench_function("baseline: session build + one run", |b| {
        b.iter(|| {
            let model = Model::open(&model_path).expect("model");
            let (mut engine, _) = open_engine(&model, &all, &engine_options).expect("engine");
            engine.run(&prepared.tensor).expect("run")
        })
    });
    group.bench_function("snapshot --all: open, run, render, write", |b| {
        b.iter(|| {
            let model = Model::open(&model_path).expect("model");
            let mut analyzer = Analyzer::open(model, &config, &Selection::All).expect("engine");
            let acts = analyzer.compute(&image).expect("inference");
            write_snapshot(&acts, &analyzer.model, &image, None, out.path(), &options())
                .expect("write")
        })
    });
    group.finish();
}

fn vgg(c: &mut Criterion) {
    bench_model(c, "light_vgg19.onnx", "light_vgg19");
}

fn efficientnet(c: &mut Criterion) {
    bench_model(c, "efficientnet_lite0.onnx", "efficientnet_lite0");
}

criterion_group!(benches, vgg, efficientnet);
criterion_main!(benches);
