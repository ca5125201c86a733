"""FIFO sizing: a cycle-by-cycle simulation with finite FIFOs runs at the bottleneck's pace with the
sized depths, and slower with depth-1 FIFOs where the sizing asked for more; the blocking model
(run_blocking) is that simulation, cycle for cycle; shallow FIFOs (shrink_streams) keep every output
cycle, and the next cheaper FIFO on an edge they kept deeper would not."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen.datatypes import DataType
from hwgen.estimate import cycles
from hwgen.fifo import (
    MIN_DEPTH,
    BlockingModel,
    Node,
    chain_streams,
    run_blocking,
    shrink_streams,
    size_fifos,
    size_streams,
)
from hwgen.hw import fifo
from hwgen.ir.layers import MVAU, SWG, MaxPool
from tests.conftest import chain

U = DataType.uint


def fork(name: str, words: int, ways: int = 2) -> Node:
    """A stream duplicator: every iteration reads a word and writes it to each of `ways` outputs."""
    every = np.ones(words, bool)
    return Node(name, (every,), (every,) * ways)


def join(name: str, words: int, ways: int = 2) -> Node:
    """An element-wise addition (or concatenation) of aligned streams: every iteration reads a word of
    each of `ways` inputs and writes one."""
    every = np.ones(words, bool)
    return Node(name, (every,) * ways, (every,))


def mvau(name, mw, mh, simd, pe, vectors=1):
    w = np.ones((mh, mw), dtype=np.int64)
    acc = DataType.smallest(0, mw * 3 + 1)
    thresholds = np.tile(np.array([1, 2, 3]), (mh, 1))
    return MVAU(name, mw, mh, simd, pe, U(2), U(1), acc, U(2), w, thresholds, 0, vectors=vectors)


def simulate_period(graph, depths, input_words, frames=6):
    """A chain with blocking FIFOs of `depths` (keyed by producer); the cycles between the last two frames' ends."""
    nodes, edges = chain_streams(graph)
    return simulate_streams(nodes, edges, {e: depths[e[0]] for e in edges}, input_words, frames)


def simulate_streams(nodes, edges, depths, input_words, frames=6, patience=10_000, period=None):
    """The cycles between the last two frames' ends with blocking FIFOs of `depths` (simulate_starts),
    or None on a deadlock."""
    starts = simulate_starts(nodes, edges, depths, input_words, frames, patience, period)
    if starts is None:
        return None
    ends = starts[nodes[-1].name].reshape(frames, -1)[:, -1]
    return int(ends[-1] - ends[-2])


def simulate_starts(nodes, edges, depths, input_words, frames=6, patience=10_000, period=None):
    """Cycle by cycle, with blocking FIFOs of `depths` per edge: a node runs an iteration when every
    word it reads is there and every FIFO it writes has room (writes land at the end of the cycle,
    space freed by a read in the same cycle is not seen by a writer: the DMA, then the nodes in
    order). The DMA pushes one word per cycle (word i of frame f not before f * period + i when
    `period` is given); the last node's outputs drain at once. Returns the cycle each iteration of
    each node started in ("input": each word the DMA pushed), or None when nothing moves for
    `patience` cycles (a deadlock)."""
    into = {(e[2], e[3]): k for k, e in enumerate(edges)}  # edges by number
    out_of = {(e[0], e[1]): k for k, e in enumerate(edges)}
    depth = [depths[e] for e in edges]
    fill = [0] * len(edges)
    done = [0] * len(nodes)
    starts = {n.name: [] for n in nodes} | {"input": []}
    first = out_of[("input", 0)]
    # per node, per iteration of a frame: the edges it reads a word from and writes one to
    reads_at = [[tuple(into[(n.name, p)] for p, r in enumerate(n.reads) if r[it]) for it in range(n.iterations)] for n in nodes]
    writes_at = [[tuple(out_of[(n.name, p)] for p, w in enumerate(n.writes) if w[it] and (n.name, p) in out_of)
                  for it in range(n.iterations)] for n in nodes]
    total = [frames * n.iterations for n in nodes]
    times = [starts[n.name] for n in nodes]
    t, idle = 0, 0
    while done[-1] < total[-1]:
        pending = [0] * len(edges)
        fed = len(starts["input"])
        offered = fed < frames * input_words and (period is None or t >= (fed // input_words) * period + fed % input_words)
        moved = offered and fill[first] < depth[first]
        if moved:
            pending[first] += 1
            starts["input"].append(t)
        for i, node in enumerate(nodes):
            if done[i] >= total[i]:
                continue
            it = done[i] % node.iterations
            ins, outs = reads_at[i][it], writes_at[i][it]
            if not all([fill[e] for e in ins]) or any([fill[e] + pending[e] >= depth[e] for e in outs]):
                continue
            for e in ins:
                fill[e] -= 1
            for e in outs:
                pending[e] += 1
            done[i] += 1
            times[i].append(t)
            moved = True
        fill = [f + p for f, p in zip(fill, pending)]  # the cycle's writes land
        idle = 0 if moved else idle + 1
        if idle > patience:
            return None
        t += 1
    return {name: np.array(times) for name, times in starts.items()}


CHAINS = {
    "burst": [mvau("MVAU_0", 16, 8, 4, 1), mvau("MVAU_1", 8, 16, 1, 4)],  # bursty writer into a slow reader
    "three": [mvau("MVAU_0", 12, 12, 12, 2), mvau("MVAU_1", 12, 6, 3, 6), mvau("MVAU_2", 6, 6, 1, 1)],
    "dwc": [mvau("MVAU_0", 8, 32, 8, 1), mvau("MVAU_1", 32, 4, 8, 4)],  # a DWC between
    # the sliding-window schedules (swg.hpp, maxpool.hpp: line-buffer blocks reading rows while walking windows)
    "swg": [SWG("SWG_0", 8, 8, 4, 3, 3, 1, 1, (1, 1, 1, 1), 2, U(2)), mvau("MVAU_0", 36, 8, 6, 2, vectors=64)],  # padded, a DWC 2 -> 6
    "swg-strided": [SWG("SWG_0", 9, 7, 2, 3, 3, 2, 2, (1, 1, 0, 0), 1, U(2)), mvau("MVAU_0", 18, 4, 3, 4, vectors=4 * 3)],
    "pool": [mvau("MVAU_0", 4, 8, 2, 2, vectors=64), MaxPool("MaxPool_0", 8, 8, 8, 2, 2, 2, 2, (0, 0, 0, 0), 4, U(2)),
             SWG("SWG_0", 4, 4, 8, 3, 3, 1, 1, (0, 0, 0, 0), 8, U(2)), mvau("MVAU_1", 72, 4, 8, 1, vectors=4)],
}


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_sized_fifos_sustain_the_bottleneck(name):
    graph = chain(CHAINS[name])
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


def residual(fast_shortcut: bool):
    """input -> fork -> [MVAU 16x16 (SIMD = PE = 1: every input word read in the first 16 of 256
    iterations, outputs one per 16) -> Thresholding-like pass] -> join <- fork (shortcut)."""
    words = 16
    a = Node.of(mvau("MVAU_0", 16, 16, 1, 1))
    every = np.ones(words, bool)
    b = Node("pass", (every,), (every,))
    nodes = [fork("fork", words), a, b, join("join", words)]
    edges = [("input", 0, "fork", 0), ("fork", 0, "MVAU_0", 0), ("MVAU_0", 0, "pass", 0), ("pass", 0, "join", 0),
             ("fork", 1, "join", 1)]
    if not fast_shortcut:  # the shortcut through a pass-through node too
        nodes.insert(3, Node("pass2", (every,), (every,)))
        edges[-1:] = [("fork", 1, "pass2", 0), ("pass2", 0, "join", 1)]
    return nodes, edges, words


@pytest.mark.parametrize("fast_shortcut", [True, False], ids=["bare-shortcut", "shortcut-through-a-node"])
def test_branching_graph_sustains_the_bottleneck_and_needs_its_shortcut_fifo(fast_shortcut):
    """A residual block: the shortcut must hold the words the long branch has not consumed yet. With
    the sized depths the blocking simulation runs at the bottleneck (the MVAU, 256 cycles a frame);
    with the shortcut FIFO at depth 2 it deadlocks (the fork stalls on the full shortcut, the MVAU
    waits for words of its first fold, the join for the MVAU) - FINN's classic residual deadlock."""
    nodes, edges, words = residual(fast_shortcut)
    depths = size_streams(nodes, edges, words)
    assert simulate_streams(nodes, edges, depths, words) == 256
    shortcut = next(e for e in edges if e[2] == "join" and e[3] == 1)
    assert depths[shortcut] >= words - 2  # about a frame of words waits there
    starved = {**depths, shortcut: 2}
    assert simulate_streams(nodes, edges, starved, words) is None


def test_branch_sizing_rejects_bad_graphs():
    nodes, edges, words = residual(True)
    with pytest.raises(ValueError, match="node 'join': input port 1 has no producer before it"):
        size_streams(nodes, edges[:-1], words)
    with pytest.raises(ValueError, match="node 'MVAU_0': port 0 reads 16 words per frame, 'fork' writes 8"):
        size_streams([fork("fork", 8)] + nodes[1:], edges, 8)


# --- the blocking model (run_blocking) and shallow FIFOs (shrink_streams / shrink_fifos)

def slow_reader(name, words, every):
    """Reads one word every `every` iterations and writes it on: a consumer with a lot of slack."""
    it = np.arange(words * every)
    return Node(name, (it % every == 0,), (it % every == every - 1,))




def as_streams(graph):
    nodes, edges = chain_streams(graph)
    input_words = graph.input.elems // graph.layers[0].in_elems
    return nodes, edges, input_words, max([n.iterations for n in nodes] + [input_words])


@pytest.mark.parametrize("name", sorted(CHAINS))
@pytest.mark.parametrize("depth", [1, 2, 3, 5, None], ids=lambda d: f"depth{d}" if d else "sized")
def test_blocking_model_is_the_cycle_simulation(name, depth):
    """run_blocking's start cycles equal a cycle-by-cycle simulation's, iteration for iteration, with
    FIFOs of every depth from 1 (everything stalls) to the never-blocking ones."""
    nodes, edges, input_words, period = as_streams(chain(CHAINS[name]))
    sized = size_streams(nodes, edges, input_words)
    depths = sized if depth is None else {e: depth for e in edges}
    model = run_blocking(nodes, edges, depths, input_words, period, frames=4)
    simulated = simulate_starts(nodes, edges, depths, input_words, frames=4, period=period)
    assert model is not None and set(model) == set(simulated)
    for node in model:
        np.testing.assert_array_equal(model[node], simulated[node], err_msg=node)


def test_blocking_model_sees_the_residual_deadlock():
    nodes, edges, words = residual(True)
    depths = size_streams(nodes, edges, words)
    shortcut = next(e for e in edges if e[2] == "join" and e[3] == 1)
    model = run_blocking(nodes, edges, depths, words, 256, frames=4)
    simulated = simulate_starts(nodes, edges, depths, words, frames=4, period=256)
    for node in model:
        np.testing.assert_array_equal(model[node], simulated[node], err_msg=node)
    assert run_blocking(nodes, edges, {**depths, shortcut: 2}, words, 256, frames=4) is None


def slow_readers():
    """The DMA (a word a cycle) into a node reading one word in 2, then one reading one in 4."""
    nodes = [slow_reader("A", 16, 2), slow_reader("B", 16, 4), slow_reader("C", 16, 1)]
    return nodes, [("input", 0, "A", 0), ("A", 0, "B", 0), ("B", 0, "C", 0)], 16, 64


def deep_burst():
    """A node writing a word every 2 cycles into an MVAU that reads 64 words in a burst, then computes
    3 more neuron folds: the FIFO must hold half a burst ahead (more than shift registers do)."""
    nodes = [slow_reader("P", 64, 2), Node.of(mvau("MVAU_0", 64, 4, 1, 1))]
    return nodes, [("input", 0, "P", 0), ("P", 0, "MVAU_0", 0)], 64, 256


STREAMS = {name: (lambda layers=layers: as_streams(chain(layers))) for name, layers in CHAINS.items()}
STREAMS |= {"slow-readers": slow_readers, "deep-burst": deep_burst,
            "residual": lambda: (*residual(True), 256), "residual-through-a-node": lambda: (*residual(False), 256)}


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_shallow_fifos_keep_every_output_cycle(name):
    """The shrunk depths are never deeper than the never-blocking ones, and with them the cycle-by-cycle
    simulation starts every iteration of the last node on the same cycle over 8 frames (twice the
    frames the shrinking looked at): same throughput, same latency."""
    nodes, edges, input_words, period = STREAMS[name]()
    sized = size_streams(nodes, edges, input_words)
    shallow = shrink_streams(nodes, edges, sized, {e: 8 for e in edges}, input_words)
    assert all(shallow[e] <= sized[e] for e in edges), (shallow, sized)
    before = simulate_starts(nodes, edges, sized, input_words, frames=8, period=period)
    after = simulate_starts(nodes, edges, shallow, input_words, frames=8, period=period)
    np.testing.assert_array_equal(after[nodes[-1].name], before[nodes[-1].name])
    if name == "slow-readers":  # the FIFOs into the slow readers fill up unless their producers wait: they can
        assert sized[edges[0]] > MIN_DEPTH and sized[edges[1]] > MIN_DEPTH
        assert shallow[edges[0]] == MIN_DEPTH and shallow[edges[1]] == MIN_DEPTH


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_cheaper_fifos_would_move_the_output(name):
    """What shrinking refuses: on every edge it left deeper than 2, the deepest FIFO of the next lower
    cost (resource_model.fifo) delays the output in the cycle-by-cycle simulation, or deadlocks it
    (a residual block's shortcut)."""
    nodes, edges, input_words, period = STREAMS[name]()
    sized = size_streams(nodes, edges, input_words)
    shallow = shrink_streams(nodes, edges, sized, {e: 8 for e in edges}, input_words)
    kept = [e for e in edges if shallow[e] > MIN_DEPTH]
    assert kept or name not in ("burst", "deep-burst", "residual", "residual-through-a-node", "swg", "pool")  # these need depth somewhere
    before = simulate_starts(nodes, edges, sized, input_words, frames=8, period=period)
    for e in kept:
        cost = fifo(8, shallow[e]).as_dict()
        cheaper = max(d for d in range(1, shallow[e]) if fifo(8, d).as_dict() != cost)
        tighter = simulate_starts(nodes, edges, {**shallow, e: cheaper}, input_words, frames=8, period=period)
        assert tighter is None or (tighter[nodes[-1].name] > before[nodes[-1].name]).any(), (e, cheaper, shallow[e])  # None: deadlock


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_latest_starts_bound_every_schedule_that_keeps_the_output(name):
    """BlockingModel.latest, with which shrinking rejects a trial early: no iteration of any node starts
    later than it says in a cycle-by-cycle simulation whose output keeps the deadline (never-blocking
    and shallow depths), branching graphs included."""
    nodes, edges, input_words, period = STREAMS[name]()
    sized = size_streams(nodes, edges, input_words)
    shallow = shrink_streams(nodes, edges, sized, {e: 8 for e in edges}, input_words)
    model = BlockingModel(nodes, edges, input_words, period, frames=4)
    latest = model.latest(model.run(sized)[nodes[-1].name])
    for depths in (sized, shallow):
        simulated = simulate_starts(nodes, edges, depths, input_words, frames=4, period=period)
        for node, starts in simulated.items():
            assert (starts <= latest[node]).all(), node


def test_shrinking_rejects_deadlocking_depths():
    nodes, edges, words = residual(True)
    shortcut = next(e for e in edges if e[2] == "join" and e[3] == 1)
    depths = {**size_streams(nodes, edges, words), shortcut: 2}
    with pytest.raises(ValueError, match="deadlock"):
        shrink_streams(nodes, edges, depths, {e: 8 for e in edges}, words)


# --- a CNV-sized design: FINN's CNV-W1A1 layers (tests/conftest.cnv_w1a1) with hwgen's folding for kv260

@pytest.fixture(scope="module")
def cnv_streams():
    """CNV-W1A1 auto-folded for kv260 as nodes and edges; its never-blocking and its shallow FIFO depths."""
    from hwgen.boards import load_board
    from hwgen.fold import auto_fold
    from hwgen.ir.graph import stream_widths
    from tests.conftest import cnv_w1a1

    graph = auto_fold(cnv_w1a1(), load_board("kv260"), 100.0)
    nodes, edges, input_words, period = as_streams(graph)
    width = {e: stream_widths(graph)[e[0]] for e in edges}
    sized = size_streams(nodes, edges, input_words)
    return nodes, edges, input_words, period, width, sized, shrink_streams(nodes, edges, sized, width, input_words)


def test_cnv_fifos_against_the_cycle_simulation(cnv_streams):
    """With the never-blocking and with the shallow depths, the blocking model starts every iteration of
    every node (SWGs, MaxPools, DWCs, MVAUs) on the cycle the cycle-by-cycle simulation does, and the
    last node's iterations start on the same cycles with both: 3 frames, ~130,000 loop iterations each."""
    nodes, edges, input_words, period, _, sized, shallow = cnv_streams
    assert any(shallow[e] < sized[e] for e in edges)  # shrinking changed something to check
    outputs = []
    for depths in (sized, shallow):
        model = run_blocking(nodes, edges, depths, input_words, period, frames=3)
        simulated = simulate_starts(nodes, edges, depths, input_words, frames=3, period=period)
        assert model is not None and set(model) == set(simulated)
        for node in model:
            np.testing.assert_array_equal(model[node], simulated[node], err_msg=node)
        outputs.append(simulated[nodes[-1].name])
    np.testing.assert_array_equal(outputs[1], outputs[0])


@pytest.mark.slow
def test_cnv_cheaper_fifos_would_move_the_output(cnv_streams):
    """Over 6 frames (more than the 4 shrinking looked at) the shallow depths keep every output cycle in
    the cycle-by-cycle simulation; on every edge shrinking left deeper than 2, the deepest FIFO of the
    next lower cost delays the output within the first 4 frames. (One word less than the shallow depth
    mostly costs the same - it is the deepest of its cost level - and often keeps the output too.)"""
    nodes, edges, input_words, period, width, sized, shallow = cnv_streams
    last = nodes[-1].name
    before = simulate_starts(nodes, edges, sized, input_words, frames=6, period=period)[last]
    np.testing.assert_array_equal(simulate_starts(nodes, edges, shallow, input_words, frames=6, period=period)[last], before)
    kept = [e for e in edges if shallow[e] > MIN_DEPTH]
    assert kept
    for e in kept:
        cost = fifo(width[e], shallow[e]).as_dict()
        cheaper = max(d for d in range(1, shallow[e]) if fifo(width[e], d).as_dict() != cost)
        tighter = simulate_starts(nodes, edges, {**shallow, e: cheaper}, input_words, frames=4, period=period)
        assert tighter is None or (tighter[last] > before[:len(tighter[last])]).any(), (e, cheaper, shallow[e])
