"""Host-side float ops, the input quantizer above all, against QONNX's own implementation."""

from __future__ import annotations

import numpy as np
import pytest
from qonnx.custom_op.general import intquant
from qonnx.custom_op.general.bipolar_quant import binary_quant
from qonnx.custom_op.general.quant import max_int, min_int
from qonnx.custom_op.general.quant import quant as qonnx_quant

from hwgen.driver.ops import (
    apply_op,
    apply_ops,
    int_range,
    quant_int,
    quant_levels,
    step_after,
)

QONNX_MODES = ["ROUND", "HALF_EVEN", "FLOOR", "CEIL", "UP", "DOWN", "HALF_UP", "HALF_DOWN"]


def qonnx_levels(monkeypatch, x, scale, zero_point, bits, signed, narrow, mode):
    """QONNX's Quant output and the integer levels it rounded to (captured from its rounding step)."""
    seen = []
    original = intquant.resolve_rounding_mode

    def capture(name):
        fn = original(name)
        return lambda y: seen.append(fn(y)) or seen[-1]

    monkeypatch.setattr(intquant, "resolve_rounding_mode", capture)
    out = qonnx_quant(x, scale, zero_point, np.asarray(bits, dtype=x.dtype), signed, narrow, mode)
    monkeypatch.undo()
    return out, (seen[0] if seen else None)


def random_case(rng, dtype, bits, signed, narrow, per_channel: bool, pow2_scale: bool):
    """Inputs spread over the quantizer's range and beyond, plus inputs exactly at .5 ties."""
    channels = 6
    shape = (channels,) if per_channel else ()
    if pow2_scale:
        scale = (2.0 ** rng.integers(-6, 3, size=shape)).astype(dtype)
        zero = (rng.integers(0, 2, size=shape) * (0 if signed else rng.integers(0, 2 ** min(bits, 3)))).astype(dtype)
    else:
        scale = (2.0 ** rng.uniform(-6, 3, size=shape)).astype(dtype)
        zero = rng.choice([0.0, 1.0, 3.0, 0.25, -2.5], size=shape).astype(dtype)
    lo, hi = int_range(bits, signed, narrow)
    spread = rng.uniform(lo - 3, hi + 3, size=(40, channels))
    ties = rng.integers(lo - 2, hi + 2, size=(40, channels)) + 0.5  # level + .5: exact ties when the scale is a power of 2
    levels = np.concatenate([spread, ties, [[lo] * channels, [hi] * channels, [0] * channels]])
    x = ((levels - zero) * scale).astype(dtype)
    x = np.concatenate([x, np.zeros((1, channels), dtype), -np.zeros((1, channels), dtype)])
    return x, scale, zero


@pytest.mark.parametrize("mode", QONNX_MODES)
@pytest.mark.parametrize("signed,narrow", [(True, False), (True, True), (False, False), (False, True)],
                         ids=["int", "int-narrow", "uint", "uint-narrow"])
def test_quant_int_float32_equals_qonnx(monkeypatch, mode, signed, narrow):
    """The host's input quantization (float32) must reproduce QONNX's Quant exactly."""
    rng = np.random.default_rng(QONNX_MODES.index(mode) * 10 + 2 * signed + narrow)
    exact_ties = 0
    for bits in range(1, 9):
        for per_channel in (False, True):
            for pow2_scale in (True, False):
                x, scale, zero = random_case(rng, np.float32, bits, signed, narrow, per_channel, pow2_scale)
                q = {"op": "quant", "scale": scale, "zero_point": zero, "bits": bits, "signed": signed, "narrow": narrow,
                     "rounding_mode": mode}
                expected_out, expected_levels = qonnx_levels(monkeypatch, x, scale, zero, bits, signed, narrow, mode)
                assert expected_out.dtype == np.float32
                levels = quant_int(x, q, np.float32)
                assert levels.dtype == np.float32
                if expected_levels is not None:
                    np.testing.assert_array_equal(levels, expected_levels, err_msg=f"bits={bits} scale={scale} zero={zero}")
                # QONNX's output is (level - zero_point) * scale: the levels reproduce it bit for bit
                np.testing.assert_array_equal((levels - zero) * scale, expected_out, err_msg=f"bits={bits} scale={scale} zero={zero}")
                lo, hi = quant_levels(q)
                assert levels.min() >= lo and levels.max() <= hi and np.all(levels == np.round(levels))
                y = x / scale + zero
                exact_ties += int(np.sum((y - np.floor(y) == 0.5) & (y > lo) & (y < hi)))
    assert exact_ties > 100  # the cases really probe rounding at .5


@pytest.mark.parametrize("mode", ["ROUND", "FLOOR", "HALF_UP", "HALF_DOWN"])
def test_quant_int_float64_equals_qonnx(monkeypatch, mode):
    rng = np.random.default_rng(7)
    for bits in (2, 4, 8):
        for signed, narrow in ((True, False), (True, True), (False, False)):
            x, scale, zero = random_case(rng, np.float64, bits, signed, narrow, True, False)
            q = {"op": "quant", "scale": scale, "zero_point": zero, "bits": bits, "signed": signed, "narrow": narrow,
                 "rounding_mode": mode}
            expected_out, expected_levels = qonnx_levels(monkeypatch, x, scale, zero, bits, signed, narrow, mode)
            levels = quant_int(x, q)
            assert levels.dtype == np.float64
            np.testing.assert_array_equal(levels, expected_levels)
            np.testing.assert_array_equal((levels - zero) * scale, expected_out)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_apply_op_quant_equals_qonnx(dtype):
    x = np.array([-3.0, -0.74, 0.0, 0.26, 0.75, 9.0], dtype=dtype)
    scale, zero = dtype(0.5), dtype(1.0)
    q = {"op": "quant", "scale": scale, "zero_point": zero, "bits": 3, "signed": False, "narrow": False, "rounding_mode": "ROUND"}
    expected = qonnx_quant(x, scale, zero, dtype(3), False, False, "ROUND")
    np.testing.assert_array_equal(apply_op(x, q), expected)
    np.testing.assert_array_equal(apply_ops(x, [q], dtype=dtype), expected)
    np.testing.assert_array_equal(apply_op(x, {"op": "bipolar_quant", "scale": scale}), binary_quant(x, scale))


def test_rounding_at_ties_by_hand():
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.4, -2.6])
    expected = {
        "ROUND": [-2, -2, -0, 0, 2, 2, 2, -3],
        "HALF_EVEN": [-2, -2, -0, 0, 2, 2, 2, -3],
        "HALF_UP": [-3, -2, -1, 1, 2, 3, 2, -3],
        "HALF_DOWN": [-2, -1, -0, 0, 1, 2, 2, -3],
        "FLOOR": [-3, -2, -1, 0, 1, 2, 2, -3],
        "CEIL": [-2, -1, -0, 1, 2, 3, 3, -2],
        "UP": [-3, -2, -1, 1, 2, 3, 3, -3],
        "DOWN": [-2, -1, -0, 0, 1, 2, 2, -2],
        "ROUND_TO_ZERO": [-2, -1, -0, 0, 1, 2, 2, -2],
    }
    for mode, levels in expected.items():
        q = {"op": "quant", "scale": 1.0, "zero_point": 0.0, "bits": 8, "signed": True, "narrow": False, "rounding_mode": mode}
        np.testing.assert_array_equal(quant_int(x, q), levels, err_msg=mode)
        q["rounding_mode"] = mode.lower()  # QONNX accepts any case
        np.testing.assert_array_equal(quant_int(x, q), levels, err_msg=mode)


def test_unknown_rounding_mode():
    q = {"op": "quant", "scale": 1.0, "zero_point": 0.0, "bits": 4, "signed": True, "narrow": False, "rounding_mode": "STOCHASTIC"}
    with pytest.raises(ValueError, match="rounding mode must be one of .*not 'STOCHASTIC'"):
        quant_int(np.zeros(3), q)


@pytest.mark.parametrize("bits", range(1, 9))
def test_int_range_matches_qonnx(bits):
    for signed in (False, True):
        for narrow in (False, True):
            b = np.float32(bits)
            assert int_range(bits, signed, narrow) == (int(min_int(signed, narrow, b)), int(max_int(signed, narrow, b)))


def test_quant_levels():
    assert quant_levels({"op": "bipolar_quant", "scale": 1.0}) == (-1, 1)
    assert quant_levels({"op": "quant", "bits": 1, "signed": True, "narrow": False}) == (-1, 1)  # QONNX: 1-bit signed is bipolar
    assert quant_levels({"op": "quant", "bits": 1, "signed": False, "narrow": False}) == (0, 1)
    assert quant_levels({"op": "quant", "bits": 4, "signed": True, "narrow": True}) == (-7, 7)
    assert quant_levels({"op": "quant", "bits": 3, "signed": False, "narrow": True}) == (0, 6)


def test_bipolar_quant_equals_qonnx():
    rng = np.random.default_rng(3)
    for scale in (np.float32(1.0), np.float32(0.37), np.float32(2.0) ** 10, rng.uniform(0.01, 3, size=5).astype(np.float32)):
        x = np.concatenate([rng.normal(0, 2, size=(50, 5)), np.zeros((1, 5)), -np.zeros((1, 5)),
                            np.full((1, 5), 1e-30), np.full((1, 5), -1e-30)]).astype(np.float32)
        levels = quant_int(x, {"op": "bipolar_quant", "scale": scale}, np.float32)
        assert levels.dtype == np.float32
        np.testing.assert_array_equal(levels, binary_quant(x, np.float32(1.0)))  # QONNX's levels: scale 1
        np.testing.assert_array_equal(levels * scale, binary_quant(x, scale))


def test_bipolar_quant_tiny_negative_inputs_equal_qonnx():
    x = np.array([-1e-45, -3e-45, -1e-40], dtype=np.float32)
    scale = np.float32(1e6)
    np.testing.assert_array_equal(quant_int(x, {"op": "bipolar_quant", "scale": scale}, np.float32), binary_quant(x, np.float32(1.0)))


def test_one_bit_signed_quant_is_bipolar_like_qonnx():
    x = np.array([-2.0, -0.1, 0.0, 0.1, 5.0], dtype=np.float32)
    q = {"op": "quant", "scale": np.float32(0.5), "zero_point": np.float32(0.0), "bits": 1, "signed": True, "narrow": False,
         "rounding_mode": "ROUND"}
    levels = quant_int(x, q, np.float32)
    np.testing.assert_array_equal(levels, [-1, -1, 1, 1, 1])
    np.testing.assert_array_equal(levels * np.float32(0.5),
                                  qonnx_quant(x, np.float32(0.5), np.float32(0.0), np.float32(1), True, False, "ROUND"))


def test_float_ops_by_hand():
    x = np.array([[-2.0, 0.5], [3.0, -1.0]])
    np.testing.assert_array_equal(apply_op(x, {"op": "affine", "mul": np.array([2.0, -1.0]), "add": 0.5}), [[-3.5, 0.0], [6.5, 1.5]])
    np.testing.assert_array_equal(apply_op(x, {"op": "relu"}), [[0.0, 0.5], [3.0, 0.0]])
    np.testing.assert_array_equal(apply_op(x, {"op": "clip", "min": -1.5, "max": 1.0}), [[-1.5, 0.5], [1.0, -1.0]])
    ops = [{"op": "affine", "mul": 0.5, "add": 0.0}, {"op": "relu"}, {"op": "clip", "min": 0.0, "max": 1.0}]
    np.testing.assert_array_equal(apply_ops(x, ops), [[0.0, 0.25], [1.0, 0.0]])
    assert apply_ops(x, [], dtype=np.float32).dtype == np.float32


def test_unknown_op():
    with pytest.raises(ValueError, match="op must be one of .*sigmoid.*not 'gelu'"):
        apply_op(np.zeros(2), {"op": "gelu"})


# -- tensor ops of the host's pre- and post-processing, against onnxruntime ------------------
def run_onnx_node(op_type: str, x: np.ndarray, consts=(), out_types=("float",), opset=17, x_last=False, **attrs):
    """One ONNX node on x (its other inputs constants, after x or, with x_last, before it), run by
    onnxruntime as QONNX runs it; its outputs as a list."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    const_names = [f"c{i}" for i in range(len(consts))]
    outs = [f"y{i}" for i in range(len(out_types))]
    node = helper.make_node(op_type, const_names + ["x"] if x_last else ["x"] + const_names, outs, **attrs)
    types = {"float": TensorProto.FLOAT, "int64": TensorProto.INT64}
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
                              [helper.make_tensor_value_info(o, types[t], None) for o, t in zip(outs, out_types)],
                              [numpy_helper.from_array(np.asarray(c), n) for c, n in zip(consts, const_names)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})


def host_inputs(seed: int, shape=(1, 3, 5, 4)) -> np.ndarray:
    """Random float32 values of many magnitudes, some exactly equal (ties), some zero."""
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=shape) * 10.0 ** rng.integers(-3, 3, size=shape)).astype(np.float32)
    flat = x.reshape(-1)
    flat[::7] = 0.0
    flat[1::5] = flat[2::5][: len(flat[1::5])]  # ties
    return x


@pytest.mark.parametrize("op_type", ["Mul", "Add", "Sub", "Div"])
@pytest.mark.parametrize("const", ["scalar", "vector1", "per_channel"])
@pytest.mark.parametrize("reverse", [False, True], ids=["x_op_c", "c_op_x"])
def test_elementwise_host_ops_equal_onnxruntime_bit_for_bit(op_type, const, reverse):
    """What the pre-processing relies on: numpy's float32 Mul/Add/Sub/Div are onnxruntime's, to the bit."""
    rng = np.random.default_rng(["Mul", "Add", "Sub", "Div"].index(op_type))
    x = host_inputs(3)
    c = {"scalar": np.float32(rng.uniform(0.1, 3)), "vector1": np.array([rng.uniform(0.1, 3)], np.float32),
         "per_channel": rng.uniform(0.1, 3, size=(1, 3, 1, 1)).astype(np.float32)}[const]
    expected = run_onnx_node(op_type, x, [c], x_last=reverse)[0]
    op = {"op": op_type.lower(), "value": np.asarray(c, dtype=np.float64).tolist(), "reverse": reverse}  # as accelerator.json has it
    got = apply_ops(x, [op], dtype=np.float32)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)
    frames = np.concatenate([x, 2 * x, -x])  # the host runs N frames of the batch-1 model at once
    np.testing.assert_array_equal(apply_ops(frames, [op], np.float32)[1:2], run_onnx_node(op_type, 2 * x, [c], x_last=reverse)[0])


def test_reshape_transpose_relu_clip_equal_onnxruntime():
    x = host_inputs(4)
    np.testing.assert_array_equal(apply_op(x, {"op": "transpose", "perm": [0, 2, 3, 1]}),
                                  run_onnx_node("Transpose", x, perm=[0, 2, 3, 1])[0])
    np.testing.assert_array_equal(apply_op(x, {"op": "reshape", "shape": [1, 60]}),
                                  run_onnx_node("Reshape", x, [np.array([1, -1], np.int64)])[0])
    np.testing.assert_array_equal(apply_op(x, {"op": "relu"}), run_onnx_node("Relu", x)[0])
    lo, hi = np.float32(-0.3), np.float32(2.5)
    np.testing.assert_array_equal(apply_ops(x, [{"op": "clip", "min": float(lo), "max": float(hi)}], np.float32),
                                  run_onnx_node("Clip", x, [lo, hi])[0])


@pytest.mark.parametrize("shape,axis,opset", [((1, 10), 1, 17), ((1, 3, 5, 4), 1, 17), ((1, 3, 5, 4), 3, 17),
                                              ((1, 3, 5, 4), 1, 11), ((1, 3, 5, 4), 2, 11)])
@pytest.mark.parametrize("kind", ["Softmax", "LogSoftmax"])
def test_softmax_close_to_onnxruntime(kind, shape, axis, opset):
    """exp's last bits differ between numpy and onnxruntime's own kernels: close, not equal (post-processing only).
    Before opset 13 ONNX's Softmax runs over all axes from `axis` on ("coerced")."""
    x = host_inputs(5, shape) / 50
    op = {"op": "softmax" if kind == "Softmax" else "log_softmax", "axis": axis, "coerced": opset < 13}
    expected = run_onnx_node(kind, x, opset=opset, axis=axis)[0]
    got = apply_ops(np.concatenate([x, x]), [op], np.float32)
    assert got.dtype == np.float32 and got.shape == (2,) + shape[1:]
    np.testing.assert_allclose(got[:1], expected, rtol=2e-6, atol=1e-6)
    np.testing.assert_array_equal(got[0], got[1])  # frames are independent


def test_sigmoid_close_to_onnxruntime():
    x = np.concatenate([host_inputs(6).reshape(-1), [-200.0, -90.0, 90.0, 200.0]]).astype(np.float32).reshape(1, -1)
    with np.errstate(all="raise"):  # no overflow warnings at large |x|
        got = apply_ops(x, [{"op": "sigmoid"}], np.float32)
    np.testing.assert_allclose(got, run_onnx_node("Sigmoid", x)[0], rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("keepdims", [1, 0])
@pytest.mark.parametrize("last", [0, 1])
@pytest.mark.parametrize("shape,axis", [((1, 10), 1), ((1, 3, 5, 4), 1), ((1, 3, 5, 4), 2)])
def test_argmax_equals_onnxruntime(shape, axis, keepdims, last):
    rng = np.random.default_rng(axis)
    x = rng.integers(-3, 4, size=shape).astype(np.float32)  # many ties: which index wins is part of the contract
    op = {"op": "argmax", "axis": axis, "keepdims": bool(keepdims), "select_last_index": bool(last)}
    expected = run_onnx_node("ArgMax", x, out_types=("int64",), axis=axis, keepdims=keepdims, select_last_index=last)[0]
    got = apply_op(x, op)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("largest", [1, 0])
@pytest.mark.parametrize("shape,axis,k", [((1, 10), 1, 3), ((1, 10), 1, 10), ((1, 6, 5, 4), 1, 2), ((1, 6, 5, 4), 3, 4)])
def test_topk_equals_onnxruntime(shape, axis, k, largest):
    rng = np.random.default_rng(k)
    x = rng.integers(-4, 5, size=shape).astype(np.float32)  # ties: the lower index first, as ONNX specifies
    x += (rng.random(shape) < 0.3) * rng.normal(size=shape).astype(np.float32)
    values, indices = run_onnx_node("TopK", x, [np.array([k], np.int64)], out_types=("float", "int64"), axis=axis, largest=largest)
    op = {"op": "topk", "k": k, "axis": axis, "largest": bool(largest)}
    np.testing.assert_array_equal(apply_op(x, {**op, "output": "values"}), values)
    got = apply_op(x, {**op, "output": "indices"})
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, indices)


def test_preimage_inverts_pre_processing():
    from hwgen.driver.ops import op_shape, preimage

    ops = [{"op": "transpose", "perm": [0, 3, 1, 2]}, {"op": "sub", "value": [[[0.485]], [[0.456]], [[0.406]]], "reverse": False},
           {"op": "div", "value": [[[0.229]], [[0.224]], [[0.225]]], "reverse": False}, {"op": "mul", "value": 2.0, "reverse": False},
           {"op": "sub", "value": 1.0, "reverse": True}, {"op": "reshape", "shape": [1, 48]}]
    shape = (1, 4, 4, 3)  # NHWC in, normalized per channel, flattened
    after = shape[1:]
    for op in ops:
        after = op_shape(after, op)
    assert after == (48,)
    y = np.random.default_rng(0).uniform(-3, 3, size=(5, 48))
    x = preimage(y, ops, shape)
    assert x.shape == (5, 4, 4, 3) and x.dtype == np.float32
    np.testing.assert_allclose(apply_ops(x, ops, np.float32), y, rtol=1e-5, atol=1e-5)


def test_step_after_by_hand():
    """One output quantization step, per element (channels last), worked out by hand."""
    q = {"op": "quant", "scale": np.array([0.25, 0.5]), "zero_point": 1.0, "bits": 4, "signed": True, "narrow": False,
         "rounding_mode": "ROUND"}
    affine = {"op": "affine", "mul": np.array([-3.0, 0.5]), "add": 7.0}
    # raw accumulator, then scale and bias: |mul| per channel; relu and clip do not change it
    np.testing.assert_array_equal(step_after([affine, {"op": "relu"}, {"op": "clip", "min": 0.0, "max": 4.0}], (3, 2)),
                                  [[3.0, 0.5]] * 3)
    assert step_after([], (2,)).tolist() == [1.0, 1.0]  # the integers themselves
    assert step_after([affine], (2,), levels_apart=2).tolist() == [6.0, 1.0]  # a bipolar stream: -1 and +1
    # a quantizer sets the step to its scale, whatever came before; an affine after it scales that
    np.testing.assert_array_equal(step_after([affine, q], (2,)), [0.25, 0.5])
    np.testing.assert_array_equal(step_after([affine, q, {"op": "affine", "mul": -2.0, "add": 0.0}], (2,)), [0.5, 1.0])
    # bipolar levels are -1 and +1: two scales apart (1-bit signed Quant too, not a 2-bit narrow one)
    assert step_after([{"op": "bipolar_quant", "scale": 0.75}], (1,)).tolist() == [1.5]
    assert step_after([{**q, "bits": 1, "scale": 0.75}], (1,)).tolist() == [1.5]
    assert step_after([{**q, "bits": 2, "narrow": True, "scale": 0.75}], (1,)).tolist() == [0.75]
    with pytest.raises(ValueError, match="op must be one of .*not 'sigmoid'"):
        step_after([{"op": "sigmoid"}], (1,))


def test_step_after_post_by_hand():
    """The output step carried through post-processing, worked out by hand (model layout, batch 1)."""
    from hwgen.driver.ops import step_after_post

    step = np.array([[0.5, 2.0, 1.0]])
    assert step_after_post(step, []).tolist() == [[0.5, 2.0, 1.0]]
    # constants: x * -3 scales by 3, x / 4 by 1/4, a shift and c / x keep it
    ops = [{"op": "mul", "value": -3.0, "reverse": False}, {"op": "div", "value": 4.0, "reverse": False},
           {"op": "add", "value": 1.0, "reverse": False}, {"op": "div", "value": 2.0, "reverse": True}]
    assert step_after_post(step, ops).tolist() == [[0.375, 1.5, 0.75]]
    # Softmax / Sigmoid: at most a quarter of the widest input step; LogSoftmax: at most the widest step
    assert step_after_post(step, [{"op": "softmax", "axis": 1}]).tolist() == [[0.5, 0.5, 0.5]]
    assert step_after_post(step, [{"op": "log_softmax", "axis": 1}]).tolist() == [[2.0, 2.0, 2.0]]
    assert step_after_post(step, [{"op": "sigmoid"}]).tolist() == [[0.125, 0.5, 0.25]]
    # indices are integers: step 1; TopK's values keep the widest step
    assert step_after_post(step, [{"op": "argmax", "axis": 1, "keepdims": True}]).tolist() == [[1.0]]
    assert step_after_post(step, [{"op": "topk", "k": 2, "axis": 1, "largest": True, "output": "indices"}]).tolist() == [[1.0, 1.0]]
    assert step_after_post(step, [{"op": "topk", "k": 2, "axis": 1, "largest": True, "output": "values"}]).tolist() == [[2.0, 2.0]]
    # a feature map's steps move with a transpose; softmax over its channels per pixel
    fmap = np.array([[[[1.0, 2.0]], [[4.0, 8.0]]]])  # (1, C=2, H=1, W=2)
    moved = step_after_post(fmap, [{"op": "transpose", "perm": [0, 2, 3, 1]}, {"op": "softmax", "axis": 3}])
    assert moved.tolist() == [[[[1.0, 1.0], [2.0, 2.0]]]]
    with pytest.raises(ValueError, match="no step through post-processing op 'gelu'"):
        step_after_post(step, [{"op": "gelu"}])
