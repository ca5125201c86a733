"""Raw integer inputs end to end: a model without input quantizer whose QONNX input is annotated with an
integer datatype (UINT8 camera pixels, as FINN's LPYOLO build does) streams its values unchanged;
C-sim == numpy reference bit for bit, == QONNX execution of the annotated model on the same values.

(The other raw-pixel convention, a scale-1/255 8-bit input quantizer, is in test_conv.py and test_lpyolo.py.)
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import hwgen
from hwgen.ir import reference
from hwgen.zoo.lpyolo import calibrate_batchnorm

torch = pytest.importorskip("torch")
qnn = pytest.importorskip("brevitas.nn")


def export_annotated(model, shape, path, datatype: str):
    from brevitas.export import export_qonnx
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper

    export_qonnx(model, torch.zeros(shape), export_path=str(path))
    m = ModelWrapper(str(path))
    m.set_tensor_datatype(m.graph.input[0].name, DataType[datatype])
    m.save(str(path))
    return path


def test_uint8_annotated_camera_frames_stream_unchanged(tmp_path):
    from hwgen.frontend.load import load_qonnx
    from hwgen.verify import qonnx_outputs

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        qnn.QuantConv2d(3, 6, 3, padding=1, bias=False, weight_bit_width=8, weight_scaling_per_output_channel=True,
                        input_quant=None),
        torch.nn.BatchNorm2d(6), qnn.QuantReLU(bit_width=4, return_quant_tensor=True), torch.nn.MaxPool2d(2),
        qnn.QuantConv2d(6, 4, 3, padding=1, bias=False, weight_bit_width=4))
    calibrate_batchnorm(model, torch.randint(0, 256, (16, 3, 8, 10)).float())  # on pixel values, as the model is fed
    path = export_annotated(model, (1, 3, 8, 10), tmp_path / "raw.onnx", "UINT8")
    b = hwgen.build(path, out_dir=tmp_path / "build", synthesize=False, verify_frames=8)
    assert b.verification.ir_vs_csim["bit_exact"] and b.verification.qonnx_vs_csim["elements_differing"] == 0
    meta = json.loads((tmp_path / "build" / "deploy" / "accelerator.json").read_text())
    assert meta["input"]["quant"]["op"] == "integer" and meta["input"]["dtype"] == "uint8"
    assert meta["input"]["pixels_are_levels"] is True

    acc = hwgen.Accelerator(tmp_path / "build")
    frames = np.random.default_rng(3).integers(0, 256, size=(6, 8, 10, 3), dtype=np.uint8)  # N, H, W, C: camera order
    ints = acc.execute_integers(frames.reshape(6, -1))  # the bytes as they come
    np.testing.assert_array_equal(ints, reference.run(b.graph, frames.reshape(6, -1).astype(np.int64)))
    x = frames.transpose(0, 3, 1, 2).astype(np.float32)  # the same values as the model's (N, C, H, W) float input
    np.testing.assert_array_equal(acc.quantize(x), frames.reshape(6, -1))  # "quantizing" changes nothing
    golden = qonnx_outputs(load_qonnx(path), x)
    np.testing.assert_allclose(acc.execute(x), golden, rtol=1e-6, atol=1e-6 * np.abs(golden).max())
    assert len(np.unique(golden)) > 20

    fraction, too_big = x.copy(), x.copy()
    fraction[0, 0, 0, 0], too_big[1, 2, 3, 4] = 0.5, 300
    with pytest.raises(ValueError, match=r"input value 0.5 at index \(0, 0, 0, 0\) is not a UINT8 value"):
        acc.execute(fraction)
    with pytest.raises(ValueError, match=r"input value 300.0 at index \(1, 2, 3, 4\)(.|\n)*integers in \[0, 255\]"):
        acc.execute(too_big)


def test_bipolar_annotated_input(tmp_path):
    torch.manual_seed(1)
    model = torch.nn.Sequential(
        qnn.QuantLinear(24, 16, bias=False, weight_bit_width=2, input_quant=None), torch.nn.BatchNorm1d(16),
        qnn.QuantReLU(bit_width=2, return_quant_tensor=True), qnn.QuantLinear(16, 4, bias=False, weight_bit_width=2))
    calibrate_batchnorm(model, 2 * torch.randint(0, 2, (64, 24)).float() - 1, seed=1)
    path = export_annotated(model, (1, 24), tmp_path / "bipolar.onnx", "BIPOLAR")
    b = hwgen.build(path, out_dir=tmp_path / "build", synthesize=False, verify_frames=16)
    assert str(b.graph.input.dtype) == "bipolar"
    assert b.verification.ir_vs_csim["bit_exact"] and b.verification.qonnx_vs_csim["elements_differing"] == 0
    acc = hwgen.Accelerator(tmp_path / "build")
    x = np.where(np.random.default_rng(0).random((4, 24)) < 0.5, -1.0, 1.0).astype(np.float32)
    with torch.no_grad():
        torch_out = np.asarray(model(torch.from_numpy(x)))
    assert len(np.unique(torch_out.round(5), axis=0)) == 4  # four inputs, four different outputs
    np.testing.assert_allclose(acc.execute(x), torch_out, rtol=1e-4, atol=1e-5)
    x[0, 3] = 0
    with pytest.raises(ValueError, match=r"input value 0.0 at index \(0, 3\) is not a BIPOLAR value"):
        acc.execute(x)
