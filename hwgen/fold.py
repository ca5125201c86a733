"""Folding: how many input elements (SIMD) and output channels (PE) a layer handles per cycle.

Folding files are JSON objects mapping layer names to {"PE": p, "SIMD": s}, the shape of
FINN's folding config: FINN's node names (MVAU_hls_0, Thresholding_Batch_1, ...) map to
hwgen's layers of the same kind and index, and keys FINN writes that have no meaning here
("Defaults", ram_style, mem_mode, resType) are ignored.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from hwgen.errors import HwgenError
from hwgen.ir.graph import DataflowGraph
from hwgen.estimate import cycles, resources, total_resources
from hwgen.estimate.cycle_model import io_cycles
from hwgen.estimate.resource_model import SHELL
from hwgen.ir.layers import DWC, FOLDABLE_KINDS, MVAU, SWG, divisors
from hwgen.lower.insert_dwc import insert_dwcs

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
    entries = {finn_name(k) if k not in names else k: v for k, v in folding.items() if k != "Defaults"}
    # FINN nodes of kinds hwgen has no foldable layer for (StreamingFIFO_0, ...) have nothing to set here
    entries = {k: v for k, v in entries.items() if k in names or re.fullmatch(r"(MVAU|Thresholding|SWG|MaxPool)_\d+", k)
               or not re.fullmatch(r"[A-Za-z]+(_hls|_rtl|_Batch)?_\d+", k)}
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


_FINN_KINDS = {"MVAU": "MVAU", "MatrixVectorActivation": "MVAU", "Thresholding": "Thresholding",
               "ConvolutionInputGenerator": "SWG", "StreamingMaxPool": "MaxPool"}


def finn_name(name: str) -> str:
    """FINN node names to hwgen's, where the layers correspond: MVAU_hls_3, MVAU_rtl_3,
    MatrixVectorActivation_3 -> MVAU_3; Thresholding_hls_1, Thresholding_Batch_1 -> Thresholding_1;
    ConvolutionInputGenerator_rtl_0 -> SWG_0; StreamingMaxPool_hls_0 -> MaxPool_0."""
    match = re.fullmatch(r"(MVAU|MatrixVectorActivation|Thresholding|ConvolutionInputGenerator|StreamingMaxPool)"
                         r"(?:_hls|_rtl|_Batch)?_(\d+)", name)
    return f"{_FINN_KINDS[match.group(1)]}_{match.group(2)}" if match else name


def _refold(layer, entry, source: str):
    if not isinstance(entry, dict):
        raise HwgenError(f"{source}: entry for {layer.name} must be an object like {{\"PE\": 2, \"SIMD\": 4}}, not {entry!r}")
    values = {k.upper(): v for k, v in entry.items()}
    allowed = {"PE", "SIMD"} if isinstance(layer, (MVAU, SWG)) else {"PE"}
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


# -- automatic folding ----------------------------------------------------------------------
_CANDIDATES: dict[int, tuple] = {}  # id(layer) -> (layer, its refoldings); layers are immutable


def _candidates(layer) -> list:
    """Every folding of a layer, as refolded layers (memoized: refolding validates the parameters)."""
    cached = _CANDIDATES.get(id(layer))
    if cached is None or cached[0] is not layer:
        if isinstance(layer, MVAU):
            options = [layer.refold(simd=s, pe=p) for s in divisors(layer.mw) for p in divisors(layer.mh)]
        else:
            options = [layer.refold(pe=p) for p in divisors(layer.channels)]
        if len(_CANDIDATES) > 256:
            _CANDIDATES.clear()
        cached = _CANDIDATES[id(layer)] = (layer, options)
    return cached[1]


@lru_cache(maxsize=65536)
def _cost_of(layer, lut: int, bram36: int, dsp: int) -> float:
    r = resources(layer)
    return r.LUT / lut + r.BRAM36 / max(1, bram36) + r.DSP / max(1, dsp)


def _cost(layer, board) -> float:
    """A layer's share of the board: the sum of its fractions of LUT, BRAM and DSP."""
    avail = board.resources
    return _cost_of(layer, avail["LUT"], avail["BRAM36"], avail["DSP"])


MAX_PORT_BITS = 1024  # the widest AXI-stream word the accelerator's ports (and AXI DMA) take


def cheapest_within(layer, max_cycles: int, board, first: bool = False, last: bool = False):
    """The cheapest folding of `layer` taking at most `max_cycles` per frame (its fastest if none does).

    The first layer's input word and the last layer's output word are the AXI-stream ports: at most
    1024 bits.
    """
    options = [c for c in _candidates(layer)
               if not (first and c.in_elems * c.in_dtype.bits > MAX_PORT_BITS)
               and not (last and c.out_elems * c.out_dtype.bits > MAX_PORT_BITS)]
    fitting = [c for c in options if cycles(c) <= max_cycles]
    if not fitting:
        return min(options, key=lambda c: (cycles(c), _cost(c, board)))
    return min(fitting, key=lambda c: (_cost(c, board), cycles(c)))


def _compatible(a: int, b: int) -> bool:
    """Word sizes one DWC converts at full rate (one divides the other); else two DWCs through the gcd,
    whose narrow middle stream can be slower than either layer."""
    return max(a, b) % min(a, b) == 0


def fold_to_cycles(graph: DataflowGraph, max_cycles: int, board) -> DataflowGraph:
    """Each layer as cheaply as `max_cycles` allows; then, left to right, a layer whose word size does
    not divide (or is not divisible by) its producer's is re-picked among those that are, and window,
    pooling and threshold layers (cheap next to MVAUs) also match their consumer's."""
    layers = [l for l in graph.layers if not isinstance(l, DWC)]
    n = len(layers)
    layers = [cheapest_within(l, max_cycles, board, first=i == 0, last=i == n - 1) if isinstance(l, FOLDABLE_KINDS) else l
              for i, l in enumerate(layers)]
    for i, layer in enumerate(layers):
        if not isinstance(layer, FOLDABLE_KINDS):
            continue
        prev = layers[i - 1] if i else None
        nxt = layers[i + 1] if i + 1 < n and not isinstance(layer, MVAU) else None
        if (prev is None or _compatible(prev.out_elems, layer.in_elems)) and (nxt is None or _compatible(layer.out_elems, nxt.in_elems)):
            continue
        options = [c for c in _candidates(layer) if cycles(c) <= max_cycles
                   and (prev is None or _compatible(prev.out_elems, c.in_elems))
                   and (nxt is None or _compatible(c.out_elems, nxt.in_elems))
                   and not (i == 0 and c.in_elems * c.in_dtype.bits > MAX_PORT_BITS)
                   and not (i == n - 1 and c.out_elems * c.out_dtype.bits > MAX_PORT_BITS)]
        if options:
            layers[i] = min(options, key=lambda c: (_cost(c, board), cycles(c)))
    folded = DataflowGraph(layers=layers, input=graph.input, output=graph.output, model_name=graph.model_name, notes=graph.notes)
    return insert_dwcs(folded)


def fits(graph: DataflowGraph, board) -> tuple[bool, dict]:
    """Whether the design, its sized FIFOs and the shell fit the board within its utilization cap; the usage fractions."""
    from hwgen.fifo import size_fifos

    depths = size_fifos(graph, graph.input.elems // graph.layers[0].in_elems)
    usage = (total_resources(graph, depths) + SHELL).usage(board.resources)
    return all(v <= board.utilization_cap for v in usage.values()), usage


def auto_fold(graph: DataflowGraph, board, clock_mhz: float, target_fps: float | None = None) -> DataflowGraph:
    """With a target: the cheapest folding reaching `target_fps`. Without: the fastest that fits the board.

    Raises HwgenError with a per-layer table when the target cannot be met or nothing fits.
    """
    foldable = graph.foldable
    # the DMA moves at most one memory-port word per cycle: folding faster than that buys nothing
    in_bytes = -(-graph.input.elems * graph.input.dtype.bits // 8)
    out_bytes = -(-graph.output.elems * graph.output.dtype.bits // 8)
    floor = max(io_cycles(in_bytes, board.dma_port_bits), io_cycles(out_bytes, board.dma_port_bits))
    if target_fps is not None:
        budget = int(clock_mhz * 1e6 // target_fps)
        if budget < floor:
            raise HwgenError(f"{target_fps:,.0f} frames/s is out of reach: the DMA moves {in_bytes} bytes in and {out_bytes} bytes out "
                             f"per frame through {board.name}'s {board.dma_port_bits}-bit memory port, {floor} cycles per frame, "
                             f"at most {clock_mhz * 1e6 / floor:,.0f} frames/s at {clock_mhz:g} MHz",
                             hint="lower --target-fps or raise the clock")
        folded = fold_to_cycles(graph, budget, board)
        slow = [l for l in folded.layers if cycles(l) > budget]
        if slow:
            raise HwgenError(f"{target_fps:,.0f} frames/s at {clock_mhz:g} MHz needs every layer within {budget} cycles per frame; "
                             f"fully unfolded, these layers are still slower:\n" + _table(folded, board, only=slow),
                             hint="lower --target-fps, raise the clock, or make these layers smaller")
        ok, usage = fits(folded, board)
        if not ok:
            raise HwgenError(_over_budget(folded, board, usage, f"the cheapest folding for {target_fps:,.0f} frames/s"),
                             hint="lower --target-fps, pick a larger board (python -m hwgen boards), or use fewer bits")
        return folded
    # fastest that fits: binary search over the cycle counts layers can reach
    steps = sorted({cycles(c) for l in foldable for c in _candidates(l)})
    slowest = max(max(cycles(c) for c in _candidates(l)) for l in foldable)
    steps = [s for s in steps if floor <= s <= slowest] or [slowest]
    best = None
    lo, hi = 0, len(steps) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        folded = fold_to_cycles(graph, steps[mid], board)
        if fits(folded, board)[0]:
            best, hi = folded, mid - 1
        else:
            lo = mid + 1
    if best is None:
        folded = fold_to_cycles(graph, slowest, board)
        raise HwgenError(_over_budget(folded, board, fits(folded, board)[1], "even the most folded design (PE = SIMD = 1)"),
                         hint="pick a larger board (python -m hwgen boards), use fewer bits or smaller layers")
    return best


def _table(graph: DataflowGraph, board, only=None) -> str:
    rows = [f"  {'layer':<16}{'PE':>5}{'SIMD':>6}{'cycles':>10}{'LUT':>10}{'BRAM36':>8}{'DSP':>6}"]
    for layer in graph.layers:
        if only is not None and layer not in only:
            continue
        r = resources(layer)
        rows.append(f"  {layer.name:<16}{getattr(layer, 'pe', '-'):>5}{getattr(layer, 'simd', '-'):>6}{cycles(layer):>10}"
                    f"{r.LUT:>10,.0f}{r.BRAM36:>8.1f}{r.DSP:>6.0f}")
    return "\n".join(rows)


def _over_budget(graph: DataflowGraph, board, usage: dict, what: str) -> str:
    over = ", ".join(f"{k} {v:.0%}" for k, v in usage.items() if v > board.utilization_cap)
    return (f"{what} does not fit {board.name} within its {board.utilization_cap:.0%} utilization cap "
            f"(over: {over}; shell included):\n" + _table(graph, board))
