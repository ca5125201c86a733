"""Element-wise float operations shared by the compiler and the host driver (numpy only).

The compiler uses them to evaluate, in float64, what the original model computes between an
integer accumulator and the next quantizer (to derive thresholds); the driver uses the same
functions for the host-side pre-processing (input quantization) and post-processing (the float
operations after the last hardware layer). Operations are JSON-able dicts, so the driver
needs nothing but this file and the build's metadata.

Ops (channel parameters broadcast along the last axis):
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


def apply_op(x: np.ndarray, op: dict) -> np.ndarray:
    kind = op["op"]
    if kind == "affine":
        return x * np.asarray(op["mul"], dtype=x.dtype) + np.asarray(op["add"], dtype=x.dtype)
    if kind == "relu":
        return np.maximum(x, 0)
    if kind == "clip":
        return np.minimum(np.maximum(x, op["min"]), op["max"])
    if kind in ("quant", "bipolar_quant"):
        level = quant_int(x, op, x.dtype)
        zero = np.asarray(op.get("zero_point", 0.0), dtype=x.dtype)
        return (level - zero) * np.asarray(op["scale"], dtype=x.dtype)
    raise ValueError(f"op must be one of affine, relu, clip, quant, bipolar_quant, not {kind!r}")


def apply_ops(x: np.ndarray, ops: list[dict], dtype=np.float64) -> np.ndarray:
    y = np.asarray(x, dtype=dtype)
    for op in ops:
        y = apply_op(y, op)
    return y


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
