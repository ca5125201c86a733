"""The dataflow graph's layer types: the IR dataclasses of the registered layer kinds (hwgen.kinds).

A layer is a frozen dataclass: shape, folding, data types and integer parameters, validated on
construction. Each is defined in its kind's module (hwgen/kinds/<kind>.py) together with what it
computes, costs and renders; tests/kinds/test_registry.py checks that every kind has all of them.

Streams carry elements in the flat order of the frame (channels last), packed into words:
a word of a stream with `n` elements per word holds elements i*n .. i*n+n-1, element j of
the word at bits [j*bits, (j+1)*bits).
"""

from __future__ import annotations

from hwgen.hw import RamStyle
from hwgen.kinds import KINDS
from hwgen.kinds.base import divisors
from hwgen.kinds.dwc import DWC
from hwgen.kinds.maxpool import MaxPool
from hwgen.kinds.mvau import MAX_ACC_BITS, MVAU, ResType
from hwgen.kinds.swg import SWG
from hwgen.kinds.thresholding import Thresholding

Layer = MVAU | Thresholding | DWC | SWG | MaxPool
LAYER_KINDS: tuple[type, ...] = tuple(kind.layer for kind in KINDS)
FOLDABLE_KINDS: tuple[type, ...] = tuple(kind.layer for kind in KINDS if kind.foldable)

__all__ = ["DWC", "FOLDABLE_KINDS", "LAYER_KINDS", "MAX_ACC_BITS", "MVAU", "SWG", "Layer", "MaxPool", "RamStyle", "ResType",
           "Thresholding", "divisors"]
