"""Folding keeps every stream word within the 4096 bits an ap_uint can have in Vitis HLS (UG1399:
AP_INT_MAX_W at most 4096): automatic folding never goes beyond, a folding file that does is refused
naming the layer, the word and the parameter to lower."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from hwgen.boards import load_board
from hwgen.datatypes import DataType
from hwgen.errors import HwgenError
from hwgen.fold import apply_folding, auto_fold, fold_to_cycles, read_folding
from hwgen.ir.layers import SWG
from tests.conftest import chain
from tests.kinds.test_dwc import mvau

U, I = DataType.uint, DataType.int
LIMIT = 4096


def wide_mlp():
    """fc0: 2048 uint4 outputs (8192 bits unfolded); fc1 reads them (8192 bits at SIMD = 2048)."""
    rng = np.random.default_rng(5)
    return chain([mvau(rng, "fc0", 8, 2048, 1, 1, U(2), I(2), U(4)), mvau(rng, "fc1", 2048, 4, 1, 1, U(4), I(2), U(2))], name="wide")


def words(graph) -> list[int]:
    """Every stream word of the graph, in bits: each layer's input and output (DWCs included)."""
    return [w for l in graph.layers for w in (l.in_elems * l.in_dtype.bits, l.out_elems * l.out_dtype.bits)]


def test_automatic_folding_stays_within_4096_bits():
    graph = wide_mlp()
    # one cycle per frame is out of reach: every layer gets its fastest folding, which unbounded would be
    # fc0 PE = 2048 and fc1 SIMD = 2048 (8192-bit words); within the bound PE = SIMD = 1024 (4096 bits)
    fastest = fold_to_cycles(graph, 1, load_board("zcu104"))
    assert max(words(fastest)) == LIMIT
    assert (fastest.layer("fc0").pe, fastest.layer("fc1").simd) == (1024, 1024)
    # the fastest design that fits a board on which resources never bind (100x a ZCU104): the bound does
    zcu104 = load_board("zcu104")
    huge = replace(zcu104, resources={k: 100 * v for k, v in zcu104.resources.items()})
    best = auto_fold(graph, huge, 100.0)
    assert max(words(best)) == LIMIT
    assert (best.layer("fc0").pe, best.layer("fc1").simd) == (1024, 1024)


@pytest.mark.parametrize("entry,message", [
    ({"fc0": {"PE": 2048}}, r"fc0's output stream word is 2048 x uint4 = 8192 bits, wider than the 4096 bits an ap_uint can have "
                            r"in Vitis HLS \(AP_INT_MAX_W is at most 4096\)\n"
                            r"  hint: lower fc0's PE from 2048 to 1024 or less \(PE x 4 bits must not exceed 4096\)$"),
    ({"fc1": {"SIMD": 2048, "PE": 2}}, r"fc1's input stream word is 2048 x uint4 = 8192 bits, wider than .*\n"
                                       r"  hint: lower fc1's SIMD from 2048 to 1024 or less \(SIMD x 4 bits must not exceed 4096\)$"),
], ids=["PE", "SIMD"])
def test_a_folding_file_beyond_4096_bits_is_refused(tmp_path, entry, message):
    path = tmp_path / "folding.json"
    path.write_text(json.dumps(entry))
    with pytest.raises(HwgenError, match=rf"^folding file {path}: {message}"):
        apply_folding(wide_mlp(), read_folding(path), f"folding file {path}")


def test_the_limit_itself_is_accepted_and_the_hint_picks_a_divisor(tmp_path):
    folded = apply_folding(wide_mlp(), {"fc0": {"PE": 1024}, "fc1": {"SIMD": 1024}})
    assert max(words(folded)) == LIMIT
    # 768 channels of uint8: 6144 bits; 512 does not divide 768, 384 does (3072 bits)
    swg = chain([SWG("SWG_0", 4, 4, 768, 3, 3, 1, 1, (1, 1, 1, 1), 1, U(8))])
    with pytest.raises(HwgenError, match=r"SWG_0's input stream word is 768 x uint8 = 6144 bits.*\n"
                                         r"  hint: lower SWG_0's SIMD from 768 to 384 or less"):
        apply_folding(swg, {"SWG_0": {"SIMD": 768}})
