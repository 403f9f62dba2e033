"""ONNX Runtime's own values for tensors of a model, as float32 reference arrays.

    python3 ort_values.py MODEL INPUT.npy OUT_DIR TENSOR...

Runs MODEL on INPUT (float32, cast to the input's declared type) in a default session with every
node output as a graph output (as onnxruntime.quantization.qdq_loss_debug does: no fusion then
removes a tensor, so each is the graph's own), and writes OUT_DIR/<k>.npy for the k-th
tensor: float16 widened to float32, 8/16-bit integers dequantized with the scale and zero point
the graph gives them. Written apart from featscope's own reading of the graph: the quantized
tensors' scales are looked up here by operator, from the ONNX file through the onnx package.
"""
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

# Operator -> (index of the output scale input, index of the output zero-point input).
OUTPUT_SCALE = {
    "QuantizeLinear": (1, 2),
    "QLinearConv": (6, 7),
    "QLinearMatMul": (6, 7),
    "QLinearAdd": (6, 7),
    "QLinearMul": (6, 7),
    "QLinearGlobalAveragePool": (3, 4),
    "QLinearAveragePool": (3, 4),
    "QLinearSigmoid": (3, 4),
    "QLinearLeakyRelu": (3, 4),
    "QLinearConcat": (0, 1),
    "QGemm": (7, 8),
}
# Operators that move integers without changing what they mean.
PASS_THROUGH = {"MaxPool", "Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze", "Identity"}


def scales(model):
    consts = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant":
            consts[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    found = {}
    for node in model.graph.node:
        if node.op_type in OUTPUT_SCALE:
            s, z = OUTPUT_SCALE[node.op_type]
            if len(node.input) > s and node.input[s] in consts:
                zp = consts.get(node.input[z]) if len(node.input) > z else None
                found[node.output[0]] = (consts[node.input[s]], zp)
        elif node.op_type in PASS_THROUGH and node.input[0] in found:
            found[node.output[0]] = found[node.input[0]]
    for node in model.graph.node:
        if node.op_type == "DequantizeLinear" and node.input[0] not in found:
            zp = consts.get(node.input[2]) if len(node.input) > 2 else None
            found[node.input[0]] = (consts[node.input[1]], zp)
    return found


def main():
    model_path, input_path, out_dir, *tensors = sys.argv[1:]
    model = onnx.load(model_path)
    known = scales(model)
    everything = [o for n in model.graph.node for o in n.output if o]
    wanted = list(dict.fromkeys(everything + [o.name for o in model.graph.output] + tensors))
    del model.graph.output[:]
    for t in wanted:
        model.graph.output.append(onnx.helper.make_empty_tensor_value_info(t))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feed = session.get_inputs()[0]
    x = np.load(input_path)
    types = {"tensor(float)": np.float32, "tensor(float16)": np.float16,
             "tensor(double)": np.float64, "tensor(uint8)": np.uint8, "tensor(int8)": np.int8}
    dtype = types[feed.type]
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        x = np.clip(np.rint(x), info.min, info.max)
    values = session.run(tensors, {feed.name: x.astype(dtype)})
    os.makedirs(out_dir, exist_ok=True)
    for k, (name, v) in enumerate(zip(tensors, values)):
        if np.issubdtype(v.dtype, np.integer) and name in known:
            scale, zp = known[name]
            zp = 0 if zp is None else zp.astype(np.int64)
            v = ((v.astype(np.int64) - zp) * scale.astype(np.float64)).astype(np.float32)
        np.save(os.path.join(out_dir, f"{k}.npy"), v.astype(np.float32))


if __name__ == "__main__":
    main()
