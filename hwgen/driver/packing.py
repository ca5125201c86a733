"""Element codes and AXI-stream word packing, numpy only (runs on the board's Python).

A frame of E elements travels as E / per_word words of `bus` bits; element j of a word sits
at bits [j*bits, (j+1)*bits), unused high bits are zero, words are little-endian bytes.
Data types are strings: "int4", "uint8", "bipolar" (-1 stored as 0, +1 as 1).
"""

from __future__ import annotations

import numpy as np


def parse_dtype(dtype: str) -> tuple[str, int]:
    """'int4' -> ('int', 4); 'bipolar' -> ('bipolar', 1)."""
    if dtype == "bipolar":
        return "bipolar", 1
    for kind in ("uint", "int"):
        if dtype.startswith(kind) and dtype[len(kind):].isdigit():
            return kind, int(dtype[len(kind):])
    raise ValueError(f"data type must be like 'int4', 'uint8' or 'bipolar', not {dtype!r}")


def value_range(dtype: str) -> tuple[int, int]:
    kind, bits = parse_dtype(dtype)
    if kind == "bipolar":
        return -1, 1
    if kind == "int":
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def encode(values: np.ndarray, dtype: str) -> np.ndarray:
    """Integer values -> unsigned codes (uint64); raises ValueError when a value does not fit."""
    kind, bits = parse_dtype(dtype)
    values = np.asarray(values, dtype=np.int64)
    lo, hi = value_range(dtype)
    if values.size and (values.min() < lo or values.max() > hi or (kind == "bipolar" and np.any(values == 0))):
        raise ValueError(f"values in [{values.min()}, {values.max()}] do not fit {dtype}")
    if kind == "bipolar":
        return (values > 0).astype(np.uint64)
    return values.astype(np.uint64) & np.uint64((1 << bits) - 1)


def decode(codes: np.ndarray, dtype: str) -> np.ndarray:
    """Unsigned codes -> integer values (int64)."""
    kind, bits = parse_dtype(dtype)
    codes = np.asarray(codes, dtype=np.uint64)
    if bits < 64:
        codes = codes & np.uint64((1 << bits) - 1)
    if kind == "bipolar":
        return codes.astype(np.int64) * 2 - 1
    if kind == "int":  # sign-extend: move the sign bit to bit 63, shift back arithmetically
        shift = np.uint64(64 - bits)
        return (codes << shift).view(np.int64) >> np.int64(64 - bits)
    return codes.astype(np.int64)


def _uint(bits: int):
    """Smallest numpy unsigned type of at least `bits` bits."""
    return next(t for t in (np.uint8, np.uint16, np.uint32, np.uint64) if np.dtype(t).itemsize * 8 >= bits)


def pack(values: np.ndarray, dtype: str, per_word: int, bus: int) -> np.ndarray:
    """(frames, E) integer values -> (frames, E/per_word * bus/8) uint8 bytes."""
    values = np.asarray(values)
    frames, elems = values.shape
    _, bits = parse_dtype(dtype)
    if elems % per_word or per_word * bits > bus or bus % 8:
        raise ValueError(f"cannot pack {elems} x {dtype} as {per_word} per {bus}-bit word")
    words = elems // per_word
    codes = encode(values, dtype).reshape(frames, words, per_word)
    if bits in (8, 16, 32, 64):  # whole bytes: a little-endian view, no bit shuffling
        data = codes.astype(np.dtype(_uint(bits)).newbyteorder("<")).view(np.uint8).reshape(frames, words, -1)
    else:
        small = _uint(bits)
        shifts = np.arange(bits, dtype=small)
        bitplanes = ((codes.astype(small)[..., None] >> shifts) & small(1)).astype(np.uint8)  # (f, w, per_word, bits)
        data = np.packbits(bitplanes.reshape(frames, words, per_word * bits), axis=2, bitorder="little")
    if data.shape[2] < bus // 8:
        data = np.concatenate([data, np.zeros((frames, words, bus // 8 - data.shape[2]), np.uint8)], axis=2)
    return data.reshape(frames, words * (bus // 8))


def unpack(data: np.ndarray, dtype: str, per_word: int, bus: int, elems: int) -> np.ndarray:
    """(frames, words * bus/8) uint8 bytes -> (frames, elems) integer values."""
    _, bits = parse_dtype(dtype)
    data = np.asarray(data, dtype=np.uint8)
    frames = data.shape[0]
    words = elems // per_word
    data = data.reshape(frames, words, bus // 8)
    if bits in (8, 16, 32, 64):
        raw = np.ascontiguousarray(data[:, :, : per_word * bits // 8])
        codes = raw.view(np.dtype(_uint(bits)).newbyteorder("<")).astype(np.uint64)
        return decode(codes.reshape(frames, elems), dtype)
    bitplanes = np.unpackbits(data, axis=2, bitorder="little")
    small = _uint(bits)
    bitplanes = bitplanes[:, :, : per_word * bits].reshape(frames, words, per_word, bits).astype(small)
    codes = (bitplanes << np.arange(bits, dtype=small)).sum(axis=3, dtype=small)
    return decode(codes.reshape(frames, elems), dtype)
