"""Host pre- and post-processing around the accelerator, end to end through hwgen.build.

Float ops between the model input and its quantizer run on the host in float32, so the input
levels must equal QONNX's bit for bit; Softmax, ArgMax, TopK, Transpose, ... after the last
hardware layer run on the host too. Every build verifies against QONNX itself; the tests check
again here, the input levels bit for bit against QONNX's input quantizer, and the layers
(C-sim) against the numpy reference.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import hwgen
from hwgen.ir import reference

torch = pytest.importorskip("torch")
qnn = pytest.importorskip("brevitas.nn")

from brevitas.quant import Int8ActPerTensorFloatMinMaxInit  # noqa: E402
from torch import nn  # noqa: E402


def export(model, shape, path):
    from brevitas.export import export_qonnx

    export_qonnx(model.eval(), torch.rand(*shape), export_path=str(path))
    return path


def qonnx_input_quantizer(path, x: np.ndarray) -> np.ndarray:
    """QONNX's output of the model's input quantizer (its first Quant/BipolarQuant on a computed tensor),
    per frame, in the stream's order (channels-last for feature maps), flattened."""
    from qonnx.core.onnx_exec import execute_onnx

    from hwgen.frontend.load import load_qonnx

    model = load_qonnx(path)
    node = next(n for n in model.graph.node if n.op_type in ("Quant", "BipolarQuant") and model.get_initializer(n.input[0]) is None)
    iname = model.graph.input[0].name
    out = np.concatenate([execute_onnx(model, {iname: x[i:i + 1]}, return_full_exec_context=True)[node.output[0]]
                          for i in range(len(x))])
    return (out.transpose(0, 2, 3, 1) if out.ndim == 4 else out).reshape(len(x), -1)


def dequantized(acc, levels: np.ndarray) -> np.ndarray:
    """The input quantizer's float32 output from our levels, as QONNX computes it: (level - zero) * scale."""
    q = acc.input["quant"]
    return ((levels.astype(np.float32) - np.float32(q.get("zero_point", 0.0))) * np.float32(q["scale"])).astype(np.float32)


def check_against_qonnx(path, out_dir, x: np.ndarray, torch_model=None) -> np.ndarray:
    """Input levels == QONNX's bit for bit, C-sim == numpy reference, outputs vs QONNX (and PyTorch)."""
    from hwgen.frontend.load import load_qonnx
    from hwgen.verify import qonnx_outputs

    acc = hwgen.Accelerator(out_dir)
    levels = acc.quantize(x)
    np.testing.assert_array_equal(dequantized(acc, levels), qonnx_input_quantizer(path, x))
    golden = qonnx_outputs(load_qonnx(path), x)
    ours = acc.execute(x)
    assert ours.shape == golden.shape and ours.dtype == (np.int64 if golden.dtype == np.int64 else np.float32)
    if golden.dtype == np.int64:
        np.testing.assert_array_equal(ours, golden)
    else:
        np.testing.assert_allclose(ours, golden, rtol=1e-5, atol=1e-5 * max(1.0, float(np.abs(golden).max())))
    if torch_model is not None:
        with torch.no_grad():
            expected = torch_model(torch.from_numpy(x))
        expected = np.asarray(getattr(expected, "value", expected))
        if golden.dtype == np.int64:
            np.testing.assert_array_equal(expected, golden)
        else:
            np.testing.assert_allclose(expected, golden, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(golden).max())))
    return ours


def layers_bit_exact(b, out_dir, x):
    acc = hwgen.Accelerator(out_dir)
    levels = acc.quantize(x)
    np.testing.assert_array_equal(acc.execute_integers(levels), reference.run(b.graph, levels))


# -- Brevitas's own bnn_pynq models --------------------------------------------------------
def bnn_pynq_case(tmp_path, name: str, frames: int):
    from hwgen.zoo.bnn_pynq import INPUT_SHAPES, bnn_pynq
    from hwgen.zoo.bnn_pynq import export as export_bnn

    model = bnn_pynq(name, seed=1)
    path = export_bnn(model, name, tmp_path / f"{name}.onnx")
    b = hwgen.build(path, out_dir=tmp_path / "build", synthesize=False, verify_frames=frames)
    assert b.verification.ir_vs_csim["bit_exact"]
    assert b.verification.qonnx_vs_csim["elements_differing"] == 0
    # images in [0, 1] as the models are trained on, and pixels k/255 (2x - 1 lands exactly on 0 nowhere, but near)
    rng = np.random.default_rng(2)
    x = rng.random((frames,) + INPUT_SHAPES[name][1:]).astype(np.float32)
    x[: frames // 2] = np.round(x[: frames // 2] * 255) / np.float32(255)
    x.reshape(-1)[::97] = 0.5  # 2 * 0.5 - 1 == 0: the sign's tie (bipolar: +1)
    ours = check_against_qonnx(path, tmp_path / "build", x, model)
    layers_bit_exact(b, tmp_path / "build", x)
    assert len(set(ours.argmax(1))) > 1  # the randomized norms make the classes differ
    return b


def test_bnn_pynq_tfc_w1a1(tmp_path):
    b = bnn_pynq_case(tmp_path, "tfc_1w1a", frames=32)
    # their forward: x.view(N, -1), then 2.0 * x - tensor([1.0]), then the bipolar input quantizer
    assert [op["op"] for op in b.graph.input.pre_ops] == ["reshape", "mul", "sub"]
    assert b.graph.input.pre_ops[0]["shape"] == [1, 784]
    assert float(b.graph.input.pre_ops[1]["value"]) == 2.0 and np.asarray(b.graph.input.pre_ops[2]["value"]).tolist() == [1.0]
    assert b.graph.input.quant["op"] == "bipolar_quant" and str(b.graph.input.dtype) == "bipolar"
    meta = json.loads((tmp_path / "build" / "deploy" / "accelerator.json").read_text())
    assert [op["op"] for op in meta["input"]["pre_ops"]] == ["reshape", "mul", "sub"]
    assert meta["input"]["shape"] == [1, 1, 28, 28] and meta["output"]["post_ops"] == []
    assert meta["input"]["pixels_are_levels"] is False


@pytest.mark.slow
def test_bnn_pynq_cnv_w1a1(tmp_path):
    from hwgen.ir.layers import MVAU, SWG, MaxPool

    b = bnn_pynq_case(tmp_path, "cnv_1w1a", frames=8)
    assert [op["op"] for op in b.graph.input.pre_ops] == ["mul", "sub"]
    q = b.graph.input.quant  # Q1.7: 8 bits, scale 2^-7
    assert (q["bits"], q["signed"], q["scale"]) == (8, True, 2.0 ** -7)
    kinds = [type(l) for l in b.graph.layers]
    assert kinds.count(SWG) == 6 and kinds.count(MaxPool) == 2 and kinds.count(MVAU) == 9


# -- pre-processing ---------------------------------------------------------------------
class Normalized(nn.Module):
    """ImageNet-style (x - mean) / std per channel before an 8-bit input quantizer of a small conv net."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        self.body = nn.Sequential(
            qnn.QuantIdentity(act_quant=Int8ActPerTensorFloatMinMaxInit, bit_width=8, min_val=-2.5, max_val=2.5,
                              return_quant_tensor=True),
            qnn.QuantConv2d(3, 4, 3, bias=False, weight_bit_width=3), nn.BatchNorm2d(4),
            qnn.QuantReLU(bit_width=3, return_quant_tensor=True), nn.Flatten(),
            qnn.QuantLinear(4 * 4 * 4, 5, bias=True, weight_bit_width=3))

    def forward(self, x):
        return self.body((x - self.mean) / self.std)


def test_per_channel_normalization_before_the_input_quantizer(tmp_path):
    from hwgen.driver.ops import apply_ops, quant_int

    torch.manual_seed(0)
    model = Normalized().eval()
    path = export(model, (1, 3, 6, 6), tmp_path / "norm.onnx")
    b = hwgen.build(path, out_dir=tmp_path / "build", synthesize=False, verify_frames=16)
    pre = b.graph.input.pre_ops
    assert [op["op"] for op in pre] == ["sub", "div"]
    np.testing.assert_array_equal(np.asarray(pre[0]["value"]).reshape(-1), np.float32([0.485, 0.456, 0.406]))
    np.testing.assert_array_equal(np.asarray(pre[1]["value"]).reshape(-1), np.float32([0.229, 0.224, 0.225]))
    rng = np.random.default_rng(0)
    x = rng.random((48, 3, 6, 6)).astype(np.float32)
    # inputs at the quantizer's rounding ties, level + 1/2 (as close as float32 gets), where the order of the ops matters
    scale = np.float32(b.graph.input.quant["scale"])
    ties = (rng.integers(-120, 120, size=(16, 3, 6, 6)) + 0.5) * scale
    x = np.concatenate([x, (ties * np.float32([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1)
                            + np.float32([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1)).astype(np.float32)])
    check_against_qonnx(path, tmp_path / "build", x, model)
    # the ties really probe it: one fused float64 affine map instead of QONNX's float32 Sub then Div lands elsewhere
    fused = [{"op": "affine", "mul": 1 / np.asarray(pre[1]["value"], np.float64),
              "add": -np.asarray(pre[0]["value"]) / np.asarray(pre[1]["value"])}]
    q = b.graph.input.quant
    exact = quant_int(apply_ops(x, pre, np.float32), q, np.float32)
    assert np.sum(quant_int(apply_ops(x, fused, np.float64), q) != exact) > 0


def test_scalar_normalization_before_the_input_quantizer(tmp_path):
    """(x - 0.5) / 0.25 before the quantizer of an MLP (hwgen refused it before: 'the model input reaches this Sub unquantized')."""

    class Normalized(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(
                qnn.QuantIdentity(act_quant=Int8ActPerTensorFloatMinMaxInit, bit_width=8, min_val=-1.0, max_val=1.0,
                                  return_quant_tensor=True),
                qnn.QuantLinear(20, 16, bias=False, weight_bit_width=3), qnn.QuantReLU(bit_width=3, return_quant_tensor=True),
                qnn.QuantLinear(16, 5, bias=False, weight_bit_width=3))

        def forward(self, x):
            return self.net((x - 0.5) / 0.25)

    torch.manual_seed(0)
    model = Normalized().eval()
    path = export(model, (1, 20), tmp_path / "normalized.onnx")
    b = hwgen.build(path, out_dir=tmp_path / "build", synthesize=False, verify_frames=16)
    assert [(op["op"], float(np.asarray(op["value"]).reshape(-1)[0])) for op in b.graph.input.pre_ops] == [("sub", 0.5), ("div", 0.25)]
    x = np.random.default_rng(5).uniform(0.2, 0.8, size=(64, 20)).astype(np.float32)
    check_against_qonnx(path, tmp_path / "build", x, model)


# -- post-processing --------------------------------------------------------------------
class End(nn.Module):
    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind

    def forward(self, x):
        x = getattr(x, "value", x)
        if self.kind == "softmax":
            return torch.softmax(x, dim=1)
        if self.kind == "log_softmax_scaled":
            return torch.log_softmax(x, dim=-1) * 0.5 + 3.0
        if self.kind == "sigmoid":
            return torch.sigmoid(x)
        if self.kind == "argmax":
            return torch.argmax(x, dim=1, keepdim=True)
        if self.kind == "top3_values":
            return torch.topk(x, 3, dim=1).values
        if self.kind == "top3_indices":
            return torch.topk(x, 3, dim=1).indices
        raise AssertionError(self.kind)


def mlp(end: str):
    torch.manual_seed(0)
    model = nn.Sequential(
        qnn.QuantIdentity(act_quant=Int8ActPerTensorFloatMinMaxInit, bit_width=8, min_val=-1.0, max_val=1.0, return_quant_tensor=True),
        qnn.QuantLinear(20, 16, bias=True, weight_bit_width=3), nn.BatchNorm1d(16),
        qnn.QuantReLU(bit_width=3, return_quant_tensor=True),
        qnn.QuantLinear(16, 10, bias=True, weight_bit_width=3), End(end))
    with torch.no_grad():
        bn = model[2]
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
    return model.eval()


POST = {"softmax": ["softmax"], "log_softmax_scaled": ["log_softmax", "mul", "add"], "sigmoid": ["sigmoid"],
        "argmax": ["argmax"], "top3_values": ["topk"], "top3_indices": ["topk"]}


@pytest.mark.parametrize("end", [e if e in ("softmax", "argmax", "top3_indices") else pytest.param(e, marks=pytest.mark.slow)
                                 for e in POST])
def test_host_ops_after_the_last_layer(tmp_path, end):
    model = mlp(end)
    path = export(model, (1, 20), tmp_path / f"{end}.onnx")
    b = hwgen.build(path, out_dir=tmp_path / "build", synthesize=False, verify_frames=32)
    out = b.graph.output
    assert [op["op"] for op in out.post_ops] == POST[end]
    assert out.shape == (1, 10) and out.result_shape == {"argmax": (1, 1)}.get(end, (1, 3) if "top3" in end else (1, 10))
    meta = json.loads((tmp_path / "build" / "deploy" / "accelerator.json").read_text())
    assert [op["op"] for op in meta["output"]["post_ops"]] == POST[end] and meta["output"]["result_shape"] == list(out.result_shape)
    x = np.random.default_rng(1).uniform(-1.1, 1.1, size=(64, 20)).astype(np.float32)
    ours = check_against_qonnx(path, tmp_path / "build", x, model)
    if end in ("argmax", "top3_indices"):
        assert len(np.unique(ours[:, 0])) > 2  # the classes vary: the test can tell indices apart


class FeatureMapEnds(nn.Module):
    """NHWC input, transposed to NCHW on the host; a last 1x1 conv (no quantizer) whose feature map is
    transposed back and given a per-pixel softmax over the classes, on the host."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            qnn.QuantIdentity(act_quant=Int8ActPerTensorFloatMinMaxInit, bit_width=8, min_val=-1.0, max_val=1.0,
                              return_quant_tensor=True),
            qnn.QuantConv2d(3, 6, 3, padding=1, bias=False, weight_bit_width=3), nn.BatchNorm2d(6),
            qnn.QuantReLU(bit_width=3, return_quant_tensor=True),
            qnn.QuantConv2d(6, 4, 1, bias=True, weight_bit_width=3))

    def forward(self, x):
        y = self.body(x.permute(0, 3, 1, 2) * 2.0 - 1.0)
        return torch.softmax(getattr(y, "value", y).permute(0, 2, 3, 1), dim=-1)


def test_transposes_around_a_feature_map(tmp_path):
    torch.manual_seed(3)
    model = FeatureMapEnds().eval()
    path = export(model, (1, 5, 4, 3), tmp_path / "maps.onnx")
    b = hwgen.build(path, out_dir=tmp_path / "build", synthesize=False, verify_frames=8)
    assert [op["op"] for op in b.graph.input.pre_ops] == ["transpose", "mul", "sub"]
    assert b.graph.input.shape == (1, 5, 4, 3) and b.graph.input.layout == "nhwc"
    out = b.graph.output
    assert out.layout == "nhwc" and out.shape == (1, 4, 5, 4) and out.result_shape == (1, 5, 4, 4)
    assert [op["op"] for op in out.post_ops] == ["transpose", "softmax"]
    x = np.random.default_rng(4).random((12, 5, 4, 3)).astype(np.float32)
    y = check_against_qonnx(path, tmp_path / "build", x, model)
    np.testing.assert_allclose(y.sum(-1), 1.0, rtol=1e-5)
