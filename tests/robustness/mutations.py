"""Mutations of a valid ONNX model, the edits a user, a script or another tool makes to a Brevitas export.

Each mutation is `mutate(proto, rng) -> str`: it edits the ModelProto in place and says what it did. One
per kind (`MUTATIONS`); a case is (seed model, kind, seed), so `mutate_case` reproduces it exactly.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

QUANTS = ("Quant", "BipolarQuant", "Trunc")


def _pick(rng, items):
    items = list(items)
    return items[int(rng.integers(len(items)))] if items else None


def _inits(proto) -> dict:
    return {t.name: t for t in proto.graph.initializer}


def _quant_param(proto, rng, index: int, value_of) -> str:
    """A fresh initializer `value_of(old)` for input `index` of a random quantizer (shared ones stay as they were)."""
    nodes = [n for n in proto.graph.node if n.op_type in QUANTS and len(n.input) > index]
    node = _pick(rng, nodes)
    if node is None:
        return "no quantizer"
    old = _inits(proto).get(node.input[index])
    before = numpy_helper.to_array(old) if old is not None else np.float32(1)
    value = np.asarray(value_of(before), dtype=before.dtype if before.dtype.kind == "f" else np.float32)
    name = f"fuzz_{node.name}_{index}"
    proto.graph.initializer.append(numpy_helper.from_array(value, name))
    node.input[index] = name
    return f"{node.name} input {index} := {value.reshape(-1)[:3].tolist()}"


def scale(proto, rng) -> str:
    choice = _pick(rng, [np.inf, -np.inf, np.nan, -1.0, 0.0, 1e-30, 1e30, "random"])
    return _quant_param(proto, rng, 1, lambda old: rng.uniform(0.01, 4) * old if choice == "random" else np.full_like(old, choice))


def bit_width(proto, rng) -> str:
    choice = _pick(rng, [0, -3, 2.5, 33, 1000, np.nan, np.inf, 1, 16, "random"])
    return _quant_param(proto, rng, 3, lambda old: np.float32(rng.integers(1, 9) if choice == "random" else choice))


def zero_point(proto, rng) -> str:
    choice = _pick(rng, [0.5, -1000, 1000, np.nan, 1, -1, 0])
    return _quant_param(proto, rng, 2, lambda old: np.full_like(np.asarray(old, dtype=np.float32), choice))


def attribute(proto, rng) -> str:
    node = _pick(rng, [n for n in proto.graph.node if n.attribute])
    if node is None:
        return "no attribute"
    attr = _pick(rng, node.attribute)
    if attr.type == onnx.AttributeProto.INT:
        attr.i = int(_pick(rng, [-1, 0, 1, 2, 5, 1 << 40]))
        new = attr.i
    elif attr.type == onnx.AttributeProto.FLOAT:
        attr.f = float(_pick(rng, [0.0, -1.0, 1e30, np.nan, np.inf]))
        new = attr.f
    elif attr.type == onnx.AttributeProto.STRING:
        attr.s = _pick(rng, [b"FLOOR", b"CEIL", b"STOCHASTIC", b"", "\u00e9".encode()])
        new = attr.s
    elif attr.type == onnx.AttributeProto.INTS:
        values = list(attr.ints)
        if values and rng.random() < 0.3:
            values = values[:-1]
        else:
            values = [int(v + rng.integers(-1, 3)) for v in values] + ([0] if rng.random() < 0.3 else [])
        del attr.ints[:]
        attr.ints.extend(values)
        new = values
    else:
        node.attribute.remove(attr)
        new = "removed"
    return f"{node.name}.{attr.name} := {new!r}"


DTYPES = [np.float16, np.float64, np.int64, np.int32, np.int8, np.uint8, np.bool_]


def dtype(proto, rng) -> str:
    init = _pick(rng, proto.graph.initializer)
    to = _pick(rng, DTYPES)
    value = numpy_helper.to_array(init)
    with np.errstate(all="ignore"):
        init.CopyFrom(numpy_helper.from_array(value.astype(to), init.name))
    return f"{init.name} as {np.dtype(to).name}"


def input_shape(proto, rng) -> str:
    stored = set(_inits(proto))
    inp = next(i for i in proto.graph.input if i.name not in stored)
    dims = inp.type.tensor_type.shape.dim
    how = _pick(rng, ["add", "drop", "change", "batch", "symbolic"])
    if how == "add":
        dims.add().dim_value = int(_pick(rng, [1, 2, 3]))
    elif how == "drop" and len(dims) > 1:
        del dims[int(rng.integers(len(dims)))]
    elif how == "batch":
        dims[0].dim_value = int(_pick(rng, [0, 2, 8]))
    elif how == "symbolic":
        dims[int(rng.integers(len(dims)))].dim_param = "N"
    else:
        d = dims[int(rng.integers(1, len(dims)))] if len(dims) > 1 else dims[0]
        d.dim_value = max(1, d.dim_value + int(_pick(rng, [-1, 1, 5])))
    return f"input dims {[d.dim_value or d.dim_param for d in dims]} ({how})"


def init_shape(proto, rng) -> str:
    init = _pick(rng, proto.graph.initializer)
    value = numpy_helper.to_array(init)
    how = _pick(rng, ["transpose", "grow", "shrink", "flatten", "scalar_to_vector"])
    if how == "transpose" and value.ndim >= 2:
        value = value.T
    elif how == "grow":
        value = np.concatenate([value.reshape(-1), value.reshape(-1)[:1]]) if value.size else np.zeros(1, value.dtype)
    elif how == "shrink" and value.size > 1:
        value = value.reshape(-1)[:-1]
    elif how == "scalar_to_vector":
        value = np.repeat(value.reshape(-1)[:1], 3)
    else:
        value = value.reshape(-1)
    init.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(value), init.name))
    return f"{init.name} shape {value.shape} ({how})"


def shuffle(proto, rng) -> str:
    nodes = list(proto.graph.node)
    order = rng.permutation(len(nodes))
    del proto.graph.node[:]
    proto.graph.node.extend(nodes[i] for i in order)
    return "nodes shuffled"


def cycle(proto, rng) -> str:
    nodes = list(proto.graph.node)
    if len(nodes) < 2:
        return "too few nodes"
    i = int(rng.integers(len(nodes) - 1))
    j = int(rng.integers(i + 1, len(nodes)))
    if not nodes[i].input:
        return "no input to rewire"
    nodes[i].input[0] = nodes[j].output[0]
    return f"{nodes[i].name} reads {nodes[j].name}'s output"


def domain(proto, rng) -> str:
    node = _pick(rng, proto.graph.node)
    node.domain = _pick(rng, ["", "ai.onnx", "com.example", "qonnx.custom_op.general", "onnx.brevitas", "finn.custom_op.general"])
    return f"{node.name} in domain {node.domain!r}"


def opset(proto, rng) -> str:
    how = _pick(rng, ["version", "version", "remove", "duplicate", "ir"])
    entry = _pick(rng, proto.opset_import)
    if how == "remove":
        proto.opset_import.remove(entry)
        return f"opset of {entry.domain!r} removed"
    if how == "duplicate":
        proto.opset_import.append(helper.make_opsetid(entry.domain, entry.version + 1))
        return f"opset of {entry.domain!r} twice"
    if how == "ir":
        proto.ir_version = int(_pick(rng, [0, 2, 3, 7, 8, 10, 11, 13, 99]))
        return f"ir_version {proto.ir_version}"
    entry.version = int(_pick(rng, [0, 1, 7, 10, 11, 13, 17, 20, 28, 29, 99]))
    return f"opset of {entry.domain!r} := {entry.version}"


def duplicate_name(proto, rng) -> str:
    nodes = list(proto.graph.node)
    a, b = (nodes[int(i)] for i in rng.choice(len(nodes), 2, replace=False))
    if rng.random() < 0.5:
        b.name = a.name
        return f"node {b.name} twice"
    target = _pick(rng, [a.output[0], *(_inits(proto)), proto.graph.input[0].name])
    b.output[0] = target
    return f"{b.name} writes {target}"


def remove_initializer(proto, rng) -> str:
    init = _pick(rng, proto.graph.initializer)
    proto.graph.initializer.remove(init)
    listed = [i for i in proto.graph.input if i.name == init.name]
    if listed and rng.random() < 0.5:
        proto.graph.input.remove(listed[0])
    return f"{init.name} removed"


def dangling(proto, rng) -> str:
    node = _pick(rng, proto.graph.node)
    if rng.random() < 0.5:
        proto.graph.node.append(helper.make_node("Relu", [node.output[0]], ["fuzz_dangling"], name="fuzz_dangling"))
        return f"a Relu after {node.name} that nothing uses"
    proto.graph.output[0].name = _pick(rng, [node.output[0], "fuzz_nowhere"])
    return f"output renamed {proto.graph.output[0].name}"


def extra_output(proto, rng) -> str:
    node = _pick(rng, proto.graph.node)
    proto.graph.output.append(helper.make_tensor_value_info(node.output[0], TensorProto.FLOAT, None))
    return f"{node.output[0]} also an output"


MUTATIONS = {f.__name__: f for f in (scale, bit_width, zero_point, attribute, dtype, input_shape, init_shape, shuffle, cycle,
                                     domain, opset, duplicate_name, remove_initializer, dangling, extra_output)}


def mutate_case(source: str, kind: str, seed: int, path) -> str:
    """Write model `source` mutated by `kind` (seeded) to `path`; returns what was done."""
    proto = onnx.load(str(source))
    rng = np.random.default_rng([seed, list(MUTATIONS).index(kind)])
    what = MUTATIONS[kind](proto, rng)
    onnx.save(proto, str(path))
    return what
