"""Threshold derivation against brute force: every source integer of every channel.

For a chain of float ops and a quantizer, `derive` must give thresholds T with
    quant(ops(sign * t)) == out_min + #{k : t >= T[c, k]}      (bipolar: -1 + 2 [t >= T[c, 0]])
for every integer t in [lo[c], hi[c]], which the tests check by enumerating all of them.
"""

from __future__ import annotations

import numpy as np
import pytest

from hwgen.driver.ops import apply_ops, quant_int
from hwgen.lower.thresholds import decreasing_channels, derive

MODES = ["ROUND", "HALF_EVEN", "FLOOR", "CEIL", "UP", "DOWN", "HALF_UP", "HALF_DOWN"]


def affine(mul, add):
    return {"op": "affine", "mul": np.asarray(mul, dtype=np.float64), "add": np.asarray(add, dtype=np.float64)}


def quant(bits, signed, narrow=False, scale=1.0, zero=0.0, mode="ROUND"):
    return {"op": "quant", "scale": np.asarray(scale, dtype=np.float64), "zero_point": np.asarray(zero, dtype=np.float64),
            "bits": bits, "signed": signed, "narrow": narrow, "rounding_mode": mode}


def levels_by_brute_force(ops, q, sign, lo, hi):
    """{channel: (t values, quantizer levels)} for every integer t in [lo[c], hi[c]], one channel at a time."""
    channels = len(lo)
    out = {}
    for c in range(channels):
        t = np.arange(lo[c], hi[c] + 1)
        x = np.zeros((len(t), channels))
        x[:, c] = sign[c] * t  # the other channels' columns are ignored
        out[c] = t, quant_int(apply_ops(x, ops), q)[:, c]
    return out


def check_derive(ops, q, lo, hi):
    """Flip the falling channels (as the lowering does by negating weights), derive, compare with brute force."""
    lo, hi = np.asarray(lo, dtype=np.int64), np.asarray(hi, dtype=np.int64)
    plain = levels_by_brute_force(ops, q, np.ones(len(lo)), lo, hi)
    falling = decreasing_channels(ops, q, lo, hi)
    for c, (_, level) in plain.items():
        steps = np.diff(level)
        assert np.all(steps >= 0) or np.all(steps <= 0), "test chain is not monotone"
        assert falling[c] == (level[-1] < level[0]), c
    sign = np.where(falling, -1, 1)
    lo2, hi2 = np.where(falling, -hi, lo), np.where(falling, -lo, hi)
    ts = derive(ops, q, lo2, hi2, sign)
    T = ts.thresholds
    assert T.dtype.kind == "i" and T.shape[0] == len(lo)
    assert np.all(np.diff(T, axis=1) >= 0), "thresholds must ascend"
    assert np.all(T >= lo2[:, None]) and np.all(T <= hi2[:, None] + 1)
    every = levels_by_brute_force(ops, q, sign, lo2, hi2)
    all_levels = np.concatenate([level for _, level in every.values()])
    if ts.bipolar:
        assert T.shape[1] == 1 and ts.out_min == -1
        assert set(np.unique(all_levels)) <= {-1.0, 1.0}
    else:
        assert T.shape[1] == ts.out_max - ts.out_min >= 1
        assert ts.out_min <= all_levels.min() and all_levels.max() <= ts.out_max
    for c, (t, level) in every.items():
        crossed = (t[:, None] >= T[c][None, :]).sum(axis=1)
        got = 2 * crossed - 1 if ts.bipolar else ts.out_min + crossed
        np.testing.assert_array_equal(got, level, err_msg=f"channel {c}")
        assert ts.out_lo[c] == level.min() and ts.out_hi[c] == level.max()
    return ts, falling


def random_chain(rng, channels):
    """affine (per-channel, random signs, sometimes a zero slope) -> [relu | clip] -> [affine] -> quantizer."""
    mul = rng.choice([-1.0, 1.0], channels) * 2.0 ** rng.uniform(-5, 0, channels)
    if rng.random() < 0.25:
        mul[rng.integers(channels)] = 0.0  # a constant-output channel
    ops = [affine(mul, rng.normal(0, 1.5, channels))]
    r = rng.random()
    if r < 0.3:
        ops.append({"op": "relu"})
    elif r < 0.5:
        a = rng.uniform(-2, 0.5)
        ops.append({"op": "clip", "min": a, "max": a + rng.uniform(0.1, 3)})
    if rng.random() < 0.4:  # batch norm after the activation
        ops.append(affine(rng.uniform(0.2, 2, channels), rng.normal(0, 0.5, channels)))
    r = rng.random()
    if r < 0.15:
        q = {"op": "bipolar_quant", "scale": np.asarray(rng.uniform(0.1, 2), dtype=np.float64)}
    elif r < 0.25:
        q = quant(1, True, scale=rng.uniform(0.1, 2))  # QONNX: 1-bit signed Quant is bipolar
    else:
        bits = int(rng.integers(1, 5))
        signed = bool(rng.random() < 0.5) and bits > 1
        narrow = bool(rng.random() < 0.3)
        per_channel = rng.random() < 0.5
        scale = 2.0 ** rng.uniform(-3, 0.5, channels if per_channel else None)
        zero = float(rng.integers(0, 3)) if not signed and rng.random() < 0.3 else 0.0
        q = quant(bits, signed, narrow, scale, zero, MODES[int(rng.integers(len(MODES)))])
    return ops, q


@pytest.mark.parametrize("seed", range(40))
def test_derive_random_chains_against_brute_force(seed):
    rng = np.random.default_rng(seed)
    for _ in range(5):
        channels = int(rng.integers(1, 6))
        lo = rng.integers(-60, 10, channels)
        hi = lo + rng.integers(0, 100, channels)
        ops, q = random_chain(rng, channels)
        check_derive(ops, q, lo, hi)


def test_derive_half_integer_ties():
    """t / 2 hits every .5 tie; each rounding mode must put the threshold on its side of it."""
    for mode in MODES:
        ops = [affine(np.array([0.5, -0.5, 0.25]), np.array([0.0, 0.0, 0.125]))]
        q = quant(4, True, mode=mode)
        ts, falling = check_derive(ops, q, [-20, -20, -20], [20, 20, 20])
        assert falling.tolist() == [False, True, False]


def test_decreasing_channels_detects_negative_slopes():
    ops = [affine([1.0, -1.0, 0.5, -0.25, 0.0, -2.0], [0.0, 0.0, 0.0, 0.0, 3.0, 0.0]), {"op": "clip", "min": -2.0, "max": 100.0}]
    q = quant(3, False, scale=0.5)
    lo, hi = np.full(6, -10), np.full(6, 10)
    # slopes: up, down, up, down, constant, down (all reach more than one level over [-10, 10])
    assert decreasing_channels(ops, q, lo, hi).tolist() == [False, True, False, True, False, True]
    _, falling = check_derive(ops, q, lo, hi)
    assert falling.tolist() == [False, True, False, True, False, True]
    # a negative slope that the quantizer flattens over the range is constant, not falling
    assert decreasing_channels([affine([-1.0], [-50.0])], quant(2, False), np.array([-3]), np.array([3])).tolist() == [False]


def test_derive_refuses_falling_channels():
    with pytest.raises(AssertionError, match="non-decreasing"):
        derive([affine([-1.0], [0.0])], quant(2, False), np.array([-5]), np.array([5]), np.array([1]))


def test_constant_output_channels():
    q = quant(2, False)
    # channel 0 constant at level 2 (> the quantizer's min), channel 1 constant at 0 (its min), channel 2 ramps
    ops = [affine([0.0, 0.0, 0.5], [2.0, -7.0, 0.0])]
    ts, _ = check_derive(ops, q, [-4, -4, -4], [4, 4, 4])
    assert (ts.out_min, ts.out_max) == (0, 2)
    # every channel constant at 2: one comparator, always crossed, out_min one below
    ts, _ = check_derive([affine([0.0, 0.0], [2.0, 2.0])], q, [-3, 0], [3, 9])
    assert (ts.out_min, ts.out_max) == (1, 2)
    assert ts.thresholds.tolist() == [[-3], [0]]
    # every channel constant at the quantizer's min: the comparator is never crossed
    ts, _ = check_derive([{"op": "relu"}, affine([-1.0, -1.0], [0.0, 0.0])], q, [-3, 0], [3, 9])
    assert (ts.out_min, ts.out_max) == (0, 1)
    assert ts.thresholds.tolist() == [[4], [10]]


def test_bipolar_quantizers():
    for q in ({"op": "bipolar_quant", "scale": np.asarray(0.5)}, quant(1, True, scale=0.25)):
        ops = [affine([1.0, -1.0, 0.25, 0.0, 0.0], [0.5, 0.0, -1.0, 1.0, -1.0])]
        ts, falling = check_derive(ops, q, [-5] * 5, [5] * 5)
        assert ts.bipolar and (ts.out_min, ts.out_max) == (-1, 1)
        # x + 0.5 >= 0 from t = 0 on; t >= 0 on the flipped channel; t/4 - 1 >= 0 from 4; constants: always / never
        assert ts.thresholds[:, 0].tolist() == [0, 0, 4, -5, 6]
        assert falling.tolist() == [False, True, False, False, False]


def test_by_hand_relu_uint2():
    # level = min(round(relu(t) / 3), 3): t <= 1 -> 0; 2..4 -> 1 (2/3 = 0.67); 5..7 -> 2 (5/3 = 1.67); t >= 8 -> 3
    ts, _ = check_derive([{"op": "relu"}, affine([1 / 3], [0.0])], quant(2, False), [-10], [20])
    assert ts.out_min == 0 and ts.thresholds.tolist() == [[2, 5, 8]]
