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
  {"op": "integer", "datatype": "UINT8",   an unquantized input annotated with an integer QONNX
   "min": 0, "max": 255, "bipolar": False,  datatype: the values are the levels (scale 1); quant_int
   "scale": 1.0, "zero_point": 0.0}         only checks them (integers in [min, max], ±1 if bipolar)
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
    if q["op"] == "integer":
        return integer_levels(x, q).astype(dtype)
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


def integer_levels(x: np.ndarray, q: dict) -> np.ndarray:
    """The values of an integer-annotated input as they are (int64); ValueError naming the first
    value that is not an integer of the annotated datatype (QONNX would compute with it unchanged,
    the accelerator's stream cannot carry it)."""
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.integer):
        levels = x.astype(np.int64)
        ok = (levels >= q["min"]) & (levels <= q["max"])
    else:
        x = x.astype(np.float64)
        ok = np.isfinite(x) & (x == np.round(x)) & (x >= q["min"]) & (x <= q["max"])
        levels = np.where(ok, x, 0).astype(np.int64)
    if q.get("bipolar"):
        ok &= levels != 0
    if not ok.all():
        where = tuple(int(i) for i in np.argwhere(~ok)[0])
        allowed = "-1 or +1" if q.get("bipolar") else f"integers in [{q['min']}, {q['max']}]"
        raise ValueError(
            f"input value {x[where].item()!r} at index {where} is not a {q['datatype']} value: the model's input is annotated "
            f"{q['datatype']} and has no quantizer, so the values are streamed as they are and must be {allowed} "
            f"({int((~ok).sum())} of {ok.size} values are not); pass the raw integers (e.g. uint8 pixels), not scaled floats")
    return levels


def quant_levels(q: dict) -> tuple[int, int]:
    """Smallest and largest integer level a quantizer can produce."""
    if q["op"] == "integer":
        return int(q["min"]), int(q["max"])
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


def step_after(ops: list[dict], shape: tuple[int, ...], levels_apart: int = 1) -> np.ndarray:
    """The quantization step of `ops`' output, per element of an integer input of `shape`
    (channels along the last axis): what one step of the output's last quantization is worth.

    Starting from the spacing of the input's levels (`levels_apart`: 1, or 2 for a bipolar
    stream of -1 and +1), an affine op scales the step by |mul|; relu and clip keep it (where
    they clamp, the output does not move at all); a quantizer replaces it with its own level
    spacing: its scale, twice the scale for a bipolar one.
    """
    step = np.full(shape, float(levels_apart))
    for op in ops:
        kind = op["op"]
        if kind == "affine":
            step = step * np.abs(np.asarray(op["mul"], dtype=np.float64))
        elif kind in ("quant", "bipolar_quant"):
            spacing = 2 if kind == "bipolar_quant" or (op["bits"] == 1 and op["signed"]) else 1  # bipolar: -1 and +1
            step = np.broadcast_to(spacing * np.abs(np.asarray(op["scale"], dtype=np.float64)), shape).copy()
        elif kind not in ("relu", "clip"):
            raise ValueError(f"op must be one of affine, relu, clip, quant, bipolar_quant, not {kind!r}")
    return np.broadcast_to(step, shape).copy()


def step_after_post(step: np.ndarray, ops: list[dict]) -> np.ndarray:
    """`step` (1, ...) in the model's layout (step_after's, put in that layout) carried through the
    post-processing tensor ops to the model's output: how far one step of the stream moves an output.

    Constants scale it (x * c: |c|, x / c: 1/|c|; c / x keeps it, having no bound), shifts, relu
    and clip keep it, reshapes and transposes move it with the elements. Sigmoid and Softmax move
    an output by at most 1/4 of a step of their input (their derivatives' bound), LogSoftmax by at
    most one, taking the largest step along the axis; TopK's values keep the largest step along
    theirs. Indices (ArgMax, TopK's) are integers: step 1, so any other index differs.
    """
    step = np.asarray(step, dtype=np.float64)
    for op in ops:
        kind = op["op"]
        if kind == "argmax" or kind == "topk" and op["output"] == "indices":
            step = np.ones(apply_op(step, op).shape)
        elif kind in ("softmax", "log_softmax", "topk"):
            axes = tuple(range(op["axis"], step.ndim)) if op.get("coerced") else (op["axis"],)
            widest = np.broadcast_to(step.max(axis=axes, keepdims=True), step.shape)
            step = {"softmax": 0.25, "log_softmax": 1.0}.get(kind, 1.0) * widest
            if kind == "topk":
                step = np.take(step, np.arange(op["k"]), axis=op["axis"])
        elif kind == "sigmoid":
            step = 0.25 * step
        elif kind == "mul" or kind == "div" and not op.get("reverse"):
            c = np.abs(np.asarray(op["value"], dtype=np.float64))
            step = step * c if kind == "mul" else step / c
        elif kind in ("reshape", "transpose"):
            step = apply_op(step, op)
        elif kind not in ("add", "sub", "div", "relu", "clip"):
            raise ValueError(f"no step through post-processing op {kind!r}")
    return step
