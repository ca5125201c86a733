"""Cycle model: clock cycles per frame of every layer kind at II=1 (what its loop iterates).

tests/csim/test_cycles.py checks these against the C-sim's iteration counters.
"""

from __future__ import annotations

from functools import singledispatch

from hwgen.ir.graph import DataflowGraph
from hwgen.ir.layers import DWC, MVAU, Thresholding


@singledispatch
def cycles(layer) -> int:
    raise NotImplementedError(f"no cycle model for layer kind {type(layer).__name__}")


@cycles.register
def _(layer: MVAU) -> int:
    return layer.vectors * (layer.mh // layer.pe) * (layer.mw // layer.simd)


@cycles.register
def _(layer: Thresholding) -> int:
    return layer.vectors * (layer.channels // layer.pe)


@cycles.register
def _(layer: DWC) -> int:
    return layer.elems // min(layer.in_elems, layer.out_elems)


def throughput(graph: DataflowGraph, clock_mhz: float) -> dict:
    """Frames/s at the clock: the slowest layer sets the pace of the pipeline."""
    per_layer = {layer.name: cycles(layer) for layer in graph.layers}
    bottleneck = max(per_layer, key=per_layer.get)
    return {
        "clock_mhz": clock_mhz,
        "cycles": per_layer,
        "bottleneck": bottleneck,
        "fps": clock_mhz * 1e6 / per_layer[bottleneck],
        "latency_cycles": sum(per_layer.values()),
    }
