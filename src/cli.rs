//! Command-line interface: argument definitions and the non-interactive commands.

use crate::engine::{Backend, Device, EngineOptions};
use crate::explain::run::MethodChoice;
use crate::pipeline::RunConfig;
use crate::preprocess::{PreprocessOptions, Preset, ResizeMode};
use crate::render::{Colormap, Normalization};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// A command-line spelling of a domain enum: the same variants, with clap's derive and help
/// text kept here, and the conversion to the type the rest of featscope uses.
macro_rules! value_enum {
    ($arg:ident => $domain:ident { $($(#[$attr:meta])* $variant:ident),+ $(,)? }) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
        pub enum $arg {
            $($(#[$attr])* $variant),+
        }

        impl From<$arg> for $domain {
            fn from(arg: $arg) -> Self {
                match arg {
                    $($arg::$variant => $domain::$variant),+
                }
            }
        }
    };
}

value_enum!(BackendArg => Backend {
    /// ONNX Runtime when its library is found, else tract.
    Auto,
    /// ONNX Runtime (fast, GPU capable), loaded at run time.
    Ort,
    /// tract, the pure-Rust engine built into featscope.
    Tract,
});

value_enum!(PresetArg => Preset {
    /// 0..255, BGR (as OpenCV reads): the seed CNN's input.
    Raw,
    /// Keras VGG: BGR minus [103.939, 116.779, 123.68].
    Caffe,
    /// PyTorch/torchvision: RGB/255, ImageNet mean/std.
    Torch,
    /// x/127.5 − 1 (Keras MobileNet, Inception).
    Tf,
    /// (x − 127)/128: EfficientNet-Lite.
    Lite,
    /// x/255.
    Unit,
});

value_enum!(CamMethodArg => MethodChoice {
    /// Exact CAM when the model's head allows it, else Score-CAM.
    Auto,
    /// Exact class activation map from the classifier's own weights.
    Cam,
    /// Masks the input with each channel of a layer; forward passes only; any model.
    #[value(name = "score-cam")]
    ScoreCam,
    /// The layer's first principal component; class-agnostic.
    #[value(name = "eigen-cam")]
    EigenCam,
});

value_enum!(ResizeArg => ResizeMode {
    /// Stretch the whole image to the input size.
    Squash,
    /// Scale the shorter side, then cut the centre.
    Crop,
});

value_enum!(ColormapArg => Colormap {
    /// matplotlib's default.
    Viridis,
    Magma,
    Inferno,
    Plasma,
    /// Black (low) to white (high).
    Gray,
    Turbo,
    /// Diverging blue–white–red, for signed values.
    #[value(name = "rdbu")]
    RdBu,
});

value_enum!(NormArg => Normalization {
    /// Each channel scaled to its own min..max (matplotlib imshow's default).
    PerChannel,
    /// One min..max for the whole layer, so channels compare.
    PerLayer,
});

#[derive(Parser, Debug)]
#[command(
    name = "featscope",
    version,
    about = "See what happens inside a CNN: every layer's feature maps, in the terminal or as PNGs",
    long_about = "featscope runs an ONNX CNN on an image and shows every layer's feature maps: each channel \
as a small heat-map in a grid, plus the sum of all channels.\n\nWithout a subcommand it opens the \
interactive view (EfficientNet-Lite0 on chelsea.png when they are in ./models or beside the binary, \
else the seed CNN built into featscope).",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub view: ViewArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Write each layer's channel grid and summed map as PNGs (no terminal needed).
    Snapshot(SnapshotArgs),
    /// Compare two runs layer by layer: one model on two images, or two models on one image.
    Compare(CompareArgs),
    /// What excites each channel across a folder of images: top images, means, dead channels.
    Scan(ScanArgs),
    /// List the layers a model exposes: name, op, shape, kind.
    Layers(LayersArgs),
    /// Say which engine would run, where ONNX Runtime is, and what the terminal supports.
    Doctor(DoctorArgs),
}

/// The interactive view.
#[derive(Args, Debug)]
pub struct ViewArgs {
    /// ONNX model [default: models/efficientnet_lite0.onnx here or beside the binary, else the built-in seed CNN].
    pub model: Option<PathBuf>,
    /// Image [default: chelsea.png, beside the default model].
    pub image: Option<PathBuf>,
    /// How pictures are drawn in the terminal.
    #[arg(long, value_enum, default_value_t = GraphicsArg::Auto)]
    pub graphics: GraphicsArg,
    #[arg(long, value_enum, default_value_t = ColormapArg::Viridis)]
    pub colormap: ColormapArg,
    /// Where `e` exports the current layer's PNGs (the same files as `featscope snapshot`).
    #[arg(long, value_name = "DIR", default_value = "out")]
    pub out: PathBuf,
    /// A `featscope scan` result for this model: dead channels over the data set in the sidebar,
    /// a channel's top images beside it in zoom.
    #[arg(long, value_name = "DIR")]
    pub scan: Option<PathBuf>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphicsArg {
    /// Ask the terminal (bounded time-out); half-blocks when it does not answer.
    Auto,
    Halfblocks,
    Sixel,
    Kitty,
    Iterm2,
}

impl From<GraphicsArg> for crate::term::choice::Request {
    fn from(arg: GraphicsArg) -> Self {
        use crate::term::choice::Request;
        match arg {
            GraphicsArg::Auto => Request::Auto,
            GraphicsArg::Halfblocks => Request::HalfBlocks,
            GraphicsArg::Sixel => Request::Sixel,
            GraphicsArg::Kitty => Request::Kitty,
            GraphicsArg::Iterm2 => Request::Iterm2,
        }
    }
}

#[derive(Args, Debug)]
pub struct SnapshotArgs {
    /// ONNX model.
    pub model: PathBuf,
    /// Images, or folders of images (one sub-folder of --out each when there are several).
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    /// Layers to draw: exact name, tensor name, glob ('pool*') or index; repeatable.
    #[arg(long = "layer", short = 'l', value_name = "PATTERN")]
    pub layers: Vec<String>,
    /// Every feature map (the default when no --layer is given).
    #[arg(long, conflicts_with = "layers")]
    pub all: bool,
    /// Output folder.
    #[arg(long, short = 'o', default_value = "out")]
    pub out: PathBuf,
    /// Also draw the grids and sums in the terminal.
    #[arg(long)]
    pub print: bool,
    /// Also write <layer>_overlay.png: the summed map blended over the input image.
    #[arg(long)]
    pub overlay: bool,
    /// Also write <layer>.npy: the raw activations, channel-first float32.
    #[arg(long)]
    pub npy: bool,
    /// Label every tile feature_map_i.
    #[arg(long)]
    pub tile_labels: bool,
    #[arg(long, value_enum, default_value_t = ColormapArg::Viridis)]
    pub colormap: ColormapArg,
    #[arg(long = "norm", value_enum, default_value_t = NormArg::PerChannel)]
    pub normalization: NormArg,
    /// Pixels per activation value [default: enlarge small maps to at least 32 px].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub scale: Option<u32>,
    /// Also write <layer>_filters.png for convolutions with constant weights: their kernels
    /// (a first layer's as RGB tiles, deeper ones averaged over their inputs, 1×1 as a matrix).
    #[arg(long)]
    pub filters: bool,
    /// Also write montage_<layer>_c<CHANNEL>.png into --out: that channel of each layer on every
    /// image, side by side on one scale (two or more images, or a folder).
    #[arg(long, value_name = "CHANNEL")]
    pub montage: Option<usize>,
    /// Also write cam_<class>.png and cam_<class>_overlay.png (and cam_<class>.npy with --npy):
    /// where the class came from. --cam alone explains the top class; --cam=282 or
    /// --cam="tiger cat" another.
    #[arg(long, value_name = "CLASS", num_args = 0..=1, require_equals = true, default_missing_value = "top")]
    pub cam: Option<String>,
    /// How the evidence map is made [auto: exact CAM when the head is global average pooling
    /// and one linear layer, else Score-CAM].
    #[arg(long, value_enum, default_value_t = CamMethodArg::Auto, requires = "cam")]
    pub cam_method: CamMethodArg,
    /// The feature map Score-CAM and Eigen-CAM read [default: the one the classifier pools,
    /// else the last one larger than 1×1].
    #[arg(long, value_name = "PATTERN", requires = "cam")]
    pub cam_layer: Option<String>,
    /// Score-CAM: at most this many channels (those with the highest mean), one run each.
    #[arg(long, default_value_t = crate::explain::run::DEFAULT_MAX_CHANNELS, value_parser = parse_channel_cap, requires = "cam")]
    pub max_channels: usize,
    /// Exit 1 when a layer holds NaN or ±Inf (the files are still written; the first such
    /// layer is named on stderr either way).
    #[arg(long)]
    pub fail_on_nonfinite: bool,
    #[command(flatten)]
    pub run: RunArgs,
}

impl SnapshotArgs {
    /// The batch these arguments ask for.
    pub fn batch(self) -> crate::snapshot::Batch {
        crate::snapshot::Batch {
            options: crate::snapshot::SnapshotOptions {
                colormap: self.colormap.into(),
                normalization: self.normalization.into(),
                scale: self.scale,
                tile_labels: self.tile_labels,
                overlay: self.overlay,
                npy: self.npy,
                print: self.print,
                filters: self.filters,
                cam: self.evidence_request(),
                montage: self.montage,
                fail_on_nonfinite: self.fail_on_nonfinite,
            },
            run: self.run.config(),
            model: self.model,
            images: self.images,
            layers: self.layers,
            out: self.out,
        }
    }

    /// What `--cam` and its options ask for.
    pub fn evidence_request(&self) -> Option<crate::explain::run::EvidenceRequest> {
        self.cam
            .as_deref()
            .map(|class| crate::explain::run::EvidenceRequest {
                method: self.cam_method.into(),
                class: crate::explain::run::ClassPick::parse(class),
                layer: self.cam_layer.clone(),
                max_channels: self.max_channels,
            })
    }
}

/// `featscope scan MODEL DATA_DIR` or `featscope scan merge SHARD_DIR...`.
#[derive(Args, Debug)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = "Writes DIR/scan.json (per layer and channel: mean, max, the fraction of images \
where it is dead, the top images by maximum and by mean with where it peaked), DIR/scan.log \
(times, host) and, for layers given with --layer, DIR/montages/<layer>/c<channel>.png."
)]
pub struct ScanArgs {
    #[command(subcommand)]
    pub command: Option<ScanCommand>,
    /// ONNX model.
    #[arg(required = true)]
    pub model: Option<PathBuf>,
    /// Folder of images (sub-folders too).
    #[arg(required = true)]
    pub data: Option<PathBuf>,
    /// Output folder.
    #[arg(long, short = 'o', default_value = "scan")]
    pub out: PathBuf,
    /// Layers to scan: exact name, tensor name, glob or index; repeatable [default: every feature
    /// map]. Montages are drawn for these.
    #[arg(long = "layer", short = 'l', value_name = "PATTERN")]
    pub layers: Vec<String>,
    /// Images decoded ahead and reduced per step; a checkpoint is written after each.
    #[arg(long, default_value_t = 32, value_parser = parse_channel_cap)]
    pub batch: usize,
    /// Images kept per channel (by maximum, and by mean).
    #[arg(long, default_value_t = 9, value_parser = parse_channel_cap)]
    pub top: usize,
    /// Scan only the i-th of n interleaved parts of the sorted file list (1-based), e.g. 3/8.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    pub shard: Option<(usize, usize)>,
    /// Continue an interrupted scan into the same --out from its last checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Exit 1 when any image was skipped (by default only when none could be scanned).
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Subcommand, Debug)]
pub enum ScanCommand {
    /// Fold shard results into one, identical to a single scan; with --model and --data, its
    /// montages too.
    #[command(
        after_help = "Writes DIR/scan.json, the bytes a single scan of all shards writes. Montages \
need the images run again: with --model and --data (the model and folder the shards scanned, and \
the same engine and preprocessing options), DIR/montages/<layer>/c<channel>.png for every merged \
layer, the files a single scan with those --layer writes."
    )]
    Merge {
        /// Shard output folders (each with its scan.json).
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        #[arg(long, short = 'o', default_value = "scan")]
        out: PathBuf,
        /// The model the shards scanned, to draw the montages.
        #[arg(long, value_name = "MODEL", requires = "data")]
        model: Option<PathBuf>,
        /// The folder of images the shards scanned, to draw the montages.
        #[arg(long, value_name = "DATA_DIR", requires = "model")]
        data: Option<PathBuf>,
        #[command(flatten)]
        run: RunArgs,
    },
}

impl ScanCommand {
    /// The merge these arguments ask for.
    pub fn merge_job(&self) -> crate::scan::MergeJob {
        let ScanCommand::Merge {
            dirs,
            out,
            model,
            data,
            run,
        } = self;
        crate::scan::MergeJob {
            dirs: dirs.clone(),
            out: out.clone(),
            montages: model.clone().zip(data.clone()).map(|(model, data)| {
                crate::scan::MontageSource {
                    model,
                    data,
                    run: run.config(),
                }
            }),
        }
    }
}

impl ScanArgs {
    /// The scan these arguments ask for (none without a model and a folder).
    pub fn job(&self) -> Option<crate::scan::ScanJob> {
        Some(crate::scan::ScanJob {
            model: self.model.clone()?,
            data: self.data.clone()?,
            out: self.out.clone(),
            layers: self.layers.clone(),
            batch: self.batch,
            top: self.top,
            shard: self.shard,
            resume: self.resume,
            strict: self.strict,
            montages: !self.layers.is_empty(),
            run: self.run.config(),
        })
    }
}

fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let parsed = s
        .split_once('/')
        .and_then(|(i, n)| Some((i.trim().parse().ok()?, n.trim().parse().ok()?)));
    match parsed {
        Some((i, n)) if n >= 1 && (1..=n).contains(&i) => Ok((i, n)),
        _ => Err("expected I/N with 1 ≤ I ≤ N, e.g. 3/8".into()),
    }
}

/// `featscope compare MODEL IMAGE_A IMAGE_B` or `featscope compare MODEL_A MODEL_B IMAGE`.
#[derive(Args, Debug)]
#[command(
    after_help = "Two models when the second path is an .onnx file. Without --out, the \
interactive view shows A, B and A − B with each layer's divergence in the sidebar; with --out, \
<layer>_compare.png, <layer>_diff.png and compare.json are written instead.\n\n\
A precision debugger: compare FP32.onnx FP16_OR_INT8.onnx IMAGE pairs each layer with the same \
activation of the converted or quantized model (through renames and fused activations) and \
gives its SQNR and local SQNR (what the layer's own format loses). IMAGE may be a folder: the \
figures are then the worst and the mean over its images."
)]
pub struct CompareArgs {
    /// The model (or model A).
    pub first: PathBuf,
    /// Image A (or model B).
    pub second: PathBuf,
    /// Image B (or the image).
    pub third: PathBuf,
    /// Layers to compare: exact name, tensor name, glob or index (of A); repeatable [default: all].
    #[arg(long = "layer", short = 'l', value_name = "PATTERN")]
    pub layers: Vec<String>,
    /// Write the pictures and compare.json here instead of opening the view.
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// A layer differs when max |A − B| / max |A| is above this (compare.json's first_above;
    /// the view's marks).
    #[arg(long, default_value_t = crate::compare::DEFAULT_THRESHOLD, value_parser = parse_non_negative)]
    pub threshold: f32,
    /// Exit with 1 when any layer's max |A − B| / max |A| is above this (needs --out).
    #[arg(long, value_name = "X", requires = "out", value_parser = parse_non_negative)]
    pub fail_above: Option<f32>,
    /// Exit with 1 when any layer's SQNR, 20·log10(‖A‖/‖A − B‖), is below this many dB
    /// (needs --out): a CI gate for a converted or quantized B.
    #[arg(long, value_name = "DB", requires = "out", value_parser = parse_decibels)]
    pub fail_below_sqnr: Option<f64>,
    /// A layer's SQNR below this many dB is marked in the view, and `]`/`[` step to layers
    /// whose own (local) SQNR is below it.
    #[arg(long, value_name = "DB", default_value_t = crate::compare::DEFAULT_SQNR_THRESHOLD, value_parser = parse_decibels)]
    pub sqnr_threshold: f64,
    /// How pictures are drawn in the terminal (the view).
    #[arg(long, value_enum, default_value_t = GraphicsArg::Auto)]
    pub graphics: GraphicsArg,
    /// The colormap of A and B (A − B is always rdbu).
    #[arg(long, value_enum, default_value_t = ColormapArg::Viridis)]
    pub colormap: ColormapArg,
    #[command(flatten)]
    pub run: RunArgs,
}

impl CompareArgs {
    pub fn inputs(&self) -> crate::compare::Inputs {
        crate::compare::Inputs::from_paths(
            self.first.clone(),
            self.second.clone(),
            self.third.clone(),
        )
    }

    /// The view of both runs.
    pub fn view_options(&self) -> crate::tui::ViewOptions {
        crate::tui::ViewOptions {
            model: Some(self.first.clone()),
            image: None,
            graphics: self.graphics.into(),
            colormap: self.colormap.into(),
            export_dir: PathBuf::from("out"),
            scan: None,
            run: self.run.config(),
        }
    }

    /// The headless job, when `--out` is given.
    pub fn job(&self) -> Option<crate::compare::CompareJob> {
        Some(crate::compare::CompareJob {
            inputs: self.inputs(),
            layers: self.layers.clone(),
            out: self.out.clone()?,
            threshold: self.threshold,
            fail_above: self.fail_above,
            fail_below_sqnr: self.fail_below_sqnr,
            colormap: self.colormap.into(),
            run: self.run.config(),
        })
    }
}

fn parse_decibels(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v.abs() <= 1000.0 => Ok(v),
        _ => Err(format!("'{s}' is not a number of decibels (-1000..1000)")),
    }
}

fn parse_channel_cap(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=65536).contains(&n) => Ok(n),
        _ => Err("expected a whole number from 1 to 65536".into()),
    }
}

fn parse_non_negative(s: &str) -> Result<f32, String> {
    match s.trim().parse::<f32>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(format!("'{s}': expected a number ≥ 0, like 1e-3")),
    }
}

#[derive(Args, Debug)]
pub struct LayersArgs {
    /// ONNX model.
    pub model: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Run on this image to report shapes [default: a blank image of the input's size].
    #[arg(long)]
    pub image: Option<PathBuf>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// The ONNX Runtime library to check (else the usual search).
    #[arg(long, value_name = "PATH")]
    pub ort_lib: Option<PathBuf>,
    /// Skip asking the terminal about graphics.
    #[arg(long)]
    pub no_terminal_query: bool,
}

/// Engine and preprocessing options shared by every command that runs a model.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Inference engine.
    #[arg(long, value_enum, default_value_t = BackendArg::Auto, help_heading = "Engine")]
    pub backend: BackendArg,
    /// cpu, cuda or cuda:N (ONNX Runtime with CUDA only).
    #[arg(long, default_value = "cpu", help_heading = "Engine")]
    pub device: Device,
    /// Inference threads [default: all cores].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024), help_heading = "Engine")]
    pub threads: Option<u32>,
    /// ONNX Runtime library (libonnxruntime.so) to load.
    #[arg(long, value_name = "PATH", help_heading = "Engine")]
    pub ort_lib: Option<PathBuf>,
    /// The most memory a run may need (e.g. 4G, 512M); larger runs are refused [default: 3/4 of the memory available].
    #[arg(long, value_name = "SIZE", value_parser = crate::memory::parse_size, help_heading = "Engine")]
    pub max_memory: Option<u64>,
    /// Preprocessing convention [default: the model's .featscope.json, else torch].
    #[arg(long, value_enum, help_heading = "Preprocessing")]
    pub preset: Option<PresetArg>,
    /// Per-channel mean subtracted after the preset's scaling, tensor channel order: R,G,B or B,G,R.
    #[arg(long, value_parser = parse_triple, value_name = "A,B,C", help_heading = "Preprocessing")]
    pub mean: Option<[f32; 3]>,
    /// Per-channel divisor applied after the mean.
    #[arg(long, value_parser = parse_std, value_name = "A,B,C", help_heading = "Preprocessing")]
    pub std: Option<[f32; 3]>,
    /// Feed channels in BGR order.
    #[arg(long, help_heading = "Preprocessing")]
    pub bgr: bool,
    /// Feed channels in RGB order (overrides a BGR preset).
    #[arg(long, conflicts_with = "bgr", help_heading = "Preprocessing")]
    pub rgb: bool,
    /// Input size for models that take any size.
    #[arg(long, value_parser = parse_size, value_name = "WxH", help_heading = "Preprocessing")]
    pub size: Option<(u32, u32)>,
    /// How to fit the image to the input size [default: squash].
    #[arg(long, value_enum, help_heading = "Preprocessing")]
    pub resize: Option<ResizeArg>,
    /// With --resize crop: the part of the scaled image kept (0.875: shorter side 256, crop 224).
    #[arg(long, value_name = "F", value_parser = parse_fraction, help_heading = "Preprocessing")]
    pub crop_fraction: Option<f32>,
    /// Largest side fed to size-agnostic models, unless --resize or --size says otherwise.
    #[arg(long, default_value_t = crate::preprocess::DEFAULT_MAX_SIDE, value_parser = clap::value_parser!(u32).range(1..=16384), help_heading = "Preprocessing")]
    pub max_side: u32,
    /// Class names, one per line, for a classifier's top-5 [default: the model's .featscope.json].
    #[arg(long, value_name = "FILE", help_heading = "Preprocessing")]
    pub labels: Option<PathBuf>,
    /// List every tensor of the graph on its own: a QuantizeLinear → DequantizeLinear pair is
    /// not folded into the layer it re-quantizes.
    #[arg(long, help_heading = "Engine")]
    pub raw_graph: bool,
    /// ONNX Runtime: run a QDQ model with its fused int8 kernels (QLinearConv…), as a deployed
    /// CPU session does, instead of the float arithmetic the graph reads as.
    #[arg(long, help_heading = "Engine")]
    pub int8_kernels: bool,
}

impl ViewArgs {
    pub fn options(&self) -> crate::tui::ViewOptions {
        crate::tui::ViewOptions {
            model: self.model.clone(),
            image: self.image.clone(),
            graphics: self.graphics.into(),
            colormap: self.colormap.into(),
            export_dir: self.out.clone(),
            scan: self.scan.clone(),
            run: self.run.config(),
        }
    }
}

impl RunArgs {
    pub fn config(&self) -> RunConfig {
        RunConfig {
            engine: EngineOptions {
                backend: self.backend.into(),
                device: self.device,
                threads: self.threads.map(|t| t as usize),
                runs_beside_other_work: false,
                ort_lib: self.ort_lib.clone(),
                int8_kernels: self.int8_kernels,
            },
            preprocess: PreprocessOptions {
                preset: self.preset.map(Into::into),
                mean: self.mean,
                std: self.std,
                bgr: if self.bgr {
                    Some(true)
                } else if self.rgb {
                    Some(false)
                } else {
                    None
                },
                size: self.size,
                resize: self.resize.map(Into::into),
                crop_fraction: self.crop_fraction,
                max_side: Some(self.max_side),
                labels: None,
            },
            labels: self.labels.clone(),
            max_memory: self.max_memory,
            raw_graph: self.raw_graph,
        }
    }
}

fn parse_triple(s: &str) -> Result<[f32; 3], String> {
    let parts: Vec<f32> = s
        .split(',')
        .map(|p| p.trim().parse::<f32>())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("'{s}': {e}; expected three numbers like 0.5,0.5,0.5"))?;
    if parts.iter().any(|x| !x.is_finite()) {
        return Err(format!("'{s}': the numbers must be finite"));
    }
    match parts.as_slice() {
        [a] => Ok([*a; 3]),
        [a, b, c] => Ok([*a, *b, *c]),
        _ => Err(format!(
            "'{s}': expected one or three comma-separated numbers"
        )),
    }
}

fn parse_std(s: &str) -> Result<[f32; 3], String> {
    let v = parse_triple(s)?;
    if v.iter().any(|x| *x == 0.0 || !x.is_finite()) {
        return Err(format!("'{s}': divisors must be finite and non-zero"));
    }
    Ok(v)
}

fn parse_fraction(s: &str) -> Result<f32, String> {
    match s.trim().parse::<f32>() {
        Ok(f) if f.is_finite() && f > 0.0 && f <= 1.0 => Ok(f),
        _ => Err(format!("'{s}': expected a number in (0, 1]")),
    }
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("'{s}': expected WxH, e.g. 224x224"))?;
    let w: u32 = w.trim().parse().map_err(|_| format!("'{s}': bad width"))?;
    let h: u32 = h.trim().parse().map_err(|_| format!("'{s}': bad height"))?;
    if w == 0 || h == 0 || w > 16384 || h > 16384 {
        return Err(format!("'{s}': sides must be 1..=16384"));
    }
    Ok((w, h))
}
