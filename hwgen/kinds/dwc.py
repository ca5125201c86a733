"""DWC: stream width converter, words of `in_elems` elements to words of `out_elems` (kernels/dwc.hpp).

Folding inserts them (hwgen.fold.dwc) where a producer's word size differs from its consumer's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hwgen.datatypes import DataType
from hwgen.hw import Resources
from hwgen.kinds.base import Description, LayerContext, LayerKind, Schedule, check_divides


@dataclass(frozen=True, eq=False)
class DWC:
    """Stream width converter: words of `in_elems` elements to words of `out_elems` elements.

    One of the two divides the other (folding chains two DWCs through the gcd otherwise).
    """

    name: str
    elems: int  # elements per frame
    in_elems: int
    out_elems: int
    dtype: DataType

    def __post_init__(self) -> None:
        big, small = max(self.in_elems, self.out_elems), min(self.in_elems, self.out_elems)
        if big % small:
            raise ValueError(f"DWC {self.name!r}: in_elems={self.in_elems} and out_elems={self.out_elems} must divide one another")
        check_divides(f"DWC {self.name!r}", "elems", self.elems, big, "word size")

    @property
    def frame_in(self) -> int:
        return self.elems

    @property
    def frame_out(self) -> int:
        return self.elems

    @property
    def in_dtype(self) -> DataType:
        return self.dtype

    @property
    def out_dtype(self) -> DataType:
        return self.dtype


def reference(layer: DWC, x: np.ndarray) -> np.ndarray:
    return x  # re-sizes words, not values


def cycles(layer: DWC) -> int:
    return layer.elems // min(layer.in_elems, layer.out_elems)


def resources(layer: DWC) -> Resources:
    """A shift register as wide as the wider word, plus control: LUT = 50 + in bits + out bits,
    FF = max(in bits, out bits) + in bits + out bits."""
    in_bits, out_bits = layer.in_elems * layer.dtype.bits, layer.out_elems * layer.dtype.bits
    return Resources(LUT=50 + in_bits + out_bits, FF=max(in_bits, out_bits) + in_bits + out_bits)


def finn_resources(layer: DWC) -> Resources:
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


def context(layer: DWC) -> LayerContext:
    targs = (layer.dtype.bits, layer.in_elems, layer.out_elems, layer.elems)
    return LayerContext(kind="DWC", name=layer.name, function="dwc", targs=targs, params=(),
                        in_bits=layer.in_elems * layer.dtype.bits, out_bits=layer.out_elems * layer.dtype.bits)


def describe(layer: DWC) -> Description:
    return Description(f"{layer.in_elems}->{layer.out_elems}", f"{layer.dtype}")


def words(layer: DWC) -> tuple:
    return ()  # its words are its neighbours' (or narrower, through the gcd): no folding parameter of its own


def example() -> DWC:
    """24 elements of int3 a frame, words of 4 elements to words of 2."""
    return DWC(name="DWC_0", elems=24, in_elems=4, out_elems=2, dtype=DataType.int(3))


def schedule(layer: DWC) -> Schedule:
    """dwc.hpp: a split reads one wide word, then writes RATIO narrow ones; a join reads RATIO, then writes one."""
    n = cycles(layer)
    it = np.arange(n)
    if layer.in_elems > layer.out_elems:
        ratio = layer.in_elems // layer.out_elems
        return Schedule(it % ratio == 0, np.ones(n, bool))
    ratio = layer.out_elems // layer.in_elems
    return Schedule(np.ones(n, bool), it % ratio == ratio - 1)


KIND = LayerKind(layer=DWC, reference=reference, cycles=cycles, resources=resources, finn_resources=finn_resources,
                 context=context, describe=describe, words=words, schedule=schedule, kernel="dwc.hpp",
                 finn_op_types=("StreamingDataWidthConverter",), fold_params=(), example=example)
