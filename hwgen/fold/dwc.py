"""Insert width converters where a producer's word size differs from its consumer's (after every folding)."""

from __future__ import annotations

from math import gcd

from hwgen.ir.graph import DataflowGraph
from hwgen.ir.layers import DWC


def insert_dwcs(graph: DataflowGraph) -> DataflowGraph:
    """Returns a graph with existing DWCs dropped and the needed ones inserted (a pure function)."""
    layers = [l for l in graph.layers if not isinstance(l, DWC)]
    out, count = [], 0
    for layer in layers:
        if out and out[-1].out_elems != layer.in_elems:
            prev = out[-1]
            a, b = prev.out_elems, layer.in_elems
            steps = [(a, b)] if max(a, b) % min(a, b) == 0 else [(a, gcd(a, b)), (gcd(a, b), b)]
            for i, o in steps:
                out.append(DWC(name=f"DWC_{count}", elems=prev.frame_out, in_elems=i, out_elems=o, dtype=prev.out_dtype))
                count += 1
        out.append(layer)
    return graph.with_layers(out)
