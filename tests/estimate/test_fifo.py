"""FIFO sizing: a cycle-by-cycle simulation with finite FIFOs runs at the bottleneck's pace with the
sized depths, and slower with depth-1 FIFOs where the sizing asked for more."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen.datatypes import DataType
from hwgen.estimate import cycles
from hwgen.fifo import schedule, size_fifos
from hwgen.ir.layers import MVAU
from tests.conftest import chain

U = DataType.uint


def mvau(name, mw, mh, simd, pe):
    w = np.ones((mh, mw), dtype=np.int64)
    acc = DataType.smallest(0, mw * 3 + 1)
    thresholds = np.tile(np.array([1, 2, 3]), (mh, 1))
    return MVAU(name, mw, mh, simd, pe, U(2), U(1), acc, U(2), w, thresholds, 0)


def simulate_period(graph, depths, input_words, frames=6):
    """Cycle-level model with blocking FIFOs; returns the cycles between the last two frames' ends."""
    layers = graph.layers
    scheds = [schedule(l) for l in layers]
    n = [len(s.reads) for s in scheds]
    k = [0] * len(layers)  # next iteration of each layer
    fill = [0] * (len(layers) + 1)  # words in the FIFO before layer i (fill[0]: input), after the last
    cap = [depths["input"]] + [depths[l.name] for l in layers[:-1]] + [10**9]
    fed, t, done_at = 0, 0, []
    while len(done_at) < frames and t < 10**6:
        pending = [0] * (len(layers) + 1)  # writes land at the end of the cycle
        for i, s in enumerate(scheds):
            if k[i] >= frames * n[i]:
                continue
            it = k[i] % n[i]
            r, w = bool(s.reads[it]), bool(s.writes[it])
            if r and fill[i] == 0:
                continue
            if w and fill[i + 1] + pending[i + 1] >= cap[i + 1]:
                continue
            if r:
                fill[i] -= 1
            if w:
                pending[i + 1] += 1
            k[i] += 1
            if i == len(layers) - 1 and k[i] % n[i] == 0:
                done_at.append(t)
        if fed < frames * input_words and fill[0] < cap[0]:  # the DMA pushes one word per cycle
            pending[0] += 1
            fed += 1
        for j in range(len(fill)):
            fill[j] += pending[j]
        t += 1
    return done_at[-1] - done_at[-2]


@pytest.mark.parametrize("layers", [
    [mvau("MVAU_0", 16, 8, 4, 1), mvau("MVAU_1", 8, 16, 1, 4)],  # bursty writer into a slow reader
    [mvau("MVAU_0", 12, 12, 12, 2), mvau("MVAU_1", 12, 6, 3, 6), mvau("MVAU_2", 6, 6, 1, 1)],
    [mvau("MVAU_0", 8, 32, 8, 1), mvau("MVAU_1", 32, 4, 8, 4)],  # DWC between
], ids=["burst", "three", "dwc"])
def test_sized_fifos_sustain_the_bottleneck(layers):
    graph = chain(layers)
    input_words = graph.input.elems // graph.layers[0].in_elems
    depths = size_fifos(graph, input_words)
    bottleneck = max([cycles(l) for l in graph.layers] + [input_words])
    assert simulate_period(graph, depths, input_words) == bottleneck
    shallow = {k: 1 for k in depths}
    if any(d > 2 for d in depths.values()):  # where sizing asked for depth, depth 1 must cost throughput
        assert simulate_period(graph, shallow, input_words) > bottleneck


def test_depths_stay_small_for_matched_rates():
    graph = chain([mvau("MVAU_0", 8, 8, 1, 1), mvau("MVAU_1", 8, 8, 1, 1)])
    depths = size_fifos(graph, 8)
    assert all(d <= 8 for d in depths.values()), depths
