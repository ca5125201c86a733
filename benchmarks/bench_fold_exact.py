"""Automatic folding: the exact solver (hwgen.fold.exact, a MILP solved by HiGHS) against the priced search.

    python benchmarks/bench_fold_exact.py [--boards pynq-z2 kv260 zcu104] [--models TFC-W1A1 CNV-W1A1 CNV-W2A2] [--json FILE]

Exports each model with Brevitas (TFC-W1A1 as hwgen.zoo.bnn_pynq defines it, CNV-W1A1 and CNV-W2A2 from
hwgen.zoo.cnv, batch norms randomized), lowers it, and folds it for each board at the board's clock
twice, each time with every folding cache emptied first: by the priced search (search_fit: the folding
of hwgen before the solver, the reference) and by the exact solver (exact_fit). For each: frames/s (the
slowest layer or the DMA), LUT, BRAM and DSP as fractions of the board (layers, the shallow FIFOs a build
plans and the shell), seconds, and for the solver its gap on frames/s (0: proven fastest) and HiGHS's
gap on the design's cost. Estimates by hwgen's own model, not measurements.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import quiet  # noqa: E402

MODELS = ("TFC-W1A1", "CNV-W1A1", "CNV-W2A2")


def graph_of(name: str, tmp: Path):
    import torch
    from brevitas.export import export_qonnx

    from hwgen.frontend.load import load_qonnx
    from hwgen.lower import lower
    from hwgen.zoo import bnn_pynq
    from hwgen.zoo.cnv import cnv, randomize_batchnorm

    path = tmp / f"{name}.onnx"
    with quiet():
        if name == "TFC-W1A1":
            bnn_pynq.export(bnn_pynq.tfc_w1a1(), "tfc_1w1a", path)
        else:
            bits = int(name[-1])
            export_qonnx(randomize_batchnorm(cnv(bits, bits)), torch.zeros(1, 3, 32, 32), export_path=str(path))
        return lower(load_qonnx(path), name)


def clear_caches() -> None:
    """Every memo of the folding search: each run starts cold, as a build does."""
    from hwgen.fold import search

    for memo in (search._resources_of, search._cycles_of, search._cost_of):
        memo.cache_clear()
    search._CANDIDATES.clear()
    search._PLANS.clear()


def run(fold, graph, board) -> dict:
    from hwgen.errors import HwgenError
    from hwgen.fold.exact import SolverFailed, bottleneck

    clear_caches()
    start = time.perf_counter()
    try:
        fit = fold()
    except (HwgenError, SolverFailed) as exc:
        return {"error": str(exc).splitlines()[0], "seconds": time.perf_counter() - start}
    seconds = time.perf_counter() - start
    if fit is None:
        return {"error": "no folding fits", "seconds": seconds}
    return {"fps": board.clock_mhz * 1e6 / bottleneck(fit.graph, board), "cycles": bottleneck(fit.graph, board),
            "usage": {k: fit.usage[k] for k in ("LUT", "BRAM36", "DSP")}, "fits": fit.fits, "seconds": seconds,
            "solver": fit.solver, "gap": fit.gap, "cost_gap": fit.cost_gap}


def row(model: str, board: str, what: str, r: dict) -> str:
    if "error" in r:
        return f"{model:<10}{board:<10}{what:<8}{r['error'][:70]}  ({r['seconds']:.2f} s)"
    u = r["usage"]
    gap = "" if r["gap"] is None else f"{r['gap']:.1%}"
    cost_gap = "" if r["cost_gap"] is None else f"{r['cost_gap']:.2%}"
    return (f"{model:<10}{board:<10}{what:<8}{r['fps']:>12,.0f}{r['cycles']:>9}{u['LUT']:>7.1%}{u['BRAM36']:>7.1%}{u['DSP']:>7.1%}"
            f"{'' if r['fits'] else ' OVER':>5}{r['seconds']:>8.2f}{gap:>8}{cost_gap:>9}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--boards", nargs="+", default=["pynq-z2"])
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)

    from hwgen.boards import load_board
    from hwgen.fold import exact_fit, search_fit

    results = {}
    print(f"{'model':<10}{'board':<10}{'fold':<8}{'frames/s':>12}{'cycles':>9}{'LUT':>7}{'BRAM':>7}{'DSP':>7}{'':>5}"
          f"{'seconds':>8}{'gap':>8}{'cost gap':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            graph = graph_of(model, Path(tmp))
            for name in args.boards:
                board = load_board(name)
                search = run(lambda: search_fit(graph, board, board.clock_mhz), graph, board)
                exact = run(lambda: exact_fit(graph, board), graph, board)
                results[f"{model} {name}"] = {"search": search, "milp": exact}
                print(row(model, name, "search", search))
                print(row(model, name, "milp", exact))
                if "fps" in search and "fps" in exact:
                    print(f"{'':<28}milp / search: {exact['fps'] / search['fps']:.3f}x frames/s, "
                          f"{exact['seconds'] / search['seconds']:.2f}x the time")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
