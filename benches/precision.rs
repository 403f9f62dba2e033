//! Deployed models against the fp32 one (README, "Deployed models"): on EfficientNet-Lite0, a
//! snapshot of every layer of its int8 (QDQ, QOperator) and float16 versions against the fp32
//! model's on the same engine, and `compare` of fp32 against int8 over every layer against one
//! fp32 snapshot. ONNX Runtime when it is found, and tract.
//!
//! `cargo bench --bench precision`

use criterion::{criterion_group, criterion_main, Criterion};
use featscope::compare::{CompareJob, Inputs};
use featscope::engine::{ort_lib, Backend, EngineOptions};
use featscope::model::Model;
use featscope::pipeline::{Analyzer, RunConfig, Selection};
use featscope::render::Colormap;
use featscope::snapshot::{write_snapshot, SnapshotOptions};
use std::path::{Path, PathBuf};

fn models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models")
}

fn snapshot(model_path: &Path, image: &Path, config: &RunConfig, out: &Path) {
    let model = Model::open(model_path).expect("model");
    let mut analyzer = Analyzer::open(model, config, &Selection::All).expect("engine");
    let acts = analyzer.compute(image).expect("inference");
    write_snapshot(
        &acts,
        &analyzer.model,
        image,
        None,
        out,
        &SnapshotOptions::default(),
    )
    .expect("write");
}

fn precisions(c: &mut Criterion) {
    let image = models().join("chelsea.png");
    let fp32 = models().join("efficientnet_lite0.onnx");
    let deployed = |f: &str| models().join("deployed").join(f);
    let mut engines = vec![("tract", Backend::Tract)];
    if ort_lib::init(None).is_ok() {
        engines.insert(0, ("onnxruntime", Backend::Ort));
    }
    let out = tempfile::tempdir().expect("tempdir");
    for (name, backend) in engines {
        let config = RunConfig {
            engine: EngineOptions {
                backend,
                ..Default::default()
            },
            ..Default::default()
        };
        let mut group = c.benchmark_group(format!("efficientnet_lite0 precisions, {name}"));
        group.sample_size(10);
        let mut versions = vec![
            ("fp32", fp32.clone()),
            ("int8 QDQ", deployed("efficientnet_lite0_int8_qdq.onnx")),
            (
                "float16 inside",
                deployed("efficientnet_lite0_fp16io32.onnx"),
            ),
        ];
        if backend == Backend::Ort {
            versions.push((
                "int8 QOperator",
                deployed("efficientnet_lite0_int8_qop.onnx"),
            ));
        }
        for (label, path) in versions {
            group.bench_function(format!("snapshot {label}, every layer"), |b| {
                b.iter(|| snapshot(&path, &image, &config, out.path()))
            });
        }
        let job = CompareJob {
            inputs: Inputs::TwoModels {
                a: fp32.clone(),
                b: deployed("efficientnet_lite0_int8_qdq.onnx"),
                image: image.clone(),
            },
            layers: Vec::new(),
            out: out.path().join("compare"),
            threshold: featscope::compare::DEFAULT_THRESHOLD,
            fail_above: None,
            fail_below_sqnr: None,
            colormap: Colormap::Viridis,
            run: config.clone(),
        };
        group.bench_function("compare fp32 with int8 QDQ, every layer", |b| {
            b.iter(|| featscope::compare::run(&job, &featscope::report::Silent).expect("compare"))
        });
        group.finish();
    }
}

criterion_group!(benches, precisions);
criterion_main!(benches);
