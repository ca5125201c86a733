"""What the hardware offers and what its primitives cost: pure arithmetic, no layer knowledge.

The Resources record and the resource kinds boards list; memory mapping (LUTRAM or BRAM18, FINN's
BRAM ladder); the widths the tools and the AXI DMA take. The layer kinds (hwgen.kinds), the
estimates (hwgen.estimate), folding and code generation all read these; nothing here imports
anything from hwgen but errors.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, fields

from hwgen.errors import HwgenError

# The resources a board lists and usage is counted in, in this order everywhere (board files,
# Resources.usage, folding's price list, the report). BRAM counts in BRAM36, as the board files do.
RESOURCE_KINDS = ("LUT", "FF", "BRAM36", "URAM", "DSP")
SCARCE = ("LUT", "BRAM36", "DSP")  # what designs run out of: what folding trades against each other, what plots show


@dataclass(frozen=True)
class Resources:
    LUT: float = 0.0
    FF: float = 0.0
    BRAM18: float = 0.0
    URAM: float = 0.0
    DSP: float = 0.0

    def __add__(self, other: Resources) -> Resources:
        return Resources(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def __sub__(self, other: Resources) -> Resources:
        return Resources(*(getattr(self, f.name) - getattr(other, f.name) for f in fields(self)))

    def scaled(self, k: float) -> Resources:
        return Resources(*(getattr(self, f.name) * k for f in fields(self)))

    def at_least(self, floor: Resources) -> Resources:
        """Each resource the larger of this estimate and `floor`."""
        return Resources(*(max(getattr(self, f.name), getattr(floor, f.name)) for f in fields(self)))

    @property
    def BRAM36(self) -> float:
        return self.BRAM18 / 2

    def as_dict(self) -> dict:
        d = {f.name: round(getattr(self, f.name), 1) for f in fields(self)}
        d["BRAM36"] = round(self.BRAM36, 1)
        return d

    def usage(self, available: dict) -> dict:
        """Fraction of each board resource used (RESOURCE_KINDS; BRAM counted in BRAM36, like the board files)."""
        used = {k: getattr(self, k) for k in RESOURCE_KINDS}
        return {k: (v / available[k] if available.get(k) else (math.inf if v else 0.0)) for k, v in used.items()}


# -- memories ---------------------------------------------------------------------------
class RamStyle(enum.Enum):
    """Where a table lives (FINN's `ram_style`)."""

    AUTO = "auto"  # by size: LUTRAM when shallow or tiny, else BRAM (memory_kind)
    BLOCK = "block"  # block RAM (BRAM18 / BRAM36)
    DISTRIBUTED = "distributed"  # LUTRAM
    # (no "ultra": UltraRAM cannot be initialized by the bitstream, and the weights are constant tables)


LUTRAM_MAX_DEPTH = 64  # by default, shallower memories go to distributed RAM (one LUT6 holds 64 x 1 bit)
LUTRAM_MAX_BITS = 4096  # and so do tiny ones, however deep (BRAM would be mostly empty)
# each resolved memory by Vitis HLS's BIND_STORAGE name (impl = ...), also how tables show it
STORAGE_IMPL = {RamStyle.BLOCK: "bram", RamStyle.DISTRIBUTED: "lutram"}


def memory_kind(width: int, depth: int, style: RamStyle = RamStyle.AUTO) -> RamStyle:
    """The memory a table of `depth` words of `width` bits is built from: `style`, or for AUTO
    distributed RAM when shallow (depth <= 64) or tiny (<= 4 Kbit), else block RAM."""
    if style is not RamStyle.AUTO:
        return style
    shallow = depth <= LUTRAM_MAX_DEPTH or width * depth <= LUTRAM_MAX_BITS
    return RamStyle.DISTRIBUTED if shallow else RamStyle.BLOCK


def bram18_blocks(width: int, depth: int) -> int:
    """BRAM18s for a table, by FINN's mapping rule (its MVAU bram_estimation): words of up to 9 bits
    in the deepest aspect ratio that holds them (16Kx1, 8Kx2, 4Kx4, 2Kx9), wider ones in 1Kx18
    blocks side by side, or in 512x36 ones for tables of at most 512 words (the 36-bit ratio is
    simple-dual-port only). Never below the cheapest tiling over those ratios."""
    if width == 1:
        return math.ceil(depth / 16384)
    if width == 2:
        return math.ceil(depth / 8192)
    if width <= 4:
        return math.ceil(depth / 4096)
    if width <= 9:
        return math.ceil(depth / 2048)
    if width <= 18 or depth > 512:
        return math.ceil(depth / 1024) * math.ceil(width / 18)
    return math.ceil(depth / 512) * math.ceil(width / 36)


def memory(width: int, depth: int, style: RamStyle = RamStyle.AUTO) -> Resources:
    """A read-only table of `depth` words of `width` bits, in the memory `memory_kind` picks.

    Distributed RAM: ceil(depth / 64) LUT6 per bit of width (FINN's c2 term). Block RAM:
    `bram18_blocks`.
    """
    if width <= 0 or depth <= 0:
        return Resources()
    kind = memory_kind(width, depth, style)
    if kind is RamStyle.DISTRIBUTED:
        return Resources(LUT=width * math.ceil(depth / 64))
    return Resources(BRAM18=bram18_blocks(width, depth))


def fifo(width: int, depth: int) -> Resources:
    """A stream FIFO: registers up to depth 2; SRL shift registers up to depth 32 (a LUT per bit, plus
    about 10 of control); deeper, a memory (`memory`: LUTRAM when shallow or tiny, else BRAM) plus
    about 30 LUTs of control."""
    if depth <= 2:
        return Resources(FF=width * depth)
    if depth <= 32:
        return Resources(LUT=width * math.ceil(depth / 32) + 10, FF=width + 10)
    return memory(width, depth) + Resources(LUT=30, FF=width + 30)


# -- stream words -----------------------------------------------------------------------
AP_INT_DEFAULT_MAX_W = 1024  # the widest ap_[u]int without AP_INT_MAX_W (UG1399)
MAX_WORD_BITS = 4096  # the widest with it: Vitis HLS takes AP_INT_MAX_W up to 4096 (UG1399)
MAX_PORT_BITS = 1024  # the widest AXI-stream word the accelerator's ports (and the AXI DMA) take
AXIS_WIDTHS = tuple(8 << i for i in range(8))  # 8 ... 1024: AXI DMA stream widths


def ap_int_max_w(bits: int) -> int | None:
    """The AP_INT_MAX_W a design whose widest ap_uint has `bits` needs: None up to 1024 (ap_int's default),
    else 4096 (the most Vitis HLS takes; one value, so one precompiled C-sim header serves every design)."""
    return None if bits <= AP_INT_DEFAULT_MAX_W else MAX_WORD_BITS


def bus_width(bits: int) -> int:
    """The AXI-stream width (a power of two, 8 .. 1024 bits) that carries a word of `bits`."""
    bus = 8
    while bus < bits:
        bus *= 2
    if bus > MAX_PORT_BITS:
        raise HwgenError(f"a stream word of {bits} bits exceeds the {MAX_PORT_BITS}-bit AXI-stream limit",
                         hint="lower the SIMD of the first layer or the PE of the last")
    return bus
