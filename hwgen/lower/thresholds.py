"""Thresholds from the float ops between an integer source and a quantizer.

For every channel c, the quantizer's integer level as a function of the source integer t,
    level(t) = quant(ops(t)),
is monotone (affine maps, ReLU, clipping and rounding are). Where it is non-decreasing,
    level(t) = out_min + #{k : t >= T[c, k]},  T[c, k] = min{t : level(t) >= out_min + k + 1},
and each T is found by binary search over [lo[c], hi[c] + 1] (hi + 1: never crossed),
evaluating the ops in float64, exactly the arithmetic the model specifies. Channels where
level(t) decreases are reported so the caller can negate their weights first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwgen.driver.ops import apply_ops, quant_int, quant_levels


@dataclass(frozen=True, eq=False)
class ThresholdSet:
    thresholds: np.ndarray  # (channels, n) int64, ascending per channel
    out_min: int
    out_max: int
    out_lo: np.ndarray  # per-channel reachable levels
    out_hi: np.ndarray
    bipolar: bool


def level_fn(ops: tuple[dict, ...], quant: dict, sign: np.ndarray):
    """t (.., channels) -> the quantizer level of ops(sign * t), float64."""
    return lambda t: quant_int(apply_ops(sign * t, list(ops)), quant)


def decreasing_channels(ops, quant, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    level = level_fn(ops, quant, np.ones_like(lo))
    return level(hi.astype(np.float64)) < level(lo.astype(np.float64))


def derive(ops, quant: dict, lo: np.ndarray, hi: np.ndarray, sign: np.ndarray) -> ThresholdSet:
    """Thresholds over source integers t in [lo, hi] per channel, for level(sign * t).

    `lo`, `hi`, `sign` are (channels,) arrays; `sign` must make every channel non-decreasing.
    """
    level = level_fn(ops, quant, sign.astype(np.float64))
    at_lo, at_hi = level(lo.astype(np.float64)), level(hi.astype(np.float64))
    if np.any(at_hi < at_lo):
        raise AssertionError("derive() needs non-decreasing channels: negate the decreasing ones first")
    qmin, qmax = quant_levels(quant)
    bipolar = qmin == -1 and qmax == 1 and (quant["op"] == "bipolar_quant" or quant["bits"] == 1)
    if bipolar:
        targets, out_min, out_max = np.array([1.0]), -1, 1
    else:
        out_min, out_max = int(at_lo.min()), int(at_hi.max())
        if out_min == out_max:  # a constant output still needs one comparator
            out_min, out_max = (out_min - 1, out_max) if out_min > qmin else (out_min, out_max + 1)
        targets = np.arange(out_min + 1, out_max + 1, dtype=np.float64)
    n, channels = len(targets), len(lo)
    # binary search for every (level, channel) at once: the answer lies in [low, high]
    low = np.broadcast_to(lo.astype(np.int64), (n, channels)).copy()
    high = np.broadcast_to(hi.astype(np.int64) + 1, (n, channels)).copy()
    goal = targets[:, None]
    while np.any(active := low < high):
        mid = low + (high - low) // 2
        reached = level(mid.astype(np.float64)) >= goal
        high = np.where(active & reached, mid, high)
        low = np.where(active & ~reached, mid + 1, low)
    return ThresholdSet(low.T.copy(), out_min, out_max, at_lo.astype(np.int64), at_hi.astype(np.int64), bipolar)
