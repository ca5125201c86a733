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
    "Transpose": "permute (on the host, before the input quantizer or after the last layer)",
    "Softmax": "Softmax (on the host, after the last layer)",
    "LogSoftmax": "LogSoftmax (on the host, after the last layer)",
    "Sigmoid": "Sigmoid (on the host, after the last layer)",
    "ArgMax": "argmax (on the host, after the last layer)",
    "TopK": "topk (on the host, after the last layer)",
}

# ops the host runs only after the last hardware layer, and the ops that may follow them there
HOST_ONLY = ("Softmax", "LogSoftmax", "Sigmoid", "ArgMax", "TopK")
HOST_OPS = HOST_ONLY + ("Mul", "Add", "Sub", "Div", "Relu", "Clip", "Reshape", "Flatten", "Transpose", "Identity", "Dropout")

_HINTS = {
    "AveragePool": "average pooling is not supported yet; use MaxPool2d",
    "GlobalAveragePool": "global average pooling is not supported yet",
    "ConvTranspose": "transposed convolutions are not supported",
    "Sigmoid": "or replace it by a quantized HardTanh, as LPYOLO does",
    "Tanh": "replace it by a quantized HardTanh",
    "Trunc": "QuantAvgPool / truncation is not supported yet",
}


def check_supported(model, supported: Collection[str]) -> None:
    """Raise one UnsupportedModelError listing every node hwgen cannot place (name, op type, hint): ops
    not in `supported`, and host-only ops (Softmax, ...) that something on the accelerator follows."""
    misplaced = {node.name: hint for node, hint in _misplaced(model)}
    bad = [(node, misplaced.get(node.name) or _HINTS.get(node.op_type, "no hardware mapping for this operator"))
           for node in model.graph.node if node.op_type not in supported or node.name in misplaced]
    if not bad:
        return
    lines = [f"  - node {node.name!r} (op {node.op_type}): {hint}" for node, hint in bad]
    raise UnsupportedModelError(
        f"{len(bad)} unsupported node{'s' if len(bad) > 1 else ''} in the model:\n" + "\n".join(lines),
        hint=f"supported ONNX ops: {', '.join(sorted(supported))}",
    )


def _misplaced(model):
    """Host-only nodes hwgen can place on neither side: with a node that is not a host op after them
    (the host's part must come after the accelerator's), or with no quantizer before them (before the
    input quantizer the host runs only ops it reproduces bit for bit, see hwgen.lower.host)."""
    consumers: dict[str, list] = {}
    producers = {name: node for node in model.graph.node for name in node.output}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    for node in model.graph.node:
        if node.op_type not in HOST_ONLY:
            continue
        later = _first_not_on_host(node, consumers)
        if not _after_input_quantizer(model, node, producers):
            yield node, ("no hardware layer computes it and it comes before the input quantizer, where the host runs "
                         "only Mul, Add, Sub, Div, Relu, Clip, Reshape, Flatten and Transpose (ops whose float32 results "
                         "it reproduces bit for bit)")
        elif later is not None:
            yield node, (f"no hardware layer computes it, so it runs on the host after the last hardware layer, but node "
                         f"{later.name!r} ({later.op_type}) follows it; move it to the model's end"
                         + (f" ({_HINTS[node.op_type]})" if node.op_type in _HINTS else ""))


def _first_not_on_host(node, consumers):
    todo, seen = list(node.output), set()
    while todo:
        for later in consumers.get(todo.pop(), []):
            if later.op_type not in HOST_OPS:
                return later
            if later.name not in seen:
                seen.add(later.name)
                todo.extend(later.output)
    return None


def _after_input_quantizer(model, node, producers) -> bool:
    todo, seen = [n for n in node.input if n in producers], set()
    while todo:
        earlier = producers[todo.pop()]
        if earlier.op_type in ("Quant", "BipolarQuant") and model.get_initializer(earlier.input[0]) is None:
            return True
        if earlier.name not in seen:
            seen.add(earlier.name)
            todo.extend(n for n in earlier.input if n in producers)
    return False
