"""Unsupported or malformed inputs: one HwgenError naming the node, its op type and what is supported.

Every case goes through hwgen.build, as a user's model would, and the failed build must say so
in hwgen.json and leave no deploy/accelerator.json (the driver's sign of a finished build).
"""

from __future__ import annotations

import json
import re

import onnx
import pytest
from onnx import TensorProto, helper

import hwgen
from hwgen.errors import HwgenError, UnsupportedModelError

torch = pytest.importorskip("torch")
pytest.importorskip("brevitas")
pytest.importorskip("onnxoptimizer")

import brevitas.nn as qnn
from brevitas.quant import (
    Int8ActPerTensorFloatMinMaxInit,
    SignedBinaryWeightPerTensorConst,
    Uint8ActPerTensorFloatMaxInit,
)
from torch import nn

from tests.e2e.models import MLPSpec, build_and_export

SUPPORTED = r"supported ONNX ops: Add, ArgMax, BatchNormalization, BipolarQuant"


def quant_input():
    return qnn.QuantIdentity(act_quant=Int8ActPerTensorFloatMinMaxInit, bit_width=8, min_val=-1.0, max_val=1.0,
                             return_quant_tensor=True)


def quant_relu():
    return qnn.QuantReLU(act_quant=Uint8ActPerTensorFloatMaxInit, bit_width=3, max_val=2.0, return_quant_tensor=True)


def qlinear(i, o):
    return qnn.QuantLinear(i, o, bias=False, weight_bit_width=3)


def export(tmp_path, name, *layers, shape=(1, 20)):
    from brevitas.export import export_qonnx

    torch.manual_seed(0)
    model = nn.Sequential(*layers).eval()
    path = tmp_path / f"{name}.onnx"
    export_qonnx(model, torch.rand(*shape), export_path=str(path))
    return path


def assert_failed_build(out_dir, error: str) -> None:
    record = json.loads((out_dir / "hwgen.json").read_text())
    assert record["status"] == "failed"
    assert error.splitlines()[0] in record["error"]
    assert not (out_dir / "deploy" / "accelerator.json").exists()


def build_fails(path, tmp_path, match: str, kind=HwgenError, **kwargs) -> HwgenError:
    out = tmp_path / "build"
    with pytest.raises(kind, match=match) as info:
        hwgen.build(path, out_dir=out, verify_frames=4, **kwargs)
    assert_failed_build(out, str(info.value))
    return info.value


# -- unsupported models ---------------------------------------------------------------
def test_average_pool(tmp_path):
    path = export(tmp_path, "avgpool", quant_input(), qnn.QuantConv2d(1, 4, 3, weight_bit_width=3), quant_relu(),
                  nn.AvgPool2d(2), nn.Flatten(), qlinear(4 * 3 * 3, 5), shape=(1, 1, 8, 8))
    err = build_fails(path, tmp_path, r"node 'AveragePool_0' \(op AveragePool\): average pooling is not supported yet",
                      UnsupportedModelError)
    assert "1 unsupported node" in str(err) and SUPPORTED in str(err)


def test_grouped_conv(tmp_path):
    path = export(tmp_path, "grouped", quant_input(), qnn.QuantConv2d(2, 4, 3, groups=2, weight_bit_width=3), quant_relu(),
                  nn.Flatten(), qlinear(4 * 6 * 6, 5), shape=(1, 2, 8, 8))
    build_fails(path, tmp_path, r"node 'Conv_0' \(Conv\): grouped convolutions \(group=2\) are not supported yet",
                UnsupportedModelError)


@pytest.mark.parametrize("act,op,says", [
    (nn.Sigmoid, "Sigmoid", r"no hardware layer computes it, so it runs on the host after the last hardware layer, but node "
                            r"'Quant_\d+' \(Quant\) follows it; move it to the model's end \(or replace it by a quantized HardTanh"),
    (nn.Tanh, "Tanh", r"replace it by a quantized HardTanh")])
def test_float_nonlinearity(tmp_path, act, op, says):
    """In the middle of the model: a Sigmoid could run on the host only after the last layer, a Tanh nowhere."""
    path = export(tmp_path, op, quant_input(), qlinear(20, 16), act(), quant_input(), qlinear(16, 5))
    err = build_fails(path, tmp_path, rf"node '{op}_0' \(op {op}\): {says}", UnsupportedModelError)
    assert SUPPORTED in str(err)


def test_every_unsupported_node_in_one_error(tmp_path):
    """Sigmoid and Tanh in the middle cannot be placed; the Softmax at the end runs on the host."""
    path = export(tmp_path, "two_bad", quant_input(), qlinear(20, 16), nn.Sigmoid(), quant_input(), qlinear(16, 8),
                  nn.Tanh(), quant_input(), qlinear(8, 5), nn.Softmax(dim=-1))
    err = build_fails(path, tmp_path, r"2 unsupported nodes in the model", UnsupportedModelError)
    for op in ("Sigmoid", "Tanh"):
        assert f"(op {op})" in str(err)
    assert "Softmax" not in str(err).split("hint:")[0]


def test_host_only_op_before_the_input_quantizer(tmp_path):
    """Sigmoid's float32 result differs in the last bits between implementations: not before the quantizer."""
    path = export(tmp_path, "sig_in", nn.Sigmoid(), quant_input(), qlinear(20, 5))
    build_fails(path, tmp_path, r"node 'Sigmoid_0' \(op Sigmoid\): no hardware layer computes it and it comes before the "
                                r"input quantizer, where the host runs only Mul, Add, Sub, Div", UnsupportedModelError)


class Permuted(nn.Module):
    """A transpose between two convolutions: no hardware layer transposes, and the host's part cannot be in the middle."""

    def __init__(self):
        super().__init__()
        self.a = nn.Sequential(quant_input(), qnn.QuantConv2d(2, 4, 3, weight_bit_width=3), quant_relu())
        self.b = nn.Sequential(qnn.QuantConv2d(4, 4, 3, weight_bit_width=3), quant_relu(), nn.Flatten(), qlinear(4 * 2 * 3, 5))

    def forward(self, x):
        y = self.a(x)
        return self.b(getattr(y, "value", y).transpose(2, 3))


def test_transpose_in_the_middle(tmp_path):
    from brevitas.export import export_qonnx

    path = tmp_path / "permuted.onnx"
    export_qonnx(Permuted().eval(), torch.rand(1, 2, 7, 6), export_path=str(path))
    err = build_fails(path, tmp_path, r"node 'Transpose_0' \(Transpose\): no hardware layer transposes a tensor, so it can run "
                                      r"only on the host, after the last hardware layer; but its output reaches node 'Conv_1' "
                                      r"\(Conv\)", UnsupportedModelError)
    assert "move it after the model's last quantized layer" in str(err)


class Ends(nn.Module):
    def __init__(self, end):
        super().__init__()
        self.net, self.end = nn.Sequential(quant_input(), qlinear(20, 16), quant_relu(), qlinear(16, 6)), end

    def forward(self, x):
        return self.end(self.net(x))


@pytest.mark.parametrize("end,match", [
    (lambda y: torch.argmax(y, dim=0, keepdim=True), r"node 'ArgMax_0' \(ArgMax\): ArgMax over axis 0, the batch axis"),
    (lambda y: torch.topk(y, 3, dim=1, sorted=False).values, r"node 'TopK_0' \(TopK\): TopK with sorted=0")],
    ids=["argmax_batch_axis", "topk_unsorted"])
def test_host_op_the_host_cannot_reproduce(tmp_path, end, match):
    from brevitas.export import export_qonnx

    path = tmp_path / "ends.onnx"
    export_qonnx(Ends(end).eval(), torch.rand(1, 20), export_path=str(path))
    build_fails(path, tmp_path, match, UnsupportedModelError)


@pytest.mark.parametrize("where", ["first", "last"])
def test_float_linear(tmp_path, where):
    layers = [quant_input(), nn.Linear(20, 16), quant_relu(), qlinear(16, 5)] if where == "first" else \
             [quant_input(), qlinear(20, 16), quant_relu(), nn.Linear(16, 5)]
    node = "Gemm_0" if where == "first" else "Gemm_1"
    err = build_fails(export(tmp_path, "float", *layers), tmp_path,
                      rf"node '{node}' \(Gemm\): the weights are not quantized", UnsupportedModelError)
    assert "use brevitas.nn.QuantLinear" in str(err)


def test_no_input_quantizer(tmp_path):
    path = export(tmp_path, "noquant", qlinear(20, 16), quant_relu(), qlinear(16, 5))
    err = build_fails(path, tmp_path, r"node 'Gemm_0' \(Gemm\): the model input reaches this Gemm unquantized",
                      UnsupportedModelError)
    assert "QuantIdentity" in str(err)


@pytest.mark.parametrize("between", [None, nn.ReLU], ids=["nothing", "float_relu"])
def test_linear_after_linear(tmp_path, between):
    middle = [between()] if between else []
    path = export(tmp_path, "twolin", quant_input(), qlinear(20, 16), *middle, qlinear(16, 5))
    err = build_fails(path, tmp_path, r"node 'Gemm_1' \(Gemm\): its input is the output of linear node 'Gemm_0' "
                                      r"with no activation quantizer in between", UnsupportedModelError)
    assert "QuantReLU, QuantIdentity, QuantHardTanh" in str(err)


def test_binary_weights_on_float_input(tmp_path):
    path = export(tmp_path, "binfloat", qnn.QuantLinear(20, 5, bias=False, weight_quant=SignedBinaryWeightPerTensorConst))
    build_fails(path, tmp_path, r"node 'Gemm_0' \(Gemm\): the model input reaches this Gemm unquantized", UnsupportedModelError)


def test_two_inputs(tmp_path):
    a, b = (helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 4]) for n in "ab")
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    graph = helper.make_graph([helper.make_node("Add", ["a", "b"], ["y"], name="add")], "two", [a, b], [y])
    path = tmp_path / "two.onnx"
    onnx.save(helper.make_model(graph), str(path))
    build_fails(path, tmp_path, r"exactly one input without a stored value, found 2: a, b", UnsupportedModelError)


# -- files that are not models --------------------------------------------------------
def test_not_onnx(tmp_path):
    path = tmp_path / "notes.onnx"
    path.write_text("this is not a model\n")
    err = build_fails(path, tmp_path, r"cannot read .*notes\.onnx as an ONNX model")
    assert "brevitas.export.export_qonnx" in str(err)


def test_missing_file(tmp_path):
    build_fails(tmp_path / "nowhere.onnx", tmp_path, r"model file not found: .*nowhere\.onnx")


def test_folder_instead_of_file(tmp_path):
    (tmp_path / "dir.onnx").mkdir()
    build_fails(tmp_path / "dir.onnx", tmp_path, r"model file not found: .*dir\.onnx")


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    spec = MLPSpec(hidden=(12,), in_features=10, out_features=4, weight_bits=2, act_bits=2, name="small")
    _, path = build_and_export(spec, tmp_path_factory.mktemp("small"))
    return path


@pytest.mark.parametrize("fraction", [0.5, 0.9])
def test_truncated_onnx(tmp_path, small_model, fraction):
    data = small_model.read_bytes()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: int(len(data) * fraction)])
    build_fails(path, tmp_path, r"cannot read .*cut\.onnx as an ONNX model")


def test_missing_sidecar(tmp_path, small_model):
    proto = onnx.load(str(small_model))
    path = tmp_path / "ext.onnx"
    onnx.save(proto, str(path), save_as_external_data=True, location="ext.onnx.data", size_threshold=0)
    (tmp_path / "ext.onnx.data").unlink()
    err = build_fails(path, tmp_path, r"cannot read .*ext\.onnx as an ONNX model")
    assert "ext.onnx.data" in str(err) and "keep any .data file beside the .onnx" in str(err)


# -- folding files --------------------------------------------------------------------
@pytest.mark.parametrize("text,match", [
    ('{"MVAU_7": {"PE": 1, "SIMD": 1}}',
     r"names layers this model does not have: MVAU_7\n  hint: the model's foldable layers are MVAU_0, MVAU_1"),
    ('{"MVAU_0": {"PE": 1, "SIMD": 3}}', r"MVAU 'MVAU_0': simd=3 must be a divisor of mw=10 \(valid: 1, 2, 5, 10\)"),
    ('{"MVAU_1": {"PE": 3, "SIMD": 1}}', r"MVAU 'MVAU_1': pe=3 must be a divisor of mh=4 \(valid: 1, 2, 4\)"),
    ('{"MVAU_0": {"PE": 2, "SIMD": -5}}', r"simd=-5 must be a divisor of mw=10"),
    ('MVAU_0: PE=2', r"folding file .*folding\.json is not valid JSON"),
    ('[{"PE": 2}]', r"must hold a JSON object, not list"),
    ('{"MVAU_0": 4}', r"entry for MVAU_0 must be an object like"),
    ('{"MVAU_0": {"PE": "2"}}', r"MVAU_0 PE must be an integer, not '2'"),
    ('{"MVAU_0": {"PE": 2.0}}', r"MVAU_0 PE must be an integer, not 2.0"),
    ('{"MVAU_0": {"PE": 2, "SIMDD": 2}}', r"MVAU_0 has no folding parameter SIMDD"),
], ids=["unknown_layer", "simd_not_divisor", "pe_not_divisor", "negative", "not_json", "list", "not_object",
        "string", "float", "typo"])
def test_bad_folding(tmp_path, small_model, text, match):
    folding = tmp_path / "folding.json"
    folding.write_text(text)
    build_fails(small_model, tmp_path, match, folding=folding)


def test_missing_folding_file(tmp_path, small_model):
    build_fails(small_model, tmp_path, r"folding file not found: .*nofold\.json", folding=tmp_path / "nofold.json")


@pytest.mark.parametrize("key", ["PE", "SIMD"])
def test_zero_folding(tmp_path, small_model, key):
    folding = tmp_path / "folding.json"
    folding.write_text(json.dumps({"MVAU_0": {key: 0}}))
    build_fails(small_model, tmp_path, rf"{key.lower()}=0", folding=folding)


def test_failed_rebuild_removes_the_finished_mark(tmp_path, small_model):
    """A folder that held a finished build is no longer one after a failed rebuild."""
    out = tmp_path / "build"
    hwgen.build(small_model, out_dir=out, verify_frames=4)
    assert json.loads((out / "hwgen.json").read_text())["status"] == "complete"
    assert (out / "deploy" / "accelerator.json").is_file()
    folding = tmp_path / "folding.json"
    folding.write_text('{"MVAU_0": {"SIMD": 3}}')
    with pytest.raises(HwgenError, match="simd=3") as info:
        hwgen.build(small_model, out_dir=out, folding=folding, verify_frames=4)
    assert_failed_build(out, str(info.value))
    with pytest.raises(FileNotFoundError, match="not a finished hwgen build"):
        hwgen.Accelerator(out)


# -- options --------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,match", [
    (dict(board="pynq-z9"), r"unknown board 'pynq-z9'\n  hint: choose one of: .*pynq-z2"),
    (dict(verify_frames=0), r"verify_frames must be at least 1, not 0"),
    (dict(clock_mhz=-5.0), r"clock_mhz must be in \(0, 1000\], not -5.0"),
])
def test_bad_options(tmp_path, small_model, kwargs, match):
    with pytest.raises(HwgenError, match=match):
        hwgen.build(small_model, out_dir=tmp_path / "build", **kwargs)



# -- models too large for the board -----------------------------------------------------
def test_model_too_large_for_the_board(tmp_path):
    """A 1024-1024-1024-10 MLP with 8-bit weights (17 Mbit; pynq-z2 has 4.9 Mbit of BRAM): one error with
    the per-layer table of the cheapest folding, what is over, and what to change; found in seconds
    (a hopeless design is not FIFO-sized)."""
    import time

    layers = [qnn.QuantIdentity(bit_width=8, return_quant_tensor=True)]
    for fan_in, fan_out in ((1024, 1024), (1024, 1024)):
        layers += [qnn.QuantLinear(fan_in, fan_out, bias=False, weight_bit_width=8), qnn.QuantReLU(bit_width=4, return_quant_tensor=True)]
    layers.append(qnn.QuantLinear(1024, 10, bias=False, weight_bit_width=8))
    path = export(tmp_path, "wide", *layers, shape=(1, 1024))
    t0 = time.perf_counter()
    err = build_fails(path, tmp_path, r"even the cheapest folding \(every layer as small as it can be made\) does not fit pynq-z2 "
                                      r"within its 85% utilization cap \(over: .*BRAM36 \d+%")
    assert time.perf_counter() - t0 < 120  # generous: the point is no RTL-style simulation of a hopeless design
    text = str(err)
    assert "MVAU_0" in text and "MVAU_1" in text and "memory/mult" in text
    assert re.search(r"BRAM36: the board has 140, 85% of it is 119; the most go to MVAU_\d [\d.]+, MVAU_\d", text), text
    assert "pick a larger board" in text
    # a larger board takes it
    out = tmp_path / "zcu104"
    b = hwgen.build(path, board="zcu104", out_dir=out, verify_frames=4, synthesize=False)
    assert b.estimates.fits and (out / "deploy" / "accelerator.json").is_file()
