"""Shared test fixtures: a private C-sim compile cache, graphs of hand-made layers."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen.datatypes import DataType
from hwgen.fold.dwc import insert_dwcs
from hwgen.ir.graph import DataflowGraph, HostInput, HostOutput
from hwgen.ir.layers import MVAU, SWG, MaxPool


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


def conv_net(ifm: int, convs: tuple, classes: int, in_dtype: DataType, fc: tuple = (), seed: int = 0) -> DataflowGraph:
    """A CNV-style chain of hwgen layers on an ifm x ifm x 3 image: per entry of `convs` a 3x3
    convolution (SWG without padding + MVAU) of that many channels, or "M" a 2x2 max pool; then fully
    connected layers of `fc` outputs and one of `classes` accumulators. Bipolar weights and activations
    (a threshold per channel), folded SIMD = PE = 1; random values, `seed`ed."""
    rng = np.random.default_rng(seed)
    layers, dtype, size, cin, n = [], in_dtype, ifm, 3, 0
    bound = max(abs(in_dtype.min), abs(in_dtype.max))  # largest |input|: the first accumulator's scale

    def mvau(mw, mh, vectors=1, last=False):
        nonlocal n, bound
        acc = DataType.smallest(-bound * mw, bound * mw + 1)
        thresholds = None if last else random_thresholds(rng, mh, 1, -bound * mw, bound * mw)
        layer = MVAU(f"MVAU_{n}", mw, mh, 1, 1, dtype, DataType.bipolar(), acc, acc if last else DataType.bipolar(),
                     random_values(rng, DataType.bipolar(), (mh, mw)), thresholds, 0 if last else -1, vectors=vectors)
        n, bound = n + 1, 1
        return layer

    for entry in convs:
        if entry == "M":
            layers.append(MaxPool(f"MaxPool_{sum(isinstance(l, MaxPool) for l in layers)}", size, size, cin, 2, 2, 2, 2,
                                  (0, 0, 0, 0), 1, dtype))
            size //= 2
            continue
        layers.append(SWG(f"SWG_{n}", size, size, cin, 3, 3, 1, 1, (0, 0, 0, 0), 1, dtype))
        size -= 2
        layers.append(mvau(9 * cin, entry, size * size))
        dtype, cin = DataType.bipolar(), entry
    width = size * size * cin
    for out in fc:
        layers.append(mvau(width, out))
        dtype, width = DataType.bipolar(), out
    layers.append(mvau(width, classes, last=True))
    return chain(layers, "conv_net")


def cnv_w1a1() -> DataflowGraph:
    """The layers hwgen lowers FINN's CNV-W1A1 to (hwgen.zoo.cnv: 3x32x32 int8 input; 64, 64, pool,
    128, 128, pool, 256, 256; FC 512, 512, 10), made directly, without torch."""
    return conv_net(32, (64, 64, "M", 128, 128, "M", 256, 256), 10, DataType.int(8), fc=(512, 512))
