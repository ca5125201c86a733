"""Run a dataflow graph in C simulation on integer inputs: render, compile (cached), execute.

Checks single layers and whole graphs against the numpy reference without a full build (the
tests do); the build itself goes through the same render and compile functions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hwgen.codegen.render import cxx_defines, include_dirs, render
from hwgen.csim.compile import compile_library
from hwgen.driver import packing
from hwgen.driver.backends import CSimBackend
from hwgen.ir.graph import DataflowGraph


class Simulation:
    """A compiled graph: `run(levels)` streams integer inputs through the C-sim library."""

    def __init__(self, graph: DataflowGraph, workdir: Path, exact: bool = False):
        self.graph = graph
        hls, csim = Path(workdir) / "hls", Path(workdir) / "csim"
        design = render(graph, hls, csim)
        library, self.cached = compile_library([hls / "top.cpp", csim / "csim.cpp"], include_dirs(hls), csim / "libhwgen_csim.so",
                                               csim / "compile.log", exact=exact, defines=cxx_defines(design))
        self.inp, self.out = design.input, design.output
        meta = {"input": {"bus": self.inp.bus, "words": self.inp.words}, "output": {"bus": self.out.bus, "words": self.out.words}}
        self.backend = CSimBackend(library, meta)

    def run(self, levels: np.ndarray) -> np.ndarray:
        levels = np.asarray(levels, dtype=np.int64).reshape(-1, self.graph.input.elems)
        data = packing.pack(levels, str(self.graph.input.dtype), self.inp.per_word, self.inp.bus)
        out = self.backend.run(data, len(levels))
        return packing.unpack(out, str(self.graph.output.dtype), self.out.per_word, self.out.bus, self.out.elems)
