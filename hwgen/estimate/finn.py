"""FINN's own resource estimates for hwgen's layers: how FINN's compiler would judge the same design.

FINN (github.com/Xilinx/finn, src/finn/custom_op/fpgadataflow/) estimates each layer with
FINN-R's formulas (Blott et al., 2018). Each kind's `finn_resources` (hwgen.kinds) ports their
arithmetic for a hwgen layer folded the same way; no FINN code is used or needed. Where FINN's
code has changed over versions, the larger figure is taken, so that "at least as conservative
as FINN" means at least these numbers. hwgen's resource model never puts a layer below them.
FINN's own comments call these estimates rough (FIFO contributions are not modelled, the SWG
formula assumes square images); FINN estimates no MaxPool (0) and, in its default report, no
FIFOs, width converters or shell.

Choices FINN leaves to attributes are mapped from the hwgen layer: `ram_style` is the memory
hwgen puts the table in (block or distributed), `mem_mode` is internal_decoupled (FINN's
memory model), `resType` is dsp exactly when hwgen puts the products on DSPs.
"""

from __future__ import annotations

import math

from hwgen.hw import Resources
from hwgen.ir.graph import stream_widths
from hwgen.kinds import kind_of
from hwgen.kinds.mvau import finn_acc_bits

__all__ = ["finn_acc_bits", "finn_fifo", "finn_resources", "finn_total"]


def finn_resources(layer) -> Resources:
    """FINN's estimate of one layer (its kind's `finn_resources`)."""
    return kind_of(layer).finn_resources(layer)


def finn_fifo(width: int, depth: int) -> Resources:
    """StreamingFIFO, FINN's default rtl (SRL) implementation: LUT = 2 * ceil(log2 depth) + ceil(depth / 32) * ceil(W / 2)."""
    return Resources(LUT=2 * math.ceil(math.log2(max(depth, 1))) + math.ceil(depth / 32) * math.ceil(width / 2))


def finn_total(graph, fifo_depths: dict[str, int] | None = None) -> Resources:
    """FINN's estimate of a whole design: the plain sum over its layers (FINN's aggregate_dict_keys),
    plus the FIFOs when `fifo_depths` is given (FINN's default report runs before FIFOs exist)."""
    total = Resources()
    for layer in graph.layers:
        total = total + finn_resources(layer)
    if fifo_depths is not None:
        for stream, width in stream_widths(graph).items():
            total = total + finn_fifo(width, fifo_depths.get(stream, 2))
    return total
