"""Folding files: JSON objects mapping layer names to {"PE": p, "SIMD": s}, the shape of FINN's folding config.

FINN's node names (MVAU_hls_0, Thresholding_Batch_1, ...) map to hwgen's layers of the same kind
and index (each kind's `finn_op_types`). An MVAU also takes FINN's "ram_style" (where its weights
live: "auto", "block", "distributed") and "resType" (its products: "auto", "lut", "dsp"). Keys
FINN writes that have no meaning here ("Defaults", mem_mode, runtime_writeable_weights, other
layers' ram_style) are ignored.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from hwgen.errors import HwgenError
from hwgen.fold.dwc import insert_dwcs
from hwgen.hw import RamStyle
from hwgen.ir.graph import DataflowGraph
from hwgen.ir.layers import MVAU, ResType
from hwgen.ir.words import check_stream_words
from hwgen.kinds import KINDS, finn_op_types, kind_of


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
    """The folding as a file `--folding` reads back (FINN's key names: PE, SIMD, ram_style, resType)."""
    folding = {}
    for layer in graph.foldable:
        if isinstance(layer, MVAU):
            folding[layer.name] = {"PE": layer.pe, "SIMD": layer.simd, "ram_style": layer.ram_style.value, "resType": layer.res_type.value}
        else:
            folding[layer.name] = {"PE": layer.pe}
    Path(path).write_text(json.dumps(folding, indent=2) + "\n")


_FINN_NODE = r"[A-Za-z]+(_hls|_rtl|_Batch)?_\d+"  # how FINN names a node: op type, implementation, index


def apply_folding(graph: DataflowGraph, folding: dict, source: str = "folding") -> DataflowGraph:
    """Set PE/SIMD per layer (layers not named keep theirs) and insert width converters."""
    names = {l.name for l in graph.foldable}
    entries = {finn_name(k) if k not in names else k: v for k, v in folding.items() if k != "Defaults"}
    # FINN nodes of kinds hwgen has no foldable layer for (StreamingFIFO_0, ...) have nothing to set here
    foldable = "|".join(kind.name for kind in KINDS if kind.foldable)
    entries = {k: v for k, v in entries.items() if k in names or re.fullmatch(rf"({foldable})_\d+", k)
               or not re.fullmatch(_FINN_NODE, k)}
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
    folded = graph.with_layers(layers)
    check_stream_words(folded, source)
    return insert_dwcs(folded)


def finn_name(name: str) -> str:
    """FINN node names to hwgen's, where the layers correspond (each kind's `finn_op_types`): MVAU_hls_3,
    MVAU_rtl_3, MatrixVectorActivation_3 -> MVAU_3; Thresholding_hls_1, Thresholding_Batch_1 ->
    Thresholding_1; ConvolutionInputGenerator_rtl_0 -> SWG_0; StreamingMaxPool_hls_0 -> MaxPool_0."""
    kinds = finn_op_types()
    match = re.fullmatch(rf"({'|'.join(kinds)})(?:_hls|_rtl|_Batch)?_(\d+)", name)
    return f"{kinds[match.group(1)]}_{match.group(2)}" if match else name


_IGNORED_KEYS = {"MEM_MODE", "RUNTIME_WRITEABLE_WEIGHTS", "RAM_STYLE_THRESHOLDS"}  # FINN's, no meaning here
_CHOICES = {"RAM_STYLE": RamStyle, "RESTYPE": ResType, "RES_TYPE": ResType}  # MVAU options, by FINN's value names


def _refold(layer, entry, source: str):
    if not isinstance(entry, dict):
        raise HwgenError(f"{source}: entry for {layer.name} must be an object like {{\"PE\": 2, \"SIMD\": 4}}, not {entry!r}")
    values = {k.upper(): v for k, v in entry.items()}
    allowed = set(kind_of(layer).fold_params)
    choices = set(_CHOICES) if isinstance(layer, MVAU) else set()
    # FINN gives its other layers a ram_style too (line buffers, threshold tables): hwgen sizes those itself
    ignored = _IGNORED_KEYS | ({"RAM_STYLE", "RESTYPE"} - choices)
    extra = set(values) - allowed - choices - ignored
    if extra:
        takes = sorted(allowed) + (["ram_style", "resType"] if choices else [])
        raise HwgenError(f"{source}: {layer.name} has no folding parameter {', '.join(sorted(extra))}",
                         hint=f"{type(layer).__name__} layers take {', '.join(takes)}")
    for key in allowed & set(values):
        if not isinstance(values[key], int) or isinstance(values[key], bool):
            raise HwgenError(f"{source}: {layer.name} {key} must be an integer, not {values[key]!r}")
    options = {}
    for key in choices & set(values):
        enum = _CHOICES[key]
        try:
            options[enum] = enum(values[key].lower() if isinstance(values[key], str) else values[key])
        except ValueError:
            valid = ", ".join(repr(e.value) for e in enum)
            why = ("; UltraRAM cannot be initialized by the bitstream, and hwgen's weights are constant tables"
                   if enum is RamStyle and values[key] == "ultra" else "")
            raise HwgenError(f"{source}: {layer.name} {key.lower()} must be one of {valid}, not {values[key]!r}{why}") from None
    try:
        if isinstance(layer, MVAU):
            return layer.refold(simd=values.get("SIMD"), pe=values.get("PE"), ram_style=options.get(RamStyle),
                                res_type=options.get(ResType))
        return layer.refold(simd=values.get("SIMD"), pe=values.get("PE"))
    except ValueError as exc:
        raise HwgenError(f"{source}: {exc}") from None
