"""The cycle model against the C-sim's iteration counters, layer by layer.

Every kernel counts the iterations of its pipelined loop (HWGEN_COUNT, C-sim only); at II=1 that
is its cycles. hwgen.estimate.cycles(layer) * frames must equal the count for every layer.
The designs are the ones the other C-sim tests compile (the compile cache makes them free).
"""

from __future__ import annotations

import numpy as np
import pytest

from hwgen.csim.simulate import Simulation
from hwgen.datatypes import DataType
from hwgen.estimate import cycles
from hwgen.ir.layers import DWC
from tests.conftest import chain, random_values
from tests.csim import test_dwc, test_mvau, test_thresholding

I, U = DataType.int, DataType.uint


def designs():
    for case in test_mvau.CASES:
        yield "mvau-" + test_mvau.case_id(case), lambda case=case: (chain([test_mvau.case_layer(case)[0]]), case[-1])
    for case in test_thresholding.CASES:
        def make(case=case):
            rng = np.random.default_rng(case[0] * 100 + case[1])
            return chain([test_thresholding.make_thresholding(rng, *case)]), False
        yield "thresholding-" + "-".join(map(str, case)), make
    for name in test_dwc.GRAPHS:
        yield "graph-" + name, lambda name=name: (test_dwc.build(name)[0], False)
    yield "graph-lone-dwcs", lambda: (test_dwc.lone_dwc_graph(), False)


DESIGNS = dict(designs())


@pytest.mark.parametrize("design", list(DESIGNS))
def test_iterations_equal_the_cycle_model(tmp_path, design):
    graph, exact = DESIGNS[design]()
    sim = Simulation(graph, tmp_path, exact=exact)
    rng = np.random.default_rng(0)
    sim.backend.reset_iterations()
    assert all(sim.backend.iterations(layer.name) == 0 for layer in graph.layers)
    sim.run(random_values(rng, graph.input.dtype, (3, graph.input.elems)))
    counted = {layer.name: sim.backend.iterations(layer.name) for layer in graph.layers}
    assert counted == {layer.name: 3 * cycles(layer) for layer in graph.layers}
    # counters add up over calls, and count nothing for a name that is not a layer
    sim.run(random_values(rng, graph.input.dtype, (2, graph.input.elems)))
    assert {layer.name: sim.backend.iterations(layer.name) for layer in graph.layers} == {n: c * 5 // 3 for n, c in counted.items()}
    assert sim.backend.iterations("no such layer") == 0


def test_cycle_model_by_hand():
    """The formulas of DESIGN.md, on hand-computed examples."""
    rng = np.random.default_rng(0)
    mvau = test_mvau.make_mvau(rng, 24, 12, 4, 3, I(4), I(4), None, vectors=5)
    assert cycles(mvau) == (12 // 3) * (24 // 4) * 5 == 120
    assert cycles(mvau.refold(simd=24, pe=12)) == 5
    assert cycles(mvau.refold(simd=1, pe=1)) == 24 * 12 * 5
    t = test_thresholding.make_thresholding(rng, 12, 4, I(4), U(2), vectors=3)
    assert cycles(t) == 3 * 12 // 4 == 9
    assert cycles(DWC("d", 24, 6, 2, I(5))) == 12  # 4 words in, 12 out: one per cycle
    assert cycles(DWC("d", 24, 2, 6, I(5))) == 12
    assert cycles(DWC("d", 24, 1, 24, I(5))) == 24


@pytest.mark.slow
@pytest.mark.parametrize("simd", [1, 3, 4, 12])
@pytest.mark.parametrize("pe", [1, 2, 4, 6, 12])
def test_iterations_every_producer_consumer_fold(tmp_path, pe, simd):
    graph, rng = test_dwc.refold_pair(pe, simd)  # compiled by test_dwc's slow sweep too
    sim = Simulation(graph, tmp_path)
    sim.backend.reset_iterations()
    sim.run(random_values(rng, graph.input.dtype, (4, graph.input.elems)))
    assert {l.name: sim.backend.iterations(l.name) for l in graph.layers} == {l.name: 4 * cycles(l) for l in graph.layers}
