"""benchmarks/bench_vs_finn.py's pairing of FINN's nodes with hwgen's layers, without FINN installed.

The FINN side (finn_units, the estimates) runs only under finn-plus; here its pure parts: pairing by kind
and shape, where FINN-only nodes sit, and hwgen's folding written in FINN's node names and attributes.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from hwgen.datatypes import DataType
from hwgen.ir.layers import SWG, MaxPool

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def _module(name: str):
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the file runs
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


finn_estimate = _module("finn_estimate")


def window(ifm: int, channels: int, k: int = 3, stride: int = 1, pad=(0, 0, 0, 0)) -> dict:
    return {"ifm": [ifm, ifm], "channels": channels, "kernel": [k, k], "stride": [stride, stride], "pad": list(pad)}


def unit(kind: str, signature, **roles) -> dict:
    return {"kind": kind, "signature": signature, "roles": roles}


def layer(name: str, kind: str, signature, **folding) -> dict:
    return {"name": name, "kind": kind, "signature": signature, "folding": folding}


def cnv_like():
    """FINN's units of a small CNV-shaped chain (its window numbering counts the max pool's window too),
    with an input quantizer before and the output scale after, and hwgen's layers of the same network."""
    units = [
        unit("Thresholding", {"channels": 3, "vectors": 1024}, thresholding="Thresholding_rtl_0"),
        unit("SWG", window(32, 3), window="ConvolutionInputGenerator_rtl_0"),
        unit("MVAU", {"mw": 27, "mh": 64, "vectors": 900}, mvau="MVAU_hls_0"),
        unit("MaxPool", window(30, 64, k=2, stride=2), window="ConvolutionInputGenerator_rtl_1", pool="Pool_hls_0"),
        unit("SWG", window(15, 64, pad=(1, 1, 1, 1)), padding="FMPadding_rtl_0", window="ConvolutionInputGenerator_rtl_2"),
        unit("MVAU", {"mw": 576, "mh": 128, "vectors": 225}, mvau="MVAU_hls_1"),
        unit("ElementwiseMul_hls", None, node="ElementwiseMul_hls_0"),
    ]
    layers = [
        layer("SWG_0", "SWG", window(32, 3), SIMD=3),
        layer("MVAU_0", "MVAU", {"mw": 27, "mh": 64, "vectors": 900}, PE=4, SIMD=27, ram_style="block", resType="dsp"),
        layer("MaxPool_0", "MaxPool", window(30, 64, k=2, stride=2), PE=8),
        layer("SWG_1", "SWG", window(15, 64, pad=(1, 1, 1, 1)), SIMD=16),
        layer("MVAU_1", "MVAU", {"mw": 576, "mh": 128, "vectors": 225}, PE=2, SIMD=64, ram_style="distributed", resType="lut"),
    ]
    return units, layers


def test_pairs_by_shape_and_places_finn_only_nodes():
    units, layers = cnv_like()
    pairs, finn_only, hwgen_only = finn_estimate.pair(units, layers)
    assert [(l["name"], u["roles"]) for l, u in pairs] == [
        ("SWG_0", {"window": "ConvolutionInputGenerator_rtl_0"}),
        ("MVAU_0", {"mvau": "MVAU_hls_0"}),
        ("MaxPool_0", {"window": "ConvolutionInputGenerator_rtl_1", "pool": "Pool_hls_0"}),
        ("SWG_1", {"padding": "FMPadding_rtl_0", "window": "ConvolutionInputGenerator_rtl_2"}),
        ("MVAU_1", {"mvau": "MVAU_hls_1"}),
    ]
    assert [(u["roles"], u["where"]) for u in finn_only] == [
        ({"thresholding": "Thresholding_rtl_0"}, "head"), ({"node": "ElementwiseMul_hls_0"}, "tail")]
    assert hwgen_only == []


def test_a_finn_node_between_pairs_is_middle_and_a_shape_mismatch_is_hwgen_only():
    units, layers = cnv_like()
    units.insert(3, unit("Thresholding", {"channels": 64, "vectors": 900}, thresholding="Thresholding_rtl_1"))
    layers[3] = layer("SWG_1", "SWG", window(15, 32, pad=(1, 1, 1, 1)), SIMD=16)  # 32 channels: FINN has none such
    pairs, finn_only, hwgen_only = finn_estimate.pair(units, layers)
    assert [l["name"] for l, _ in pairs] == ["SWG_0", "MVAU_0", "MaxPool_0", "MVAU_1"]
    assert [l["name"] for l in hwgen_only] == ["SWG_1"]
    where = {next(iter(u["roles"].values())): u["where"] for u in finn_only}
    assert where == {"Thresholding_rtl_0": "head", "Thresholding_rtl_1": "middle", "FMPadding_rtl_0": "middle",
                     "ElementwiseMul_hls_0": "tail"}


def test_hwgen_folding_in_finn_names():
    units, layers = cnv_like()
    pairs, _, _ = finn_estimate.pair(units, layers)
    assert finn_estimate.hwgen_config(pairs) == {
        "ConvolutionInputGenerator_rtl_0": {"SIMD": 3},
        "MVAU_hls_0": {"PE": 4, "SIMD": 27, "ram_style": "block", "resType": "dsp"},
        "Pool_hls_0": {"PE": 8},
        "ConvolutionInputGenerator_rtl_1": {"SIMD": 8},  # the max pool's window moves PE channels a cycle
        "ConvolutionInputGenerator_rtl_2": {"SIMD": 16},
        "FMPadding_rtl_0": {"SIMD": 16},
        "MVAU_hls_1": {"PE": 2, "SIMD": 64, "ram_style": "distributed", "resType": "lut"},
    }


@pytest.fixture(scope="module")
def bench():
    return _module("bench_vs_finn")


def test_describe_gives_finn_window_signatures(bench):
    int4 = DataType.int(4)
    swg = SWG("SWG_3", ifm_h=12, ifm_w=10, channels=64, k_h=3, k_w=2, stride_h=1, stride_w=2, pad=(1, 0, 1, 0), simd=16, dtype=int4)
    pool = MaxPool("MaxPool_1", ifm_h=10, ifm_w=10, channels=128, k_h=2, k_w=2, stride_h=2, stride_w=2, pad=(0, 0, 0, 0), pe=4,
                   dtype=int4)
    assert bench.describe(swg) == {"name": "SWG_3", "kind": "SWG", "folding": {"SIMD": 16}, "not_carried": [],
                                   "signature": {"ifm": [12, 10], "channels": 64, "kernel": [3, 2], "stride": [1, 2],
                                                 "pad": [1, 0, 1, 0]}}
    assert bench.describe(pool)["folding"] == {"PE": 4}
    assert bench.describe(pool)["signature"]["kernel"] == [2, 2]
