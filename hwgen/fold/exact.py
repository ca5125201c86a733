"""Folding as an exact optimization: one implementation per layer, chosen by an integer program (HiGHS,
through scipy.optimize.milp), over the same candidates as the priced search (search._candidates).

Each layer's candidates (PE, SIMD, and for an MVAU its weight memory and product hardware) are first cut
to a Pareto set (`pareto`): among candidates with the same stream words, which is all the rest of the
design sees of a choice (its neighbours' width converters, the DMA's word), one whose cycles and every
resource (LUT, FF, BRAM18, URAM, DSP) are at most another's leaves the other out. Then, for a bound T on
the cycles per frame:

    x[l, c] in {0, 1}     layer l is built as candidate c; sum_c x[l, c] = 1; x[l, c] = 0 where c takes
                          more than T cycles (the first and last layer: or the DMA does, through c's word)
    w[e, a, b] >= 0       between layers e and e + 1, words of a elements meet words of b:
                          sum_b w[e, a, b] = sum of x[e, c] over the c writing words of a, and
                          sum_a w[e, a, b] = sum of x[e + 1, c] over the c reading words of b, so that
                          with x integral w is 1 at the pair chosen, whose width converters (insert_dwcs)
                          count in cycles (w = 0 where they take more than T) and in resources
    for each resource:    sum of x * the candidates' + w * the converters' + shell + reserve <= cap x board

is feasible or not, and feasibility only grows with T. At each T the options another one can replace
whatever the neighbours choose are left out (`Program.columns`: its resources plus the most its width
converters can cost are at most theirs). The fastest design is the least T among the cycle counts any
choice can have that is feasible: a bisection over them with the linear relaxation (a proven lower end,
cheaply), then with the integer program from there, each step proven by HiGHS (one that takes more than
PROBE_LIMIT counts as unproven, and the gap says so). At that T the same
program minimizes the design's fractions of the board's LUT, BRAM and DSP summed (the search's board
prices, search.Prices.of): the cheapest fastest design; given a cycle budget, the cheapest design within it.

The FIFOs are not in the program: their depths come from a token-level model of the folded pipeline
(plan_fifos). They only add, so the program without them (reserve 0) is a relaxation and its least T a
lower bound on every design that fits. Its design is checked with search.fits (FIFOs planned as the build
plans them); if it does not fit, the reserve becomes the largest FIFO cost met so far, per resource, and
the bisection resumes from that T. `gap` is 1 - that lower bound / T: 0 is a proven optimum.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields
from math import gcd

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix, vstack

from hwgen.estimate import cycles, resources, total_resources
from hwgen.estimate.cycle_model import io_cycles
from hwgen.estimate.resource_model import SHELL
from hwgen.fifo import FifoDepths
from hwgen.fold.dwc import insert_dwcs
from hwgen.fold.search import Fit, Prices, _candidates, _cycles_of, _port_ok, _resources_of, fifo_plan, fits
from hwgen.hw import Resources, bus_width
from hwgen.ir.graph import DataflowGraph
from hwgen.ir.layers import DWC
from hwgen.kinds import kind_of

FIELDS = tuple(f.name for f in fields(Resources))  # LUT, FF, BRAM18, URAM, DSP: the program's resource rows
TIME_LIMIT = 30.0  # seconds for all the solves of one folding; beyond it the priced search folds
FIFO_ROUNDS = 6  # reserves for the FIFOs tried before the priced search folds
PROBE_LIMIT = 3.0  # seconds one integer program may take; beyond it that bound counts as unproven (the gap says so)
COST_GAP = 1e-2  # HiGHS's relative gap on the cost of the design at its frame rate
MARGIN = 1e-3  # taken off each cap (in LUTs, BRAM18s, ...): HiGHS's feasibility tolerance must not let a design over


class SolverFailed(Exception):
    """The program could not be solved in time (or HiGHS failed): the priced search folds instead."""


@dataclass(frozen=True)
class Option:
    """One implementation of a layer: the layer as built, its cycles per frame (the DMA's where slower:
    the first and last layer's word is the DMA's), its resources by FIELDS."""

    layer: object
    cycles: int
    res: tuple[float, ...]


def _vector(r: Resources) -> np.ndarray:
    return np.array([getattr(r, k) for k in FIELDS], dtype=float)


def pareto(options: list[Option]) -> list[Option]:
    """The options no other one with the same stream words dominates (cycles and every resource at most
    its, one of them less; of identical ones the first is kept)."""
    groups: dict[tuple, list[Option]] = {}
    for o in options:
        groups.setdefault((o.layer.in_elems, o.layer.out_elems), []).append(o)
    kept = []
    for group in groups.values():
        group = sorted(group, key=lambda o: (o.cycles, o.res))
        front: list[Option] = []
        for o in group:  # sorted: a dominating option comes first
            if not any(f.cycles <= o.cycles and all(a <= b for a, b in zip(f.res, o.res)) for f in front):
                front.append(o)
        kept.extend(front)
    return kept


def dma_cycles(layer, graph: DataflowGraph, board, first: bool, last: bool) -> int:
    """The DMA's cycles per frame through `layer`'s word where it is the first (input) or last (output) layer."""
    n = 0
    if first:
        words = layer.in_elems
        n = io_cycles(graph.input.elems // words, bus_width(words * graph.input.dtype.bits), board.dma_port_bits)
    if last:
        words = layer.out_elems
        n = max(n, io_cycles(graph.output.elems // words, bus_width(words * graph.output.dtype.bits), board.dma_port_bits))
    return n


def bottleneck(graph: DataflowGraph, board) -> int:
    """Cycles per frame of a folded graph: its slowest layer (width converters included) or the DMA."""
    layers = graph.layers
    io = max(dma_cycles(layers[0], graph, board, True, False), dma_cycles(layers[-1], graph, board, False, True))
    return max(io, *(cycles(l) for l in layers))


def layer_options(graph: DataflowGraph, board) -> list[list[Option]]:
    """Each layer's Pareto set (DWCs left out: they follow from the choices)."""
    layers = [l for l in graph.layers if not isinstance(l, DWC)]
    n = len(layers)
    out = []
    for i, layer in enumerate(layers):
        first, last = i == 0, i == n - 1
        cands = [c for c in _candidates(layer) if _port_ok(c, first, last)] if kind_of(layer).foldable else [layer]
        out.append(pareto([Option(c, max(_cycles_of(c), dma_cycles(c, graph, board, first, last)), tuple(_vector(_resources_of(c))))
                           for c in cands]))
    return out


def converters(prev, a: int, b: int) -> list[DWC]:
    """The width converters insert_dwcs puts between words of a elements (written by `prev`) and words of b."""
    if a == b:
        return []
    steps = [(a, b)] if max(a, b) % min(a, b) == 0 else [(a, gcd(a, b)), (gcd(a, b), b)]
    return [DWC(name="DWC", elems=prev.frame_out, in_elems=i, out_elems=o, dtype=prev.out_dtype) for i, o in steps]


class Program:
    """The integer program of a graph on a board, built once; `solve` sets T (which columns exist) and the reserve."""

    def __init__(self, graph: DataflowGraph, board, options: list[list[Option]]):
        self.graph, self.board, self.options = graph, board, options
        cyc, res, rows, cols, vals = [], [], [], [], []
        self.x = []  # per layer: its options' columns
        for row, opts in enumerate(options):  # sum_c x[l, c] = 1
            self.x.append(np.arange(len(cyc), len(cyc) + len(opts)))
            for o in opts:
                rows.append(row), cols.append(len(cyc)), vals.append(1.0)
                cyc.append(o.cycles), res.append(o.res)
        row = n_layers = len(options)
        self.pairs = []  # per edge: {(a, b): column}
        for e in range(n_layers - 1):
            prev = options[e][0].layer
            outs = sorted({o.layer.out_elems for o in options[e]})
            ins = sorted({o.layer.in_elems for o in options[e + 1]})
            row_a = {a: row + k for k, a in enumerate(outs)}
            row_b = {b: row + len(outs) + k for k, b in enumerate(ins)}
            row += len(outs) + len(ins)
            self.pairs.append({})
            for a in outs:
                for b in ins:
                    dwcs = converters(prev, a, b)
                    self.pairs[e][a, b] = len(cyc)
                    rows.extend((row_a[a], row_b[b])), cols.extend((len(cyc), len(cyc))), vals.extend((1.0, 1.0))
                    cyc.append(max((cycles(d) for d in dwcs), default=0))
                    res.append(tuple(sum((_vector(resources(d)) for d in dwcs), np.zeros(len(FIELDS)))))
            for j, o in zip(self.x[e], options[e]):
                rows.append(row_a[o.layer.out_elems]), cols.append(j), vals.append(-1.0)
            for j, o in zip(self.x[e + 1], options[e + 1]):
                rows.append(row_b[o.layer.in_elems]), cols.append(j), vals.append(-1.0)
        self.cycles = np.array(cyc, dtype=np.int64)
        self.res = np.array(res, dtype=float).reshape(len(cyc), len(FIELDS))
        self.words = [(np.array([o.layer.in_elems for o in opts]), np.array([o.layer.out_elems for o in opts])) for opts in options]
        eq = coo_matrix((vals, (rows, cols)), shape=(row, len(cyc)))
        self.A = vstack([eq, coo_matrix(self.res.T)]).tocsc()  # the equalities, then a row per resource
        self.row_lo = np.concatenate([np.ones(n_layers), np.zeros(row - n_layers), np.full(len(FIELDS), -np.inf)])
        avail, cap = board.resources, board.utilization_cap
        # BRAM counts in BRAM36 on the board, in BRAM18 here; a resource the board lacks may not be used at all
        whole = np.array([cap * (2 * avail["BRAM36"] if k == "BRAM18" else avail[k]) for k in FIELDS])
        self.caps = whole - _vector(SHELL) - np.where(whole > 0, MARGIN, 0.0)
        self.integral = np.zeros(len(cyc))
        self.integral[np.concatenate(self.x)] = 1
        prices = Prices.of(board)
        weights = {"LUT": prices.LUT, "BRAM18": prices.BRAM36 / 2, "DSP": prices.DSP}
        self.cost = self.res @ np.array([weights.get(k, 0.0) for k in FIELDS])
        self._columns: dict[int, np.ndarray | None] = {}

    def values(self) -> list[int]:
        """Every bottleneck a choice can have, from the least any choice reaches up."""
        least = max(int(self.cycles[idx].min()) for idx in self.x)
        return sorted({int(c) for c in self.cycles if c >= least})

    def columns(self, T: int) -> np.ndarray | None:
        """The columns the program at T needs (None: a layer has no option within T). Options within T, less
        those another one dominates whatever the neighbours are: d replaces c when d's resources plus the most
        its width converters can cost (both sides, every neighbour word within T) are at most c's and those
        converters are all within T; the converter columns between the words left."""
        if T not in self._columns:
            within = self.cycles <= T
            if not all(within[idx].any() for idx in self.x):
                self._columns[T] = None
                return None
            offered = [(self.words[l][0][within[idx]], self.words[l][1][within[idx]]) for l, idx in enumerate(self.x)]
            keep = np.zeros(len(within), dtype=bool)
            for l, idx in enumerate(self.x):
                idx = idx[within[idx]]
                res = self.res[idx]
                worst, safe = res.copy(), np.ones(len(idx), dtype=bool)
                for side, e in ((0, l - 1), (1, l)):
                    if not 0 <= e < len(self.pairs):
                        continue
                    mine = self.words[l][side][idx - self.x[l][0]]
                    theirs = np.unique(offered[e + side][1 - side])  # the neighbour's words within T
                    for w in np.unique(mine):
                        pcols = [self.pairs[e][(t, w) if side == 0 else (w, t)] for t in theirs]
                        at = mine == w
                        safe[at] &= bool((self.cycles[pcols] <= T).all())
                        worst[at] += self.res[pcols].max(axis=0)
                below = (worst[:, None, :] <= res[None, :, :]).all(axis=2)  # below[d, c]: d's worst case within c
                below &= safe[:, None]
                tie = below & below.T & np.triu(np.ones_like(below), 1).T  # mutual: the earlier one stays
                np.fill_diagonal(below, False)
                keep[idx[~(below & ~tie).any(axis=0)]] = True
            for e, pairs in enumerate(self.pairs):
                outs = set(self.words[e][1][keep[self.x[e]]])
                ins = set(self.words[e + 1][0][keep[self.x[e + 1]]])
                for (a, b), j in pairs.items():
                    keep[j] = a in outs and b in ins and self.cycles[j] <= T
            self._columns[T] = np.flatnonzero(keep)
        return self._columns[T]

    def solve(self, T: int, reserve: np.ndarray, mode: str, seconds: float):
        """At bound T: ("feasible", x, HiGHS's gap on its cost), ("infeasible", None, None) (proven) or
        ("unknown", None, None) (an integer program out of PROBE_LIMIT); mode "lp" for the linear relaxation,
        "cheapest" for the least-cost design. Raises SolverFailed when HiGHS fails or the `seconds` left run out."""
        if seconds <= 0:
            raise SolverFailed(f"out of the {TIME_LIMIT:g} s time limit")
        cols = self.columns(T)
        if cols is None:
            return "infeasible", None, None
        hi = np.concatenate([self.row_lo[:-len(FIELDS)], self.caps - reserve])
        res = milp(self.cost[cols], integrality=None if mode == "lp" else self.integral[cols], bounds=Bounds(0.0, 1.0),
                   constraints=LinearConstraint(self.A[:, cols], self.row_lo, hi),
                   options={"time_limit": min(seconds, PROBE_LIMIT), "disp": False, "mip_rel_gap": COST_GAP})
        if res.status == 2:
            return "infeasible", None, None
        if res.x is None and res.status == 1 and seconds > PROBE_LIMIT:
            return "unknown", None, None
        if res.x is None:
            raise SolverFailed(f"HiGHS at {T} cycles: {res.message}")
        x = np.zeros(len(self.cycles))
        x[cols] = res.x
        return "feasible", x, getattr(res, "mip_gap", None)

    def design(self, x: np.ndarray) -> tuple[DataflowGraph, np.ndarray]:
        """The folded graph a solution chooses, and what the program counted for it (layers and converters)."""
        chosen = [opts[int(np.argmax(x[idx]))].layer for opts, idx in zip(self.options, self.x)]
        return insert_dwcs(self.graph.with_layers(chosen)), np.round(x) @ self.res


def exact_fit(graph: DataflowGraph, board, budget: int | None = None, fifo_sizing: FifoDepths = FifoDepths.SHALLOW,
              time_limit: float = TIME_LIMIT) -> Fit | None:
    """The fastest folding that fits (or, with `budget`, the cheapest within `budget` cycles per frame), solved
    exactly; None when no folding fits (the relaxation is infeasible) or the FIFO rounds run out. Raises
    SolverFailed when HiGHS fails or runs out of `time_limit`."""
    start = time.perf_counter()
    prog = Program(graph, board, layer_options(graph, board))

    def solve(T: int, mode: str):
        return prog.solve(T, reserve, mode, time_limit - (time.perf_counter() - start))

    values = prog.values() if budget is None else [budget]
    reserve = np.zeros(len(FIELDS))
    k, lower = 0, None
    for round_ in range(FIFO_ROUNDS):
        # the linear relaxation's bound first (cheap), then the integer program from there
        k = _least(values, k, lambda T: solve(T, "lp")[0] == "feasible", gallop=round_ > 0)
        found, proven = {}, k  # proven: the values below it are proven infeasible
        if k is not None:
            def feasible(T: int) -> bool:
                nonlocal proven
                status = found.setdefault(T, solve(T, "cheapest"))[0]
                if status == "infeasible":
                    proven = max(proven, values.index(T) + 1)
                return status == "feasible"

            k = _least(values, k, feasible, gallop=True)
        if k is None:
            return None
        lower = values[min(proven, k)] if lower is None else lower  # at reserve 0, what every fitting design needs
        _, x, cost_gap = found[values[k]]
        folded, counted = prog.design(x)
        ok, usage = fits(folded, board, fifo_sizing)
        if ok:
            gap = None if budget is not None else max(0.0, 1 - lower / bottleneck(folded, board))
            return Fit(folded, Prices.of(board), True, usage, solver="milp", gap=gap, cost_gap=cost_gap,
                       seconds=time.perf_counter() - start)
        built = total_resources(folded, fifo_plan(folded, fifo_sizing).depths)
        reserve = np.maximum(reserve, _vector(built) - counted)
    return None


def _least(values: list[int], k: int, feasible, gallop: bool) -> int | None:
    """The least index from `k` whose value is feasible (feasibility grows with the value), None when none is:
    k itself, then a bisection, after steps of 1, 2, 4, ... up from k where the answer is expected near k (`gallop`)."""
    seen: dict[int, bool] = {}

    def ok(i: int) -> bool:
        if i not in seen:
            seen[i] = feasible(values[i])
        return seen[i]

    if ok(k):  # the bound itself first: often reached (a 3-channel window generator's pace, the DMA's)
        return k
    lo, hi = k + 1, len(values) - 1
    if gallop:
        probe, step = lo, 2
        while probe < hi and not ok(probe):
            lo, probe, step = probe + 1, min(hi, probe + step), 2 * step
        hi = probe
    while lo < hi:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid + 1
    return hi if ok(hi) else None
