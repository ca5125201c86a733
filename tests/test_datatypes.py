"""DataType: ranges, smallest / for_values / parse / str, and the C++ names it renders to."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from hwgen.csim.compile import find_toolchain
from hwgen.datatypes import DataType, Kind
from hwgen.resources import kernels

I, U, B = DataType.int, DataType.uint, DataType.bipolar

ALL_TYPES = [B()] + [I(b) for b in range(1, 65)] + [U(b) for b in range(1, 65)]


def spec_range(kind: Kind, bits: int) -> tuple[int, int]:
    """The ranges as the docstring of Kind states them, written out independently."""
    if kind is Kind.BIPOLAR:
        return -1, 1
    if kind is Kind.INT:
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1


@pytest.mark.parametrize("dtype", ALL_TYPES, ids=str)
def test_min_max_signed(dtype):
    assert (dtype.min, dtype.max) == spec_range(dtype.kind, dtype.bits)
    assert dtype.signed == (dtype.kind is not Kind.UINT)


def test_hand_picked_ranges():
    assert (I(4).min, I(4).max) == (-8, 7)
    assert (U(4).min, U(4).max) == (0, 15)
    assert (B().min, B().max) == (-1, 1)
    assert (I(1).min, I(1).max) == (-1, 0)
    assert (I(64).min, I(64).max) == (-(2**63), 2**63 - 1)
    assert U(64).max == 2**64 - 1


def brute_smallest(lo: int, hi: int) -> DataType:
    """Try uint1, uint2, ... (non-negative ranges) or int1, int2, ... until one holds [lo, hi]."""
    kind = Kind.UINT if lo >= 0 else Kind.INT
    for bits in range(1, 65):
        a, b = spec_range(kind, bits)
        if a <= lo and hi <= b:
            return DataType(kind, bits)
    raise AssertionError("no type")


def test_smallest_against_brute_force():
    for lo in range(-70, 71):
        for hi in range(max(lo, 0), 71):
            assert DataType.smallest(lo, hi) == brute_smallest(lo, hi), (lo, hi)


def test_smallest_all_negative_ranges():
    for lo in range(-70, 0):
        for hi in range(lo, 0):
            assert DataType.smallest(lo, hi) == brute_smallest(lo, hi), (lo, hi)


@pytest.mark.parametrize("lo,hi,expected", [
    (0, 0, U(1)), (0, 1, U(1)), (0, 2, U(2)), (0, 255, U(8)), (0, 256, U(9)), (1, 255, U(8)),
    (-1, 0, I(1)), (-1, 1, I(2)), (-128, 127, I(8)), (-129, 127, I(9)), (-128, 128, I(9)),
    (-5, 0, I(4)), (-(2**63), 2**63 - 1, I(64)), (0, 2**64 - 1, U(64)), (-(2**31), 2**31 - 1, I(32)),
])
def test_smallest_hand_picked(lo, hi, expected):
    assert DataType.smallest(lo, hi) == expected
    # numpy integers are accepted like Python ints
    if abs(lo) < 2**62 and abs(hi) < 2**62:
        assert DataType.smallest(np.int64(lo), np.int64(hi)) == expected


def test_smallest_rejects_empty_and_too_wide_ranges():
    with pytest.raises(ValueError, match=r"empty range \[3, 2\]"):
        DataType.smallest(3, 2)
    with pytest.raises(ValueError, match="bits must be in 1..64"):
        DataType.smallest(0, 2**64)
    with pytest.raises(ValueError, match="bits must be in 1..64"):
        DataType.smallest(-(2**63) - 1, 0)


@pytest.mark.parametrize("values,expected", [
    ([1, -1, -1, 1], B()),
    ([[-1], [1]], B()),
    ([1, 1, 1], U(1)),
    ([-1, 0, 0], I(1)),
    ([-1, 0, 1], I(2)),
    ([0], U(1)),
    ([3, 0, 7], U(3)),
    ([-8, 7], I(4)),
    ([-9, 0], I(5)),
    ([-1, 1, 2], I(3)),
])
def test_for_values(values, expected):
    assert DataType.for_values(np.array(values)) == expected


def test_for_values_random_arrays_fit_tightly():
    rng = np.random.default_rng(0)
    for _ in range(200):
        lo = int(rng.integers(-300, 300))
        values = rng.integers(lo, lo + int(rng.integers(1, 400)), size=int(rng.integers(1, 20)))
        dtype = DataType.for_values(values)
        if dtype.kind is Kind.BIPOLAR:
            assert set(values.tolist()) == {-1, 1}
            continue
        assert dtype == brute_smallest(int(values.min()), int(values.max()))


@pytest.mark.parametrize("dtype", ALL_TYPES, ids=str)
def test_str_parse_round_trip(dtype):
    text = str(dtype)
    expected = "bipolar" if dtype.kind is Kind.BIPOLAR else f"{dtype.kind.value}{dtype.bits}"
    assert text == expected
    assert DataType.parse(text) == dtype


@pytest.mark.parametrize("text", ["", "int", "uint", "float32", "Int4", " int4", "int4 ", "int-4", "bipolar1", "i4", "uint4b"])
def test_parse_rejects_malformed(text):
    with pytest.raises(ValueError, match=r"must be like 'int4', 'uint8' or 'bipolar', not " + repr(text).replace("[", r"\[")):
        DataType.parse(text)


@pytest.mark.parametrize("text", ["int0", "uint0", "int65", "uint128"])
def test_parse_rejects_widths_outside_1_to_64(text):
    with pytest.raises(ValueError, match="bits must be in 1..64"):
        DataType.parse(text)


def test_constructor_validation():
    with pytest.raises(ValueError, match="bipolar DataType has 1 bit, not 2"):
        DataType(Kind.BIPOLAR, 2)
    with pytest.raises(TypeError, match="kind must be a Kind, not 'int'"):
        DataType("int", 4)
    with pytest.raises(ValueError):
        DataType(Kind.INT, 0)


def test_contains():
    assert I(4).contains(np.array([-8, 0, 7]))
    assert not I(4).contains(np.array([-9]))
    assert not I(4).contains(np.array([8]))
    assert U(3).contains(np.array([0, 7])) and not U(3).contains(np.array([-1]))
    assert B().contains(np.array([-1, 1])) and not B().contains(np.array([-1, 0, 1]))
    assert I(4).contains(np.array([], dtype=np.int64))


@pytest.mark.parametrize("dtype", [B(), I(1), I(3), I(8), I(17), U(1), U(5), U(16), I(32), U(32)], ids=str)
def test_encode_decode_round_trip(dtype):
    values = np.array([-1, 1, 1, -1]) if dtype.kind is Kind.BIPOLAR else np.array([dtype.min, dtype.max, (dtype.min + dtype.max) // 2])
    codes = dtype.encode(values)
    assert codes.dtype == np.uint64
    assert np.all(codes < 2**dtype.bits)
    # codes: two's complement for int, the value for uint, 0/1 for bipolar (written out by hand)
    expected = [(v > 0) if dtype.kind is Kind.BIPOLAR else v % 2**dtype.bits for v in values.tolist()]
    assert codes.tolist() == expected
    np.testing.assert_array_equal(dtype.decode(codes), values)


@pytest.mark.parametrize("dtype,expected", [
    (B(), "hwgen::Bipolar"), (I(1), "hwgen::Int<1>"), (I(4), "hwgen::Int<4>"), (U(8), "hwgen::UInt<8>"),
    (I(33), "hwgen::Int<33>"), (U(64), "hwgen::UInt<64>"),
])
def test_hls_names(dtype, expected):
    assert dtype.hls() == expected


C_TYPES = {  # name: (min, max), written out independently of datatypes.py
    "int8_t": (-(2**7), 2**7 - 1), "int16_t": (-(2**15), 2**15 - 1), "int32_t": (-(2**31), 2**31 - 1),
    "int64_t": (-(2**63), 2**63 - 1), "uint8_t": (0, 2**8 - 1), "uint16_t": (0, 2**16 - 1),
    "uint32_t": (0, 2**32 - 1), "uint64_t": (0, 2**64 - 1),
}


@pytest.mark.parametrize("dtype", ALL_TYPES, ids=str)
def test_c_storage_is_the_smallest_fitting_c_type(dtype):
    name = dtype.c_storage()
    lo, hi = (0, 1) if dtype.kind is Kind.BIPOLAR else (dtype.min, dtype.max)  # bipolar parameters hold codes
    signed = name.startswith("int")
    assert signed == (dtype.kind is Kind.INT)
    a, b = C_TYPES[name]
    assert a <= lo and hi <= b
    smaller = [n for n, (x, y) in C_TYPES.items() if n.startswith("int") == signed and y < b]
    for n in smaller:
        x, y = C_TYPES[n]
        assert not (x <= lo and hi <= y), f"{dtype} would fit {n}, not only {name}"


def _literal(v: int) -> str:
    if v == -(2**63):
        return "(-9223372036854775807LL - 1)"
    return f"{v}ULL" if v > 2**63 - 1 else f"{v}LL"


def test_hls_traits_and_c_storage_compile_and_hold_the_range(tmp_path):
    """g++ checks, for every type: the trait's width, that value_t holds min and max, that
    encode/decode round-trip them, and that the C storage type holds them (codes for bipolar)."""
    checks = []
    for dtype in [B(), I(1), I(2), I(7), I(8), I(9), I(16), I(17), I(32), I(33), I(64), U(1), U(8), U(9), U(16),
                  U(32), U(33), U(64)]:
        lo, hi = (dtype.min, dtype.max)
        slo, shi = (0, 1) if dtype.kind is Kind.BIPOLAR else (lo, hi)
        checks.append(f'    failed += check<{dtype.hls()}, {dtype.c_storage()}>("{dtype}", {dtype.bits}, '
                      f"(__int128){_literal(lo)}, (__int128){_literal(hi)}, (__int128){_literal(slo)}, (__int128){_literal(shi)});")
    source = tmp_path / "types.cpp"
    source.write_text("\n".join([
        "#include <cstdio>", "#include <limits>", '#include "hwgen_types.hpp"',
        "template <typename T, typename S>",
        "int check(const char* name, unsigned bits, __int128 lo, __int128 hi, __int128 slo, __int128 shi) {",
        "    bool ok = T::width == bits;",
        "    typename T::value_t a = (long long)0, b = (long long)0;",
        "    if (lo < 0) a = (long long)lo; else a = (unsigned long long)lo;",
        "    if (hi < 0) b = (long long)hi; else b = (unsigned long long)hi;",
        "    ok = ok && (lo < 0 ? a.to_int64() == (long long)lo : a.to_uint64() == (unsigned long long)lo);",
        "    ok = ok && (hi < 0 ? b.to_int64() == (long long)hi : b.to_uint64() == (unsigned long long)hi);",
        "    ok = ok && T::decode(T::encode(a)) == a && T::decode(T::encode(b)) == b;",
        "    ok = ok && (__int128)std::numeric_limits<S>::min() <= slo && shi <= (__int128)std::numeric_limits<S>::max();",
        '    if (!ok) std::printf("FAIL %s\\n", name);',
        "    return ok ? 0 : 1;",
        "}",
        "int main() {",
        "    int failed = 0;",
        *checks,
        '    std::printf("failed=%d\\n", failed);',
        "    return failed;",
        "}",
    ]))
    tc = find_toolchain()
    exe = tmp_path / "types"
    build = subprocess.run([tc.cxx, "-std=c++14", "-O0", "-w", f"-I{kernels()}", f"-I{tc.ap_include}", str(source), "-o", str(exe)],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    result = subprocess.run([str(exe)], capture_output=True, text=True)
    assert result.returncode == 0 and "failed=0" in result.stdout, result.stdout
