"""Cycle model: clock cycles per frame of every layer kind at II=1 (what its loop iterates).

tests/csim/test_cycles.py checks these against the C-sim's iteration counters.
"""

from __future__ import annotations

from functools import singledispatch

from hwgen.ir.graph import DataflowGraph
import numpy as np

from hwgen.ir.layers import DWC, MVAU, SWG, MaxPool, Thresholding


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


def window_blocks(layer: SWG | MaxPool) -> tuple[np.ndarray, int]:
    """The loop of the sliding-window kernels (swg.hpp, maxpool.hpp), block by block, per frame.

    A line buffer holds input rows. Block 0 only reads: the input rows the first output row needs.
    Block 1 + oy walks output row oy's windows, one word of one window element per iteration
    (ofm_w * k_h * k_w * C/word iterations, `ops`), while it reads the rows output row oy + 1 needs
    (after the last output row: the input rows left). Output row oy needs the input rows up to
        last(oy) = clamp(oy * stride_h + k_h - 1 - pad_top, -1, ifm_h - 1),  last(ofm_h) = ifm_h - 1.
    Returns the words read in each of the 1 + ofm_h blocks, and `ops`; block 1 + oy takes
    max(ops, reads) iterations.
    """
    cf = layer.channels // layer.in_elems
    oy = np.arange(layer.ofm_h + 1)
    last = np.clip(oy * layer.stride_h + layer.k_h - 1 - layer.pad[0], -1, layer.ifm_h - 1)
    last[-1] = layer.ifm_h - 1
    rows = np.diff(np.concatenate([[-1], last]))
    return rows * layer.ifm_w * cf, layer.ofm_w * layer.k_h * layer.k_w * cf


def _window_cycles(layer: SWG | MaxPool) -> int:
    reads, ops = window_blocks(layer)
    return int(reads[0] + np.maximum(reads[1:], ops).sum())


@cycles.register
def _(layer: SWG) -> int:
    return _window_cycles(layer)


@cycles.register
def _(layer: MaxPool) -> int:
    return _window_cycles(layer)


def io_cycles(words: int, stream_bits: int, port_bits: int) -> int:
    """Cycles the AXI DMA needs for one frame of `words` AXI-stream words of `stream_bits` bits each,
    through a PS memory port of `port_bits` (the HP port: 64 bits on Zynq-7000, 128 on Zynq UltraScale+).

    A stream word is padded to the whole stream width (an 8-bit pixel is one 8-bit beat), the
    accelerator takes or gives one word a cycle, and the memory side moves one `port_bits` beat a
    cycle; the slower side sets the pace. vivado/bd.tcl builds exactly this: the DMA's memory side
    as wide as the port, its stream side as wide as the accelerator's (an AXI4-Stream width
    converter between them where the accelerator's word is wider than the port).
    """
    if words < 0 or stream_bits <= 0 or port_bits <= 0:
        raise ValueError(f"io_cycles needs words >= 0 and positive widths, not {words}, {stream_bits}, {port_bits}")
    return max(words, -(-words * stream_bits // port_bits))


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
