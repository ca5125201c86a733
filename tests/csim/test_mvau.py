"""MVAU in C simulation, bit-exact against the numpy reference, across folding and data types."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen.csim.simulate import Simulation
from hwgen.datatypes import DataType
from hwgen.ir import reference
from hwgen.ir.layers import MVAU
from tests.conftest import chain, random_thresholds, random_values

I, U, B = DataType.int, DataType.uint, DataType.bipolar


def make_mvau(rng, mw, mh, simd, pe, in_dtype, w_dtype, out_dtype=None, vectors=1):
    weights = random_values(rng, w_dtype, (mh, mw))
    lo = np.minimum(weights * in_dtype.min, weights * in_dtype.max).sum(1)
    hi = np.maximum(weights * in_dtype.min, weights * in_dtype.max).sum(1)
    if out_dtype is None:  # raw accumulator out
        acc = DataType.smallest(lo.min(), hi.max())
        return MVAU("MVAU_0", mw, mh, simd, pe, in_dtype, w_dtype, acc, acc, weights, None, 0, vectors)
    acc = DataType.smallest(lo.min(), hi.max() + 1)
    n = 1 if out_dtype == B() else out_dtype.max - out_dtype.min
    thresholds = random_thresholds(rng, mh, n, int(lo.min()), int(hi.max()))
    return MVAU("MVAU_0", mw, mh, simd, pe, in_dtype, w_dtype, acc, out_dtype, weights, thresholds, out_dtype.min, vectors)


CASES = [  # mw, mh, simd, pe, in, w, out
    (16, 8, 1, 1, U(2), I(2), U(2)),
    (16, 8, 16, 8, U(2), I(2), U(2)),
    (24, 12, 4, 3, I(4), I(4), I(4)),
    (32, 16, 8, 2, B(), B(), B()),
    (20, 6, 5, 6, B(), I(3), U(1)),
    (18, 9, 3, 9, U(8), B(), I(8)),
    (12, 4, 12, 1, I(8), I(8), None),
    (10, 10, 2, 5, U(1), U(1), None),
    (64, 10, 16, 5, U(4), I(4), None),
]


@pytest.mark.parametrize("mw,mh,simd,pe,in_dtype,w_dtype,out_dtype", CASES, ids=lambda v: str(v))
def test_mvau_matches_reference(tmp_path, mw, mh, simd, pe, in_dtype, w_dtype, out_dtype):
    rng = np.random.default_rng(mw * 1000 + mh)
    layer = make_mvau(rng, mw, mh, simd, pe, in_dtype, w_dtype, out_dtype)
    graph = chain([layer])
    x = random_values(rng, in_dtype, (7, mw))
    expected = reference.run(graph, x)
    got = Simulation(graph, tmp_path).run(x)
    np.testing.assert_array_equal(got, expected)
    assert got.shape == (7, mh)
