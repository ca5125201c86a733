"""Standalone Thresholding in C simulation, bit-exact against a direct count of crossed thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen.csim.simulate import Simulation
from hwgen.datatypes import DataType, Kind
from hwgen.ir import reference
from hwgen.ir.layers import Thresholding, divisors
from tests.conftest import chain, random_thresholds, random_values

I, U, B = DataType.int, DataType.uint, DataType.bipolar


def expected_outputs(x: np.ndarray, thresholds: np.ndarray, out_min: int, bipolar: bool, channels: int) -> np.ndarray:
    """Count crossed thresholds element by element (frames, vectors * channels)."""
    frames, elems = x.shape
    y = np.zeros_like(x)
    for f in range(frames):
        for i in range(elems):
            crossed = int(np.sum(x[f, i] >= thresholds[i % channels]))
            y[f, i] = (1 if crossed else -1) if bipolar else out_min + crossed
    return y


def make_thresholding(rng, channels, pe, in_dtype, out_dtype, vectors=1, thresholds=None):
    bipolar = out_dtype.kind is Kind.BIPOLAR
    n = 1 if bipolar else out_dtype.max - out_dtype.min
    if thresholds is None:  # in [in.min, in.max + 1]: always and never crossed included, duplicates likely
        thresholds = random_thresholds(rng, channels, n, in_dtype.min, in_dtype.max)
    return Thresholding("Thresholding_0", channels, pe, in_dtype, out_dtype, thresholds, -1 if bipolar else out_dtype.min, vectors)


def check(layer, rng, workdir, frames=(6, 1)):
    graph = chain([layer])
    sim = Simulation(graph, workdir)
    for n in frames:
        x = random_values(rng, layer.in_dtype, (n, layer.frame_in))
        x.reshape(-1)[: 2] = [layer.in_dtype.min, layer.in_dtype.max]
        got = sim.run(x)
        expected = expected_outputs(x, layer.thresholds, layer.out_min, layer.out_dtype.kind is Kind.BIPOLAR, layer.channels)
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(got, reference.run(graph, x))
    return sim


CASES = [  # channels, pe, in, out, vectors
    (12, 1, I(4), U(2), 1),  # PE = 1
    (12, 12, U(4), I(3), 2),  # PE = C, 7 thresholds per channel in 17 places: duplicates; negative outputs
    (10, 5, B(), B(), 3),  # bipolar in and out
    (6, 3, I(8), B(), 4),  # 8-bit in, bipolar out, several vectors
]


@pytest.mark.parametrize("channels,pe,in_dtype,out_dtype,vectors", CASES, ids=str)
def test_thresholding_matches_count(tmp_path, channels, pe, in_dtype, out_dtype, vectors):
    rng = np.random.default_rng(channels * 100 + pe)
    layer = make_thresholding(rng, channels, pe, in_dtype, out_dtype, vectors)
    if out_dtype.bits > 2:
        assert np.any(np.diff(layer.thresholds, axis=1) == 0), "the case should have duplicate thresholds"
    check(layer, rng, tmp_path)


def test_thresholds_at_the_extremes(tmp_path):
    """in.min: always crossed; in.max + 1: never crossed; all equal; every input value in every channel."""
    lo, hi = I(3).min, I(3).max + 1
    thresholds = np.array([
        [lo, lo, lo],  # always 3 crossed: out = out_min + 3
        [hi, hi, hi],  # never: out_min
        [lo, 0, hi],
        [0, 0, 0],  # one step of 3
        [-1, 0, 1],
        [hi - 1, hi, hi],  # crossed only at in.max
    ])
    layer = Thresholding("Thresholding_0", 6, 2, I(3), I(3), thresholds, -2, 2)
    x = np.array([np.tile(np.full(6, v), 2) for v in range(I(3).min, I(3).max + 1)])  # every input value, every channel
    got = Simulation(chain([layer]), tmp_path).run(x)
    np.testing.assert_array_equal(got, expected_outputs(x, thresholds, -2, False, 6))
    assert np.all(got[:, [0, 6]] == 1) and np.all(got[:, [1, 7]] == -2)
    np.testing.assert_array_equal(got[:, 5], [-2] * 7 + [-1])


@pytest.mark.slow
@pytest.mark.parametrize("pe", divisors(12))
@pytest.mark.parametrize("in_dtype,out_dtype", [(I(4), U(2)), (B(), B()), (U(8), I(4)), (U(1), U(1)), (U(2), U(4))], ids=str)
def test_thresholding_every_pe(tmp_path, pe, in_dtype, out_dtype):
    rng = np.random.default_rng(pe)
    check(make_thresholding(rng, 12, pe, in_dtype, out_dtype, vectors=2), rng, tmp_path, frames=(5,))


# -- validation: the IR dataclass names the layer and the valid values ---------------------
def small_thresholding(**overrides) -> Thresholding:
    args = dict(name="act0", channels=10, pe=5, in_dtype=I(4), out_dtype=U(2),
                thresholds=np.tile([-2, 0, 3], (10, 1)), out_min=0, vectors=1)
    args.update(overrides)
    return Thresholding(**args)


@pytest.mark.parametrize("kwargs,pattern", [
    (dict(pe=3), r"^Thresholding 'act0': pe=3 must be a divisor of channels=10 \(valid: 1, 2, 5, 10\)$"),
    (dict(pe=-1), r"^Thresholding 'act0': pe=-1 must be a divisor of channels=10 \(valid: 1, 2, 5, 10\)$"),
    (dict(thresholds=np.tile([-17, 0, 3], (10, 1))), r"Thresholding 'act0': thresholds in \[-17, 3\] do not fit int5"),
    (dict(out_dtype=I(2), out_min=0), r"Thresholding 'act0': outputs 0..3 do not fit int2"),
])
def test_thresholding_errors_name_the_layer(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        small_thresholding(**kwargs)


def test_threshold_range_includes_one_above_the_input_range():
    # thresholds are compared with input values: in.max + 1 ("never crossed") must fit the threshold type
    small_thresholding(thresholds=np.tile([-8, 0, 8], (10, 1)))
    with pytest.raises(ValueError, match="do not fit"):
        small_thresholding(thresholds=np.tile([-8, 0, 17], (10, 1)))
    assert small_thresholding().threshold_dtype == I(5)
    assert small_thresholding(in_dtype=U(3), thresholds=np.tile([0, 4, 8], (10, 1))).threshold_dtype == U(4)
    assert small_thresholding(in_dtype=B(), out_dtype=B(), out_min=-1, thresholds=np.tile([2], (10, 1))).threshold_dtype == I(3)


def test_thresholding_folds_and_frames():
    for pe in divisors(10):
        assert small_thresholding(pe=pe).in_elems == pe
    assert small_thresholding().refold(pe=2).pe == 2
    layer = small_thresholding(vectors=4)
    assert (layer.frame_in, layer.frame_out) == (40, 40)
