"""Folding as an exact optimization (hwgen.fold.exact): the MILP's design against brute force over every
combination of the layers' candidates, against the priced search on zoo models, its fallback, its record."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from hwgen.boards import load_board
from hwgen.datatypes import DataType
from hwgen.estimate import cycles, resources, total_resources
from hwgen.estimate.cycle_model import io_cycles
from hwgen.estimate.resource_model import SHELL
from hwgen.fifo import plan_fifos
from hwgen.fold import auto_fit, exact_fit, fits, insert_dwcs, search_fit
from hwgen.fold.exact import Option, pareto
from hwgen.fold.search import _candidates
from hwgen.hw import bus_width
from hwgen.kinds import kind_of
from tests.conftest import chain, cnv_w1a1, conv_net
from tests.kinds.test_dwc import mvau

U, I = DataType.uint, DataType.int


def frame_cycles(graph, board) -> int:
    """Cycles per frame: the slowest layer (width converters included) or the DMA, one stream word a cycle on
    the accelerator's side and one memory-port beat a cycle on the other (the estimate's io model)."""
    first, last = graph.layers[0], graph.layers[-1]
    dma_in = io_cycles(graph.input.elems // first.in_elems, bus_width(first.in_elems * first.in_dtype.bits), board.dma_port_bits)
    dma_out = io_cycles(graph.output.elems // last.out_elems, bus_width(last.out_elems * last.out_dtype.bits), board.dma_port_bits)
    return max(dma_in, dma_out, *(cycles(l) for l in graph.layers))


def built_usage(graph, board) -> dict:
    """Layers, width converters, the shallow FIFOs the build plans and the shell, as fractions of the board."""
    return (total_resources(graph, plan_fifos(graph).depths) + SHELL).usage(board.resources)


def cost(graph, board) -> float:
    """The design at the board's own prices: each layer's fractions of the board's LUT, BRAM and DSP, summed."""
    avail = board.resources
    return sum(resources(l).LUT / avail["LUT"] + resources(l).BRAM36 / max(1, avail["BRAM36"]) + resources(l).DSP / max(1, avail["DSP"])
               for l in graph.layers)


def every_design(graph, board):
    """Every combination of the layers' foldings (ports within 1024 bits), as folded graphs whose layers and
    shell fit the cap (the FIFOs come later: they only add)."""
    layers = graph.layers
    choices = [[c for c in _candidates(l) if (i > 0 or c.in_elems * c.in_dtype.bits <= 1024)
                and (i < len(layers) - 1 or c.out_elems * c.out_dtype.bits <= 1024)] if kind_of(l).foldable else [l]
               for i, l in enumerate(layers)]
    cap = board.utilization_cap
    for combo in itertools.product(*choices):
        folded = insert_dwcs(graph.with_layers(list(combo)))
        if all(v <= cap for v in (total_resources(folded) + SHELL).usage(board.resources).values()):
            yield folded


def brute_force(graph, board, budget: int | None = None):
    """The fastest design that fits with its FIFOs (and its cycles), or, within `budget`, the cheapest (and its cost)."""
    designs = sorted(((frame_cycles(g, board), cost(g, board), i, g) for i, g in enumerate(every_design(graph, board))))
    if budget is not None:
        designs = sorted((c, t, i, g) for t, c, i, g in designs if t <= budget)
    for key, _, _, g in designs:
        if all(v <= board.utilization_cap for v in built_usage(g, board).values()):
            return key, g
    return None, None


def mlp():
    """Two small MVAUs of 2-bit weights and activations: every memory and product hardware is a choice."""
    rng = np.random.default_rng(0)
    return chain([mvau(rng, "fc0", 8, 6, 1, 1, U(2), I(2), U(2)), mvau(rng, "fc1", 6, 4, 1, 1, U(2), I(2))], name="mlp")


def small_conv():
    """A 6x6x3 image of uint2, a 3x3 convolution to 4 channels and a fully connected layer to 2."""
    return conv_net(6, (4,), 2, U(2))


def tiny_board(lut: int, bram36: int, dsp: int):
    """pynq-z2 with `lut` LUTs, `bram36` BRAM36 and `dsp` DSPs for the layers (within the 85% cap, the shell on top)."""
    board = load_board("pynq-z2")
    cap = board.utilization_cap
    return replace(board, resources={"LUT": math.ceil((SHELL.LUT + lut) / cap), "FF": 106400,
                                     "BRAM36": math.ceil((SHELL.BRAM36 + bram36) / cap), "URAM": 0, "DSP": math.ceil(dsp / cap)})


CASES = {"mlp, LUT-bound": (mlp, (1200, 1, 1)), "mlp, BRAM and DSP bound": (mlp, (1800, 0, 0)),
         "conv, LUT-bound": (small_conv, (1050, 1, 1)), "conv, roomy": (small_conv, (3000, 4, 4))}


@pytest.mark.parametrize("case", CASES)
def test_fastest_design_is_the_brute_force_optimum(case):
    make, room = CASES[case]
    graph, board = make(), tiny_board(*room)
    best, _ = brute_force(graph, board)
    fit = exact_fit(graph, board)
    assert fit is not None and fit.fits and fit.solver == "milp"
    assert frame_cycles(fit.graph, board) == best
    # the bound the gap is measured from: the fastest design whose layers, converters and shell fit (FIFOs only add)
    relaxed = min(frame_cycles(g, board) for g in every_design(graph, board))
    assert fit.gap == pytest.approx(1 - relaxed / best)
    fit.graph.check()
    if "roomy" not in case:  # the caps decide: the fastest folding of every layer does not fit
        fastest = insert_dwcs(graph.with_layers([min(_candidates(l), key=cycles) for l in graph.layers]))
        assert best > frame_cycles(fastest, board)
    assert all(v <= board.utilization_cap for v in built_usage(fit.graph, board).values())
    assert fits(fit.graph, board) == (True, fit.usage)


@pytest.mark.parametrize("case", ["mlp, LUT-bound", "conv, LUT-bound"])
def test_cheapest_design_within_a_budget_is_the_brute_force_optimum(case):
    make, room = CASES[case]
    graph, board = make(), tiny_board(*room)
    fastest, _ = brute_force(graph, board)
    budget = 2 * fastest
    least, _ = brute_force(graph, board, budget)
    fit = exact_fit(graph, board, budget)
    assert frame_cycles(fit.graph, board) <= budget
    assert cost(fit.graph, board) == pytest.approx(least, rel=1e-9)


def test_no_design_fits_gives_none_and_the_search_explains():
    graph, board = mlp(), tiny_board(10, 0, 0)  # not even the smallest folding
    assert brute_force(graph, board) == (None, None)
    assert exact_fit(graph, board) is None
    from hwgen.errors import HwgenError

    with pytest.raises(HwgenError, match="does not fit"):
        auto_fit(graph, board, 100.0)


def test_pareto_drops_only_options_dominated_with_the_same_words():
    def opt(words, cyc, lut, dsp):
        return Option(SimpleNamespace(in_elems=words[0], out_elems=words[1]), cyc, (lut, 0.0, 0.0, 0.0, dsp))

    a, b, c = opt((1, 2), 10, 100, 0), opt((1, 2), 10, 120, 0), opt((1, 2), 12, 80, 1)
    d, e = opt((2, 2), 10, 120, 0), opt((1, 2), 10, 100, 0)
    kept = pareto([b, a, c, d, e])
    assert a in kept and c in kept and d in kept  # d: other words; c: slower but fewer LUTs
    assert b not in kept and len(kept) == 3  # b: more LUTs at the same cycles; e: identical to a, one kept


def tfc_w1a1_graph(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("brevitas")
    from hwgen.frontend.load import load_qonnx
    from hwgen.lower import lower
    from hwgen.zoo.bnn_pynq import export, tfc_w1a1

    return lower(load_qonnx(export(tfc_w1a1(), "tfc_1w1a", tmp_path / "tfc.onnx")), "tfc")


@pytest.mark.parametrize("model", ["tfc-w1a1", "cnv-w1a1"])
def test_never_slower_than_the_priced_search(model, tmp_path):
    graph = tfc_w1a1_graph(tmp_path) if model == "tfc-w1a1" else cnv_w1a1()
    board = load_board("pynq-z2")
    exact, search = exact_fit(graph, board), search_fit(graph, board, 100.0)
    assert exact is not None and exact.fits and search.fits
    assert frame_cycles(exact.graph, board) <= frame_cycles(search.graph, board)
    assert all(v <= board.utilization_cap for v in built_usage(exact.graph, board).values())


def test_the_priced_search_folds_when_the_solver_runs_out_of_time():
    graph, board = small_conv(), load_board("pynq-z2")
    fit = auto_fit(graph, board, 100.0, time_limit=0.0)
    assert fit.solver == "search" and "time limit" in fit.note and fit.fits
    assert [(l.name, getattr(l, "pe", None), getattr(l, "simd", None)) for l in fit.graph.layers] == \
           [(l.name, getattr(l, "pe", None), getattr(l, "simd", None)) for l in search_fit(graph, board, 100.0).graph.layers]


def test_the_build_records_which_search_folded(tmp_path):
    from hwgen.build import Build, BuildConfig
    from hwgen.build.record import write_record
    from hwgen.build.steps import step_fold

    b = Build(BuildConfig(synthesize=False), tmp_path, load_board("pynq-z2"))
    (tmp_path / "model").mkdir()
    b.graph = small_conv()
    step_fold(b)
    write_record(b, "running")
    record = json.loads((tmp_path / "hwgen.json").read_text())["folding_search"]
    assert record["solver"] == "milp" and record["gap"] == 0 and record["fits"]
    assert "exact (MILP, HiGHS)" in b.fit.summary() and "proven fastest" in b.fit.summary()
