"""The support check: which ops hwgen maps is the lowering's handler table, and the build checks it when it loads."""

from __future__ import annotations

import json

import onnx
import pytest
from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper

import hwgen
from hwgen.errors import UnsupportedModelError
from hwgen.frontend.check import OP_ORIGINS, check_supported
from hwgen.lower import HANDLERS


def test_every_supported_op_says_where_it_comes_from():
    assert set(OP_ORIGINS) == set(HANDLERS)


def float_model(*ops: str) -> onnx.ModelProto:
    """(1, 4) float in, the element-wise `ops` one after the other, out."""
    names = ["x"] + [f"t{i}" for i in range(len(ops))]
    nodes = [helper.make_node(op, [a], [b], name=f"{op}_{i}") for i, (op, a, b) in enumerate(zip(ops, names[:-1], names[1:]))]
    graph = helper.make_graph(nodes, "float_ops", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info(names[-1], TensorProto.FLOAT, [1, 4])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_check_names_every_unsupported_node_and_the_supported_ops():
    model = ModelWrapper(float_model("Relu", "Tanh", "Erf"))
    with pytest.raises(UnsupportedModelError) as info:
        check_supported(model, HANDLERS)
    text = str(info.value)
    assert text.startswith("2 unsupported nodes in the model:\n")
    assert "node 'Tanh_1' (op Tanh): replace it by a quantized HardTanh" in text
    assert "node 'Erf_2' (op Erf): no hardware mapping for this operator" in text
    assert "'Relu_0'" not in text
    assert f"hint: supported ONNX ops: {', '.join(sorted(HANDLERS))}" in text
    check_supported(model, {"Relu", "Tanh", "Erf"})  # the list is the caller's: these pass


def test_a_host_only_op_before_the_input_quantizer_is_refused_even_when_listed():
    model = ModelWrapper(float_model("Relu", "Sigmoid"))
    with pytest.raises(UnsupportedModelError, match=r"node 'Sigmoid_1' \(op Sigmoid\): no hardware layer computes it and it "
                                                    r"comes before the input quantizer"):
        check_supported(model, {"Relu", "Sigmoid"})


def test_the_build_refuses_an_unsupported_model_when_it_loads_it(tmp_path):
    path = tmp_path / "sigmoid.onnx"
    onnx.save(float_model("Sigmoid"), str(path))
    with pytest.raises(UnsupportedModelError, match=r"node 'Sigmoid_0' \(op Sigmoid\)"):
        hwgen.build(path, out_dir=tmp_path / "build", synthesize=False)
    record = json.loads((tmp_path / "build" / "hwgen.json").read_text())
    assert (record["status"], record["step"]) == ("failed", "load")
    assert not (tmp_path / "build" / "model" / "model_clean.onnx").exists()  # a refused model is not written as cleaned
