//! Number formats a deployed network computes in: the element types featscope feeds and reads
//! (float32, float16, bfloat16, float64, and 8/16-bit integers), the scale and zero point that
//! give a quantized tensor its real values, and what a format does to a float32 value (the
//! round trip behind a layer's *local* loss).

use crate::model::proto::data_type;

/// An element type featscope can feed to an input or draw from an output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ElemType {
    #[default]
    Float32,
    Float16,
    Bfloat16,
    Float64,
    Uint8,
    Int8,
    Uint16,
    Int16,
}

impl ElemType {
    /// From an ONNX `TensorProto.DataType` code; `None` for types featscope neither feeds nor
    /// draws (int32, int64, bool, strings…).
    pub fn from_onnx(code: i32) -> Option<ElemType> {
        Some(match code {
            data_type::FLOAT => ElemType::Float32,
            data_type::FLOAT16 => ElemType::Float16,
            data_type::BFLOAT16 => ElemType::Bfloat16,
            data_type::DOUBLE => ElemType::Float64,
            data_type::UINT8 => ElemType::Uint8,
            data_type::INT8 => ElemType::Int8,
            data_type::UINT16 => ElemType::Uint16,
            data_type::INT16 => ElemType::Int16,
            _ => return None,
        })
    }

    /// ONNX's spelling: "float16", "uint8"…
    pub fn name(self) -> &'static str {
        match self {
            ElemType::Float32 => "float32",
            ElemType::Float16 => "float16",
            ElemType::Bfloat16 => "bfloat16",
            ElemType::Float64 => "float64",
            ElemType::Uint8 => "uint8",
            ElemType::Int8 => "int8",
            ElemType::Uint16 => "uint16",
            ElemType::Int16 => "int16",
        }
    }

    pub fn is_integer(self) -> bool {
        self.integer_range().is_some()
    }

    /// The values an integer type holds.
    pub fn integer_range(self) -> Option<(i32, i32)> {
        match self {
            ElemType::Uint8 => Some((0, 255)),
            ElemType::Int8 => Some((-128, 127)),
            ElemType::Uint16 => Some((0, 65535)),
            ElemType::Int16 => Some((-32768, 32767)),
            _ => None,
        }
    }

    /// The largest finite value a float type holds (float32's for float32 and float64).
    pub fn float_max(self) -> Option<f32> {
        match self {
            ElemType::Float16 => Some(half::f16::MAX.to_f32()),
            ElemType::Bfloat16 => Some(half::bf16::MAX.to_f32()),
            ElemType::Float32 | ElemType::Float64 => Some(f32::MAX),
            _ => None,
        }
    }

    /// A float32 value as this type stores it: rounded to nearest, ties to even, saturated to
    /// the range for integers (what a cast of a preprocessed pixel does).
    pub fn store(self, v: f32) -> f32 {
        match self {
            ElemType::Float32 | ElemType::Float64 => v,
            ElemType::Float16 => half::f16::from_f32(v).to_f32(),
            ElemType::Bfloat16 => half::bf16::from_f32(v).to_f32(),
            _ => {
                let (lo, hi) = self.integer_range().unwrap_or((0, 0));
                v.round_ties_even().clamp(lo as f32, hi as f32)
            }
        }
    }
}

impl std::fmt::Display for ElemType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The scale and zero point of a quantized tensor: `real = (q − zero_point) · scale`, one pair
/// for the whole tensor or one per index along `axis`.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Quantization {
    /// The integer type the tensor is stored in.
    pub elem: ElemType,
    pub scale: Vec<f32>,
    pub zero_point: Vec<i32>,
    /// The axis the scales run along (per-axis quantization); `None` for one pair.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub axis: Option<usize>,
}

impl Quantization {
    /// One scale and zero point for the whole tensor.
    pub fn per_tensor(elem: ElemType, scale: f32, zero_point: i32) -> Quantization {
        Quantization {
            elem,
            scale: vec![scale],
            zero_point: vec![zero_point],
            axis: None,
        }
    }

    /// Whether its figures can be used: finite positive scales, zero points in the type's
    /// range, as many zero points as scales.
    pub fn is_valid(&self) -> bool {
        let Some((lo, hi)) = self.elem.integer_range() else {
            return false;
        };
        !self.scale.is_empty()
            && self.scale.len() == self.zero_point.len()
            && self.scale.iter().all(|s| s.is_finite() && *s > 0.0)
            && self.zero_point.iter().all(|z| (lo..=hi).contains(z))
            && (self.axis.is_some() || self.scale.len() == 1)
    }

    /// Which scale the element at `flat` of a tensor of `shape` uses.
    fn slot(&self, shape: &[usize], flat: usize) -> usize {
        match self.axis {
            None => 0,
            Some(axis) => {
                let stride: usize = shape.iter().skip(axis + 1).product();
                let dim = shape.get(axis).copied().unwrap_or(1).max(1);
                (flat / stride.max(1)) % dim
            }
        }
    }

    /// Runs of the flat index over which one scale holds: the whole tensor, or the stride of
    /// the axis.
    fn run_length(&self, shape: &[usize], total: usize) -> usize {
        match self.axis {
            None => total.max(1),
            Some(axis) => shape.iter().skip(axis + 1).product::<usize>().max(1),
        }
    }

    /// Real values of a tensor of `shape` stored as the integers `q`.
    pub fn dequantize(&self, q: &[i32], shape: &[usize]) -> Vec<f32> {
        let mut out = Vec::with_capacity(q.len());
        let run = self.run_length(shape, q.len());
        for (k, chunk) in q.chunks(run).enumerate() {
            let slot = self.slot(shape, k * run).min(self.scale.len() - 1);
            let (s, z) = (self.scale[slot], self.zero_point[slot]);
            out.extend(chunk.iter().map(|&v| (v - z) as f32 * s));
        }
        out
    }

    /// The integer a real value at `flat` stands for (the value under the zoom cursor, as the
    /// tensor stores it).
    pub fn integer_at(&self, shape: &[usize], flat: usize, real: f32) -> i32 {
        let slot = self.slot(shape, flat).min(self.scale.len() - 1);
        ((real / self.scale[slot]).round_ties_even() as i64 + self.zero_point[slot] as i64)
            .clamp(i32::MIN as i64, i32::MAX as i64) as i32
    }

    /// Float32 values put through this quantization alone — quantized as ONNX's
    /// QuantizeLinear does (round half to even, saturate) and dequantized — and how many of
    /// them saturated (fell outside the range the scale and zero point can hold).
    pub fn round_trip(&self, values: &[f32], shape: &[usize]) -> (Vec<f32>, usize) {
        let (lo, hi) = self.elem.integer_range().unwrap_or((0, 0));
        let run = self.run_length(shape, values.len());
        let mut saturated = 0usize;
        let mut out = Vec::with_capacity(values.len());
        for (k, chunk) in values.chunks(run).enumerate() {
            let slot = self.slot(shape, k * run).min(self.scale.len() - 1);
            let (s, z) = (self.scale[slot], self.zero_point[slot] as f32);
            for &v in chunk {
                let q = (v / s).round_ties_even() + z;
                if q < lo as f32 || q > hi as f32 {
                    saturated += 1;
                }
                out.push((q.clamp(lo as f32, hi as f32) - z) * s);
            }
        }
        (out, saturated)
    }

    /// The SQNR of `values` against their [`round_trip`](Self::round_trip), and how many
    /// saturated, in one pass that keeps nothing.
    pub fn round_trip_sqnr(&self, values: &[f32], shape: &[usize]) -> (Option<f64>, usize) {
        let (lo, hi) = self.elem.integer_range().unwrap_or((0, 0));
        let run = self.run_length(shape, values.len());
        let (mut signal, mut noise, mut saturated) = (0f64, 0f64, 0usize);
        for (k, chunk) in values.chunks(run).enumerate() {
            let slot = self.slot(shape, k * run).min(self.scale.len() - 1);
            let (s, z) = (self.scale[slot], self.zero_point[slot] as f32);
            let (qlo, qhi) = (lo as f32 - z, hi as f32 - z);
            for &v in chunk.iter().filter(|v| v.is_finite()) {
                // Round half to even: adding and taking away 1.5·2^23 leaves the nearest
                // integer, ties to even, for |x| < 2^22 (clamped first; saturation is at most
                // 65535 steps away).
                // Divided, not multiplied by 1/s: the ties must be QuantizeLinear's.
                let x = (v / s).clamp(-4.0e6, 4.0e6);
                let q = (x + 12_582_912.0) - 12_582_912.0;
                saturated += (q < qlo || q > qhi) as usize;
                let back = q.clamp(qlo, qhi) * s;
                signal += v as f64 * v as f64;
                noise += (v as f64 - back as f64).powi(2);
            }
        }
        (decibels(signal, noise), saturated)
    }

    /// The real values this quantization can hold.
    pub fn real_range(&self) -> (f32, f32) {
        let (lo, hi) = self.elem.integer_range().unwrap_or((0, 0));
        self.scale
            .iter()
            .zip(&self.zero_point)
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), (&s, &z)| {
                (a.min((lo - z) as f32 * s), b.max((hi - z) as f32 * s))
            })
    }

    /// "uint8 s=0.0235 zp=0", or "int8 per-channel (32 scales)".
    pub fn describe(&self) -> String {
        match (self.scale.as_slice(), self.zero_point.as_slice()) {
            ([s], [z]) => format!("{} s={} zp={z}", self.elem, short_float(*s)),
            (scales, _) => format!(
                "{} per-axis {} ({} scales)",
                self.elem,
                self.axis.unwrap_or(0),
                scales.len()
            ),
        }
    }
}

/// Four significant digits, without a trailing exponent for ordinary scales.
fn short_float(v: f32) -> String {
    if v != 0.0 && (v.abs() < 1e-3 || v.abs() >= 1e4) {
        format!("{v:.3e}")
    } else {
        format!("{}", (v as f64 * 1e6).round() / 1e6)
    }
}

/// What a tensor's values are made of, as drawn and reported.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Precision {
    /// The type the engine computed the tensor in (the integer type for a dequantized
    /// activation: what the next layer sees).
    pub elem: ElemType,
    /// For integer tensors: the scale and zero point its values were dequantized with
    /// (`None`: the graph gives none, so the integers are drawn as they are).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantization: Option<Quantization>,
}

impl Precision {
    pub fn float32() -> Precision {
        Precision::default()
    }

    /// "float16", "uint8 s=0.0235 zp=0", "uint8 (no scale: raw integers)".
    pub fn describe(&self) -> String {
        match &self.quantization {
            Some(q) => q.describe(),
            None if self.elem.is_integer() => format!("{} (no scale: raw integers)", self.elem),
            None => self.elem.name().to_string(),
        }
    }

    pub fn is_float32(&self) -> bool {
        self.elem == ElemType::Float32 && self.quantization.is_none()
    }

    /// [`Precision::round_trip`]'s SQNR against `values` and how many fell outside the range,
    /// without keeping the values.
    pub fn round_trip_sqnr(&self, values: &[f32], shape: &[usize]) -> (Option<f64>, usize) {
        if let Some(q) = &self.quantization {
            return q.round_trip_sqnr(values, shape);
        }
        let max = self.elem.float_max().unwrap_or(f32::MAX);
        let (mut signal, mut noise, mut outside) = (0f64, 0f64, 0usize);
        for &v in values.iter().filter(|v| v.is_finite()) {
            outside += (v.abs() > max) as usize;
            let stored = self.elem.store(v);
            signal += v as f64 * v as f64;
            if stored.is_finite() {
                noise += (v as f64 - stored as f64).powi(2);
            } else {
                noise += v as f64 * v as f64;
            }
        }
        (decibels(signal, noise), outside)
    }

    /// Float32 values put through this format alone (quantization round trip, or rounding to
    /// float16/bfloat16) and how many fell outside its range.
    pub fn round_trip(&self, values: &[f32], shape: &[usize]) -> (Vec<f32>, usize) {
        if let Some(q) = &self.quantization {
            return q.round_trip(values, shape);
        }
        let max = self.elem.float_max().unwrap_or(f32::MAX);
        let outside = values
            .iter()
            .filter(|v| v.is_finite() && v.abs() > max)
            .count();
        (
            values.iter().map(|&v| self.elem.store(v)).collect(),
            outside,
        )
    }
}

/// Counts of the values that are not numbers: what a broken layer produces.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NonFinite {
    pub nan: usize,
    pub pos_inf: usize,
    pub neg_inf: usize,
}

impl NonFinite {
    /// One pass: a bit test per value (vectorised), the kinds told apart only where one is found.
    pub fn count(values: &[f32]) -> NonFinite {
        const EXP: u32 = 0x7f80_0000;
        let any = values
            .iter()
            .map(|v| (v.to_bits() & EXP == EXP) as usize)
            .sum::<usize>();
        if any == 0 {
            return NonFinite::default();
        }
        let mut n = NonFinite::default();
        for v in values.iter().filter(|v| !v.is_finite()) {
            if v.is_nan() {
                n.nan += 1;
            } else if *v > 0.0 {
                n.pos_inf += 1;
            } else {
                n.neg_inf += 1;
            }
        }
        n
    }

    /// Both counts together (a scan's over its images).
    pub fn plus(self, other: NonFinite) -> NonFinite {
        NonFinite {
            nan: self.nan.saturating_add(other.nan),
            pos_inf: self.pos_inf.saturating_add(other.pos_inf),
            neg_inf: self.neg_inf.saturating_add(other.neg_inf),
        }
    }

    pub fn total(&self) -> usize {
        self.nan + self.pos_inf + self.neg_inf
    }

    pub fn any(&self) -> bool {
        self.total() > 0
    }

    /// "3 NaN, 1 +Inf".
    pub fn describe(&self) -> String {
        let parts: Vec<String> = [
            (self.nan, "NaN"),
            (self.pos_inf, "+Inf"),
            (self.neg_inf, "−Inf"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        parts.join(", ")
    }
}

/// 10·log10(signal / noise) of sums of squares: ∞ for no noise, `None` for no signal.
fn decibels(signal: f64, noise: f64) -> Option<f64> {
    match (signal > 0.0, noise > 0.0) {
        (false, _) => None,
        (true, false) => Some(f64::INFINITY),
        (true, true) => Some(10.0 * (signal / noise).log10()),
    }
}

/// Signal-to-quantization-noise ratio in dB, as ONNX Runtime's qdq_loss_debug computes it:
/// 20·log10(‖x‖ / ‖x − y‖) over the finite pairs. ∞ when y equals x; `None` when x is all
/// zeros (or nothing is finite) and the ratio means nothing.
pub fn sqnr_db(x: &[f32], y: &[f32]) -> Option<f64> {
    let (mut signal, mut noise) = (0f64, 0f64);
    for (&a, &b) in x.iter().zip(y) {
        if a.is_finite() && b.is_finite() {
            signal += a as f64 * a as f64;
            let d = a as f64 - b as f64;
            noise += d * d;
        }
    }
    if signal == 0.0 {
        return None;
    }
    if noise == 0.0 {
        return Some(f64::INFINITY);
    }
    Some(10.0 * (signal / noise).log10())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantization_round_trips_like_quantize_linear() {
        let q = Quantization::per_tensor(ElemType::Uint8, 0.5, 10);
        // 1.25 / 0.5 = 2.5 → 2 (ties to even) → 12; −20 saturates at 0.
        let (y, saturated) = q.round_trip(&[1.25, 0.0, -20.0, 200.0], &[4]);
        assert_eq!(y, vec![1.0, 0.0, -5.0, 122.5]);
        assert_eq!(saturated, 2);
        assert_eq!(q.dequantize(&[12, 10, 0], &[3]), vec![1.0, 0.0, -5.0]);
        assert_eq!(q.integer_at(&[3], 0, 1.0), 12);
        assert_eq!(q.real_range(), (-5.0, 122.5));
    }

    #[test]
    fn the_one_pass_round_trip_sqnr_equals_the_round_trip_s() {
        let values: Vec<f32> = (0..5000)
            .map(|i| ((i * 7919) % 1000) as f32 / 37.0 - 9.0)
            .collect();
        for p in [
            Precision {
                elem: ElemType::Uint8,
                quantization: Some(Quantization::per_tensor(ElemType::Uint8, 0.05, 100)),
            },
            Precision {
                elem: ElemType::Int8,
                // Ties: 0.5-step values land exactly halfway.
                quantization: Some(Quantization::per_tensor(ElemType::Int8, 1.0 / 74.0, -3)),
            },
            Precision {
                elem: ElemType::Float16,
                quantization: None,
            },
        ] {
            let (stored, outside) = p.round_trip(&values, &[5000]);
            let (db, outside_fast) = p.round_trip_sqnr(&values, &[5000]);
            assert_eq!(outside, outside_fast);
            let want = sqnr_db(&values, &stored).unwrap();
            assert!((db.unwrap() - want).abs() < 1e-9, "{db:?} {want}");
        }
    }

    #[test]
    fn per_axis_scales_follow_the_axis() {
        let q = Quantization {
            elem: ElemType::Int8,
            scale: vec![1.0, 0.1],
            zero_point: vec![0, 0],
            axis: Some(1),
        };
        // Shape [1, 2, 1, 2]: channel 0 then channel 1.
        assert_eq!(
            q.dequantize(&[3, 3, 3, 3], &[1, 2, 1, 2]),
            vec![3.0, 3.0, 0.3, 0.3]
        );
        assert_eq!(q.integer_at(&[1, 2, 1, 2], 3, 0.3), 3);
        assert!(q.is_valid());
        let bad = Quantization::per_tensor(ElemType::Uint8, 0.0, 0);
        assert!(!bad.is_valid());
    }

    #[test]
    fn sqnr_follows_its_definition() {
        // ‖x‖ = 5, ‖x − y‖ = 0.05: 20·log10(100) = 40 dB.
        let s = sqnr_db(&[3.0, 4.0], &[3.03, 4.04]).unwrap();
        assert!((s - 40.0).abs() < 1e-4, "{s}");
        assert_eq!(sqnr_db(&[1.0], &[1.0]), Some(f64::INFINITY));
        assert_eq!(sqnr_db(&[0.0], &[1.0]), None);
    }

    #[test]
    fn non_finite_values_are_counted_by_kind() {
        let n = NonFinite::count(&[1.0, f32::NAN, f32::INFINITY, f32::NEG_INFINITY, f32::NAN]);
        assert_eq!((n.nan, n.pos_inf, n.neg_inf), (2, 1, 1));
        assert_eq!(n.describe(), "2 NaN, 1 +Inf, 1 −Inf");
        assert!(!NonFinite::count(&[0.0, f32::MAX, f32::MIN_POSITIVE]).any());
    }

    #[test]
    fn floats_store_as_their_formats_round() {
        assert_eq!(ElemType::Float16.store(1.0 + 1.0 / 4096.0), 1.0);
        assert_eq!(ElemType::Float16.store(70000.0), f32::INFINITY);
        assert_eq!(ElemType::Bfloat16.store(1.0 + 1.0 / 512.0), 1.0);
        assert_eq!(ElemType::Uint8.store(-3.0), 0.0);
        assert_eq!(ElemType::Uint8.store(2.5), 2.0);
        let p = Precision {
            elem: ElemType::Float16,
            quantization: None,
        };
        assert_eq!(p.round_trip(&[1.0, 1e5], &[2]).1, 1);
    }
}
