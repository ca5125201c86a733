"""What hardware primitives cost: the Resources record, memory mapping (LUTRAM / BRAM18), and which
memories and multipliers an MVAU is built from. Shared by hwgen's resource model and the port of
FINN's formulas (finn.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from hwgen.ir.layers import MVAU, SWG, MaxPool, RamStyle, ResType

LUTRAM_MAX_DEPTH = 64  # by default, shallower memories go to distributed RAM (one LUT6 holds 64 x 1 bit)
LUTRAM_MAX_BITS = 4096  # and so do tiny ones, however deep (BRAM would be mostly empty)
# each resolved memory by Vitis HLS's BIND_STORAGE name (impl = ...), also how tables show it
STORAGE_IMPL = {RamStyle.BLOCK: "bram", RamStyle.DISTRIBUTED: "lutram"}


@dataclass(frozen=True)
class Resources:
    LUT: float = 0.0
    FF: float = 0.0
    BRAM18: float = 0.0
    URAM: float = 0.0
    DSP: float = 0.0

    def __add__(self, other: "Resources") -> "Resources":
        return Resources(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def __sub__(self, other: "Resources") -> "Resources":
        return Resources(*(getattr(self, f.name) - getattr(other, f.name) for f in fields(self)))

    def scaled(self, k: float) -> "Resources":
        return Resources(*(getattr(self, f.name) * k for f in fields(self)))

    def at_least(self, floor: "Resources") -> "Resources":
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
        """Fraction of each board resource used (BRAM counted in BRAM36, like the board files)."""
        used = {"LUT": self.LUT, "FF": self.FF, "BRAM36": self.BRAM36, "URAM": self.URAM, "DSP": self.DSP}
        return {k: (v / available[k] if available.get(k) else (math.inf if v else 0.0)) for k, v in used.items()}


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


def uses_dsp(layer: MVAU) -> bool:
    """res_type DSP, or AUTO with both operands wider than 4 bits: the products go to DSP slices."""
    if layer.res_type is ResType.AUTO:
        return layer.in_dtype.bits > 4 and layer.w_dtype.bits > 4
    return layer.res_type is ResType.DSP


def weight_memory(layer: MVAU) -> tuple[int, int]:
    """(width, depth) of an MVAU's weight table: one word of PE * SIMD weights per tile."""
    return layer.pe * layer.simd * layer.w_dtype.bits, (layer.mh // layer.pe) * (layer.mw // layer.simd)


def line_buffer_shape(layer: SWG | MaxPool) -> tuple[int, int]:
    """(width, depth) of the sliding-window kernels' line buffer: k_h + stride_h input rows of C/word words (swg.hpp)."""
    word = layer.in_elems
    return word * layer.dtype.bits, (layer.k_h + layer.stride_h) * layer.ifm_w * (layer.channels // word)


def stream_widths(graph) -> dict[str, int]:
    """Bits per word of a chain's streams: the DMA's ("input") and the one each layer writes (by its name)."""
    first = graph.layers[0]
    return {"input": first.in_elems * first.in_dtype.bits} | {l.name: l.out_elems * l.out_dtype.bits for l in graph.layers}
