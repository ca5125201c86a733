"""The layer kinds: one module each (hwgen/kinds/<kind>.py), one line each in KINDS.

Every stage finds what a layer computes, costs and renders through `kind_of(layer)`; the
lists other stages need (the kernel headers the top includes, FINN's node names in folding
files, which kinds folding sets) are read from KINDS when they are needed, never written
out by hand. Adding a kind: a module with its IR dataclass and a `KIND = LayerKind(...)`, its
kernel in hls_templates/kernels/, tests/kinds/test_<module>.py, and its line here;
tests/kinds/test_registry.py fails while any part is missing.
"""

from __future__ import annotations

from hwgen.kinds import dwc, maxpool, mvau, swg, thresholding
from hwgen.kinds.base import LayerKind

KINDS: tuple[LayerKind, ...] = (
    mvau.KIND,
    thresholding.KIND,
    dwc.KIND,
    swg.KIND,
    maxpool.KIND,
)

_index: tuple[tuple, dict] = ((), {})  # (the KINDS it was built from, layer type -> kind)


def kind_of(layer) -> LayerKind:
    """The registered kind of `layer` (NotImplementedError naming its type when there is none)."""
    global _index
    if _index[0] is not KINDS:  # built again when KINDS is another tuple
        _index = (KINDS, {kind.layer: kind for kind in KINDS})
    kind = _index[1].get(type(layer))
    if kind is None:
        raise NotImplementedError(f"no layer kind {type(layer).__name__} in hwgen.kinds.KINDS")
    return kind


def kernels() -> tuple[str, ...]:
    """The kernel headers of every registered kind, sorted (top.cpp includes them all)."""
    return tuple(sorted({kind.kernel for kind in KINDS}))


def finn_op_types() -> dict[str, str]:
    """FINN node op type -> the name of the foldable kind it corresponds to."""
    return {op: kind.name for kind in KINDS if kind.foldable for op in kind.finn_op_types}
