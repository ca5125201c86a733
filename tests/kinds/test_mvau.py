"""MVAU in C simulation, bit-exact against the numpy reference, across folding and data types."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from hwgen.csim.simulate import Simulation
from hwgen.datatypes import DataType
from hwgen.driver import packing
from hwgen.ir import reference
from hwgen.ir.layers import MVAU, RamStyle, ResType, divisors
from tests.conftest import chain, random_thresholds, random_values

I, U, B = DataType.int, DataType.uint, DataType.bipolar


def acc_bounds(weights: np.ndarray, in_dtype: DataType) -> tuple[np.ndarray, np.ndarray]:
    lo = np.minimum(weights * in_dtype.min, weights * in_dtype.max).sum(1)
    hi = np.maximum(weights * in_dtype.min, weights * in_dtype.max).sum(1)
    return lo, hi


def make_mvau(rng, mw, mh, simd, pe, in_dtype, w_dtype, out_dtype=None, vectors=1, weights=None):
    weights = random_values(rng, w_dtype, (mh, mw)) if weights is None else weights
    lo, hi = acc_bounds(weights, in_dtype)
    if out_dtype is None:  # raw accumulator out
        acc = DataType.smallest(lo.min(), hi.max())
        return MVAU("MVAU_0", mw, mh, simd, pe, in_dtype, w_dtype, acc, acc, weights, None, 0, vectors)
    acc = DataType.smallest(lo.min(), hi.max() + 1)
    n = 1 if out_dtype == B() else out_dtype.max - out_dtype.min
    thresholds = random_thresholds(rng, mh, n, int(lo.min()), int(hi.max()))
    return MVAU("MVAU_0", mw, mh, simd, pe, in_dtype, w_dtype, acc, out_dtype, weights, thresholds, out_dtype.min, vectors)


def check(layer, rng, workdir, frames=(7, 1), exact=False):
    """Bit-exact against the reference; several frames in one call, then another call on the same library."""
    graph = chain([layer])
    sim = Simulation(graph, workdir, exact=exact)
    for n in frames:
        x = random_values(rng, layer.in_dtype, (n, layer.frame_in))
        got = sim.run(x)
        assert got.shape == (n, layer.frame_out)
        np.testing.assert_array_equal(got, reference.run(graph, x))


# C-sim arithmetic: FAST, plain C++ integers (the default; independent of the folding but for the
# weight layout), or EXACT, the ap_int code that synthesis compiles (input replay, partial sums per fold)
FAST, EXACT = False, True

# 8-bit x 8-bit products: test_mvau_accumulator_extremes; the slow sweeps below cover every fold and type
CASES = [  # mw, mh, simd, pe, in, w, out (None: the raw accumulator), vectors, arithmetic
    (16, 8, 1, 1, U(2), I(2), U(2), 1, EXACT),  # fully folded: every input word replayed 8 times
    (16, 8, 16, 8, U(2), I(2), U(2), 1, FAST),  # fully parallel
    (24, 12, 4, 3, I(4), I(4), I(4), 2, EXACT),
    (32, 16, 8, 2, B(), B(), B(), 1, EXACT),  # XNOR-popcount, bipolar out
    (16, 8, 8, 4, B(), B(), None, 2, FAST),  # bipolar accumulator out
    (20, 6, 5, 3, B(), I(3), U(1), 1, FAST),
    (18, 9, 3, 3, U(8), B(), I(8), 1, FAST),
    (15, 6, 3, 2, I(2), U(4), U(4), 4, EXACT),  # unsigned weights, 4 vectors
    (14, 6, 7, 2, U(1), I(2), I(3), 2, FAST),
    (10, 10, 2, 5, U(1), U(1), None, 3, EXACT),
]


def case_id(case) -> str:
    *head, exact = case
    return "-".join(map(str, head)) + ("-exact" if exact else "")


def case_layer(case):
    mw, mh, simd, pe, in_dtype, w_dtype, out_dtype, vectors, _ = case
    rng = np.random.default_rng(mw * 1000 + mh * 10 + vectors)
    return make_mvau(rng, mw, mh, simd, pe, in_dtype, w_dtype, out_dtype, vectors), rng


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_mvau_matches_reference(tmp_path, case):
    layer, rng = case_layer(case)
    check(layer, rng, tmp_path, exact=case[-1])


def extreme_weights(w_dtype: DataType, mh: int, mw: int) -> np.ndarray:
    rows = [np.full(mw, w_dtype.min), np.full(mw, w_dtype.max), np.resize([w_dtype.min, w_dtype.max], mw),
            np.resize([w_dtype.max, w_dtype.min, w_dtype.max], mw)]
    return np.array([rows[r % 4] for r in range(mh)])


def extreme_inputs(in_dtype: DataType, mw: int) -> np.ndarray:
    return np.array([np.full(mw, in_dtype.min), np.full(mw, in_dtype.max), np.resize([in_dtype.min, in_dtype.max], mw),
                     np.resize([in_dtype.max, in_dtype.min], mw)])


def python_accumulators(weights: np.ndarray, x: np.ndarray) -> list[list[int]]:
    return [[sum(int(w) * int(v) for w, v in zip(row, frame)) for row in weights.tolist()] for frame in x.tolist()]


@pytest.mark.parametrize("mw,simd,pe,in_dtype,w_dtype,exact", [
    (32, 8, 2, I(8), I(8), FAST),  # all-min x all-min: +2^19; all-min x all-max: -520192
    (33, 11, 4, U(8), I(8), EXACT),  # mixed signedness, in the ap_int arithmetic of synthesis
    (24, 4, 1, B(), U(8), FAST),
], ids=str)
def test_mvau_accumulator_extremes(tmp_path, mw, simd, pe, in_dtype, w_dtype, exact):
    """Every input and weight at its min or max; the accumulator type is the smallest that holds
    the sums, both its bounds are reached, and the C-sim streams them exactly."""
    weights = extreme_weights(w_dtype, 8, mw)
    layer = make_mvau(None, mw, 8, simd, pe, in_dtype, w_dtype, None, weights=weights)
    x = extreme_inputs(in_dtype, mw)
    expected = python_accumulators(weights, x)
    lo, hi = acc_bounds(weights, in_dtype)
    assert min(map(min, expected)) == lo.min() and max(map(max, expected)) == hi.max()  # both bounds reached
    got = Simulation(chain([layer]), tmp_path, exact=exact).run(x)
    np.testing.assert_array_equal(got, expected)


def test_mvau_widest_accumulator_stream(tmp_path):
    """The widest accumulator type hwgen allows (62 bits) streamed on a 128-bit bus, unpacked
    here with Python ints, independently of hwgen.driver.packing."""
    mw, mh = 16, 4
    weights = extreme_weights(I(8), mh, mw)
    layer = MVAU("MVAU_0", mw, mh, 4, 2, I(8), I(8), I(62), I(62), weights)
    sim = Simulation(chain([layer]), tmp_path)
    assert sim.out.bus == 128
    x = extreme_inputs(I(8), mw)
    out = sim.backend.run(packing.pack(x, "int8", sim.inp.per_word, sim.inp.bus), len(x))
    got = []
    for frame in out:
        raw = bytes(frame.tolist())
        values = []
        for i in range(0, len(raw), 16):
            word = int.from_bytes(raw[i : i + 16], "little")
            assert word >> 124 == 0  # the bits above 2 x 62 are zero
            for j in range(2):
                code = (word >> (62 * j)) & (2**62 - 1)
                values.append(code - 2**62 if code >= 2**61 else code)
        got.append(values)
    assert got == python_accumulators(weights, x)
    np.testing.assert_array_equal(sim.run(x), got)


@pytest.mark.parametrize("exact", [FAST, EXACT], ids=["fast", "exact"])
def test_mvau_thresholds_at_the_extremes_and_ties(tmp_path, exact):
    """Thresholds at the accumulator's min (always crossed) and max + 1 (never crossed), duplicated,
    and equal to accumulator values that occur (acc >= T, not acc > T)."""
    rng = np.random.default_rng(4)
    mw, mh = 8, 6
    weights = random_values(rng, I(4), (mh, mw))
    x = random_values(rng, U(4), (9, 2 * mw))
    accs = np.array(python_accumulators(np.kron(np.eye(2, dtype=np.int64), weights), x))  # 2 vectors per frame
    lo, hi = acc_bounds(weights, U(4))
    acc = DataType.smallest(lo.min(), hi.max() + 1)
    lo_all, hi_all = int(lo.min()), int(hi.max()) + 1
    a3, a4, a5 = (int(np.median(accs[:, r])) for r in (3, 4, 5))  # values that rows 3, 4, 5 reach
    thresholds = np.array([[lo_all] * 3, [hi_all] * 3, [lo_all, lo_all, hi_all], [a3, a3, a3], [a4 - 1, a4, a4 + 1], [a5, hi_all, hi_all]])
    layer = MVAU("MVAU_0", mw, mh, 2, 3, U(4), I(4), acc, U(2), weights, thresholds, 0, 2)
    got = Simulation(chain([layer]), tmp_path, exact=exact).run(x)
    table = np.tile(thresholds, (2, 1))[None]
    assert np.any(accs[:, :, None] == table)  # ties occur
    np.testing.assert_array_equal(got, (accs[:, :, None] >= table).sum(axis=2))
    assert np.all(got[:, [0, 6]] == 3) and np.all(got[:, [1, 7]] == 0)


@pytest.mark.parametrize("in_dtype,w_dtype,out_dtype,res_type,ram_style", [
    (U(8), B(), I(8), ResType.DSP, RamStyle.BLOCK),  # a bipolar weight on a DSP: a multiplication by +-1
    (I(4), I(4), I(4), ResType.DSP, RamStyle.DISTRIBUTED),
    (I(8), I(8), None, ResType.LUT, RamStyle.BLOCK),  # 8 x 8 bits kept in LUTs (AUTO would take DSPs)
    (B(), B(), B(), ResType.LUT, RamStyle.BLOCK),  # XNOR, weights in BRAM
], ids=str)
def test_mvau_implementations(tmp_path, in_dtype, w_dtype, out_dtype, res_type, ram_style):
    """The products' hardware and the weight memory change the HLS the C-sim compiles (the exact
    arithmetic: the DSP multiplier path, the pragmas), never the values; top.cpp binds the weight
    table to the memory the resource model counted and mvau<> gets the DSP flag it counted."""
    rng = np.random.default_rng(in_dtype.bits * 10 + w_dtype.bits)
    layer = make_mvau(rng, 24, 8, 6, 4, in_dtype, w_dtype, out_dtype, vectors=2).refold(res_type=res_type, ram_style=ram_style)
    check(layer, rng, tmp_path, frames=(5,), exact=EXACT)
    top = (tmp_path / "hls" / "top.cpp").read_text()
    impl = {RamStyle.BLOCK: "bram", RamStyle.DISTRIBUTED: "lutram"}[ram_style]
    assert f"#pragma HLS BIND_STORAGE variable = MVAU_0_weights type = rom_1p impl = {impl}\n" in top
    assert "#pragma HLS ARRAY_RESHAPE variable = MVAU_0_weights complete dim = 2\n" in top
    dsp = "true" if res_type is ResType.DSP else "false"
    assert f", {dsp}>(" in top.split("hwgen::mvau<")[1].split("\n")[0]


def test_mvau_xnor_has_no_dsp_implementation():
    rng = np.random.default_rng(0)
    layer = make_mvau(rng, 8, 4, 2, 2, B(), B(), B())
    with pytest.raises(ValueError, match="MVAU 'MVAU_0': bipolar x bipolar products are XNOR gates"):
        layer.refold(res_type=ResType.DSP)


def test_mvau_twins_in_one_graph(tmp_path):
    """Three MVAUs with the same template arguments but their own weights, in one design (the fast
    C-sim decodes weights per kernel instantiation and must not mix them up), run twice."""
    rng = np.random.default_rng(8)
    layers = [MVAU(f"fc{k}", 8, 8, 4, 4, U(2), I(2), I(8), U(2), random_values(rng, I(2), (8, 8)),
                   random_thresholds(rng, 8, 3, -16, 16), 0) for k in range(3)]
    graph = chain(layers)
    sim = Simulation(graph, tmp_path)
    for frames in (4, 3):
        x = random_values(rng, U(2), (frames, 8))
        expected = x
        for layer in layers:
            accs = np.array(python_accumulators(layer.weights, expected))
            expected = (accs[:, :, None] >= layer.thresholds[None]).sum(axis=2)
        np.testing.assert_array_equal(sim.run(x), expected)


def test_second_design_in_the_same_workdir_runs_the_new_design(tmp_path):
    """Regression: both designs' libraries land at <workdir>/csim/libhwgen_csim.so; dlopen caches
    libraries by path, so the second design used to get the first library (silently when the
    ports match, else a misleading 'rebuild' error)."""
    # In a child process: overwriting a loaded shared library in place may crash its process.
    # The two designs are CASES[0] and CASES[2], compiled above (compile-cache hits when run with them).
    script = textwrap.dedent(f"""
        import numpy as np
        from hwgen.csim.simulate import Simulation
        from hwgen.ir import reference
        from tests.conftest import chain, random_values
        from tests.kinds.test_mvau import CASES, case_layer
        for case in (CASES[0], CASES[2]):
            layer, rng = case_layer(case)
            graph = chain([layer])
            x = random_values(rng, layer.in_dtype, (3, layer.frame_in))
            same = np.array_equal(Simulation(graph, r"{tmp_path}", exact=case[-1]).run(x), reference.run(graph, x))
            print("bit-exact" if same else "mismatch")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=str(_repo_root()))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["bit-exact", "bit-exact"]


def _repo_root():
    from pathlib import Path

    return Path(__file__).resolve().parents[2]


# -- wide sweeps ----------------------------------------------------------------------------------

FOLD_DTYPES = [(U(2), I(2), U(2)), (B(), B(), None)]


@pytest.mark.slow
@pytest.mark.parametrize("in_dtype,w_dtype,out_dtype", FOLD_DTYPES, ids=str)
@pytest.mark.parametrize("pe", divisors(6))
@pytest.mark.parametrize("simd", divisors(12))
def test_mvau_every_folding(tmp_path, simd, pe, in_dtype, w_dtype, out_dtype):
    rng = np.random.default_rng(simd * 10 + pe)
    layer = make_mvau(rng, 12, 6, simd, pe, in_dtype, w_dtype, out_dtype, vectors=2)
    check(layer, rng, tmp_path, frames=(5,), exact=EXACT)


DTYPES = [B(), U(1), U(2), I(2), U(4), I(4), U(8), I(8)]
IN_DTYPES = [B(), U(2), I(4), U(8), I(8)]
OUTS = [None, U(3), I(2), B()]


@pytest.mark.slow
@pytest.mark.parametrize("w_dtype", DTYPES, ids=str)
@pytest.mark.parametrize("in_dtype", IN_DTYPES, ids=str)
def test_mvau_every_dtype(tmp_path, in_dtype, w_dtype):
    i, j = IN_DTYPES.index(in_dtype), DTYPES.index(w_dtype)
    rng = np.random.default_rng(100 * i + j)
    out_dtype = OUTS[(i + j) % len(OUTS)]
    layer = make_mvau(rng, 10, 6, 5, 3, in_dtype, w_dtype, out_dtype, vectors=2)
    check(layer, rng, tmp_path, frames=(4,), exact=bool((i + j) % 2))


# -- validation: the IR dataclass names the layer and the valid values ---------------------
def small_mvau(**overrides) -> MVAU:
    args = dict(name="fc0", mw=12, mh=6, simd=4, pe=3, in_dtype=U(2), w_dtype=I(2), acc_dtype=I(7), out_dtype=I(7),
                weights=np.ones((6, 12), dtype=np.int64), thresholds=None, out_min=0, vectors=1)
    args.update(overrides)
    return MVAU(**args)


@pytest.mark.parametrize("kwargs,message", [
    (dict(simd=5), "MVAU 'fc0': simd=5 must be a divisor of mw=12 (valid: 1, 2, 3, 4, 6, 12)"),
    (dict(simd=0), "MVAU 'fc0': simd=0 must be a divisor of mw=12 (valid: 1, 2, 3, 4, 6, 12)"),
    (dict(simd=24), "MVAU 'fc0': simd=24 must be a divisor of mw=12 (valid: 1, 2, 3, 4, 6, 12)"),
    (dict(pe=4), "MVAU 'fc0': pe=4 must be a divisor of mh=6 (valid: 1, 2, 3, 6)"),
    (dict(name="dense_7", mh=7, pe=2, weights=np.ones((7, 12), dtype=np.int64)),
     "MVAU 'dense_7': pe=2 must be a divisor of mh=7 (valid: 1, 7)"),
])
def test_mvau_folding_errors_name_the_layer_and_valid_values(kwargs, message):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        small_mvau(**kwargs)


@pytest.mark.parametrize("kwargs,pattern", [
    (dict(weights=np.ones((12, 6), dtype=np.int64)), r"MVAU 'fc0': weights must have shape \(6, 12\), not \(12, 6\)"),
    (dict(weights=np.full((6, 12), 2)), r"MVAU 'fc0': weights do not fit int2"),
    (dict(w_dtype=B(), weights=np.zeros((6, 12), dtype=np.int64)), r"MVAU 'fc0': weights do not fit bipolar"),
    (dict(out_dtype=I(8)), r"MVAU 'fc0': without thresholds out_dtype must be acc_dtype=int7, not int8"),
    (dict(acc_dtype=I(63), out_dtype=I(63)), r"MVAU 'fc0': a int63 accumulator is wider than the 62 bits hwgen supports"),
    (dict(out_dtype=U(2), thresholds=np.zeros((5, 3), dtype=np.int64)), r"MVAU 'fc0': thresholds must have shape \(6, n\), not \(5, 3\)"),
    (dict(out_dtype=U(2), thresholds=np.tile([0, 2, 1], (6, 1))), r"MVAU 'fc0': thresholds must be sorted ascending"),
    (dict(out_dtype=U(2), thresholds=np.tile([0, 1, 64], (6, 1))), r"MVAU 'fc0': thresholds in \[0, 64\] do not fit int7"),
    (dict(out_dtype=B(), thresholds=np.zeros((6, 2), dtype=np.int64), out_min=-1), r"a bipolar output needs exactly 1 threshold"),
    (dict(out_dtype=B(), thresholds=np.zeros((6, 1), dtype=np.int64), out_min=0), r"a bipolar output needs exactly 1 threshold"),
    (dict(out_dtype=U(2), thresholds=np.zeros((6, 4), dtype=np.int64)), r"MVAU 'fc0': outputs 0..4 do not fit uint2"),
    (dict(out_dtype=I(2), thresholds=np.zeros((6, 1), dtype=np.int64), out_min=-3), r"MVAU 'fc0': outputs -3..-2 do not fit int2"),
])
def test_mvau_parameter_errors(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        small_mvau(**kwargs)


def test_mvau_every_fold_that_divides_is_accepted_and_refolds():
    for simd in divisors(12):
        for pe in divisors(6):
            layer = small_mvau(simd=simd, pe=pe)
            assert (layer.in_elems, layer.out_elems) == (simd, pe)
    layer = small_mvau()
    assert (layer.refold(simd=6).simd, layer.refold(simd=6).pe) == (6, 3)
    assert (layer.refold(pe=2).simd, layer.refold(pe=2).pe) == (4, 2)
    with pytest.raises(ValueError, match="simd=5 must be a divisor"):
        layer.refold(simd=5)
    layer = small_mvau(vectors=3)
    assert (layer.frame_in, layer.frame_out) == (36, 18)
