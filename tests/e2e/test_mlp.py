"""Brevitas MLPs end to end: export, hwgen.build, and three levels that must agree.

For every model: the build's own verification says IR == C-sim; then, independently here,
  - C-sim integers (Accelerator.execute_integers) == the IR numpy reference, bit for bit,
  - C-sim float outputs (Accelerator.execute) ~ qonnx execute_onnx of the exported file, frame
    by frame, within a thousandth of an output step (any flipped level is a whole step),
  - the same against the PyTorch model itself,
  - the same argmax on every frame (up to exact ties, which the integer outputs of low-bit
    networks have often).
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("brevitas")
pytest.importorskip("onnxoptimizer")

import hwgen
from hwgen.driver import Accelerator
from hwgen.frontend.load import load_qonnx
from hwgen.ir import reference
from hwgen.ir.layers import MVAU, Thresholding, divisors
from hwgen.lower import lower
from tests.e2e.models import (
    MLPSpec,
    build_and_export,
    hidden_levels,
    output_lsb,
    qonnx_execute,
    random_inputs,
    tfc,
    torch_outputs,
)

FRAMES = 48  # frames compared here against QONNX and PyTorch
VERIFY_FRAMES = 16  # frames the build itself compares against QONNX


def assert_close(ours: np.ndarray, golden: np.ndarray, lsb: np.ndarray, what: str) -> None:
    ours, golden = ours.reshape(len(ours), -1), golden.reshape(len(golden), -1)
    assert ours.shape == golden.shape, f"{what}: shape {ours.shape} != {golden.shape}"
    tol = 1e-3 * np.broadcast_to(lsb, golden.shape[1:]) + 1e-6 * np.abs(golden).max()
    bad = np.abs(ours - golden) > tol
    if bad.any():
        frame = int(np.argwhere(bad)[0][0])
        raise AssertionError(f"{what}: {int(bad.sum())} of {bad.size} elements differ by more than 1/1000 of an output "
                             f"step; first in frame {frame}:\n  {ours[frame]}\n  {golden[frame]}")


def assert_same_argmax(ours: np.ndarray, golden: np.ndarray, lsb: np.ndarray, what: str) -> None:
    """Our top class is golden's top class, or ties with it in golden."""
    ours, golden = ours.reshape(len(ours), -1), golden.reshape(len(golden), -1)
    tol = 1e-3 * float(np.min(lsb))
    picked = golden[np.arange(len(golden)), ours.argmax(axis=1)]
    wrong = np.flatnonzero(picked < golden.max(axis=1) - tol)
    assert not len(wrong), f"{what}: argmax differs on frames {wrong.tolist()}"


def check_model(model, onnx_path, b, frames: int = FRAMES, seed: int = 1) -> None:
    """Every comparison of the module docstring, on `frames` random inputs."""
    assert b.verification.ir_vs_csim["bit_exact"], b.verification
    assert b.verification.ir_vs_csim["frames"] >= VERIFY_FRAMES
    assert json.loads((b.out_dir / "hwgen.json").read_text())["status"] == "complete"
    spec = model.spec
    x = random_inputs(spec, frames, seed)
    acc = Accelerator(b.out_dir, backend="csim")

    levels = acc.quantize(x)
    got = acc.execute_integers(levels)
    expected = reference.run(b.graph, levels)
    np.testing.assert_array_equal(got, expected, err_msg="C-sim integers differ from the IR numpy reference")
    assert got.shape == (frames, spec.out_features)

    ours = acc.execute(x)
    golden = qonnx_execute(onnx_path, x)
    theirs = torch_outputs(model, x)
    assert ours.shape == golden.shape == (frames, spec.out_features)
    lsb = output_lsb(model)
    assert_close(ours, golden, lsb, "C-sim vs QONNX")
    assert_close(theirs, golden, lsb, "PyTorch vs QONNX")
    assert_close(ours, theirs, lsb, "C-sim vs PyTorch")
    assert_same_argmax(ours, golden, lsb, "C-sim vs QONNX")
    assert_same_argmax(ours, theirs, lsb, "C-sim vs PyTorch")


def build(path, out_dir, **kwargs):
    return hwgen.build(path, out_dir=out_dir, verify_frames=VERIFY_FRAMES, **kwargs)


# -- TFC ------------------------------------------------------------------------------
@pytest.mark.parametrize("bits", [(1, 1), (2, 2), (4, 4)], ids=["w1a1", "w2a2", "w4a4"])
def test_tfc(tmp_path, bits):
    weight_bits, act_bits = bits
    model, path = build_and_export(tfc(weight_bits, act_bits, seed=weight_bits), tmp_path)
    # the randomized batch norms make every hidden level occur: thresholds are not trivial
    assert hidden_levels(model, random_inputs(model.spec, 256, 0)) == [2 ** act_bits] * 3
    b = build(path, tmp_path / "build")
    mvaus = [l for l in b.graph.layers if isinstance(l, MVAU)]
    assert [(l.mh, l.mw) for l in mvaus] == [(64, 784), (64, 64), (64, 64), (10, 64)]
    assert all(l.w_dtype.bits == weight_bits for l in mvaus)
    assert [l.out_dtype.bits for l in mvaus[:3]] == [act_bits] * 3
    assert mvaus[-1].thresholds is None  # last layer streams its accumulator
    check_model(model, path, b)


def _pick_divisor(n: int, avoid: set[int], prefer_full: bool) -> int:
    """A divisor of n not in `avoid` (n itself when prefer_full), from the middle of the choices."""
    options = [d for d in divisors(n) if d not in avoid] or [d for d in divisors(n) if d != max(avoid)]
    if prefer_full and n in options:
        return n
    middle = [d for d in options if 1 < d < n]
    return middle[len(middle) // 2] if middle else options[-1]


def test_tfc_custom_folding(tmp_path):
    """A folding file that sets every layer, each value neither 1 nor what automatic folding picks."""
    from hwgen.boards import load_board
    from hwgen.fold import auto_fold

    model, path = build_and_export(tfc(4, 4, seed=5, requant_bits=5), tmp_path)
    graph = lower(load_qonnx(path))
    assert any(isinstance(l, Thresholding) for l in graph.layers), "requant_bits should give a standalone Thresholding"
    board = load_board("pynq-z2")
    auto = {l.name: l for l in auto_fold(graph, board, board.clock_mhz).foldable}
    folding = {}
    for i, layer in enumerate(graph.foldable):
        a = auto[layer.name]
        if isinstance(layer, MVAU):  # one layer with PE = MH, one with SIMD = MW
            folding[layer.name] = {"PE": _pick_divisor(layer.mh, {1, a.pe}, i == 1),
                                   "SIMD": _pick_divisor(layer.mw, {1, a.simd}, i == 2)}
        else:
            folding[layer.name] = {"PE": _pick_divisor(layer.channels, {1, a.pe}, False)}
    assert len(folding) >= 5
    assert all(v not in (1, getattr(auto[k], key.lower())) for k, entry in folding.items() for key, v in entry.items())
    folding_file = tmp_path / "folding.json"
    folding_file.write_text(json.dumps(folding))

    b = build(path, tmp_path / "build", folding=folding_file)
    got = {l.name: {"PE": l.pe, **({"SIMD": l.simd} if isinstance(l, MVAU) else {})} for l in b.graph.foldable}
    assert got == folding
    written = json.loads((tmp_path / "build" / "model" / "folding.json").read_text())
    assert {k: {key: v for key, v in entry.items() if key in ("PE", "SIMD")} for k, entry in written.items()} == folding
    # the file did not choose the MVAUs' memories and multipliers: hwgen's defaults, written out
    assert all(entry["ram_style"] == entry["resType"] == "auto" for k, entry in written.items() if "SIMD" in entry)
    assert json.loads((tmp_path / "build" / "deploy" / "accelerator.json").read_text())["folding"] == folding
    check_model(model, path, b)


# -- variants -------------------------------------------------------------------------
SMALL = MLPSpec(hidden=(37, 24), in_features=48, out_features=7, weight_bits=3, act_bits=3)

VARIANTS = {  # name: changes to SMALL; the default run builds the first few, all are slow-marked after
    "perchannel_bias_hardtanh": dict(per_channel=True, bias=True, act="hardtanh"),
    "unsigned_identity_int_out": dict(input="unsigned", act="identity", output_bits=4),
    "bipolar_in_mixed_bits": dict(input="bipolar", weight_bits=(1, 8, 5), act_bits=(2, 1)),
    "bits_8_1_2_relu_out": dict(weight_bits=(8, 1, 2), act_bits=(8, 1), output_bits=3, output_act="relu",
                                per_channel=True),
    # slow
    "w1a1_small": dict(weight_bits=1, act_bits=1, hidden=(40, 32)),
    "w1a1_bipolar_out": dict(weight_bits=1, act_bits=1, output_bits=1, bias=True),
    "relu_bias_perchannel": dict(per_channel=True, bias=True),
    "identity_narrow": dict(act="identity"),
    "unsigned_in_4bit": dict(input="unsigned", input_bits=4),
    "signed_in_5bit_requant": dict(input_bits=5, requant_bits=2),
    "bipolar_in_w1a1": dict(input="bipolar", weight_bits=1, act_bits=1),
    "a8_w8_per_channel": dict(weight_bits=8, act_bits=8, per_channel=True, bias=True),
    "bits_1_to_8": dict(hidden=(37, 24, 19, 11, 9, 8, 13), weight_bits=(1, 2, 3, 4, 5, 6, 7, 8),
                        act_bits=(8, 7, 6, 5, 4, 3, 2), act="hardtanh"),
    "hardtanh_int_out_bias": dict(act="hardtanh", output_bits=8, output_act="hardtanh", bias=True),
    "deep_narrow": dict(hidden=(5, 3, 6), in_features=9, out_features=2, weight_bits=4, act_bits=2),
    "tfc_w2a2_seed7_bias": dict(hidden=(64, 64, 64), in_features=784, out_features=10, image=True,
                                weight_bits=2, act_bits=2, bias=True, seed=7),
}
DEFAULT_VARIANTS = list(VARIANTS)[:4]




def _variant_params():
    return [pytest.param(name, id=name, marks=[] if name in DEFAULT_VARIANTS else [pytest.mark.slow]) for name in VARIANTS]


@pytest.mark.parametrize("name", _variant_params())
def test_variant(tmp_path, name):
    spec = replace(SMALL, name=name, **VARIANTS[name])
    model, path = build_and_export(spec, tmp_path)
    bits = list(spec.layer_act_bits) + ([spec.output_bits] if spec.output_bits else [])
    levels = hidden_levels(model, random_inputs(spec, 256, 0))
    assert len(levels) == len(bits)
    assert all(n >= max(2, min(2 ** b - 1, 8)) for n, b in zip(levels, bits)), f"quantizers use few levels: {levels}"
    b = build(path, tmp_path / "build")
    mvaus = [l for l in b.graph.layers if isinstance(l, MVAU)]
    assert [l.mh for l in mvaus] == list(spec.hidden) + [spec.out_features]
    assert (mvaus[-1].thresholds is None) == (spec.output_bits is None)
    check_model(model, path, b)


@pytest.mark.slow
@pytest.mark.parametrize("changes", [dict(), dict(weight_bits=1, act_bits=1, output_bits=2, bias=True, per_channel=True)],
                         ids=["w3a3_bias", "w1a1_out2"])
def test_torchscript_exporter(tmp_path, changes):
    """The older exporter (dynamo=False) writes Transpose + MatMul for binary weights."""
    spec = replace(SMALL, name="legacy", **{"bias": True, **changes})
    model, path = build_and_export(spec, tmp_path, dynamo=False)
    b = build(path, tmp_path / "build")
    check_model(model, path, b)


# -- regressions of hwgen bugs found here --------------------------
def test_w1a1_argmax_ties_do_not_fail_the_build(tmp_path):
    # 6 binary products per output: 10 outputs share 7 values, most frames have tied top classes
    spec = replace(SMALL, name="ties", weight_bits=1, act_bits=1, hidden=(6,), in_features=20, out_features=10)
    model, path = build_and_export(spec, tmp_path)
    b = hwgen.build(path, out_dir=tmp_path / "build", verify_frames=100)
    check_model(model, path, b)


def test_rebuild_into_same_folder(tmp_path):
    """Two models built one after the other into one folder, in one process: the second build's
    C-sim must run the second library (the loader caches shared libraries by path)."""
    out = tmp_path / "build"
    for seed in (0, 1):
        model, path = build_and_export(replace(SMALL, name=f"seed{seed}", seed=seed), tmp_path)
        b = build(path, out)
        check_model(model, path, b, frames=8)
