"""hwgen.frontend.load: Brevitas exports as they come (sidecars, weights listed as inputs), batch 1 only."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from hwgen.errors import HwgenError, UnsupportedModelError
from hwgen.frontend.load import load_qonnx

pytest.importorskip("torch")
pytest.importorskip("brevitas")
pytest.importorskip("onnxoptimizer")

from tests.e2e.models import (
    MLPSpec,
    build_and_export,
    build_mlp,
    export,
    qonnx_execute,
    random_inputs,
)

SPEC = MLPSpec(hidden=(12,), in_features=10, out_features=4, weight_bits=3, act_bits=2, bias=True, name="tiny")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    _, path = build_and_export(SPEC, folder)
    return path


def _execute(model, x: np.ndarray) -> np.ndarray:
    from qonnx.core.onnx_exec import execute_onnx

    iname, oname = model.graph.input[0].name, model.graph.output[0].name
    return np.concatenate([execute_onnx(model, {iname: x[i : i + 1]})[oname] for i in range(len(x))])


def _initializers(proto) -> dict[str, np.ndarray]:
    return {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}


def test_sidecar_loads(exported, tmp_path, monkeypatch):
    """Weights in a `.data` file beside the .onnx (as the dynamo exporter may write them), loaded from another cwd."""
    proto = onnx.load(str(exported))
    folder = tmp_path / "model"
    folder.mkdir()
    path = folder / "ext.onnx"
    onnx.save(proto, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location="ext.onnx.data",
              size_threshold=0)
    stored = onnx.load(str(path), load_external_data=False)
    assert any(t.data_location == TensorProto.EXTERNAL for t in stored.graph.initializer)
    assert (folder / "ext.onnx.data").stat().st_size > 0

    monkeypatch.chdir(tmp_path)  # the sidecar is found beside the model, not in the working directory
    model = load_qonnx(path)
    inline = load_qonnx(exported)
    a, b = _initializers(model.model), _initializers(inline.model)
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    x = random_inputs(SPEC, 3, seed=0)
    np.testing.assert_array_equal(_execute(model, x), qonnx_execute(exported, x))


def test_initializer_inputs_dropped(exported, tmp_path):
    """The dynamo exporter lists weights as graph inputs too; here every one of them is."""
    proto = onnx.load(str(exported))
    stored = {t.name for t in proto.graph.initializer}
    real = [i.name for i in proto.graph.input if i.name not in stored]
    listed = {i.name for i in proto.graph.input}
    for t in proto.graph.initializer:
        if t.name not in listed:
            proto.graph.input.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    assert len(proto.graph.input) == len(stored) + 1
    path = tmp_path / "inputs.onnx"
    onnx.save(proto, str(path))

    assert len(real) == 1
    model = load_qonnx(path)
    assert len(model.graph.input) == 1  # (qonnx's cleanup renames it global_in)
    assert model.get_tensor_shape(model.graph.input[0].name) == [1, SPEC.in_features]
    assert len(model.graph.output) == 1
    # weights survive as initializers feeding their quantizers
    quant_inputs = {name for n in model.graph.node if n.op_type in ("Quant", "BipolarQuant") for name in n.input}
    assert sum(model.get_initializer(name) is not None and model.get_initializer(name).ndim == 2 for name in quant_inputs) == 2
    names = [n.name for n in model.graph.node]
    assert len(set(names)) == len(names) and all(names)
    x = random_inputs(SPEC, 3, seed=1)
    np.testing.assert_array_equal(_execute(model, x), qonnx_execute(exported, x))


def _with_input_dims(exported, tmp_path, dims) -> str:
    proto = onnx.load(str(exported))
    stored = {t.name for t in proto.graph.initializer}
    inp = next(i for i in proto.graph.input if i.name not in stored)
    shape = inp.type.tensor_type.shape
    for d, value in zip(shape.dim, dims):
        d.Clear()
        if isinstance(value, str):
            d.dim_param = value
        elif value is not None:
            d.dim_value = value
    path = tmp_path / "changed.onnx"
    onnx.save(proto, str(path))
    return path


def test_symbolic_batch_rejected(exported, tmp_path):
    path = _with_input_dims(exported, tmp_path, ["N", SPEC.in_features])
    with pytest.raises(UnsupportedModelError,
                       match=r"input '.*' must have a fixed shape, not \['N', 10\]\n  hint: export with a fixed-size example input"):
        load_qonnx(path)


def test_unknown_dimension_rejected(exported, tmp_path):
    path = _with_input_dims(exported, tmp_path, [1, None])
    with pytest.raises(UnsupportedModelError, match=r"must have a fixed shape"):
        load_qonnx(path)


def test_batch_not_one_rejected(tmp_path):
    model = build_mlp(SPEC)
    import torch
    from brevitas.export import export_qonnx

    path = tmp_path / "batch4.onnx"
    export_qonnx(model, torch.from_numpy(random_inputs(SPEC, 4, seed=0)), export_path=str(path))
    with pytest.raises(UnsupportedModelError, match=r"must have batch size 1, not 4\n  hint: export with a batch-1 example input"):
        load_qonnx(path)


def test_batch_dim_edited_rejected(exported, tmp_path):
    path = _with_input_dims(exported, tmp_path, [8, SPEC.in_features])
    with pytest.raises(UnsupportedModelError, match=r"must have batch size 1, not 8"):
        load_qonnx(path)


def test_two_outputs_rejected(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y1, y2 = (helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 4]) for n in ("y1", "y2"))
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y1"]), helper.make_node("Relu", ["x"], ["y2"])],
                              "two", [x], [y1, y2])
    path = tmp_path / "two_out.onnx"
    onnx.save(helper.make_model(graph), str(path))
    with pytest.raises(UnsupportedModelError, match=r"exactly one output, found 2"):
        load_qonnx(path)


def test_no_free_input_rejected(tmp_path):
    w = numpy_helper.from_array(np.ones((1, 4), dtype=np.float32), "w")
    winp = helper.make_tensor_value_info("w", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    graph = helper.make_graph([helper.make_node("Relu", ["w"], ["y"])], "const", [winp], [y], initializer=[w])
    path = tmp_path / "const.onnx"
    onnx.save(helper.make_model(graph), str(path))
    with pytest.raises(UnsupportedModelError, match=r"exactly one input without a stored value, found 0: none"):
        load_qonnx(path)


def test_loads_from_str_and_keeps_the_file(exported):
    before = exported.read_bytes()
    load_qonnx(str(exported))
    assert exported.read_bytes() == before


def test_not_a_model(tmp_path):
    path = tmp_path / "x.onnx"
    path.write_bytes(b"\x00\x01garbage" * 10)
    with pytest.raises(HwgenError, match=r"cannot read .*x\.onnx as an ONNX model: the file is damaged, truncated or not ONNX \(\w+: "):
        load_qonnx(path)


def test_export_helper_writes_batch_one(tmp_path):
    model = build_mlp(SPEC)
    path = export(model, tmp_path / "m.onnx")
    raw = onnx.load(str(path))
    stored = {t.name for t in raw.graph.initializer}
    (inp,) = [i for i in raw.graph.input if i.name not in stored]
    assert [d.dim_value for d in inp.type.tensor_type.shape.dim] == [1, SPEC.in_features]
