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

import copy
import enum
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


class RamStyle(enum.Enum):
    """Where an MVAU's weight table lives (FINN's `ram_style`)."""

    AUTO = "auto"  # by size: LUTRAM when shallow or tiny, else BRAM (hwgen.estimate.resource_model.memory_kind)
    BLOCK = "block"  # block RAM (BRAM18 / BRAM36)
    DISTRIBUTED = "distributed"  # LUTRAM
    # (no "ultra": UltraRAM cannot be initialized by the bitstream, and the weights are constant tables)


class ResType(enum.Enum):
    """What computes an MVAU's products (FINN's `resType`)."""

    AUTO = "auto"  # DSP slices when both operands are wider than 4 bits, else LUTs
    LUT = "lut"
    DSP = "dsp"


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
    ram_style: RamStyle = RamStyle.AUTO  # the weight table's memory
    res_type: ResType = ResType.AUTO  # the products' hardware

    def __post_init__(self) -> None:
        self._check_folding()
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

    def _check_folding(self) -> None:
        """The fields refold() changes."""
        if not isinstance(self.ram_style, RamStyle):
            raise ValueError(f"MVAU {self.name!r}: ram_style must be a RamStyle, not {self.ram_style!r}")
        if not isinstance(self.res_type, ResType):
            raise ValueError(f"MVAU {self.name!r}: res_type must be a ResType, not {self.res_type!r}")
        if self.res_type is ResType.DSP and self.xnor:
            raise ValueError(f"MVAU {self.name!r}: bipolar x bipolar products are XNOR gates, there is no multiplier "
                             f"to put on a DSP (res_type must be lut or auto)")
        _check_divides(f"MVAU {self.name!r}", "mw", self.mw, self.simd, "simd")
        _check_divides(f"MVAU {self.name!r}", "mh", self.mh, self.pe, "pe")

    @property
    def xnor(self) -> bool:  # bipolar inputs and weights: products are XNOR gates
        return self.in_dtype.kind is Kind.BIPOLAR and self.w_dtype.kind is Kind.BIPOLAR

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

    def refold(self, simd: int | None = None, pe: int | None = None, ram_style: RamStyle | None = None,
               res_type: ResType | None = None) -> "MVAU":
        """The same layer folded otherwise; only the folding is validated again (the weights and
        thresholds were when the layer was made, and are shared, not copied)."""
        new = copy.copy(self)
        for name, value in (("simd", simd), ("pe", pe), ("ram_style", ram_style), ("res_type", res_type)):
            if value is not None:
                object.__setattr__(new, name, value)
        new._check_folding()
        return new


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


def _check_window(layer: str, ifm_h: int, ifm_w: int, channels: int, k_h: int, k_w: int,
                  stride_h: int, stride_w: int, pad: tuple) -> None:
    """Shared geometry checks of the sliding-window layers (SWG, MaxPool)."""
    for what, value in (("ifm_h", ifm_h), ("ifm_w", ifm_w), ("channels", channels), ("k_h", k_h), ("k_w", k_w),
                        ("stride_h", stride_h), ("stride_w", stride_w)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{layer}: {what} must be a positive integer, not {value!r}")
    if len(pad) != 4 or any(not isinstance(p, (int, np.integer)) or p < 0 for p in pad):
        raise ValueError(f"{layer}: pad must be 4 non-negative integers (top, left, bottom, right), not {pad!r}")
    top, left, bottom, right = pad
    if top + ifm_h + bottom < k_h or left + ifm_w + right < k_w:
        raise ValueError(f"{layer}: a {k_h}x{k_w} window must fit the padded {top + ifm_h + bottom}x{left + ifm_w + right} input")


@dataclass(frozen=True, eq=False)
class _Window:
    """The fields and geometry SWG and MaxPool share: a window sliding over the padded input (floor mode).

    `pad` is (top, left, bottom, right); subclasses add their word size and `dtype`.
    """

    name: str
    ifm_h: int
    ifm_w: int
    channels: int
    k_h: int
    k_w: int
    stride_h: int
    stride_w: int
    pad: tuple[int, int, int, int]

    def _check_geometry(self) -> str:
        layer = f"{type(self).__name__} {self.name!r}"
        object.__setattr__(self, "pad", tuple(int(p) for p in self.pad))
        _check_window(layer, self.ifm_h, self.ifm_w, self.channels, self.k_h, self.k_w, self.stride_h, self.stride_w, self.pad)
        return layer

    @property
    def ofm_h(self) -> int:
        return (self.ifm_h + self.pad[0] + self.pad[2] - self.k_h) // self.stride_h + 1

    @property
    def ofm_w(self) -> int:
        return (self.ifm_w + self.pad[1] + self.pad[3] - self.k_w) // self.stride_w + 1

    @property
    def frame_in(self) -> int:
        return self.ifm_h * self.ifm_w * self.channels

    @property
    def in_dtype(self) -> DataType:
        return self.dtype

    @property
    def out_dtype(self) -> DataType:
        return self.dtype


@dataclass(frozen=True, eq=False)
class SWG(_Window):
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
        _check_divides(layer, "channels", self.channels, self.simd, "simd")
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

    def refold(self, simd: int | None = None, pe: int | None = None) -> "SWG":
        """The word size is `simd`, or `pe` (the folding code's name for it); both must then agree."""
        if simd is not None and pe is not None and simd != pe:
            raise ValueError(f"SWG {self.name!r}: has one word size, not simd={simd} and pe={pe}")
        word = simd if simd is not None else pe
        return replace(self, simd=self.simd if word is None else word)


@dataclass(frozen=True, eq=False)
class MaxPool(_Window):
    """Streaming max pool, channels last: out[oy, ox, c] = max of the window over padded_in.

    Padding (top, left, bottom, right), each smaller than the window (as ONNX requires), holds dtype.min (ONNX pads
    with -inf: never the maximum of a window that holds an input element). Floor mode.
    `pe` channels per stream word in and out. Bipolar inputs are allowed (max of ±1).
    """

    pe: int
    dtype: DataType

    def __post_init__(self) -> None:
        layer = self._check_geometry()
        _check_divides(layer, "channels", self.channels, self.pe, "pe")
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

    def refold(self, pe: int | None = None, simd: int | None = None) -> "MaxPool":
        return replace(self, pe=self.pe if pe is None else pe)


Layer = MVAU | Thresholding | DWC | SWG | MaxPool
LAYER_KINDS: tuple[type, ...] = (MVAU, Thresholding, DWC, SWG, MaxPool)
FOLDABLE_KINDS: tuple[type, ...] = (MVAU, Thresholding, SWG, MaxPool)
