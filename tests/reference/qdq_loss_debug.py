"""ONNX Runtime's own quantization debugger on one input: what `featscope compare` must agree with.

    python3 qdq_loss_debug.py FLOAT.onnx QDQ.onnx INPUT.npy

Prints JSON: for each activation onnxruntime.quantization.qdq_loss_debug pairs, its
`xmodel_err` (SQNR of the float model's tensor against the QDQ model's dequantized one) and
`qdq_err` (the QDQ model's tensor before and after its own QuantizeLinear/DequantizeLinear).
"""
import json
import os
import sys
import tempfile

import numpy as np
from onnxruntime.quantization import CalibrationDataReader
from onnxruntime.quantization.qdq_loss_debug import (
    collect_activations,
    compute_activation_error,
    create_activation_matching,
    modify_model_output_intermediate_tensors,
)


class One(CalibrationDataReader):
    def __init__(self, name, x):
        self.items = iter([{name: x}])

    def get_next(self):
        return next(self.items, None)


def main():
    float_path, qdq_path, input_path = sys.argv[1:]
    import onnx

    name = onnx.load(float_path).graph.input[0].name
    x = np.load(input_path).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        acts = {}
        for key, path in [("float", float_path), ("qdq", qdq_path)]:
            augmented = os.path.join(tmp, key + ".onnx")
            modify_model_output_intermediate_tensors(path, augmented)
            acts[key] = collect_activations(augmented, One(name, x))
    matched = create_activation_matching(acts["qdq"], acts["float"])
    errors = compute_activation_error(matched)
    print(json.dumps({k: {m: float(v) for m, v in e.items()} for k, e in errors.items()}))


if __name__ == "__main__":
    main()
