"""The priced folding search: the cheapest PE/SIMD (and, for MVAUs, weight memory and product hardware) per
layer that meets a cycle budget, or the fastest folding that fits the board with its FIFOs and the shell,
by board prices repriced towards the resources left. The exact solver (exact.py) folds first; this is its
fallback (auto.py) and the source of the candidates and the fit check both use.

Every stream word stays within hw.MAX_WORD_BITS (4096 bits, the widest ap_uint in Vitis HLS): only
foldings within it are considered.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from hwgen.errors import HwgenError
from hwgen.estimate import cycles, resources, total_resources
from hwgen.estimate.cycle_model import io_cycles
from hwgen.estimate.resource_model import SHELL
from hwgen.fifo import FifoDepths, FifoPlan, plan_fifos
from hwgen.fold.dwc import insert_dwcs
from hwgen.hw import MAX_PORT_BITS, RESOURCE_KINDS, SCARCE, RamStyle, bus_width
from hwgen.ir.graph import DataflowGraph
from hwgen.ir.layers import DWC, MVAU, ResType, divisors
from hwgen.ir.words import stream_word_error
from hwgen.kinds import kind_of

PRICED = SCARCE  # the resources folding trades against each other (FF follows LUT)
USED = tuple(k for k in RESOURCE_KINDS if k != "URAM")  # what a design can use up: constant tables are never UltraRAM
PRICE_ROUNDS = 8  # repricings fit_to_cycles tries before it gives up on a cycle budget
_CANDIDATES: dict[int, tuple] = {}  # id(layer) -> (layer, its refoldings); layers are immutable


def _implementations(layer: MVAU) -> list[tuple[RamStyle, ResType]]:
    """The weight memories and product hardware automatic folding weighs for an MVAU."""
    res_types = [ResType.LUT] if layer.xnor else [ResType.LUT, ResType.DSP]
    return [(m, r) for m in (RamStyle.DISTRIBUTED, RamStyle.BLOCK) for r in res_types]


def _candidates(layer) -> list:
    """Every folding of a layer whose stream words fit an ap_uint (memoized: refolding validates the
    parameters). MVAUs come in every weight memory and product hardware too."""
    cached = _CANDIDATES.get(id(layer))
    if cached is None or cached[0] is not layer:
        if isinstance(layer, MVAU):
            options = [layer.refold(simd=s, pe=p, ram_style=m, res_type=r) for s in divisors(layer.mw) for p in divisors(layer.mh)
                       for m, r in _implementations(layer)]
        else:  # one word size, which divides the dimension its word is taken from
            options = [layer.refold(pe=p) for p in divisors(kind_of(layer).words(layer)[0].dim)]
        options = [c for c in options if stream_word_error(c, layer.name) is None]  # DWCs between them are never wider
        if len(_CANDIDATES) > 256:
            _CANDIDATES.clear()
        cached = _CANDIDATES[id(layer)] = (layer, options)
    return cached[1]


@dataclass(frozen=True)
class Prices:
    """What one unit of each board resource costs the folding search. The board's own prices are
    1 / available: a layer's cost is then the sum of its fractions of LUT, BRAM and DSP."""

    LUT: float
    BRAM36: float
    DSP: float

    @staticmethod
    def of(board) -> Prices:
        avail = board.resources
        return Prices(1 / avail["LUT"], 1 / max(1, avail["BRAM36"]), 1 / max(1, avail["DSP"]))

    def repriced(self, board, usage: dict) -> Prices:
        """Dearer where the design is over the cap, cheaper where it leaves room: each price times
        (usage / cap)^2, within 1/4 .. 4 per round, so that LUT-heavy choices give way to BRAM or DSP
        ones (and back) while the board still has those."""
        cap = board.utilization_cap

        def factor(kind: str) -> float:
            return min(4.0, max(0.25, (max(usage[kind], 1e-3) / cap) ** 2))

        return Prices(self.LUT * factor("LUT"), self.BRAM36 * factor("BRAM36"), self.DSP * factor("DSP"))


@lru_cache(maxsize=65536)
def _resources_of(layer):  # layers are immutable and hash by identity
    return resources(layer)


@lru_cache(maxsize=65536)
def _cycles_of(layer) -> int:
    return cycles(layer)


@lru_cache(maxsize=65536)
def _cost_of(layer, prices: Prices) -> float:
    r = _resources_of(layer)
    return r.LUT * prices.LUT + r.BRAM36 * prices.BRAM36 + r.DSP * prices.DSP


def _port_ok(c, first: bool, last: bool) -> bool:
    """The first layer's input word and the last layer's output word are the AXI-stream ports: at most 1024 bits."""
    return not (first and c.in_elems * c.in_dtype.bits > MAX_PORT_BITS) and not (last and c.out_elems * c.out_dtype.bits > MAX_PORT_BITS)


def cheapest_within(layer, max_cycles: int, board, first: bool = False, last: bool = False, prices: Prices | None = None):
    """The cheapest folding of `layer` taking at most `max_cycles` per frame (its fastest if none does)."""
    prices = prices or Prices.of(board)
    options = [c for c in _candidates(layer) if _port_ok(c, first, last)]
    fitting = [c for c in options if _cycles_of(c) <= max_cycles]
    if not fitting:
        return min(options, key=lambda c: (_cycles_of(c), _cost_of(c, prices)))
    return min(fitting, key=lambda c: (_cost_of(c, prices), _cycles_of(c)))


def _compatible(a: int, b: int) -> bool:
    """Word sizes one DWC converts at full rate (one divides the other); else two DWCs through the gcd,
    whose narrow middle stream can be slower than either layer."""
    return max(a, b) % min(a, b) == 0


def fold_to_cycles(graph: DataflowGraph, max_cycles: int, board, prices: Prices | None = None) -> DataflowGraph:
    """Each layer as cheaply as `max_cycles` allows (at `prices`, default the board's); then, left to
    right, a layer whose word size does not divide (or is not divisible by) its producer's is re-picked
    among those that are, and window, pooling and threshold layers (cheap next to MVAUs) also match
    their consumer's."""
    prices = prices or Prices.of(board)
    layers = [l for l in graph.layers if not isinstance(l, DWC)]
    n = len(layers)
    layers = [cheapest_within(l, max_cycles, board, i == 0, i == n - 1, prices) if kind_of(l).foldable else l
              for i, l in enumerate(layers)]
    for i, layer in enumerate(layers):
        if not kind_of(layer).foldable:
            continue
        prev = layers[i - 1] if i else None
        nxt = layers[i + 1] if i + 1 < n and not isinstance(layer, MVAU) else None
        if (prev is None or _compatible(prev.out_elems, layer.in_elems)) and (nxt is None or _compatible(layer.out_elems, nxt.in_elems)):
            continue
        options = [c for c in _candidates(layer) if _cycles_of(c) <= max_cycles
                   and (prev is None or _compatible(prev.out_elems, c.in_elems))
                   and (nxt is None or _compatible(c.out_elems, nxt.in_elems))
                   and _port_ok(c, i == 0, i == n - 1)]
        if options:
            layers[i] = min(options, key=lambda c: (_cost_of(c, prices), _cycles_of(c)))
    folded = graph.with_layers(layers)
    return insert_dwcs(folded)


@dataclass(frozen=True)
class Fit:
    """What a folding search found: the folded graph, the prices it was found at, whether it fits the board
    (with its FIFOs and the shell, within the cap) and its usage: the fraction of each board resource; which
    search chose it and how well it is proven (auto.auto_fit: the build records it in hwgen.json)."""

    graph: DataflowGraph
    prices: Prices
    fits: bool
    usage: dict[str, float]
    solver: str = "search"  # "milp" (exact.py, HiGHS) or "search" (this module's priced search)
    gap: float | None = None  # milp, fastest design: 1 - (proven bound on cycles per frame) / its cycles; 0 is optimal
    cost_gap: float | None = None  # milp: HiGHS's relative gap on the design's cost at its frame rate (board prices)
    seconds: float | None = None  # the search's time
    note: str = ""  # why the priced search folded instead of the MILP

    def summary(self) -> str:
        """One line for the build summary: which search folded, how well proven, in how long."""
        took = f" in {self.seconds:.2f} s" if self.seconds is not None else ""
        if self.solver != "milp":
            return f"priced search{took}" + (f" ({self.note})" if self.note else "")
        proven = ("" if self.gap is None else "proven fastest" if self.gap == 0
                  else f"at most {self.gap:.1%} below the proven bound on frames/s")
        cost = "" if self.cost_gap is None else f"cost within {self.cost_gap:.2%} of the least at its frame rate"
        return f"exact (MILP, HiGHS){took}: " + "; ".join(p for p in (proven, cost) if p)

    def to_json(self) -> dict:
        """hwgen.json's "folding_search"."""
        return {"solver": self.solver, "gap": self.gap, "cost_gap": self.cost_gap, "seconds": self.seconds, "note": self.note,
                "fits": self.fits, "usage": {k: round(v, 4) for k, v in self.usage.items()}}


def fit_to_cycles(graph: DataflowGraph, max_cycles: int, board, fifo_sizing: FifoDepths = FifoDepths.SHALLOW) -> Fit:
    """The cheapest folding within `max_cycles` that fits the board with FIFOs of `fifo_sizing` (`fits`).

    First by prices: repriced (at most PRICE_ROUNDS times) while one resource is over the cap and
    another has room. Prices move whole classes of layers at once (every MVAU to BRAM), so when no
    price fits, the round closest to fitting is rebalanced one MVAU at a time (`_rebalance`).
    Without a fit, the first round's folding (the board's own prices) is returned.
    """
    prices = Prices.of(board)
    rounds = []
    for _ in range(PRICE_ROUNDS):
        folded = fold_to_cycles(graph, max_cycles, board, prices)
        ok, usage = fits(folded, board, fifo_sizing)
        if ok:
            return Fit(folded, prices, ok, usage)
        rounds.append(Fit(folded, prices, ok, usage))
        if all(usage[k] > board.utilization_cap for k in PRICED if board.resources.get(k)):
            break  # every resource is over: no price moves work from one to another
        prices = prices.repriced(board, usage)
    closest = min(rounds, key=lambda r: _peak(r.usage))
    rebalanced = _rebalance(closest.graph, board)
    if rebalanced is not None:
        ok, usage = fits(rebalanced, board, fifo_sizing)
        if ok:
            return Fit(rebalanced, closest.prices, ok, usage)
    return rounds[0]


def _peak(usage: dict) -> float:
    return max(usage[k] for k in USED)


def _rebalance(graph: DataflowGraph, board) -> DataflowGraph | None:
    """Greedy min-max repair of a folding: switch one MVAU at a time to another implementation of
    the same PE and SIMD (weight memory, product hardware), the switch that lowers the most-used
    resource's share of the board the most, while one does (FIFOs are left out: their depths do
    not depend on these choices). None when no switch helps."""
    layers = list(graph.layers)
    total = total_resources(graph) + SHELL
    peak = _peak(total.usage(board.resources))
    changed = False
    while True:
        best = None
        for i, layer in enumerate(layers):
            if not isinstance(layer, MVAU):
                continue
            for c in _candidates(layer):
                if (c.pe, c.simd) != (layer.pe, layer.simd) or (c.ram_style, c.res_type) == (layer.ram_style, layer.res_type):
                    continue
                t = total - _resources_of(layer) + _resources_of(c)
                p = _peak(t.usage(board.resources))
                if p < peak and (best is None or p < best[0]):
                    best = (p, i, c, t)
        if best is None:
            break
        peak, i, layers[i], total = best
        changed = True
    if not changed:
        return None
    return graph.with_layers(layers)


def fits(graph: DataflowGraph, board, fifo_sizing: FifoDepths = FifoDepths.SHALLOW) -> tuple[bool, dict]:
    """Whether the design, its FIFOs and the shell fit the board within its utilization cap; the usage fractions.

    The FIFOs are the ones the build gives the design (plan_fifos with `fifo_sizing`): shallow FIFOs
    can cost more LUTs than never-blocking ones (a BRAM FIFO shrunk into shift registers), so the
    check counts exactly those. FIFOs only add: a design whose layers and shell alone exceed the cap
    is not sized (sizing a slow design simulates every iteration of its loops)."""
    cap = board.utilization_cap
    usage = (total_resources(graph) + SHELL).usage(board.resources)
    if any(v > cap for v in usage.values()):
        return False, usage
    usage = (total_resources(graph, fifo_plan(graph, fifo_sizing).depths) + SHELL).usage(board.resources)
    return all(v <= cap for v in usage.values()), usage


_PLANS: dict[tuple, FifoPlan] = {}  # the search meets the same folding again at other prices; layers are immutable


def fifo_plan(graph: DataflowGraph, fifo_sizing: FifoDepths) -> FifoPlan:
    """plan_fifos, memoized by the layers (DWCs, made anew by each folding, by their widths)."""
    key = (graph.input.elems, fifo_sizing,
           tuple((l.name, l.elems, l.in_elems, l.out_elems, l.dtype) if isinstance(l, DWC) else l for l in graph.layers))
    plan = _PLANS.get(key)
    if plan is None:
        if len(_PLANS) > 64:
            _PLANS.clear()
        plan = _PLANS[key] = plan_fifos(graph, fifo_sizing)
    return plan


def dma_floor(graph: DataflowGraph, board) -> int:
    """The fewest cycles per frame the AXI DMA takes over every folding (io_cycles of the input through
    the first layer's word, of the output through the last's, each at its best allowed width)."""
    def best(layer, elems: int, bits: int, side: str) -> int:
        options = _candidates(layer) if kind_of(layer).foldable else [layer]
        per_word = {getattr(c, side) for c in options if getattr(c, side) * bits <= MAX_PORT_BITS} or {getattr(layer, side)}
        return min(io_cycles(elems // n, bus_width(n * bits), board.dma_port_bits) for n in per_word)

    return max(best(graph.layers[0], graph.input.elems, graph.input.dtype.bits, "in_elems"),
               best(graph.layers[-1], graph.output.elems, graph.output.dtype.bits, "out_elems"))


def cycle_budget(graph: DataflowGraph, board, clock_mhz: float, target_fps: float) -> int:
    """The cycles per frame `target_fps` leaves at `clock_mhz`; HwgenError when the DMA alone needs more."""
    floor = dma_floor(graph, board)
    budget = int(clock_mhz * 1e6 // target_fps)
    if budget < floor:
        raise HwgenError(f"{target_fps:,.0f} frames/s is out of reach: the AXI DMA needs at least {floor} cycles per frame to move "
                         f"{graph.input.elems} x {graph.input.dtype} in and {graph.output.elems} x {graph.output.dtype} out through "
                         f"{board.name}'s {board.dma_port_bits}-bit memory port (one stream word a cycle on the accelerator's side, "
                         f"one {board.dma_port_bits}-bit beat a cycle on the memory side, at the best word width folding allows), "
                         f"at most {clock_mhz * 1e6 / floor:,.0f} frames/s at {clock_mhz:g} MHz",
                         hint="lower --target-fps or raise the clock")
    return budget


def search_fit(graph: DataflowGraph, board, clock_mhz: float, target_fps: float | None = None,
               fifo_sizing: FifoDepths = FifoDepths.SHALLOW) -> Fit:
    """The priced search (the MILP's fallback, auto.auto_fit). With a target: the cheapest folding reaching
    `target_fps`. Without: the fastest that fits the board, by bisection over the cycle counts layers can
    reach. Either fits with the FIFOs the build gives it (`fifo_sizing`, see `fits`).

    Raises HwgenError with a per-layer table when the target cannot be met or nothing fits.
    """
    foldable = graph.foldable
    if target_fps is not None:
        budget = cycle_budget(graph, board, clock_mhz, target_fps)
        fit = fit_to_cycles(graph, budget, board, fifo_sizing)
        folded = fit.graph
        slow = [l for l in folded.layers if cycles(l) > budget]
        if slow:
            raise HwgenError(f"{target_fps:,.0f} frames/s at {clock_mhz:g} MHz needs every layer within {budget} cycles per frame; "
                             f"fully unfolded, these layers are still slower:\n" + _table(folded, board, only=slow),
                             hint="lower --target-fps, raise the clock, or make these layers smaller")
        if not fit.fits:
            raise HwgenError(_over_budget(folded, board, fit.usage, f"the cheapest folding for {target_fps:,.0f} frames/s"),
                             hint="lower --target-fps, pick a larger board (python -m hwgen boards), or use fewer bits")
        return fit
    # fastest that fits: binary search over the cycle counts layers can reach
    # (the DMA moves one stream word and one memory-port beat a cycle: folding faster than that buys nothing)
    floor = dma_floor(graph, board)
    steps = sorted({_cycles_of(c) for l in foldable for c in _candidates(l)})
    slowest = max(max(_cycles_of(c) for c in _candidates(l)) for l in foldable)
    steps = [s for s in steps if floor <= s <= slowest] or [slowest]
    best = None
    lo, hi = 0, len(steps) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        fit = fit_to_cycles(graph, steps[mid], board, fifo_sizing)
        if fit.fits:
            best, hi = fit, mid - 1
        else:
            lo = mid + 1
    if best is None:
        fit = fit_to_cycles(graph, slowest, board, fifo_sizing)
        raise HwgenError(_over_budget(fit.graph, board, fit.usage, "even the cheapest folding (every layer as small as it can be made)"),
                         hint="pick a larger board (python -m hwgen boards), use fewer bits or smaller layers")
    return best


def _table(graph: DataflowGraph, board, only=None) -> str:
    rows = [f"  {'layer':<16}{'PE':>5}{'SIMD':>6}{'memory/mult':>13}{'cycles':>10}{'LUT':>10}{'BRAM36':>8}{'DSP':>6}"]
    for layer in graph.layers:
        if only is not None and layer not in only:
            continue
        r = resources(layer)
        how = kind_of(layer).describe(layer).implementation
        rows.append(f"  {layer.name:<16}{getattr(layer, 'pe', '-'):>5}{getattr(layer, 'simd', '-'):>6}{how:>13}"
                    f"{cycles(layer):>10}{r.LUT:>10,.0f}{r.BRAM36:>8.1f}{r.DSP:>6.0f}")
    return "\n".join(rows)


def _over_budget(graph: DataflowGraph, board, usage: dict, what: str) -> str:
    cap = board.utilization_cap
    over = ", ".join(f"{k} {v:.0%}" for k, v in usage.items() if v > cap)
    lines = [f"{what} does not fit {board.name} within its {cap:.0%} utilization cap (over: {over}; shell included):",
             _table(graph, board)]
    for kind in (k for k, v in usage.items() if v > cap):
        available = board.resources.get(kind, 0)
        users = sorted(((getattr(resources(l), kind), l.name) for l in graph.layers), reverse=True)[:3]
        if available and users[0][0] > 0:
            lines.append(f"  {kind}: the board has {available:,}, {cap:.0%} of it is {cap * available:,.0f}; the most go to "
                         + ", ".join(f"{name} {used:,.1f}" if kind == "BRAM36" else f"{name} {used:,.0f}"
                                     for used, name in users if used > 0))
    return "\n".join(lines)
