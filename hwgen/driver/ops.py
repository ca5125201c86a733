"""Element-wise float operations shared by the compiler and the host driver (numpy only).

The compiler uses them to evaluate, in float64, what the original model computes between an
integer accumulator and the next quantizer (to derive thresholds); the driver uses the same
functions for the host-side pre-processing (input quantization) and post-processing (the float
operations after the last hardware layer). Operations are JSON-able dicts, so the driver
needs nothing but this file and the build's metadata.

Tensor ops of the host's pre-processing (`accelerator.json` input `pre_ops`, before the input
quantizer) and post-processing (output `post_ops`), on (N, ...) batches of the model's ONNX
tensors (batch 1 in the model, N frames here; axes count the batch, which no op reduces or
moves). They compute in the array's dtype, float32 on the host, one ONNX node each, so the
pre-processing gives the quantizer the very float32 values QONNX gives it:
  {"op": "mul" | "add" | "sub" | "div",    y = x * c, x + c, x - c, x / c (ONNX broadcasting);
   "value": c, "reverse": r}               with reverse: c * x, c + x, c - x, c / x
  {"op": "reshape", "shape": [1, ...]}     y = x.reshape(N, *shape[1:])
  {"op": "transpose", "perm": [0, ...]}    y = x.transpose(perm)
  {"op": "softmax", "axis": a,             ONNX Softmax / LogSoftmax along axis a (coerced: over
   "coerced": b}, {"op": "log_softmax", ...}  all axes from a on, as before opset 13)
  {"op": "sigmoid"}                        y = 1 / (1 + exp(-x))
  {"op": "argmax", "axis": a,              ONNX ArgMax: int64 indices
   "keepdims": b, "select_last_index": b}
  {"op": "topk", "k": k, "axis": a,        ONNX TopK, sorted, ties to the lower index; output
   "largest": b, "output": o}              "values" or "indices" (int64)

Element-wise ops (channel parameters broadcast along the last axis):
  {"op": "affine", "mul": m, "add": a}     y = m * x + a
  {"op": "relu"}                           y = max(x, 0)
  {"op": "clip", "min": lo, "max": hi}     y = min(max(x, lo), hi)
  {"op": "quant", **quantizer}             y = (q(x) - zero_point) * scale   (QONNX Quant)
  {"op": "bipolar_quant", "scale": s}      y = (x >= 0 ? 1 : -1) * scale    (QONNX BipolarQuant)
"""

from __future__ import annotations

import numpy as np


def int_range(bits: int, signed: bool, narrow: bool) -> tuple[int, int]:
    """Integer range of a QONNX Quant (`min_int`, `max_int` of its spec)."""
    if signed:
        return -(1 << (bits - 1)) + (1 if narrow else 0), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1 - (1 if narrow else 0)


def _round(x: np.ndarray, mode: str) -> np.ndarray:
    mode = mode.upper()
    if mode in ("ROUND", "HALF_EVEN"):
        return np.round(x)
    if mode == "FLOOR":
        return np.floor(x)
    if mode == "CEIL":
        return np.ceil(x)
    if mode == "DOWN" or mode == "ROUND_TO_ZERO":
        return np.fix(x)
    if mode == "UP":
        return np.sign(x) * np.ceil(np.abs(x))
    if mode == "HALF_UP":
        return np.sign(x) * np.floor(np.abs(x) + 0.5)
    if mode == "HALF_DOWN":
        return np.sign(x) * np.ceil(np.abs(x) - 0.5)
    raise ValueError(f"rounding mode must be one of ROUND, FLOOR, CEIL, DOWN, UP, HALF_UP, HALF_DOWN, not {mode!r}")


ROUNDING_MODES = ("ROUND", "HALF_EVEN", "FLOOR", "CEIL", "DOWN", "ROUND_TO_ZERO", "UP", "HALF_UP", "HALF_DOWN")


def quant_int(x: np.ndarray, q: dict, dtype=np.float64) -> np.ndarray:
    """The integer level of a QONNX Quant / BipolarQuant, computed as QONNX does (clip, then round).

    Returned as `dtype` floats holding integers. With dtype=float32 this reproduces
    QONNX's float32 execution exactly (the host's input quantization relies on it).
    """
    dtype = np.dtype(dtype).type
    x = np.asarray(x, dtype=dtype)
    scale = np.asarray(q["scale"], dtype=dtype)
    if q["op"] == "bipolar_quant":  # QONNX takes the sign of x itself (not of x / scale)
        return np.where(x >= 0, dtype(1), dtype(-1))
    if q["bits"] == 1 and q["signed"]:
        y = x / scale + np.asarray(q["zero_point"], dtype=dtype)
        return np.where(y >= 0, dtype(1), dtype(-1))
    lo, hi = int_range(q["bits"], q["signed"], q["narrow"])
    y = x / scale + np.asarray(q["zero_point"], dtype=dtype)
    y = np.where(y > hi, dtype(hi), y)
    y = np.where(y < lo, dtype(lo), y)
    return _round(y, q["rounding_mode"])


def quant_levels(q: dict) -> tuple[int, int]:
    """Smallest and largest integer level a quantizer can produce."""
    if q["op"] == "bipolar_quant" or (q["bits"] == 1 and q["signed"]):
        return -1, 1
    return int_range(q["bits"], q["signed"], q["narrow"])


def _quant(x: np.ndarray, op: dict) -> np.ndarray:
    level = quant_int(x, op, x.dtype)
    zero = np.asarray(op.get("zero_point", 0.0), dtype=x.dtype)
    return (level - zero) * np.asarray(op["scale"], dtype=x.dtype)


def _binary(x: np.ndarray, op: dict) -> np.ndarray:
    c = np.asarray(op["value"], dtype=x.dtype)
    a, b = (c, x) if op.get("reverse") else (x, c)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # inf / nan as ONNX gives them
        return _BINARY[op["op"]](a, b)


_BINARY = {"mul": np.multiply, "add": np.add, "sub": np.subtract, "div": np.divide}


def _softmax(x: np.ndarray, op: dict, log: bool = False) -> np.ndarray:
    axis, shape = op["axis"], x.shape
    if op.get("coerced"):  # before opset 13: the axes from `axis` on as one
        x, axis = x.reshape(int(np.prod(shape[:axis])), -1), 1
    shifted = x - x.max(axis=axis, keepdims=True)
    with np.errstate(under="ignore"):
        e = np.exp(shifted)
    total = e.sum(axis=axis, keepdims=True)
    y = shifted - np.log(total) if log else e / total
    return y.reshape(shape)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore", under="ignore"):
        e = np.exp(-np.abs(x))  # never overflows
    one = np.ones((), dtype=x.dtype)
    return np.where(x >= 0, one / (one + e), e / (one + e))


def _argmax(x: np.ndarray, op: dict) -> np.ndarray:
    axis = op["axis"]
    if op.get("select_last_index"):
        index = x.shape[axis] - 1 - np.argmax(np.flip(x, axis=axis), axis=axis)
    else:
        index = np.argmax(x, axis=axis)
    index = index.astype(np.int64)
    return np.expand_dims(index, axis) if op.get("keepdims", True) else index


def _topk(x: np.ndarray, op: dict) -> np.ndarray:
    axis = op["axis"]
    order = np.argsort(-x if op.get("largest", True) else x, axis=axis, kind="stable")  # equal values: lower index first
    index = np.take(order, np.arange(op["k"]), axis=axis).astype(np.int64)
    return index if op["output"] == "indices" else np.take_along_axis(x, index, axis=axis)


_OPS = {
    "affine": lambda x, op: x * np.asarray(op["mul"], dtype=x.dtype) + np.asarray(op["add"], dtype=x.dtype),
    "relu": lambda x, op: np.maximum(x, 0),
    "clip": lambda x, op: np.minimum(np.maximum(x, op["min"]), op["max"]),
    "quant": _quant,
    "bipolar_quant": _quant,
    **{name: _binary for name in _BINARY},
    "reshape": lambda x, op: x.reshape((len(x),) + tuple(op["shape"][1:])),
    "transpose": lambda x, op: x.transpose(op["perm"]),
    "softmax": _softmax,
    "log_softmax": lambda x, op: _softmax(x, op, log=True),
    "sigmoid": lambda x, op: _sigmoid(x),
    "argmax": _argmax,
    "topk": _topk,
}


def apply_op(x: np.ndarray, op: dict) -> np.ndarray:
    fn = _OPS.get(op["op"])
    if fn is None:
        raise ValueError(f"op must be one of {', '.join(_OPS)}, not {op['op']!r}")
    return fn(x, op)


def apply_ops(x: np.ndarray, ops: list[dict], dtype=np.float64) -> np.ndarray:
    y = np.asarray(x, dtype=dtype)
    for op in ops:
        y = apply_op(y, op)
    return y


def op_shape(shape: tuple[int, ...], op: dict) -> tuple[int, ...]:
    """The per-frame shape (without the batch axis) after a tensor op; element-wise ops keep it."""
    kind = op["op"]
    if kind == "reshape":
        return tuple(op["shape"][1:])
    if kind == "transpose":
        return tuple(shape[p - 1] for p in op["perm"][1:])
    if kind == "argmax":
        axis = op["axis"] - 1
        return shape[:axis] + ((1,) if op.get("keepdims", True) else ()) + shape[axis + 1:]
    if kind == "topk":
        axis = op["axis"] - 1
        return shape[:axis] + (op["k"],) + shape[axis + 1:]
    return tuple(shape)


def preimage(y: np.ndarray, ops: list[dict], shape: tuple[int, ...]) -> np.ndarray:
    """Inputs (N, *shape[1:]) that the pre-processing `ops` maps to about y (N, ...), in float32.

    For test inputs: y spread over the input quantizer's range gives model inputs that reach all
    of its levels. Each op is undone in float64 (relu and clip: as they are), so applying the ops
    in float32 gives y up to rounding.
    """
    shapes = [tuple(shape[1:])]
    for op in ops:
        shapes.append(op_shape(shapes[-1], op))
    x = np.asarray(y, dtype=np.float64).reshape((-1,) + shapes[-1])
    for op, before in zip(reversed(ops), reversed(shapes[:-1])):
        kind = op["op"]
        if kind == "reshape":
            x = x.reshape((len(x),) + before)
        elif kind == "transpose":
            x = x.transpose(np.argsort(op["perm"]))
        elif kind in _BINARY:
            c = np.asarray(op["value"], dtype=np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):
                x = _undo(kind, x, c, bool(op.get("reverse")))
            x = np.where(np.isfinite(x), x, 0.0)
        elif kind not in ("relu", "clip"):
            raise ValueError(f"pre-processing op {kind!r} cannot be undone")
    return x.astype(np.float32)


def _undo(kind: str, y: np.ndarray, c: np.ndarray, reverse: bool) -> np.ndarray:
    """x with x OP c = y (reverse: c OP x = y)."""
    if kind == "mul":
        return y / c
    if kind == "add":
        return y - c
    if kind == "sub":
        return c - y if reverse else y + c
    return c / y if reverse else y * c
