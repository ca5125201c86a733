"""The C-sim probes against the models: shared by the cycle tests and the sweeps that compile exact builds."""

from __future__ import annotations

import numpy as np

from hwgen.estimate import cycles
from hwgen.kinds import kind_of


def check_against_the_models(sim, graph, frames: int) -> None:
    """Iterations == cycles() * frames; traced reads and writes == the kind's schedule(), tiled over the frames."""
    for layer in graph.layers:
        assert sim.backend.iterations(layer.name) == frames * cycles(layer), layer.name
        reads, writes = sim.backend.traced(layer.name)
        plan = kind_of(layer).schedule(layer)
        np.testing.assert_array_equal(reads, np.flatnonzero(np.tile(plan.reads, frames)), err_msg=f"{layer.name} reads")
        np.testing.assert_array_equal(writes, np.flatnonzero(np.tile(plan.writes, frames)), err_msg=f"{layer.name} writes")
