"""Check that every node of a cleaned QONNX model is one hwgen can map, naming all that are not.

Which ops hwgen maps is the lowering's handler table (hwgen.lower.HANDLERS); the build's load step
passes it to check_supported.
"""

from __future__ import annotations

from collections.abc import Collection

from hwgen.errors import UnsupportedModelError

# op type -> what it may come from in Brevitas/PyTorch, for every op hwgen.lower has a handler for
# (tests/frontend/test_check.py keeps the two the same)
OP_ORIGINS: dict[str, str] = {
    "Quant": "QuantIdentity / QuantReLU / QuantHardTanh activations, quantized weights and biases",
    "BipolarQuant": "bipolar (1-bit) activations and weights",
    "MatMul": "QuantLinear",
    "Conv": "QuantConv2d (2-D, groups=1, no dilation)",
    "MaxPool": "MaxPool2d (floor mode)",
    "Gemm": "QuantLinear",
    "Add": "bias, constant offsets",
    "Sub": "constant offsets",
    "Mul": "constant scales",
    "Div": "constant scales",
    "BatchNormalization": "BatchNorm1d / BatchNorm2d",
    "Relu": "QuantReLU (with its quantizer)",
    "Clip": "HardTanh (with a quantizer after it)",
    "Flatten": "Flatten",
    "Reshape": "Flatten / view",
    "Identity": "Identity",
    "Dropout": "Dropout (inference: identity)",
}

_HINTS = {
    "AveragePool": "average pooling is not supported yet; use MaxPool2d",
    "GlobalAveragePool": "global average pooling is not supported yet",
    "ConvTranspose": "transposed convolutions are not supported",
    "Sigmoid": "replace it by a quantized HardTanh (as LPYOLO does) or apply it on the host",
    "Tanh": "replace it by a quantized HardTanh",
    "Softmax": "remove it from the exported model; argmax is unchanged and the host can apply it",
    "LogSoftmax": "remove it from the exported model; argmax is unchanged and the host can apply it",
    "Trunc": "QuantAvgPool / truncation is not supported yet",
}


def check_supported(model, supported: Collection[str]) -> None:
    """Raise one UnsupportedModelError listing every node whose op is not in `supported` (name, op type, hint)."""
    bad = [node for node in model.graph.node if node.op_type not in supported]
    if not bad:
        return
    lines = []
    for node in bad:
        hint = _HINTS.get(node.op_type, "no hardware mapping for this operator")
        lines.append(f"  - node {node.name!r} (op {node.op_type}): {hint}")
    raise UnsupportedModelError(
        f"{len(bad)} unsupported node{'s' if len(bad) > 1 else ''} in the model:\n" + "\n".join(lines),
        hint=f"supported ONNX ops: {', '.join(sorted(supported))}",
    )
