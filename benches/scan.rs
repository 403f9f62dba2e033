//! `featscope scan` throughput on a folder of 500 photos made from the bundled ones (crops and
//! mirrors, 120–220 px), EfficientNet-Lite0, every feature map, the engine `--backend auto`
//! picks. Four figures: decoding alone (the scan's decoder: decode and prepare, rayon over a
//! batch), inference alone (the engine on already prepared inputs, the same outputs requested),
//! the whole scan (decoding overlapped with inference, reduction, a checkpoint per batch,
//! scan.json), and merging 8 shard results.
//!
//! `cargo bench --bench scan`

use criterion::{criterion_group, criterion_main, Criterion};
use featscope::engine::open_engine;
use featscope::model::Model;
use featscope::pipeline::{Analyzer, RunConfig, Selection};
use featscope::preprocess;
use featscope::scan::{self, ScanJob};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[path = "../tests/common/fixtures.rs"]
mod fixtures;

const IMAGES: usize = 500;

fn models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models")
}

fn throughput(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    fixtures::image_folder(&data, IMAGES);
    let files = scan::list_images(&data).expect("list");
    let paths: Vec<PathBuf> = files.iter().map(|f| data.join(f)).collect();
    let model_path = models().join("efficientnet_lite0.onnx");
    let config = RunConfig::default();
    let model = Model::open(&model_path).expect("model");
    let analyzer = Analyzer::open(model.clone(), &config, &Selection::All).expect("engine");
    eprintln!("scan bench: {}, {IMAGES} images", analyzer.engine_label());
    let prepared: Vec<_> = paths
        .iter()
        .map(|p| {
            let img = preprocess::load_image(p).expect("image");
            preprocess::prepare(&img, p, &analyzer.geometry, &analyzer.preprocess)
                .expect("prepare")
                .tensor
        })
        .collect();

    // A scan as `featscope scan MODEL DATA` runs it (montages apart, which are for reports).
    let every_layer = ScanJob {
        model: model_path.clone(),
        data: data.clone(),
        out: dir.path().join("scan"),
        layers: Vec::new(),
        batch: 32,
        top: 9,
        shard: None,
        resume: false,
        strict: false,
        montages: false,
        run: config.clone(),
    };
    let mut group = c.benchmark_group("efficientnet_lite0 scan, 500 images");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(30));
    let preparer = analyzer.preparer();
    group.bench_function("decoding alone (decode and prepare)", |b| {
        b.iter(|| {
            for chunk in paths.chunks(32) {
                let decoded: Vec<_> = chunk
                    .par_iter()
                    .map(|p| {
                        let img = preprocess::load_image(p).expect("image");
                        preparer.prepare(&img, p).expect("prepare")
                    })
                    .collect();
                std::hint::black_box(decoded);
            }
        })
    });
    // Every feature map (13.1 M values, 42,512 channels an image), and the 16 block outputs.
    let every: Vec<String> = model
        .sites
        .iter()
        .filter(|s| s.may_be_feature_map())
        .map(|s| s.tensor.clone())
        .collect();
    let blocks: Vec<String> = model
        .sites
        .iter()
        .filter(|s| s.display.as_str().ends_with("_project_conv/Conv"))
        .map(|s| s.tensor.clone())
        .collect();
    for (name, tensors, patterns) in [
        ("every feature map", every, Vec::new()),
        (
            "16 block outputs",
            blocks,
            vec!["*_project_conv/Conv".to_string()],
        ),
    ] {
        group.bench_function(format!("{name}: inference alone (same outputs)"), |b| {
            let (mut engine, _) = open_engine(&model, &tensors, &config.engine).expect("engine");
            b.iter(|| {
                for input in &prepared {
                    std::hint::black_box(engine.run(input).expect("run"));
                }
            })
        });
        let job = ScanJob {
            layers: patterns,
            ..every_layer.clone()
        };
        group.bench_function(
            format!("{name}: scan (decode, run, reduce, checkpoint, write)"),
            |b| b.iter(|| scan::run(&job, &featscope::report::Silent).expect("scan")),
        );
    }
    group.finish();

    // Eight shards of the same folder, every feature map, merged.
    let job = every_layer;
    let shards: Vec<PathBuf> = (1..=8)
        .map(|i| {
            let out = dir.path().join(format!("shard-{i}"));
            let shard = ScanJob {
                shard: Some((i, 8)),
                out: out.clone(),
                ..job.clone()
            };
            scan::run(&shard, &featscope::report::Silent).expect("shard");
            out
        })
        .collect();
    let mut group = c.benchmark_group("efficientnet_lite0 scan merge");
    group.sample_size(10);
    let merge = scan::MergeJob {
        dirs: shards,
        out: dir.path().join("merged"),
        montages: None,
    };
    group.bench_function("merge 8 shards, every feature map", |b| {
        b.iter(|| scan::merge(&merge, &featscope::report::Silent).expect("merge"))
    });
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
