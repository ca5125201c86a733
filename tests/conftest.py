"""Shared test fixtures: a private C-sim compile cache, graphs of hand-made layers."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen.datatypes import DataType
from hwgen.ir.graph import DataflowGraph, HostInput, HostOutput
from hwgen.lower.insert_dwc import insert_dwcs


@pytest.fixture(autouse=True, scope="session")
def _compile_cache(tmp_path_factory):
    """Compiled C-sim libraries go to a per-session folder, never to the user's ~/.cache."""
    mp = pytest.MonkeyPatch()
    mp.setenv("HWGEN_CACHE_DIR", str(tmp_path_factory.mktemp("hwgen-cache")))
    yield
    mp.undo()


def chain(layers: list, name: str = "test") -> DataflowGraph:
    """A graph of `layers` in sequence, with width converters inserted where words differ."""
    first, last = layers[0], layers[-1]
    q = {"op": "quant", "scale": 1.0, "zero_point": 0.0, "bits": first.in_dtype.bits, "signed": first.in_dtype.signed,
         "narrow": False, "rounding_mode": "ROUND"}
    graph = DataflowGraph(
        layers=list(layers),
        input=HostInput(shape=(1, first.frame_in), quant=q, dtype=first.in_dtype, elems=first.frame_in),
        output=HostOutput(shape=(1, last.frame_out), dtype=last.out_dtype, elems=last.frame_out),
        model_name=name,
    )
    graph = insert_dwcs(graph)
    graph.check()
    return graph


def random_values(rng: np.random.Generator, dtype: DataType, shape) -> np.ndarray:
    """Uniform integer values of `dtype` (bipolar: ±1)."""
    if dtype.bits == 1 and dtype.signed:
        return rng.choice(np.array([-1, 1]), size=shape)
    return rng.integers(dtype.min, dtype.max + 1, size=shape)


def random_thresholds(rng: np.random.Generator, rows: int, n: int, lo: int, hi: int) -> np.ndarray:
    """Sorted thresholds in [lo, hi + 1], duplicates included (as real layers have)."""
    return np.sort(rng.integers(lo, hi + 2, size=(rows, n)), axis=1)
