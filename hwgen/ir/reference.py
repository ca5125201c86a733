"""Bit-exact numpy execution of the dataflow graph (the reference the C-sim must match).

Arrays are (frames, elements-per-frame) of int64 values in the flat streaming order.
"""

from __future__ import annotations

from functools import singledispatch

import numpy as np

from hwgen.datatypes import Kind
from hwgen.ir.graph import DataflowGraph
from hwgen.ir.layers import DWC, MVAU, SWG, MaxPool, Thresholding


def threshold(values: np.ndarray, thresholds: np.ndarray, out_min: int, bipolar: bool) -> np.ndarray:
    """values (n, c) against thresholds (c, k) -> out_min + #crossed (bipolar: ±1)."""
    crossed = np.zeros(values.shape, dtype=np.int64)
    for k in range(thresholds.shape[1]):  # k <= 255: a loop keeps memory at (n, c)
        crossed += values >= thresholds[:, k]
    return 2 * crossed - 1 if bipolar else out_min + crossed


@singledispatch
def execute(layer, x: np.ndarray) -> np.ndarray:
    raise NotImplementedError(f"no numpy reference for layer kind {type(layer).__name__}")


@execute.register
def _(layer: MVAU, x: np.ndarray) -> np.ndarray:
    n = x.shape[0]
    vectors = x.reshape(n * layer.vectors, layer.mw)
    acc = _exact_matmul(vectors, layer.weights.T)
    if layer.thresholds is not None:
        acc = threshold(acc, layer.thresholds, layer.out_min, layer.out_dtype.kind is Kind.BIPOLAR)
    return acc.reshape(n, layer.vectors * layer.mh)


@execute.register
def _(layer: Thresholding, x: np.ndarray) -> np.ndarray:
    n = x.shape[0]
    values = x.reshape(n * layer.vectors, layer.channels)
    y = threshold(values, layer.thresholds, layer.out_min, layer.out_dtype.kind is Kind.BIPOLAR)
    return y.reshape(n, layer.vectors * layer.channels)


@execute.register
def _(layer: DWC, x: np.ndarray) -> np.ndarray:
    return x  # re-sizes words, not values


def windows(layer, x: np.ndarray, pad_value: int) -> np.ndarray:
    """(frames, ifm_h*ifm_w*channels) -> (frames, ofm_h, ofm_w, k_h, k_w, channels): every window of the padded input."""
    n = x.shape[0]
    top, left, bottom, right = layer.pad
    image = x.reshape(n, layer.ifm_h, layer.ifm_w, layer.channels)
    padded = np.pad(image, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=pad_value)
    rows = (np.arange(layer.ofm_h) * layer.stride_h)[:, None] + np.arange(layer.k_h)[None, :]  # (ofm_h, k_h)
    cols = (np.arange(layer.ofm_w) * layer.stride_w)[:, None] + np.arange(layer.k_w)[None, :]
    return padded[:, rows[:, None, :, None], cols[None, :, None, :], :]


@execute.register
def _(layer: SWG, x: np.ndarray) -> np.ndarray:
    return windows(layer, x, 0).reshape(x.shape[0], layer.frame_out)


@execute.register
def _(layer: MaxPool, x: np.ndarray) -> np.ndarray:
    return windows(layer, x, layer.dtype.min).max(axis=(3, 4)).reshape(x.shape[0], layer.frame_out)


def _exact_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """int64 matmul; float64 BLAS when every partial sum is exactly representable (< 2^53)."""
    bound = np.abs(a).max(initial=0) * np.abs(b).max(initial=0) * a.shape[1]
    if bound < 2**53:
        return (a.astype(np.float64) @ b.astype(np.float64)).astype(np.int64)
    return a.astype(np.int64) @ b.astype(np.int64)


def run(graph: DataflowGraph, x: np.ndarray, trace: bool = False):
    """Integer input levels (frames, input elems) -> integer outputs (frames, output elems).

    With trace=True also returns {layer name: output} for debugging mismatches.
    """
    x = np.asarray(x, dtype=np.int64).reshape(-1, graph.input.elems)
    outputs = {}
    for layer in graph.layers:
        x = execute(layer, x)
        if trace:
            outputs[layer.name] = x
    return (x, outputs) if trace else x
