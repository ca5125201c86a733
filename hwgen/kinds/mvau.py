"""MVAU: matrix-vector(-activation) unit, y = thresholds(W @ x) or the raw accumulator W @ x (kernels/mvau.hpp)."""

from __future__ import annotations

import copy
import enum
import math
from dataclasses import dataclass, field

import numpy as np

from hwgen.datatypes import DataType, Kind
from hwgen.hw import STORAGE_IMPL, RamStyle, Resources, bram18_blocks, memory, memory_kind
from hwgen.kinds.base import (
    Description,
    LayerContext,
    LayerKind,
    Schedule,
    Word,
    check_divides,
    check_thresholds,
    out_min_code,
    param,
    threshold,
    threshold_table,
)

MAX_ACC_BITS = 62  # the C-sim fast path accumulates in long long


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
                raise ValueError(f"MVAU {self.name!r}: without thresholds out_dtype must be acc_dtype={self.acc_dtype}, "
                                 f"not {self.out_dtype}")
        else:
            check_thresholds(f"MVAU {self.name!r}", self.thresholds, self.mh, self.acc_dtype, self.out_dtype, self.out_min)

    def _check_folding(self) -> None:
        """The fields refold() changes."""
        if not isinstance(self.ram_style, RamStyle):
            raise ValueError(f"MVAU {self.name!r}: ram_style must be a RamStyle, not {self.ram_style!r}")
        if not isinstance(self.res_type, ResType):
            raise ValueError(f"MVAU {self.name!r}: res_type must be a ResType, not {self.res_type!r}")
        if self.res_type is ResType.DSP and self.xnor:
            raise ValueError(f"MVAU {self.name!r}: bipolar x bipolar products are XNOR gates, there is no multiplier "
                             f"to put on a DSP (res_type must be lut or auto)")
        check_divides(f"MVAU {self.name!r}", "mw", self.mw, self.simd, "simd")
        check_divides(f"MVAU {self.name!r}", "mh", self.mh, self.pe, "pe")

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

    # -- the implementation choices, resolved: what folding picks, estimates count and codegen binds
    @property
    def weight_shape(self) -> tuple[int, int]:
        """(width, depth) of the weight table: one word of PE * SIMD weights per tile."""
        return self.pe * self.simd * self.w_dtype.bits, (self.mh // self.pe) * (self.mw // self.simd)

    @property
    def weight_ram(self) -> RamStyle:
        """The memory the weight table is in: `ram_style`, or for AUTO the one its size picks (hw.memory_kind)."""
        return memory_kind(*self.weight_shape, self.ram_style)

    @property
    def dsp(self) -> bool:
        """Whether the products go to DSP slices: res_type DSP, or AUTO with both operands wider than 4 bits."""
        if self.res_type is ResType.AUTO:
            return self.in_dtype.bits > 4 and self.w_dtype.bits > 4
        return self.res_type is ResType.DSP

    def refold(self, simd: int | None = None, pe: int | None = None, ram_style: RamStyle | None = None,
               res_type: ResType | None = None) -> MVAU:
        """The same layer folded otherwise; only the folding is validated again (the weights and
        thresholds were when the layer was made, and are shared, not copied)."""
        new = copy.copy(self)
        for name, value in (("simd", simd), ("pe", pe), ("ram_style", ram_style), ("res_type", res_type)):
            if value is not None:
                object.__setattr__(new, name, value)
        new._check_folding()
        return new


def reference(layer: MVAU, x: np.ndarray) -> np.ndarray:
    n = x.shape[0]
    vectors = x.reshape(n * layer.vectors, layer.mw)
    acc = _exact_matmul(vectors, layer.weights.T)
    if layer.thresholds is not None:
        acc = threshold(acc, layer.thresholds, layer.out_min, layer.out_dtype.kind is Kind.BIPOLAR)
    return acc.reshape(n, layer.vectors * layer.mh)


def _exact_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """int64 matmul; float64 BLAS when every partial sum is exactly representable (< 2^53)."""
    bound = np.abs(a).max(initial=0) * np.abs(b).max(initial=0) * a.shape[1]
    if bound < 2**53:
        return (a.astype(np.float64) @ b.astype(np.float64)).astype(np.int64)
    return a.astype(np.int64) @ b.astype(np.int64)


def cycles(layer: MVAU) -> int:
    return layer.vectors * (layer.mh // layer.pe) * (layer.mw // layer.simd)


def resources(layer: MVAU) -> Resources:
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
    (hwgen.estimate.resources floors it by FINN's estimate, whose accumulator can be wider than hwgen's.)
    """
    w, a = layer.w_dtype.bits, layer.in_dtype.bits
    wa, acc_bits = w + a, layer.acc_dtype.bits
    dsp = layer.dsp
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
    return compute + memory(*layer.weight_shape, layer.ram_style) + block_thresholds


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


def finn_resources(layer: MVAU) -> Resources:
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
    width, wmem = layer.weight_shape
    distributed = layer.weight_ram is RamStyle.DISTRIBUTED
    dsp = layer.dsp
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


def weight_table(weights: np.ndarray, simd: int, pe: int) -> np.ndarray:
    """(MH, MW) -> [NF*SF][PE*SIMD] with W[nf*PE + p][sf*SIMD + s] at [nf*SF + sf][p*SIMD + s]:
    one memory word (PE * SIMD weights) per tile, what the resource model counts."""
    mh, mw = weights.shape
    nf, sf = mh // pe, mw // simd
    return weights.reshape(nf, pe, sf, simd).transpose(0, 2, 1, 3).reshape(nf * sf, pe * simd)


def context(layer: MVAU) -> LayerContext:
    nt = 0 if layer.thresholds is None else layer.thresholds.shape[1]
    ram = layer.weight_ram
    w = param(f"{layer.name}_weights", layer.w_dtype, weight_table(layer.weights, layer.simd, layer.pe),
              f"{layer.mh}x{layer.mw} {layer.w_dtype} weights as [tiles][PE*SIMD], in {ram.value} RAM", (), (2,), ram)
    if nt:
        t = param(f"{layer.name}_thresholds", layer.acc_dtype, threshold_table(layer.thresholds, layer.pe),
                  f"{nt} thresholds per channel as [PE][neuron folds][k], {layer.acc_dtype}", (1,), (3,),
                  memory_kind(nt * layer.acc_dtype.bits, layer.mh // layer.pe))
    else:
        t = param(f"{layer.name}_thresholds", layer.acc_dtype, np.zeros((layer.pe, layer.mh // layer.pe, 1), np.int64),
                  "unused: this layer streams its accumulator", (), ())
    targs = (layer.mw, layer.mh, layer.simd, layer.pe, layer.vectors, layer.in_dtype.hls(), layer.w_dtype.hls(),
             layer.acc_dtype.hls(), layer.out_dtype.hls(), nt, out_min_code(layer.out_dtype, layer.out_min),
             "true" if layer.dsp else "false")
    return LayerContext(kind="MVAU", name=layer.name, function="mvau", targs=targs, params=(w, t),
                        in_bits=layer.simd * layer.in_dtype.bits, out_bits=layer.pe * layer.out_dtype.bits)


def implementation(layer: MVAU) -> str:
    """How the layer is built: its weight memory and its products' hardware, as resolved ("bram/lut", "lutram/dsp")."""
    return f"{STORAGE_IMPL[layer.weight_ram]}/{'dsp' if layer.dsp else 'lut'}"


def describe(layer: MVAU) -> Description:
    return Description(f"{layer.mh}x{layer.mw}", f"{layer.in_dtype}/{layer.w_dtype}/{layer.out_dtype}", layer.simd,
                       implementation(layer))


def words(layer: MVAU) -> tuple[Word, Word]:
    return Word(layer.simd, "SIMD", layer.mw), Word(layer.pe, "PE", layer.mh)


def example() -> MVAU:
    """A 6x12 layer of 2-bit weights with 3 thresholds per channel, folded SIMD 4, PE 3, two vectors."""
    weights = (np.arange(72).reshape(6, 12) % 4) - 2
    return MVAU(name="MVAU_0", mw=12, mh=6, simd=4, pe=3, in_dtype=DataType.uint(2), w_dtype=DataType.int(2),
                acc_dtype=DataType.int(7), out_dtype=DataType.uint(2), weights=weights,
                thresholds=np.tile([-3, 0, 4], (6, 1)), out_min=0, vectors=2)


def schedule(layer: MVAU) -> Schedule:
    """mvau.hpp: the input words are read during the first neuron fold (and kept); a word of PE
    outputs is written at the end of every SF iterations."""
    sf, nf = layer.mw // layer.simd, layer.mh // layer.pe
    it = np.arange(layer.vectors * nf * sf)
    return Schedule(reads=(it // sf) % nf == 0, writes=it % sf == sf - 1)


KIND = LayerKind(layer=MVAU, reference=reference, cycles=cycles, resources=resources, finn_resources=finn_resources,
                 context=context, describe=describe, words=words, schedule=schedule, kernel="mvau.hpp",
                 finn_op_types=("MVAU", "MatrixVectorActivation"), fold_params=("PE", "SIMD"), example=example)
