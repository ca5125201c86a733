"""Stream words: every word a layer reads or writes must fit the widest ap_uint Vitis HLS takes (hw.MAX_WORD_BITS).

Automatic folding only considers foldings within it; a folding file, or a graph rendered, beyond
it is refused with the folding parameter to lower (each kind's `words` says which one sets a word).
"""

from __future__ import annotations

from hwgen.errors import HwgenError
from hwgen.hw import MAX_WORD_BITS
from hwgen.ir.graph import DataflowGraph
from hwgen.kinds import kind_of
from hwgen.kinds.base import divisors


def stream_word_error(layer, source: str) -> HwgenError | None:
    """The error for a layer whose input or output stream word is wider than MAX_WORD_BITS, None if both fit.

    Kinds whose words no folding parameter sets (DWCs: their neighbours' words, or narrower) are not checked."""
    for side, (elems, param, dim) in zip(("input", "output"), kind_of(layer).words(layer)):
        dtype = layer.in_dtype if side == "input" else layer.out_dtype
        if elems * dtype.bits <= MAX_WORD_BITS:
            continue
        fits = max(d for d in divisors(dim) if d * dtype.bits <= MAX_WORD_BITS)
        return HwgenError(f"{layer.name}'s {side} stream word is {elems} x {dtype} = {elems * dtype.bits} bits, wider than the "
                          f"{MAX_WORD_BITS} bits an ap_uint can have in Vitis HLS (AP_INT_MAX_W is at most {MAX_WORD_BITS})",
                          where=source, hint=f"lower {layer.name}'s {param} from {elems} to {fits} or less "
                                             f"({param} x {dtype.bits} bits must not exceed {MAX_WORD_BITS})")
    return None


def check_stream_words(graph: DataflowGraph, source: str = "the folding") -> None:
    """Raise stream_word_error for the first layer whose stream word is wider than MAX_WORD_BITS."""
    for layer in graph.layers:
        error = stream_word_error(layer, source)
        if error is not None:
            raise error
