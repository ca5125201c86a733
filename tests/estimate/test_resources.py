"""Resource model: memory mapping by hand-worked examples, MVAU LUTs at least FINN-R's formula."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hwgen.datatypes import DataType
from hwgen.estimate import resources, total_resources
from hwgen.estimate.resource_model import Resources, bram18_blocks, fifo, memory, memory_kind
from hwgen.ir.layers import MVAU, RamStyle, ResType
from tests.conftest import chain, random_thresholds, random_values

I, U, B = DataType.int, DataType.uint, DataType.bipolar


@pytest.mark.parametrize("width,depth,expected", [
    (32, 64, Resources(LUT=32)),  # shallow: distributed RAM, one LUT per bit
    (4, 1000, Resources(LUT=4 * 16)),  # 4 Kbit: still LUTRAM, ceil(1000/64) LUTs per bit
    (36, 512, Resources(BRAM18=1)),  # exactly one 512x36 block
    (72, 1024, Resources(BRAM18=4)),  # 1Kx18 tiles: 4 wide x 1 deep
    (1, 20000, Resources(BRAM18=2)),  # 16Kx1: 1 wide x 2 deep
    (9, 2049, Resources(BRAM18=2)),  # 2Kx9 needs 2 deep, 1Kx18 needs 3: take 2
])
def test_memory_mapping(width, depth, expected):
    assert memory(width, depth) == expected


@pytest.mark.parametrize("width,depth,style,expected", [
    (2048, 18, RamStyle.BLOCK, Resources(BRAM18=57)),  # forced into BRAM: 57 blocks of 512x36, 18 words used
    (2048, 18, RamStyle.DISTRIBUTED, Resources(LUT=2048)),
    (2048, 18, RamStyle.AUTO, Resources(LUT=2048)),  # shallow: LUTRAM
    (16, 5000, RamStyle.DISTRIBUTED, Resources(LUT=16 * 79)),  # forced into LUTRAM however deep
    (16, 5000, RamStyle.AUTO, Resources(BRAM18=5)),
])
def test_memory_styles(width, depth, style, expected):
    assert memory(width, depth, style) == expected


@pytest.mark.parametrize("width,depth,blocks", [
    (1, 16384, 1), (2, 8193, 2), (3, 4096, 1), (9, 2049, 2), (10, 1024, 1), (18, 1025, 2),
    (20, 1500, 4),  # FINN: more than 512 words use 1Kx18 (2 x 2); three 512x36 would do in simple dual port
    (36, 512, 1), (37, 100, 2), (2048, 18, 57),
])
def test_bram_mapping_is_finns_rule(width, depth, blocks):
    assert bram18_blocks(width, depth) == blocks
    # never below the cheapest tiling over the aspect ratios
    shapes = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))
    assert blocks >= min(math.ceil(width / w) * math.ceil(depth / d) for d, w in shapes)


def test_weights_are_one_wide_table():
    """PE * SIMD weights per memory word: 64 lanes of 16 binary weights, 144 tiles, are 1024 bits x 144
    (29 BRAM18 of 512x36), not 64 separate 16-bit tables (64 BRAM18)."""
    rng = np.random.default_rng(3)
    layer = MVAU("MVAU_0", 1152, 128, 16, 64, B(), B(), I(12), B(), random_values(rng, B(), (128, 1152)),
                 random_thresholds(rng, 128, 1, -1152, 1152), -1, ram_style=RamStyle.BLOCK)
    assert resources(layer).BRAM18 == 29
    assert resources(layer.refold(ram_style=RamStyle.DISTRIBUTED)).BRAM18 == 0
    assert resources(layer.refold(ram_style=RamStyle.DISTRIBUTED)).LUT - resources(layer).LUT == 1024 * 3
    assert memory_kind(1024, 144) is RamStyle.BLOCK  # AUTO: 147 Kbit is neither shallow nor tiny


def test_dsp_products_drop_the_multiplier_luts():
    rng = np.random.default_rng(4)
    layer = MVAU("MVAU_0", 27, 64, 27, 4, U(8), B(), I(16), I(16), random_values(rng, B(), (64, 27)), None, 0)
    lut, dsp = resources(layer), resources(layer.refold(res_type=ResType.DSP))
    assert (lut.DSP, dsp.DSP) == (0, 4 * 27)
    assert lut.LUT - dsp.LUT == pytest.approx(1.1 * 4 * 27 * (2 * math.ceil(9 / 6) - 1) * 9)  # FINN-R's mult term
    wide = MVAU("MVAU_1", 16, 8, 4, 2, I(8), I(8), I(20), I(20), random_values(rng, I(8), (8, 16)), None, 0)
    assert resources(wide.refold(res_type=ResType.LUT)).DSP == 0 and resources(wide).DSP == 8  # AUTO: > 4 bits on DSPs


def finn_r_luts(mw, mh, simd, pe, w, a, acc_bits, out_bits):
    """FINN-R's published MVAU LUT estimate (FACTS.md), computed independently."""
    mult = simd * (2 * math.ceil((w + a) / 6) - 1) * (w + a)
    addtree = (w + a) * (2 * simd - 1)
    comp = (2 ** out_bits - 1) * acc_bits
    return 300 + 1.1 * pe * (mult + addtree + acc_bits + comp)


@pytest.mark.parametrize("mw,mh,simd,pe,in_dtype,w_dtype,out_dtype", [
    (784, 64, 49, 16, B(), B(), B()),
    (64, 64, 16, 8, U(2), I(2), U(2)),
    (256, 128, 32, 4, U(4), I(4), U(4)),
])
def test_mvau_luts_at_least_finn_r(mw, mh, simd, pe, in_dtype, w_dtype, out_dtype):
    rng = np.random.default_rng(0)
    weights = random_values(rng, w_dtype, (mh, mw))
    acc = DataType.smallest(-mw * 16, mw * 16)
    n = 1 if out_dtype == B() else 2 ** out_dtype.bits - 1
    layer = MVAU("MVAU_0", mw, mh, simd, pe, in_dtype, w_dtype, acc, out_dtype, weights,
                 random_thresholds(rng, mh, n, -100, 100), -1 if out_dtype == B() else 0)
    ours = resources(layer)
    assert ours.LUT >= finn_r_luts(mw, mh, simd, pe, w_dtype.bits, in_dtype.bits, acc.bits, out_dtype.bits)
    assert ours.DSP == 0  # <= 4-bit operands stay in LUTs


def test_wide_operands_use_dsps():
    rng = np.random.default_rng(1)
    layer = MVAU("MVAU_0", 16, 8, 4, 2, I(8), I(8), I(20), I(20), random_values(rng, I(8), (8, 16)), None, 0)
    assert resources(layer).DSP == 8


def test_fifo_cost_grows_with_depth_and_total_counts_fifos():
    assert fifo(16, 2).LUT == 0 and fifo(16, 32).LUT > 0 and fifo(64, 1024).BRAM18 >= 2
    rng = np.random.default_rng(2)
    layer = MVAU("MVAU_0", 16, 8, 4, 2, U(2), I(2), I(8), I(8), random_values(rng, I(2), (8, 16)), None, 0)
    graph = chain([layer])
    shallow = total_resources(graph, {"input": 2, "MVAU_0": 2})
    deep = total_resources(graph, {"input": 4096, "MVAU_0": 2})
    assert deep.BRAM18 > shallow.BRAM18
