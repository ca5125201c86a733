"""The cycle model and the FIFO-sizing schedules against what the C-sim's loops really do.

Every kernel carries a probe (C-sim only) that counts the iterations of its pipelined loop and,
while tracing, records the iteration at which each stream word is read and written. At II=1 the
count is the layer's cycles: hwgen.estimate.cycles(layer) * frames must equal it, and the traced
iterations must be exactly those the kind's schedule(layer) says read and write, frame after frame.
Designs with MVAUs are compiled with the exact (synthesis) arithmetic: the fast path has no loop.
The slow sweep over every producer/consumer folding (tests/csim/test_dwc.py) checks the same.
"""

from __future__ import annotations

import numpy as np
import pytest

from hwgen.csim.simulate import Simulation
from hwgen.datatypes import DataType
from hwgen.estimate import cycles
from hwgen.ir.layers import DWC, MVAU
from tests.conftest import chain, random_values
from tests.csim.probes import check_against_the_models
from tests.kinds import test_dwc, test_maxpool, test_mvau, test_swg, test_thresholding

I, U, B = DataType.int, DataType.uint, DataType.bipolar
EXACT = True


def conv_chain():
    """A padded 3x3 convolution with 2x2 pooling: SWG -> MVAU -> MaxPool, width converters between."""
    rng = np.random.default_rng(11)
    window = test_swg.swg(6, 7, 4, 3, 3, 1, 1, (1, 1, 1, 1), 2, U(2))
    conv = test_mvau.make_mvau(rng, 36, 6, 12, 3, U(2), I(2), U(3), vectors=42)
    pool = test_maxpool.maxpool(6, 7, 6, 2, 2, 2, 2, (0, 0, 0, 0), 2, U(3))
    return chain([window, conv, pool]), EXACT


def designs():
    for case in test_mvau.CASES:
        yield "mvau-" + test_mvau.case_id(case), lambda case=case: (chain([test_mvau.case_layer(case)[0]]), EXACT)
    for case in test_thresholding.CASES:
        def make(case=case):
            rng = np.random.default_rng(case[0] * 100 + case[1])
            return chain([test_thresholding.make_thresholding(rng, *case)]), False
        yield "thresholding-" + "-".join(map(str, case)), make
    for case in test_swg.CASES:
        yield "swg-" + test_swg.case_id(case), lambda case=case: (chain([test_swg.swg(*case[:-1])]), case[-1])
    for case in test_maxpool.CASES:
        yield "maxpool-" + test_maxpool.case_id(case), lambda case=case: (chain([test_maxpool.maxpool(*case[:-1])]), case[-1])
    for name in test_dwc.GRAPHS:
        yield "graph-" + name, lambda name=name: (test_dwc.build(name)[0], EXACT)
    yield "graph-lone-dwcs", lambda: (test_dwc.lone_dwc_graph(), False)
    yield "graph-conv-pool", conv_chain


DESIGNS = dict(designs())


@pytest.mark.parametrize("design", list(DESIGNS))
def test_loops_do_what_the_models_say(tmp_path, design):
    graph, exact = DESIGNS[design]()
    assert exact or not any(isinstance(l, MVAU) for l in graph.layers)
    sim = Simulation(graph, tmp_path, exact=exact)
    rng = np.random.default_rng(0)
    sim.backend.reset_iterations()
    assert all(sim.backend.iterations(layer.name) == 0 for layer in graph.layers)
    sim.backend.trace()
    sim.run(random_values(rng, graph.input.dtype, (3, graph.input.elems)))
    check_against_the_models(sim, graph, 3)
    # counters and traces go on over calls (the second call's iterations continue the first's)
    sim.run(random_values(rng, graph.input.dtype, (2, graph.input.elems)))
    check_against_the_models(sim, graph, 5)
    assert sim.backend.iterations("no such layer") == 0
    # tracing off: counted, not traced
    sim.backend.reset_iterations()
    sim.backend.trace(False)
    sim.run(random_values(rng, graph.input.dtype, (1, graph.input.elems)))
    assert {l.name: sim.backend.iterations(l.name) for l in graph.layers} == {l.name: cycles(l) for l in graph.layers}
    assert all(len(w) == 0 for l in graph.layers for w in sim.backend.traced(l.name))


def test_fast_mvau_reports_its_trip_count_but_no_trace(tmp_path):
    """The fast MVAU path has no loop: it adds the trip count it plans (VECTORS * NF * SF a frame) to
    its probe. Equal to cycles(layer) here is trip-count consistency only, not a check of the cycle
    model (the exact designs above count the MVAU's loop); there is nothing to trace."""
    layer, rng = test_mvau.case_layer(test_mvau.CASES[1])  # a FAST case
    sim = Simulation(chain([layer]), tmp_path, exact=False)
    sim.backend.reset_iterations()
    sim.backend.trace()
    sim.run(random_values(rng, layer.in_dtype, (2, layer.frame_in)))
    assert sim.backend.iterations(layer.name) == 2 * cycles(layer)
    with pytest.raises(RuntimeError,
                       match="MVAU_0 ran the C-sim fast path, which has no loop to trace: compile the library with exact=True"):
        sim.backend.traced(layer.name)


def test_cycle_model_by_hand():
    """The cycle model's formulas (each kind's `cycles`, ARCHITECTURE.md), on hand-computed examples."""
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
