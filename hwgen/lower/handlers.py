"""One handler per supported ONNX op: `handler(walk, node) -> value of the node's output`."""

from __future__ import annotations

import numpy as np

from hwgen.datatypes import DataType
from hwgen.driver.ops import ROUNDING_MODES, quant_int
from hwgen.driver.schema import BipolarQuantOp, ClipOp, IntegerOp, QuantOp, ReluOp
from hwgen.errors import UnsupportedModelError
from hwgen.ir.graph import HostInput
from hwgen.ir.layers import Thresholding
from hwgen.lower import thresholds as thr
from hwgen.lower.values import Const, FloatInput, PendingMVAU, Signal, affine
from hwgen.lower.walk import Walk, _where, accumulator_range


# -- quantizers ----------------------------------------------------------------------
def quant_spec(walk: Walk, node) -> dict:
    """The quantizer of a Quant / BipolarQuant node as a driver op dict."""
    scale = walk.const(node, 1, "the scale")
    if np.any(scale.value <= 0):
        raise UnsupportedModelError("quantizer scales must be positive", where=_where(node))
    if node.op_type == "BipolarQuant":
        return BipolarQuantOp(op="bipolar_quant", scale=scale.value)
    zero = walk.const(node, 2, "the zero point").value
    bits = walk.const(node, 3, "the bit width").value
    if bits.size != 1 or bits.flat[0] != int(bits.flat[0]) or not 1 <= bits.flat[0] <= 32:
        raise UnsupportedModelError(f"the bit width must be one integer in 1..32, not {bits.tolist()}", where=_where(node))
    mode = str(walk.attr(node, "rounding_mode", "ROUND")).upper()
    if mode not in ROUNDING_MODES:
        raise UnsupportedModelError(f"rounding mode {mode!r} is not one of {', '.join(ROUNDING_MODES)}", where=_where(node))
    return QuantOp(op="quant", scale=scale.value, zero_point=zero, bits=int(bits.flat[0]), signed=bool(walk.attr(node, "signed", 1)),
                   narrow=bool(walk.attr(node, "narrow", 0)), rounding_mode=mode)


def quant(walk: Walk, node):
    x = walk.value(node, 0)
    q = quant_spec(walk, node)
    if isinstance(x, Const):  # a quantized constant: weights or bias
        level = quant_int(x.value, q)
        zero = np.asarray(q.get("zero_point", 0.0))
        return Const((level - zero) * q["scale"], level=level, scale=np.asarray(q["scale"]), zero=zero)
    if isinstance(x, FloatInput):
        return quantize_input(walk, node, x, q)
    return quantize_signal(walk, node, walk.signal(node), q)


def _scalar(node, q: dict, what: str) -> dict:
    q = dict(q)
    for key in ("scale", "zero_point"):
        if key in q:
            v = np.asarray(q[key], dtype=np.float64)
            if not np.all(v == v.flat[0]):
                raise UnsupportedModelError(f"{what} must have one {key.replace('_', ' ')} per tensor, found {v.size}", where=_where(node))
            q[key] = float(v.flat[0])
    return q


def quantize_input(walk: Walk, node, x: FloatInput, q: dict) -> Signal:
    """The input quantizer runs on the host (float32, as QONNX), after the float ops before it
    (`x.ops`, see hwgen.lower.host); the stream carries its levels."""
    if walk.host_input is not None:
        raise UnsupportedModelError("the model input is quantized twice", where=_where(node))
    q = _scalar(node, q, "the input quantizer")
    lo, hi = thr.quant_levels(q)
    bipolar = (lo, hi) == (-1, 1) and (q["op"] == "bipolar_quant" or q["bits"] == 1)
    dtype = DataType.bipolar() if bipolar else DataType.smallest(lo, hi)
    shape = walk.shape(node.output[0])
    _streamable(node, shape)
    walk.host_input = HostInput(shape=walk.shape(walk.model.graph.input[0].name), quant=q, dtype=dtype,
                                elems=int(np.prod(shape[1:])), layout="nhwc" if len(shape) == 4 else "flat", pre_ops=x.ops)
    if x.ops:
        walk.notes.append(f"input: host pre-processing before node {node.name!r}: {', '.join(op['op'] for op in x.ops)} (float32)")
    zero = q.get("zero_point", 0.0)
    return Signal(shape=shape, source="input", dtype=dtype, lo=np.asarray(lo), hi=np.asarray(hi),
                  ops=(affine(q["scale"], -zero * q["scale"]),))


def integer_input(walk: Walk, name: str, datatype) -> Signal:
    """An input without quantizer whose QONNX datatype annotation is an integer type (FINN's convention,
    e.g. `set_tensor_datatype(input, DataType["UINT8"])` for camera pixels): its values are the stream's
    levels at scale 1. QONNX computes with the values as given, so the host checks them, nothing more."""
    lo, hi = int(datatype.min()), int(datatype.max())
    bipolar = datatype.name == "BIPOLAR"
    dtype = DataType.bipolar() if bipolar else DataType.smallest(lo, hi)
    shape = walk.shape(name)
    _streamable(f"input {name!r}", shape)
    q = IntegerOp(op="integer", datatype=datatype.name, min=lo, max=hi, bipolar=bipolar, scale=1.0, zero_point=0.0)
    walk.host_input = HostInput(shape=shape, quant=q, dtype=dtype, elems=int(np.prod(shape[1:])),
                                layout="nhwc" if len(shape) == 4 else "flat")
    walk.notes.append(f"input {name!r}: annotated {datatype.name}, no quantizer: its values stream as {dtype} levels")
    return Signal(shape=shape, source="input", dtype=dtype, lo=np.asarray(lo), hi=np.asarray(hi), ops=(affine(1.0, 0.0),))


def _streamable(node, shape) -> None:
    """The accelerator streams (1, features) vectors and (1, C, H, W) feature maps (channels last); other ranks have no
    stream order the layers agree on."""
    if len(shape) not in (2, 4):
        raise UnsupportedModelError(f"the quantized input has shape {tuple(shape)}: hwgen streams (1, features) vectors and "
                                    f"(1, C, H, W) feature maps", where=node if isinstance(node, str) else _where(node),
                                    hint="declare the model input as (1, features) or (1, C, H, W), or reshape it to one of "
                                         "these before the input quantizer")


def quantize_signal(walk: Walk, node, x: Signal, q: dict) -> Signal:
    """A quantizer on a computed tensor becomes thresholds: in its MVAU, or standalone."""
    channels = x.channels
    if x.perm is not None:  # per-feature quantizer parameters, in stream order
        q = {k: (np.asarray(v).reshape(-1)[x.perm] if k in ("scale", "zero_point") and np.size(v) == channels else v)
             for k, v in q.items()}
    lo = np.broadcast_to(x.lo, (channels,)).astype(np.int64)
    hi = np.broadcast_to(x.hi, (channels,)).astype(np.int64)
    ops = _per_channel(x.ops, channels)
    falling = thr.decreasing_channels(ops, q, lo, hi)
    sign = np.where(falling, -1, 1)
    if isinstance(x.source, PendingMVAU):
        weights = x.source.weights * sign[:, None]  # negating a row turns its slope positive
        lo, hi = np.where(falling, -hi, lo), np.where(falling, -lo, hi)
        if falling.any():
            walk.notes.append(f"node {node.name!r}: {int(falling.sum())} channels with negative slope, weights negated")
    elif falling.any():
        raise UnsupportedModelError(
            f"{int(falling.sum())} channels decrease with their input (a negative scale between two quantizers)",
            where=_where(node), hint="fold the negative scale into the preceding QuantLinear",
        )
    ts = thr.derive(ops, q, lo, hi, sign)
    out_dtype = DataType.bipolar() if ts.bipolar else DataType.smallest(ts.out_min, ts.out_max)
    if isinstance(x.source, PendingMVAU):
        acc_dtype = DataType.smallest(min(lo.min(), ts.thresholds.min()), max(hi.max(), ts.thresholds.max()))
        name = walk.finish_mvau(x.source, weights, acc_dtype, out_dtype, ts.thresholds, ts.out_min)
    elif _is_identity(ts, x, out_dtype):
        walk.notes.append(f"node {node.name!r}: quantizer maps its input levels to themselves, no layer needed")
        name = x.source
    else:
        name = walk.new_name("Thresholding")
        table, rows, vectors = ts.thresholds, channels, x.pixels
        if vectors > 1 and np.all(table == table[:1]):  # the same thresholds everywhere: fold over all elements
            table, rows, vectors = np.repeat(table[:1], channels * vectors, axis=0), channels * vectors, 1
        walk.layers.append(Thresholding(name=name, channels=rows, pe=1, in_dtype=x.dtype, out_dtype=out_dtype,
                                        thresholds=table, out_min=ts.out_min, vectors=vectors))
    zero = q.get("zero_point", 0.0)
    scale = np.asarray(q["scale"], dtype=np.float64)
    return Signal(shape=walk.shape(node.output[0]), source=name, dtype=out_dtype, lo=ts.out_lo, hi=ts.out_hi,
                  ops=(affine(_flat(scale, channels), _flat(-np.asarray(zero) * scale, channels)),), perm=x.perm)


def _is_identity(ts: thr.ThresholdSet, x: Signal, out_dtype: DataType) -> bool:
    if out_dtype != x.dtype or ts.bipolar:
        return False
    lo, hi = int(np.min(x.lo)), int(np.max(x.hi))
    expected = np.arange(lo + 1, hi + 1)
    return ts.out_min == lo and ts.thresholds.shape[1] == len(expected) and bool(np.all(ts.thresholds == expected))


def _flat(v: np.ndarray, channels: int) -> np.ndarray:
    """A quantizer parameter as a scalar or a (channels,) vector."""
    v = np.asarray(v, dtype=np.float64)
    if v.size == 1:
        return v.reshape(())
    if v.size != channels:
        raise UnsupportedModelError(f"a parameter with {v.size} values cannot apply per channel to {channels} channels")
    return v.reshape(channels)


def _per_channel(ops, channels: int):
    """Ops with every parameter a scalar or a (channels,) vector."""
    out = []
    for op in ops:
        op = dict(op)
        for key in ("mul", "add", "scale", "zero_point"):
            if key in op:
                op[key] = _flat(op[key], channels)
        out.append(op)
    return tuple(out)


# -- linear algebra ------------------------------------------------------------------
def matmul(walk: Walk, node):
    x = walk.signal(node, 0)
    w = walk.const(node, 1, "the weight matrix")
    gemm = node.op_type == "Gemm"
    if gemm and walk.attr(node, "transA", 0):
        raise UnsupportedModelError("Gemm with transA=1 is not supported", where=_where(node))
    if len(x.shape) != 2:
        raise UnsupportedModelError(f"{node.op_type} input must be (batch, features), not {x.shape}", where=_where(node),
                                    hint="flatten feature maps before a QuantLinear")
    if isinstance(x.source, PendingMVAU) or not x.is_affine:
        what = (f"the output of linear node {x.source.node!r} with no activation quantizer in between"
                if isinstance(x.source, PendingMVAU) else "an unquantized activation")
        raise UnsupportedModelError(f"its input is {what}", where=_where(node),
                                    hint="put a quantized activation (QuantReLU, QuantIdentity, QuantHardTanh) before every QuantLinear")
    if w.level is None:
        raise UnsupportedModelError("the weights are not quantized", where=_where(node),
                                    hint="use brevitas.nn.QuantLinear (a float nn.Linear cannot run on integer hardware)")
    level = w.level - np.broadcast_to(w.zero, w.level.shape)
    scale = np.broadcast_to(w.scale, w.level.shape).astype(np.float64)
    if gemm and walk.attr(node, "transB", 0):
        level, scale = level.T, scale.T
    if level.ndim != 2 or level.shape[0] != x.shape[1]:
        raise UnsupportedModelError(f"weights of shape {level.shape} do not match input {x.shape}", where=_where(node))
    if not np.all(scale == scale[:1]):
        raise UnsupportedModelError("weight scales vary along the input dimension", where=_where(node),
                                    hint="use per-tensor or per-output-channel weight scaling")
    if not np.all(level == np.round(level)):
        raise UnsupportedModelError("weight zero points are not integers", where=_where(node))
    weights = np.round(level).astype(np.int64).T  # (mh, mw)
    if x.perm is not None:  # the features stream in (h, w, c) order: reorder the columns alike
        weights = weights[:, x.perm]
    bias = None
    if gemm and len(node.input) > 2 and node.input[2]:
        bias = float(walk.attr(node, "beta", 1.0)) * walk.const(node, 2, "the Gemm bias").value
    alpha = float(walk.attr(node, "alpha", 1.0)) if gemm else 1.0
    mw = weights.shape[1]
    return linear(walk, node, x, weights, alpha * scale[0], bias, np.broadcast_to(x.lo, (mw,)), np.broadcast_to(x.hi, (mw,)), vectors=1)


def linear(walk: Walk, node, x: Signal, weights: np.ndarray, w_scale, bias, lo_in, hi_in, vectors: int, tile: int = 1) -> Signal:
    """A pending MVAU: acc = weights @ levels; value = mul * w_scale * acc + w_scale * (weights @ offsets) + bias.

    weights (mh, mw) are in stream order; lo_in/hi_in bound each of the mw inputs; the input's
    per-channel offsets repeat `tile` times along mw (the kernel positions of a convolution).
    """
    (op,) = x.ops or (affine(1.0, 0.0),)
    mul, add = np.asarray(op["mul"]), np.asarray(op["add"])
    if mul.size != 1 and not np.all(mul == mul.flat[0]):
        raise UnsupportedModelError("the input to this layer has per-feature scales", where=_where(node),
                                    hint="use per-tensor activation scaling before a QuantLinear / QuantConv2d")
    mw = weights.shape[1]
    add_in = np.tile(np.broadcast_to(add, (mw // tile,)), tile)
    out_mul = float(mul.flat[0]) * w_scale
    out_add = w_scale * (weights.astype(np.float64) @ add_in)
    if bias is not None:
        out_add = out_add + np.broadcast_to(np.asarray(bias, dtype=np.float64).reshape(-1), out_add.shape)
    lo, hi = accumulator_range(weights, (lo_in, hi_in))
    pending = PendingMVAU(node=node.name, weights=weights, in_dtype=x.dtype, vectors=vectors)
    return Signal(shape=walk.shape(node.output[0]), source=pending, dtype=DataType.smallest(lo.min(), hi.max()),
                  lo=lo, hi=hi, ops=(affine(out_mul, out_add),))


# -- element-wise ----------------------------------------------------------------------
def _const_and_signal(walk: Walk, node):
    a, b = walk.value(node, 0), walk.value(node, 1)
    if isinstance(a, Const) and isinstance(b, Const):
        return None
    if isinstance(a, Const):
        return b if isinstance(b, Signal) else walk.signal(node, 1), a, 0
    return walk.signal(node, 0), walk.const(node, 1, f"the other {node.op_type} operand"), 1


def elementwise(walk: Walk, node):
    pair = _const_and_signal(walk, node)
    op = node.op_type
    if pair is None:  # constant folding left this (e.g. a Mul on a quantized bias)
        a, b = walk.value(node, 0).value, walk.value(node, 1).value
        return Const({"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op](a, b))
    x, c, const_pos = pair
    v = walk.channel_vector(node, c, x, f"the {op} constant")
    if op == "Add":
        return x.then(affine(1.0, v))
    if op == "Mul":
        return x.then(affine(v, 0.0))
    if op == "Sub":
        return x.then(affine(1.0, -v) if const_pos == 1 else affine(-1.0, v))
    if op == "Div":
        if const_pos == 0:
            raise UnsupportedModelError("division by a computed tensor", where=_where(node))
        if np.any(v == 0):
            raise UnsupportedModelError("division by zero", where=_where(node))
        return x.then(affine(1.0 / v, 0.0))
    raise AssertionError(op)


def batchnorm(walk: Walk, node):
    x = walk.signal(node, 0)
    def param(i: int) -> np.ndarray:  # (C,) along axis 1 of (N, C, ...)
        value = walk.const(node, i, "a batch-norm parameter").value.reshape(-1)
        return walk.channel_vector(node, Const(value.reshape((1, -1) + (1,) * (len(x.shape) - 2))), x, "batch-norm parameter")

    gamma, beta, mean, var = (param(i) for i in (1, 2, 3, 4))
    eps = float(walk.attr(node, "epsilon", 1e-5))
    inv = gamma / np.sqrt(var + eps)
    return x.then(affine(inv, beta - mean * inv))


def relu(walk: Walk, node):
    return walk.signal(node).then(ReluOp(op="relu"))


def clip(walk: Walk, node):
    x = walk.signal(node)
    lo = walk.const(node, 1, "the Clip minimum").value.item() if len(node.input) > 1 and node.input[1] else -np.inf
    hi = walk.const(node, 2, "the Clip maximum").value.item() if len(node.input) > 2 and node.input[2] else np.inf
    return x.then(ClipOp(op="clip", min=float(lo), max=float(hi)))


def passthrough(walk: Walk, node):
    return walk.value(node, 0)


def reshape(walk: Walk, node):
    x = walk.value(node, 0)
    shape = walk.shape(node.output[0])
    if isinstance(x, Const):
        return Const(x.value.reshape(shape))
    if len(shape) != 2 or shape[0] != 1:
        raise UnsupportedModelError(f"reshape to {shape} is not supported; only flattening to (1, features)", where=_where(node))
    if len(x.shape) == 2:
        return Signal(shape=shape, source=x.source, dtype=x.dtype, lo=x.lo, hi=x.hi, ops=x.ops, perm=x.perm)
    return flatten_map(x, shape)


def flatten_map(x: Signal, shape) -> Signal:
    """(1, C, H, W) streamed channels-last -> (1, C*H*W) features in stream order (h, w, c).

    Per-channel ranges and parameters repeat for every pixel; `perm` maps each stream element
    to its ONNX (c, h, w) feature index, for the consumer's weights.
    """
    c, pixels = x.channels, x.pixels

    def per_feature(v):
        v = np.asarray(v)
        return v if v.size == 1 else np.tile(v.reshape(c), pixels)

    ops = tuple({k: (per_feature(v) if k in ("mul", "add", "scale", "zero_point") else v) for k, v in op.items()} for op in x.ops)
    perm = None
    if c > 1 and pixels > 1:
        hw = np.arange(pixels)
        perm = (np.arange(c)[None, :] * pixels + hw[:, None]).reshape(-1)  # stream (hw, c) -> ONNX c*HW + hw
    return Signal(shape=tuple(shape), source=x.source, dtype=x.dtype, lo=per_feature(x.lo), hi=per_feature(x.hi), ops=ops, perm=perm)


HANDLERS = {
    "Quant": quant,
    "BipolarQuant": quant,
    "MatMul": matmul,
    "Gemm": matmul,
    "Add": elementwise,
    "Sub": elementwise,
    "Mul": elementwise,
    "Div": elementwise,
    "BatchNormalization": batchnorm,
    "Relu": relu,
    "Clip": clip,
    "Flatten": reshape,
    "Reshape": reshape,
    "Identity": passthrough,
    "Dropout": passthrough,
}
