"""Validation at load, the second pass (hwgen.frontend.validate has the first and says what both check): the values
of a cleaned model, its constants folded: quantizer parameters and attributes, stored values, batch-norm variances."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from hwgen.driver.ops import ROUNDING_MODES, int_range
from hwgen.errors import HwgenError, UnsupportedModelError
from hwgen.frontend.validate import EXPORT, MAX_BITS, QUANT_OPS, _bad, _broadcasts, _show, _where


def check_values(model) -> None:
    """Refuse quantizer parameters and stored values hwgen cannot compute with (`model`: a cleaned qonnx ModelWrapper)."""
    graph = model.graph
    for node in graph.node:
        if node.op_type in QUANT_OPS:
            _check_quantizer(model, node)
    bounds = {name for node in graph.node if node.op_type == "Clip" for name in node.input[1:]}  # may be +-inf
    for init in graph.initializer:
        value = numpy_helper.to_array(init)
        if value.dtype.kind not in "biuf":
            raise HwgenError(f"stored value {init.name!r} holds {value.dtype} data, not numbers", where=f"tensor {init.name!r}",
                             hint=EXPORT)
        if value.dtype.kind == "f" and init.name not in bounds and not np.all(np.isfinite(value)):
            users = [n for n in graph.node if init.name in n.input]
            raise HwgenError(f"stored value {init.name!r} holds {_bad(value)}",
                             where=_where(users[0]) if users else f"tensor {init.name!r}",
                             hint="every weight, bias and parameter must be a finite number; " + EXPORT)
    for node in graph.node:
        for a in node.attribute:
            value = helper.get_attribute_value(a) if a.type in (onnx.AttributeProto.FLOAT, onnx.AttributeProto.FLOATS) else 0.0
            if not np.all(np.isfinite(value)):
                raise HwgenError(f"attribute {a.name} must be finite, not {value!r}", where=_where(node), hint=EXPORT)
        if node.op_type == "BatchNormalization" and len(node.input) == 5:
            var = _const(model, node, 4, "the variance")
            eps = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "epsilon"), 1e-5)
            if not np.all(var + eps > 0):
                raise HwgenError(f"the variance plus epsilon must be positive, found {float(np.min(var + eps))!r}", where=_where(node),
                                 hint="a batch norm's running variance is never negative; " + EXPORT)


def _check_quantizer(model, node) -> None:
    params = {"Quant": 4, "BipolarQuant": 2, "Trunc": 5}[node.op_type]
    if len(node.input) != params or not all(node.input):
        raise HwgenError(f"{node.op_type} takes {params} inputs, found {len([n for n in node.input if n])}", where=_where(node),
                         hint=EXPORT)
    scale = _const(model, node, 1, "the scale")
    if scale.size == 0 or not np.all(np.isfinite(scale)) or np.any(scale <= 0):
        raise UnsupportedModelError(f"the scale must be finite and positive, not {_show(scale)}", where=_where(node),
                                    hint="a quantizer's scale is a positive number (per tensor or per channel); " + EXPORT)
    stored = model.get_initializer(node.input[0])
    x_shape = np.shape(stored) if stored is not None else model.get_tensor_shape(node.input[0])
    if x_shape is not None and not _broadcasts(scale.shape, x_shape):
        raise UnsupportedModelError(f"the scale's shape {scale.shape} does not apply to the input's shape {tuple(x_shape)}",
                                    where=_where(node), hint="a scale is one value, or one per channel shaped like Brevitas exports it")
    if node.op_type == "BipolarQuant":
        return
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    mode = attrs.get("rounding_mode", b"ROUND")
    mode = (mode.decode(errors="replace") if isinstance(mode, bytes) else str(mode)).upper()
    if mode not in ROUNDING_MODES:
        raise UnsupportedModelError(f"rounding mode {mode!r} is not one of {', '.join(ROUNDING_MODES)}", where=_where(node))
    for flag in ("signed", "narrow"):
        if attrs.get(flag, 0) not in (0, 1):
            raise UnsupportedModelError(f"attribute {flag} must be 0 or 1, not {attrs[flag]!r}", where=_where(node))
    widths = (3, 4) if node.op_type == "Trunc" else (3,)
    bits = [_bit_width(model, node, i) for i in widths]
    zero = _const(model, node, 2, "the zero point")
    if x_shape is not None and not _broadcasts(zero.shape, x_shape):
        raise UnsupportedModelError(f"the zero point's shape {zero.shape} does not apply to the input's shape {tuple(x_shape)}",
                                    where=_where(node), hint="a zero point is one value, or one per channel like the scale")
    signed, narrow = bool(attrs.get("signed", 1)), bool(attrs.get("narrow", 0))
    lo, hi = int_range(bits[0], signed, narrow) if node.op_type == "Quant" else (-(1 << 62), 1 << 62)
    if not np.all(np.isfinite(zero)) or np.any(zero != np.round(zero)) or np.any(zero < lo) or np.any(zero > hi):
        raise UnsupportedModelError(f"the zero point must be integers in {lo}..{hi}, not {_show(zero)}", where=_where(node),
                                    hint=f"{'signed' if signed else 'unsigned'} {bits[0]}-bit levels lie in {lo}..{hi}; " + EXPORT)


def _bit_width(model, node, i: int) -> int:
    bits = _const(model, node, i, "the bit width")
    value = bits.reshape(-1)[0] if bits.size == 1 else None
    if value is None or not np.isfinite(value) or value != int(value) or not 1 <= value <= MAX_BITS:
        raise UnsupportedModelError(f"the bit width must be one integer in 1..{MAX_BITS}, not {_show(bits)}", where=_where(node),
                                    hint="quantizers of 1 to 8 bits are what hwgen is tested with; " + EXPORT)
    return int(value)


def _const(model, node, i: int, what: str) -> np.ndarray:
    value = model.get_initializer(node.input[i])
    if value is None:
        raise UnsupportedModelError(f"{what} (input {i}, {node.input[i]!r}) must be a stored constant, not a computed tensor",
                                    where=_where(node), hint=EXPORT)
    value = np.asarray(value)
    if value.dtype.kind != "f":  # QONNX computes in the parameter's type: 2 ** bits - 1 overflows in uint8
        raise HwgenError(f"{what} (input {i}, {node.input[i]!r}) is stored as {value.dtype}, not as floating point",
                         where=_where(node), hint="store it as float32, as Brevitas exports it")
    return value.astype(np.float64)


