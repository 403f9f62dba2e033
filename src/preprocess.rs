//! Image → input tensor: decode, resize or crop, channel order, scaling, layout.

use crate::engine::InputTensor;
use crate::model::{input_layout, Dim, Layout, Model};
use image::imageops::FilterType;
use image::{DynamicImage, RgbImage};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum PreprocessError {
    #[error("{path}: {reason}")]
    Image { path: String, reason: String },
    #[error("{0}")]
    Input(String),
}

/// Input conventions users know by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
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
}

/// How a preset turns 0..255 pixels into input values: `(v · scale − mean) / std`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PresetParams {
    pub scale: f32,
    /// In the tensor's channel order.
    pub mean: [f32; 3],
    pub std: [f32; 3],
    /// Channels in BGR order (as OpenCV reads).
    pub bgr: bool,
}

impl Preset {
    pub fn params(self) -> PresetParams {
        let p = |scale, mean, std, bgr| PresetParams {
            scale,
            mean,
            std,
            bgr,
        };
        match self {
            Preset::Raw => p(1.0, [0.0; 3], [1.0; 3], true),
            Preset::Caffe => p(1.0, [103.939, 116.779, 123.68], [1.0; 3], true),
            Preset::Torch => p(
                1.0 / 255.0,
                [0.485, 0.456, 0.406],
                [0.229, 0.224, 0.225],
                false,
            ),
            Preset::Tf => p(1.0, [127.5; 3], [127.5; 3], false),
            Preset::Lite => p(1.0, [127.0; 3], [128.0; 3], false),
            Preset::Unit => p(1.0 / 255.0, [0.0; 3], [1.0; 3], false),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResizeMode {
    /// Stretch the whole image to the input size.
    Squash,
    /// Scale the shorter side, then cut the centre.
    Crop,
}

/// What the user (or a model's sidecar file) asked for; unset fields fall back to defaults.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreprocessOptions {
    pub preset: Option<Preset>,
    pub mean: Option<[f32; 3]>,
    pub std: Option<[f32; 3]>,
    pub bgr: Option<bool>,
    /// (width, height)
    #[serde(skip)]
    pub size: Option<(u32, u32)>,
    pub resize: Option<ResizeMode>,
    /// For `crop`: the part of the resized image kept (0.875 = shorter side to 256, crop 224).
    pub crop_fraction: Option<f32>,
    #[serde(skip)]
    pub max_side: Option<u32>,
    /// A labels file (one class per line), relative to the model's folder.
    pub labels: Option<String>,
}

impl PreprocessOptions {
    /// `self` where set, else `fallback`.
    pub fn or(self, fallback: &PreprocessOptions) -> PreprocessOptions {
        PreprocessOptions {
            preset: self.preset.or(fallback.preset),
            mean: self.mean.or(fallback.mean),
            std: self.std.or(fallback.std),
            bgr: self.bgr.or(fallback.bgr),
            size: self.size.or(fallback.size),
            resize: self.resize.or(fallback.resize),
            crop_fraction: self.crop_fraction.or(fallback.crop_fraction),
            max_side: self.max_side.or(fallback.max_side),
            labels: self.labels.or_else(|| fallback.labels.clone()),
        }
    }

    pub fn max_side(&self) -> u32 {
        self.max_side.unwrap_or(DEFAULT_MAX_SIDE)
    }
}

pub const DEFAULT_MAX_SIDE: u32 = 1024;

/// Where a model's sidecar would be.
pub fn sidecar_path(model_path: &Path) -> std::path::PathBuf {
    model_path.with_extension("featscope.json")
}

/// The model's sidecar `<model>.featscope.json`, if any: the defaults bundled models carry.
/// It comes with the model, so it is read as untrusted: a regular file of at most 1 MB, and the
/// values it sets are checked here, naming it.
pub fn sidecar_options(model_path: &Path) -> Result<PreprocessOptions, PreprocessError> {
    let sidecar = sidecar_path(model_path);
    if let Err(e) = std::fs::symlink_metadata(&sidecar) {
        if e.kind() == std::io::ErrorKind::NotFound {
            return Ok(PreprocessOptions::default());
        }
    }
    let bytes = crate::files::read_limited(&sidecar, crate::files::SIDECAR_LIMIT, "a sidecar")
        .map_err(|e| PreprocessError::Input(e.to_string()))?;
    let shown = sidecar.display();
    let options: PreprocessOptions = serde_json::from_slice(&bytes)
        .map_err(|e| PreprocessError::Input(format!("{shown}: {e}")))?;
    if let Some(std) = options.std {
        if std.iter().any(|s| *s == 0.0 || !s.is_finite()) {
            return Err(PreprocessError::Input(format!(
                "{shown}: \"std\" values must be finite and non-zero"
            )));
        }
    }
    if options
        .mean
        .is_some_and(|m| m.iter().any(|v| !v.is_finite()))
    {
        return Err(PreprocessError::Input(format!(
            "{shown}: \"mean\" values must be finite"
        )));
    }
    if options
        .crop_fraction
        .is_some_and(|f| !(f.is_finite() && f > 0.0 && f <= 1.0))
    {
        return Err(PreprocessError::Input(format!(
            "{shown}: \"crop_fraction\" must be in (0, 1]"
        )));
    }
    Ok(options)
}

/// What the model's image input looks like.
#[derive(Clone, Debug)]
pub struct InputGeometry {
    /// The model file, as messages name it.
    pub model: String,
    pub name: String,
    pub layout: Layout,
    pub channels: usize,
    /// Fixed (width, height), or `None` when the model takes any size.
    pub fixed_size: Option<(u32, u32)>,
    /// The element type the input is declared in: the prepared float32 values are stored in
    /// it as the last step.
    pub elem: crate::precision::ElemType,
}

/// Checks that the model takes one image and reads its layout and size.
pub fn input_geometry(model: &Model) -> Result<InputGeometry, PreprocessError> {
    let shown = model.path.display();
    let describe = |i: &crate::model::GraphInput| {
        let dims = i
            .declared
            .dims
            .as_ref()
            .map(|d| {
                d.iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join("×")
            })
            .unwrap_or_else(|| "?".into());
        format!(
            "'{}' {} [{dims}]",
            crate::text::sanitize(&i.name),
            i.declared
                .elem_type
                .map(crate::model::elem_type_name)
                .unwrap_or("?")
        )
    };
    let input = match model.inputs.as_slice() {
        [only] => only,
        [] => {
            return Err(PreprocessError::Input(format!(
                "{shown}: the model has no input"
            )))
        }
        several => {
            let feedable = several
                .iter()
                .find(|i| is_image_like(i))
                .map(|i| format!("; the image it could feed is {}", describe(i)))
                .unwrap_or_default();
            return Err(PreprocessError::Input(format!(
                "{shown}: the model needs {} inputs ({}) and featscope feeds one image{feedable}",
                several.len(),
                several.iter().map(describe).collect::<Vec<_>>().join(", "),
            )));
        }
    };
    if !is_image_like(input) {
        return Err(PreprocessError::Input(format!(
            "{shown}: input {} is not an image (featscope needs a float or 8/16-bit integer tensor [N, C, H, W] or [N, H, W, C] with 1 or 3 channels)",
            describe(input)
        )));
    }
    let dims = input.declared.dims.as_deref().unwrap_or(&[]);
    let layout = input_layout(Some(dims));
    let (c, h, w) = match layout {
        Layout::Nchw => (&dims[1], &dims[2], &dims[3]),
        Layout::Nhwc => (&dims[3], &dims[1], &dims[2]),
    };
    for (axis, dim) in [("height", h), ("width", w)] {
        if let Dim::Fixed(v) = dim {
            if *v <= 0 || *v > u32::MAX as i64 {
                return Err(PreprocessError::Input(format!(
                    "{shown}: input {} declares a {axis} of {v}; no image is fed at that size",
                    describe(input)
                )));
            }
        }
    }
    let channels = c.fixed().unwrap_or(3) as usize;
    let fixed_size = match (w.fixed(), h.fixed()) {
        (Some(w), Some(h)) => Some((w as u32, h as u32)),
        _ => None,
    };
    Ok(InputGeometry {
        model: shown.to_string(),
        name: input.name.clone(),
        layout,
        channels,
        fixed_size,
        elem: input
            .declared
            .elem_type
            .and_then(crate::precision::ElemType::from_onnx)
            .unwrap_or_default(),
    })
}

fn is_image_like(input: &crate::model::GraphInput) -> bool {
    // Float inputs, and 8/16-bit integer ones (raw pixels, as TF-style detectors take them).
    let float = match input.declared.elem_type {
        None => true,
        Some(code) => crate::precision::ElemType::from_onnx(code).is_some(),
    };
    let Some(d) = input.declared.dims.as_deref().filter(|d| d.len() == 4) else {
        return false;
    };
    let c = match input_layout(Some(d)) {
        Layout::Nchw => &d[1],
        Layout::Nhwc => &d[3],
    };
    float && (matches!(c, Dim::Symbolic(_)) || matches!(c.fixed(), Some(1 | 3)))
}

/// The largest image featscope decodes, per side: a file could declare 2^32 pixels in a few
/// bytes.
pub const MAX_IMAGE_SIDE: u32 = 32_768;
/// What one decoded image may allocate.
pub const MAX_IMAGE_BYTES: u64 = 1 << 30;

/// File extensions taken as images when a folder is read.
const IMAGE_EXTENSIONS: [&str; 10] = [
    "png", "jpg", "jpeg", "bmp", "gif", "webp", "tif", "tiff", "pnm", "ppm",
];

/// Whether a file in a folder of images is one of them, by its extension (any case).
pub fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_lowercase().as_str()))
}

pub fn load_image(path: &Path) -> Result<DynamicImage, PreprocessError> {
    let err = |reason: String| PreprocessError::Image {
        path: path.display().to_string(),
        reason,
    };
    let bytes = crate::files::read_limited(path, crate::files::IMAGE_LIMIT, "an image")
        .map_err(|e| PreprocessError::Input(e.to_string()))?;
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| err(format!("cannot read: {e}")))?;
    if reader.format().is_none() {
        return Err(err("not an image (unknown format)".into()));
    }
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_IMAGE_BYTES);
    reader.limits(limits);
    let img = reader
        .decode()
        .map_err(|e| err(format!("not a readable image: {e}")))?;
    if img.width() == 0 || img.height() == 0 {
        return Err(err(format!(
            "the image is {}×{}",
            img.width(),
            img.height()
        )));
    }
    Ok(img)
}

/// The image as fed to the model: the tensor, plus the resized RGB picture for overlays.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub tensor: InputTensor,
    pub shown: RgbImage,
    /// One line for humans: "451×300 → crop 224×224, lite (x−127)/128, RGB, NCHW".
    pub description: String,
}

impl InputGeometry {
    /// The input tensor's shape for an image fed at `(width, height)`.
    pub fn tensor_shape(&self, (w, h): (u32, u32)) -> Vec<usize> {
        let (w, h) = (w as usize, h as usize);
        match self.layout {
            Layout::Nchw => vec![1, self.channels, h, w],
            Layout::Nhwc => vec![1, h, w, self.channels],
        }
    }
}

/// The size an image of `iw × ih` is fed at: the model's fixed size, `--size`, or its own
/// (bounded by `--max-side`).
pub fn target_size(
    (iw, ih): (u32, u32),
    image_path: &Path,
    geometry: &InputGeometry,
    opts: &PreprocessOptions,
) -> Result<(u32, u32), PreprocessError> {
    let target = match (geometry.fixed_size, opts.size) {
        (Some(fixed), Some(asked)) if fixed != asked => {
            return Err(PreprocessError::Input(format!(
                "--size {}x{}: the model's input is fixed at {}x{}",
                asked.0, asked.1, fixed.0, fixed.1
            )))
        }
        (Some(fixed), _) => fixed,
        (None, Some(asked)) => asked,
        (None, None) => {
            let max_side = opts.max_side();
            if iw.max(ih) <= max_side {
                (iw, ih)
            } else if opts.resize.is_some() {
                let s = max_side as f64 / iw.max(ih) as f64;
                (
                    ((iw as f64 * s).round() as u32).max(1),
                    ((ih as f64 * s).round() as u32).max(1),
                )
            } else {
                return Err(PreprocessError::Image {
                    path: image_path.display().to_string(),
                    reason: format!(
                        "the image is {iw}×{ih}, over --max-side {max_side}; pass --resize squash, --size WxH or a larger --max-side"
                    ),
                });
            }
        }
    };
    if target.0 == 0 || target.1 == 0 {
        return Err(PreprocessError::Input(format!(
            "{}: input size {}x{} is empty",
            geometry.model, target.0, target.1
        )));
    }
    Ok(target)
}

/// Runs every step: the size to feed, the picture fitted to it, the values scaled and packed
/// in the model's layout, and one line that says what was done.
pub fn prepare(
    img: &DynamicImage,
    image_path: &Path,
    geometry: &InputGeometry,
    opts: &PreprocessOptions,
) -> Result<Prepared, PreprocessError> {
    let (iw, ih) = (img.width(), img.height());
    let target = target_size((iw, ih), image_path, geometry, opts)?;
    let (shown, how) = fit_image(img.to_rgb8(), target, opts);
    let scaling = Scaling::of(opts, geometry.elem);
    if scaling.std.iter().any(|s| *s == 0.0 || !s.is_finite()) {
        return Err(PreprocessError::Input(format!(
            "{}: the std values must be finite and non-zero",
            geometry.model
        )));
    }
    let data = pack(&shown, geometry, &scaling);
    let shape = geometry.tensor_shape((shown.width(), shown.height()));
    let description = describe((iw, ih), &how, &scaling, geometry);
    Ok(Prepared {
        tensor: InputTensor {
            name: geometry.name.clone(),
            shape,
            data,
            elem: geometry.elem,
        },
        shown,
        description,
    })
}

/// The picture at `target`: as it is, squashed, or scaled and cut to the centre; and how.
fn fit_image(rgb: RgbImage, target: (u32, u32), opts: &PreprocessOptions) -> (RgbImage, String) {
    let (iw, ih) = rgb.dimensions();
    if (iw, ih) == target {
        return (rgb, "native".to_string());
    }
    match opts.resize.unwrap_or(ResizeMode::Squash) {
        ResizeMode::Squash => (
            image::imageops::resize(&rgb, target.0, target.1, FilterType::CatmullRom),
            format!("squash {}×{}", target.0, target.1),
        ),
        ResizeMode::Crop => {
            let fraction = opts.crop_fraction.unwrap_or(1.0).clamp(0.05, 1.0) as f64;
            let s = (target.0 as f64 / iw as f64).max(target.1 as f64 / ih as f64) / fraction;
            let rw = ((iw as f64 * s).round() as u32).max(target.0);
            let rh = ((ih as f64 * s).round() as u32).max(target.1);
            let resized = image::imageops::resize(&rgb, rw, rh, FilterType::CatmullRom);
            let (x, y) = ((rw - target.0) / 2, (rh - target.1) / 2);
            (
                image::imageops::crop_imm(&resized, x, y, target.0, target.1).to_image(),
                format!("resize {rw}×{rh}, crop {}×{}", target.0, target.1),
            )
        }
    }
}

/// The preset's numbers with the user's mean, std and channel order over them.
struct Scaling {
    preset: Preset,
    params: PresetParams,
    custom: bool,
}

impl Scaling {
    /// An integer input takes pixels as they are (0..255, RGB) unless a preset says otherwise.
    fn of(opts: &PreprocessOptions, elem: crate::precision::ElemType) -> Scaling {
        let preset = opts.preset.unwrap_or(if elem.is_integer() {
            Preset::Raw
        } else {
            Preset::Torch
        });
        let mut base = preset.params();
        if opts.preset.is_none() && elem.is_integer() {
            base.bgr = false;
        }
        Scaling {
            preset,
            params: PresetParams {
                scale: base.scale,
                mean: opts.mean.unwrap_or(base.mean),
                std: opts.std.unwrap_or(base.std),
                bgr: opts.bgr.unwrap_or(base.bgr),
            },
            custom: opts.mean.is_some() || opts.std.is_some(),
        }
    }
}

impl std::ops::Deref for Scaling {
    type Target = PresetParams;
    fn deref(&self) -> &PresetParams {
        &self.params
    }
}

/// The pixels as the model's input values, in its layout: `(v · scale − mean) / std` per
/// channel, in RGB or BGR order, or luma for one-channel models.
fn pack(shown: &RgbImage, geometry: &InputGeometry, s: &PresetParams) -> Vec<f32> {
    let (w, h) = (shown.width() as usize, shown.height() as usize);
    let c = geometry.channels;
    let mut data = vec![0f32; c * h * w];
    for (x, y, px) in shown.enumerate_pixels() {
        let [r, g, b] = px.0;
        let values: [f32; 3] = if c == 1 {
            // ITU-R BT.601 luma, as image::imageops::grayscale computes it.
            let luma = (0.299 * r as f32 + 0.587 * g as f32 + 0.114 * b as f32).round();
            [luma, 0.0, 0.0]
        } else if s.bgr {
            [b as f32, g as f32, r as f32]
        } else {
            [r as f32, g as f32, b as f32]
        };
        let (x, y) = (x as usize, y as usize);
        for (ch, value) in values.iter().enumerate().take(c) {
            let idx = match geometry.layout {
                Layout::Nchw => (ch * h + y) * w + x,
                Layout::Nhwc => (y * w + x) * c + ch,
            };
            data[idx] = (value * s.scale - s.mean[ch]) / s.std[ch];
        }
    }
    data
}

/// One line for people: "451×300 → resize 256×256, crop 224×224, lite, RGB, NCHW".
fn describe((iw, ih): (u32, u32), how: &str, s: &Scaling, geometry: &InputGeometry) -> String {
    let order = if geometry.channels == 1 {
        "luma"
    } else if s.bgr {
        "BGR"
    } else {
        "RGB"
    };
    let custom = if s.custom { " (custom mean/std)" } else { "" };
    let preset = format!("{:?}", s.preset).to_lowercase();
    let stored = if geometry.elem == crate::precision::ElemType::Float32 {
        String::new()
    } else {
        format!(", as {}", geometry.elem)
    };
    format!(
        "{iw}×{ih} → {how}, {preset}{custom}, {order}, {}{stored}",
        geometry.layout
    )
}
