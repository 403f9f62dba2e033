#!/usr/bin/env python3
"""Makes the deployed versions of the bundled models with the standard Python tools.

    python3 -m pip install onnxruntime==1.31.1 onnx==1.23.2 onnxconverter-common==1.16.0 pillow numpy
    python3 models/deployed/make_deployed.py            # every file in this folder
    python3 models/deployed/make_deployed.py --lite0-fp16   # also EfficientNet-Lite0 in fp16
    python3 models/deployed/make_deployed.py --lite0-per-channel   # and int8 with per-channel weights

What each tool makes (the same calls people use to deploy a network):
  *_fp16.onnx      onnxconverter_common.float16.convert_float_to_float16(model)
                   (float16 weights, activations, input and output)
  *_fp16io32.onnx  the same with keep_io_types=True (float16 inside, float32 input and output,
                   Cast nodes at the edges)
  *_bf16.onnx      every float activation rounded to bfloat16 by a Cast pair after its operator,
                   bfloat16 input (onnxconverter-common has no bfloat16 converter; this is how
                   mixed-precision exports store bfloat16 activations on a CPU-runnable graph)
  *_int8_qdq.onnx  onnxruntime.quantization.quantize_static(QuantFormat.QDQ), uint8 activations,
                   int8 weights, MinMax calibration on the bundled photos
  *_int8_qop.onnx  the same with QuantFormat.QOperator (QLinearConv, QLinearAdd, QGemm…)

Everything is deterministic: re-running gives byte-identical files (checked by sha256 in
PROVENANCE.md).
"""
import argparse
import os
import sys

import numpy as np
import onnx
from onnx import helper, version_converter, TensorProto
from PIL import Image
from onnxconverter_common import float16
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.dirname(HERE)


def mnist_fp32():
    """mnist-8 (opset 8, weights listed as inputs) as opset 13, which the quantizer needs."""
    m = onnx.load(os.path.join(MODELS, "mnist-8.onnx"))
    init = {t.name for t in m.graph.initializer}
    keep = [i for i in m.graph.input if i.name not in init]
    del m.graph.input[:]
    m.graph.input.extend(keep)
    m.ir_version = 7
    m = version_converter.convert_version(m, 13)
    return onnx.shape_inference.infer_shapes(m, strict_mode=True)


def lite0_fp32():
    return onnx.load(os.path.join(MODELS, "efficientnet_lite0.onnx"))


def photo(name, size, grey=False):
    im = Image.open(os.path.join(MODELS, name)).convert("L" if grey else "RGB")
    return im.resize(size, Image.BILINEAR)


class Photos(CalibrationDataReader):
    """The bundled photos as the model's sidecar preprocesses them (squashed)."""

    def __init__(self, model, kind):
        inp = model.graph.input[0]
        self.name = inp.name
        _, c, h, w = [d.dim_value for d in inp.type.tensor_type.shape.dim]
        xs = []
        if kind == "mnist":
            for f in ["digit2.png", "digit3.png", "digit7.png"]:
                a = np.asarray(photo(f, (w, h), grey=True), np.float32) / 255.0
                xs.append(a[None, None].copy())
        else:
            for f in ["chelsea.png", "coffee.png"]:
                a = (np.asarray(photo(f, (w, h)), np.float32) - 127.0) / 128.0
                xs.append(a.transpose(2, 0, 1)[None].copy())
        self.items = iter([{self.name: x} for x in xs])

    def get_next(self):
        return next(self.items, None)


def bf16_activations(model):
    """Every float activation stored as bfloat16: after each operator a Cast to bfloat16 takes
    the activation's own name, and a Cast back to float32 feeds the operators that read it. The
    input is bfloat16 too."""
    g = model.graph
    inp = g.input[0]
    float_input = inp.name + "_float"
    nodes = [helper.make_node("Cast", [inp.name], [float_input], to=TensorProto.FLOAT,
                              name=inp.name + "_to_float")]
    inp.type.tensor_type.elem_type = TensorProto.BFLOAT16
    renamed = {inp.name: float_input}
    outputs = {o.name for o in g.output}
    for node in g.node:
        node.input[:] = [renamed.get(i, i) for i in node.input]
        nodes.append(node)
        for k, out in enumerate(node.output):
            if not out or out in outputs:
                continue
            computed = out + "_float32"
            node.output[k] = computed
            back = out + "_from_bf16"
            nodes.append(helper.make_node("Cast", [computed], [out], to=TensorProto.BFLOAT16,
                                          name=out + "_to_bf16"))
            nodes.append(helper.make_node("Cast", [out], [back], to=TensorProto.FLOAT,
                                          name=out + "_from_bf16"))
            renamed[out] = back
    del g.node[:]
    g.node.extend(nodes)
    del g.value_info[:]
    return model


def sidecar(path):
    """The fp32 model's preprocessing sidecar beside each deployed version of it."""
    name = os.path.basename(path)
    base = "efficientnet_lite0" if name.startswith("efficientnet_lite0") else "mnist-8"
    src = os.path.join(MODELS, base + ".featscope.json")
    with open(src, "rb") as f, open(path[: -len(".onnx")] + ".featscope.json", "wb") as out:
        out.write(f.read())


def save(model, name):
    path = os.path.join(HERE, name)
    onnx.save(model, path)
    sidecar(path)
    print(path)


def quantize(model, kind, stem, formats=(("qdq", False), ("qop", False))):
    src = os.path.join(HERE, f".{stem}_fp32.onnx")
    onnx.save(model, src)
    for suffix, per_channel in formats:
        fmt = QuantFormat.QOperator if suffix == "qop" else QuantFormat.QDQ
        name = f"{stem}_int8_{suffix}{'_per_channel' if per_channel else ''}.onnx"
        path = os.path.join(HERE, name)
        quantize_static(
            src,
            path,
            Photos(model, kind),
            quant_format=fmt,
            per_channel=per_channel,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )
        sidecar(path)
        print(path)
    os.remove(src)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lite0-fp16", action="store_true",
                        help="also write efficientnet_lite0_fp16.onnx (9 MB, not committed)")
    parser.add_argument("--lite0-per-channel", action="store_true",
                        help="also write efficientnet_lite0_int8_qdq_per_channel.onnx: one weight "
                             "scale per output channel (5 MB, not committed)")
    args = parser.parse_args()
    mnist = mnist_fp32()
    save(float16.convert_float_to_float16(mnist_fp32()), "mnist-8_fp16.onnx")
    save(float16.convert_float_to_float16(mnist_fp32(), keep_io_types=True),
         "mnist-8_fp16io32.onnx")
    save(bf16_activations(mnist_fp32()), "mnist-8_bf16.onnx")
    quantize(mnist, "mnist", "mnist-8")
    lite0 = lite0_fp32()
    save(float16.convert_float_to_float16(lite0_fp32(), keep_io_types=True),
         "efficientnet_lite0_fp16io32.onnx")
    if args.lite0_fp16:
        save(float16.convert_float_to_float16(lite0_fp32()), "efficientnet_lite0_fp16.onnx")
    quantize(lite0, "lite0", "efficientnet_lite0")
    if args.lite0_per_channel:
        quantize(lite0, "lite0", "efficientnet_lite0", formats=(("qdq", True),))


if __name__ == "__main__":
    sys.exit(main())
