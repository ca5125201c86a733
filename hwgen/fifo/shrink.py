"""Shrinking: the never-blocking depths hold every word a fast producer sends ahead; most producers
have slack (every layer but the bottleneck idles part of each period), so they can be made to wait
on a shallower FIFO without the output moving by a cycle."""

from __future__ import annotations

from hwgen.fifo.events import EventModel
from hwgen.fifo.streams import MIN_DEPTH, Edge, Node

SHRINK_FRAMES = 4
SHRINK_SWEEPS = 64  # a depth whose schedule has not settled by then is kept deeper (a cost, never an error)


def shrink_streams(nodes: list[Node], edges: list[Edge], depths: dict[Edge, int], widths: dict[Edge, int],
                   input_words: int, period: int | None = None, frames: int = SHRINK_FRAMES,
                   model: type = EventModel) -> dict[Edge, int]:
    """Shallower FIFOs with the same output, cycle for cycle, as the never-blocking `depths`.

    Edge by edge, the costliest first (resource_model.fifo of its width in bits, `widths`), a binary
    search over the cost levels of its FIFO (registers up to depth 2, shift registers up to 32, then
    each step of LUTRAM or BRAM), each at the most depth it buys, finds the cheapest with which
    run_blocking still starts every iteration of the last node exactly when it starts with `depths`:
    producers wait on full FIFOs only within their slack, so throughput and latency are unchanged.
    Rounding up to the level's capacity leaves a margin for the pipelines' latency, which the model
    leaves out. Smaller depths only delay (the constraints are monotone), so every search starts
    from the schedule of the last accepted depths, and a level rejected stays rejected.
    `model`: EventModel (fast), or streams.BlockingModel (the reference; the same depths).
    """
    from hwgen.estimate.resource_model import fifo

    def cost(e, d):
        r = fifo(widths[e], d)
        return (r.BRAM18, r.URAM, r.LUT, r.FF)

    period = period or max([n.iterations for n in nodes] + [input_words])
    model = model(nodes, edges, input_words, period, frames)
    schedule = model.run(depths)
    if schedule is None:
        raise ValueError("the given depths deadlock the graph: size them with size_streams first")
    latest = model.latest(schedule[nodes[-1].name])
    current = dict(depths)
    for e in sorted(edges, key=lambda e: cost(e, depths[e]), reverse=True):
        levels = _cost_levels(lambda d: cost(e, d), depths[e])
        lo, hi = 0, len(levels) - 1  # levels[hi] (the never-blocking depth) is known to work
        while lo < hi:
            mid = (lo + hi) // 2
            trial = {**current, e: levels[mid]}
            found = model.dma_waits(schedule, levels[mid]) if e[0] == "input" else None
            found = found or model.run(trial, latest, schedule, SHRINK_SWEEPS, touched={e[0]})
            if found is None:
                lo = mid + 1
            else:
                hi, accepted = mid, found
        if levels[lo] < current[e]:
            schedule = accepted
        current[e] = levels[lo]
    return current


def _cost_levels(cost, top: int) -> list[int]:
    """Ascending: for each cost a FIFO of depth MIN_DEPTH..top can have, the deepest with that cost
    (the last is `top`). `cost` must not fall as depth grows."""
    levels, d = [], MIN_DEPTH
    while d <= top:
        c, lo, hi = cost(d), d, top
        while lo < hi:  # the deepest depth of this cost
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if cost(mid) == c else (lo, mid - 1)
        levels.append(lo)
        d = lo + 1
    return levels


