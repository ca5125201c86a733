"""FIFO sizing: a cycle-by-cycle simulation with finite FIFOs runs at the bottleneck's pace with the
sized depths, and slower with depth-1 FIFOs where the sizing asked for more."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen.datatypes import DataType
from hwgen.estimate import cycles
from hwgen.fifo import Node, chain_streams, fork, join, schedule, size_fifos, size_streams
from hwgen.ir.layers import MVAU
from tests.conftest import chain

U = DataType.uint


def mvau(name, mw, mh, simd, pe):
    w = np.ones((mh, mw), dtype=np.int64)
    acc = DataType.smallest(0, mw * 3 + 1)
    thresholds = np.tile(np.array([1, 2, 3]), (mh, 1))
    return MVAU(name, mw, mh, simd, pe, U(2), U(1), acc, U(2), w, thresholds, 0)


def simulate_period(graph, depths, input_words, frames=6):
    """A chain with blocking FIFOs of `depths` (keyed by producer); the cycles between the last two frames' ends."""
    nodes, edges = chain_streams(graph)
    return simulate_streams(nodes, edges, {e: depths[e[0]] for e in edges}, input_words, frames)


def simulate_streams(nodes, edges, depths, input_words, frames=6, patience=10_000):
    """Cycle by cycle, with blocking FIFOs of `depths` per edge: a node runs an iteration when every
    word it reads is there and every FIFO it writes has room (writes land at the end of the cycle,
    space freed by a read in the same cycle is not seen by the writer, nodes in order). The DMA
    pushes one word per cycle; the last node's outputs drain at once. Returns the cycles between the
    last two frames' ends, or None when nothing moves for `patience` cycles (a deadlock)."""
    into = {(e[2], e[3]): e for e in edges}
    out_of = {(e[0], e[1]): e for e in edges}
    fill = {e: 0 for e in edges}
    done = [0] * len(nodes)
    fed, t, idle, finished = 0, 0, 0, []
    last = nodes[-1]
    while len(finished) < frames:
        pending = {e: 0 for e in edges}
        moved = False
        for i, node in enumerate(nodes):
            if done[i] >= frames * node.iterations:
                continue
            it = done[i] % node.iterations
            ins = [into[(node.name, p)] for p, r in enumerate(node.reads) if r[it]]
            outs = [out_of[(node.name, p)] for p, w in enumerate(node.writes) if w[it] and (node.name, p) in out_of]
            if any(fill[e] == 0 for e in ins) or any(fill[e] + pending[e] >= depths[e] for e in outs):
                continue
            for e in ins:
                fill[e] -= 1
            for e in outs:
                pending[e] += 1
            done[i] += 1
            moved = True
            if node is last and done[i] % node.iterations == 0:
                finished.append(t)
        first = out_of[("input", 0)]
        if fed < frames * input_words and fill[first] + pending[first] < depths[first]:
            pending[first] += 1
            fed += 1
            moved = True
        for e in edges:
            fill[e] += pending[e]
        idle = 0 if moved else idle + 1
        if idle > patience:
            return None
        t += 1
    return finished[-1] - finished[-2]


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
