"""SWG: sliding window generator (FINN's ConvolutionInputGenerator) with zero padding, channels last (kernels/swg.hpp)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from hwgen.datatypes import DataType, Kind
from hwgen.hw import RamStyle, Resources, memory_kind
from hwgen.kinds import window
from hwgen.kinds.base import Description, LayerContext, LayerKind, Schedule, Word, check_divides


@dataclass(frozen=True, eq=False)
class SWG(window.Window):
    """Sliding window generator (FINN's ConvolutionInputGenerator) with zero padding, channels last.

    In: the (ifm_h, ifm_w, channels) image, channels fastest. Out: for every output pixel (oy, ox)
    in row-major order its window in (ky, kx, c) order, c fastest:
        out[oy, ox, ky, kx, c] = padded_in[oy * stride_h + ky, ox * stride_w + kx, c]
    `pad` is (top, left, bottom, right) rows/columns of zeros (any size; bipolar data: none).
    `simd` channels per stream word in and out (`pe` is the same number, for the folding code).
    """

    simd: int
    dtype: DataType

    def __post_init__(self) -> None:
        layer = self._check_geometry()
        check_divides(layer, "channels", self.channels, self.simd, "simd")
        if self.dtype.kind is Kind.BIPOLAR and any(self.pad):
            raise ValueError(f"{layer}: zero padding needs a data type holding 0, not bipolar (pad={self.pad})")

    @property
    def pe(self) -> int:  # the folding code sets the word size of single-fold layers as "PE"
        return self.simd

    @property
    def frame_out(self) -> int:
        return self.ofm_h * self.ofm_w * self.k_h * self.k_w * self.channels

    @property
    def in_elems(self) -> int:
        return self.simd

    @property
    def out_elems(self) -> int:
        return self.simd

    def refold(self, simd: int | None = None, pe: int | None = None) -> SWG:
        """The word size is `simd`, or `pe` (the folding code's name for it); both must then agree."""
        if simd is not None and pe is not None and simd != pe:
            raise ValueError(f"SWG {self.name!r}: has one word size, not simd={simd} and pe={pe}")
        word = simd if simd is not None else pe
        return replace(self, simd=self.simd if word is None else word)


def reference(layer: SWG, x: np.ndarray) -> np.ndarray:
    return window.windows(layer, x, 0).reshape(x.shape[0], layer.frame_out)


def resources(layer: SWG) -> Resources:
    """LUT = 150 + 2 * word bits: block/window counters and address arithmetic (about 150), the
    zero-padding mux and output register (one LUT per bit each); FF = 100 + 2 * word bits
    (counters, input and output registers). Plus the line buffer. (FINN's estimate, the floor of
    hwgen.estimate.resources, is 300 LUTs and its own line-buffer mapping.)"""
    bits = layer.simd * layer.dtype.bits
    return Resources(LUT=150 + 2 * bits, FF=100 + 2 * bits) + window.line_buffer(layer)


def _ram_width(depth: float) -> int:
    """The BRAM18 aspect ratio FINN's SWG estimate picks for a buffer of `depth` words."""
    for limit, width in ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2)):
        if depth <= limit:
            return width
    return 1


def finn_resources(layer: SWG) -> Resources:
    """ConvolutionInputGenerator_hls (2D): K + stride line buffers of IFMDim * C / SIMD words of
    SIMD * bits. Block: BRAM18 = (K + stride) * ceil(SIMD * bits / ram_width(depth)); distributed:
    LUT = 300 + (K + stride) * SIMD * bits * ceil(depth / 64), else LUT = 300. FINN assumes square
    images and kernels; here K and stride are the vertical ones and IFMDim the larger side."""
    bits = layer.simd * layer.dtype.bits
    rows = layer.k_h + layer.stride_h
    depth = max(layer.ifm_h, layer.ifm_w) * layer.channels / layer.simd
    if memory_kind(*window.line_buffer_shape(layer)) is RamStyle.DISTRIBUTED:
        return Resources(LUT=300 + rows * bits * math.ceil(depth / 64))
    return Resources(LUT=300, BRAM18=rows * math.ceil(bits / _ram_width(depth)))


def context(layer: SWG) -> LayerContext:
    bits = layer.simd * layer.dtype.bits
    return LayerContext(kind="SWG", name=layer.name, function="swg", targs=window.targs(layer, layer.simd), params=(),
                        in_bits=bits, out_bits=bits)


def describe(layer: SWG) -> Description:
    return Description(f"{layer.in_elems}->{layer.out_elems}", f"{layer.dtype}")


def words(layer: SWG) -> tuple[Word, Word]:
    return Word(layer.simd, "SIMD", layer.channels), Word(layer.simd, "SIMD", layer.channels)


def example() -> SWG:
    """3x3 windows, stride 1 down and 2 across, over a padded 5x6 image of 4 int3 channels, 2 a word."""
    return SWG(name="SWG_0", ifm_h=5, ifm_w=6, channels=4, k_h=3, k_w=3, stride_h=1, stride_w=2, pad=(1, 1, 1, 0),
               simd=2, dtype=DataType.int(3))


def schedule(layer: SWG) -> Schedule:
    return window.schedule(layer, 1)  # a word per window element


KIND = LayerKind(layer=SWG, reference=reference, cycles=window.cycles, resources=resources, finn_resources=finn_resources,
                 context=context, describe=describe, words=words, schedule=schedule, kernel="swg.hpp",
                 finn_op_types=("ConvolutionInputGenerator",), fold_params=("PE", "SIMD"), example=example)
