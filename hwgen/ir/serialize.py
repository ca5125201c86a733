"""Write a dataflow graph for people and tools: JSON (structure), npz (parameters), ONNX (Netron)."""

from __future__ import annotations

import enum
import json
from dataclasses import fields
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from hwgen.datatypes import DataType
from hwgen.ir.graph import DataflowGraph


def jsonable(value):
    """Numpy scalars/arrays, DataTypes and enums to plain JSON values."""
    if isinstance(value, DataType):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def array_fields(layer) -> tuple[str, ...]:
    """The fields of a layer's IR dataclass that hold parameter arrays (weights, thresholds): written to dataflow.npz."""
    return tuple(f.name for f in fields(layer) if "ndarray" in str(f.type))


def layer_record(layer) -> dict:
    record = {"kind": type(layer).__name__}
    arrays = array_fields(layer)
    for f in fields(layer):
        value = getattr(layer, f.name)
        if f.name in arrays:
            record[f.name] = None if value is None else {"shape": list(value.shape), "npz": f"{layer.name}.{f.name}"}
        else:
            record[f.name] = jsonable(value)
    return record


def graph_record(graph: DataflowGraph) -> dict:
    return {
        "model": graph.model_name,
        "input": jsonable(vars(graph.input)),
        "output": jsonable(vars(graph.output)),
        "layers": [layer_record(l) for l in graph.layers],
        "notes": graph.notes,
    }


def write_graph(graph: DataflowGraph, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dataflow.json").write_text(json.dumps(graph_record(graph), indent=1) + "\n")
    arrays = {f"{l.name}.{name}": getattr(l, name) for l in graph.layers for name in array_fields(l)
              if getattr(l, name) is not None}
    np.savez_compressed(folder / "dataflow.npz", **arrays)
    onnx.save(to_onnx(graph), str(folder / "dataflow.onnx"))


def to_onnx(graph: DataflowGraph) -> onnx.ModelProto:
    """A Netron-viewable picture of the dataflow graph: one node per layer, parameters as initializers."""
    nodes, inits, prev = [], [], "input_levels"
    for layer in graph.layers:
        arrays = array_fields(layer)
        attrs = {k: v for k, v in layer_record(layer).items() if k not in arrays and k not in ("kind", "name")}
        inputs = [prev]
        for name in arrays:
            value = getattr(layer, name)
            if value is not None:
                inputs.append(f"{layer.name}.{name}")
                inits.append(numpy_helper.from_array(np.asarray(value, dtype=np.int64), inputs[-1]))
        out = f"{layer.name}_out"
        nodes.append(helper.make_node(type(layer).__name__, inputs, [out], name=layer.name, domain="hwgen",
                                      **{k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in attrs.items()}))
        prev = out
    g = helper.make_graph(nodes, graph.model_name,
                          [helper.make_tensor_value_info("input_levels", TensorProto.INT64, [None, graph.input.elems])],
                          [helper.make_tensor_value_info(prev, TensorProto.INT64, [None, graph.output.elems])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("hwgen", 1)])
