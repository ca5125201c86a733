"""FIFO sizing without RTL simulation: a token-level model of the streaming pipeline.

Every layer is one pipelined loop at II=1 whose iterations read and write stream words on a
fixed schedule (an MVAU reads its input words during the first neuron fold and writes one word
per SF iterations; a DWC reads one word per RATIO iterations or writes one; ...). With input
frames arriving once per bottleneck period T (the rate the pipeline sustains) and unbounded
FIFOs, iteration k of a layer starts at
    t[k] = max(t[k-1] + 1, arrival of the word it reads + 1)  =  k + cummax(arrival[k] + 1 - k),
a cumulative maximum numpy computes at once; a layer reading several streams (where branches join)
waits for the latest of its words. The largest number of words waiting on an edge over a few
frames is the depth that never blocks the producer: with it every layer runs exactly as in this
schedule, so the pipeline sustains one frame per T and cannot deadlock, also where a short branch
must hold the words a long branch has not yet consumed (size_streams; hwgen's own layers form
chains today, size_fifos).
Cost: O(iterations) numpy per layer, milliseconds to seconds for CNV-sized networks.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import singledispatch

import numpy as np

from hwgen.estimate.cycle_model import cycles, window_blocks
from hwgen.ir.graph import DataflowGraph
from hwgen.ir.layers import DWC, MVAU, SWG, MaxPool, Thresholding

MIN_DEPTH = 2
SIMULATED_FRAMES = 3


@dataclass(frozen=True)
class Schedule:
    """One frame of a layer's loop: which iterations read a word and which write one."""

    reads: np.ndarray  # bool per iteration
    writes: np.ndarray


@singledispatch
def schedule(layer) -> Schedule:
    raise NotImplementedError(f"no stream schedule for layer kind {type(layer).__name__}")


@schedule.register
def _(layer: MVAU) -> Schedule:
    sf, nf = layer.mw // layer.simd, layer.mh // layer.pe
    it = np.arange(layer.vectors * nf * sf)
    return Schedule(reads=(it // sf) % nf == 0, writes=it % sf == sf - 1)


@schedule.register
def _(layer: Thresholding) -> Schedule:
    n = cycles(layer)
    return Schedule(np.ones(n, bool), np.ones(n, bool))


@schedule.register
def _(layer: DWC) -> Schedule:
    n = cycles(layer)
    it = np.arange(n)
    if layer.in_elems > layer.out_elems:  # split: one wide read, then RATIO narrow writes
        ratio = layer.in_elems // layer.out_elems
        return Schedule(it % ratio == 0, np.ones(n, bool))
    ratio = layer.out_elems // layer.in_elems
    return Schedule(np.ones(n, bool), it % ratio == ratio - 1)


def _window_schedule(layer: SWG | MaxPool, window_elems: int) -> Schedule:
    """swg.hpp / maxpool.hpp: block -1 only reads; block oy reads its first `reads` iterations and
    walks windows in its first `ops`, writing a word every `window_elems` of them."""
    reads, ops = window_blocks(layer)
    lengths = np.concatenate([reads[:1], np.maximum(reads[1:], ops)])
    keep = lengths > 0  # a block -1 without rows is skipped
    reads, lengths, is_window = reads[keep], lengths[keep], np.arange(len(keep))[keep] > 0
    it = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)  # iteration within its block
    in_window = np.repeat(is_window, lengths) & (it < ops)
    return Schedule(reads=it < np.repeat(reads, lengths), writes=in_window & (it % window_elems == window_elems - 1))


@schedule.register
def _(layer: SWG) -> Schedule:
    return _window_schedule(layer, 1)


@schedule.register
def _(layer: MaxPool) -> Schedule:
    return _window_schedule(layer, layer.k_h * layer.k_w)


@dataclass(frozen=True)
class Node:
    """A process of a streaming graph, for FIFO sizing: per iteration of its loop, which of its input
    ports it reads a word from and which of its output ports it writes one to (one frame)."""

    name: str
    reads: tuple[np.ndarray, ...]  # per input port: bool per iteration
    writes: tuple[np.ndarray, ...]  # per output port

    def __post_init__(self) -> None:
        lengths = {len(a) for a in self.reads + self.writes}
        if len(lengths) != 1:
            raise ValueError(f"node {self.name!r}: its ports' schedules must cover the same iterations, not {sorted(lengths)}")

    @property
    def iterations(self) -> int:
        return len((self.reads + self.writes)[0])

    @staticmethod
    def of(layer) -> "Node":
        s = schedule(layer)
        return Node(layer.name, (s.reads,), (s.writes,))


def fork(name: str, words: int, ways: int = 2) -> Node:
    """A stream duplicator: every iteration reads a word and writes it to each of `ways` outputs."""
    every = np.ones(words, bool)
    return Node(name, (every,), (every,) * ways)


def join(name: str, words: int, ways: int = 2) -> Node:
    """Element-wise addition (or concatenation) of aligned streams: every iteration reads a word of
    each of `ways` inputs and writes one."""
    every = np.ones(words, bool)
    return Node(name, (every,) * ways, (every,))


Edge = tuple  # (producer, its output port, consumer, its input port); producer "input": the DMA


def size_streams(nodes: list[Node], edges: list[Edge], input_words: int, period: int | None = None,
                 frames: int = SIMULATED_FRAMES) -> dict[Edge, int]:
    """FIFO depth of every edge of a streaming graph (chains and branching graphs alike).

    `nodes` in topological order; frames enter at one word per cycle, one frame every `period`
    cycles (default: the slowest node's iterations or the input's words). Each iteration starts as
    soon as the previous one has and every word it reads has arrived (the cumulative maximum of the
    module docstring, over all input ports); an edge's depth is the most words ever waiting on it.
    With those depths no write ever blocks, so every node runs exactly this schedule: one frame per
    period and no deadlock, also where branches of different latency meet.
    """
    period = period or max([n.iterations for n in nodes] + [input_words])
    arrival_of = {("input", 0): (np.arange(frames)[:, None] * period + np.arange(input_words)[None, :]).reshape(-1)}
    feeds = {(e[2], e[3]): e for e in edges}
    depths = {}
    for node in nodes:
        k = np.arange(node.iterations * frames, dtype=np.int64)
        ready = np.full(len(k), np.iinfo(np.int64).min // 2, dtype=np.int64)
        port_reads = []
        for port, reads in enumerate(node.reads):
            edge = feeds.get((node.name, port))
            if edge is None or (edge[0], edge[1]) not in arrival_of:
                raise ValueError(f"node {node.name!r}: input port {port} has no producer before it (nodes must be in topological order)")
            arrivals, tiled = arrival_of[(edge[0], edge[1])], np.tile(reads, frames)
            if len(arrivals) != tiled.sum():
                raise ValueError(f"node {node.name!r}: port {port} reads {tiled.sum() // frames} words per frame, "
                                 f"{edge[0]!r} writes {len(arrivals) // frames}")
            ready[tiled] = np.maximum(ready[tiled], arrivals + 1)
            port_reads.append((edge, arrivals, tiled))
        start = k + np.maximum.accumulate(ready - k)
        for edge, arrivals, tiled in port_reads:
            depths[edge] = max(MIN_DEPTH, _peak_occupancy(arrivals, start[tiled]))
        for port, writes in enumerate(node.writes):
            arrival_of[(node.name, port)] = start[np.tile(writes, frames)] + 1
    return depths


def _peak_occupancy(write_times: np.ndarray, read_times: np.ndarray) -> int:
    """Most words ever waiting: at each write, words written so far minus words read so far."""
    written = np.arange(1, len(write_times) + 1)
    read = np.searchsorted(np.sort(read_times), write_times, side="right")
    return int((written - read).max(initial=0))


def chain_streams(graph: DataflowGraph) -> tuple[list[Node], list[Edge]]:
    """A chain of layers as nodes and edges: the input feeds the first layer, each layer the next."""
    nodes = [Node.of(layer) for layer in graph.layers]
    names = ["input"] + [n.name for n in nodes]
    return nodes, [(src, 0, dst, 0) for src, dst in zip(names[:-1], names[1:])]


def size_fifos(graph: DataflowGraph, input_words: int, period: int | None = None) -> dict[str, int]:
    """FIFO depth for the stream each layer writes (keyed by that layer's name, and "input").

    `input_words`: words per frame the DMA delivers (one per cycle); `period`: cycles per frame
    the pipeline is run at (default: its bottleneck).
    """
    nodes, edges = chain_streams(graph)
    depths = {src: depth for (src, _, _, _), depth in size_streams(nodes, edges, input_words, period).items()}
    depths[graph.layers[-1].name] = MIN_DEPTH  # the output stream: the DMA drains it as fast as it comes
    return depths
