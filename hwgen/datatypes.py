"""Integer data types of streams, weights, accumulators and thresholds.

A `DataType` describes the *values* a tensor holds (an integer range) and how one
element is encoded in hardware (`bits` wide).  Values are always plain integers in
the numpy reference; only bipolar differs between value and code: the value -1 is
stored as bit 0 and +1 as bit 1.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from hwgen.driver import packing


class Kind(enum.Enum):
    INT = "int"  # two's complement, [-2^(b-1), 2^(b-1)-1]
    UINT = "uint"  # [0, 2^b - 1]
    BIPOLAR = "bipolar"  # {-1, +1}, one bit


@dataclass(frozen=True)
class DataType:
    kind: Kind
    bits: int

    def __post_init__(self) -> None:
        if not isinstance(self.kind, Kind):
            raise TypeError(f"DataType kind must be a Kind, not {self.kind!r}")
        if self.kind is Kind.BIPOLAR and self.bits != 1:
            raise ValueError(f"a bipolar DataType has 1 bit, not {self.bits}")
        if not 1 <= self.bits <= 64:
            raise ValueError(f"DataType bits must be in 1..64, not {self.bits}")

    # -- constructors -------------------------------------------------------------
    @staticmethod
    def int(bits: int) -> "DataType":
        return DataType(Kind.INT, bits)

    @staticmethod
    def uint(bits: int) -> "DataType":
        return DataType(Kind.UINT, bits)

    @staticmethod
    def bipolar() -> "DataType":
        return DataType(Kind.BIPOLAR, 1)

    @staticmethod
    def smallest(lo: int, hi: int) -> "DataType":
        """Smallest int/uint type holding every integer in [lo, hi]."""
        lo, hi = int(lo), int(hi)
        if lo > hi:
            raise ValueError(f"empty range [{lo}, {hi}]")
        if lo >= 0:
            return DataType.uint(max(1, hi.bit_length()))
        bits = max((-lo - 1).bit_length(), max(hi, 0).bit_length()) + 1
        return DataType.int(bits)

    @staticmethod
    def for_values(values: np.ndarray) -> "DataType":
        """Smallest type for an integer array; all-±1 arrays become bipolar."""
        values = np.asarray(values)
        lo, hi = int(values.min()), int(values.max())
        if lo == -1 and hi == 1 and not np.any(values == 0):
            return DataType.bipolar()
        return DataType.smallest(lo, hi)

    @staticmethod
    def parse(text: str) -> "DataType":
        """'int4', 'uint8', 'bipolar' -> DataType (the inverse of str())."""
        if text == "bipolar":
            return DataType.bipolar()
        for kind in (Kind.UINT, Kind.INT):
            if text.startswith(kind.value) and text[len(kind.value) :].isdigit():
                return DataType(kind, int(text[len(kind.value) :]))
        raise ValueError(f"data type must be like 'int4', 'uint8' or 'bipolar', not {text!r}")

    # -- properties ---------------------------------------------------------------
    @property
    def min(self) -> int:
        if self.kind is Kind.INT:
            return -(1 << (self.bits - 1))
        return -1 if self.kind is Kind.BIPOLAR else 0

    @property
    def max(self) -> int:
        if self.kind is Kind.INT:
            return (1 << (self.bits - 1)) - 1
        return 1 if self.kind is Kind.BIPOLAR else (1 << self.bits) - 1

    @property
    def signed(self) -> bool:
        return self.kind is not Kind.UINT

    def __str__(self) -> str:
        return "bipolar" if self.kind is Kind.BIPOLAR else f"{self.kind.value}{self.bits}"

    def contains(self, values: np.ndarray) -> bool:
        values = np.asarray(values)
        if values.size == 0:
            return True
        if self.kind is Kind.BIPOLAR:
            return bool(np.all((values == 1) | (values == -1)))
        return bool(values.min() >= self.min and values.max() <= self.max)

    # -- encoding -----------------------------------------------------------------
    def encode(self, values: np.ndarray) -> np.ndarray:
        """Values -> unsigned codes of `bits` bits (uint64); ValueError when a value does not fit."""
        return packing.encode(values, str(self))

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Unsigned codes -> values (int64)."""
        return packing.decode(codes, str(self))

    def hls(self) -> str:
        """The C++ type trait naming this type in hls_templates/kernels/hwgen_types.hpp."""
        if self.kind is Kind.BIPOLAR:
            return "hwgen::Bipolar"
        return f"hwgen::{'Int' if self.kind is Kind.INT else 'UInt'}<{self.bits}>"

    def c_storage(self) -> str:
        """Plain C integer type able to hold every value (the C-sim parameter storage)."""
        if self.kind is Kind.BIPOLAR:
            return "uint8_t"  # parameters store bipolar codes (0/1)
        for bits in (8, 16, 32, 64):
            if self.kind is Kind.UINT and self.bits <= bits:
                return f"uint{bits}_t"
            if self.kind is Kind.INT and self.bits <= bits:
                return f"int{bits}_t"
        raise AssertionError("unreachable: bits <= 64")
