"""MaxPool: streaming max pool over windows of the padded input, channels last (kernels/maxpool.hpp)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from hwgen.datatypes import DataType
from hwgen.hw import Resources
from hwgen.kinds import window
from hwgen.kinds.base import Description, LayerContext, LayerKind, Schedule, Word, check_divides


@dataclass(frozen=True, eq=False)
class MaxPool(window.Window):
    """Streaming max pool, channels last: out[oy, ox, c] = max of the window over padded_in.

    Padding (top, left, bottom, right), each smaller than the window (as ONNX requires), holds dtype.min (ONNX pads
    with -inf: never the maximum of a window that holds an input element). Floor mode.
    `pe` channels per stream word in and out. Bipolar inputs are allowed (max of ±1).
    """

    pe: int
    dtype: DataType

    def __post_init__(self) -> None:
        layer = self._check_geometry()
        check_divides(layer, "channels", self.channels, self.pe, "pe")
        top, left, bottom, right = self.pad
        if top >= self.k_h or bottom >= self.k_h or left >= self.k_w or right >= self.k_w:
            raise ValueError(f"{layer}: padding {self.pad} must be smaller than the {self.k_h}x{self.k_w} window on each side "
                             f"(a window of padding only has no maximum)")

    @property
    def frame_out(self) -> int:
        return self.ofm_h * self.ofm_w * self.channels

    @property
    def in_elems(self) -> int:
        return self.pe

    @property
    def out_elems(self) -> int:
        return self.pe

    def refold(self, pe: int | None = None, simd: int | None = None) -> MaxPool:
        return replace(self, pe=self.pe if pe is None else pe)


def reference(layer: MaxPool, x: np.ndarray) -> np.ndarray:
    return window.windows(layer, x, layer.dtype.min).max(axis=(3, 4)).reshape(x.shape[0], layer.frame_out)


def resources(layer: MaxPool) -> Resources:
    """LUT = 150 + PE * 3 * bits: counters and addressing as the SWG, per lane a comparator, the
    running-max mux and the output register (a LUT per bit each); FF = 100 + PE * 3 * bits (input
    register, running maxima, output register). Plus the line buffer."""
    bits = layer.pe * layer.dtype.bits
    return Resources(LUT=150 + 3 * bits, FF=100 + 3 * bits) + window.line_buffer(layer)


def finn_resources(layer: MaxPool) -> Resources:
    """StreamingMaxPool has no resource estimate in FINN: 0."""
    return Resources()


def context(layer: MaxPool) -> LayerContext:
    bits = layer.pe * layer.dtype.bits
    return LayerContext(kind="MaxPool", name=layer.name, function="maxpool", targs=window.targs(layer, layer.pe), params=(),
                        in_bits=bits, out_bits=bits)


def describe(layer: MaxPool) -> Description:
    return Description(f"{layer.in_elems}->{layer.out_elems}", f"{layer.dtype}")


def words(layer: MaxPool) -> tuple[Word, Word]:
    return Word(layer.pe, "PE", layer.channels), Word(layer.pe, "PE", layer.channels)


def example() -> MaxPool:
    """2x2 windows, stride 2, over a 5x6 uint4 image of 4 channels padded at the bottom, 2 a word."""
    return MaxPool(name="MaxPool_0", ifm_h=5, ifm_w=6, channels=4, k_h=2, k_w=2, stride_h=2, stride_w=2, pad=(0, 0, 1, 0),
                   pe=2, dtype=DataType.uint(4))


def schedule(layer: MaxPool) -> Schedule:
    return window.schedule(layer, layer.k_h * layer.k_w)  # a word per window


KIND = LayerKind(layer=MaxPool, reference=reference, cycles=window.cycles, resources=resources, finn_resources=finn_resources,
                 context=context, describe=describe, words=words, schedule=schedule, kernel="maxpool.hpp",
                 finn_op_types=("StreamingMaxPool",), fold_params=("PE",), example=example)
