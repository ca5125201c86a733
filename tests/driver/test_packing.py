"""Element codes and AXI-stream word packing, against a pure-Python bit-level model of the layout."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen.driver import packing

DTYPES = ["bipolar"] + [f"int{b}" for b in range(1, 17)] + [f"uint{b}" for b in range(1, 17)]


def spec_range(dtype: str) -> tuple[int, int]:
    if dtype == "bipolar":
        return -1, 1
    bits = int(dtype.lstrip("uint"))
    return (0, 2**bits - 1) if dtype.startswith("uint") else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


def random_values(rng, dtype: str, shape) -> np.ndarray:
    lo, hi = spec_range(dtype)
    if dtype == "bipolar":
        return rng.choice(np.array([-1, 1]), size=shape)
    values = rng.integers(lo, hi, size=shape, endpoint=True)
    flat = values.reshape(-1)
    flat[: min(2, flat.size)] = [lo, hi][: min(2, flat.size)]  # the extremes, always
    return values


def model_pack(values: np.ndarray, dtype: str, per_word: int, bus: int) -> bytes:
    """The documented layout with Python ints: element j of a word at bits [j*bits, (j+1)*bits),
    unused high bits zero, words as little-endian bytes, frames one after another."""
    bits = 1 if dtype == "bipolar" else int(dtype.lstrip("uint"))
    out = b""
    for frame in values.tolist():
        for w in range(0, len(frame), per_word):
            word = 0
            for j, v in enumerate(frame[w : w + per_word]):
                code = (1 if v > 0 else 0) if dtype == "bipolar" else v % (1 << bits)  # two's complement
                word |= code << (j * bits)
            out += word.to_bytes(bus // 8, "little")
    return out


def buses_for(per_word: int, bits: int) -> list[int]:
    need = per_word * bits
    tight = -(-need // 8) * 8
    pow2 = 8
    while pow2 < need:
        pow2 *= 2
    return sorted({tight, pow2, pow2 + 64})


@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip_and_layout(dtype):
    rng = np.random.default_rng(len(dtype) * 100 + sum(map(ord, dtype)))
    bits = 1 if dtype == "bipolar" else int(dtype.lstrip("uint"))
    for per_word in (1, 3, 8):
        for bus in buses_for(per_word, bits):
            frames, elems = 3, per_word * 4
            values = random_values(rng, dtype, (frames, elems))
            data = packing.pack(values, dtype, per_word, bus)
            assert data.dtype == np.uint8 and data.shape == (frames, 4 * bus // 8)
            assert data.tobytes() == model_pack(values, dtype, per_word, bus), (per_word, bus)
            back = packing.unpack(data, dtype, per_word, bus, elems)
            np.testing.assert_array_equal(back, values)
            assert back.dtype == np.int64


@pytest.mark.parametrize("dtype", ["int32", "uint32", "int31", "int33", "uint33", "int40", "int48", "uint62", "int62"])
def test_round_trip_wide_accumulators(dtype):
    lo, hi = spec_range(dtype)
    values = np.array([[lo, hi, 0, -1 if lo < 0 else 1, lo // 3, hi // 7]], dtype=np.int64)
    bits = int(dtype.lstrip("uint"))
    for per_word, bus in [(1, 64), (2, 128), (3, 256), (6, 512)]:
        if per_word * bits > bus:
            continue
        data = packing.pack(values, dtype, per_word, bus)
        assert data.tobytes() == model_pack(values, dtype, per_word, bus)
        np.testing.assert_array_equal(packing.unpack(data, dtype, per_word, bus, 6), values)


@pytest.mark.parametrize("dtype", ["int64", "uint64", "int63", "uint63"])
def test_round_trip_64_bit_accumulators(dtype):
    # regression: encode's 64-bit mask was np.uint64(~0) (OverflowError in numpy 2), and decode of
    # int63 computed values - (1 << 63) (OverflowError)
    lo, hi = spec_range(dtype)
    hi = min(hi, 2**63 - 1)  # int64 arrays carry the values
    values = np.array([[lo, hi, 0, 1, lo // 3, hi // 7]], dtype=np.int64)
    for per_word, bus in [(1, 64), (2, 128)]:
        data = packing.pack(values, dtype, per_word, bus)
        assert data.tobytes() == model_pack(values, dtype, per_word, bus)
        np.testing.assert_array_equal(packing.unpack(data, dtype, per_word, bus, 6), values)


def test_hand_made_layout():
    # int4 [1, -2, 7 | 0, -8, 3]: codes 0x1, 0xE, 0x7 -> word 0x7E1; 0x0, 0x8, 0x3 -> 0x380
    data = packing.pack(np.array([[1, -2, 7, 0, -8, 3]]), "int4", 3, 16)
    assert data.tolist() == [[0xE1, 0x07, 0x80, 0x03]]
    # uint3 [5, 3, 6] crosses a byte boundary: 5 | 3 << 3 | 6 << 6 = 0x19D; 32-bit bus pads with zeros
    data = packing.pack(np.array([[5, 3, 6]]), "uint3", 3, 32)
    assert data.tolist() == [[0x9D, 0x01, 0x00, 0x00]]
    # bipolar: -1 -> bit 0, +1 -> bit 1; 9 elements in one 16-bit word
    data = packing.pack(np.array([[1, -1, -1, 1, 1, 1, -1, 1, 1]]), "bipolar", 9, 16)
    assert data.tolist() == [[0b10111001, 0b00000001]]
    # two frames of two 8-bit words each: frame-major
    data = packing.pack(np.array([[1, 2], [3, 255]]), "uint8", 1, 8)
    assert data.tolist() == [[1, 2], [3, 255]]
    # int12, 2 per 32-bit word: -1 -> 0xFFF, 0x123 -> bits 12..23
    data = packing.pack(np.array([[-1, 0x123]]), "int12", 2, 32)
    assert data.tolist() == [[0xFF, 0x3F, 0x12, 0x00]]


def test_unpack_ignores_padding_bits():
    data = np.array([[0xE1, 0xF7]], dtype=np.uint8)  # int4 x 3 in 16 bits: the top nibble is padding
    np.testing.assert_array_equal(packing.unpack(data, "int4", 3, 16, 3), [[1, -2, 7]])


@pytest.mark.parametrize("dtype,bad", [
    ("int4", 8), ("int4", -9), ("uint4", -1), ("uint4", 16), ("bipolar", 0), ("bipolar", 2), ("bipolar", -2),
    ("uint1", 2), ("int1", 1), ("int16", 2**15), ("uint32", 2**32),
])
def test_encode_rejects_out_of_range(dtype, bad):
    lo, hi = spec_range(dtype)
    ok = np.array([lo, hi])
    packing.encode(ok, dtype)  # the extremes themselves fit
    with pytest.raises(ValueError, match=f"do not fit {dtype}"):
        packing.encode(np.array([lo, bad, hi]), dtype)
    with pytest.raises(ValueError, match=f"do not fit {dtype}"):
        packing.pack(np.array([[bad]]), dtype, 1, 32)


def test_decode_masks_codes():
    # bits above the element width are ignored; int codes are sign-extended
    np.testing.assert_array_equal(packing.decode(np.array([0x1F, 0x10, 0xF], dtype=np.uint64), "int4"), [-1, 0, -1])
    np.testing.assert_array_equal(packing.decode(np.array([2, 3], dtype=np.uint64), "bipolar"), [-1, 1])


@pytest.mark.parametrize("elems,dtype,per_word,bus", [(10, "int4", 3, 16), (6, "int4", 3, 8), (6, "int4", 2, 12), (4, "uint8", 4, 24)])
def test_pack_rejects_bad_geometry(elems, dtype, per_word, bus):
    with pytest.raises(ValueError, match=f"cannot pack {elems} x {dtype} as {per_word} per {bus}-bit word"):
        packing.pack(np.zeros((1, elems), dtype=np.int64), dtype, per_word, bus)


@pytest.mark.parametrize("text", ["float", "int", "Int4", "int4x", ""])
def test_parse_dtype_rejects_malformed(text):
    with pytest.raises(ValueError, match="data type must be like"):
        packing.parse_dtype(text)


def test_parse_dtype_and_value_range():
    assert packing.parse_dtype("uint12") == ("uint", 12)
    assert packing.parse_dtype("int3") == ("int", 3)
    assert packing.parse_dtype("bipolar") == ("bipolar", 1)
    for dtype in DTYPES + ["int32", "uint32", "int64"]:
        assert packing.value_range(dtype) == spec_range(dtype)
