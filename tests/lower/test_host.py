"""Lowering of the host's pre- and post-processing (hwgen.lower.host) on hand-made QONNX graphs.

x -> [pre nodes] -> Quant (8 bit) -> MatMul (3-bit weights) -> [post nodes] -> y, built with
onnx.helper, cleaned by hwgen.frontend.load_qonnx as a user's model is; the graph's host ops
are compared with what the nodes say, and the driver's evaluation with onnxruntime's (QONNX's).
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from hwgen.driver.ops import apply_ops, quant_int
from hwgen.errors import UnsupportedModelError
from hwgen.frontend.check import check_supported
from hwgen.frontend.load import load_qonnx
from hwgen.lower import HANDLERS, lower

QONNX = "qonnx.custom_op.general"
F, OUT = 12, 6


def qonnx_model(tmp_path, pre=(), post=(), in_shape=(1, F), inits=(), opset=17, out_type=TensorProto.FLOAT, clean=True,
                w_transposed=False):
    """pre/post: (op_type, [other inputs], attrs) nodes chained on the input and on the MatMul's output, which is
    the node's first input, or where None stands among the others."""
    rng = np.random.default_rng(0)
    nodes, prev = [], "x"
    for i, (op, others, attrs) in enumerate(pre):
        inputs = [prev if o is None else o for o in others] if None in others else [prev, *others]
        nodes.append(helper.make_node(op, inputs, [f"pre{i}"], name=f"pre{i}", **attrs))
        prev = f"pre{i}"
    nodes += [helper.make_node("Quant", [prev, "s", "z", "b8"], ["xq"], domain=QONNX, name="qin", signed=1, narrow=0,
                               rounding_mode="ROUND"),
              helper.make_node("Quant", ["w", "ws", "z", "b3"], ["wq"], domain=QONNX, name="qw", signed=1, narrow=1,
                               rounding_mode="ROUND"),
              *([helper.make_node("Transpose", ["wq"], ["wt"], name="wt", perm=[1, 0])] if w_transposed else []),
              helper.make_node("MatMul", ["xq", "wt" if w_transposed else "wq"], ["acc"], name="mm")]
    prev = "acc"
    for i, (op, others, attrs) in enumerate(post):
        outs = [f"post{i}"] + ([f"post{i}_idx"] if op == "TopK" else [])
        nodes.append(helper.make_node(op, [prev, *others], outs, name=f"post{i}", **attrs))
        prev = outs[-1] if op == "TopK" and attrs.pop("_indices", False) else outs[0]
    params = {"s": np.float32(0.02), "z": np.float32(0), "b8": np.float32(8), "b3": np.float32(3), "ws": np.float32(0.25),
              "w": rng.uniform(-1, 1, size=(F, OUT)).astype(np.float32), **dict(inits)}
    if w_transposed:
        params["w"] = params["w"].T.copy()
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(in_shape))],
                              [helper.make_tensor_value_info(prev, out_type, None)],
                              [numpy_helper.from_array(np.asarray(v), k) for k, v in params.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid(QONNX, 1)])
    if not clean:  # QONNX's cleanup renames only the first of two equal inputs of a node (x * x): shapes only
        from qonnx.core.modelwrapper import ModelWrapper
        from qonnx.transformation.infer_shapes import InferShapes

        return ModelWrapper(model).transform(InferShapes())
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    return load_qonnx(path)


def qonnx_run(model, x):
    from qonnx.core.onnx_exec import execute_onnx

    iname, oname = model.graph.input[0].name, model.graph.output[0].name
    return np.concatenate([execute_onnx(model, {iname: x[i:i + 1]}, return_full_exec_context=True)[oname] for i in range(len(x))])


def test_pre_processing_ops_in_model_order(tmp_path):
    """Transpose, per-channel Sub, reverse Div (c / x), Mul, Reshape before the quantizer: recorded one node each."""
    mean = np.float32([0.1, -0.2, 0.3]).reshape(1, 1, 3)
    model = qonnx_model(tmp_path, in_shape=(1, 2, 3, 2), pre=[
        ("Transpose", [], {"perm": [0, 1, 3, 2]}), ("Sub", ["mean"], {}), ("Div", ["three", None], {}), ("Mul", ["two"], {}),
        ("Reshape", ["shape"], {})], inits={"mean": mean, "two": np.float32(2.0), "three": np.float32(3.0), "shape": np.int64([1, -1])})
    graph = lower(model)
    pre = graph.input.pre_ops
    assert [op["op"] for op in pre] == ["transpose", "sub", "div", "mul", "reshape"]
    assert pre[0]["perm"] == [0, 1, 3, 2] and pre[2]["reverse"] and not pre[1]["reverse"]
    np.testing.assert_array_equal(pre[1]["value"], mean)
    assert pre[4]["shape"] == [1, F]
    assert graph.input.shape == (1, 2, 3, 2) and graph.input.layout == "flat" and graph.input.elems == F
    # the driver's float32 evaluation reaches QONNX's quantizer input bit for bit
    from qonnx.core.onnx_exec import execute_onnx

    x = np.random.default_rng(1).uniform(0.5, 2, size=(20, 2, 3, 2)).astype(np.float32)
    quant_in = next(n for n in model.graph.node if n.op_type == "Quant" and model.get_initializer(n.input[0]) is None).input[0]
    golden = np.concatenate([execute_onnx(model, {model.graph.input[0].name: x[i:i + 1]}, return_full_exec_context=True)[quant_in]
                             for i in range(len(x))])
    np.testing.assert_array_equal(apply_ops(x, list(pre), np.float32), golden)
    np.testing.assert_array_equal(quant_int(golden, graph.input.quant, np.float32),
                                  quant_int(apply_ops(x, list(pre), np.float32), graph.input.quant, np.float32))


@pytest.mark.parametrize("post,ops,shape", [
    ([("Softmax", [], {"axis": -1})], [{"op": "softmax", "axis": 1, "coerced": False}], (1, OUT)),
    ([("Mul", ["half"], {}), ("Sigmoid", [], {}), ("Sub", ["half"], {})],
     [{"op": "sigmoid"}, {"op": "sub", "value": np.float32(0.5), "reverse": False}], (1, OUT)),
    ([("ArgMax", [], {"axis": 1, "keepdims": 0})], [{"op": "argmax", "axis": 1, "keepdims": False, "select_last_index": False}], (1,)),
    ([("TopK", ["k"], {"axis": 1, "_indices": True})],
     [{"op": "topk", "k": 2, "axis": 1, "largest": True, "output": "indices"}], (1, 2)),
    ([("Unsqueeze", ["ax"], {}), ("Transpose", [], {"perm": [0, 2, 1]})],
     None, None),
], ids=["softmax", "mul_sigmoid_sub", "argmax", "topk_indices", "unsupported_unsqueeze"])
def test_post_processing(tmp_path, post, ops, shape):
    inits = {"half": np.float32(0.5), "k": np.int64([2]), "ax": np.int64([2])}
    out_type = TensorProto.INT64 if post[0][0] in ("ArgMax", "TopK") else TensorProto.FLOAT
    model = qonnx_model(tmp_path, post=post, inits=inits, out_type=out_type)
    if ops is None:
        with pytest.raises(UnsupportedModelError, match=r"node 'Unsqueeze_0' \(op Unsqueeze\): no hardware mapping"):
            check_supported(model, HANDLERS)  # the build's load step, before lowering
        return
    graph = lower(model)
    out = graph.output
    assert [op["op"] for op in out.post_ops] == [op["op"] for op in ops]
    for got, expected in zip(out.post_ops, ops):
        assert {k: np.asarray(v).tolist() for k, v in got.items()} == {k: np.asarray(v).tolist() for k, v in expected.items()}
    assert out.result_shape == shape and out.shape == (1, OUT)
    assert len(out.ops) == 1 and out.ops[0]["op"] == "affine"  # the MatMul's scale (and the Mul before a Sigmoid) stay on the stream


def test_softmax_before_opset_13_is_coerced(tmp_path):
    model = qonnx_model(tmp_path, post=[("Softmax", [], {})], opset=11)
    assert lower(model).output.post_ops[0] == {"op": "softmax", "axis": 1, "coerced": True}  # ONNX's default axis 1 then


def test_both_operands_computed_before_the_quantizer(tmp_path):
    model = qonnx_model(tmp_path, pre=[("Mul", ["x", None], {})], clean=False)  # x * x
    with pytest.raises(UnsupportedModelError, match=r"node 'pre0' \(Mul\): both operands of this Mul are computed tensors"):
        lower(model)


def test_reshape_changing_the_batch_axis(tmp_path):
    # (weights of F // 2 rows: the MatMul then fits the reshaped (2, F // 2), as the load step's shape check requires)
    w = np.random.default_rng(0).uniform(-1, 1, size=(F // 2, OUT)).astype(np.float32)
    model = qonnx_model(tmp_path, pre=[("Reshape", ["shape"], {})], inits={"shape": np.int64([2, F // 2]), "w": w})
    with pytest.raises(UnsupportedModelError,
                       match=r"node 'Reshape_0' \(Reshape\): reshape of \(1, 12\) to \(2, 6\) changes the batch axis"):
        lower(model)


def test_transposed_quantized_weights(tmp_path):
    """Transpose on quantized weights (as the TorchScript exporter writes it; QONNX's cleanup folds it into the
    initializer, a model loaded without cleanup keeps it): the same MVAU as without."""
    plain = lower(qonnx_model(tmp_path, post=[("Softmax", [], {})], clean=False)).layers[0]
    model = qonnx_model(tmp_path, post=[("Softmax", [], {})], w_transposed=True, clean=False)
    assert "Transpose" in [n.op_type for n in model.graph.node]
    layer = lower(model).layers[0]
    np.testing.assert_array_equal(layer.weights, plain.weights)
    assert layer.weights.shape == (OUT, F) and np.abs(layer.weights).max() > 1
