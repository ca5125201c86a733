"""Resource model: LUT, FF, BRAM18, URAM and DSP per layer and per design.

own_resources is hwgen's own model: FINN-R's published cost model with hwgen's exact widths,
plus explicit memories for weights, thresholds and line buffers; FIFOs and the shell come on
top per design. Each formula is documented next to its code (tests/estimate/test_resources.py
works them out by hand). `resources`, what folding and the reports use, is that model floored
by FINN's own estimate of the layer (finn.py), resource by resource: a policy, so that hwgen
never judges a layer cheaper than FINN's compiler would. Both estimate what Vitis HLS will
produce; post-synthesis reports (hwgen.synth.reports) are the truth where the tools ran.
"""

from __future__ import annotations

import math
from functools import singledispatch

from hwgen.estimate.finn import finn_resources
from hwgen.estimate.primitives import (LUTRAM_MAX_BITS, LUTRAM_MAX_DEPTH, STORAGE_IMPL, Resources, bram18_blocks, line_buffer_shape,
                                      memory, memory_kind, stream_widths, uses_dsp, weight_memory)
from hwgen.ir.layers import DWC, MVAU, SWG, MaxPool, Thresholding

__all__ = ["LUTRAM_MAX_BITS", "LUTRAM_MAX_DEPTH", "Resources", "SHELL", "bram18_blocks", "fifo", "implementation", "line_buffer", "memory",
           "memory_kind", "own_resources", "resources", "total_resources", "uses_dsp", "weight_memory"]


def resources(layer) -> Resources:
    """A layer's estimate: hwgen's own model (own_resources), each resource raised to FINN's estimate
    of the layer (finn.finn_resources) where FINN's is higher. FINN estimates no MaxPool (0): its
    floor changes nothing."""
    return own_resources(layer).at_least(finn_resources(layer))


@singledispatch
def own_resources(layer) -> Resources:
    """hwgen's own estimate of a layer, before the floor of `resources`."""
    raise NotImplementedError(f"no resource model for layer kind {type(layer).__name__}")


@own_resources.register
def _(layer: MVAU) -> Resources:
    """FINN-R: LUT = 300 + 1.1 * PE * (mult + addtree + acc + comp + thr), per PE lane:
        mult    = SIMD * (2 * ceil((W + A) / 6) - 1) * (W + A)   (0 when the products use DSPs)
        addtree = (W + A) * (2 * SIMD - 1)
        acc     = accumulator bits
        comp    = NT * accumulator bits     (NT thresholds, at most 2^B - 1 for B output bits; 0 without)
        thr     = the lane's threshold table (NT * acc bits x MH/PE words) when it is in LUTRAM
    plus the weight table (one word of PE * SIMD weights per tile, MH/PE * MW/SIMD words, in the
    memory `ram_style` names; FINN's c2 when distributed) and block-RAM threshold tables.
    DSP: one DSP48 per product (PE * SIMD) when the products use DSPs (operands <= 8 bits fit one).
    FF: accumulators, output and input registers and one pipeline stage per adder-tree level (an
    estimate: FINN-R publishes no FF formula):
        FF = PE * (acc * (1 + levels) + B) + 2 * SIMD * A,  levels = max(1, ceil(log2 SIMD))
    (`resources` floors it by FINN's estimate, whose accumulator can be wider than hwgen's.)
    """
    w, a = layer.w_dtype.bits, layer.in_dtype.bits
    wa, acc_bits = w + a, layer.acc_dtype.bits
    dsp = uses_dsp(layer)
    mult = 0 if dsp else layer.simd * (2 * math.ceil(wa / 6) - 1) * wa
    addtree = wa * (2 * layer.simd - 1)
    nt = 0 if layer.thresholds is None else layer.thresholds.shape[1]
    comp = nt * acc_bits
    thresholds = memory(nt * acc_bits, layer.mh // layer.pe) if nt else Resources()
    thr = thresholds.LUT  # a LUTRAM table counts per lane, inside FINN-R's 1.1 factor
    lut = 300 + 1.1 * layer.pe * (mult + addtree + acc_bits + comp + thr)
    levels = max(1, math.ceil(math.log2(layer.simd))) if layer.simd > 1 else 1
    ff = layer.pe * (acc_bits * (1 + levels) + layer.out_dtype.bits) + layer.simd * a * 2
    compute = Resources(LUT=lut, FF=ff, DSP=layer.pe * layer.simd if dsp else 0)
    block_thresholds = Resources(BRAM18=thresholds.BRAM18).scaled(layer.pe)
    return compute + memory(*weight_memory(layer), layer.ram_style) + block_thresholds


@own_resources.register
def _(layer: Thresholding) -> Resources:
    """LUT = 100 + 1.1 * PE * NT * T comparators (NT thresholds of T bits, the threshold type),
    FF = 2 * PE * (input bits + output bits), plus PE threshold tables of NT * T bits x C/PE words."""
    bits = layer.threshold_dtype.bits
    nt = layer.thresholds.shape[1]
    compute = Resources(LUT=100 + 1.1 * layer.pe * nt * bits, FF=layer.pe * (layer.in_dtype.bits + layer.out_dtype.bits) * 2)
    return compute + memory(nt * bits, layer.channels // layer.pe).scaled(layer.pe)


@own_resources.register
def _(layer: DWC) -> Resources:
    """A shift register as wide as the wider word, plus control: LUT = 50 + in bits + out bits,
    FF = max(in bits, out bits) + in bits + out bits."""
    in_bits, out_bits = layer.in_elems * layer.dtype.bits, layer.out_elems * layer.dtype.bits
    return Resources(LUT=50 + in_bits + out_bits, FF=max(in_bits, out_bits) + in_bits + out_bits)


def line_buffer(layer: SWG | MaxPool) -> Resources:
    """The sliding-window kernels' line buffer (primitives.line_buffer_shape), in the memory its size picks."""
    return memory(*line_buffer_shape(layer))


@own_resources.register
def _(layer: SWG) -> Resources:
    """LUT = 150 + 2 * word bits: block/window counters and address arithmetic (about 150), the
    zero-padding mux and output register (one LUT per bit each); FF = 100 + 2 * word bits
    (counters, input and output registers). Plus the line buffer. (FINN's estimate, the floor of
    `resources`, is 300 LUTs and its own line-buffer mapping.)"""
    bits = layer.simd * layer.dtype.bits
    return Resources(LUT=150 + 2 * bits, FF=100 + 2 * bits) + line_buffer(layer)


@own_resources.register
def _(layer: MaxPool) -> Resources:
    """LUT = 150 + PE * 3 * bits: counters and addressing as the SWG, per lane a comparator, the
    running-max mux and the output register (a LUT per bit each); FF = 100 + PE * 3 * bits (input
    register, running maxima, output register). Plus the line buffer."""
    bits = layer.pe * layer.dtype.bits
    return Resources(LUT=150 + 3 * bits, FF=100 + 3 * bits) + line_buffer(layer)


def implementation(layer) -> str:
    """How an MVAU is built, for tables: its weight memory and its products' hardware, as resolved
    ("bram/lut", "lutram/dsp"); "-" for other layers."""
    if not isinstance(layer, MVAU):
        return "-"
    memory = STORAGE_IMPL[memory_kind(*weight_memory(layer), layer.ram_style)]
    return f"{memory}/{'dsp' if uses_dsp(layer) else 'lut'}"


def fifo(width: int, depth: int) -> Resources:
    """A stream FIFO: registers up to depth 2; SRL shift registers up to depth 32 (a LUT per bit, plus
    about 10 of control); deeper, a memory (`memory`: LUTRAM when shallow or tiny, else BRAM) plus
    about 30 LUTs of control."""
    if depth <= 2:
        return Resources(FF=width * depth)
    if depth <= 32:
        return Resources(LUT=width * math.ceil(depth / 32) + 10, FF=width + 10)
    return memory(width, depth) + Resources(LUT=30, FF=width + 30)


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
