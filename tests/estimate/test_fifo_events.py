"""The event-level FIFO model (hwgen.fifo.events, what sizing uses) against the iteration-level reference
(hwgen.fifo.streams): on random chains of every kind with random foldings, the same never-blocking
depths, the same blocking schedules (every event of every node, every depth from 1 up), the same
shrunk depths, and with them the same output cycles as never-blocking FIFOs."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen.datatypes import DataType
from hwgen.fifo import SHRINK_SWEEPS, events, shrink_streams, streams
from hwgen.fifo.events import EventModel
from hwgen.fifo.streams import BlockingModel
from hwgen.ir.layers import SWG, MaxPool, Thresholding
from tests.conftest import chain
from tests.estimate.test_fifo import STREAMS, as_streams, mvau

U = DataType.uint


def divisor(rng, n: int) -> int:
    return int(rng.choice([d for d in range(1, n + 1) if n % d == 0]))


def random_chain(seed: int) -> list:
    """2-4 layers on a small image: convolutions (an SWG of random window, stride, padding and word, an
    MVAU of random SIMD and PE), max pools, thresholds and 1x1 convolutions, all folded at random."""
    rng = np.random.default_rng(seed)
    h, w, c = int(rng.integers(3, 7)), int(rng.integers(3, 7)), int(rng.choice([2, 4]))
    layers = []
    for i in range(int(rng.integers(2, 5))):
        op = rng.choice(["conv", "pool", "thr", "fc"]) if i else rng.choice(["conv", "fc"])
        if op == "pool" and min(h, w) >= 2:
            layers.append(MaxPool(f"MaxPool_{i}", h, w, c, 2, 2, 2, 2, (0, 0, 0, 0), divisor(rng, c), U(2)))
            h, w = h // 2, w // 2
        elif op == "thr":
            layers.append(Thresholding(f"Thresholding_{i}", c, divisor(rng, c), U(2), U(2), np.tile([1, 2, 3], (c, 1)), vectors=h * w))
        elif op == "conv":
            k, s = int(rng.integers(1, 4)), int(rng.integers(1, 3))
            pad = tuple(int(p) for p in rng.integers(0, 2, 4)) if k > 1 else (0, 0, 0, 0)
            if h + pad[0] + pad[2] < k or w + pad[1] + pad[3] < k:
                continue
            swg = SWG(f"SWG_{i}", h, w, c, k, k, s, s, pad, divisor(rng, c), U(2))
            h, w, mh = swg.ofm_h, swg.ofm_w, int(rng.choice([2, 4, 6, 8]))
            layers += [swg, mvau(f"MVAU_{i}", k * k * c, mh, divisor(rng, k * k * c), divisor(rng, mh), vectors=h * w)]
            c = mh
        else:  # a 1x1 convolution (a fully connected layer where h = w = 1)
            mh = int(rng.choice([2, 4, 6, 8]))
            layers.append(mvau(f"MVAU_{i}", c, mh, divisor(rng, c), divisor(rng, mh), vectors=h * w))
            c = mh
    return layers


SEEDS = range(40)


def on_events(model: EventModel, schedule: dict) -> dict:
    """An iteration-level schedule at the events of `model`."""
    return {name: starts[model.k[name]] for name, starts in schedule.items()}


@pytest.mark.parametrize("seed", SEEDS)
def test_random_chains_size_run_and_shrink_as_the_reference(seed):
    nodes, edges, input_words, period = as_streams(chain(random_chain(seed)))
    sized = events.size_streams(nodes, edges, input_words)
    assert sized == streams.size_streams(nodes, edges, input_words)
    fast, slow = EventModel(nodes, edges, input_words, period, 4), BlockingModel(nodes, edges, input_words, period, 4)
    rng = np.random.default_rng(seed)
    for depths in (sized, {e: 1 for e in edges}, {e: int(rng.integers(1, sized[e] + 2)) for e in edges}):
        reference, got = slow.run(depths, max_sweeps=SHRINK_SWEEPS), fast.run(depths, max_sweeps=SHRINK_SWEEPS)
        assert (got is None) == (reference is None)  # None: not settled within the sweeps shrinking allows
        for name, starts in on_events(fast, reference or {}).items():
            np.testing.assert_array_equal(got[name], starts, err_msg=name)
    widths = {e: int(rng.choice([2, 8, 40])) for e in edges}
    shallow = shrink_streams(nodes, edges, sized, widths, input_words)
    assert shallow == shrink_streams(nodes, edges, sized, widths, input_words, model=BlockingModel)
    last = nodes[-1].name  # the shrunk depths keep every output cycle of never-blocking FIFOs, over 8 frames
    np.testing.assert_array_equal(streams.run_blocking(nodes, edges, shallow, input_words, period, frames=8)[last],
                                  streams.run_blocking(nodes, edges, sized, input_words, period, frames=8)[last])


def test_random_chains_cover_every_kind():
    kinds = {type(layer).__name__ for seed in SEEDS for layer in chain(random_chain(seed)).layers}
    assert kinds == {"MVAU", "SWG", "MaxPool", "Thresholding", "DWC"}


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_branching_graphs_and_trials_as_the_reference(name):
    """The test graphs of test_fifo (residual blocks included): the same depths, and the same outcome of
    every trial shrinking makes - a settled schedule or None (a deadlock, a start past `latest`, too
    many sweeps), from the accepted schedule, with the sweeps capped as shrinking caps them."""
    nodes, edges, input_words, period = STREAMS[name]()
    sized = events.size_streams(nodes, edges, input_words)
    assert sized == streams.size_streams(nodes, edges, input_words)
    fast, slow = EventModel(nodes, edges, input_words, period, 4), BlockingModel(nodes, edges, input_words, period, 4)
    base_slow, base_fast = slow.run(sized), fast.run(sized)
    latest_slow, latest_fast = slow.latest(base_slow[nodes[-1].name]), fast.latest(base_fast[nodes[-1].name])
    for e in edges:
        for d in range(1, sized[e]):
            trial = {**sized, e: d}
            want = slow.run(trial, latest_slow, base_slow, 8, touched={e[0]})
            got = fast.run(trial, latest_fast, base_fast, 8, touched={e[0]})
            assert (got is None) == (want is None), (e, d)
            if want is not None:
                for node, starts in on_events(fast, want).items():
                    np.testing.assert_array_equal(got[node], starts, err_msg=f"{e} {d} {node}")
