"""Folding: how many input elements (SIMD) and output channels (PE) a layer handles per cycle.

From a folding file (files.py: FINN's folding-config shape) or automatically (auto.py: the cheapest
folding reaching a frame rate, or the fastest that fits the board, solved exactly by exact.py, the priced
search of search.py as its fallback); either way width converters are inserted where a producer's word
size differs from its consumer's (dwc.py).
"""

from hwgen.fold.auto import auto_fit, auto_fold
from hwgen.fold.dwc import insert_dwcs
from hwgen.fold.exact import exact_fit
from hwgen.fold.files import apply_folding, finn_name, read_folding, write_folding
from hwgen.fold.search import Fit, Prices, cheapest_within, dma_floor, fit_to_cycles, fits, fold_to_cycles, search_fit

__all__ = ["Fit", "Prices", "apply_folding", "auto_fit", "auto_fold", "cheapest_within", "dma_floor", "exact_fit", "finn_name",
           "fit_to_cycles", "fits", "fold_to_cycles", "insert_dwcs", "read_folding", "search_fit", "write_folding"]
