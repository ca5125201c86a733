"""Smoke test for hwgen.zoo.digits: train briefly, export to QONNX, execute with qonnx."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("brevitas")
pytest.importorskip("sklearn")
onnx = pytest.importorskip("onnx")
pytest.importorskip("qonnx")

N_FRAMES = 5


def test_digits_mlp_train_export_qonnx(tmp_path) -> None:
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.util.cleanup import cleanup_model

    from hwgen.zoo.digits import DigitsMLP, export, load_digits_split, predict, train

    x_train, y_train, x_test, y_test = load_digits_split(seed=0)
    assert x_train.dtype == np.float32 and x_train.shape[1:] == (1, 8, 8)
    assert y_train.dtype == np.int64
    assert len(x_train) + len(x_test) == 1797
    assert np.all(x_test * 16 == np.round(x_test * 16)) and x_test.max() <= 1.0

    torch.manual_seed(0)
    model = DigitsMLP(weight_bits=2, act_bits=2)
    train(model, x_train, y_train, epochs=2, seed=0, verbose=False)

    onnx_path = export(model, tmp_path / "model.onnx")
    assert onnx_path.exists()
    # self-contained: the export left no external-data sidecar behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]

    proto = onnx.load(str(onnx_path), load_external_data=False)
    assert not any(
        t.data_location == onnx.TensorProto.EXTERNAL for t in proto.graph.initializer
    )
    # without the exporter's notes (per-node stack traces with this machine's paths, class names)
    assert not any(n.metadata_props or n.doc_string for n in proto.graph.node)
    op_types = [n.op_type for n in proto.graph.node]
    assert op_types.count("Quant") == 6  # input + 3 weights + 2 activations
    assert op_types.count("Gemm") == 3

    qmodel = cleanup_model(ModelWrapper(str(onnx_path)))
    iname = qmodel.graph.input[0].name
    oname = qmodel.graph.output[0].name
    frames = x_test[:N_FRAMES]
    torch_logits = predict(model, frames)
    for i, frame in enumerate(frames):
        out = execute_onnx(qmodel, {iname: frame[None]})[oname]
        assert out.shape == (1, 10)
        assert int(np.argmax(out)) == int(np.argmax(torch_logits[i]))
        np.testing.assert_allclose(out[0], torch_logits[i], rtol=1e-4, atol=1e-4)
