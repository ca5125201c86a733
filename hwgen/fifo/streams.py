"""The token-level model of the streaming pipeline, iteration by iteration: the reference that
hwgen.fifo.events computes faster (and the tests hold it to).

Every layer is one pipelined loop at II=1 whose iterations read and write stream words on a
fixed schedule, its kind's `schedule` (hwgen.kinds: an MVAU reads its input words during the first neuron fold and writes one word
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

Those depths are then shrunk (shrink_streams / shrink_fifos): with blocking FIFOs a producer that
finds its FIFO full waits, which costs nothing while it has slack. run_blocking computes that
schedule exactly (a cycle-by-cycle simulation in the tests agrees on every iteration), and each
FIFO is made as cheap as it can be without the output moving by a cycle.
"""


from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from hwgen.kinds import kind_of

MIN_DEPTH = 2
SIMULATED_FRAMES = 3


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
        s = kind_of(layer).schedule(layer)
        return Node(layer.name, (s.reads,), (s.writes,))


class Edge(NamedTuple):
    """A stream between two nodes; producer "input": the DMA."""

    src: str  # producer
    src_port: int  # its output port
    dst: str  # consumer
    dst_port: int  # its input port


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
    arrival_of = {("input", 0): _offered(input_words, period, frames)}
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



# --- Shrinking: the never-blocking depths above hold every word a fast producer sends ahead; most
# producers have slack (every layer but the bottleneck idles part of each period), so they can be
# made to wait on a shallower FIFO without the output moving by a cycle.

class BlockingModel:
    """A streaming graph with blocking FIFOs, its per-iteration bookkeeping set up once (run it for
    many depth settings: shrink_streams does).

    run(depths) gives the start cycle of every iteration of every node (and of every word the DMA
    sends, "input"): iteration k starts at the earliest cycle after iteration k-1 where every word
    it reads was written in an earlier cycle and every FIFO it writes has room, i.e. the word
    `depth` places ahead was read in an earlier cycle (a full pipeline stall, as HLS's blocking
    stream writes do). The DMA offers word i of frame f from cycle f * period + i; writes to a port
    without an edge (the output) never block.
    """

    def __init__(self, nodes: list[Node], edges: list[Edge], input_words: int, period: int, frames: int = SIMULATED_FRAMES):
        source = Node("input", (), (np.ones(input_words, bool),))
        self.order = [source] + list(nodes)
        self.out_of, self.into = {(e[0], e[1]): e for e in edges}, {(e[2], e[3]): e for e in edges}
        self.idx = {n.name: {} for n in self.order}  # per node, per edge: which of its iterations write / read it
        self.neighbours = {n.name: set() for n in self.order}
        for e in edges:
            self.neighbours[e[0]].add(e[2])
            self.neighbours[e[2]].add(e[0])
        for n in self.order:
            for port, reads in enumerate(n.reads):
                self.idx[n.name][self.into[(n.name, port)]] = np.flatnonzero(np.tile(reads, frames))
            for port, writes in enumerate(n.writes):
                if (n.name, port) in self.out_of:
                    self.idx[n.name][self.out_of[(n.name, port)]] = np.flatnonzero(np.tile(writes, frames))
        self.k = {n.name: np.arange(n.iterations * frames, dtype=np.int64) for n in self.order}
        self.offered = _offered(input_words, period, frames)
        self.bound = frames * period + frames * sum(n.iterations for n in self.order) + 1  # every stalled cycle, one of them moves

    def latest(self, deadline: np.ndarray) -> dict[str, np.ndarray]:
        """The latest cycle each iteration of each node can start for the last node to start none of
        its iterations after `deadline`: iterations run in order, one a cycle, and a word is read a
        cycle after it is written, whatever the FIFOs (which only add constraints, so with any depths
        a schedule meeting `deadline` starts no iteration later than this)."""
        latest = {self.order[-1].name: deadline}
        for n in self.order[-2::-1]:
            bound = np.full(len(self.k[n.name]), np.iinfo(np.int64).max // 2, dtype=np.int64)
            for port in range(len(n.writes)):
                e = self.out_of.get((n.name, port))
                if e is not None:
                    mine = self.idx[n.name][e]
                    bound[mine] = np.minimum(bound[mine], latest[e[2]][self.idx[e[2]][e]] - 1)
            k = self.k[n.name]
            latest[n.name] = k + np.minimum.accumulate((bound - k)[::-1])[::-1]
        return latest

    def run(self, depths: dict[Edge, int], latest: dict[str, np.ndarray] | None = None, start: dict[str, np.ndarray] | None = None,
            max_sweeps: int | None = None, touched: set[str] | None = None) -> dict[str, np.ndarray] | None:
        """The schedule with FIFOs of `depths`: the least solution of the constraints above, found by
        sweeping the nodes forward and backward until nothing moves; a sweep recomputes only the
        nodes next to one that moved (the first sweep, with no read seen yet, is the unbounded
        schedule). Returns None on a deadlock (no finite solution: the sweeps never settle), or as
        soon as a node's starts exceed `latest` (BlockingModel.latest of the last node's deadline:
        times only grow from sweep to sweep, so the last node would miss its deadline).
        `start`: the schedule with FIFOs at least as deep, a lower bound to start from; `touched`:
        the nodes whose FIFOs are shallower than there (default: all). Where a producer and its
        consumer hold each other up word by word the sweeps settle a few words at a time; after
        `max_sweeps` None is returned, as for a deadlock."""
        order, k, idx = self.order, self.k, self.idx
        none = np.iinfo(np.int64).min // 2
        if start is None:
            start, dirty = {n.name: np.full(len(k[n.name]), none, dtype=np.int64) for n in order}, {n.name for n in order}
        else:
            start, dirty = dict(start), set(touched) if touched is not None else {n.name for n in order}
        for sweep in range(max_sweeps or self.bound):
            if not dirty:
                return start
            for n in (order if sweep % 2 == 0 else order[::-1]):  # forward, then backward: backpressure in one sweep
                if n.name not in dirty:
                    continue
                dirty.discard(n.name)
                ready = self.offered.copy() if n is order[0] else np.full(len(k[n.name]), none, dtype=np.int64)
                for port in range(len(n.reads)):
                    e = self.into[(n.name, port)]
                    mine, theirs = idx[n.name][e], idx[e[0]][e]
                    ready[mine] = np.maximum(ready[mine], start[e[0]][theirs] + 1)
                for port in range(len(n.writes)):
                    e = self.out_of.get((n.name, port))
                    if e is None:
                        continue
                    d, mine, theirs = depths[e], idx[n.name][e], idx[e[2]][e]
                    if len(mine) > d:
                        ready[mine[d:]] = np.maximum(ready[mine[d:]], start[e[2]][theirs[:-d]] + 1)
                new = k[n.name] + np.maximum.accumulate(ready - k[n.name])
                if np.array_equal(new, start[n.name]):
                    continue
                start[n.name] = new
                dirty |= self.neighbours[n.name]
                if new[-1] > self.bound:
                    return None
                if latest is not None and (new > latest[n.name]).any():
                    return None
        return None

    def dma_waits(self, schedule: dict, depth: int) -> dict | None:
        """`schedule` with the DMA's FIFO `depth` deep, if its consumer still gets every word by the
        cycle it reads it there (then nothing but the DMA moves); else None. The DMA has nothing
        upstream, so this is exact without run's sweeps: word j leaves at the earliest cycle after
        word j-1 that it is offered and word j-depth has been read."""
        e = self.out_of[("input", 0)]
        reads = schedule[e[2]][self.idx[e[2]][e]]
        ready = self.offered.copy()
        ready[depth:] = np.maximum(ready[depth:], reads[:-depth] + 1)
        sent = self.k["input"] + np.maximum.accumulate(ready - self.k["input"])
        return {**schedule, "input": sent} if (sent + 1 <= reads).all() else None


def run_blocking(nodes: list[Node], edges: list[Edge], depths: dict[Edge, int], input_words: int, period: int,
                 frames: int = SIMULATED_FRAMES, **options) -> dict[str, np.ndarray] | None:
    """BlockingModel(nodes, edges, input_words, period, frames).run(depths, **options)."""
    return BlockingModel(nodes, edges, input_words, period, frames).run(depths, **options)


def _offered(input_words: int, period: int, frames: int) -> np.ndarray:
    """The cycle from which the DMA offers each word: word i of frame f at f * period + i."""
    return (np.arange(frames)[:, None] * period + np.arange(input_words)[None, :]).reshape(-1)

