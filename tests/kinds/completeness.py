"""What a layer kind must have, checked part by part: `missing_parts(kind)` names each part that is absent or wrong.

tests/kinds/test_registry.py runs it on every registered kind, and on a throw-away pass-through kind
with each part taken away in turn (the check must name exactly that part).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np

from hwgen.hw import Resources
from hwgen.kinds.base import Description, LayerContext, LayerKind, Schedule, Word
from hwgen.resources import kernels

TESTS = Path(__file__).resolve().parent  # tests/kinds: test_<module>.py per kind
FUNCTIONS = ("reference", "cycles", "resources", "finn_resources", "context", "describe", "words", "schedule", "example")
FOLD_PARAMS = {"PE", "SIMD"}


def random_inputs(layer, frames: int, seed: int = 0) -> np.ndarray:
    """(frames, frame_in) values of the layer's input type (bipolar: ±1)."""
    rng = np.random.default_rng(seed)
    dtype = layer.in_dtype
    if dtype.bits == 1 and dtype.signed:
        return rng.choice(np.array([-1, 1]), size=(frames, layer.frame_in))
    return rng.integers(dtype.min, dtype.max + 1, size=(frames, layer.frame_in))


def missing_parts(kind: LayerKind, kernel_dirs: tuple[Path, ...] = (), tests: Path = TESTS) -> list[str]:
    """Every part of `kind` that is absent or inconsistent, by name ([] for a complete kind).

    `kernel_dirs`: where the kind's kernel may be besides hls_templates/kernels/; `tests`: where its test
    file test_<module>.py must be.
    """
    problems = []
    for name in FUNCTIONS:
        if not callable(getattr(kind, name, None)):
            problems.append(name)
    if not (isinstance(kind.layer, type) and dataclasses.is_dataclass(kind.layer) and kind.layer.__dataclass_params__.frozen):
        problems.append("layer")  # the IR dataclass: frozen
    if not (isinstance(kind.finn_op_types, tuple) and all(isinstance(op, str) and op for op in kind.finn_op_types)):
        problems.append("finn_op_types")
    if not (isinstance(kind.fold_params, tuple) and set(kind.fold_params) <= FOLD_PARAMS):
        problems.append("fold_params")
    module = kind.layer.__module__.rsplit(".", 1)[-1] if isinstance(kind.layer, type) else "?"
    if not (tests / f"test_{module}.py").is_file():
        problems.append("test file")
    if "example" in problems:
        return problems
    layer = kind.example()
    if not isinstance(layer, kind.layer):
        return problems + ["example"]
    problems += _kernel_problems(kind, layer, kernel_dirs)
    problems += _behaviour_problems(kind, layer, problems)
    return problems


def _kernel_problems(kind: LayerKind, layer, kernel_dirs: tuple[Path, ...]) -> list[str]:
    files = [d / kind.kernel for d in (kernels(), *kernel_dirs) if isinstance(kind.kernel, str) and kind.kernel]
    found = next((f for f in files if f.is_file()), None)
    if found is None:
        return ["kernel"]
    if not callable(kind.context):
        return []
    context = kind.context(layer)
    if not re.search(rf"\bvoid\s+{re.escape(str(context.function))}\s*\(", found.read_text()):
        return ["kernel function"]  # the header does not declare the function the context calls
    return []


def _behaviour_problems(kind: LayerKind, layer, absent: list[str]) -> list[str]:
    """The example through every part, with results that agree with the layer and with each other."""
    problems = []
    if "reference" not in absent:
        x = random_inputs(layer, 3)
        y = kind.reference(layer, x)
        if y.shape != (3, layer.frame_out) or not layer.out_dtype.contains(y):
            problems.append("reference")
    n = kind.cycles(layer) if "cycles" not in absent else None
    if n is not None and not (isinstance(n, int) and n >= 1):
        problems.append("cycles")
    for name in ("resources", "finn_resources"):
        if name not in absent:
            r = getattr(kind, name)(layer)
            if not (isinstance(r, Resources) and all(v >= 0 for v in dataclasses.astuple(r))):
                problems.append(name)
    if "context" not in absent:
        c = kind.context(layer)
        if not (isinstance(c, LayerContext) and c.name == layer.name and c.kind == kind.name and c.function
                and c.in_bits == layer.in_elems * layer.in_dtype.bits and c.out_bits == layer.out_elems * layer.out_dtype.bits):
            problems.append("context")
    if "describe" not in absent and not isinstance(kind.describe(layer), Description):
        problems.append("describe")
    if "words" not in absent:
        words = kind.words(layer)  # () or (input word, output word), each set by a folding parameter of the kind
        if words != () and not (len(words) == 2 and all(isinstance(w, Word) for w in words)
                                and (words[0].elems, words[1].elems) == (layer.in_elems, layer.out_elems)
                                and all(w.dim % w.elems == 0 and w.param in kind.fold_params for w in words)):
            problems.append("words")
    if "schedule" not in absent and n is not None:
        s = kind.schedule(layer)
        if not (isinstance(s, Schedule) and len(s.reads) == len(s.writes) == n and s.reads.sum() == layer.frame_in // layer.in_elems
                and s.writes.sum() == layer.frame_out // layer.out_elems):
            problems.append("schedule")
    return problems


def unregistered(modules, kinds: tuple[LayerKind, ...]) -> list[str]:
    """The kind modules (each defines KIND) whose kind is not in `kinds`: a kind without its registry line."""
    return [m.__name__ for m in modules if getattr(m, "KIND", None) is not None and m.KIND not in kinds]
