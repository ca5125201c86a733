"""Folding: how many input elements (SIMD) and output channels (PE) a layer handles per cycle.

Folding files are JSON objects mapping layer names to {"PE": p, "SIMD": s}, the shape of
FINN's folding config ("Defaults" and other keys FINN writes are ignored).
"""

from __future__ import annotations

import json
from pathlib import Path

from hwgen.errors import HwgenError
from hwgen.ir.graph import DataflowGraph
from hwgen.ir.layers import MVAU, Thresholding, divisors
from hwgen.lower.insert_dwc import insert_dwcs

DEFAULT_MAX_SIMD = 16
DEFAULT_MAX_PE = 8


def _largest_divisor(n: int, limit: int) -> int:
    return max(d for d in divisors(n) if d <= limit)


def default_folding(graph: DataflowGraph) -> dict[str, dict[str, int]]:
    """A simple folding: SIMD up to 16, PE up to 8, each the largest divisor of the layer's size."""
    folding = {}
    for layer in graph.foldable:
        if isinstance(layer, MVAU):
            folding[layer.name] = {"PE": _largest_divisor(layer.mh, DEFAULT_MAX_PE), "SIMD": _largest_divisor(layer.mw, DEFAULT_MAX_SIMD)}
        elif isinstance(layer, Thresholding):
            folding[layer.name] = {"PE": _largest_divisor(layer.channels, DEFAULT_MAX_PE)}
    return folding


def read_folding(path: str | Path) -> dict[str, dict[str, int]]:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise HwgenError(f"folding file not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HwgenError(f"folding file {path} is not valid JSON ({exc})",
                         hint='write it as {"MVAU_0": {"PE": 4, "SIMD": 8}, ...}') from None
    if not isinstance(data, dict):
        raise HwgenError(f"folding file {path} must hold a JSON object, not {type(data).__name__}")
    return data


def write_folding(graph: DataflowGraph, path: str | Path) -> None:
    folding = {}
    for layer in graph.foldable:
        folding[layer.name] = {"PE": layer.pe, "SIMD": layer.simd} if isinstance(layer, MVAU) else {"PE": layer.pe}
    Path(path).write_text(json.dumps(folding, indent=2) + "\n")


def apply_folding(graph: DataflowGraph, folding: dict, source: str = "folding") -> DataflowGraph:
    """Set PE/SIMD per layer (layers not named keep theirs) and insert width converters."""
    names = {l.name for l in graph.foldable}
    entries = {k: v for k, v in folding.items() if k != "Defaults"}
    unknown = sorted(set(entries) - names)
    if unknown:
        raise HwgenError(f"{source} names layers this model does not have: {', '.join(unknown)}",
                         hint=f"the model's foldable layers are {', '.join(sorted(names))}")
    layers = []
    for layer in graph.layers:
        entry = entries.get(layer.name)
        if entry is not None:
            layer = _refold(layer, entry, source)
        layers.append(layer)
    folded = DataflowGraph(layers=layers, input=graph.input, output=graph.output, model_name=graph.model_name, notes=graph.notes)
    return insert_dwcs(folded)


def _refold(layer, entry, source: str):
    if not isinstance(entry, dict):
        raise HwgenError(f"{source}: entry for {layer.name} must be an object like {{\"PE\": 2, \"SIMD\": 4}}, not {entry!r}")
    values = {k.upper(): v for k, v in entry.items()}
    allowed = {"PE", "SIMD"} if isinstance(layer, MVAU) else {"PE"}
    extra = set(values) - allowed - {"RAM_STYLE", "MEM_MODE", "RESTYPE", "RUNTIME_WRITEABLE_WEIGHTS"}
    if extra:
        raise HwgenError(f"{source}: {layer.name} has no folding parameter {', '.join(sorted(extra))}",
                         hint=f"{type(layer).__name__} layers take {', '.join(sorted(allowed))}")
    for key in allowed & set(values):
        if not isinstance(values[key], int) or isinstance(values[key], bool):
            raise HwgenError(f"{source}: {layer.name} {key} must be an integer, not {values[key]!r}")
    try:
        return layer.refold(simd=values.get("SIMD"), pe=values.get("PE"))
    except ValueError as exc:
        raise HwgenError(f"{source}: {exc}") from None
