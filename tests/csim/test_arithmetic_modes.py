"""The C-sim fast path (plain C++ integers) and the synthesis arithmetic (ap_int, -DHWGEN_CSIM_EXACT)
give the same bits, and the fast path refuses an accumulator type too narrow for its values."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from hwgen.csim.simulate import Simulation
from hwgen.datatypes import DataType
from hwgen.ir import reference
from tests.conftest import chain, random_values
from tests.kinds.test_mvau import make_mvau

I, U, B = DataType.int, DataType.uint, DataType.bipolar


@pytest.mark.parametrize("mw,mh,simd,pe,in_dtype,w_dtype,out_dtype", [
    (24, 12, 4, 3, I(4), I(4), I(4)),
    (32, 16, 8, 2, B(), B(), B()),
    (18, 9, 3, 9, U(8), B(), None),
], ids=str)
def test_fast_and_exact_agree(tmp_path, mw, mh, simd, pe, in_dtype, w_dtype, out_dtype):
    rng = np.random.default_rng(7)
    graph = chain([make_mvau(rng, mw, mh, simd, pe, in_dtype, w_dtype, out_dtype)])
    x = random_values(rng, in_dtype, (5, mw))
    fast = Simulation(graph, tmp_path / "fast").run(x)
    exact = Simulation(graph, tmp_path / "exact", exact=True).run(x)
    np.testing.assert_array_equal(fast, exact)
    np.testing.assert_array_equal(fast, reference.run(graph, x))


def test_too_narrow_accumulator_fails_the_fast_csim(tmp_path):
    rng = np.random.default_rng(3)
    layer = make_mvau(rng, 16, 4, 4, 2, U(4), U(4), None)
    narrow = DataType.uint(4)  # the true accumulator needs up to 16 * 15 * 15 = 3600
    graph = chain([replace(layer, acc_dtype=narrow, out_dtype=narrow)])
    x = np.full((2, 16), 15)
    with pytest.raises(RuntimeError, match="accumulator exceeded its declared type in layer MVAU_0"):
        Simulation(graph, tmp_path).run(x)
