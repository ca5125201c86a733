"""No model hwgen ships or writes carries the exporter's notes: PyTorch's per-node stack traces (with the file
paths of the machine that exported the model), class hierarchies, doc strings."""

from __future__ import annotations

import onnx

import hwgen
from hwgen.frontend.load import load_qonnx, strip_metadata
from hwgen.resources import default_model


def notes(message) -> list[str]:
    """Where in an ONNX message (any depth) a doc_string or metadata_props is set."""
    found = []
    for descriptor, value in message.ListFields():
        if descriptor.name in ("doc_string", "metadata_props"):
            found.append(f"{type(message).__name__}.{descriptor.name}")
        elif descriptor.type == descriptor.TYPE_MESSAGE:
            for item in ([value] if hasattr(value, "ListFields") else value):
                found += notes(item)
    return found


def with_notes(proto: onnx.ModelProto) -> onnx.ModelProto:
    """`proto` with what torch's dynamo exporter leaves: a stack trace on every node, doc strings, model metadata."""
    for node in proto.graph.node:
        node.doc_string = f"exported at {node.name}"
        entry = node.metadata_props.add()
        entry.key, entry.value = "pkg.torch.onnx.stack_trace", 'File "/home/someone/model.py", line 58, in forward'
    proto.graph.doc_string = "the graph"
    proto.graph.input[0].doc_string = "the input"
    entry = proto.metadata_props.add()
    entry.key, entry.value = "exported_by", "someone"
    return proto


def test_the_bundled_model_carries_no_notes():
    assert notes(onnx.load(str(default_model()))) == []


def test_strip_metadata_clears_every_note():
    proto = with_notes(onnx.load(str(default_model())))
    assert len(notes(proto)) == 2 * len(proto.graph.node) + 3
    strip_metadata(proto)
    assert notes(proto) == []


def test_loading_and_building_drop_the_notes(tmp_path):
    path = tmp_path / "noted.onnx"
    onnx.save(with_notes(onnx.load(str(default_model()))), str(path))
    assert notes(onnx.load(str(path)))  # the file has them
    assert notes(load_qonnx(path).model) == []
    hwgen.build(path, out_dir=tmp_path / "build", synthesize=False, verify_frames=4)
    for written in ("model_clean.onnx", "dataflow.onnx"):
        assert notes(onnx.load(str(tmp_path / "build" / "model" / written))) == [], written
        assert b"/home/someone" not in (tmp_path / "build" / "model" / written).read_bytes()
