"""Folding: files (hwgen and FINN names), automatic folding to a target, the fastest that fits, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hwgen.boards import load_board
from hwgen.datatypes import DataType
from hwgen.errors import HwgenError
from hwgen.estimate import cycles, resources
from hwgen.fifo import FifoDepths
from hwgen.fold import apply_folding, auto_fold, fit_to_cycles, fits, fold_to_cycles, insert_dwcs, read_folding, write_folding
from hwgen.fold.search import _candidates
from hwgen.ir.layers import DWC, MVAU, RamStyle, ResType
from tests.conftest import chain, conv_net, random_thresholds, random_values

I, U, B = DataType.int, DataType.uint, DataType.bipolar


def tfc_like(rng, widths=(784, 64, 64, 64, 10), dtype=B()):
    layers = []
    for i, (mw, mh) in enumerate(zip(widths[:-1], widths[1:])):
        w = random_values(rng, dtype, (mh, mw))
        last = i == len(widths) - 2
        acc = DataType.smallest(-mw, mw + 1)
        out = acc if last else dtype
        thr = None if last else random_thresholds(rng, mh, 1, -mw, mw)
        layers.append(MVAU(f"MVAU_{i}", mw, mh, 1, 1, dtype, dtype, acc, out, w, thr, 0 if last else -1))
    return chain(layers)


def board_cost(layer, board) -> float:
    """A layer's price at the board's own prices: the sum of its fractions of the board's LUT, BRAM and DSP."""
    r, avail = resources(layer), board.resources
    return r.LUT / avail["LUT"] + r.BRAM36 / max(1, avail["BRAM36"]) + r.DSP / max(1, avail["DSP"])


@pytest.fixture(scope="module")
def graph():
    return tfc_like(np.random.default_rng(0))


def test_target_fps_is_met_at_least_cost(graph):
    board = load_board("pynq-z2")
    folded = auto_fold(graph, board, 100.0, target_fps=100_000)
    budget = 100e6 // 100_000
    assert all(cycles(l) <= budget for l in folded.layers)
    # no layer could be folded cheaper and still meet the budget
    for layer in folded.foldable:
        cheaper = [c for c in _candidates(layer) if cycles(c) <= budget and board_cost(c, board) < board_cost(layer, board)]
        assert not cheaper, layer.name


def design_cost(graph, board) -> float:
    """A design's price at the board's own prices: its layers' (width converters included) summed."""
    return sum(board_cost(l, board) for l in graph.layers)


def test_fastest_that_fits_is_balanced_and_fits(graph):
    board = load_board("pynq-z2")
    folded = auto_fold(graph, board, 100.0)
    ok, usage = fits(folded, board)
    assert ok, usage
    bottleneck = max(cycles(l) for l in folded.layers)
    # balanced: no layer refolded within the bottleneck's cycles (its width converters redone) makes the design cheaper
    cost = design_cost(folded, board)
    for layer in folded.foldable:
        for c in _candidates(layer):
            other = insert_dwcs(folded.with_layers([c if l is layer else l for l in folded.layers]))
            if max(cycles(l) for l in other.layers) <= bottleneck:
                assert design_cost(other, board) >= cost - 1e-12, (layer.name, c)
    # fastest: every faster design (any smaller cycle budget, at any prices tried) exceeds the board
    faster = fit_to_cycles(graph, bottleneck - 1, board)
    assert max(cycles(l) for l in faster.graph.layers) < bottleneck
    assert not faster.fits and not fits(faster.graph, board)[0]


def test_target_beyond_the_dma_is_refused(graph):
    # 784 bipolar inputs: the best input word is SIMD 56 (56 bits padded to 64: 14 words, 14 beats of the 64-bit
    # port) or 112 (7 words of 128 bits: 14 beats); SIMD 49 gives 16 x 64 bits -> 16, SIMD 784 1 x 1024 -> 16.
    # 10 x INT8 out: PE 10, 80 bits in a 128-bit word -> 2 beats. 14 cycles: at most 7,142,857 frames/s at 100 MHz
    with pytest.raises(HwgenError, match=r"the AXI DMA needs at least 14 cycles per frame to move 784 x bipolar in and "
                                         r"10 x int8 out .* at most 7,142,857 frames/s"):
        auto_fold(graph, load_board("pynq-z2"), 100.0, target_fps=10e6)


def test_target_needing_more_than_the_board_gives_a_table():
    big = tfc_like(np.random.default_rng(3), widths=(256, 1024, 1024, 10))
    with pytest.raises(HwgenError, match=r"(?s)cheapest folding for 2,000,000 frames/s does not fit pynq-z2.*MVAU_1"):
        auto_fold(big, load_board("pynq-z2"), 100.0, target_fps=2e6)


def test_too_big_for_the_board_gives_a_table():
    rng = np.random.default_rng(1)
    big = tfc_like(rng, widths=(1024, 1024, 10), dtype=I(8))  # 8 Mbit of weights: > 140 BRAM36
    with pytest.raises(HwgenError, match=r"(?s)does not fit pynq-z2.*over:.*MVAU_0"):
        auto_fold(big, load_board("pynq-z2"), 100.0)


def test_finn_folding_names_and_ignored_keys(graph, tmp_path):
    path = tmp_path / "finn.json"
    path.write_text(json.dumps({"Defaults": {},
                                "MVAU_hls_0": {"PE": 16, "SIMD": 49, "ram_style": "block", "mem_mode": "internal_decoupled"},
                                "MatrixVectorActivation_1": {"PE": 4, "SIMD": 8, "resType": "lut", "ram_style": "auto"},
                                "StreamingFIFO_rtl_3": {"depth": 64}}))
    folded = apply_folding(graph, read_folding(path))
    m0, m1 = folded.layer("MVAU_0"), folded.layer("MVAU_1")
    assert (m0.pe, m0.simd, m1.pe, m1.simd) == (16, 49, 4, 8)
    assert (m0.ram_style, m0.res_type, m1.ram_style, m1.res_type) == (RamStyle.BLOCK, ResType.AUTO, RamStyle.AUTO, ResType.LUT)
    assert any(isinstance(l, DWC) for l in folded.layers)  # PE 16 -> SIMD 8 needs a converter
    folded.check()


@pytest.mark.parametrize("content,match", [
    ('{"MVAU_9": {"PE": 1}}', "names layers this model does not have: MVAU_9"),
    ('{"MVAU_0": {"PE": 3}}', r"pe=3 must be a divisor of mh=64 \(valid: 1, 2, 4, 8, 16, 32, 64\)"),
    ('{"MVAU_0": {"PE": "4"}}', "PE must be an integer"),
    ('{"MVAU_0": {"PEE": 4}}', "has no folding parameter PEE"),
    ('{"MVAU_0": {"PE": 4, "ram_style": "ultra"}}', "ram_style must be one of 'auto', 'block', 'distributed', not 'ultra'; "
                                                     "UltraRAM cannot be initialized by the bitstream"),
    ('{"MVAU_0": {"resType": "fpga"}}', "restype must be one of 'auto', 'lut', 'dsp', not 'fpga'"),
    ('{"MVAU_0": {"resType": "dsp"}}', "bipolar x bipolar products are XNOR gates"),
    ("[1, 2]", "must hold a JSON object"),
    ("{not json", "is not valid JSON"),
])
def test_bad_folding_files(graph, tmp_path, content, match):
    path = tmp_path / "f.json"
    path.write_text(content)
    with pytest.raises(HwgenError, match=match):
        apply_folding(graph, read_folding(path))


def test_written_folding_reads_back(graph, tmp_path):
    board = load_board("pynq-z2")
    folded = auto_fold(graph, board, 100.0, target_fps=200_000)
    write_folding(folded, tmp_path / "folding.json")
    again = apply_folding(graph, read_folding(tmp_path / "folding.json"))
    def key(g):
        return [(l.name, getattr(l, "pe", None), getattr(l, "simd", None), getattr(l, "ram_style", None),
                 getattr(l, "res_type", None)) for l in g.layers]

    assert key(again) == key(folded)
    assert all(l.ram_style is not RamStyle.AUTO and l.res_type is ResType.LUT for l in folded.layers if isinstance(l, MVAU))


def test_repricing_trades_luts_for_block_ram():
    """A 1024 x 1024 binary layer at 256 cycles (PE 4, SIMD 1024): its 4096-bit x 256 weight table in
    LUTRAM (16K LUTs, what the board's own prices pick over 57 BRAM36) overflows the LUTs; with
    LUTs priced up the same folding keeps its weights in BRAM and fits."""
    rng = np.random.default_rng(5)
    graph = tfc_like(rng, widths=(1024, 1024, 10))
    board = load_board("pynq-z2")
    first = fold_to_cycles(graph, 256, board)
    assert first.layer("MVAU_0").ram_style is RamStyle.DISTRIBUTED
    assert not fits(first, board)[0] and fits(first, board)[1]["LUT"] > board.utilization_cap
    fit = fit_to_cycles(graph, 256, board)
    assert fit.fits, fit.usage
    assert fit.graph.layer("MVAU_0").ram_style is RamStyle.BLOCK
    assert fit.prices.LUT > 1 / board.resources["LUT"]


# --- the fit check counts the FIFOs the build gives the design

def small_cnv():
    """A CNV-like chain: a 20x20x3 8-bit image, 3x3 convolutions of 16, 16 channels, a 2x2 max pool,
    32, 32 channels, bipolar weights and activations, a fully connected layer to 10 accumulators."""
    return conv_net(20, (16, 16, "M", 32, 32), 10, U(8))


def built_usage(b) -> dict:
    """What the build's estimate reports (step_estimate): layers, the FIFOs it was built with, the shell."""
    from hwgen.estimate import total_resources
    from hwgen.estimate.resource_model import SHELL

    return (total_resources(b.graph, b.fifos.depths) + SHELL).usage(b.board.resources)


def fold_and_size(graph, board_name: str, cap: float, tmp_path, fifo_depths="shallow"):
    """The build's folding and FIFO steps, as `hwgen build` runs them."""
    from dataclasses import replace

    from hwgen.build import Build, BuildConfig
    from hwgen.build.steps import step_fifo, step_fold

    config = BuildConfig(board=board_name, utilization_cap=cap, fifo_depths=fifo_depths, synthesize=False)
    b = Build(config, tmp_path, replace(load_board(board_name), utilization_cap=cap))
    (tmp_path / "model").mkdir()
    b.graph = graph
    step_fold(b)
    step_fifo(b)
    return b


@pytest.mark.parametrize("cap", [0.192, 0.194])
def test_automatic_folding_fits_with_the_fifos_it_is_built_with(tmp_path, cap):
    """At these caps the fastest folding of small_cnv on pynq-z2 used to fit only with never-blocking
    FIFOs (LUT 19.18%): the build then shrank them, turning 7 BRAM18 of FIFOs into 155 more LUTs of
    shift registers (LUT 19.48%, over the cap) and built it anyway. The fit check during the search
    counts the FIFOs the build gives the design, so the design the build gets fits with them."""
    b = fold_and_size(small_cnv(), "pynq-z2", cap, tmp_path)
    usage = built_usage(b)
    assert all(v <= cap for v in usage.values()), usage
    assert fits(b.graph, b.board)[1] == usage  # the search saw exactly these FIFOs


def test_fit_check_counts_never_blocking_fifos_when_the_build_keeps_them(tmp_path):
    b = fold_and_size(small_cnv(), "pynq-z2", 0.193, tmp_path, fifo_depths="never-blocking")
    assert b.fifos.depths == b.fifos.never_blocking
    usage = built_usage(b)
    assert all(v <= 0.193 for v in usage.values()), usage
    assert fits(b.graph, b.board, FifoDepths.NEVER_BLOCKING)[1] == usage


@pytest.mark.slow
def test_cnv_w2a2_on_kv260_fits_with_its_fifos(tmp_path):
    """The case a user met: CNV-W2A2 auto-folded for kv260 came out at 85.3% of its LUTs with the
    shallow FIFOs the build gave it ("does NOT fit the 85% cap") and was built anyway."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("brevitas")
    from brevitas.export import export_qonnx

    from hwgen.frontend.load import load_qonnx
    from hwgen.lower import lower
    from hwgen.zoo.cnv import cnv, randomize_batchnorm

    torch.manual_seed(4)
    export_qonnx(randomize_batchnorm(cnv(2, 2), seed=4), torch.zeros(1, 3, 32, 32), export_path=str(tmp_path / "cnv.onnx"))
    b = fold_and_size(lower(load_qonnx(tmp_path / "cnv.onnx"), "cnv"), "kv260", 0.85, tmp_path)
    usage = built_usage(b)
    assert all(v <= 0.85 for v in usage.values()), usage
