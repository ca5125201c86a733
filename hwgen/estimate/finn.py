"""FINN's own resource estimates for hwgen's layers: how FINN's compiler would judge the same design.

FINN (github.com/Xilinx/finn, src/finn/custom_op/fpgadataflow/) estimates each layer with
FINN-R's formulas (Blott et al., 2018). This module ports their arithmetic, per layer kind,
for a hwgen layer folded the same way; no FINN code is used or needed. Where FINN's code has
changed over versions, the larger figure is taken, so that "at least as conservative as
FINN" means at least these numbers. hwgen's resource model never puts an MVAU, Thresholding
or SWG below them. FINN's own comments call these estimates rough (FIFO contributions are
not modelled, the SWG formula assumes square images); FINN estimates no MaxPool (0) and, in
its default report, no FIFOs, width converters or shell.

Choices FINN leaves to attributes are mapped from the hwgen layer: `ram_style` is the memory
hwgen puts the table in (block or distributed), `mem_mode` is internal_decoupled (FINN's
memory model), `resType` is dsp exactly when hwgen puts the products on DSPs.
"""

from __future__ import annotations

import math
from functools import singledispatch

from hwgen.estimate.primitives import (Resources, bram18_blocks, line_buffer_shape, memory_kind, stream_widths, uses_dsp,
                                      weight_memory)
from hwgen.ir.layers import DWC, MVAU, SWG, MaxPool, RamStyle, Thresholding


@singledispatch
def finn_resources(layer) -> Resources:
    raise NotImplementedError(f"no FINN estimate for layer kind {type(layer).__name__}")


def finn_acc_bits(layer: MVAU) -> int:
    """FINN's accumulator width: FINN-R's W + A + ceil(log2 MW) (FINN until 2023), or the newer
    bound min(accumulator type, ceil(alpha + log2(1 + 2^-alpha) + 1)), alpha = log2 MW + W + A - 1
    - signed(input) (arXiv:2301.13376), with FINN's accumulator minimized to the same range as
    hwgen's; the larger."""
    w, a, mw = layer.w_dtype.bits, layer.in_dtype.bits, layer.mw
    old = w + a + math.ceil(math.log2(mw))
    alpha = math.log2(mw) + w + a - 1 - int(layer.in_dtype.signed)
    new = min(layer.acc_dtype.bits, math.ceil(alpha + math.log2(1 + 2 ** -alpha) + 1))
    return max(old, new)


@finn_resources.register
def _(layer: MVAU) -> Resources:
    """MVAU_hls.lut_estimation / MVAU.bram_estimation / dsp_estimation:
        LUT  = 300 + 1.1 * PE * (mult + addtree + acc + thr + comp) + c2
        mult = SIMD * (2 * ceil((W + A) / 6) - 1) * (W + A), 0 with resType dsp
        addtree = (W + A) * (2 * SIMD - 1); acc = finn_acc_bits
        thr  = (2^B - 1) * acc * ceil(TMEM / 64), comp = (2^B - 1) * acc  (with an activation;
               counted always, as FINN did before it made them depend on ram_style_thresholds)
        c2   = PE * SIMD * W * ceil(WMEM / 64) when the weights are distributed
        BRAM18 = the width ladder of bram18_blocks over PE * SIMD * W bits x WMEM words, unless
               distributed (threshold memories are not counted)
        DSP  = PE * SIMD * ceil((W + A) / 48) with resType dsp
    with WMEM = MW * MH / (PE * SIMD), TMEM = MH / PE, B the output bits."""
    p, q, w, a = layer.pe, layer.simd, layer.w_dtype.bits, layer.in_dtype.bits
    width, wmem = weight_memory(layer)
    distributed = memory_kind(width, wmem, layer.ram_style) is RamStyle.DISTRIBUTED
    dsp = uses_dsp(layer)
    mult = 0 if dsp else q * (2 * math.ceil((w + a) / 6) - 1) * (w + a)
    addtree = (w + a) * (2 * q - 1)
    acc = finn_acc_bits(layer)
    thr = comp = 0
    if layer.thresholds is not None:
        steps = 2 ** layer.out_dtype.bits - 1
        thr = steps * acc * math.ceil((layer.mh // p) / 64)
        comp = steps * acc
    c2 = p * q * w * math.ceil(wmem / 64) if distributed else 0
    lut = int(300 + 1.1 * (p * (mult + addtree + acc + thr + comp)) + c2)
    return Resources(LUT=lut, BRAM18=0 if distributed else bram18_blocks(width, wmem),
                     DSP=p * q * math.ceil((w + a) / 48) if dsp else 0)


@finn_resources.register
def _(layer: Thresholding) -> Resources:
    """Thresholding_hls: LUT = A * PE comparators, + PE * A * ceil(TMEM / 64) for a distributed table;
    BRAM18 = ceil(A * PE / 16) * ceil(TMEM / 1024) for a block one (TMEM = C / PE > 1, A input bits)."""
    a, p, tmem = layer.in_dtype.bits, layer.pe, layer.channels // layer.pe
    kind = memory_kind(layer.thresholds.shape[1] * layer.threshold_dtype.bits, tmem)
    lut = a * p + (p * a * math.ceil(tmem / 64) if kind is RamStyle.DISTRIBUTED and tmem > 1 else 0)
    bram = math.ceil(a * p / 16) * math.ceil(tmem / 1024) if kind is RamStyle.BLOCK and tmem > 1 else 0
    return Resources(LUT=lut, BRAM18=bram)


def _ram_width(depth: float) -> int:
    """The BRAM18 aspect ratio FINN's SWG estimate picks for a buffer of `depth` words."""
    for limit, width in ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2)):
        if depth <= limit:
            return width
    return 1


@finn_resources.register
def _(layer: SWG) -> Resources:
    """ConvolutionInputGenerator_hls (2D): K + stride line buffers of IFMDim * C / SIMD words of
    SIMD * bits. Block: BRAM18 = (K + stride) * ceil(SIMD * bits / ram_width(depth)); distributed:
    LUT = 300 + (K + stride) * SIMD * bits * ceil(depth / 64), else LUT = 300. FINN assumes square
    images and kernels; here K and stride are the vertical ones and IFMDim the larger side."""
    bits = layer.simd * layer.dtype.bits
    rows = layer.k_h + layer.stride_h
    depth = max(layer.ifm_h, layer.ifm_w) * layer.channels / layer.simd
    if memory_kind(*line_buffer_shape(layer)) is RamStyle.DISTRIBUTED:
        return Resources(LUT=300 + rows * bits * math.ceil(depth / 64))
    return Resources(LUT=300, BRAM18=rows * math.ceil(bits / _ram_width(depth)))


@finn_resources.register
def _(layer: MaxPool) -> Resources:
    """StreamingMaxPool has no resource estimate in FINN: 0."""
    return Resources()


@finn_resources.register
def _(layer: DWC) -> Resources:
    """StreamingDataWidthConverter: a shift register through the least common multiple of the widths,
    LUT = sum over the steps in -> lcm -> out of ceil(log2 ratio) counter bits + the step's width."""
    inw, outw = layer.in_elems * layer.dtype.bits, layer.out_elems * layer.dtype.bits
    lcm = inw * outw // math.gcd(inw, outw)
    lut = 0
    if inw != lcm:
        lut += abs(math.ceil(math.log2(inw / lcm))) + lcm
    if lcm != outw:
        lut += abs(math.ceil(math.log2(lcm / outw))) + outw
    return Resources(LUT=lut)


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
