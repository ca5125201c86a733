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


def io_cycles(bytes_per_frame: int, port_bits: int) -> int:
    """Cycles the DMA needs per frame through a memory port of `port_bits` (one beat per cycle)."""
    return -(-bytes_per_frame * 8 // port_bits)


def throughput(graph: DataflowGraph, clock_mhz: float, io: dict[str, int] | None = None) -> dict:
    """Frames/s at the clock: the slowest layer, or the DMA (`io`: cycles per frame in and out), sets the pace."""
    per_layer = {layer.name: cycles(layer) for layer in graph.layers}
    everything = {**per_layer, **(io or {})}
    bottleneck = max(everything, key=everything.get)
    return {
        "clock_mhz": clock_mhz,
        "cycles": per_layer,
        "io_cycles": io or {},
        "bottleneck": bottleneck,
        "fps": clock_mhz * 1e6 / everything[bottleneck],
        "latency_cycles": sum(per_layer.values()),
    }
