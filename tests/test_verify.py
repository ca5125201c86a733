"""hwgen.verify: C-sim loop counts against the cycle model, and the accelerator against QONNX
execution in output quantization steps, rounding ties explained by QONNX in float64."""

from __future__ import annotations

import importlib
import json
from dataclasses import replace

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import hwgen
from hwgen.datatypes import DataType
from hwgen.errors import HwgenError
from hwgen.estimate import cycles
from hwgen.frontend.load import load_qonnx
from hwgen.ir.layers import MVAU
from hwgen.lower import lower
from hwgen.verify import _conv2d, compare_cycles, compare_qonnx, random_inputs
from tests.conftest import chain
from tests.kinds.test_dwc import mvau

QONNX_DOMAIN = "qonnx.custom_op.general"
build_module = importlib.import_module("hwgen.build.steps")  # the steps run_build runs (STEPS)
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


# -- the QONNX gate: output quantization steps, rounding ties ------------------------


def test_compare_qonnx_counts_in_output_steps():
    step = np.array([0.5, 2.0])  # per output element
    golden = np.array([[1.0, 4.0], [1.0, 4.0], [1.0, 4.0], [1.0, 4.0]], dtype=np.float32)
    ours = np.array([[1.0 + 3e-7, 4.0],  # float32 rounding: equal
                     [1.24, 4.9],  # under half a step: the same level
                     [1.5, 4.0],  # one step: a level apart, and nothing explains it (no model given)
                     [1.0, 8.0]])  # two steps
    q = compare_qonnx(golden, ours, step)
    assert (q["elements"], q["elements_differing"], q["elements_beyond_one_step"], q["elements_failing"]) == (8, 2, 1, 2)
    assert [(p["frame"], p["element"], p["steps_apart"]) for p in q["failing"]] == [(2, 0, 1.0), (3, 1, 2.0)]
    assert q["failing"][0]["accelerator"] == 1.5 and q["failing"][0]["qonnx"] == 1.0
    assert not q["passed"] and q["max_steps_apart"] == 2.0
    assert compare_qonnx(golden[:2], ours[:2], step[None])["passed"]  # a step array of any shape with that many elements


def _output_step(**output):
    from hwgen.driver import Accelerator

    acc = object.__new__(Accelerator)  # the step needs only the output's metadata, no library
    acc.output = {"elems": int(np.prod(output["shape"][1:])), "dtype": "int8", "layout": "flat", **output}
    return acc.output_step()


def test_output_step_in_the_models_layout():
    affine = {"op": "affine", "add": 0.0}
    # a (1, 3, 2, 2) map streams channels last: channel c's step everywhere in its (2, 2) plane
    step = _output_step(shape=[1, 3, 2, 2], layout="nhwc", ops=[{**affine, "mul": np.array([1.0, -2.0, 3.0])}])
    np.testing.assert_array_equal(step, np.array([1.0, 2.0, 3.0])[:, None, None] * np.ones((3, 2, 2)))
    # flat, stream element j is ONNX feature perm[j]
    step = _output_step(shape=[1, 3], perm=[2, 0, 1], ops=[{**affine, "mul": np.array([10.0, 20.0, 30.0])}])
    assert step.tolist() == [20.0, 30.0, 10.0]
    # a bipolar stream's levels -1 and +1 are two apart
    assert _output_step(shape=[1, 2], dtype="bipolar", ops=[{**affine, "mul": 0.5}]).tolist() == [1.0, 1.0]


def _conv_node(**attrs):
    return helper.make_node("Conv", ["x", "w", "b"], ["y"], name="Conv_t", **attrs)


@pytest.mark.parametrize("attrs", [{}, {"pads": [1, 0, 2, 1], "strides": [2, 1]}, {"group": 2, "dilations": [2, 1]},
                                   {"kernel_shape": [3, 2], "pads": [0, 2, 0, 1], "strides": [1, 3]}])
def test_float64_conv_equals_onnx_reference(attrs):
    """The float64 Conv of the tie explanation against onnx's own reference implementation (float64)."""
    from onnx.reference import ReferenceEvaluator

    rng = np.random.default_rng(1)
    groups = attrs.get("group", 1)
    x, w, b = rng.normal(size=(1, 4, 7, 9)), rng.normal(size=(6, 4 // groups, 3, 2)), rng.normal(size=6)
    node = _conv_node(**attrs)
    graph = helper.make_graph([node], "conv", [helper.make_tensor_value_info(n, TensorProto.DOUBLE, None) for n in "xwb"],
                              [helper.make_tensor_value_info("y", TensorProto.DOUBLE, None)])
    reference = ReferenceEvaluator(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]))
    expected = reference.run(None, {"x": x, "w": w, "b": b})[0]
    got = _conv2d(node, {"x": x, "w": w, "b": b})
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def _quant(name, x, out, bits, inits, scale=1.0):
    inits += [numpy_helper.from_array(np.asarray(scale, np.float32), f"{name}_scale"),
              numpy_helper.from_array(np.asarray(0.0, np.float32), f"{name}_zero"),
              numpy_helper.from_array(np.asarray(float(bits), np.float32), f"{name}_bits")]
    return helper.make_node("Quant", [x, f"{name}_scale", f"{name}_zero", f"{name}_bits"], [out], name=name,
                            domain=QONNX_DOMAIN, signed=1, narrow=0, rounding_mode="ROUND")


def tiny_qonnx(path, weights: np.ndarray, mul: float, then: np.ndarray | None = None):
    """x -> Quant (int4, scale 1) -> MatMul with int2 weights -> Mul by `mul` -> Quant (int4, scale 1): the
    output level is clip(round(acc * mul)), acc = the input levels times the weights, computable by hand.
    With `then` (int2 weights), a second MatMul follows whose accumulator is the output."""
    inits = [numpy_helper.from_array(np.asarray(weights, np.float32).T.copy(), "W"),
             numpy_helper.from_array(np.asarray(mul, np.float32), "mul")]
    last = "out" if then is None else "h"
    nodes = [_quant("Quant_in", "x", "xq", 4, inits), _quant("Quant_w", "W", "Wq", 2, inits),
             helper.make_node("MatMul", ["xq", "Wq"], ["acc"], name="MatMul_0"),
             helper.make_node("Mul", ["acc", "mul"], ["y"], name="Mul_0"), _quant("Quant_out", "y", last, 4, inits)]
    if then is not None:
        inits.append(numpy_helper.from_array(np.asarray(then, np.float32).T.copy(), "W2"))
        nodes += [_quant("Quant_w2", "W2", "W2q", 2, inits), helper.make_node("MatMul", ["h", "W2q"], ["out"], name="MatMul_1")]
    out_f, in_f = (weights if then is None else then).shape[0], weights.shape[1]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, in_f])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, out_f])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(QONNX_DOMAIN, 1)]), str(path))
    return path


def _accumulators(path, weights, frames=100, seed=0):
    """The verification inputs of a build (seeded) and, by hand, their accumulators (input scale 1: levels = round(x))."""
    x = random_inputs(lower(load_qonnx(path)), frames, seed)
    return x, np.clip(np.round(x.astype(np.float64)), -8, 7) @ np.asarray(weights, np.float64).T


def test_rounding_ties_are_explained_and_pass(tmp_path):
    """float32(0.7) * 5 = 3.49999994 exactly: hwgen (exact) gives level 3, QONNX in float32 computes
    3.5 and rounds half to even, to 4. Those elements are a level apart, and only those."""
    weights = np.array([[1, 0, 0], [0, 1, 1]])
    path = tiny_qonnx(tmp_path / "ties.onnx", weights, 0.7)
    _, acc = _accumulators(path, weights)
    assert float(np.float32(0.7)) * 5 < 3.5 and np.float32(5) * np.float32(0.7) == np.float32(3.5)
    at_tie = np.abs(acc) == 5
    assert at_tie.sum() >= 10  # today's gate (at most 1% of elements differing) fails this model

    b = hwgen.build(path, out_dir=tmp_path / "build", synthesize=False)
    q = b.verification.qonnx_vs_csim
    assert q["passed"] and q["elements_beyond_one_step"] == 0
    assert [(p["frame"], p["element"]) for p in q["differing"]] == [tuple(i) for i in np.argwhere(at_tie)]
    assert q["elements_differing"] == q["elements_explained_as_ties"] == int(at_tie.sum())
    for p in q["differing"]:
        level = np.sign(acc[p["frame"], p["element"]]) * 3
        assert (p["accelerator"], p["qonnx"], p["qonnx_float64"], p["explained"]) == (level, level + np.sign(level), level, True)
    tie = q["ties"][0]
    assert (tie["frame"], tie["element"]) == tuple(np.argwhere(at_tie)[0])
    assert abs(tie["pre_rounding_float32"]) == 3.5 and abs(tie["pre_rounding_float64"]) == float(np.float32(0.7)) * 5
    assert json.loads((tmp_path / "build" / "report" / "verification.json").read_text())["qonnx_vs_csim"]["ties"] == q["ties"]


def test_a_tie_in_a_hidden_layer_carried_two_steps_passes_explained(tmp_path):
    """The tie of the test above in a hidden layer, then weight -2: QONNX's float32 output is two output
    steps from the accelerator's. QONNX in float64 gives the accelerator's value on every such element, so
    the build passes and says how many elements a hidden tie moved more than one step (LPYOLO-416 has
    hundreds of these per frame); verification.json lists each with its tie."""
    weights = np.array([[1, 0, 0]])
    path = tiny_qonnx(tmp_path / "hidden.onnx", weights, 0.7, then=np.array([[-2]]))
    _, acc = _accumulators(path, weights)
    frames = np.flatnonzero(np.abs(acc[:, 0]) == 5)
    assert len(frames) > 0
    b = hwgen.build(path, out_dir=tmp_path / "build", synthesize=False)
    q = json.loads((tmp_path / "build" / "report" / "verification.json").read_text())["qonnx_vs_csim"]
    assert q["passed"] and q["elements_failing"] == 0
    assert q["elements_differing"] == q["elements_beyond_one_step"] == q["elements_explained_as_ties"] == len(frames)
    level = np.sign(acc[frames[0], 0]) * 3  # hidden level: float64 3, QONNX's float32 4 (sign alike)
    first = q["differing"][0]
    assert (first["frame"], first["accelerator"], first["qonnx"], first["steps_apart"], first["qonnx_float64"], first["explained"]) == (
        frames[0], -2 * level, -2 * (level + np.sign(level)), 2.0, -2 * level, True)
    assert [t["frame"] for t in q["ties"]] == frames.tolist() and {abs(t["pre_rounding_float32"]) for t in q["ties"]} == {3.5}
    summary = (tmp_path / "build" / "report" / "summary.txt").read_text()
    assert f"{len(frames)} moved more than one step by a tie in a hidden layer" in summary
    assert b.verification.qonnx_vs_csim["passed"]


def test_a_threshold_moved_by_one_fails_naming_the_position(tmp_path, monkeypatch):
    """One threshold of the output layer moved by one accumulator step: the accelerator is one output
    level low wherever the accumulator equals the old threshold (here: in one frame). IR and C-sim
    agree (both have the moved threshold); only the comparison with QONNX can see it."""
    weights = np.random.default_rng(4).integers(-1, 2, size=(3, 10))
    path = tiny_qonnx(tmp_path / "model.onnx", weights, 0.2)  # acc * 0.2 is never within 0.1 of a .5 boundary
    _, acc = _accumulators(path, weights)
    last = [l for l in lower(load_qonnx(path)).layers if isinstance(l, MVAU)][-1]
    candidates = [(int((acc[:, c] == last.thresholds[c, j]).sum()), c, j) for c in range(last.mh)
                  for j in range(last.thresholds.shape[1])
                  if j + 1 == last.thresholds.shape[1] or last.thresholds[c, j] < last.thresholds[c, j + 1]]
    hits, c, j = min(t for t in candidates if t[0] > 0)
    assert hits == 1  # one element of 300: today's gate (1%, argmax agreement 95%) lets it through
    frame = int(np.flatnonzero(acc[:, c] == last.thresholds[c, j])[0])
    level = np.clip(np.round(acc[frame, c] * 0.2), -8, 7)

    def lower_then_move_a_threshold(b):
        build_module.step_lower(b)
        moved = [replace(l, thresholds=l.thresholds + (np.arange(l.mh)[:, None] == c) * (np.arange(l.thresholds.shape[1]) == j))
                 if l.name == last.name else l for l in b.graph.layers]
        b.graph = b.graph.with_layers(moved)

    monkeypatch.setattr(build_module, "STEPS", [(n, lower_then_move_a_threshold if n == "lower" else s) for n, s in build_module.STEPS])
    out = tmp_path / "build"
    with pytest.raises(HwgenError) as info:
        hwgen.build(path, out_dir=out, synthesize=False)
    message = str(info.value)
    assert "in 1 of 300 output elements where QONNX computing in float64 does not give the accelerator's value" in message, message
    assert (f"frame {frame}, output element {c}: accelerator {level - 1:g}, QONNX {level:g} "
            f"(1 step apart; QONNX in float64: {level:g})") in message
    record = json.loads((out / "hwgen.json").read_text())
    assert (record["status"], record["step"]) == ("failed", "verify")
    assert not (out / "deploy" / "accelerator.json").exists()
    q = json.loads((out / "report" / "verification.json").read_text())["qonnx_vs_csim"]
    assert q["failing"] == [{"frame": frame, "element": c, "accelerator": level - 1, "qonnx": level, "steps_apart": 1.0,
                             "qonnx_float64": level, "explained": False}]
    assert q["ties"] == []  # float32 and float64 QONNX round every quantizer alike


def test_an_accelerator_wrong_everywhere_is_examined_in_float64_for_ten_frames_only(tmp_path):
    """Each differing frame costs two QONNX runs; once ten frames are unexplained the build fails
    anyway, and the rest are reported unexamined (unexplained), not run."""
    from hwgen.verify import MAX_UNEXPLAINED_FRAMES, qonnx_outputs

    weights = np.random.default_rng(4).integers(-1, 2, size=(3, 10))
    path = tiny_qonnx(tmp_path / "model.onnx", weights, 0.2)
    model = load_qonnx(path)
    x = random_inputs(lower(model), 25, 0)
    golden = qonnx_outputs(model, x)
    wrong = golden + np.where(golden < 7, 1.0, -1.0)  # one step (scale 1) off, inside the int4 range
    q = compare_qonnx(golden, wrong, np.ones(3), model=model, x=x)
    assert (q["elements_differing"], q["elements_failing"], q["elements_unexplained"]) == (75, 75, 75)
    examined = [p for p in q["failing"] if p["qonnx_float64"] is not None]
    assert sorted({p["frame"] for p in examined}) == list(range(MAX_UNEXPLAINED_FRAMES))
    assert all(p["qonnx_float64"] == p["qonnx"] for p in examined)  # no ties: float64 gives QONNX's values
    skipped = f"15 more frames with differing elements not run in float64: {MAX_UNEXPLAINED_FRAMES} frames were unexplained already"
    assert q["float64_errors"] == [skipped]
    assert not q["passed"]
