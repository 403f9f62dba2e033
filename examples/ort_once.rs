//! Baseline for the peak-memory figure in README: a plain ONNX Runtime session that runs a
//! model once with the same extra outputs featscope asks for, and nothing else.
//!
//! `/usr/bin/time -v target/release/examples/ort_once models/light_vgg19.onnx`

use featscope::model::Model;
use ort::session::Session;
use ort::value::TensorRef;

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "models/light_vgg19.onnx".into());
    let model = Model::open(std::path::Path::new(&path))?;
    let outputs: Vec<String> = model.sites.iter().map(|s| s.tensor.clone()).collect();
    let bytes = model.with_outputs(&outputs);
    featscope::engine::ort_lib::init(None)?;
    let env = featscope::engine::ort_lib::environment().expect("initialised");
    let mut session = Session::builder(env)?.commit_from_memory(&bytes)?;
    let input = vec![0.5f32; 3 * 224 * 224];
    let tensor = TensorRef::from_array_view((vec![1usize, 3, 224, 224], input.as_slice()))?;
    let name = model.inputs[0].name.clone();
    let results = session.run(ort::inputs![name.as_str() => tensor])?;
    println!("{} outputs", results.len());
    Ok(())
}
