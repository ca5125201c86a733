"""Resource model: LUT, FF, BRAM18, URAM and DSP per layer and per design.

own_resources is hwgen's own model of a layer (its kind's `resources`: FINN-R's published cost
model with hwgen's exact widths, plus explicit memories for weights, thresholds and line
buffers); FIFOs and the shell come on top per design. Each formula is documented next to its
code (tests/estimate/test_resources.py works them out by hand). `resources`, what folding and
the reports use, is that model floored by FINN's own estimate of the layer (finn.py), resource
by resource: a policy, so that hwgen never judges a layer cheaper than FINN's compiler would.
Both estimate what Vitis HLS will produce; post-synthesis reports (hwgen.synth.reports) are the
truth where the tools ran.
"""

from __future__ import annotations

from hwgen.estimate.finn import finn_resources
from hwgen.hw import Resources, fifo
from hwgen.ir.graph import stream_widths
from hwgen.kinds import kind_of

__all__ = ["SHELL", "Resources", "fifo", "fifo_resources", "own_resources", "resources", "total_resources"]


def resources(layer) -> Resources:
    """A layer's estimate: hwgen's own model (own_resources), each resource raised to FINN's estimate
    of the layer (finn.finn_resources) where FINN's is higher. FINN estimates no MaxPool (0): its
    floor changes nothing."""
    return own_resources(layer).at_least(finn_resources(layer))


def own_resources(layer) -> Resources:
    """hwgen's own estimate of a layer (its kind's `resources`), before the floor of `resources`."""
    return kind_of(layer).resources(layer)


# The PYNQ shell around the accelerator: AXI DMA (no scatter-gather, 26-bit lengths), two AXI
# interconnects / SmartConnects, reset and the AXIS adapters. A rough allowance, counted in fits.
SHELL = Resources(LUT=4000, FF=5500, BRAM18=4, URAM=0, DSP=0)


def fifo_resources(graph, fifo_depths: dict[str, int] | None = None) -> Resources:
    """The FIFOs of a chain: the DMA's ("input") and the one each layer writes, by `fifo_depths` (default 2)."""
    depths = fifo_depths or {}
    total = Resources()
    for stream, width in stream_widths(graph).items():
        total = total + fifo(width, depths.get(stream, 2))
    return total


def total_resources(graph, fifo_depths: dict[str, int] | None = None) -> Resources:
    total = Resources()
    for layer in graph.layers:
        total = total + resources(layer)
    return total + fifo_resources(graph, fifo_depths)
