"""Validation of a model at load, in one place: what a damaged, hand-edited or foreign ONNX file gets wrong.

Two passes, both called by hwgen.frontend.load.load_qonnx (the build's load step):
  - `check_graph(proto)`, on the file as read, before QONNX's cleanup (which needs a sound graph): opsets
    that hwgen and onnxruntime can run, known domains, unique tensor and node names, every input present,
    an acyclic graph (sorted in place if merely out of order), exactly the outputs the graph computes, and
    the shapes: ONNX's shape inference in strict mode, quantizers standing in as Identity, so that a
    declared input shape the first layer cannot take, or an initializer of the wrong shape, is named here;
  - `check_values(model)` (hwgen/frontend/values.py), on the cleaned model (constants folded): every Quant / BipolarQuant / Trunc
    parameter a finite constant, scales positive, zero points integers inside the quantized range, bit
    widths integers in 1..MAX_BITS, known attributes; every other stored value finite.
Each refusal is one HwgenError naming the node (or tensor) and what to change.
"""

from __future__ import annotations

import functools
import re

import numpy as np
import onnx
from onnx import helper, numpy_helper

from hwgen.errors import HwgenError, UnsupportedModelError

MIN_OPSET = 11  # Clip's bounds are inputs from opset 11 on (before, attributes the lowering does not read)
MAX_BITS = 32  # the widest quantizer the lowering maps (hwgen.lower.handlers.quant_spec)
QUANT_OPS = ("Quant", "BipolarQuant", "Trunc")
# domains a QONNX quantizer may carry (qonnx's cleanup moves them all to the first)
QONNX_DOMAINS = ("qonnx.custom_op.general", "finn.custom_op.general", "onnx.brevitas")
DEFAULT_DOMAINS = ("", "ai.onnx")
EXPORT = "export the model again with brevitas.export.export_qonnx"


# -- before cleanup: the graph's structure ----------------------------------------------------------------
def check_graph(proto: onnx.ModelProto) -> None:
    """Refuse a graph QONNX's cleanup and onnxruntime cannot take; sort its nodes if they are merely out of order."""
    graph = proto.graph
    _check_opsets(proto)
    _check_names(graph)
    _check_inputs_exist(graph)
    _sort(graph)
    _check_outputs(graph)
    _check_shapes(proto)


@functools.lru_cache(maxsize=None)
def runtime_limits() -> tuple[int, int]:
    """The newest default-domain opset and IR version this onnxruntime runs (tried on a one-node model)."""
    import onnxruntime as ort

    def runs(opset: int, ir: int) -> bool:
        x, y = (helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, [1]) for n in "xy")
        model = helper.make_model(helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "probe", [x], [y]),
                                  opset_imports=[helper.make_opsetid("", opset)], ir_version=ir)
        try:
            ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        except Exception:  # onnxruntime raises its own Fail / InvalidGraph / NotImplemented
            return False
        return True

    opset = next((v for v in range(onnx.defs.onnx_opset_version(), MIN_OPSET - 1, -1)
                  if runs(v, helper.find_min_ir_version_for([helper.make_opsetid("", v)]))), MIN_OPSET)
    low_ir = helper.find_min_ir_version_for([helper.make_opsetid("", opset)])
    ir = next((v for v in range(onnx.IR_VERSION, low_ir - 1, -1) if runs(opset, v)), low_ir)
    return opset, ir


def _check_opsets(proto: onnx.ModelProto) -> None:
    max_opset, max_ir = runtime_limits()
    seen: dict[str, int] = {}
    for entry in proto.opset_import:
        domain = "" if entry.domain == "ai.onnx" else entry.domain
        if domain in seen:
            raise HwgenError(f"the model imports domain {entry.domain or 'ai.onnx'!r} twice (versions {seen[domain]} and {entry.version})",
                             where="opset_import", hint="keep one opset_import entry per domain")
        seen[domain] = entry.version
    known = (*DEFAULT_DOMAINS, *QONNX_DOMAINS)
    for node in proto.graph.node:
        if node.domain not in known:
            raise UnsupportedModelError(f"unknown operator domain {node.domain!r}", where=_where(node),
                                        hint=f"hwgen maps ONNX operators (domain '' or 'ai.onnx') and QONNX's Quant, BipolarQuant "
                                             f"and Trunc ({', '.join(QONNX_DOMAINS)}); {EXPORT}")
        if node.domain in QONNX_DOMAINS and node.op_type not in QUANT_OPS:
            raise UnsupportedModelError(f"{node.op_type} is not an operator of domain {node.domain!r}", where=_where(node),
                                        hint="standard ONNX operators belong to the default domain ''")
    if "" not in seen:
        raise HwgenError("the model imports no version of the default ONNX domain", where="opset_import",
                         hint=f"add an opset_import entry for domain '' with a version in {MIN_OPSET}..{max_opset}")
    version = seen[""]
    if not MIN_OPSET <= version <= max_opset:
        newer = f"onnxruntime {_ort_version()} runs opsets up to {max_opset}"
        raise UnsupportedModelError(f"default-domain opset {version} is outside {MIN_OPSET}..{max_opset}",
                                    where="opset_import",
                                    hint=(newer if version > max_opset else "hwgen maps operators as ONNX opset 11 and later "
                                          "define them") + f"; export with an opset in {MIN_OPSET}..{max_opset} "
                                          f"(brevitas.export.export_qonnx(..., opset_version=13))")
    if not 3 <= proto.ir_version <= max_ir:
        raise HwgenError(f"ONNX IR version {proto.ir_version} is outside 3..{max_ir}", where="ir_version",
                         hint=f"onnxruntime {_ort_version()} reads IR versions up to {max_ir}; {EXPORT}")


def _ort_version() -> str:
    return __import__("onnxruntime").__version__


def _check_names(graph: onnx.GraphProto) -> None:
    names: dict[str, str] = {}
    for node in graph.node:
        if node.name and node.name in names:
            raise HwgenError(f"two nodes are named {node.name!r} ({names[node.name]} and {node.op_type})", where=_where(node),
                             hint="give every node its own name, or none (hwgen names nodes itself)")
        names[node.name] = node.op_type
    made: dict[str, str] = {}
    for kind, name in [*(("the model input", i.name) for i in graph.input), *(("an initializer", t.name) for t in graph.initializer)]:
        if name in made:
            raise HwgenError(f"tensor name {name!r} is used by {made[name]} and by {kind}", where=f"tensor {name!r}",
                             hint="every tensor needs its own name")
        made[name] = kind
    for node in graph.node:
        for name in node.output:
            if not name:
                continue
            if name in made:
                raise HwgenError(f"its output {name!r} is also {made[name]}", where=_where(node),
                                 hint="every tensor must be written once: rename one of them")
            made[name] = f"the output of node {node.name!r} ({node.op_type})"


def _check_inputs_exist(graph: onnx.GraphProto) -> None:
    known = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {o for n in graph.node for o in n.output}
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name and name not in known:
                raise HwgenError(f"input {i} ({name!r}) is neither the model input, nor an initializer, nor any node's output",
                                 where=_where(node), hint=f"the model lost a stored value (weights, scale, bit width); {EXPORT}")


def _sort(graph: onnx.GraphProto) -> None:
    """Put the nodes in topological order (Kahn's algorithm, keeping the file's order among ready nodes)."""
    producer = {name: i for i, node in enumerate(graph.node) for name in node.output if name}
    waits = [{producer[n] for n in node.input if n in producer} for node in graph.node]
    users: dict[int, list[int]] = {}
    for i, deps in enumerate(waits):
        for d in deps:
            users.setdefault(d, []).append(i)
    left = [len(deps) for deps in waits]
    ready, order = [i for i, n in enumerate(left) if n == 0], []
    while ready:
        i = min(ready)
        ready.remove(i)
        order.append(i)
        for u in users.get(i, []):
            left[u] -= 1
            if left[u] == 0:
                ready.append(u)
    if len(order) < len(graph.node):
        stuck = [graph.node[i] for i in range(len(graph.node)) if left[i] > 0]
        raise HwgenError("the graph has a cycle: these nodes depend on their own outputs: "
                         + ", ".join(f"{n.name or '(unnamed)'!r} ({n.op_type})" for n in stuck[:8]) + (" ..." if len(stuck) > 8 else ""),
                         where=_where(stuck[0]), hint=f"a feed-forward network has no cycle; {EXPORT}")
    if order != sorted(order):
        nodes = [graph.node[i] for i in order]
        del graph.node[:]
        graph.node.extend(nodes)


def _check_outputs(graph: onnx.GraphProto) -> None:
    produced = {name for node in graph.node for name in node.output if name}
    for out in graph.output:
        if out.name not in produced:
            raise HwgenError(f"the model declares output {out.name!r}, which no node computes", where=f"output {out.name!r}",
                             hint="declare as the output the tensor the last node writes")
    producer = {name: node for node in graph.node for name in node.output if name}
    needed, todo = set(), [o.name for o in graph.output]
    while todo:
        node = producer.get(todo.pop())
        if node is not None and id(node) not in needed:
            needed.add(id(node))
            todo.extend(node.input)
    dead = [n for n in graph.node if id(n) not in needed]
    if dead:
        raise HwgenError(f"{len(dead)} node{'s' if len(dead) > 1 else ''} compute{'' if len(dead) > 1 else 's'} nothing the model "
                         f"outputs: " + ", ".join(f"{n.name or '(unnamed)'!r} ({n.op_type})" for n in dead[:8]),
                         where=_where(dead[0]), hint="remove them, or make the model's one output depend on them")


_INFERENCE = re.compile(r"\(op_type:(?P<op>\w+), node name: (?P<name>[^)]*)\):\s*(?:\[\w+\]\s*)?(?P<what>.*)", re.S)


def _check_shapes(proto: onnx.ModelProto) -> None:
    """ONNX's strict shape and type inference over the graph, QONNX's quantizers standing in as Identity
    (their parameters are checked after cleanup): the first node whose inputs do not fit is named."""
    for node in proto.graph.node:
        if node.op_type not in QUANT_OPS and not onnx.defs.has(node.op_type):
            raise UnsupportedModelError(f"no ONNX opset defines an operator {node.op_type!r}", where=_where(node),
                                        hint="check the op type's spelling; hwgen maps ONNX operators and QONNX's quantizers")
    probe = onnx.ModelProto()
    probe.CopyFrom(proto)
    graph = probe.graph
    del graph.value_info[:]  # stale annotations (a hand-edited input shape) must not decide
    for node in graph.node:
        if node.op_type in QUANT_OPS:
            x, out, name = node.input[0] if node.input else "", node.output[0], node.name
            node.Clear()
            node.CopyFrom(helper.make_node("Identity", [x], [out], name=name))
    try:
        inferred = onnx.shape_inference.infer_shapes(probe, check_type=True, strict_mode=True, data_prop=True)
    except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError) as exc:
        text = str(exc)
        found = _INFERENCE.search(text)
        if found is None:
            raise HwgenError(f"the model's shapes or types do not fit: {_first_line(text)}", hint=EXPORT) from None
        node = next((n for n in proto.graph.node if n.name == found["name"]), None)
        where = f"node {found['name']!r} ({found['op']})"
        raise HwgenError(f"its inputs' shapes or types do not fit: {_first_line(found['what'])}", where=where,
                         hint=_shape_hint(proto, node)) from None
    _check_reshapes(proto, inferred)


def _check_reshapes(proto: onnx.ModelProto, inferred: onnx.ModelProto) -> None:
    """A Reshape to a constant shape keeps the element count, a Gemm's bias broadcasts (ONNX's inference checks neither)."""
    graph = inferred.graph
    shapes = {v.name: [d.dim_value if d.HasField("dim_value") else None for d in v.type.tensor_type.shape.dim]
              for v in [*graph.input, *graph.value_info, *graph.output] if v.type.tensor_type.HasField("shape")}
    stored = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in proto.graph.node:
        if node.op_type == "Gemm" and len(node.input) > 2 and node.input[2] in stored and node.output[0] in shapes:
            bias, out = stored[node.input[2]].shape, shapes[node.output[0]]  # ONNX's inference leaves C unchecked
            if None not in out and not _broadcasts(bias, out):
                raise HwgenError(f"its bias {node.input[2]!r} of shape {bias} does not broadcast to its output's shape {tuple(out)}",
                                 where=_where(node), hint="a bias has one value per output feature; " + EXPORT)
        if node.op_type != "Reshape" or len(node.input) < 2 or node.input[1] not in stored or node.input[0] not in shapes:
            continue
        source, target = shapes[node.input[0]], [int(v) for v in np.asarray(stored[node.input[1]]).reshape(-1)]
        if None in source:
            continue
        target = [source[i] if v == 0 and i < len(source) else v for i, v in enumerate(target)]
        count, known = int(np.prod(source)), int(np.prod([v for v in target if v != -1]))
        if (-1 not in target and known != count) or (-1 in target and (known == 0 or count % known)):
            raise HwgenError(f"it reshapes a tensor of shape {tuple(source)} ({count} values) to {tuple(target)}",
                             where=_where(node), hint=_shape_hint(proto, node))


def _shape_hint(proto: onnx.ModelProto, node) -> str:
    inp = proto.graph.input[0]
    dims = tuple(d.dim_value if d.HasField("dim_value") else d.dim_param for d in inp.type.tensor_type.shape.dim)
    stored = _stored_inputs(proto.graph, node) if node is not None else []
    values = ", ".join(f"{name!r} {shape}" for name, shape in stored)
    if node is not None and _fed_by_input(proto.graph, node):
        fit = f" and this layer's stored values are {values}: they must fit each other" if values else ": it must fit this layer"
        return (f"the model input {inp.name!r} is declared with shape {dims}{fit} "
                f"(export with an example input of the shape the model was trained on)")
    return (f"its stored values are {values}; " if values else "") + \
        f"check the shapes and element types of its stored values and attributes; {EXPORT}"


def _stored_inputs(graph: onnx.GraphProto, node) -> list[tuple[str, tuple]]:
    """The initializers `node` reads, directly or through a quantizer: (name, shape)."""
    floats = (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16)
    shapes = {t.name: tuple(t.dims) for t in graph.initializer if t.data_type in floats}  # not a Reshape's shape
    producer = {name: n for n in graph.node for name in n.output if name}
    found = []
    for name in node.input:
        quantizer = producer.get(name)
        if quantizer is not None and quantizer.op_type in QUANT_OPS and quantizer.input:
            name = quantizer.input[0]
        if name in shapes and len(shapes[name]) > 0:
            found.append((name, shapes[name]))
    return found


def _fed_by_input(graph: onnx.GraphProto, node) -> bool:
    """Whether the model input reaches `node` with no MatMul / Gemm / Conv / MaxPool before it."""
    producer = {name: n for n in graph.node for name in n.output if name}
    todo, seen = list(node.input), set()
    while todo:
        name = todo.pop()
        if name == graph.input[0].name:
            return True
        earlier = producer.get(name)
        if earlier is not None and earlier.name not in seen and earlier.op_type not in ("MatMul", "Gemm", "Conv", "MaxPool"):
            seen.add(earlier.name)
            todo.extend(earlier.input)
    return False


def _broadcasts(shape, target) -> bool:
    try:
        return tuple(np.broadcast_shapes(tuple(shape), tuple(target))) == tuple(target)
    except ValueError:
        return False


def _show(value: np.ndarray) -> str:
    flat = value.reshape(-1)
    if flat.size == 1:
        return repr(float(flat[0]))
    return _bad(value) if not np.all(np.isfinite(flat)) else f"{flat.size} values {flat[:4].tolist()}..."


def _bad(value: np.ndarray) -> str:
    flat = np.asarray(value, dtype=np.float64).reshape(-1)
    kinds = [k for k, hit in (("nan", np.isnan(flat).any()), ("inf", np.isinf(flat).any())) if hit]
    return f"{' and '.join(kinds) or 'non-finite'} values" if kinds else f"{flat.size} values"


def _first_line(text: str) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    return lines[0][:300] if lines else "no message"


def _where(node) -> str:
    return f"node {node.name or '(unnamed)'!r} ({node.op_type})"
