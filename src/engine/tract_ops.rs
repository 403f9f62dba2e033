//! Operators given to tract in place of its own where its own cannot run a deployed model.
//!
//! tract 0.23's Gemm multiplies by `alpha` and `beta` as float32 constants, so a float16 Gemm
//! (every classifier head after `convert_float_to_float16`) comes out float32 and the model
//! fails to load ("Output mismatch after rewiring expansion"). This Gemm makes the same
//! einsum, scaled by constants of the operands' own type.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::ops;
use tract_onnx::tract_hir::tract_core::ops::einsum::EinSum;

/// tract's ONNX reader with the replacements registered.
pub fn onnx() -> tract_onnx::Onnx {
    let mut onnx = tract_onnx::onnx();
    onnx.op_register.insert("Gemm", gemm);
    onnx
}

fn gemm(
    _ctx: &ParsingContext<'_>,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    Ok((
        expand(TypedGemm {
            alpha: node.get_attr_opt("alpha")?.unwrap_or(1.0),
            beta: node.get_attr_opt("beta")?.unwrap_or(1.0),
            trans_a: node.get_attr_opt("transA")?.unwrap_or(false),
            trans_b: node.get_attr_opt("transB")?.unwrap_or(false),
        }),
        vec![],
    ))
}

/// `alpha · op(A) · op(B) + beta · C`, all in A's element type.
#[derive(Debug, Clone)]
struct TypedGemm {
    alpha: f32,
    beta: f32,
    trans_a: bool,
    trans_b: bool,
}

impl TypedGemm {
    /// `wire` times the constant `factor`, in `wire`'s type (unchanged for a factor of 1).
    fn scaled(
        model: &mut TypedModel,
        name: String,
        wire: OutletId,
        factor: f32,
    ) -> TractResult<OutletId> {
        if factor == 1.0 {
            return Ok(wire);
        }
        let fact = model.outlet_fact(wire)?.clone();
        let constant = tensor0(factor)
            .cast_to_dt(fact.datum_type)?
            .into_owned()
            .broadcast_into_rank(fact.rank())?;
        let constant = model.add_const(format!("{name}.cst"), constant)?;
        Ok(model.wire_node(name, ops::math::mul(), &[constant, wire])?[0])
    }
}

impl Expansion for TypedGemm {
    fn name(&self) -> StaticName {
        "Gemm".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        if !(2..=3).contains(&inputs.len()) {
            bail!("Gemm takes 2 or 3 inputs, this one has {}", inputs.len());
        }
        check_output_arity(outputs, 1)?;
        for input in inputs {
            s.equals(&input.datum_type, &outputs[0].datum_type)?;
        }
        s.equals(&inputs[0].rank, 2)?;
        s.equals(&inputs[1].rank, 2)?;
        s.equals(&outputs[0].rank, 2)?;
        let (a_inner, a_outer) = if self.trans_a { (0, 1) } else { (1, 0) };
        let (b_outer, b_inner) = if self.trans_b { (0, 1) } else { (1, 0) };
        s.equals(&inputs[0].shape[a_outer], &outputs[0].shape[0])?;
        s.equals(&inputs[0].shape[a_inner], &inputs[1].shape[b_inner])?;
        s.equals(&inputs[1].shape[b_outer], &outputs[0].shape[1])?;
        Ok(())
    }

    fn wire(
        &self,
        name: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let axes = AxesMapping::for_numpy_matmul(2, self.trans_a, self.trans_b, false)?;
        let dt = model.outlet_fact(inputs[0])?.datum_type;
        let product =
            model.wire_node(format!("{name}.ab"), EinSum::new(axes, dt), &inputs[..2])?[0];
        let mut wire = Self::scaled(model, format!("{name}.alpha"), product, self.alpha)?;
        if let (Some(&c), true) = (inputs.get(2), self.beta != 0.0) {
            let mut c = c;
            while model.outlet_fact(c)?.rank() < 2 {
                c = model.wire_node(
                    format!("{name}.c_axis_{}", model.outlet_fact(c)?.rank()),
                    AxisOp::Add(0),
                    &[c],
                )?[0];
            }
            let c = Self::scaled(model, format!("{name}.beta"), c, self.beta)?;
            wire = model.wire_node(name, ops::math::add(), &[wire, c])?[0];
        }
        Ok(tvec!(wire))
    }
}
