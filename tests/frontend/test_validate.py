"""hwgen.frontend.validate: a valid Brevitas export edited in a few lines, as a user (or another tool) would,
gets one HwgenError naming the node and what to change, never a traceback from a later step.

The first three are the cases of issue 13 (before validation: a ValueError in the lowering, an onnxruntime
rank error and an onnxruntime opset failure in the verification step); they go through hwgen.build as a
user's model would, and the failed build must say so in hwgen.json and leave no deploy/accelerator.json.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import hwgen
from hwgen.errors import HwgenError, InternalError, UnsupportedModelError
from hwgen.frontend.load import load_qonnx
from hwgen.frontend.validate import runtime_limits

pytest.importorskip("torch")
pytest.importorskip("brevitas")
pytest.importorskip("onnxoptimizer")

from tests.e2e.models import MLPSpec, build_and_export  # noqa: E402
from tests.e2e.test_errors import assert_failed_build  # noqa: E402

SPEC = MLPSpec(hidden=(12,), in_features=10, out_features=4, weight_bits=2, act_bits=2, bias=True, name="tiny")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    _, path = build_and_export(SPEC, tmp_path_factory.mktemp("export"))
    return path


def edited(exported, tmp_path, edit) -> str:
    proto = onnx.load(str(exported))
    edit(proto)
    path = tmp_path / "edited.onnx"
    onnx.save(proto, str(path))
    return path


def quant_nodes(proto):
    return [n for n in proto.graph.node if n.op_type == "Quant"]


def set_init(proto, name: str, value) -> None:
    t = next(t for t in proto.graph.initializer if t.name == name)
    t.CopyFrom(numpy_helper.from_array(np.asarray(value, dtype=numpy_helper.to_array(t).dtype), name))


def weight_quant(proto):
    """The first weight quantizer (its input is an initializer); it has its own scale initializer."""
    stored = {t.name for t in proto.graph.initializer}
    return next(n for n in quant_nodes(proto) if n.input[0] in stored)


def build_fails(path, tmp_path, match: str) -> HwgenError:
    out = tmp_path / "build"
    with pytest.raises(HwgenError, match=match) as info:
        hwgen.build(path, out_dir=out, verify_frames=4, synthesize=False)
    assert not isinstance(info.value, InternalError), str(info.value)
    assert_failed_build(out, str(info.value))
    return info.value


# -- the three cases of issue 13, through the build ----------------------------------------------
def test_scale_inf(exported, tmp_path):
    path = edited(exported, tmp_path, lambda p: set_init(p, weight_quant(p).input[1], np.inf))
    err = build_fails(path, tmp_path, r"node 'Quant_\d+' \(Quant\): the scale must be finite and positive, not inf\n  hint: ")
    assert err.where.startswith("node 'Quant_")


def test_input_with_one_more_dimension(exported, tmp_path):
    def extra_dim(proto):
        proto.graph.input[0].type.tensor_type.shape.dim.add().dim_value = 1

    err = build_fails(edited(exported, tmp_path, extra_dim), tmp_path,
                      r"node '\w+' \(Gemm\): its inputs' shapes or types do not fit: Input 0 expected to have rank 2 but has rank 3")
    assert "the model input 'x' is declared with shape (1, 10, 1) and this layer's stored values are 'slice_1' (12, 10)" in str(err)


def test_opset_onnxruntime_cannot_run(exported, tmp_path):
    newest = runtime_limits()[0]

    def newer(proto):
        next(o for o in proto.opset_import if o.domain == "").version = newest + 1

    err = build_fails(edited(exported, tmp_path, newer), tmp_path,
                      rf"opset_import: default-domain opset {newest + 1} is outside 11\.\.{newest}\n"
                      rf"  hint: onnxruntime \S+ runs opsets up to {newest}")
    assert "opset_version=13" in str(err)


# -- the rest, at load -----------------------------------------------------------------------------
def refused(exported, tmp_path, edit, match: str, kind=HwgenError):
    with pytest.raises(kind, match=match):
        load_qonnx(edited(exported, tmp_path, edit))


@pytest.mark.parametrize("value,says", [(np.nan, "nan"), (-0.5, "-0.5"), (0.0, "0.0")])
def test_bad_scale(exported, tmp_path, value, says):
    refused(exported, tmp_path, lambda p: set_init(p, weight_quant(p).input[1], value),
            rf"\(Quant\): the scale must be finite and positive, not {says}", UnsupportedModelError)


@pytest.mark.parametrize("bits,says", [(2.5, "2.5"), (0, "0.0"), (1000, "1000.0"), (np.nan, "nan")])
def test_bad_bit_width(exported, tmp_path, bits, says):
    def edit(proto):
        node = weight_quant(proto)
        proto.graph.initializer.append(numpy_helper.from_array(np.float32(bits), "odd_bits"))
        node.input[3] = "odd_bits"

    refused(exported, tmp_path, edit, rf"\(Quant\): the bit width must be one integer in 1\.\.32, not {says}", UnsupportedModelError)


@pytest.mark.parametrize("zero,says", [(0.5, "0.5"), (7, "7.0")])
def test_bad_zero_point(exported, tmp_path, zero, says):
    """The weights are signed 2-bit, narrow: levels -1..1."""
    def edit(proto):
        node = weight_quant(proto)
        proto.graph.initializer.append(numpy_helper.from_array(np.float32(zero), "odd_zero"))
        node.input[2] = "odd_zero"

    refused(exported, tmp_path, edit, rf"the zero point must be integers in -1\.\.1, not {says}\n"
                                      r"  hint: signed 2-bit levels lie in -1\.\.1", UnsupportedModelError)


def test_bad_attribute(exported, tmp_path):
    def edit(proto):
        next(a for a in weight_quant(proto).attribute if a.name == "signed").i = 5

    refused(exported, tmp_path, edit, r"\(Quant\): attribute signed must be 0 or 1, not 5", UnsupportedModelError)


def test_weights_nan(exported, tmp_path):
    def edit(proto):
        name = weight_quant(proto).input[0]
        w = numpy_helper.to_array(next(t for t in proto.graph.initializer if t.name == name)).copy()
        w[0, 0] = np.nan
        set_init(proto, name, w)

    refused(exported, tmp_path, edit, r"node 'Quant_\d+' \(Quant\): stored value '\w+' holds nan values")


@pytest.mark.parametrize("listed", [False, True], ids=["gone", "still_an_input"])
def test_initializer_removed(exported, tmp_path, listed):
    """Brevitas's export lists the weights as graph inputs too: without the stored value such a name is a second input."""
    def edit(proto):
        name = weight_quant(proto).input[0]
        proto.graph.initializer.remove(next(t for t in proto.graph.initializer if t.name == name))
        if not listed:
            proto.graph.input.remove(next(i for i in proto.graph.input if i.name == name))

    refused(exported, tmp_path, edit, r"exactly one input without a stored value, found 2: x, slice_1\n  hint: .*has lost it" if listed else
            r"\(Quant\): input 0 \('slice_1'\) is neither the model input, nor an initializer, nor any node's output")


def test_initializer_of_another_shape(exported, tmp_path):
    def edit(proto):
        set_init(proto, weight_quant(proto).input[0], np.zeros((12, 7)))

    refused(exported, tmp_path, edit, r"node 'node_linear' \(Gemm\): its inputs' shapes or types do not fit: .*\n"
                                      r"  hint: the model input 'x' is declared with shape \(1, 10\) "
                                      r"and this layer's stored values are 'slice_1' \(12, 7\)")


def test_out_of_order_graph_is_sorted(exported, tmp_path):
    """Nodes in reverse order: a valid graph, merely unsorted, loads and computes what the export does."""
    model = load_qonnx(edited(exported, tmp_path, lambda p: p.graph.node.reverse()))
    reference = load_qonnx(exported)
    assert [n.op_type for n in model.graph.node] == [n.op_type for n in reference.graph.node]


def test_cycle(exported, tmp_path):
    def edit(proto):
        gemm = next(n for n in proto.graph.node if n.op_type == "Gemm")
        gemm.input[0] = "relu"  # the Relu after it

    refused(exported, tmp_path, edit, r"the graph has a cycle: these nodes depend on their own outputs: 'node_linear' \(Gemm\)")


def test_duplicated_node_name(exported, tmp_path):
    def edit(proto):
        proto.graph.node[1].name = proto.graph.node[0].name

    refused(exported, tmp_path, edit, r"node 'node__symbolic' \(Quant\): two nodes are named 'node__symbolic' \(Quant and Quant\)")


def test_tensor_written_twice(exported, tmp_path):
    def edit(proto):
        relu = next(n for n in proto.graph.node if n.op_type == "Relu")
        relu.output[0] = "linear"  # the Gemm's output

    refused(exported, tmp_path, edit, r"node 'node_relu' \(Relu\): its output 'linear' is also the output of node 'node_linear'")


def test_unknown_domain(exported, tmp_path):
    def edit(proto):
        next(n for n in proto.graph.node if n.op_type == "Relu").domain = "com.example"

    refused(exported, tmp_path, edit, r"node 'node_relu' \(Relu\): unknown operator domain 'com.example'", UnsupportedModelError)


def test_opset_too_old(exported, tmp_path):
    def edit(proto):
        next(o for o in proto.opset_import if o.domain == "").version = 9

    refused(exported, tmp_path, edit, r"default-domain opset 9 is outside 11\.\.\d+\n  hint: hwgen maps operators as ONNX opset 11",
            UnsupportedModelError)


def test_output_no_node_computes(exported, tmp_path):
    def edit(proto):
        proto.graph.output[0].name = "nowhere"

    refused(exported, tmp_path, edit, r"output 'nowhere': the model declares output 'nowhere', which no node computes")


def test_dead_node(exported, tmp_path):
    def edit(proto):
        proto.graph.node.append(helper.make_node("Relu", ["linear"], ["unused"], name="stray"))

    refused(exported, tmp_path, edit, r"node 'stray' \(Relu\): 1 node computes nothing the model outputs: 'stray' \(Relu\)")


def test_declared_output_shape_differs(exported, tmp_path):
    def edit(proto):
        proto.graph.output[0].type.tensor_type.shape.dim[1].dim_value = SPEC.out_features + 1

    refused(exported, tmp_path, edit, r"shapes or types do not fit")


def test_unknown_op_type(exported, tmp_path):
    def edit(proto):
        next(n for n in proto.graph.node if n.op_type == "Relu").op_type = "Reluu"

    refused(exported, tmp_path, edit, r"node 'node_relu' \(Reluu\): no ONNX opset defines an operator 'Reluu'", UnsupportedModelError)


def test_negative_variance(exported, tmp_path):
    def edit(proto):
        bn = next(n for n in proto.graph.node if n.op_type == "BatchNormalization")
        set_init(proto, bn.input[4], -np.ones(12))

    refused(exported, tmp_path, edit, r"\(BatchNormalization\): the variance plus epsilon must be positive")


# -- found by tests/robustness (InternalErrors in the lowering before) --------------------------------
def test_attribute_not_finite(exported, tmp_path):
    def edit(proto):
        bn = next(n for n in proto.graph.node if n.op_type == "BatchNormalization")
        next(a for a in bn.attribute if a.name == "epsilon").f = np.nan

    refused(exported, tmp_path, edit, r"\(BatchNormalization\): attribute epsilon must be finite, not nan")


def test_weight_zero_point_of_another_shape(exported, tmp_path):
    """Weights (12, 10) and a zero point of 3 values: no broadcast (a ValueError in the lowering before)."""
    def edit(proto):
        node = weight_quant(proto)
        proto.graph.initializer.append(numpy_helper.from_array(np.zeros(3, np.float32), "odd_zero"))
        node.input[2] = "odd_zero"

    refused(exported, tmp_path, edit, r"\(Quant\): the zero point's shape \(3,\) does not apply to the input's shape \(12, 10\)",
            UnsupportedModelError)


def test_reshape_of_another_count(tmp_path):
    """The bundled digits MLP reshapes its (1, 1, 8, 8) input to (1, 64): a (1, 1, 13, 8) input cannot be (ONNX's shape
    inference lets it through; the driver's packing raised a ValueError in the verification step before)."""
    from hwgen.resources import default_model

    def edit(proto):
        proto.graph.input[0].type.tensor_type.shape.dim[2].dim_value = 13

    path = edited(default_model(), tmp_path, edit)
    with pytest.raises(HwgenError, match=r"\(Reshape\): it reshapes a tensor of shape \(1, 1, 13, 8\) \(104 values\) to \(1, 64\)\n"
                                         r"  hint: the model input 'x' is declared with shape \(1, 1, 13, 8\): it must fit this layer"):
        load_qonnx(path)


@pytest.mark.parametrize("out_bits,match", [(4, r"\(Trunc\): the scale must be finite and positive, not -1\.0"),
                                            (40, r"\(Trunc\): the bit width must be one integer in 1\.\.32, not 40\.0")])
def test_trunc_parameters(exported, tmp_path, out_bits, match):
    """QONNX's Trunc (x, scale, zero point, input bit width, output bit width): checked like a Quant, before check_supported
    says hwgen does not map it."""
    def edit(proto):
        node = quant_nodes(proto)[0]
        node.op_type = "Trunc"
        del node.attribute[:]
        proto.graph.initializer.extend([numpy_helper.from_array(np.float32(-1.0 if out_bits == 4 else 1.0), "t_scale"),
                                        numpy_helper.from_array(np.float32(out_bits), "t_out")])
        node.input[1] = "t_scale"
        node.input.append("t_out")

    refused(exported, tmp_path, edit, match, UnsupportedModelError)


def test_bit_width_stored_as_integer(exported, tmp_path):
    """QONNX computes a quantizer in its parameters' types: with a uint8 bit width its signed range overflows (the
    build failed in verification before, the accelerator differing from QONNX's nonsense)."""
    def edit(proto):
        node = weight_quant(proto)
        proto.graph.initializer.append(numpy_helper.from_array(np.uint8(2), "int_bits"))
        node.input[3] = "int_bits"

    refused(exported, tmp_path, edit, r"\(Quant\): the bit width \(input 3, '\w+'\) is stored as uint8, not as floating point")


def test_input_of_three_dimensions(tmp_path):
    """The digits MLP with its (1, 1, 8, 8) input declared (1, 8, 8): the export's stale shapes of the tensors after the
    input made the lowering stream it channels-last (a ValueError at verify before); now the shapes are inferred from
    the declared input, and the lowering refuses a 3-D stream, which would have been flattened in the wrong order."""
    from hwgen.lower import lower
    from hwgen.resources import default_model

    def edit(proto):
        del proto.graph.input[0].type.tensor_type.shape.dim[1]

    model = load_qonnx(edited(default_model(), tmp_path, edit))
    assert model.get_tensor_shape(model.graph.node[0].output[0]) == [1, 8, 8]
    with pytest.raises(UnsupportedModelError, match=r"node 'Quant_0' \(Quant\): the quantized input has shape \(1, 8, 8\): "
                                                    r"hwgen streams \(1, features\) vectors and \(1, C, H, W\) feature maps"):
        lower(model)


def test_gemm_bias_of_another_shape(tmp_path):
    """The digits MLP's last bias cut to 9 of its 10 values (ONNX's inference leaves a Gemm's C unchecked: a ValueError
    in the lowering before)."""
    from hwgen.resources import default_model

    def edit(proto):
        gemm = [n for n in proto.graph.node if n.op_type == "Gemm"][-1]
        set_init(proto, gemm.input[2], numpy_helper.to_array(next(t for t in proto.graph.initializer if t.name == gemm.input[2]))[:-1])

    with pytest.raises(HwgenError, match=r"\(Gemm\): its bias '[\w.]+' of shape \(9,\) does not broadcast to its output's shape \(1, 10\)"):
        load_qonnx(edited(default_model(), tmp_path, edit))
