//! Mutated models against the ONNX reader and layer discovery (in process), and against the
//! whole binary on both sides of the engine (a few, with a watchdog). Deterministic: a seeded
//! generator, so a failure repeats. `FEATSCOPE_FUZZ_CASES=N` runs longer (CI's default is a few
//! thousand reader cases, a second or two). A case that ever failed is kept as a file in
//! `tests/fuzz-regressions/` and replayed first.

mod common;

use featscope::model::Model;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn cases(default: usize) -> usize {
    std::env::var("FEATSCOPE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn seeds() -> Vec<(String, Vec<u8>)> {
    ["seed_cnn.onnx", "mnist-8.onnx"]
        .iter()
        .map(|name| {
            let bytes = std::fs::read(common::model(name)).expect("a bundled model");
            (name.to_string(), bytes)
        })
        .collect()
}

/// One mutation of `bytes`: flipped bits, a cut, a repeated or dropped span, or random bytes
/// spliced in (protobuf tags and lengths among them).
fn mutate(bytes: &[u8], rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let n = out.len().max(1);
    match rng.random_range(0..6) {
        0 => {
            for _ in 0..rng.random_range(1..8) {
                let i = rng.random_range(0..n);
                out[i] ^= 1 << rng.random_range(0..8);
            }
        }
        1 => out.truncate(rng.random_range(0..n)),
        2 => {
            let a = rng.random_range(0..n);
            let b = (a + rng.random_range(1..256)).min(n);
            let span = out[a..b].to_vec();
            let at = rng.random_range(0..n);
            out.splice(at..at, span);
        }
        3 => {
            let a = rng.random_range(0..n);
            let b = (a + rng.random_range(1..64)).min(n);
            out.drain(a..b);
        }
        4 => {
            let at = rng.random_range(0..n);
            let junk: Vec<u8> = (0..rng.random_range(1..16)).map(|_| rng.random()).collect();
            out.splice(at..at, junk);
        }
        _ => {
            // A large varint where a small one was: dims, lengths, attribute values.
            let i = rng.random_range(0..n);
            let big = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
            out.splice(i..(i + 1).min(n), big);
        }
    }
    out
}

fn regressions() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files
}

/// One structural mutation: an attribute, a dimension or an op set to a value a malicious or
/// broken export could hold. (The prost subset drops fields it does not know, which only adds
/// to the variety.)
fn mutate_structure(bytes: &[u8], rng: &mut ChaCha8Rng) -> Vec<u8> {
    use featscope::model::proto::ModelProto;
    use prost::Message;
    const NASTY: [i64; 10] = [
        0,
        -1,
        -7,
        1,
        2,
        65_537,
        1 << 31,
        1 << 40,
        i64::MAX,
        i64::MIN,
    ];
    let Ok(mut model) = ModelProto::decode(bytes) else {
        return bytes.to_vec();
    };
    let Some(graph) = model.graph.as_mut() else {
        return bytes.to_vec();
    };
    let pick = |rng: &mut ChaCha8Rng, n: usize| rng.random_range(0..n.max(1));
    match rng.random_range(0..5) {
        0 => {
            let node = pick(rng, graph.node.len());
            if let Some(node) = graph.node.get_mut(node) {
                let a = pick(rng, node.attribute.len());
                if let Some(attr) = node.attribute.get_mut(a) {
                    match rng.random_range(0..3) {
                        0 if !attr.ints.is_empty() => {
                            let i = pick(rng, attr.ints.len());
                            attr.ints[i] = NASTY[pick(rng, NASTY.len())];
                        }
                        1 => attr.ints.truncate(pick(rng, attr.ints.len() + 1)),
                        _ => attr.i = NASTY[pick(rng, NASTY.len())],
                    }
                }
            }
        }
        1 => {
            let dims = graph
                .input
                .iter_mut()
                .chain(graph.output.iter_mut())
                .chain(graph.value_info.iter_mut())
                .filter_map(|v| v.r#type.as_mut()?.tensor_type.as_mut()?.shape.as_mut())
                .flat_map(|s| s.dim.iter_mut())
                .collect::<Vec<_>>();
            let n = dims.len();
            if let Some(d) = dims.into_iter().nth(pick(rng, n)) {
                d.dim_value = Some(NASTY[pick(rng, NASTY.len())]);
                d.dim_param = None;
            }
        }
        2 => {
            let t = pick(rng, graph.initializer.len());
            if let Some(t) = graph.initializer.get_mut(t) {
                if rng.random_bool(0.5) && !t.dims.is_empty() {
                    let i = pick(rng, t.dims.len());
                    t.dims[i] = NASTY[pick(rng, NASTY.len())];
                } else {
                    t.data_type = rng.random_range(0..18);
                }
            }
        }
        3 => {
            const OPS: [&str; 8] = [
                "Conv", "MaxPool", "Relu", "Reshape", "Gemm", "Add", "Tile", "Resize",
            ];
            let node = pick(rng, graph.node.len());
            if let Some(node) = graph.node.get_mut(node) {
                node.op_type = OPS[pick(rng, OPS.len())].to_string();
            }
        }
        _ => {
            let o = pick(rng, graph.output.len());
            if let Some(o) = graph.output.get_mut(o) {
                o.name = format!("nothing_{}", rng.random::<u16>());
            }
        }
    }
    model.encode_to_vec()
}

/// Opening never panics: every mutated model is a model or an error.
#[test]
fn the_reader_and_layer_discovery_never_panic() {
    let check = |label: &str, bytes: Vec<u8>| {
        let path = Path::new("fuzzed.onnx");
        let result = std::panic::catch_unwind(|| {
            if let Ok(model) = Model::from_bytes(path, bytes::Bytes::from(bytes)) {
                // What the view and `layers` do with a model that opened.
                let _ = featscope::preprocess::input_geometry(&model);
                let _ = model.with_outputs(
                    &model
                        .sites
                        .iter()
                        .map(|s| s.tensor.clone())
                        .collect::<Vec<_>>(),
                );
            }
        });
        assert!(result.is_ok(), "{label}: the reader panicked");
    };
    for file in regressions() {
        check(
            &file.display().to_string(),
            std::fs::read(&file).expect("regression"),
        );
    }
    let mut rng = ChaCha8Rng::seed_from_u64(20261128);
    let seeds = seeds();
    for case in 0..cases(3000) {
        let (name, bytes) = &seeds[case % seeds.len()];
        let mutated = mutate(bytes, &mut rng);
        check(&format!("{name} case {case}"), mutated);
    }
}

/// The binary on mutated models that still open: one line and exit 1 (or success), never a
/// panic, an abort or a hang, on tract.
#[test]
fn the_binary_answers_mutated_models_in_one_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let seeds = seeds();
    let image = common::model("digit7.png");
    let mut tried = 0;
    let mut inputs: Vec<(String, Vec<u8>)> = regressions()
        .into_iter()
        .map(|f| {
            (
                f.display().to_string(),
                std::fs::read(&f).expect("regression"),
            )
        })
        .collect();
    let wanted = cases(40) / 10 + inputs.len();
    while inputs.len() < wanted && tried < 100_000 {
        let (name, bytes) = &seeds[tried % seeds.len()];
        // Half byte-level, half structural: attributes, dims and ops reach the engines.
        let mutated = if tried % 2 == 0 {
            mutate(bytes, &mut rng)
        } else {
            mutate_structure(bytes, &mut rng)
        };
        // Only models that open reach the engine; those are the interesting ones here.
        if Model::from_bytes(Path::new("m.onnx"), bytes::Bytes::from(mutated.clone())).is_ok() {
            inputs.push((format!("{name} mutation {tried}"), mutated));
        }
        tried += 1;
    }
    let mut statuses = std::collections::BTreeMap::new();
    for (label, bytes) in inputs {
        let model = dir.path().join("m.onnx");
        std::fs::write(&model, &bytes).expect("write");
        let mut child = Command::new(env!("CARGO_BIN_EXE_featscope"))
            .args([
                "snapshot",
                "--backend",
                "tract",
                "--max-memory",
                "2G",
                "--out",
            ])
            .arg(dir.path().join("out"))
            .arg(&model)
            .arg(&image)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("featscope runs");
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait") {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let kept = dir.path().join("hang.onnx");
                let _ = std::fs::copy(&model, &kept);
                panic!("{label}: featscope hung (model kept at {})", kept.display());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            use std::io::Read;
            let _ = e.read_to_string(&mut err);
        }
        let ok = status.code() == Some(0)
            || (status.code() == Some(1) && err.lines().count() == 1 && !err.contains("panicked"));
        *statuses.entry(status.code()).or_insert(0) += 1;
        if !ok {
            let kept =
                std::env::temp_dir().join(format!("featscope-fuzz-{}.onnx", std::process::id()));
            let _ = std::fs::copy(&model, &kept);
            panic!(
                "{label}: status {status:?}, stderr:\n{err}\n(model kept at {})",
                kept.display()
            );
        }
    }
    eprintln!("exit statuses over the mutated models: {statuses:?}");
}
