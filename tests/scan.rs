//! `featscope scan` on a folder generated from the bundled photos: the figures against the
//! activations computed one image at a time, shards merged byte for byte into the single scan,
//! a killed scan resumed to the same bytes, bad images skipped, montages drawn.

mod common;

#[path = "common/fixtures.rs"]
mod fixtures;

use common::*;
use featscope::engine::Backend;
use featscope::model::Model;
use featscope::pipeline::{Analyzer, Selection};
use featscope::scan::ScanResult;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn ok(o: &Output) {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// `featscope scan MODEL DATA --backend B --out OUT` and `more`, which must succeed.
fn scan_ok(model: &Path, data: &Path, backend: &str, out: &Path, more: &[&str]) -> Output {
    let mut args = vec![
        "scan",
        s(model),
        s(data),
        "--backend",
        backend,
        "--out",
        s(out),
    ];
    args.extend(more);
    let r = featscope(&args);
    ok(&r);
    r
}

fn backends(test: &str) -> Vec<&'static str> {
    let mut b = vec!["tract"];
    if ort_available(test) {
        b.push("ort");
    }
    b
}

#[test]
fn scan_figures_are_the_per_image_activations_reduced() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fixtures::image_folder(&data, 6);
    let model_path = model("efficientnet_lite0.onnx");
    let out = dir.path().join("scan");
    let layer = "/_blocks.0/_swish/Clip";
    let r = featscope(&[
        "scan",
        s(&model_path),
        s(&data),
        "--layer",
        layer,
        "--top",
        "3",
        "--backend",
        "tract",
        "--out",
        s(&out),
    ]);
    ok(&r);
    let result = ScanResult::read(&out).unwrap();
    assert_eq!((result.scanned, result.files.len()), (6, 6));
    let scanned = &result.layers[0];
    assert_eq!(scanned.name, layer);
    assert_eq!((scanned.height, scanned.width), (Some(112), Some(112)));

    // The same images, one at a time, in process.
    let model = Model::open(&model_path).unwrap();
    let tensor = model
        .sites
        .iter()
        .find(|s| s.display.as_str() == layer)
        .unwrap()
        .tensor
        .clone();
    let mut analyzer = Analyzer::open(
        model,
        &config(Backend::Tract),
        &Selection::Tensors(vec![tensor.clone()]),
    )
    .unwrap();
    let channels = scanned.stats.channels;
    let mut means = vec![0f64; channels];
    let mut maxima = vec![f32::NEG_INFINITY; channels];
    let mut best: Vec<Vec<(f32, u32)>> = vec![Vec::new(); channels];
    for (i, rel) in result.files.iter().enumerate() {
        let acts = analyzer.compute(&data.join(rel)).unwrap();
        let fm = acts
            .layers
            .iter()
            .find(|l| l.tensor == tensor)
            .unwrap()
            .feature_maps()
            .unwrap()
            .clone();
        for c in 0..channels {
            let v = fm.channel(c);
            let m = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
            let top = v.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            means[c] += m / 6.0;
            maxima[c] = maxima[c].max(top);
            best[c].push((top, i as u32));
        }
    }
    for c in 0..channels {
        assert!(
            (scanned.mean[c] - means[c]).abs() <= 1e-6 * (1.0 + means[c].abs()),
            "mean {c}"
        );
        assert_eq!(scanned.max[c], maxima[c], "max {c}");
        best[c].sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let hits: Vec<(f32, u32)> = scanned.stats.top_by_max[c]
            .iter()
            .map(|h| (h.score, h.image))
            .collect();
        assert_eq!(hits, best[c][..3].to_vec(), "top images of channel {c}");
    }
    // Montages: 3 crops of 64 px in the recipe's grid (2 × 2), one per channel.
    let montage = out
        .join("montages")
        .join("blocks.0__swish_Clip")
        .join("c0.png");
    let img = image::open(&montage).expect("montage").to_rgb8();
    assert_eq!(img.dimensions(), (130, 130));
    assert_eq!(
        std::fs::read_dir(montage.parent().unwrap())
            .unwrap()
            .count(),
        channels
    );
    let log = std::fs::read_to_string(out.join("scan.log")).unwrap();
    assert!(log.contains("images/s") && log.contains("host:"), "{log}");
    let json = std::fs::read_to_string(out.join("scan.json")).unwrap();
    assert!(
        !json.contains("host") && !json.contains("seconds"),
        "no machine or time in results"
    );
}

#[test]
fn shards_merge_into_the_bytes_of_a_single_scan_on_both_engines() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fixtures::image_folder(&data, 10);
    let model_path = model("efficientnet_lite0.onnx");
    for backend in backends("shards_merge_into_the_bytes_of_a_single_scan_on_both_engines") {
        let root = dir.path().join(backend);
        let whole = root.join("whole");
        scan_ok(&model_path, &data, backend, &whole, &["--batch", "4"]);
        let mut shards = Vec::new();
        for i in 1..=3 {
            let shard = root.join(format!("shard-{i}"));
            ok(&featscope(&[
                "scan",
                s(&model_path),
                s(&data),
                "--backend",
                backend,
                "--shard",
                &format!("{i}/3"),
                "--out",
                s(&shard),
            ]));
            let part = ScanResult::read(&shard).unwrap();
            assert_eq!(part.scanned, [4, 3, 3][i - 1]);
            shards.push(shard);
        }
        let merged = root.join("merged");
        let mut args = vec!["scan", "merge"];
        args.extend(shards.iter().rev().map(|p| s(p)));
        args.extend(["--out", s(&merged)]);
        ok(&featscope(&args));
        let a = std::fs::read(whole.join("scan.json")).unwrap();
        let b = std::fs::read(merged.join("scan.json")).unwrap();
        assert!(
            a == b,
            "{backend}: the merged shards differ from the single scan"
        );
        let result = ScanResult::read(&whole).unwrap();
        assert_eq!(
            result.layers.len(),
            92,
            "every feature map of EfficientNet-Lite0"
        );

        let twice = featscope(&[
            "scan",
            "merge",
            s(&shards[0]),
            s(&shards[0]),
            "--out",
            s(&merged),
        ]);
        assert_eq!(twice.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&twice.stderr).contains("given twice"));
    }
}

#[test]
fn engines_side_by_side_give_the_bytes_of_one_engine() {
    // With two cores or more, a model whose batch axis is fixed runs on two engines at once,
    // images taking turns; `--threads` (as many as each of them has) asks for one engine.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let each = (cores / 2).max(1).to_string();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fixtures::image_folder(&data, 9);
    let model_path = model("efficientnet_lite0.onnx");
    for backend in backends("engines_side_by_side_give_the_bytes_of_one_engine") {
        let scan = |name: &str, threads: Option<&str>| {
            let out = dir.path().join(backend).join(name);
            let mut more = vec!["--batch", "4"];
            if let Some(t) = threads {
                more.extend(["--threads", t]);
            }
            scan_ok(&model_path, &data, backend, &out, &more);
            let log = std::fs::read_to_string(out.join("scan.log")).unwrap();
            (std::fs::read(out.join("scan.json")).unwrap(), log)
        };
        let (side_by_side, log) = scan("two", None);
        assert_eq!(
            log.contains("2 engines side by side"),
            cores >= 2,
            "{backend}: {log}"
        );
        let (one, log) = scan("one", Some(&each));
        assert!(!log.contains("side by side"), "{backend}: {log}");
        assert!(
            side_by_side == one,
            "{backend}: two engines gave other figures than one"
        );
    }
}

#[test]
fn a_killed_scan_resumes_to_the_same_result() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fixtures::image_folder(&data, 40);
    let model_path = model("efficientnet_lite0.onnx");
    let straight = dir.path().join("straight");
    let layer_args = ["--layer", "/_blocks.2/Add", "--layer", "/_swish_1/Clip"];
    let mut args = vec![
        "scan",
        s(&model_path),
        s(&data),
        "--backend",
        "tract",
        "--batch",
        "2",
    ];
    args.extend(layer_args);
    let mut first = args.clone();
    first.extend(["--out", s(&straight)]);
    ok(&featscope(&first));

    let killed = dir.path().join("killed");
    let mut cmd = args.clone();
    cmd.extend(["--out", s(&killed)]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_featscope"))
        .args(&cmd)
        .env_remove("ORT_DYLIB_PATH")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let checkpoint = killed.join("scan.partial");
    while !checkpoint.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    let _ = child.wait();
    assert!(checkpoint.exists(), "a checkpoint before the kill");
    assert!(
        !killed.join("scan.json").exists(),
        "a killed scan leaves no result to be taken for whole"
    );

    let mut resume = cmd.clone();
    resume.push("--resume");
    let r = featscope(&resume);
    ok(&r);
    let said = String::from_utf8_lossy(&r.stderr);
    assert!(said.contains("resuming at image"), "{said}");
    assert!(!said.contains("resuming at image 0 "), "{said}");
    assert_eq!(
        std::fs::read(straight.join("scan.json")).unwrap(),
        std::fs::read(killed.join("scan.json")).unwrap()
    );
    assert!(
        !checkpoint.exists(),
        "the checkpoint goes once the scan is whole"
    );
}

#[test]
fn bad_images_are_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fixtures::image_folder(&data, 3);
    std::fs::write(data.join("broken.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let model_path = model("efficientnet_lite0.onnx");
    let out = dir.path().join("out");
    let base = [
        "scan",
        s(&model_path),
        s(&data),
        "--layer",
        "0",
        "--backend",
        "tract",
        "--out",
        s(&out),
    ];
    let r = featscope(&base);
    ok(&r);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("skipped") && err.contains("broken.png"),
        "{err}"
    );
    let result = ScanResult::read(&out).unwrap();
    assert_eq!((result.scanned, result.skipped.len()), (3, 1));
    assert_eq!(result.files[result.skipped[0].image as usize], "broken.png");
    let mut strict = base.to_vec();
    strict.push("--strict");
    assert_eq!(featscope(&strict).status.code(), Some(1));

    let only_bad = dir.path().join("bad");
    std::fs::create_dir_all(&only_bad).unwrap();
    std::fs::write(only_bad.join("x.jpg"), b"nope").unwrap();
    let r = featscope(&[
        "scan",
        s(&model_path),
        s(&only_bad),
        "--backend",
        "tract",
        "--out",
        s(&out),
    ]);
    assert_eq!(r.status.code(), Some(1), "nothing scanned");
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let r = featscope(&["scan", s(&model_path), s(&empty), "--out", s(&out)]);
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("holds no images"));
    let r = featscope(&["scan", s(&model_path), s(&data), "--shard", "4/3"]);
    assert_eq!(r.status.code(), Some(2));
}

/// conv (3→8, 3×3, stride 2) → relu on 32×32 inputs, with the batch axis fixed at 1 or free.
fn small_cnn(path: &Path, batch: featscope::model::builder::Dim) {
    use featscope::model::builder::{attr_ints, tensor_f32, Dim, GraphBuilder};
    use featscope::model::proto::data_type::FLOAT;
    let w: Vec<f32> = (0..8 * 3 * 9)
        .map(|i| ((i * 7 % 13) as f32 - 6.0) / 10.0)
        .collect();
    let mut input = vec![batch.clone()];
    input.extend([3, 32, 32].map(Dim::Fixed));
    let mut g = GraphBuilder::new("small", 13);
    g.input("x", FLOAT, &input)
        .initializer(tensor_f32("w", &[8, 3, 3, 3], &w))
        .node(
            "Conv",
            "conv",
            &["x", "w"],
            &["conv"],
            vec![
                attr_ints("kernel_shape", &[3, 3]),
                attr_ints("strides", &[2, 2]),
                attr_ints("pads", &[1, 1, 1, 1]),
            ],
        )
        .node("Relu", "relu", &["conv"], &["relu"], vec![])
        .output(
            "relu",
            FLOAT,
            &[batch, Dim::Fixed(8), Dim::Fixed(16), Dim::Fixed(16)],
        );
    std::fs::write(path, g.finish_bytes("featscope-test")).expect("write the model");
}

#[test]
fn a_free_batch_axis_runs_images_together_with_the_same_figures() {
    use featscope::model::builder::Dim;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fixtures::image_folder(&data, 9);
    let (fixed, free) = (dir.path().join("fixed.onnx"), dir.path().join("free.onnx"));
    small_cnn(&fixed, Dim::Fixed(1));
    small_cnn(&free, Dim::Symbolic("N".into()));
    for backend in backends("a_free_batch_axis_runs_images_together_with_the_same_figures") {
        let mut results = Vec::new();
        for m in [&fixed, &free] {
            let out = dir.path().join(format!(
                "{backend}-{}",
                m.file_stem().unwrap().to_string_lossy()
            ));
            ok(&featscope(&[
                "scan",
                s(m),
                s(&data),
                "--batch",
                "4",
                "--backend",
                backend,
                "--out",
                s(&out),
            ]));
            results.push(ScanResult::read(&out).unwrap());
            let log = std::fs::read_to_string(out.join("scan.log")).unwrap();
            let runs = if m == &free {
                "inference runs: 3 "
            } else {
                "inference runs: 9 "
            };
            assert!(log.contains(runs), "{backend}: {log}");
        }
        let (a, b) = (&results[0].layers, &results[1].layers);
        assert_eq!(a.len(), b.len());
        for (la, lb) in a.iter().zip(b) {
            assert_eq!(la.dead_fraction, lb.dead_fraction);
            for c in 0..la.stats.channels {
                assert!((la.mean[c] - lb.mean[c]).abs() <= 1e-5 * (1.0 + la.mean[c].abs()));
                assert!((la.max[c] - lb.max[c]).abs() <= 1e-5 * (1.0 + la.max[c].abs()));
                let images = |l: &featscope::scan::ScanLayer| {
                    l.stats.top_by_max[c]
                        .iter()
                        .map(|h| h.image)
                        .collect::<Vec<_>>()
                };
                assert_eq!(
                    images(la),
                    images(lb),
                    "{backend}: channel {c}'s top images"
                );
            }
        }
    }
}

#[test]
fn hostile_scan_files_are_refused_or_not_resumed_from() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    fixtures::image_folder(&data, 2);
    let model_path = model("efficientnet_lite0.onnx");
    let out = dir.path().join("out");
    ok(&featscope(&[
        "scan",
        s(&model_path),
        s(&data),
        "--layer",
        "0",
        "--backend",
        "tract",
        "--out",
        s(&out),
    ]));
    // A result whose lists are shorter than its channels, and a hit naming no file.
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("scan.json")).expect("read")).expect("json");
    json["layers"][0]["stats"]["max"] = serde_json::json!([1.0]);
    let short = dir.path().join("short");
    std::fs::create_dir_all(&short).expect("dir");
    std::fs::write(short.join("scan.json"), json.to_string()).expect("write");
    let r = featscope(&[
        "scan",
        "merge",
        s(&short),
        "--out",
        s(&dir.path().join("m")),
    ]);
    assert_eq!(r.status.code(), Some(1));
    let err = stderr(&r);
    assert!(
        err.contains("do not match") && err.lines().count() == 1,
        "{err}"
    );

    // A checkpoint that does not add up is not resumed from: the scan starts over, whole.
    // Not one at all; one claiming a fingerprint of 2⁶³ bytes; one cut short.
    let mut cut = b"featscope-scan-checkpoint/1\n".to_vec();
    cut.extend([0xff; 9]);
    cut.push(0x7f);
    for bad in [
        b"{\"fingerprint\": 1}".to_vec(),
        cut,
        b"featscope-scan-checkpoint/1\n\x05fing".to_vec(),
    ] {
        std::fs::write(out.join("scan.partial"), bad).expect("write");
        let r = scan_ok(
            &model_path,
            &data,
            "tract",
            &out,
            &["--layer", "0", "--resume"],
        );
        assert!(
            stderr(&r).contains("no usable checkpoint"),
            "{}",
            stderr(&r)
        );
        assert_eq!(ScanResult::read(&out).expect("result").scanned, 2);
    }
}

#[test]
fn a_huge_declared_input_is_refused_before_the_decoder_makes_it() {
    use featscope::model::builder::{attr_ints, tensor_f32, Dim, GraphBuilder};
    use featscope::model::proto::data_type::FLOAT;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    fixtures::image_folder(&data, 1);
    // 3 × 2147483647 × 224 floats: 6 TiB for the input alone.
    let tall = dir.path().join("tall.onnx");
    let mut g = GraphBuilder::new("tall", 13);
    g.input("x", FLOAT, &[1, 3, 2_147_483_647, 224].map(Dim::Fixed))
        .initializer(tensor_f32("w", &[2, 3, 1, 1], &[0.1; 6]))
        .node(
            "Conv",
            "c",
            &["x", "w"],
            &["y"],
            vec![attr_ints("kernel_shape", &[1, 1])],
        )
        .output("y", FLOAT, &[1, 2, 2_147_483_647, 224].map(Dim::Fixed));
    std::fs::write(&tall, g.finish_bytes("featscope-test")).expect("write the model");
    let r = featscope(&[
        "scan",
        s(&tall),
        s(&data),
        "--backend",
        "tract",
        "--out",
        s(&dir.path().join("out")),
    ]);
    assert_eq!(r.status.code(), Some(1), "{}", stderr(&r));
    let err = stderr(&r);
    assert!(
        err.contains("for its input alone") && err.contains("TiB"),
        "{err}"
    );
}

/// A model every image reaches at one fixed size, whose graph fails when it runs (a Reshape to
/// a volume its input does not have): the engine's failure is the model's, said once.
fn reshape_fails(path: &Path) {
    use featscope::model::builder::{attr_ints, tensor_f32, tensor_i64, Dim, GraphBuilder};
    use featscope::model::proto::data_type::FLOAT;
    let w: Vec<f32> = (0..8 * 3 * 9).map(|i| (i % 5) as f32 / 10.0).collect();
    let mut g = GraphBuilder::new("reshape_fails", 13);
    g.input("x", FLOAT, &[1, 3, 32, 32].map(Dim::Fixed))
        .initializer(tensor_f32("w", &[8, 3, 3, 3], &w))
        .initializer(tensor_i64("shape", &[4], &[1, 8, 10, 10]))
        .node(
            "Conv",
            "conv",
            &["x", "w"],
            &["conv"],
            vec![attr_ints("pads", &[1, 1, 1, 1])],
        )
        .node("Relu", "relu", &["conv"], &["relu"], vec![])
        .node("Reshape", "reshape", &["relu", "shape"], &["y"], vec![])
        .output("y", FLOAT, &[1, 8, 10, 10].map(Dim::Fixed));
    std::fs::write(path, g.finish_bytes("featscope-test")).expect("write the model");
}

#[test]
fn a_model_that_fails_on_every_image_fails_the_scan_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fixtures::image_folder(&data, 6);
    let model_path = dir.path().join("reshape_fails.onnx");
    reshape_fails(&model_path);
    for backend in backends("a_model_that_fails_on_every_image_fails_the_scan_once") {
        let out = dir.path().join(backend);
        let r = featscope(&[
            "scan",
            s(&model_path),
            s(&data),
            "--backend",
            backend,
            "--out",
            s(&out),
        ]);
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(1), "{backend}: {err}");
        let lines: Vec<&str> = err
            .lines()
            .filter(|l| !l.contains("backend auto"))
            .collect();
        assert_eq!(
            lines.len(),
            1,
            "{backend}: one line, not one per image: {err}"
        );
        assert!(
            lines[0].starts_with("featscope: error: ") && lines[0].contains("reshape_fails.onnx"),
            "{backend}: {err}"
        );
        assert!(!out.join("scan.json").exists(), "{backend}: no result");
    }
}

#[test]
fn merged_shards_draw_the_montages_of_a_single_scan() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fixtures::image_folder(&data, 7);
    let model_path = model("efficientnet_lite0.onnx");
    let layers = ["--layer", "3", "--layer", "4", "--top", "3"];
    let whole = dir.path().join("whole");
    scan_ok(&model_path, &data, "tract", &whole, &layers);
    let mut shards = Vec::new();
    for i in 1..=2 {
        let shard = dir.path().join(format!("shard-{i}"));
        let mut more = layers.to_vec();
        let part = format!("{i}/2");
        more.extend(["--shard", &part]);
        scan_ok(&model_path, &data, "tract", &shard, &more);
        shards.push(shard);
    }
    let montages = |dir: &Path| -> Vec<(String, Vec<u8>)> {
        let mut found = Vec::new();
        let root = dir.join("montages");
        for layer in std::fs::read_dir(&root).expect("montages/").flatten() {
            for file in std::fs::read_dir(layer.path()).unwrap().flatten() {
                let rel = file
                    .path()
                    .strip_prefix(&root)
                    .unwrap()
                    .display()
                    .to_string();
                found.push((rel, std::fs::read(file.path()).unwrap()));
            }
        }
        found.sort();
        found
    };
    let single = montages(&whole);
    assert_eq!(
        single.len(),
        32 + 16,
        "a montage per channel of layers 3 and 4"
    );

    // Without the model and the images: scan.json alone, and a note saying how.
    let bare = dir.path().join("bare");
    let mut args = vec![
        "scan",
        "merge",
        s(&shards[0]),
        s(&shards[1]),
        "--out",
        s(&bare),
    ];
    let r = featscope(&args);
    ok(&r);
    assert!(!bare.join("montages").exists());
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("give --model and --data"),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );

    let merged = dir.path().join("merged");
    args = vec![
        "scan",
        "merge",
        s(&shards[1]),
        s(&shards[0]),
        "--out",
        s(&merged),
    ];
    args.extend([
        "--model",
        s(&model_path),
        "--data",
        s(&data),
        "--backend",
        "tract",
    ]);
    ok(&featscope(&args));
    assert_eq!(
        std::fs::read(whole.join("scan.json")).unwrap(),
        std::fs::read(merged.join("scan.json")).unwrap()
    );
    let drawn = montages(&merged);
    assert_eq!(
        drawn.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        single.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        "the same montage files"
    );
    for ((name, a), (_, b)) in single.iter().zip(&drawn) {
        assert!(
            a == b,
            "{name}: the merged montage differs from the single scan's"
        );
    }

    // The data folder must be the one the shards scanned.
    let other = dir.path().join("other");
    fixtures::image_folder(&other, 3);
    let r = featscope(&[
        "scan",
        "merge",
        s(&shards[0]),
        s(&shards[1]),
        "--out",
        s(&merged),
        "--model",
        s(&model_path),
        "--data",
        s(&other),
    ]);
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("other images"));
    // --model without --data is a usage error.
    let r = featscope(&["scan", "merge", s(&shards[0]), "--model", s(&model_path)]);
    assert_eq!(r.status.code(), Some(2));
}
