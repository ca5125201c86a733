"""How each layer kind renders: its template context (a dict the top template reads).

Every context has `kind`, `name`, `in_bits`, `out_bits` (stream word widths), the kernel
`function` (in hls_templates/kernels) and its template arguments `targs`; the top template calls
`hwgen::<function><targs>(in, out, <params>, frames, "<name>")`. Parameter arrays are in
`params`, dicts rendered by params.hpp.j2.
"""

from __future__ import annotations

from functools import singledispatch

import numpy as np

from hwgen.datatypes import DataType, Kind
from hwgen.estimate.primitives import STORAGE_IMPL, memory_kind, uses_dsp, weight_memory
from hwgen.ir.layers import DWC, MVAU, SWG, MaxPool, RamStyle, Thresholding


def storage(dtype: DataType) -> str:
    """HWGEN_PARAM(synthesis type, C-sim type) of a parameter array."""
    hls = "ap_uint<1>" if dtype.kind is Kind.BIPOLAR else f"ap_{'u' if dtype.kind is Kind.UINT else ''}int<{dtype.bits}>"
    return f"HWGEN_PARAM({hls}, {dtype.c_storage()})"


def c_array(values: np.ndarray) -> str:
    """Nested C initializer of an integer array, one innermost row per line."""
    if values.ndim == 1:
        return "{" + ", ".join(str(int(v)) for v in values) + "}"
    sep = ",\n" if values.ndim == 2 else ",\n\n"
    return "{" + sep.join(c_array(v) for v in values) + "}"


def _param(name: str, dtype: DataType, values: np.ndarray, comment: str, partition: tuple[int, ...], reshape: tuple[int, ...],
           memory: RamStyle | None = None) -> dict:
    """A constant table; `memory`: the (resolved) memory it is bound to, None for no binding."""
    codes = dtype.encode(values).astype(np.int64) if dtype.kind is Kind.BIPOLAR else values
    return {"name": name, "type": storage(dtype), "dims": "".join(f"[{d}]" for d in values.shape),
            "init": c_array(codes), "comment": comment, "partition": partition, "reshape": reshape,
            "storage": None if memory is None else STORAGE_IMPL[memory]}  # the memory the resource model counted


def _out_min_code(dtype: DataType, out_min: int) -> int:
    return 0 if dtype.kind is Kind.BIPOLAR else out_min


def threshold_table(thresholds: np.ndarray, pe: int) -> np.ndarray:
    """(C, NT) -> [PE][C/PE][NT] with channel cf*PE + p at [p][cf]."""
    c, nt = thresholds.shape
    return thresholds.reshape(c // pe, pe, nt).transpose(1, 0, 2)


def weight_table(weights: np.ndarray, simd: int, pe: int) -> np.ndarray:
    """(MH, MW) -> [NF*SF][PE*SIMD] with W[nf*PE + p][sf*SIMD + s] at [nf*SF + sf][p*SIMD + s]:
    one memory word (PE * SIMD weights) per tile, what the resource model counts."""
    mh, mw = weights.shape
    nf, sf = mh // pe, mw // simd
    return weights.reshape(nf, pe, sf, simd).transpose(0, 2, 1, 3).reshape(nf * sf, pe * simd)


@singledispatch
def layer_context(layer) -> dict:
    raise NotImplementedError(f"no template context for layer kind {type(layer).__name__}")


@layer_context.register
def _(layer: MVAU) -> dict:
    nt = 0 if layer.thresholds is None else layer.thresholds.shape[1]
    memory = memory_kind(*weight_memory(layer), layer.ram_style)
    w = _param(f"{layer.name}_weights", layer.w_dtype, weight_table(layer.weights, layer.simd, layer.pe),
               f"{layer.mh}x{layer.mw} {layer.w_dtype} weights as [tiles][PE*SIMD], in {memory.value} RAM", (), (2,), memory)
    if nt:
        t = _param(f"{layer.name}_thresholds", layer.acc_dtype, threshold_table(layer.thresholds, layer.pe),
                   f"{nt} thresholds per channel as [PE][neuron folds][k], {layer.acc_dtype}", (1,), (3,),
                   memory_kind(nt * layer.acc_dtype.bits, layer.mh // layer.pe))
    else:
        t = _param(f"{layer.name}_thresholds", layer.acc_dtype, np.zeros((layer.pe, layer.mh // layer.pe, 1), np.int64),
                   "unused: this layer streams its accumulator", (), ())
    targs = [layer.mw, layer.mh, layer.simd, layer.pe, layer.vectors, layer.in_dtype.hls(), layer.w_dtype.hls(),
             layer.acc_dtype.hls(), layer.out_dtype.hls(), nt, _out_min_code(layer.out_dtype, layer.out_min),
             "true" if uses_dsp(layer) else "false"]
    return {"kind": "MVAU", "name": layer.name, "function": "mvau", "targs": targs, "params": [w, t],
            "in_bits": layer.simd * layer.in_dtype.bits, "out_bits": layer.pe * layer.out_dtype.bits}


@layer_context.register
def _(layer: Thresholding) -> dict:
    nt = layer.thresholds.shape[1]
    t = _param(f"{layer.name}_thresholds", layer.threshold_dtype, threshold_table(layer.thresholds, layer.pe),
               f"{nt} thresholds per channel as [PE][channel folds][k], {layer.threshold_dtype}", (1,), (3,),
               memory_kind(nt * layer.threshold_dtype.bits, layer.channels // layer.pe))
    targs = [layer.channels, layer.pe, layer.vectors, layer.in_dtype.hls(), layer.out_dtype.hls(), nt,
             _out_min_code(layer.out_dtype, layer.out_min)]
    return {"kind": "Thresholding", "name": layer.name, "function": "thresholding", "targs": targs, "params": [t],
            "in_bits": layer.pe * layer.in_dtype.bits, "out_bits": layer.pe * layer.out_dtype.bits}


@layer_context.register
def _(layer: DWC) -> dict:
    targs = [layer.dtype.bits, layer.in_elems, layer.out_elems, layer.elems]
    return {"kind": "DWC", "name": layer.name, "function": "dwc", "targs": targs, "params": [],
            "in_bits": layer.in_elems * layer.dtype.bits, "out_bits": layer.out_elems * layer.dtype.bits}


def _window_targs(layer, word: int) -> list:
    return [layer.ifm_h, layer.ifm_w, layer.channels, layer.k_h, layer.k_w, layer.stride_h, layer.stride_w,
            *layer.pad, word, layer.dtype.hls()]


@layer_context.register
def _(layer: SWG) -> dict:
    bits = layer.simd * layer.dtype.bits
    return {"kind": "SWG", "name": layer.name, "function": "swg", "targs": _window_targs(layer, layer.simd), "params": [],
            "in_bits": bits, "out_bits": bits}


@layer_context.register
def _(layer: MaxPool) -> dict:
    bits = layer.pe * layer.dtype.bits
    return {"kind": "MaxPool", "name": layer.name, "function": "maxpool", "targs": _window_targs(layer, layer.pe), "params": [],
            "in_bits": bits, "out_bits": bits}
