"""FINN's estimates of hwgen layers (hwgen.estimate.finn), by hand-worked examples of FINN's formulas,
and hwgen's estimate as its own model floored by them, resource by resource."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen.datatypes import DataType
from hwgen.estimate import own_resources, resources
from hwgen.estimate.finn import finn_acc_bits, finn_fifo, finn_resources
from hwgen.hw import Resources
from hwgen.ir.layers import DWC, MVAU, SWG, MaxPool, RamStyle, ResType, Thresholding
from tests.conftest import random_thresholds, random_values

I, U, B = DataType.int, DataType.uint, DataType.bipolar


def binary_mvau(mw, mh, simd, pe, **kw):
    rng = np.random.default_rng(mw + mh)
    return MVAU("MVAU_1", mw, mh, simd, pe, B(), B(), DataType.smallest(-mw, mw + 1), B(),
                random_values(rng, B(), (mh, mw)), random_thresholds(rng, mh, 1, -mw, mw), -1, **kw)


def test_mvau_by_hand():
    """FINN's cnv-w1a1 MVAU_1 folding (PE 32, SIMD 32) with its weights in BRAM:
    mult = 32 * (2 * ceil(2/6) - 1) * 2 = 64, addtree = 2 * 63 = 126, acc = 1 + 1 + ceil(log2 576) = 12,
    thr = 1 * 12 * ceil(2/64) = 12, comp = 12: LUT = int(300 + 1.1 * 32 * 226) = 8255;
    weights 1024 bits x 36 words: ceil(36/512) * ceil(1024/36) = 29 BRAM18."""
    layer = binary_mvau(576, 64, 32, 32, ram_style=RamStyle.BLOCK)
    assert finn_acc_bits(layer) == 12
    assert finn_resources(layer) == Resources(LUT=8255, BRAM18=29, DSP=0)
    # distributed: no BRAM, c2 = 1024 * ceil(36/64) LUTs more
    assert finn_resources(layer.refold(ram_style=RamStyle.DISTRIBUTED)) == Resources(LUT=8255 + 1024, BRAM18=0, DSP=0)


def test_mvau_dsp_and_newer_accumulator_bound():
    """8-bit x 8-bit on DSPs: mult = 0, DSP = PE * SIMD * ceil(16/48); no activation: no thr, comp.
    MW = 16 (a power of two), unsigned input: FINN's newer bound ceil(log2 16 + 16 - 1 + log2(1 + 2^-19) + 1) = 21
    exceeds FINN-R's 8 + 8 + 4 = 20, and the accumulator type (int21) allows it: 21."""
    rng = np.random.default_rng(0)
    layer = MVAU("MVAU_0", 16, 8, 4, 2, U(8), I(8), I(21), I(21), random_values(rng, I(8), (8, 16)), None, 0)
    assert finn_acc_bits(layer) == 21
    addtree = 16 * (2 * 4 - 1)
    # c2: 64 bits x 16 words, LUTRAM
    assert finn_resources(layer) == Resources(LUT=int(300 + 1.1 * 2 * (addtree + 21)) + 2 * 4 * 8 * 1, DSP=8)
    assert finn_resources(layer.refold(res_type=ResType.LUT)).DSP == 0


def test_other_layers_by_hand():
    rng = np.random.default_rng(1)
    t = Thresholding("Thresholding_0", 64, 4, I(8), U(2), random_thresholds(rng, 64, 3, -128, 127), 0)
    assert finn_resources(t) == Resources(LUT=8 * 4 + 4 * 8 * 1)  # comparators + a 16-deep LUTRAM table
    first = SWG("SWG_0", 32, 32, 3, 3, 3, 1, 1, (0, 0, 0, 0), 3, U(8))
    assert finn_resources(first) == Resources(LUT=300 + 4 * 24 * 1)  # 4 rows of 32 words x 24 bits, distributed
    second = SWG("SWG_1", 30, 30, 64, 3, 3, 1, 1, (0, 0, 0, 0), 32, B())
    assert finn_resources(second) == Resources(LUT=300, BRAM18=4)  # 60-word rows: 512x36, one block per row
    pool = MaxPool("MaxPool_0", 28, 28, 64, 2, 2, 2, 2, (0, 0, 0, 0), 4, B())
    assert finn_resources(pool) == Resources()
    assert finn_resources(DWC("DWC_0", 64, 8, 32, B())) == Resources(LUT=2 + 32)  # 8 -> 32 bits
    assert finn_resources(DWC("DWC_1", 64, 32, 8, B())) == Resources(LUT=2 + 8)
    assert finn_fifo(1, 1080) == Resources(LUT=2 * 11 + 34 * 1)


LAYERS = [
    binary_mvau(576, 64, 32, 32, ram_style=RamStyle.BLOCK),
    binary_mvau(576, 64, 64, 32, ram_style=RamStyle.DISTRIBUTED),
    binary_mvau(1152, 128, 16, 64),
    binary_mvau(64, 16, 64, 16),  # MW a power of two
    MVAU("MVAU_2", 27, 64, 27, 4, U(8), B(), I(13), I(13), random_values(np.random.default_rng(2), B(), (64, 27)), None, 0,
         res_type=ResType.DSP),
    Thresholding("Thresholding_0", 64, 4, I(8), U(2), random_thresholds(np.random.default_rng(3), 64, 3, -128, 127), 0),
    SWG("SWG_0", 32, 32, 3, 3, 3, 1, 1, (0, 0, 0, 0), 3, U(8)),
    SWG("SWG_1", 30, 30, 64, 3, 3, 1, 1, (0, 0, 0, 0), 32, B()),
    SWG("SWG_2", 10, 14, 6, 5, 5, 3, 3, (1, 1, 0, 0), 2, I(4)),  # not square
    DWC("DWC_0", 64, 8, 32, B()),
]


FIELDS = ("LUT", "FF", "BRAM18", "URAM", "DSP")


@pytest.mark.parametrize("layer", LAYERS, ids=lambda l: l.name)
def test_resources_is_own_estimate_floored_by_finns(layer):
    """resource_model.resources: per resource hwgen's own estimate, or FINN's where that is higher
    (the hand-worked values are in test_resources.py; this checks the rule over these layers)."""
    ours, own, finn = resources(layer), own_resources(layer), finn_resources(layer)
    for f in FIELDS:
        assert getattr(ours, f) == (getattr(finn, f) if getattr(own, f) < getattr(finn, f) else getattr(own, f)), f


def test_floor_rule_is_exercised_both_ways():
    """Among LAYERS the floor raises some estimate and leaves others alone (else the test above shows one branch only)."""
    pairs = [(getattr(own_resources(l), f), getattr(finn_resources(l), f)) for l in LAYERS for f in FIELDS]
    assert any(own < finn for own, finn in pairs) and any(own > finn > 0 for own, finn in pairs)
