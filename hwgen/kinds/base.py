"""What every layer kind provides (`LayerKind`), and the checks and table helpers kinds share.

A layer kind is one module of hwgen.kinds: its IR dataclass (a frozen, validated value) and plain
functions of one layer: what it computes (`reference`), how long it takes (`cycles`), what it costs
(`resources`, and FINN's estimate of it, `finn_resources`), how it renders (`context`, read by the
top template), how the report shows it (`describe`), which folding parameter sets its stream words
(`words`), and which iterations of its loop read and write a stream word (`schedule`, the FIFO
model's view of it, hwgen.fifo). `LayerKind` names those parts; hwgen.kinds.KINDS lists one per kind, and every stage
finds a layer's parts through `kind_of(layer)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from hwgen.datatypes import DataType, Kind
from hwgen.hw import STORAGE_IMPL, RamStyle, Resources


class Word(NamedTuple):
    """A stream word of a layer: `elems` elements, set by the folding parameter `param`, which must divide `dim`."""

    elems: int
    param: str  # "PE" or "SIMD"
    dim: int


class Description(NamedTuple):
    """A layer's row in the build summary (hwgen.report)."""

    shape: str  # "64x784", "10", "9->3"
    types: str  # "in/weights/out" data types
    simd: int | str = "-"  # the SIMD column: input elements per cycle of a matrix unit
    implementation: str = "-"  # resolved memory / multiplier ("bram/lut"), where the kind has choices


@dataclass(frozen=True)
class Param:
    """A constant table of a layer, as params.hpp.j2 and top.cpp.j2 render it."""

    name: str
    type: str  # HWGEN_PARAM(synthesis type, C-sim type)
    dims: str  # "[4][16]"
    init: str  # nested C initializer
    comment: str
    partition: tuple[int, ...]  # dimensions partitioned completely
    reshape: tuple[int, ...]  # dimensions reshaped completely
    storage: str | None  # BIND_STORAGE impl (the memory the resource model counted), None for no binding


@dataclass(frozen=True)
class LayerContext:
    """How a layer renders: top.cpp.j2 calls `hwgen::<function><targs>(in_stream, out_stream, <params>, frames, "<name>")`."""

    kind: str
    name: str
    function: str  # the kernel function in hls_templates/kernels/<kernel>
    targs: tuple  # its template arguments
    params: tuple[Param, ...]
    in_bits: int  # stream word widths
    out_bits: int
    in_stream: str = ""  # the streams it reads and writes (set by hwgen.codegen.render)
    out_stream: str = ""


@dataclass(frozen=True)
class Schedule:
    """One frame of a layer's loop, as the FIFO model (hwgen.fifo) sees it: which iterations read a
    stream word and which write one (bool per iteration; as many iterations as `cycles`)."""

    reads: np.ndarray
    writes: np.ndarray


def every_iteration(n: int) -> Schedule:
    """A loop that reads and writes a word in each of its n iterations (an element-wise layer)."""
    return Schedule(np.ones(n, bool), np.ones(n, bool))


@dataclass(frozen=True)
class LayerKind:
    """The parts of one layer kind; `layer` is its IR dataclass, whose class name is the kind's name."""

    layer: type
    reference: Callable[[Any, np.ndarray], np.ndarray]  # (layer, (frames, frame_in) int64) -> (frames, frame_out), bit-exact
    cycles: Callable[[Any], int]  # clock cycles per frame at II=1 (what its loop iterates)
    resources: Callable[[Any], Resources]  # hwgen's own model, before the floor of FINN's estimate
    finn_resources: Callable[[Any], Resources]  # FINN's formulas (the floor); Resources() where FINN has none
    context: Callable[[Any], LayerContext]  # template context
    describe: Callable[[Any], Description]  # report row
    words: Callable[[Any], tuple[Word, ...]]  # (input word, output word); () where no folding parameter sets them
    schedule: Callable[[Any], Schedule]  # the iterations of one frame that read / write a stream word (FIFO sizing)
    kernel: str  # header in hls_templates/kernels/ declaring the kernel function
    finn_op_types: tuple[str, ...]  # FINN node op types of the same layer (folding files name nodes by them)
    fold_params: tuple[str, ...]  # the folding parameters a folding file may set (FINN's names); () for none
    example: Callable[[], Any]  # a small valid layer, for the completeness test

    @property
    def name(self) -> str:
        return self.layer.__name__

    @property
    def foldable(self) -> bool:
        return bool(self.fold_params)


# -- checks shared by the IR dataclasses -------------------------------------------------
def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def check_divides(layer: str, what: str, total: int, fold: int, fold_name: str) -> None:
    if fold < 1 or total % fold:
        raise ValueError(
            f"{layer}: {fold_name}={fold} must be a divisor of {what}={total} "
            f"(valid: {', '.join(str(d) for d in divisors(total))})"
        )


def check_thresholds(name: str, thresholds: np.ndarray, rows: int, acc: DataType, out: DataType, out_min: int) -> None:
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


# -- arithmetic shared by the references -------------------------------------------------
def threshold(values: np.ndarray, thresholds: np.ndarray, out_min: int, bipolar: bool) -> np.ndarray:
    """values (n, c) against thresholds (c, k) -> out_min + #crossed (bipolar: ±1)."""
    crossed = np.zeros(values.shape, dtype=np.int64)
    for k in range(thresholds.shape[1]):  # k <= 255: a loop keeps memory at (n, c)
        crossed += values >= thresholds[:, k]
    return 2 * crossed - 1 if bipolar else out_min + crossed


# -- parameter tables of the contexts -----------------------------------------------------
def storage(dtype: DataType) -> str:
    """HWGEN_PARAM(synthesis type, C-sim type) of a parameter array."""
    hls = "ap_uint<1>" if dtype.kind is Kind.BIPOLAR else f"ap_{'u' if dtype.kind is Kind.UINT else ''}int<{dtype.bits}>"
    return f"HWGEN_PARAM({hls}, {dtype.c_storage()})"


def c_array(values: np.ndarray) -> str:
    """Nested C initializer of an integer array, one innermost row per line."""
    if values.ndim == 1:
        return "{" + ", ".join(str(int(v)) for v in values) + "}"
    sep = ",\n" if values.ndim == 2 else ",\n\n"
    return "{" + sep.join(c_array(v) for v in values) + "}"


def param(name: str, dtype: DataType, values: np.ndarray, comment: str, partition: tuple[int, ...], reshape: tuple[int, ...],
          memory: RamStyle | None = None) -> Param:
    """A constant table; `memory`: the (resolved) memory it is bound to, None for no binding."""
    codes = dtype.encode(values).astype(np.int64) if dtype.kind is Kind.BIPOLAR else values
    return Param(name=name, type=storage(dtype), dims="".join(f"[{d}]" for d in values.shape), init=c_array(codes),
                 comment=comment, partition=partition, reshape=reshape, storage=None if memory is None else STORAGE_IMPL[memory])


def out_min_code(dtype: DataType, out_min: int) -> int:
    """The kernels' OUT_MIN template argument: the lowest output value, 0 for bipolar (coded 0 / 1)."""
    return 0 if dtype.kind is Kind.BIPOLAR else out_min


def threshold_table(thresholds: np.ndarray, pe: int) -> np.ndarray:
    """(C, NT) -> [PE][C/PE][NT] with channel cf*PE + p at [p][cf]."""
    c, nt = thresholds.shape
    return thresholds.reshape(c // pe, pe, nt).transpose(1, 0, 2)
