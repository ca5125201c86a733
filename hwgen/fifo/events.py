"""The FIFO model of hwgen.fifo.streams, event by event: the same start cycles and depths, computed
over only the loop iterations that read or write a word (the events), and after a change only from
the first event it reaches.

Exact, not an approximation: an iteration that reads and writes nothing has no constraint of its own
(t[k] = t[k-1] + 1), so over the events
    t[e] = k[e] + cummax(ready[e] - k[e])      (k[e]: the loop iteration of event e)
gives every event the cycle the iteration-level recurrence gives it, and the other iterations
follow the event before them. A node whose neighbours moved from some word on keeps its starts
before the first event that word reaches (a cumulative maximum is decided by its prefix), so run
re-computes each node from there: the sweeps, their order and their outcome are BlockingModel.run's,
at a fraction of the cost where a change reaches only the later part of the simulated frames. The
tests hold both to each other on random chains and to the cycle-by-cycle simulation.
"""

from __future__ import annotations

import numpy as np

from hwgen.fifo.streams import MIN_DEPTH, SIMULATED_FRAMES, Edge, Node, _offered

NONE = np.iinfo(np.int64).min // 2  # "no constraint yet"
NEVER = np.iinfo(np.int64).max // 2


def events(node: Node, frames: int) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """The loop iterations of `frames` frames of `node` that read or write a word, ascending; per input
    and per output port, the positions among them of the iterations reading / writing it."""
    busy = np.zeros(node.iterations, bool)
    for a in node.reads + node.writes:
        busy |= a
    mine = np.flatnonzero(busy)
    f = np.arange(frames, dtype=np.int64)[:, None]
    k = (f * node.iterations + mine[None, :]).reshape(-1)

    def positions(port: np.ndarray) -> np.ndarray:
        return (f * len(mine) + np.flatnonzero(port[mine])[None, :]).reshape(-1)

    return k, [positions(r) for r in node.reads], [positions(w) for w in node.writes]


def peak_occupancy(write_times: np.ndarray, read_times: np.ndarray) -> int:
    """streams._peak_occupancy for read times in order (as a node's are)."""
    read = np.searchsorted(read_times, write_times, side="right")
    return int((np.arange(1, len(write_times) + 1) - read).max(initial=0))


def size_streams(nodes: list[Node], edges: list[Edge], input_words: int, period: int | None = None,
                 frames: int = SIMULATED_FRAMES) -> dict[Edge, int]:
    """streams.size_streams (never-blocking depths), over the events."""
    period = period or max([n.iterations for n in nodes] + [input_words])
    arrival_of = {("input", 0): _offered(input_words, period, frames)}
    feeds = {(e[2], e[3]): e for e in edges}
    depths = {}
    for node in nodes:
        k, reads, writes = events(node, frames)
        ready = np.full(len(k), NONE, dtype=np.int64)
        port_reads = []
        for port, pos in enumerate(reads):
            edge = feeds.get((node.name, port))
            if edge is None or (edge[0], edge[1]) not in arrival_of:
                raise ValueError(f"node {node.name!r}: input port {port} has no producer before it (nodes must be in topological order)")
            arrivals = arrival_of[(edge[0], edge[1])]
            if len(arrivals) != len(pos):
                raise ValueError(f"node {node.name!r}: port {port} reads {len(pos) // frames} words per frame, "
                                 f"{edge[0]!r} writes {len(arrivals) // frames}")
            ready[pos] = np.maximum(ready[pos], arrivals + 1)
            port_reads.append((edge, arrivals, pos))
        start = k + np.maximum.accumulate(ready - k)
        for edge, arrivals, pos in port_reads:
            depths[edge] = max(MIN_DEPTH, peak_occupancy(arrivals, start[pos]))
        for port, pos in enumerate(writes):
            arrival_of[(node.name, port)] = start[pos] + 1
    return depths


class EventModel:
    """BlockingModel over the events: run, latest and dma_waits give the start cycle of every event of
    every node ("input": every word the DMA sends), the cycles BlockingModel's give those iterations;
    the same arguments, the same None (a deadlock, a start past `latest`, `max_sweeps` used up)."""

    def __init__(self, nodes: list[Node], edges: list[Edge], input_words: int, period: int, frames: int = SIMULATED_FRAMES):
        source = Node("input", (), (np.ones(input_words, bool),))
        self.order = [source] + list(nodes)
        self.out_of, self.into = {(e[0], e[1]): e for e in edges}, {(e[2], e[3]): e for e in edges}
        self.k, self.at = {}, {}  # per node its events' iterations; per (node, edge) the positions of its reads / writes of it
        self.ins, self.outs = {}, {}
        for n in self.order:
            k, reads, writes = events(n, frames)
            self.k[n.name] = k
            self.ins[n.name] = [self.into[(n.name, port)] for port in range(len(reads))]
            self.outs[n.name] = [self.out_of[(n.name, port)] for port in range(len(writes)) if (n.name, port) in self.out_of]
            for e, pos in zip(self.ins[n.name], reads):
                self.at[(n.name, e)] = pos
            for port, pos in enumerate(writes):
                if (n.name, port) in self.out_of:
                    self.at[(n.name, self.out_of[(n.name, port)])] = pos
        self.offered = _offered(input_words, period, frames)
        self.bound = frames * period + frames * sum(n.iterations for n in self.order) + 1

    def latest(self, deadline: np.ndarray) -> dict[str, np.ndarray]:
        """BlockingModel.latest, over the events (`deadline`: the last node's events)."""
        latest = {self.order[-1].name: deadline}
        for n in self.order[-2::-1]:
            k = self.k[n.name]
            bound = np.full(len(k), NEVER, dtype=np.int64)
            for e in self.outs[n.name]:
                mine = self.at[(n.name, e)]
                bound[mine] = np.minimum(bound[mine], latest[e[2]][self.at[(e[2], e)]] - 1)
            latest[n.name] = k + np.minimum.accumulate((bound - k)[::-1])[::-1]
        return latest

    def run(self, depths: dict[Edge, int], latest: dict[str, np.ndarray] | None = None, start: dict[str, np.ndarray] | None = None,
            max_sweeps: int | None = None, touched: set[str] | None = None) -> dict[str, np.ndarray] | None:
        """BlockingModel.run over the events. A node is re-computed from `since`, the first of its events
        a neighbour's change reaches, in the sweeps BlockingModel.run re-computes it in."""
        order, k = self.order, self.k
        if start is None:
            start = {n.name: np.full(len(k[n.name]), NONE, dtype=np.int64) for n in order}
            since, owned = {n.name: 0 for n in order}, {n.name for n in order}
        else:
            names = touched if touched is not None else [n.name for n in order]
            start, since, owned = dict(start), {name: 0 for name in names}, set()
        for sweep in range(max_sweeps or self.bound):
            if not since:
                return start
            for n in (order if sweep % 2 == 0 else order[::-1]):
                name = n.name
                if name not in since:
                    continue
                i, kn = since.pop(name), k[name]
                if i >= len(kn):
                    continue
                new = self._starts(name, i, depths, start, n is order[0])
                changed = new != start[name][i:]
                c = int(changed.argmax())
                if not changed[c]:
                    continue
                if name not in owned:  # the schedule given stays as it was
                    start[name], owned = start[name].copy(), owned | {name}
                start[name][i + c:] = new[c:]
                if start[name][-1] > self.bound:
                    return None
                if latest is not None and (new[c:] > latest[name][i + c:]).any():
                    return None
                self._reach(since, name, i + c, depths, start)
        return None

    def _starts(self, name: str, i: int, depths: dict[Edge, int], start: dict[str, np.ndarray], source: bool) -> np.ndarray:
        """The start cycles of events i.. of node `name` for its neighbours' `start` (those before i are kept)."""
        k, at = self.k[name][i:], self.at
        ready = self.offered[i:].copy() if source else np.full(len(k), NONE, dtype=np.int64)
        fresh = not source  # nothing in `ready` yet
        for e in self.ins[name]:  # a word is read a cycle after it was written
            mine, theirs = at[(name, e)], at[(e[0], e)]
            j = int(np.searchsorted(mine, i))
            fresh = self._wait(ready, mine[j:] - i, start[e[0]][theirs[j:]], fresh)
        for e in self.outs[name]:  # word j is written a cycle after word j - depth was read
            d, mine, theirs = depths[e], at[(name, e)], at[(e[2], e)]
            j = max(d, int(np.searchsorted(mine, i)))
            if j < len(mine):
                fresh = self._wait(ready, mine[j:] - i, start[e[2]][theirs[j - d:len(theirs) - d]], fresh)
        ready -= k
        if i > 0:
            ready[0] = max(ready[0], int(start[name][i - 1] - self.k[name][i - 1]))  # the cumulative maximum before event i
        np.maximum.accumulate(ready, out=ready)
        ready += k
        return ready

    @staticmethod
    def _wait(ready: np.ndarray, slots: np.ndarray, times: np.ndarray, fresh: bool) -> bool:
        """ready[slots] >= times + 1 (set, where nothing is there yet)."""
        times += 1
        ready[slots] = times if fresh else np.maximum(ready[slots], times)
        return False

    def _reach(self, since: dict[str, int], name: str, c: int, depths: dict[Edge, int], start: dict[str, np.ndarray]) -> None:
        """Node `name` moved from its event c on: mark its neighbours dirty, as BlockingModel.run marks every
        neighbour, from the first of their events the move makes start too early (none such: a sweep with
        nothing to do for it, where BlockingModel.run re-computes it and nothing changes)."""
        at = self.at
        for e in self.ins[name]:  # my reads from word j on moved: the producer's writes from word j + depth wait for them
            mine = at[(name, e)]
            j = int(np.searchsorted(mine, c))
            theirs = at[(e[0], e)][j + depths[e]:]
            self._mark(since, e[0], theirs, start[name][mine[j:j + len(theirs)]], start[e[0]])
        for e in self.outs[name]:  # my writes from word j on moved: the consumer's reads of them
            mine = at[(name, e)]
            j = int(np.searchsorted(mine, c))
            self._mark(since, e[2], at[(e[2], e)][j:], start[name][mine[j:]], start[e[2]])

    def _mark(self, since: dict[str, int], other: str, slots: np.ndarray, times: np.ndarray, starts: np.ndarray) -> None:
        """Node `other` must start its events `slots` after `times`: dirty from the first it starts too early."""
        first = end = len(self.k[other])
        if len(slots):
            early = times >= starts[slots]
            v = int(early.argmax())
            first = int(slots[v]) if early[v] else end
        since[other] = min(since.get(other, end), first)

    def dma_waits(self, schedule: dict, depth: int) -> dict | None:
        """BlockingModel.dma_waits (the DMA's events are its words)."""
        e = self.out_of[("input", 0)]
        reads = schedule[e[2]][self.at[(e[2], e)]]
        ready = self.offered.copy()
        ready[depth:] = np.maximum(ready[depth:], reads[:-depth] + 1)
        k = self.k["input"]
        sent = k + np.maximum.accumulate(ready - k)
        return {**schedule, "input": sent} if (sent + 1 <= reads).all() else None
