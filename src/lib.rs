//! featscope: run an ONNX CNN on an image and look at every layer's feature maps.
//!
//! Data flows one way: `model + image → engine → activations → render → tui | snapshot`.

pub mod activations;
pub mod cli;
pub mod compare;
pub mod defaults;
pub mod engine;
pub mod error;
pub mod explain;
pub mod files;
pub mod memory;
pub mod model;
pub mod outdir;
pub mod pipeline;
pub mod precision;
pub mod preprocess;
pub mod record;
pub mod render;
pub mod report;
pub mod scan;
pub mod snapshot;
pub mod term;
pub mod text;
pub mod tui;

pub use error::is_usage_error;
