"""Automatic folding: the exact solver (exact.py) first, the priced search (search.py) where it cannot answer."""

from __future__ import annotations

import time
from dataclasses import replace

from hwgen.fifo import FifoDepths
from hwgen.fold.exact import TIME_LIMIT, SolverFailed, exact_fit
from hwgen.fold.search import Fit, cycle_budget, search_fit
from hwgen.ir.graph import DataflowGraph


def auto_fit(graph: DataflowGraph, board, clock_mhz: float, target_fps: float | None = None,
             fifo_sizing: FifoDepths = FifoDepths.SHALLOW, time_limit: float = TIME_LIMIT) -> Fit:
    """With a target: the cheapest folding reaching `target_fps`. Without: the fastest that fits the board.
    Either fits with the FIFOs the build gives it (`fifo_sizing`, see search.fits).

    Solved exactly (exact.exact_fit) within `time_limit` seconds; where the solver fails, runs out of time or
    finds nothing that fits, the priced search folds (search.search_fit), and raises HwgenError with a
    per-layer table when the target cannot be met or nothing fits. The Fit says which did (`solver`, `note`).
    """
    budget = cycle_budget(graph, board, clock_mhz, target_fps) if target_fps is not None else None
    start = time.perf_counter()
    try:
        fit = exact_fit(graph, board, budget, fifo_sizing, time_limit)
        note = "the MILP found no folding that fits (FIFOs reserved)" if fit is None else ""
    except SolverFailed as exc:
        fit, note = None, f"the MILP failed: {exc}"
    if fit is not None:
        return fit
    fallback = search_fit(graph, board, clock_mhz, target_fps, fifo_sizing)
    return replace(fallback, note=note, seconds=time.perf_counter() - start)


def auto_fold(graph: DataflowGraph, board, clock_mhz: float, target_fps: float | None = None,
              fifo_sizing: FifoDepths = FifoDepths.SHALLOW) -> DataflowGraph:
    """auto_fit's folded graph."""
    return auto_fit(graph, board, clock_mhz, target_fps, fifo_sizing).graph
