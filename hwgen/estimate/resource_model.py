"""Resource model: LUT, FF, BRAM18, URAM and DSP per layer and per design.

The formulas are FINN-R's published cost model (FACTS.md), kept at least as conservative,
plus explicit memories for weights and thresholds. Each formula is documented next to its
code. They estimate what Vitis HLS will produce; post-synthesis reports (hwgen.synth.reports)
are the truth where the tools ran.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from functools import singledispatch

from hwgen.ir.layers import DWC, MVAU, SWG, MaxPool, Thresholding

# BRAM18 aspect ratios (depth, width) on 7-series and UltraScale+ (FACTS.md)
BRAM18_SHAPES = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))
LUTRAM_MAX_DEPTH = 64  # shallower memories go to distributed RAM (one LUT6 holds 64 x 1 bit)
LUTRAM_MAX_BITS = 4096  # and so do tiny ones, however deep (BRAM would be mostly empty)


@dataclass(frozen=True)
class Resources:
    LUT: float = 0.0
    FF: float = 0.0
    BRAM18: float = 0.0
    URAM: float = 0.0
    DSP: float = 0.0

    def __add__(self, other: "Resources") -> "Resources":
        return Resources(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def scaled(self, k: float) -> "Resources":
        return Resources(*(getattr(self, f.name) * k for f in fields(self)))

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


def memory(width: int, depth: int) -> Resources:
    """A read-only table of `depth` words of `width` bits.

    Distributed RAM (LUTs) when shallow (depth <= 64) or tiny (<= 4 Kbit): ceil(depth / 64) LUT6 per
    bit of width. Otherwise BRAM18s: the cheapest tiling over the aspect ratios 16Kx1 ... 512x36,
    ceil(width / w) * ceil(depth / d) blocks.
    """
    if width <= 0 or depth <= 0:
        return Resources()
    if depth <= LUTRAM_MAX_DEPTH or width * depth <= LUTRAM_MAX_BITS:
        return Resources(LUT=width * math.ceil(depth / 64))
    return Resources(BRAM18=min(math.ceil(width / w) * math.ceil(depth / d) for d, w in BRAM18_SHAPES))


def uses_dsp(layer: MVAU) -> bool:
    """Products of two operands both wider than 4 bits go to DSP48 slices, narrower ones to LUTs."""
    return layer.in_dtype.bits > 4 and layer.w_dtype.bits > 4


@singledispatch
def resources(layer) -> Resources:
    raise NotImplementedError(f"no resource model for layer kind {type(layer).__name__}")


@resources.register
def _(layer: MVAU) -> Resources:
    """FINN-R: LUT = 300 + 1.1 * PE * (mult + addtree + acc + comp), per PE lane:
        mult    = SIMD * (2 * ceil((W + A) / 6) - 1) * (W + A)   (0 when the products use DSPs)
        addtree = (W + A) * (2 * SIMD - 1)
        acc     = accumulator bits
        comp    = NT * accumulator bits     (NT thresholds, at most 2^B - 1 for B output bits; 0 without)
    plus the weight memory (PE tables of SIMD * W bits x MH/PE * MW/SIMD words) and the threshold
    memory (PE tables of NT * acc bits x MH/PE words). FF: accumulators, output and input registers
    and one pipeline stage per adder-tree level (an estimate: FINN-R publishes no FF formula).
    """
    w, a = layer.w_dtype.bits, layer.in_dtype.bits
    wa, acc_bits = w + a, layer.acc_dtype.bits
    dsp = uses_dsp(layer)
    mult = 0 if dsp else layer.simd * (2 * math.ceil(wa / 6) - 1) * wa
    addtree = wa * (2 * layer.simd - 1)
    nt = 0 if layer.thresholds is None else layer.thresholds.shape[1]
    comp = nt * acc_bits
    lut = 300 + 1.1 * layer.pe * (mult + addtree + acc_bits + comp)
    levels = max(1, math.ceil(math.log2(layer.simd))) if layer.simd > 1 else 1
    ff = layer.pe * (acc_bits * (1 + levels) + layer.out_dtype.bits) + layer.simd * a * 2
    compute = Resources(LUT=lut, FF=ff, DSP=layer.pe * layer.simd if dsp else 0)
    nf, sf = layer.mh // layer.pe, layer.mw // layer.simd
    weights = memory(layer.simd * w, nf * sf).scaled(layer.pe)
    thresholds = memory(nt * acc_bits, nf).scaled(layer.pe) if nt else Resources()
    return compute + weights + thresholds


@resources.register
def _(layer: Thresholding) -> Resources:
    """LUT = 100 + 1.1 * PE * (NT * input bits) comparators, plus PE threshold tables of NT words x C/PE."""
    bits = layer.threshold_dtype.bits
    nt = layer.thresholds.shape[1]
    compute = Resources(LUT=100 + 1.1 * layer.pe * nt * bits, FF=layer.pe * (layer.in_dtype.bits + layer.out_dtype.bits) * 2)
    return compute + memory(nt * bits, layer.channels // layer.pe).scaled(layer.pe)


@resources.register
def _(layer: DWC) -> Resources:
    """A shift register as wide as the wider word, plus control: LUT = 50 + in bits + out bits."""
    in_bits, out_bits = layer.in_elems * layer.dtype.bits, layer.out_elems * layer.dtype.bits
    return Resources(LUT=50 + in_bits + out_bits, FF=max(in_bits, out_bits) + in_bits + out_bits)


def line_buffer(layer: SWG | MaxPool) -> Resources:
    """The sliding-window kernels' line buffer: k_h + stride_h input rows of C/word words (swg.hpp)."""
    word = layer.in_elems
    return memory(word * layer.dtype.bits, (layer.k_h + layer.stride_h) * layer.ifm_w * (layer.channels // word))


@resources.register
def _(layer: SWG) -> Resources:
    """LUT = 150 + 2 * word bits: block/window counters and address arithmetic (about 150), the
    zero-padding mux and output register (one LUT per bit each); FF = 100 + 2 * word bits
    (counters, input and output registers). Plus the line buffer."""
    bits = layer.simd * layer.dtype.bits
    return Resources(LUT=150 + 2 * bits, FF=100 + 2 * bits) + line_buffer(layer)


@resources.register
def _(layer: MaxPool) -> Resources:
    """LUT = 150 + PE * 3 * bits: counters and addressing as the SWG, per lane a comparator, the
    running-max mux and the output register (a LUT per bit each); FF = 100 + PE * 3 * bits (input
    register, running maxima, output register). Plus the line buffer."""
    bits = layer.pe * layer.dtype.bits
    return Resources(LUT=150 + 3 * bits, FF=100 + 3 * bits) + line_buffer(layer)


def fifo(width: int, depth: int) -> Resources:
    """A stream FIFO: SRL shift registers up to depth 32 (one LUT per bit per 32 entries), else BRAM."""
    if depth <= 2:
        return Resources(FF=width * depth)
    if depth <= 32:
        return Resources(LUT=width * math.ceil(depth / 32) + 10, FF=width + 10)
    return memory(width, depth) + Resources(LUT=30, FF=width + 30)


# The PYNQ shell around the accelerator: AXI DMA (no scatter-gather, 26-bit lengths), two AXI
# interconnects / SmartConnects, reset and the AXIS adapters. A rough allowance, counted in fits.
SHELL = Resources(LUT=4000, FF=5500, BRAM18=4, URAM=0, DSP=0)


def total_resources(graph, fifo_depths: dict[str, int] | None = None) -> Resources:
    total = Resources()
    for layer in graph.layers:
        total = total + resources(layer)
    depths = fifo_depths or {}
    first = graph.layers[0]
    total = total + fifo(first.in_elems * first.in_dtype.bits, depths.get("input", 2))
    for layer in graph.layers:  # the stream each layer writes
        total = total + fifo(layer.out_elems * layer.out_dtype.bits, depths.get(layer.name, 2))
    return total
