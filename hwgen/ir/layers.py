"""Typed streaming dataflow layers.

A layer is a frozen dataclass: shape, folding, data types and integer parameters, validated on
construction. What a layer computes lives in `hwgen.ir.reference`, how it renders in
`hwgen.codegen.layers`, what it costs in `hwgen.estimate`; `tests/ir/test_layers.py` checks
that every layer kind has all of them.

Streams carry elements in the flat order of the frame (channels last), packed into words:
a word of a stream with `n` elements per word holds elements i*n .. i*n+n-1, element j of
the word at bits [j*bits, (j+1)*bits).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from hwgen.datatypes import DataType, Kind


MAX_ACC_BITS = 62  # the C-sim fast path accumulates in long long


def _check_divides(layer: str, what: str, total: int, fold: int, fold_name: str) -> None:
    if fold < 1 or total % fold:
        raise ValueError(
            f"{layer}: {fold_name}={fold} must be a divisor of {what}={total} "
            f"(valid: {', '.join(str(d) for d in divisors(total))})"
        )


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _check_thresholds(name: str, thresholds: np.ndarray, rows: int, acc: DataType, out: DataType, out_min: int) -> None:
    if thresholds.ndim != 2 or thresholds.shape[0] != rows:
        raise ValueError(f"{name}: thresholds must have shape ({rows}, n), not {thresholds.shape}")
    if thresholds.shape[1] and np.any(np.diff(thresholds, axis=1) < 0):
        raise ValueError(f"{name}: thresholds must be sorted ascending along each channel")
    if not acc.contains(thresholds):
        raise ValueError(f"{name}: thresholds in [{thresholds.min()}, {thresholds.max()}] do not fit {acc}")
    n = thresholds.shape[1]
    if out.kind is Kind.BIPOLAR:
        if n != 1 or out_min != -1:
            raise ValueError(f"{name}: a bipolar output needs exactly 1 threshold and out_min=-1")
    elif out_min < out.min or out_min + n > out.max:
        raise ValueError(f"{name}: outputs {out_min}..{out_min + n} do not fit {out}")


@dataclass(frozen=True, eq=False)
class MVAU:
    """Matrix-vector(-activation) unit: y = thresholds(W @ x), or the raw accumulator W @ x.

    `weights` is (mh, mw) integer values of `w_dtype`. With `thresholds` (mh, n), output value
    is out_min + #{k: acc >= T[c, k]} (bipolar: -1 + 2*[acc >= T[c, 0]]); without, the
    accumulator itself is streamed (out_dtype == acc_dtype).
    """

    name: str
    mw: int
    mh: int
    simd: int
    pe: int
    in_dtype: DataType
    w_dtype: DataType
    acc_dtype: DataType
    out_dtype: DataType
    weights: np.ndarray = field(repr=False)
    thresholds: np.ndarray | None = field(default=None, repr=False)
    out_min: int = 0
    vectors: int = 1

    def __post_init__(self) -> None:
        _check_divides(f"MVAU {self.name!r}", "mw", self.mw, self.simd, "simd")
        _check_divides(f"MVAU {self.name!r}", "mh", self.mh, self.pe, "pe")
        if self.weights.shape != (self.mh, self.mw):
            raise ValueError(f"MVAU {self.name!r}: weights must have shape ({self.mh}, {self.mw}), not {self.weights.shape}")
        if not self.w_dtype.contains(self.weights):
            raise ValueError(f"MVAU {self.name!r}: weights do not fit {self.w_dtype}")
        if self.acc_dtype.bits > MAX_ACC_BITS:
            raise ValueError(f"MVAU {self.name!r}: a {self.acc_dtype} accumulator is wider than the {MAX_ACC_BITS} bits hwgen supports")
        if self.thresholds is None:
            if self.out_dtype != self.acc_dtype:
                raise ValueError(f"MVAU {self.name!r}: without thresholds out_dtype must be acc_dtype={self.acc_dtype}, not {self.out_dtype}")
        else:
            _check_thresholds(f"MVAU {self.name!r}", self.thresholds, self.mh, self.acc_dtype, self.out_dtype, self.out_min)

    @property
    def in_elems(self) -> int:  # elements per input word
        return self.simd

    @property
    def out_elems(self) -> int:
        return self.pe

    @property
    def frame_in(self) -> int:  # elements per frame
        return self.mw * self.vectors

    @property
    def frame_out(self) -> int:
        return self.mh * self.vectors

    def refold(self, simd: int | None = None, pe: int | None = None) -> "MVAU":
        return replace(self, simd=self.simd if simd is None else simd, pe=self.pe if pe is None else pe)


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
        _check_divides(f"Thresholding {self.name!r}", "channels", self.channels, self.pe, "pe")
        # thresholds compare against the input values: they need one value above its range
        _check_thresholds(f"Thresholding {self.name!r}", self.thresholds, self.channels, self.threshold_dtype, self.out_dtype, self.out_min)

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

    def refold(self, pe: int | None = None, simd: int | None = None) -> "Thresholding":
        return replace(self, pe=self.pe if pe is None else pe)


@dataclass(frozen=True, eq=False)
class DWC:
    """Stream width converter: words of `in_elems` elements to words of `out_elems` elements.

    One of the two divides the other (the lowering chains two DWCs through the gcd otherwise).
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
        _check_divides(f"DWC {self.name!r}", "elems", self.elems, big, "word size")

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


Layer = MVAU | Thresholding | DWC
LAYER_KINDS: tuple[type, ...] = (MVAU, Thresholding, DWC)
FOLDABLE_KINDS: tuple[type, ...] = (MVAU, Thresholding)
