"""Stream width converters: which ones the lowering inserts, and graphs through them bit-exact in C-sim."""

from __future__ import annotations

import re

import numpy as np
import pytest

from hwgen.csim.simulate import Simulation
from hwgen.datatypes import DataType
from hwgen.fold.dwc import insert_dwcs
from hwgen.ir import reference
from hwgen.ir.graph import DataflowGraph, HostInput, HostOutput
from hwgen.ir.layers import DWC, MVAU, Thresholding, divisors
from tests.conftest import chain, random_thresholds, random_values
from tests.csim.probes import check_against_the_models

I, U, B = DataType.int, DataType.uint, DataType.bipolar


def graph_of(layers: list) -> DataflowGraph:
    """Layers as given, no DWC inserted (chain() in conftest inserts them)."""
    first, last = layers[0], layers[-1]
    q = {"op": "quant", "scale": 1.0, "zero_point": 0.0, "bits": first.in_dtype.bits, "signed": first.in_dtype.signed,
         "narrow": False, "rounding_mode": "ROUND"}
    return DataflowGraph(layers=list(layers),
                         input=HostInput(shape=(1, first.frame_in), quant=q, dtype=first.in_dtype, elems=first.frame_in),
                         output=HostOutput(shape=(1, last.frame_out), dtype=last.out_dtype, elems=last.frame_out), model_name="dwc")


def mvau(rng, name, mw, mh, simd, pe, in_dtype, w_dtype, out_dtype=None, vectors=1):
    """An MVAU with random weights; thresholds into out_dtype, or the exact accumulator when out_dtype is None."""
    weights = random_values(rng, w_dtype, (mh, mw))
    lo = np.minimum(weights * in_dtype.min, weights * in_dtype.max).sum(1)
    hi = np.maximum(weights * in_dtype.min, weights * in_dtype.max).sum(1)
    if out_dtype is None:
        acc = DataType.smallest(lo.min(), hi.max())
        return MVAU(name, mw, mh, simd, pe, in_dtype, w_dtype, acc, acc, weights, None, 0, vectors)
    acc = DataType.smallest(lo.min(), hi.max() + 1)
    n = 1 if out_dtype == B() else out_dtype.max - out_dtype.min
    thresholds = random_thresholds(rng, mh, n, int(lo.min()), int(hi.max()))
    return MVAU(name, mw, mh, simd, pe, in_dtype, w_dtype, acc, out_dtype, weights, thresholds, out_dtype.min, vectors)


def thresholding(rng, name, channels, pe, in_dtype, out_dtype, vectors=1):
    n = 1 if out_dtype == B() else out_dtype.max - out_dtype.min
    thresholds = random_thresholds(rng, channels, n, in_dtype.min, in_dtype.max)
    return Thresholding(name, channels, pe, in_dtype, out_dtype, thresholds, -1 if out_dtype == B() else out_dtype.min, vectors)


def gcd_graph(rng):
    """PE=4 -> SIMD=6: no word size divides the other, two DWCs through gcd 2."""
    return [mvau(rng, "fc0", 8, 12, 4, 4, U(2), I(2), U(2), vectors=2), mvau(rng, "fc1", 12, 6, 6, 3, U(2), I(2), None, vectors=2)]


def split_merge_graph(rng):
    """PE=6 -> PE=2 (split one word into 3) -> SIMD=12 (merge 6 words into 1); accumulator, then bipolar elements."""
    fc0 = mvau(rng, "fc0", 6, 12, 3, 6, I(4), I(2), None)
    return [fc0, thresholding(rng, "act0", 12, 2, fc0.acc_dtype, B()), mvau(rng, "fc1", 12, 4, 12, 1, B(), B(), B())]


def coprime_graph(rng):
    """PE=3 -> PE=2: through words of one element."""
    return [thresholding(rng, "act0", 6, 3, I(4), U(2), vectors=3), thresholding(rng, "act1", 6, 2, U(2), U(1), vectors=3)]


GRAPHS = {"gcd": gcd_graph, "split_merge": split_merge_graph, "coprime": coprime_graph}
SEEDS = {"gcd": 1, "split_merge": 2, "coprime": 3}


def build(name: str):
    rng = np.random.default_rng(SEEDS[name])
    return chain(GRAPHS[name](rng), name), rng


def lone_dwc_graph() -> DataflowGraph:
    """Only converters, 5-bit elements: split 6 -> 2, merge 2 -> 4, merge 4 -> 12, split 12 -> 1."""
    sizes = [6, 2, 4, 12, 1]
    layers = [DWC(f"DWC_{i}", 24, a, b, I(5)) for i, (a, b) in enumerate(zip(sizes, sizes[1:]))]
    graph = graph_of(layers)
    graph.check()
    return graph


def naive_run(layers, x):
    """Each layer by the count-the-thresholds definition, with Python ints (DWCs: identity)."""
    values = x.tolist()
    for layer in layers:
        if isinstance(layer, DWC):
            continue
        out = []
        for frame in values:
            if isinstance(layer, MVAU):
                vecs = [frame[v * layer.mw : (v + 1) * layer.mw] for v in range(layer.vectors)]
                pre = [sum(int(w) * a for w, a in zip(row, vec)) for vec in vecs for row in layer.weights.tolist()]
                rows = layer.mh
            else:
                pre, rows = frame, layer.channels
            if layer.thresholds is None:
                out.append(pre)
                continue
            ys = []
            for i, a in enumerate(pre):
                crossed = sum(1 for t in layer.thresholds[i % rows].tolist() if a >= t)
                ys.append((1 if crossed else -1) if layer.out_dtype == B() else layer.out_min + crossed)
            out.append(ys)
        values = out
    return np.array(values)


# -- which converters insert_dwcs puts where ---------------------------------------------------

def dwcs(graph):
    return [(l.name, l.in_elems, l.out_elems, l.elems, str(l.dtype)) for l in graph.layers if isinstance(l, DWC)]


def test_insert_dwcs_through_the_gcd():
    rng = np.random.default_rng(0)
    layers = gcd_graph(rng)
    plain = graph_of(layers)
    with pytest.raises(ValueError, match="a DWC is missing"):
        plain.check()
    graph = insert_dwcs(plain)
    graph.check()
    assert [type(l).__name__ for l in graph.layers] == ["MVAU", "DWC", "DWC", "MVAU"]
    assert dwcs(graph) == [("DWC_0", 4, 2, 24, "uint2"), ("DWC_1", 2, 6, 24, "uint2")]
    assert plain.layers == layers  # a pure function: the input graph is unchanged
    assert (graph.input, graph.output, graph.model_name) == (plain.input, plain.output, plain.model_name)


def test_insert_dwcs_single_steps_and_none():
    rng = np.random.default_rng(0)
    graph = insert_dwcs(graph_of(split_merge_graph(rng)))
    assert dwcs(graph) == [("DWC_0", 6, 2, 12, str(graph.layers[0].acc_dtype)), ("DWC_1", 2, 12, 12, "bipolar")]
    assert [l.name for l in graph.layers] == ["fc0", "DWC_0", "act0", "DWC_1", "fc1"]
    # matching words: nothing inserted
    same = [thresholding(rng, "a", 6, 3, I(4), U(2)), thresholding(rng, "b", 6, 3, U(2), U(1))]
    assert [l.name for l in insert_dwcs(graph_of(same)).layers] == ["a", "b"]


def test_insert_dwcs_coprime_words():
    graph = insert_dwcs(graph_of(coprime_graph(np.random.default_rng(0))))
    assert dwcs(graph) == [("DWC_0", 3, 1, 18, "uint2"), ("DWC_1", 1, 2, 18, "uint2")]


def test_insert_dwcs_replaces_existing_converters():
    rng = np.random.default_rng(0)
    a, b = thresholding(rng, "a", 12, 4, I(4), U(2)), thresholding(rng, "b", 12, 6, U(2), U(1))
    once = insert_dwcs(graph_of([a, b]))
    twice = insert_dwcs(once)
    assert dwcs(once) == dwcs(twice) == [("DWC_0", 4, 2, 12, "uint2"), ("DWC_1", 2, 6, 12, "uint2")]
    # a stale converter (b refolded to PE=4 after the DWCs went in) is dropped, none is needed
    stale = graph_of([a, *once.layers[1:3], b.refold(pe=4)])
    assert [l.name for l in insert_dwcs(stale).layers] == ["a", "b"]


# -- bit-exact through the converters in C-sim --------------------------------------------------

@pytest.mark.parametrize("name", list(GRAPHS))
def test_graph_through_dwcs_is_bit_exact(tmp_path, name):
    graph, rng = build(name)
    assert any(isinstance(l, DWC) for l in graph.layers)
    sim = Simulation(graph, tmp_path)
    for frames in (5, 1):
        x = random_values(rng, graph.input.dtype, (frames, graph.input.elems))
        got = sim.run(x)
        np.testing.assert_array_equal(got, naive_run(graph.layers, x))
        np.testing.assert_array_equal(got, reference.run(graph, x))


def test_converters_alone_pass_every_element_through(tmp_path):
    graph = lone_dwc_graph()
    rng = np.random.default_rng(5)
    x = random_values(rng, I(5), (4, 24))
    x[0] = np.arange(-12, 12)  # every element distinct: a reordering would show
    np.testing.assert_array_equal(Simulation(graph, tmp_path).run(x), x)


def refold_pair(producer_pe: int, consumer_simd: int):
    """Thresholding (PE = producer_pe) -> MVAU (SIMD = consumer_simd) over 12 channels, 2 vectors."""
    rng = np.random.default_rng(producer_pe * 100 + consumer_simd)
    act = thresholding(rng, "act0", 12, producer_pe, I(3), I(2), vectors=2)
    return chain([act, mvau(rng, "fc0", 12, 4, consumer_simd, 2, I(2), I(3), None, vectors=2)], "refold"), rng


@pytest.mark.slow
@pytest.mark.parametrize("simd", divisors(12))
@pytest.mark.parametrize("pe", divisors(12))
def test_every_producer_consumer_fold(tmp_path, pe, simd):
    """Bit-exact through every converter pair; in the synthesis arithmetic, so that the same build
    also checks every layer's loop against the cycle model and the FIFO schedule (tests/csim/probes.py)."""
    graph, rng = refold_pair(pe, simd)
    x = random_values(rng, I(3), (4, graph.input.elems))
    sim = Simulation(graph, tmp_path, exact=True)
    sim.backend.reset_iterations()
    sim.backend.trace()
    got = sim.run(x)
    sim.backend.trace(False)
    np.testing.assert_array_equal(got, naive_run(graph.layers, x))
    check_against_the_models(sim, graph, 4)


# -- validation ----------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,message", [
    (dict(in_elems=4, out_elems=6), "DWC 'dwc0': in_elems=4 and out_elems=6 must divide one another"),
    (dict(elems=20, in_elems=8, out_elems=2), "DWC 'dwc0': word size=8 must be a divisor of elems=20 (valid: 1, 2, 4, 5, 10, 20)"),
])
def test_dwc_errors_name_the_layer_and_valid_values(kwargs, message):
    args = {**dict(name="dwc0", elems=24, in_elems=4, out_elems=2, dtype=I(3)), **kwargs}
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        DWC(**args)


def test_dwc_frames():
    layer = DWC(name="dwc0", elems=24, in_elems=4, out_elems=2, dtype=I(3))
    assert (layer.frame_in, layer.frame_out, layer.in_dtype, layer.out_dtype) == (24, 24, I(3), I(3))
