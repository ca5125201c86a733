"""Host-side ops: what the driver computes before the input quantizer and after the last hardware layer.

The accelerator streams integers; around it the host runs float tensor ops in numpy
(hwgen.driver.ops), in float32 and ONNX layout, one ONNX node each:
  - before the input quantizer (pre-processing, e.g. bnn_pynq's `2x - 1` or a mean/std
    normalization): Mul/Add/Sub/Div by constants, Relu, Clip, Reshape/Flatten, Transpose. numpy
    computes these exactly as onnxruntime does (IEEE float32), so the quantizer sees QONNX's very
    values and the input levels match bit for bit. Softmax, Sigmoid and the like are refused
    there: their float32 results differ in the last bit between implementations.
  - after the last hardware layer (post-processing): the same, plus Softmax, LogSoftmax, Sigmoid,
    ArgMax and TopK.
Each handler sees what its input is: a host tensor -> one more host op; an accelerator stream ->
the hardware handler, or, for an op no hardware layer implements, the start of the host's part
(a HostResult, which only host ops may follow; Walk.signal names the node otherwise).
"""

from __future__ import annotations

import numpy as np

from hwgen.driver.schema import ArgMaxOp, BinaryOp, ClipOp, ReluOp, ReshapeOp, SigmoidOp, SoftmaxOp, TopKOp, TransposeOp
from hwgen.errors import UnsupportedModelError
from hwgen.lower import handlers as hw
from hwgen.lower.values import Const, HostResult, HostTensor, Signal
from hwgen.lower.walk import Walk, _where


def elementwise(walk: Walk, node):
    a, b = walk.value(node, 0), walk.value(node, 1)
    if not isinstance(a, HostTensor) and not isinstance(b, HostTensor):
        return hw.elementwise(walk, node)
    x, const_pos = (b, 0) if isinstance(a, Const) else (a, 1)
    if not isinstance(walk.value(node, const_pos), Const):
        raise UnsupportedModelError(f"both operands of this {node.op_type} are computed tensors; the host applies "
                                    "constants only", where=_where(node))
    c = np.asarray(walk.value(node, const_pos).value, dtype=np.float32)  # ONNX computes in the tensor's float32
    if np.broadcast_shapes(x.shape, c.shape) != tuple(x.shape):
        raise UnsupportedModelError(f"the constant of shape {c.shape} broadcasts the {x.shape} tensor to a larger one",
                                    where=_where(node))
    return x.then(BinaryOp(op=node.op_type.lower(), value=c, reverse=const_pos == 0))


def reshape(walk: Walk, node):
    x = walk.value(node, 0)
    shape = walk.shape(node.output[0])
    op = ReshapeOp(op="reshape", shape=list(shape))
    if isinstance(x, (HostTensor, Signal)) and (not shape or shape[0] != 1):
        raise UnsupportedModelError(f"reshape of {x.shape} to {shape} changes the batch axis; hwgen runs frames "
                                    "as a batch of the model's batch-1 tensors", where=_where(node),
                                    hint="keep the batch dimension first, e.g. x.view(x.shape[0], -1)")
    if isinstance(x, HostTensor):
        return x.then(op, shape)
    if isinstance(x, Signal) and len(shape) != 2:
        return _to_host(walk, node, x, op, shape, f"the accelerator reshapes only to (1, features), not to {shape}")
    return hw.reshape(walk, node)


def transpose(walk: Walk, node):
    x = walk.value(node, 0)
    if isinstance(x, Const):  # e.g. transposed weights of the TorchScript exporter
        return _transposed_const(x, walk.attr(node, "perm"))
    perm = [int(p) for p in walk.attr(node, "perm", list(reversed(range(len(x.shape)))))]
    if perm[:1] != [0]:
        raise UnsupportedModelError(f"perm {perm} moves the batch axis; the host runs frames as a batch",
                                    where=_where(node), hint="keep axis 0 first")
    op, shape = TransposeOp(op="transpose", perm=perm), walk.shape(node.output[0])
    if isinstance(x, HostTensor):
        return x.then(op, shape)
    return _to_host(walk, node, walk.signal(node), op, shape, "no hardware layer transposes a tensor")


def _transposed_const(c: Const, perm) -> Const:
    def t(v):
        return None if v is None else np.broadcast_to(v, c.value.shape).transpose(perm)

    return Const(t(c.value), level=t(c.level), scale=t(c.scale), zero=t(c.zero))


def relu_clip(walk: Walk, node):
    x = walk.value(node, 0)
    if not isinstance(x, HostTensor):
        return hw.relu(walk, node) if node.op_type == "Relu" else hw.clip(walk, node)
    if node.op_type == "Relu":
        return x.then(ReluOp(op="relu"))
    bound = [float(np.float32(walk.const(node, i, f"the Clip {what}").value.item())) if len(node.input) > i and node.input[i]
             else default for i, what, default in ((1, "minimum", -np.inf), (2, "maximum", np.inf))]
    return x.then(ClipOp(op="clip", min=bound[0], max=bound[1]))


def host_only(walk: Walk, node):
    """Softmax, LogSoftmax, Sigmoid, ArgMax, TopK: on the host, after the last hardware layer."""
    x = walk.value(node, 0)
    if not isinstance(x, (HostResult, Signal)):  # hwgen.frontend.check names the model input case first
        raise UnsupportedModelError(f"the input of this {node.op_type} is not computed by the accelerator", where=_where(node))
    op = _host_only_op(walk, node, x.shape)
    shape = walk.shape(node.output[0])
    if node.op_type == "TopK":  # two outputs: values and indices, each the end of its own host chain
        indices = {**op, "output": "indices"}
        walk.values[node.output[1]] = (x.then(indices, walk.shape(node.output[1])) if isinstance(x, HostResult) else
                                       _to_host(walk, node, x, indices, walk.shape(node.output[1]), _NO_HARDWARE))
    if isinstance(x, HostResult):
        return x.then(op, shape)
    return _to_host(walk, node, x, op, shape, _NO_HARDWARE)


_NO_HARDWARE = "no hardware layer computes it"


def _host_only_op(walk: Walk, node, shape) -> dict:
    kind = node.op_type
    if kind == "Sigmoid":
        return SigmoidOp(op="sigmoid")
    opset = _opset(walk)
    softmax = kind in ("Softmax", "LogSoftmax")
    default = (-1 if opset >= 13 else 1) if softmax else -1 if kind == "TopK" else 0  # ONNX's defaults
    axis = int(walk.attr(node, "axis", default))
    axis = axis + len(shape) if axis < 0 else axis
    if axis == 0:
        raise UnsupportedModelError(f"{kind} over axis 0, the batch axis of the {shape} tensor: the host runs frames as a "
                                    "batch, and over a batch of 1 it is meaningless", where=_where(node),
                                    hint="apply it over the features (axis=1 or -1)")
    if softmax:
        return SoftmaxOp(op="softmax" if kind == "Softmax" else "log_softmax", axis=axis, coerced=opset < 13)
    if kind == "ArgMax":
        return ArgMaxOp(op="argmax", axis=axis, keepdims=bool(walk.attr(node, "keepdims", 1)),
                       select_last_index=bool(walk.attr(node, "select_last_index", 0)))
    if not walk.attr(node, "sorted", 1):
        raise UnsupportedModelError("TopK with sorted=0 leaves the order of its outputs open (onnxruntime returns "
                                    "them unsorted), so the host cannot reproduce it", where=_where(node),
                                    hint="export with sorted=True (torch.topk's default)")
    k = walk.const(node, 1, "k").value
    if k.size != 1 or not 1 <= int(k.flat[0]) <= shape[axis]:
        raise UnsupportedModelError(f"k must be one integer in 1..{shape[axis]}, not {k.tolist()}", where=_where(node))
    return TopKOp(op="topk", k=int(k.flat[0]), axis=axis, largest=bool(walk.attr(node, "largest", 1)), output="values")


def _opset(walk: Walk) -> int:
    return next((o.version for o in walk.model.model.opset_import if o.domain in ("", "ai.onnx")), 13)


def _to_host(walk: Walk, node, x: Signal, op: dict, shape, why: str) -> HostResult:
    """The accelerator's part ends at `x`; the host computes `op` on its output."""
    walk.notes.append(f"node {node.name!r} ({node.op_type}): on the host, after the last hardware layer ({why})")
    return HostResult(shape=tuple(shape), ops=(op,), source=x, node=f"{node.name!r} ({node.op_type})", why=why)


HANDLERS = {
    **{op: elementwise for op in ("Add", "Sub", "Mul", "Div")},
    "Relu": relu_clip,
    "Clip": relu_clip,
    "Reshape": reshape,
    "Flatten": reshape,
    "Transpose": transpose,
    **{op: host_only for op in ("Softmax", "LogSoftmax", "Sigmoid", "ArgMax", "TopK")},
}
