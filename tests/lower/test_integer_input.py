"""An input without quantizer, annotated with an integer QONNX datatype (FINN's convention): its values
are the stream's levels (scale 1), the host checks them and quantizes nothing.

Lowering only (no C-sim here): the numpy reference of the lowered graph, fed the integer inputs
themselves, against QONNX execution of the annotated model on the same values as floats.
tests/e2e/test_raw_input.py builds such models through C-sim.
"""

from __future__ import annotations

import numpy as np
import pytest

from hwgen.driver.ops import apply_ops, integer_levels, quant_int, quant_levels, step_after
from hwgen.errors import UnsupportedModelError
from hwgen.ir import reference
from hwgen.verify import compare_qonnx, qonnx_outputs, random_inputs

torch = pytest.importorskip("torch")
qnn = pytest.importorskip("brevitas.nn")


def unquantized_mlp(in_features: int, seed: int = 0):
    """QuantLinear (no input quantizer) + BN + QuantReLU(3) + QuantLinear: the input reaches a linear layer as it is."""
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        qnn.QuantLinear(in_features, 12, bias=False, weight_bit_width=4, input_quant=None),
        torch.nn.BatchNorm1d(12), qnn.QuantReLU(bit_width=3, return_quant_tensor=True),
        qnn.QuantLinear(12, 5, bias=True, weight_bit_width=4))
    gen = torch.Generator().manual_seed(seed)
    bn = model[1]
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(12, generator=gen) * 4)
        bn.running_var.copy_(torch.empty(12).uniform_(20, 200, generator=gen))
        bn.weight.copy_(torch.empty(12).uniform_(-1, 2, generator=gen))
        bn.bias.copy_(torch.empty(12).uniform_(0, 2, generator=gen))
    return model.eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The MLP exported once with Brevitas (no input quantizer)."""
    from brevitas.export import export_qonnx

    path = tmp_path_factory.mktemp("raw") / "raw.onnx"
    export_qonnx(unquantized_mlp(16), torch.zeros(1, 16), export_path=str(path))
    return path


def annotated(tmp_path, exported, datatype: str | None):
    """The export with its input annotated as a FINN user does it, loaded as hwgen loads it."""
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper

    from hwgen.frontend.load import load_qonnx

    m = ModelWrapper(str(exported))
    if datatype is not None:
        m.set_tensor_datatype(m.graph.input[0].name, DataType[datatype])
    m.save(str(tmp_path / "annotated.onnx"))
    return load_qonnx(tmp_path / "annotated.onnx")


@pytest.mark.parametrize("datatype, lo, hi, stream", [
    ("UINT8", 0, 255, "uint8"), ("INT8", -128, 127, "int8"), ("UINT4", 0, 15, "uint4"), ("BINARY", 0, 1, "uint1"),
    ("TERNARY", -1, 1, "int2"), ("BIPOLAR", -1, 1, "bipolar"),
])
def test_annotated_input_lowers_to_its_levels(tmp_path, exported, datatype, lo, hi, stream):
    from hwgen.lower import lower

    model = annotated(tmp_path, exported, datatype)
    graph = lower(model)
    q = graph.input.quant
    assert (q["op"], q["datatype"], q["min"], q["max"], str(graph.input.dtype)) == ("integer", datatype, lo, hi, stream)
    x = random_inputs(graph, 48, seed=1)  # the annotated type's integers, as float32
    assert np.array_equal(x, np.round(x)) and x.min() == lo and x.max() == hi
    if datatype == "BIPOLAR":
        assert set(np.unique(x)) == {-1.0, 1.0}
    levels = quant_int(x, q, np.float32).astype(np.int64)  # the host: the values themselves
    np.testing.assert_array_equal(levels, x)
    ours = apply_ops(reference.run(graph, levels), graph.output.ops)
    step = step_after(graph.output.ops, (graph.output.elems,))  # one accumulator level after the output's float ops
    report = compare_qonnx(qonnx_outputs(model, x), ours, step)
    assert report["elements_differing"] == 0, report
    assert len({tuple(r) for r in ours.round(6)}) > 10  # the outputs vary with the input


def test_unannotated_input_still_needs_a_quantizer(tmp_path, exported):
    from hwgen.lower import lower

    model = annotated(tmp_path, exported, None)
    with pytest.raises(UnsupportedModelError, match=r"the model input reaches this Gemm unquantized(.|\n)*set_tensor_datatype"):
        lower(model)


def test_fixed_point_annotation_is_not_an_integer_input(tmp_path, exported):
    from hwgen.lower import lower

    model = annotated(tmp_path, exported, "FIXED<8,4>")
    with pytest.raises(UnsupportedModelError, match="reaches this Gemm unquantized"):
        lower(model)


UINT8 = {"op": "integer", "datatype": "UINT8", "min": 0, "max": 255, "bipolar": False, "scale": 1.0, "zero_point": 0.0}
BIPOLAR = {"op": "integer", "datatype": "BIPOLAR", "min": -1, "max": 1, "bipolar": True, "scale": 1.0, "zero_point": 0.0}


def test_integer_levels_pass_integers_through():
    np.testing.assert_array_equal(integer_levels(np.array([[0, 17, 255]], np.uint8), UINT8), [[0, 17, 255]])
    np.testing.assert_array_equal(integer_levels(np.array([0.0, 255.0], np.float32), UINT8), [0, 255])
    np.testing.assert_array_equal(integer_levels(np.array([-1, 1]), BIPOLAR), [-1, 1])
    assert quant_levels(UINT8) == (0, 255)


@pytest.mark.parametrize("q, values, shown", [
    (UINT8, np.array([[3.0, 0.5]]), r"input value 0.5 at index \(0, 1\) is not a UINT8 value(.|\n)*integers in \[0, 255\]"),
    (UINT8, np.array([256, 7]), r"input value 256 at index \(0,\)"),
    (UINT8, np.array([2.0, -1.0]), r"input value -1.0 at index \(1,\)"),
    (UINT8, np.array([np.nan]), r"input value nan"),
    (BIPOLAR, np.array([1, 0, -1]), r"input value 0 at index \(1,\) is not a BIPOLAR value(.|\n)*-1 or \+1"),
])
def test_integer_levels_reject_what_the_stream_cannot_carry(q, values, shown):
    with pytest.raises(ValueError, match=shown):
        integer_levels(values, q)
    with pytest.raises(ValueError, match="pass the raw integers"):
        quant_int(values, q, np.float32)
