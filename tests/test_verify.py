"""hwgen.verify.compare_cycles: C-sim loop counts against the cycle model, mismatches named."""

from __future__ import annotations

import numpy as np

from hwgen.datatypes import DataType
from hwgen.estimate import cycles
from hwgen.verify import compare_cycles
from tests.conftest import chain, random_thresholds, random_values
from tests.csim.test_dwc import mvau

U, I = DataType.uint, DataType.int


class Counts:
    def __init__(self, counts):
        self.counts = counts

    def iterations(self, name):
        return self.counts[name]


def test_compare_cycles_names_the_layers_that_disagree():
    rng = np.random.default_rng(0)
    graph = chain([mvau(rng, "MVAU_0", 12, 8, 4, 2, U(2), I(2), U(2)), mvau(rng, "MVAU_1", 8, 4, 4, 4, U(2), I(2), None)])
    right = {l.name: 3 * cycles(l) for l in graph.layers}
    report = compare_cycles(graph, Counts(right), 3)
    assert report["mismatches"] == [] and report["loops_counted"] == len(graph.layers) - 2  # the MVAUs: fast path
    assert report["layers"]["MVAU_0"] == {"counted_per_frame": cycles(graph.layer("MVAU_0")), "model": 12, "loop_counted": False}
    dwc = next(l.name for l in graph.layers if l.name.startswith("DWC"))
    wrong = {**right, dwc: right[dwc] + 1}
    assert compare_cycles(graph, Counts(wrong), 3)["mismatches"] == [dwc]
    assert compare_cycles(graph, Counts(right), 3, exact=True)["loops_counted"] == len(graph.layers)
