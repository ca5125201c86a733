"""Thresholding: a standalone multi-threshold activation, y[c] = out_min + #{k: x[c] >= T[c, k]} (kernels/thresholding.hpp)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from hwgen.datatypes import DataType, Kind
from hwgen.hw import RamStyle, Resources, memory, memory_kind
from hwgen.kinds.base import (
    Description,
    LayerContext,
    LayerKind,
    Schedule,
    Word,
    check_divides,
    check_thresholds,
    every_iteration,
    out_min_code,
    param,
    threshold,
    threshold_table,
)


@dataclass(frozen=True, eq=False)
class Thresholding:
    """Standalone multi-threshold activation: y[c] = out_min + #{k: x[c] >= T[c, k]}."""

    name: str
    channels: int
    pe: int
    in_dtype: DataType
    out_dtype: DataType
    thresholds: np.ndarray = field(repr=False)
    out_min: int = 0
    vectors: int = 1

    def __post_init__(self) -> None:
        check_divides(f"Thresholding {self.name!r}", "channels", self.channels, self.pe, "pe")
        # thresholds compare against the input values: they need one value above its range
        check_thresholds(f"Thresholding {self.name!r}", self.thresholds, self.channels, self.threshold_dtype, self.out_dtype, self.out_min)

    @property
    def threshold_dtype(self) -> DataType:
        return DataType.smallest(self.in_dtype.min, self.in_dtype.max + 1)

    @property
    def in_elems(self) -> int:
        return self.pe

    @property
    def out_elems(self) -> int:
        return self.pe

    @property
    def frame_in(self) -> int:
        return self.channels * self.vectors

    @property
    def frame_out(self) -> int:
        return self.channels * self.vectors

    def refold(self, pe: int | None = None, simd: int | None = None) -> Thresholding:
        return replace(self, pe=self.pe if pe is None else pe)


def reference(layer: Thresholding, x: np.ndarray) -> np.ndarray:
    n = x.shape[0]
    values = x.reshape(n * layer.vectors, layer.channels)
    y = threshold(values, layer.thresholds, layer.out_min, layer.out_dtype.kind is Kind.BIPOLAR)
    return y.reshape(n, layer.vectors * layer.channels)


def cycles(layer: Thresholding) -> int:
    return layer.vectors * (layer.channels // layer.pe)


def resources(layer: Thresholding) -> Resources:
    """LUT = 100 + 1.1 * PE * NT * T comparators (NT thresholds of T bits, the threshold type),
    FF = 2 * PE * (input bits + output bits), plus PE threshold tables of NT * T bits x C/PE words."""
    bits = layer.threshold_dtype.bits
    nt = layer.thresholds.shape[1]
    compute = Resources(LUT=100 + 1.1 * layer.pe * nt * bits, FF=layer.pe * (layer.in_dtype.bits + layer.out_dtype.bits) * 2)
    return compute + memory(nt * bits, layer.channels // layer.pe).scaled(layer.pe)


def finn_resources(layer: Thresholding) -> Resources:
    """Thresholding_hls: LUT = A * PE comparators, + PE * A * ceil(TMEM / 64) for a distributed table;
    BRAM18 = ceil(A * PE / 16) * ceil(TMEM / 1024) for a block one (TMEM = C / PE > 1, A input bits)."""
    a, p, tmem = layer.in_dtype.bits, layer.pe, layer.channels // layer.pe
    kind = memory_kind(layer.thresholds.shape[1] * layer.threshold_dtype.bits, tmem)
    lut = a * p + (p * a * math.ceil(tmem / 64) if kind is RamStyle.DISTRIBUTED and tmem > 1 else 0)
    bram = math.ceil(a * p / 16) * math.ceil(tmem / 1024) if kind is RamStyle.BLOCK and tmem > 1 else 0
    return Resources(LUT=lut, BRAM18=bram)


def context(layer: Thresholding) -> LayerContext:
    nt = layer.thresholds.shape[1]
    t = param(f"{layer.name}_thresholds", layer.threshold_dtype, threshold_table(layer.thresholds, layer.pe),
              f"{nt} thresholds per channel as [PE][channel folds][k], {layer.threshold_dtype}", (1,), (3,),
              memory_kind(nt * layer.threshold_dtype.bits, layer.channels // layer.pe))
    targs = (layer.channels, layer.pe, layer.vectors, layer.in_dtype.hls(), layer.out_dtype.hls(), nt,
             out_min_code(layer.out_dtype, layer.out_min))
    return LayerContext(kind="Thresholding", name=layer.name, function="thresholding", targs=targs, params=(t,),
                        in_bits=layer.pe * layer.in_dtype.bits, out_bits=layer.pe * layer.out_dtype.bits)


def describe(layer: Thresholding) -> Description:
    return Description(f"{layer.channels}", f"{layer.in_dtype}/-/{layer.out_dtype}")


def words(layer: Thresholding) -> tuple[Word, Word]:
    return Word(layer.pe, "PE", layer.channels), Word(layer.pe, "PE", layer.channels)


def example() -> Thresholding:
    """10 channels of 4-bit inputs to 2-bit outputs, PE 5, three vectors."""
    return Thresholding(name="Thresholding_0", channels=10, pe=5, in_dtype=DataType.int(4), out_dtype=DataType.uint(2),
                        thresholds=np.tile([-2, 0, 3], (10, 1)), out_min=0, vectors=3)


def schedule(layer: Thresholding) -> Schedule:
    return every_iteration(cycles(layer))


KIND = LayerKind(layer=Thresholding, reference=reference, cycles=cycles, resources=resources, finn_resources=finn_resources,
                 context=context, describe=describe, words=words, schedule=schedule, kernel="thresholding.hpp",
                 finn_op_types=("Thresholding",), fold_params=("PE",), example=example)
