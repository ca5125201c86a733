"""Cycle model: clock cycles per frame of a layer at II=1 (its kind's `cycles`: what its loop iterates),
of the AXI DMA, and of a whole design.

tests/csim/test_cycles.py checks the layers' cycles against the C-sim's iteration counters.
"""

from __future__ import annotations

from hwgen.ir.graph import DataflowGraph
from hwgen.kinds import kind_of


def cycles(layer) -> int:
    return kind_of(layer).cycles(layer)


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
