"""QONNX model -> dataflow graph (see walk.py for how)."""

from __future__ import annotations

from collections import Counter

from hwgen.errors import UnsupportedModelError
from hwgen.ir.graph import DataflowGraph
from hwgen.lower.conv import conv, maxpool
from hwgen.lower.handlers import HANDLERS as ELEMENTARY
from hwgen.lower.handlers import integer_input
from hwgen.lower.host import HANDLERS as HOST
from hwgen.lower.values import Const, FloatInput
from hwgen.lower.walk import Walk

HANDLERS = {**ELEMENTARY, "Conv": conv, "MaxPool": maxpool, **HOST}  # the ops hwgen maps (HOST: on the host, or else the
# hardware handler); the build's load step checks a model against them


def lower(model, name: str = "model") -> DataflowGraph:
    """Map a cleaned QONNX ModelWrapper (hwgen.frontend.load_qonnx) to a dataflow graph.

    The input is quantized on the host by the model's input quantizer, or, with none, streamed as it
    is when its QONNX datatype annotation is an integer type (UINT8 pixels, INT8, BIPOLAR, ...).
    Layers come out unfolded (PE = SIMD = 1); hwgen.fold sets the folding. Every node's op must
    have a handler (hwgen.frontend.check.check_supported(model, HANDLERS) says which do not).
    """
    from qonnx.transformation.general import SortGraph

    model = model.transform(SortGraph())
    uses = Counter(name for node in model.graph.node for name in node.input)
    walk = Walk(model, name)
    inp = model.graph.input[0].name
    datatype = model.get_tensor_datatype(inp)  # an integer annotation: the values are already levels
    walk.values[inp] = integer_input(walk, inp, datatype) if datatype.is_integer() else FloatInput(walk.shape(inp))
    for node in model.graph.node:
        value = HANDLERS[node.op_type](walk, node)
        if uses[node.output[0]] > 1 and not isinstance(value, Const):
            raise UnsupportedModelError(
                f"output {node.output[0]!r} feeds {uses[node.output[0]]} nodes; branching graphs are not supported yet",
                where=f"node {node.name!r} ({node.op_type})",
            )
        walk.values[node.output[0]] = value
    return walk.finish(model.graph.output[0].name)

