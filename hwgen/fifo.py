"""FIFO sizing without RTL simulation: a token-level model of the streaming pipeline.

Every layer is one pipelined loop at II=1 whose iterations read and write stream words on a
fixed schedule (an MVAU reads its input words during the first neuron fold and writes one word
per SF iterations; a DWC reads one word per RATIO iterations or writes one; ...). With input
frames arriving once per bottleneck period T (the rate the pipeline sustains) and unbounded
FIFOs, iteration k of a layer starts at
    t[k] = max(t[k-1] + 1, arrival of the word it reads + 1)  =  k + cummax(arrival[k] + 1 - k),
a cumulative maximum numpy computes at once. The largest number of words waiting on an edge over
a few frames is the depth that never blocks the producer: with it every layer runs exactly as in
this schedule, so the pipeline sustains one frame per T and, in a chain, cannot deadlock.
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


def _run(sched: Schedule, arrivals: np.ndarray, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Start times of the reads and the write times of a layer fed words arriving at `arrivals`."""
    reads = np.tile(sched.reads, frames)
    writes = np.tile(sched.writes, frames)
    k = np.arange(len(reads), dtype=np.int64)
    ready = np.full(len(reads), np.iinfo(np.int64).min // 2, dtype=np.int64)
    ready[reads] = arrivals + 1
    start = k + np.maximum.accumulate(ready - k)
    return start[reads], start[writes] + 1


def _peak_occupancy(write_times: np.ndarray, read_times: np.ndarray) -> int:
    """Most words ever waiting: at each write, words written so far minus words read so far."""
    written = np.arange(1, len(write_times) + 1)
    read = np.searchsorted(np.sort(read_times), write_times, side="right")
    return int((written - read).max(initial=0))


def size_fifos(graph: DataflowGraph, input_words: int, period: int | None = None) -> dict[str, int]:
    """FIFO depth for the stream each layer writes (keyed by that layer's name, and "input").

    `input_words`: words per frame the DMA delivers (one per cycle); `period`: cycles per frame
    the pipeline is run at (default: its bottleneck).
    """
    period = period or max([cycles(l) for l in graph.layers] + [input_words])
    frames = SIMULATED_FRAMES
    arrivals = (np.arange(frames)[:, None] * period + np.arange(input_words)[None, :]).reshape(-1)
    depths, producer = {}, "input"
    for layer in graph.layers:
        reads, writes = _run(schedule(layer), arrivals, frames)
        depths[producer] = max(MIN_DEPTH, _peak_occupancy(arrivals, reads))
        arrivals, producer = writes, layer.name
    depths[producer] = MIN_DEPTH  # the output stream: the DMA drains it as fast as it comes
    return depths
