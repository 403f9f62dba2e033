//! Which tensor of model B is which tensor of model A, read off the two graphs before anything
//! runs: the same network exported twice, converted to float16, or quantized.
//!
//! Converters rename and quantizers fuse, and names lie. A QDQ model's DequantizeLinear output
//! `t_DequantizeLinear_Output` is A's `t` as the next layer sees it (the pairing of
//! onnxruntime.quantization.qdq_loss_debug); a QOperator model's `t_quantized` is A's `t`. Where
//! a Conv is followed by a Relu or Clip, the quantizer drops the activation: in QDQ the Conv
//! then writes the activation's tensor name while holding the values before it (featscope folds
//! it into the layer whose DequantizeLinear holds the values after it); in QOperator the output
//! named after the Conv holds the values after the activation. Tensors are therefore paired by
//! what they hold, and A's tensor before a fused activation is compared at the activation's
//! output, the only place B has it.

use crate::model::{Model, TensorSite};
use std::collections::HashMap;

/// How a pair was made: what says B's tensor holds A's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchedBy {
    /// The same tensor name, made by the same kind of operator.
    Name,
    /// B's DequantizeLinear output of A's tensor (a QDQ model), or the value read back from
    /// a Cast to a narrower float.
    Dequantized,
    /// B's QLinear operator output named after A's tensor (a QOperator model).
    Quantized,
    /// A's activation (Relu, Clip) that B's quantizer fused into the operator before it: B's
    /// tensor is that operator's output.
    FusedActivation,
    /// A's tensor before an activation B fused away: B has it only after the activation, so it
    /// is compared at A's activation output (`compared_with`).
    Fused,
    /// The k-th unmatched layer of this shape in A with the k-th in B: the last resort.
    Position,
}

impl MatchedBy {
    pub fn name(self) -> &'static str {
        match self {
            MatchedBy::Name => "name",
            MatchedBy::Dequantized => "dequantized",
            MatchedBy::Quantized => "quantized",
            MatchedBy::FusedActivation => "fused activation",
            MatchedBy::Fused => "fused",
            MatchedBy::Position => "position",
        }
    }
}

/// One of A's tensors and what it is compared with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorPair {
    pub a: String,
    pub b: String,
    pub by: MatchedBy,
    /// The tensor of A whose values are compared with B's (A's own unless fused).
    pub a_values: String,
}

/// Suffixes converters add to a tensor they keep: quantized, dequantized, quantized again.
const QUANTIZED: &str = "_quantized";
const DEQUANTIZED: &str = "_DequantizeLinear_Output";

/// Whether B's operator computes what A's does: the same op, its quantized form
/// (QLinearConv, QGemm, ConvInteger…), or a type change only.
fn same_operation(a: &TensorSite, b: &TensorSite) -> bool {
    let (a, b) = (a.raw_op.as_str(), b.raw_op.as_str());
    a == b || (a.len() >= 3 && b.contains(a)) || matches!(b, "Cast" | "Identity")
}

/// Pairs A's layers with B's by what they hold, in A's order; layers of either model with no
/// partner are left for pairing by position once their shapes are known.
pub fn pair_sites(a: &Model, b: &Model) -> Vec<TensorPair> {
    // Every name B's layers answer to: their own tensor, and the tensors folded into them.
    let mut b_name: HashMap<&str, &TensorSite> = HashMap::new();
    let mut b_alias: HashMap<&str, &TensorSite> = HashMap::new();
    for site in &b.sites {
        b_name.insert(site.tensor.as_str(), site);
        for folded in &site.folded {
            b_alias.insert(folded.as_str(), site);
        }
    }
    let mut pairs: Vec<TensorPair> = Vec::new();
    let mut taken: std::collections::HashSet<&str> = Default::default();
    for site in &a.sites {
        let t = site.tensor.as_str();
        let candidate = b_name
            .get(t)
            .filter(|b| same_operation(site, b) && b.folded.is_empty())
            .map(|b| (*b, MatchedBy::Name))
            .or_else(|| {
                b_name
                    .get(format!("{t}{DEQUANTIZED}").as_str())
                    .or_else(|| b_alias.get(t).filter(|b| b.tensor != t))
                    // A graph output the quantizer dequantizes under its own name.
                    .or_else(|| b_name.get(t).filter(|b| !b.folded.is_empty()))
                    .map(|b| (*b, MatchedBy::Dequantized))
            })
            .or_else(|| {
                b_name
                    .get(format!("{t}{QUANTIZED}").as_str())
                    .map(|b| (*b, MatchedBy::Quantized))
            })
            .or_else(|| {
                // A name-lying tensor of a raw QDQ graph is still the same tensor when B
                // computes it with A's operator.
                b_name
                    .get(t)
                    .filter(|b| same_operation(site, b))
                    .map(|b| (*b, MatchedBy::Name))
            });
        if let Some((b_site, by)) = candidate {
            if taken.insert(b_site.tensor.as_str()) {
                pairs.push(TensorPair {
                    a: site.tensor.clone(),
                    b: b_site.tensor.clone(),
                    by,
                    a_values: site.tensor.clone(),
                });
            }
        }
    }
    // Fused activations, in A's order: a tensor read only by an activation (c → r).
    let a_index: HashMap<&str, &TensorSite> =
        a.sites.iter().map(|s| (s.tensor.as_str(), s)).collect();
    for c in &a.sites {
        let Some(r) = c.activation.as_deref().filter(|r| a_index.contains_key(r)) else {
            continue;
        };
        let at = |pairs: &[TensorPair], t: &str| pairs.iter().position(|p| p.a == t);
        match (at(&pairs, &c.tensor), at(&pairs, r)) {
            // B has the activation's output only, and computes it with no activation of its
            // own (a quantizer's requantization clips instead): A's c is compared there.
            (None, Some(ri))
                if b_name
                    .get(pairs[ri].b.as_str())
                    .is_some_and(|b| b.raw_op != a_index[r].raw_op) =>
            {
                let b = pairs[ri].b.clone();
                pairs.push(TensorPair {
                    a: c.tensor.clone(),
                    b,
                    by: MatchedBy::Fused,
                    a_values: r.to_string(),
                });
            }
            // B's tensor named after c, with no tensor of r: the quantizer folded r into the
            // operator, whose output holds r's values.
            (Some(ci), None) if pairs[ci].by == MatchedBy::Quantized => {
                let b = pairs[ci].b.clone();
                pairs[ci].by = MatchedBy::Fused;
                pairs[ci].a_values = r.to_string();
                pairs.push(TensorPair {
                    a: r.to_string(),
                    b,
                    by: MatchedBy::FusedActivation,
                    a_values: r.to_string(),
                });
            }
            _ => {}
        }
    }
    // In A's graph order.
    let order: HashMap<&str, usize> = a
        .sites
        .iter()
        .map(|s| (s.tensor.as_str(), s.index))
        .collect();
    pairs.sort_by_key(|p| order.get(p.a.as_str()).copied().unwrap_or(usize::MAX));
    pairs
}
