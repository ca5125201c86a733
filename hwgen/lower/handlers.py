"""One handler per supported ONNX op: `handler(walk, node) -> value of the node's output`."""

from __future__ import annotations

import numpy as np

from hwgen.datatypes import DataType
from hwgen.driver.ops import ROUNDING_MODES, quant_int
from hwgen.errors import UnsupportedModelError
from hwgen.ir.graph import HostInput
from hwgen.ir.layers import MVAU, Thresholding
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
        return {"op": "bipolar_quant", "scale": scale.value}
    zero = walk.const(node, 2, "the zero point").value
    bits = walk.const(node, 3, "the bit width").value
    if bits.size != 1 or bits.flat[0] != int(bits.flat[0]) or not 1 <= bits.flat[0] <= 32:
        raise UnsupportedModelError(f"the bit width must be one integer in 1..32, not {bits.tolist()}", where=_where(node))
    mode = str(walk.attr(node, "rounding_mode", "ROUND")).upper()
    if mode not in ROUNDING_MODES:
        raise UnsupportedModelError(f"rounding mode {mode!r} is not one of {', '.join(ROUNDING_MODES)}", where=_where(node))
    return {"op": "quant", "scale": scale.value, "zero_point": zero, "bits": int(bits.flat[0]),
            "signed": bool(walk.attr(node, "signed", 1)), "narrow": bool(walk.attr(node, "narrow", 0)),
            "rounding_mode": mode}


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
    """The input quantizer runs on the host (float32, as QONNX); the stream carries its levels."""
    if walk.host_input is not None:
        raise UnsupportedModelError("the model input is quantized twice", where=_where(node))
    q = _scalar(node, q, "the input quantizer")
    lo, hi = thr.quant_levels(q)
    bipolar = (lo, hi) == (-1, 1) and (q["op"] == "bipolar_quant" or q["bits"] == 1)
    dtype = DataType.bipolar() if bipolar else DataType.smallest(lo, hi)
    shape = walk.shape(node.output[0])
    walk.host_input = HostInput(shape=x.shape, quant=q, dtype=dtype, elems=int(np.prod(shape[1:])))
    zero = q.get("zero_point", 0.0)
    return Signal(shape=shape, source="input", dtype=dtype, lo=np.asarray(lo), hi=np.asarray(hi),
                  ops=(affine(q["scale"], -zero * q["scale"]),))


def quantize_signal(walk: Walk, node, x: Signal, q: dict) -> Signal:
    """A quantizer on a computed tensor becomes thresholds: in its MVAU, or standalone."""
    if len(x.shape) != 2:
        q = _scalar(node, q, "an activation quantizer on a feature map")
    channels = x.channels
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
        walk.layers.append(Thresholding(name=name, channels=channels, pe=1, in_dtype=x.dtype, out_dtype=out_dtype,
                                        thresholds=ts.thresholds, out_min=ts.out_min))
    zero = q.get("zero_point", 0.0)
    scale = np.asarray(q["scale"], dtype=np.float64)
    return Signal(shape=walk.shape(node.output[0]), source=name, dtype=out_dtype, lo=ts.out_lo, hi=ts.out_hi,
                  ops=(affine(_flat(scale, channels), _flat(-np.asarray(zero) * scale, channels)),))


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
    w_scale = scale[0]
    (op,) = x.ops or (affine(1.0, 0.0),)
    mul, add = np.asarray(op["mul"]), np.asarray(op["add"])
    if mul.size != 1 and not np.all(mul == mul.flat[0]):
        raise UnsupportedModelError("the input to this layer has per-feature scales", where=_where(node),
                                    hint="use per-tensor activation scaling before a QuantLinear")
    mw = weights.shape[1]
    mul, add = float(mul.flat[0]), np.broadcast_to(add, (mw,))
    alpha = float(walk.attr(node, "alpha", 1.0)) if gemm else 1.0
    out_mul = alpha * mul * w_scale
    out_add = alpha * w_scale * (weights.astype(np.float64) @ add)
    if gemm and len(node.input) > 2 and node.input[2]:
        bias = walk.const(node, 2, "the Gemm bias")
        out_add = out_add + float(walk.attr(node, "beta", 1.0)) * np.broadcast_to(bias.value, out_add.shape)
    lo, hi = accumulator_range(weights, (np.broadcast_to(x.lo, (mw,)), np.broadcast_to(x.hi, (mw,))))
    pending = PendingMVAU(node=node.name, weights=weights, in_dtype=x.dtype)
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
    gamma, beta, mean, var = (walk.channel_vector(node, walk.const(node, i, "a batch-norm parameter"),
                                                  _channel_probe(x), "batch-norm parameter") for i in (1, 2, 3, 4))
    eps = float(walk.attr(node, "epsilon", 1e-5))
    inv = gamma / np.sqrt(var + eps)
    return x.then(affine(inv, beta - mean * inv))


def _channel_probe(x: Signal) -> Signal:
    """BatchNormalization parameters are (C,) for an (N, C, ...) tensor: align them on axis 1."""
    if len(x.shape) == 2:
        return x
    raise UnsupportedModelError(f"batch norm on a {len(x.shape)}-D tensor {x.shape} is not supported yet")


def relu(walk: Walk, node):
    return walk.signal(node).then({"op": "relu"})


def clip(walk: Walk, node):
    x = walk.signal(node)
    lo = walk.const(node, 1, "the Clip minimum").value.item() if len(node.input) > 1 and node.input[1] else -np.inf
    hi = walk.const(node, 2, "the Clip maximum").value.item() if len(node.input) > 2 and node.input[2] else np.inf
    return x.then({"op": "clip", "min": float(lo), "max": float(hi)})


def passthrough(walk: Walk, node):
    return walk.value(node, 0)


def reshape(walk: Walk, node):
    x = walk.value(node, 0)
    shape = walk.shape(node.output[0])
    if isinstance(x, Const):
        return Const(x.value.reshape(shape))
    if isinstance(x, FloatInput):  # the host flattens the input anyway
        return x
    if len(shape) != 2 or shape[0] != 1:
        raise UnsupportedModelError(f"reshape to {shape} is not supported; only flattening to (1, features)", where=_where(node))
    if len(x.shape) == 2:
        return Signal(shape=shape, source=x.source, dtype=x.dtype, lo=x.lo, hi=x.hi, ops=x.ops)
    params = [np.asarray(x.lo), np.asarray(x.hi)] + [np.asarray(op[k]) for op in x.ops for k in ("mul", "add", "scale", "zero_point") if k in op]
    if any(not np.all(p == p.flat[0]) for p in params):  # a thresholded feature map has one (equal) range per element
        raise UnsupportedModelError("flattening a feature map with per-channel parameters", where=_where(node))
    lo, hi = np.asarray(x.lo).flat[0], np.asarray(x.hi).flat[0]
    return Signal(shape=shape, source=x.source, dtype=x.dtype, lo=np.asarray(lo), hi=np.asarray(hi), ops=x.ops)


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
