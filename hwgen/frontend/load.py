"""Load a QONNX model written by Brevitas and bring it to one clean, checked form."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnx

from hwgen.errors import HwgenError, UnsupportedModelError
from hwgen.frontend.validate import check_graph
from hwgen.frontend.values import check_values


def load_qonnx(path: str | Path):
    """Read `path` (weights inline or in a `.data` sidecar beside it) and clean it up.

    Returns a qonnx ModelWrapper with: no initializers listed as graph inputs, shapes inferred,
    constants folded except quantizers (so weights stay Quant(initializer) nodes), unique node
    names, and none of the exporter's notes (strip_metadata). Raises HwgenError for anything that
    is not a loadable, batch-1 ONNX model, or that hwgen.frontend.validate refuses: the graph's
    structure, opsets and shapes before the cleanup, the quantizers' parameters and the stored
    values after it.
    """
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    path = Path(path)
    if not path.is_file():
        raise HwgenError(f"model file not found: {path}", hint="pass the path of a .onnx file exported with brevitas.export.export_qonnx")
    try:
        proto = onnx.load(str(path))  # also loads an external-data sidecar from path's folder
    except Exception as exc:  # onnx raises DecodeError, OSError, ValidationError, ...
        raise HwgenError(
            f"cannot read {path} as an ONNX model: the file is damaged, truncated or not ONNX "
            f"({type(exc).__name__}: {_first_line(exc)})",
            hint="export the model again with brevitas.export.export_qonnx and keep any .data file beside the .onnx",
        ) from None
    strip_metadata(proto)
    _drop_initializer_inputs(proto.graph)
    inputs = list(proto.graph.input)
    if len(inputs) != 1:
        raise UnsupportedModelError(
            f"the model must have exactly one input without a stored value, found {len(inputs)}: "
            f"{', '.join(i.name for i in inputs) or 'none'}",
            hint="hwgen accelerates single-input networks; an input that should be a stored value (weights, a scale, a bit "
                 "width) has lost it: export the model again with brevitas.export.export_qonnx",
        )
    if len(proto.graph.output) != 1:
        raise UnsupportedModelError(f"the model must have exactly one output, found {len(proto.graph.output)}")
    shape = [d.dim_value if d.HasField("dim_value") else d.dim_param for d in inputs[0].type.tensor_type.shape.dim]
    if not shape or not all(isinstance(d, int) and d > 0 for d in shape):
        raise UnsupportedModelError(
            f"input {inputs[0].name!r} must have a fixed shape, not {shape}",
            hint="export with a fixed-size example input, e.g. torch.zeros(1, C, H, W)",
        )
    if shape[0] != 1:
        raise UnsupportedModelError(f"input {inputs[0].name!r} must have batch size 1, not {shape[0]}",
                                    hint="export with a batch-1 example input; hwgen streams batches itself")
    check_graph(proto)
    del proto.graph.value_info[:]  # a hand-edited input shape leaves them stale: QONNX's cleanup infers every shape again
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = cleanup_model(ModelWrapper(proto))
    except Exception as exc:
        raise HwgenError(f"QONNX could not clean up {path} ({type(exc).__name__}: {_first_line(exc)})",
                         hint="check that the model runs with qonnx's execute_onnx") from None
    check_values(model)
    return model


def strip_metadata(message) -> None:
    """Clear every doc_string and metadata_props in an ONNX model (or any part of one), subgraphs included:
    what exporters leave there (PyTorch's per-node stack traces, class names, file paths of the machine
    that exported it) is not the model, and has no place in the files hwgen writes or ships."""
    for descriptor, value in message.ListFields():
        if descriptor.name in ("doc_string", "metadata_props"):
            message.ClearField(descriptor.name)
        elif descriptor.type == descriptor.TYPE_MESSAGE:
            for item in ([value] if hasattr(value, "ListFields") else value):  # a message, or a repeated field of them
                strip_metadata(item)


def save_clean(proto: onnx.ModelProto, path: str | Path) -> Path:
    """Save `proto` to `path` as one self-contained file without the exporter's notes (strip_metadata);
    a stale `.data` sidecar of an earlier export beside it is removed."""
    path = Path(path)
    strip_metadata(proto)
    onnx.save(proto, str(path), save_as_external_data=False)
    Path(str(path) + ".data").unlink(missing_ok=True)
    return path


def _drop_initializer_inputs(graph: onnx.GraphProto) -> None:
    """The dynamo exporter lists weights as graph inputs too; keep only the real input(s)."""
    stored = {init.name for init in graph.initializer}
    real = [i for i in graph.input if i.name not in stored]
    del graph.input[:]
    graph.input.extend(real)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else "no message"


def initializer(model, name: str) -> np.ndarray | None:
    value = model.get_initializer(name)
    return None if value is None else np.asarray(value)
