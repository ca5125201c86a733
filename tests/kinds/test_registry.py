"""The layer-kind registry: every kind is complete, every list other stages need is derived from it, and a
new kind takes one module, one kernel, one test file and one registry line (a pass-through kind shows it)."""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import pkgutil
import re
import textwrap

import numpy as np
import pytest

import hwgen.kinds
from hwgen import fifo
from hwgen.codegen.render import include_dirs, render
from hwgen.csim.compile import compile_library, find_toolchain
from hwgen.datatypes import DataType
from hwgen.driver import packing
from hwgen.driver.backends import CSimBackend
from hwgen.estimate import cycles, resources, total_resources
from hwgen.fold import apply_folding, finn_name
from hwgen.ir import reference
from hwgen.ir.graph import DataflowGraph, HostInput, HostOutput
from hwgen.ir.layers import FOLDABLE_KINDS, LAYER_KINDS
from hwgen.kinds import KINDS, kernels, kind_of
from hwgen.kinds.base import divisors, every_iteration
from hwgen.resources import kernels as kernel_dir
from tests.kinds.completeness import FUNCTIONS, missing_parts, unregistered

try:
    find_toolchain()
    HAVE_CSIM = True
except Exception:  # noqa: BLE001  (no g++ or no hls4ml headers: the C-sim part is skipped)
    HAVE_CSIM = False


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_every_registered_kind_is_complete(kind):
    assert missing_parts(kind) == []


def test_every_kind_module_is_registered_once():
    modules = [importlib.import_module(f"hwgen.kinds.{m.name}") for m in pkgutil.iter_modules(hwgen.kinds.__path__)]
    assert unregistered(modules, KINDS) == []
    assert len({k.name for k in KINDS}) == len({k.layer for k in KINDS}) == len({k.kernel for k in KINDS}) == len(KINDS)
    assert LAYER_KINDS == tuple(k.layer for k in KINDS)
    assert set(FOLDABLE_KINDS) == {k.layer for k in KINDS if k.fold_params}


def test_every_kernel_header_belongs_to_a_kind():
    """A kernel in hls_templates/kernels/ is a kind's, or one of the two every design uses (the AXI-stream ports, the types)."""
    headers = {p.name for p in kernel_dir().glob("*.hpp")}
    assert headers == set(kernels()) | {"axis.hpp", "hwgen_types.hpp"}


def test_kind_of_refuses_unknown_layers():
    class Mystery:
        pass

    with pytest.raises(NotImplementedError, match="no layer kind Mystery in hwgen.kinds.KINDS"):
        kind_of(Mystery())
    with pytest.raises(NotImplementedError, match="Mystery"):
        reference.execute(Mystery(), np.zeros((1, 1)))
    with pytest.raises(NotImplementedError, match="Mystery"):
        cycles(Mystery())


def test_finn_folding_names_come_from_the_kinds():
    assert [finn_name(n) for n in ("MVAU_hls_3", "MVAU_rtl_3", "MatrixVectorActivation_3", "Thresholding_Batch_1",
                                   "Thresholding_hls_1", "ConvolutionInputGenerator_rtl_0", "StreamingMaxPool_hls_0")] == [
        "MVAU_3", "MVAU_3", "MVAU_3", "Thresholding_1", "Thresholding_1", "SWG_0", "MaxPool_0"]
    # width converters are not folded: FINN's name stays, and folding files may name them (they are ignored)
    assert finn_name("StreamingDataWidthConverter_hls_0") == "StreamingDataWidthConverter_hls_0"


def test_divisors():
    assert divisors(1) == [1]
    assert divisors(12) == [1, 2, 3, 4, 6, 12]
    assert divisors(13) == [1, 13]
    for n in range(1, 60):
        assert divisors(n) == [d for d in range(1, n + 1) if n % d == 0]


# -- a new kind: a pass-through layer, written the way a contributor adds one ---------------------
MODULE = '''
"""PassThrough: words in, the same words out (kernels/passthrough.hpp)."""

from dataclasses import dataclass

import numpy as np

from hwgen.datatypes import DataType
from hwgen.hw import Resources
from hwgen.kinds.base import Description, LayerContext, LayerKind, check_divides, every_iteration


@dataclass(frozen=True, eq=False)
class PassThrough:
    name: str
    elems: int  # elements per frame
    word: int  # elements per word
    dtype: DataType

    def __post_init__(self):
        check_divides(f"PassThrough {self.name!r}", "elems", self.elems, self.word, "word")

    in_elems = out_elems = property(lambda self: self.word)
    frame_in = frame_out = property(lambda self: self.elems)
    in_dtype = out_dtype = property(lambda self: self.dtype)


def reference(layer, x):
    return x


def cycles(layer):
    return layer.elems // layer.word


def resources(layer):
    """An output register as wide as the word."""
    return Resources(FF=layer.word * layer.dtype.bits)


def finn_resources(layer):
    """FINN has no such layer: no estimate."""
    return Resources()


def context(layer):
    bits = layer.word * layer.dtype.bits
    return LayerContext(kind="PassThrough", name=layer.name, function="passthrough", targs=(bits, layer.elems // layer.word),
                        params=(), in_bits=bits, out_bits=bits)


def describe(layer):
    return Description(f"{layer.word}->{layer.word}", f"{layer.dtype}")


def words(layer):
    return ()


def example():
    return PassThrough(name="PassThrough_0", elems=12, word=3, dtype=DataType.int(4))


def schedule(layer):  # every iteration reads a word and writes it
    return every_iteration(cycles(layer))


KIND = LayerKind(layer=PassThrough, reference=reference, cycles=cycles, resources=resources, finn_resources=finn_resources,
                 context=context, describe=describe, words=words, schedule=schedule, kernel="passthrough.hpp", finn_op_types=(),
                 fold_params=(), example=example)
'''

KERNEL = """\
// A pass-through layer: every word read is written. WORDS words per frame, one a cycle.
#ifndef HWGEN_PASSTHROUGH_HPP
#define HWGEN_PASSTHROUGH_HPP

#include <hls_stream.h>

#include "hwgen_types.hpp"

namespace hwgen {

template <unsigned BITS, unsigned WORDS>
void passthrough(hls::stream<ap_uint<BITS> >& in, hls::stream<ap_uint<BITS> >& out, unsigned frames, const char* name) {
    const unsigned long long total = (unsigned long long)frames * WORDS;
    HWGEN_PROBE(probe, name);
    for (unsigned long long i = 0; i < total; i++) {
#pragma HLS PIPELINE II = 1
        HWGEN_WRITE(probe, out, HWGEN_READ(probe, in));
        HWGEN_NEXT(probe);
    }
}

}  // namespace hwgen

#endif
"""


@pytest.fixture
def passthrough(tmp_path, monkeypatch):
    """The new kind's four pieces: its module, its kernel, its test file, its registry line."""
    (tmp_path / "kernels").mkdir()
    (tmp_path / "kernels" / "passthrough.hpp").write_text(KERNEL)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_passthrough.py").write_text("def test_passthrough():\n    pass\n")
    (tmp_path / "passthrough.py").write_text(textwrap.dedent(MODULE))
    spec = importlib.util.spec_from_file_location("passthrough", tmp_path / "passthrough.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(hwgen.kinds, "KINDS", KINDS + (module.KIND,))  # the registry line
    return module, tmp_path


def check(kind, tmp_path):
    return missing_parts(kind, kernel_dirs=(tmp_path / "kernels",), tests=tmp_path / "tests")


def test_a_new_kind_is_complete_with_its_four_pieces(passthrough):
    module, tmp = passthrough
    assert check(module.KIND, tmp) == []
    assert unregistered([module], hwgen.kinds.KINDS) == []
    assert "passthrough.hpp" in kernels()  # the top includes it


@pytest.mark.parametrize("part", FUNCTIONS)
def test_the_completeness_check_names_a_missing_function(passthrough, part):
    module, tmp = passthrough
    assert check(dataclasses.replace(module.KIND, **{part: None}), tmp) == [part]


def test_the_completeness_check_names_each_missing_piece(passthrough):
    module, tmp = passthrough
    kind = module.KIND
    assert check(dataclasses.replace(kind, schedule=lambda layer: every_iteration(3)), tmp) == ["schedule"]  # 3 != its 4 cycles
    assert check(dataclasses.replace(kind, fold_params=("SIMD", "WIDTH")), tmp) == ["fold_params"]
    (tmp / "tests" / "test_passthrough.py").unlink()
    assert check(kind, tmp) == ["test file"]
    (tmp / "tests" / "test_passthrough.py").write_text("")
    (tmp / "kernels" / "passthrough.hpp").write_text(KERNEL.replace("void passthrough(", "void pass_through("))
    assert check(kind, tmp) == ["kernel function"]
    (tmp / "kernels" / "passthrough.hpp").unlink()
    assert check(kind, tmp) == ["kernel"]
    assert unregistered([module], KINDS) == ["passthrough"]  # without its registry line


def test_a_wrong_part_is_named_too(passthrough):
    module, tmp = passthrough
    kind = module.KIND
    assert check(dataclasses.replace(kind, cycles=lambda layer: 5), tmp) == ["schedule"]  # 5 != its 4 words
    assert check(dataclasses.replace(kind, reference=lambda layer, x: x[:, :-1]), tmp) == ["reference"]
    assert check(dataclasses.replace(kind, resources=lambda layer: module.Resources(LUT=-1)), tmp) == ["resources"]


@pytest.mark.skipif(not HAVE_CSIM, reason="no C++ toolchain with the hls4ml ap_types headers")
def test_a_new_kind_runs_through_every_stage(passthrough, tmp_path):
    """Between two MVAUs, the pass-through layer is estimated, sized, rendered (the top includes its kernel),
    compiled and run in C simulation, bit-exact against the numpy reference: nothing but its four pieces."""
    module, tmp = passthrough
    mvau = hwgen.kinds.mvau.example()  # 6x12, SIMD 4, PE 3, two vectors: 12 uint2 outputs a frame
    second = dataclasses.replace(mvau, name="MVAU_1", mw=6, mh=6, simd=3, weights=(np.arange(36).reshape(6, 6) % 4) - 2,
                                 in_dtype=DataType.uint(2), vectors=2)
    middle = module.PassThrough(name="PassThrough_0", elems=12, word=3, dtype=DataType.uint(2))
    q = {"op": "quant", "scale": 1.0, "zero_point": 0.0, "bits": 2, "signed": False, "narrow": False, "rounding_mode": "ROUND"}
    graph = apply_folding(DataflowGraph([mvau, middle, second], HostInput((1, 24), q, DataType.uint(2), 24),
                                        HostOutput((1, 12), DataType.uint(2), 12), "passthrough"), {})
    assert [type(l).__name__ for l in graph.layers] == ["MVAU", "PassThrough", "MVAU"]
    assert total_resources(graph).FF >= resources(middle).FF == 6
    plan = fifo.plan_fifos(graph)
    hls, csim = tmp_path / "hls", tmp_path / "csim"
    design = render(graph, hls, csim, plan.depths)
    assert '#include "passthrough.hpp"' in (hls / "top.cpp").read_text()
    library, _ = compile_library([hls / "top.cpp", csim / "csim.cpp"], [*include_dirs(hls), tmp / "kernels"],
                                 csim / "libhwgen_csim.so", csim / "compile.log")
    backend = CSimBackend(library, {"input": {"bus": design.input.bus, "words": design.input.words},
                                    "output": {"bus": design.output.bus, "words": design.output.words}})
    levels = np.random.default_rng(3).integers(0, 4, size=(5, 24))
    out = backend.run(packing.pack(levels, "uint2", design.input.per_word, design.input.bus), len(levels))
    got = packing.unpack(out, "uint2", design.output.per_word, design.output.bus, design.output.elems)
    np.testing.assert_array_equal(got, reference.run(graph, levels))
    assert backend.iterations("PassThrough_0") == 5 * cycles(middle)  # its loop ran the cycles its kind models
    assert re.search(r"hwgen::passthrough<6, 4>\(\s*s_MVAU_0, s_PassThrough_0,", (hls / "top.cpp").read_text())
