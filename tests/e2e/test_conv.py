"""Convolutional Brevitas models end to end: C-sim == numpy reference bit for bit, ≈ QONNX execution."""

from __future__ import annotations

import numpy as np
import pytest

import hwgen
from hwgen.ir import reference

torch = pytest.importorskip("torch")
qnn = pytest.importorskip("brevitas.nn")


def randomize_bn(model, gen):
    for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        n = bn.num_features
        bn.running_mean.copy_(torch.randn(n, generator=gen) * 2)
        bn.running_var.copy_(torch.empty(n).uniform_(1, 8, generator=gen))
        bn.weight.data.copy_(torch.empty(n).uniform_(-1.5, 2.5, generator=gen))
        bn.bias.data.copy_(torch.empty(n).uniform_(0.0, 2.0, generator=gen))


def conv_block(cin, cout, k, bits, stride=1, padding=0, bias=False):
    return [qnn.QuantConv2d(cin, cout, k, stride=stride, padding=padding, bias=bias, weight_bit_width=bits),
            torch.nn.BatchNorm2d(cout), qnn.QuantReLU(bit_width=bits, return_quant_tensor=True)]


MODELS = {
    # CNV-like: 3x3 no padding, max pool 2, then FC
    "cnv_small": lambda: ([qnn.QuantIdentity(bit_width=8, return_quant_tensor=True)] + conv_block(3, 8, 3, 2)
                          + conv_block(8, 8, 3, 2) + [torch.nn.MaxPool2d(2)] + conv_block(8, 16, 3, 2)
                          + [torch.nn.Flatten(), qnn.QuantLinear(16 * 2 * 2, 10, bias=False, weight_bit_width=2)], (1, 3, 12, 12)),
    # stride 2, padding 1, odd channels, non-square input, maxpool k3 s2, 1x1 conv, bias
    "irregular": lambda: ([qnn.QuantIdentity(bit_width=8, return_quant_tensor=True)] + conv_block(3, 10, 3, 4, stride=2, padding=1)
                          + [torch.nn.MaxPool2d(3, stride=2)] + conv_block(10, 37, 1, 3, bias=True)
                          + conv_block(37, 5, (1, 3), 4)
                          + [torch.nn.Flatten(), qnn.QuantLinear(5 * 2 * 1, 7, bias=True, weight_bit_width=4)], (1, 3, 10, 14)),
    # no pooling; asymmetric zero padding (ZeroPad2d folds into the Conv's pads), 5x5 stride 3, W1A2 mix
    "no_pool_asym_pad": lambda: ([qnn.QuantIdentity(bit_width=6, return_quant_tensor=True), torch.nn.ZeroPad2d((1, 0, 2, 0))]
                                 + conv_block(1, 6, 5, 2, stride=3) + conv_block(6, 9, 2, 3)
                                 + [torch.nn.Flatten(), qnn.QuantLinear(9 * 2 * 1, 4, bias=False, weight_bit_width=3)], (1, 1, 11, 9)),
    # max pool with padding, a last conv without activation quantizer (the output is a feature map)
    "pool_pad_map_out": lambda: ([qnn.QuantIdentity(bit_width=8, return_quant_tensor=True)] + conv_block(2, 6, 3, 4, padding=1)
                                 + [torch.nn.MaxPool2d(3, stride=2, padding=1),
                                    qnn.QuantConv2d(6, 4, 1, bias=True, weight_bit_width=4)], (1, 2, 9, 7)),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_conv_model(tmp_path, name):
    from brevitas.export import export_qonnx

    from hwgen.frontend.load import load_qonnx
    from hwgen.verify import qonnx_outputs, random_inputs

    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    layers, shape = MODELS[name]()
    model = torch.nn.Sequential(*layers)
    randomize_bn(model, gen)
    model.eval()
    path = tmp_path / "m.onnx"
    export_qonnx(model, torch.zeros(shape), export_path=str(path))
    b = hwgen.build(path, out_dir=tmp_path / "build", verify_frames=16)
    assert b.verification.ir_vs_csim["bit_exact"]
    acc = hwgen.Accelerator(tmp_path / "build")
    x = random_inputs(b.graph, 16, seed=1)
    levels = acc.quantize(x)
    np.testing.assert_array_equal(acc.execute_integers(levels), reference.run(b.graph, levels))
    ours = acc.execute(x).reshape(16, -1)
    golden = qonnx_outputs(load_qonnx(path), x).reshape(16, -1)
    with torch.no_grad():
        torch_out = model(torch.from_numpy(x))
    torch_out = np.asarray(getattr(torch_out, "value", torch_out)).reshape(16, -1)  # a QuantTensor or a tensor
    step = np.abs(golden).max() * 1e-4 + 1e-6
    assert np.abs(ours - golden).max() <= step, np.abs(ours - golden).max()
    assert np.abs(torch_out - golden).max() <= 1e-3 * max(1.0, np.abs(golden).max())
    assert (ours.argmax(1) == golden.argmax(1)).mean() >= 0.9
    kinds = {type(l).__name__ for l in b.graph.layers}
    assert {"SWG", "MVAU"} <= kinds


def test_camera_pixels_stream_as_they_are(tmp_path):
    """With an unsigned 8-bit input quantizer of scale 1/255, uint8 (N, H, W, C) frames are the stream."""
    import json

    from brevitas.export import export_qonnx
    from brevitas.quant import Uint8ActPerTensorFloat

    class Pixels(Uint8ActPerTensorFloat):
        scaling_impl_type = "const"
        max_val = 1.0  # scale 1/255

    torch.manual_seed(0)
    model = torch.nn.Sequential(qnn.QuantIdentity(act_quant=Pixels, return_quant_tensor=True), *conv_block(3, 4, 3, 4),
                                torch.nn.Flatten(), qnn.QuantLinear(4 * 4 * 6, 3, bias=False, weight_bit_width=4)).eval()
    path = tmp_path / "m.onnx"
    export_qonnx(model, torch.zeros(1, 3, 6, 8), export_path=str(path))
    hwgen.build(path, out_dir=tmp_path / "build", verify_frames=4)
    meta = json.loads((tmp_path / "build" / "deploy" / "accelerator.json").read_text())
    assert meta["input"]["layout"] == "nhwc" and meta["input"]["pixels_are_levels"] is True
    acc = hwgen.Accelerator(tmp_path / "build")
    frames = np.random.default_rng(0).integers(0, 256, size=(5, 6, 8, 3), dtype=np.uint8)  # N, H, W, C
    from_pixels = acc.execute_integers(frames.reshape(5, -1))
    from_floats = acc.execute_integers(acc.quantize(frames.transpose(0, 3, 1, 2).astype(np.float32) / 255))
    np.testing.assert_array_equal(from_pixels, from_floats)
