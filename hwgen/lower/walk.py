"""Lower a cleaned QONNX model to a dataflow graph in one walk over its nodes.

Each ONNX op has a handler `(walk, node) -> value of its output`; values are `Const` or
`Signal` (see values.py). Linear ops extend a signal's float ops, a MatMul starts a pending
MVAU, and a quantizer turns the pending accumulator (or a stream) into thresholds. So
batch-norm, biases, scales and ReLU are absorbed into thresholds without rewriting the ONNX
graph, and every decision is made from values the model itself defines. Float ops before the
input quantizer and after the last hardware layer become host ops (`HostTensor`, host.py).

Why a walk and not rewrite passes (ARCHITECTURE.md, "lower"): every pass would have to keep a valid ONNX
graph of float ops between rewrites; here each handler is a small function of one node,
and no intermediate graph exists to go stale.
"""

from __future__ import annotations

import numpy as np
from onnx import helper

from hwgen.datatypes import DataType
from hwgen.errors import UnsupportedModelError
from hwgen.ir.graph import DataflowGraph, HostInput, HostOutput
from hwgen.ir.layers import MVAU
from hwgen.lower.values import Const, FloatInput, HostResult, PendingMVAU, Signal


class Walk:
    def __init__(self, model, name: str = "model"):
        self.model = model
        self.name = name
        self.values: dict[str, object] = {}
        self.layers: list = []
        self.notes: list[str] = []
        self.host_input: HostInput | None = None
        self._count: dict[str, int] = {}

    # -- helpers for handlers -------------------------------------------------------
    def new_name(self, kind: str) -> str:
        i = self._count.get(kind, 0)
        self._count[kind] = i + 1
        return f"{kind}_{i}"

    def shape(self, tensor: str) -> tuple[int, ...]:
        shape = self.model.get_tensor_shape(tensor)
        return tuple(int(d) for d in shape) if shape is not None else ()

    def value(self, node, i: int):
        name = node.input[i]
        if name not in self.values:
            init = self.model.get_initializer(name)
            if init is None:
                raise UnsupportedModelError(f"input {i} ({name!r}) has no known value", where=_where(node))
            self.values[name] = Const(np.asarray(init, dtype=np.float64))
        return self.values[name]

    def const(self, node, i: int, what: str) -> Const:
        value = self.value(node, i)
        if not isinstance(value, Const):
            raise UnsupportedModelError(f"{what} (input {i}) must be a constant, not a computed tensor", where=_where(node))
        return value

    def signal(self, node, i: int = 0) -> Signal:
        value = self.value(node, i)
        if isinstance(value, FloatInput):
            raise UnsupportedModelError(
                f"the model input reaches this {node.op_type} unquantized",
                where=_where(node),
                hint="quantize the input first, e.g. a QuantIdentity(bit_width=8) as the model's first layer; "
                     "float pre-processing before it (Mul/Add/Sub/Div by constants: a normalization) then runs on the host. "
                     "If the input values are integers already (uint8 pixels), annotate the input tensor with their "
                     "QONNX datatype instead: ModelWrapper.set_tensor_datatype(input_name, DataType['UINT8'])",
            )
        if isinstance(value, HostResult):  # neither side can place it: name it
            raise UnsupportedModelError(
                f"{value.why}, so it can run only on the host, after the last hardware layer; but its output reaches "
                f"node {node.name!r} ({node.op_type}), which hwgen maps onto the accelerator",
                where=f"node {value.node}",
                hint="move it after the model's last quantized layer (the host then applies it), or remove it",
            )
        if not isinstance(value, Signal):
            raise UnsupportedModelError(f"input {i} must be a computed tensor, not a constant", where=_where(node))
        return value

    def channel_vector(self, node, const: Const, sig: Signal, what: str) -> np.ndarray:
        """A constant operand as one value per channel in stream order (0-d when the same for all)."""
        value = np.broadcast_to(const.value, np.broadcast_shapes(const.value.shape, sig.shape)).astype(np.float64)
        if np.all(value == value.flat[0]):
            return np.asarray(value.flat[0], dtype=np.float64)
        if len(sig.shape) == 2:
            vector = value.reshape(-1)
            return vector if sig.perm is None else vector[sig.perm]
        if len(sig.shape) != 4:
            raise UnsupportedModelError(f"{what} varies across a {len(sig.shape)}-D tensor {sig.shape}", where=_where(node))
        per_channel = value[0].reshape(sig.shape[1], -1)
        if not np.all(per_channel == per_channel[:, :1]):
            raise UnsupportedModelError(f"{what} varies across the pixels of a feature map", where=_where(node),
                                        hint="per-channel parameters are supported, per-pixel ones are not")
        return per_channel[:, 0].copy()

    def attr(self, node, name: str, default=None):
        for a in node.attribute:
            if a.name == name:
                value = helper.get_attribute_value(a)
                return value.decode() if isinstance(value, bytes) else value
        return default

    # -- finishing layers ---------------------------------------------------------
    def finish_mvau(self, pending: PendingMVAU, weights: np.ndarray, acc_dtype: DataType, out_dtype: DataType,
                    thresholds: np.ndarray | None, out_min: int) -> str:
        name = self.new_name("MVAU")
        mh, mw = weights.shape
        self.layers.append(MVAU(
            name=name, mw=mw, mh=mh, simd=1, pe=1, in_dtype=pending.in_dtype,
            w_dtype=DataType.for_values(weights), acc_dtype=acc_dtype, out_dtype=out_dtype,
            weights=weights, thresholds=thresholds, out_min=out_min, vectors=pending.vectors,
        ))
        self.notes.append(f"{name}: from node {pending.node!r}, {mh}x{mw}, weights {DataType.for_values(weights)}, accumulator {acc_dtype}")
        return name

    def finish(self, out_tensor: str) -> DataflowGraph:
        value, post_ops, result_shape = self.values.get(out_tensor), (), None
        if isinstance(value, HostResult):  # the host's post-processing after the accelerator's output
            value, post_ops, result_shape = value.source, value.ops, value.shape
        if not isinstance(value, Signal):
            raise UnsupportedModelError("the model output is not computed from its input", where=f"output {out_tensor!r}")
        if self.host_input is None or not self.layers and not isinstance(value.source, PendingMVAU):
            raise UnsupportedModelError("the model has no layer to accelerate", where=f"output {out_tensor!r}",
                                        hint="hwgen needs at least one QuantLinear")
        if isinstance(value.source, PendingMVAU):  # last layer: stream the raw accumulator
            p = value.source
            acc = DataType.smallest(value.lo.min(), value.hi.max())
            self.finish_mvau(p, p.weights, acc, acc, None, 0)
            dtype = acc
        else:
            dtype = value.dtype
        elems = int(np.prod(value.shape[1:]))
        layout = "nhwc" if len(value.shape) == 4 else "flat"
        perm = None if value.perm is None else tuple(int(i) for i in value.perm)
        graph = DataflowGraph(
            layers=self.layers, input=self.host_input,
            output=HostOutput(shape=value.shape, dtype=dtype, elems=elems, ops=value.ops, layout=layout, perm=perm,
                              post_ops=post_ops, result_shape=result_shape or value.shape),
            model_name=self.name, notes=self.notes,
        )
        graph.check()
        return graph


def accumulator_range(weights: np.ndarray, in_range: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Exact per-output-channel bounds of W @ x for x[i] in [lo[i], hi[i]]."""
    lo = np.broadcast_to(in_range[0], (weights.shape[1],)).astype(np.int64)
    hi = np.broadcast_to(in_range[1], (weights.shape[1],)).astype(np.int64)
    w = weights.astype(np.int64)
    a, b = w * lo, w * hi
    return np.minimum(a, b).sum(axis=1), np.maximum(a, b).sum(axis=1)


def _where(node) -> str:
    return f"node {node.name!r} ({node.op_type})"
