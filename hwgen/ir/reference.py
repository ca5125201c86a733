"""Bit-exact numpy execution of the dataflow graph (the reference the C-sim must match).

Arrays are (frames, elements-per-frame) of int64 values in the flat streaming order. Each layer
runs its kind's `reference` (hwgen.kinds).
"""

from __future__ import annotations

import numpy as np

from hwgen.ir.graph import DataflowGraph
from hwgen.kinds import kind_of


def execute(layer, x: np.ndarray) -> np.ndarray:
    """One layer on (frames, frame_in) integers."""
    return kind_of(layer).reference(layer, x)


def run(graph: DataflowGraph, x: np.ndarray, trace: bool = False):
    """Integer input levels (frames, input elems) -> integer outputs (frames, output elems).

    With trace=True also returns {layer name: output} for debugging mismatches.
    """
    x = np.asarray(x, dtype=np.int64).reshape(-1, graph.input.elems)
    outputs = {}
    for layer in graph.layers:
        x = execute(layer, x)
        if trace:
            outputs[layer.name] = x
    return (x, outputs) if trace else x
