"""The numpy reference of each layer against naive pure-Python loops (Python ints: no overflow, no BLAS)."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen.datatypes import DataType, Kind
from hwgen.ir import reference
from hwgen.ir.graph import DataflowGraph, HostInput, HostOutput
from hwgen.ir.layers import DWC, MVAU, Thresholding
from hwgen.kinds.base import threshold

I, U, B = DataType.int, DataType.uint, DataType.bipolar


def values(rng, dtype, shape):
    if dtype.kind is Kind.BIPOLAR:
        return rng.choice(np.array([-1, 1]), size=shape)
    return rng.integers(dtype.min, dtype.max, size=shape, endpoint=True)


def naive_mvau(x, weights, vectors, thresholds, out_min, bipolar_out):
    """x: list of frames (lists of vectors*mw ints) -> list of frames (vectors*mh ints)."""
    mh, mw = len(weights), len(weights[0])
    out = []
    for frame in x:
        y = []
        for v in range(vectors):
            for r in range(mh):
                acc = 0
                for c in range(mw):
                    acc += weights[r][c] * frame[v * mw + c]
                if thresholds is not None:
                    crossed = sum(1 for t in thresholds[r] if acc >= t)
                    acc = (1 if crossed else -1) if bipolar_out else out_min + crossed
                y.append(acc)
        out.append(y)
    return out


def naive_thresholding(x, thresholds, vectors, out_min, bipolar_out):
    channels = len(thresholds)
    out = []
    for frame in x:
        y = []
        for v in range(vectors):
            for c in range(channels):
                crossed = sum(1 for t in thresholds[c] if frame[v * channels + c] >= t)
                y.append((1 if crossed else -1) if bipolar_out else out_min + crossed)
        out.append(y)
    return out


def acc_range(weights, in_dtype):
    lo = np.minimum(weights * in_dtype.min, weights * in_dtype.max).sum(1)
    hi = np.maximum(weights * in_dtype.min, weights * in_dtype.max).sum(1)
    return int(lo.min()), int(hi.max())


MVAU_CASES = [  # mw, mh, vectors, in, w, out (None: accumulator)
    (7, 5, 1, U(2), I(2), None),
    (8, 4, 3, B(), B(), None),
    (6, 3, 2, B(), B(), B()),
    (9, 6, 1, I(4), B(), U(3)),
    (5, 7, 2, B(), I(3), I(2)),
    (12, 2, 1, U(8), I(8), I(4)),
    (4, 4, 4, U(1), U(1), U(2)),
    (16, 3, 1, I(3), U(3), B()),
]


@pytest.mark.parametrize("mw,mh,vectors,in_dtype,w_dtype,out_dtype", MVAU_CASES, ids=str)
def test_mvau_reference_against_loops(mw, mh, vectors, in_dtype, w_dtype, out_dtype):
    rng = np.random.default_rng(mw * 31 + mh * 7 + vectors)
    for _ in range(4):
        weights = values(rng, w_dtype, (mh, mw))
        lo, hi = acc_range(weights, in_dtype)
        acc = DataType.smallest(lo, hi + 1)
        thresholds = None
        out_min = 0
        if out_dtype is not None:
            n = 1 if out_dtype.kind is Kind.BIPOLAR else out_dtype.max - out_dtype.min
            thresholds = np.sort(rng.integers(lo - 1, hi + 2, size=(mh, n)), axis=1)  # duplicates, never / always crossed
            thresholds = np.clip(thresholds, acc.min, acc.max)
            out_min = out_dtype.min
        layer = MVAU("m", mw, mh, 1, 1, in_dtype, w_dtype, acc, out_dtype or acc, weights, thresholds, out_min, vectors)
        x = values(rng, in_dtype, (5, mw * vectors))
        expected = naive_mvau(x.tolist(), weights.tolist(), vectors, None if thresholds is None else thresholds.tolist(),
                              out_min, out_dtype == B())
        got = reference.execute(layer, x)
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, expected)


def test_bipolar_mvau_is_xnor_popcount():
    # with ±1 inputs and weights, acc = 2 * #agreements - mw
    rng = np.random.default_rng(5)
    weights = values(rng, B(), (4, 9))
    x = values(rng, B(), (3, 9))
    layer = MVAU("m", 9, 4, 3, 2, B(), B(), I(5), I(5), weights)
    agree = (x[:, None, :] == weights[None, :, :]).sum(axis=2)
    np.testing.assert_array_equal(reference.execute(layer, x), 2 * agree - 9)


def test_mvau_accumulators_beyond_float64_precision():
    # products of 30-bit values summed: beyond 2^53, where a float64 matmul would round
    rng = np.random.default_rng(9)
    w_dtype, in_dtype = I(30), I(30)
    weights = values(rng, w_dtype, (3, 4))
    weights[0] = w_dtype.min
    x = values(rng, in_dtype, (6, 4))
    x[0] = in_dtype.min
    x[1] = in_dtype.max
    x[2] = [in_dtype.max, in_dtype.max - 1, in_dtype.max - 2, 1]  # odd sums: float64 cannot hold them
    lo, hi = acc_range(weights, in_dtype)
    acc = DataType.smallest(lo, hi)
    layer = MVAU("m", 4, 3, 1, 1, in_dtype, w_dtype, acc, acc, weights)
    expected = naive_mvau(x.tolist(), weights.tolist(), 1, None, 0, False)
    assert max(abs(v) for row in expected for v in row) > 2**58
    np.testing.assert_array_equal(reference.execute(layer, x), expected)


def test_mvau_folding_does_not_change_values():
    rng = np.random.default_rng(11)
    weights = values(rng, I(3), (6, 12))
    x = values(rng, U(2), (3, 24))
    base = MVAU("m", 12, 6, 1, 1, U(2), I(3), I(8), I(8), weights, vectors=2)
    expected = reference.execute(base, x)
    for simd, pe in [(12, 6), (4, 3), (3, 2)]:
        np.testing.assert_array_equal(reference.execute(base.refold(simd=simd, pe=pe), x), expected)


THRESHOLDING_CASES = [  # channels, vectors, in, out
    (5, 1, I(4), U(2)),
    (3, 4, U(3), I(3)),
    (6, 2, B(), B()),
    (4, 3, I(8), B()),
    (7, 1, U(1), U(1)),
    (2, 2, B(), U(1)),
]


@pytest.mark.parametrize("channels,vectors,in_dtype,out_dtype", THRESHOLDING_CASES, ids=str)
def test_thresholding_reference_against_loops(channels, vectors, in_dtype, out_dtype):
    rng = np.random.default_rng(channels * 13 + vectors)
    for _ in range(4):
        n = 1 if out_dtype.kind is Kind.BIPOLAR else out_dtype.max - out_dtype.min
        thresholds = np.sort(rng.integers(in_dtype.min, in_dtype.max + 2, size=(channels, n)), axis=1)
        out_min = out_dtype.min
        layer = Thresholding("t", channels, 1, in_dtype, out_dtype, thresholds, out_min, vectors)
        x = values(rng, in_dtype, (6, channels * vectors))
        expected = naive_thresholding(x.tolist(), thresholds.tolist(), vectors, out_min, out_dtype == B())
        np.testing.assert_array_equal(reference.execute(layer, x), expected)


def test_threshold_function_by_hand():
    values_ = np.array([[-3, 0, 5], [2, 2, 2]])
    thresholds = np.array([[-3, -3, 1], [0, 2, 3], [6, 6, 6]])
    np.testing.assert_array_equal(threshold(values_, thresholds, -1, False), [[1, 0, -1], [2, 1, -1]])
    np.testing.assert_array_equal(threshold(values_, thresholds[:, :1], -1, True), [[1, 1, -1], [1, 1, -1]])


def test_dwc_reference_is_identity_and_run_traces_every_layer():
    rng = np.random.default_rng(2)
    weights = values(rng, I(2), (6, 4))
    m = MVAU("m", 4, 6, 2, 3, U(2), I(2), I(6), I(6), weights)
    d = DWC("d", 6, 3, 1, I(6))
    t = Thresholding("t", 6, 1, I(6), U(2), np.tile([-3, 0, 4], (6, 1)), 0)
    graph = DataflowGraph([m, d, t], HostInput((1, 4), {}, U(2), 4), HostOutput((1, 6), U(2), 6))
    x = values(rng, U(2), (5, 4))
    y, trace = reference.run(graph, x, trace=True)
    acc = naive_mvau(x.tolist(), weights.tolist(), 1, None, 0, False)
    np.testing.assert_array_equal(trace["m"], acc)
    np.testing.assert_array_equal(trace["d"], acc)
    np.testing.assert_array_equal(y, naive_thresholding(acc, [[-3, 0, 4]] * 6, 1, 0, False))
    np.testing.assert_array_equal(reference.run(graph, x.reshape(-1)), y)  # flat input: reshaped to frames
