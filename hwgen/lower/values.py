"""What the lowering knows about each tensor of the QONNX graph.

The lowering walks the graph once, in topological order, and keeps for every tensor either
  - a `Const`: a value known at compile time (weights, biases, scales), with the integer levels
    and scale when it came out of a quantizer, or
  - a `Signal`: a tensor computed on the accelerator, described as float ops applied to the
    integers of a hardware stream (or of a pending MVAU's accumulator), or
  - a `HostTensor`: a float tensor the host computes, before the input quantizer (`FloatInput`)
    or after the last hardware layer (`HostResult`).
Float ops are hwgen.driver.ops dicts: a Signal's are evaluated in float64, with channel
parameters along the last axis; a HostTensor's in float32, in ONNX layout, as QONNX does.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from hwgen.datatypes import DataType
from hwgen.driver.schema import AffineOp


@dataclass(frozen=True, eq=False)
class Const:
    value: np.ndarray  # float64
    level: np.ndarray | None = None  # integer levels, when produced by Quant/BipolarQuant
    scale: np.ndarray | None = None
    zero: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class PendingMVAU:
    """A MatMul whose activation is not known yet (the next quantizer decides thresholds)."""

    node: str  # the ONNX node it came from
    weights: np.ndarray  # (mh, mw) integers
    in_dtype: DataType
    vectors: int = 1  # input vectors per frame (output pixels of a convolution)


@dataclass(frozen=True, eq=False)
class Signal:
    """value = ops(integers), integers of channel c in [lo[c], hi[c]] (scalars: all channels).

    (1, F) tensors stream their F features; (1, C, H, W) feature maps stream channels-last
    (pixel by pixel, C values each), so their per-channel parameters are (C,) vectors. A (1, F)
    tensor flattened from a feature map streams its features in (h, w, c) order: `perm[j]` is the
    ONNX feature index of stream element j (None: the same order).
    """

    shape: tuple[int, ...]  # the ONNX tensor's shape
    source: str | PendingMVAU  # a layer name, "input", or a pending MVAU's accumulator
    dtype: DataType  # the integers' stream type (accumulator type for a pending MVAU)
    lo: np.ndarray
    hi: np.ndarray
    ops: tuple[dict, ...] = ()
    perm: np.ndarray | None = None

    @property
    def channels(self) -> int:
        return self.shape[1]

    @property
    def pixels(self) -> int:
        """Stream vectors per frame: H*W for a feature map, 1 for features."""
        return int(np.prod(self.shape[2:])) if len(self.shape) > 2 else 1

    @property
    def is_affine(self) -> bool:
        return all(op["op"] == "affine" for op in self.ops)

    def then(self, op: dict) -> "Signal":
        """Append a float op, merging consecutive affine ops."""
        if op["op"] == "affine" and self.ops and self.ops[-1]["op"] == "affine":
            last = self.ops[-1]
            merged = affine(np.asarray(op["mul"]) * last["mul"], np.asarray(op["mul"]) * last["add"] + op["add"])
            return replace(self, ops=self.ops[:-1] + (merged,))
        return replace(self, ops=self.ops + (op,))


def affine(mul, add) -> dict:
    return AffineOp(op="affine", mul=np.asarray(mul, dtype=np.float64), add=np.asarray(add, dtype=np.float64))


@dataclass(frozen=True, eq=False)
class HostTensor:
    """A float tensor the host computes: tensor ops (hwgen.driver.ops, ONNX layout, float32) on
    the model input (`FloatInput`) or on the accelerator's output (`HostResult`)."""

    shape: tuple[int, ...]  # the ONNX tensor's shape after `ops`
    ops: tuple[dict, ...] = ()

    def then(self, op: dict, shape: tuple[int, ...] | None = None) -> "HostTensor":
        return replace(self, ops=self.ops + (op,), shape=self.shape if shape is None else tuple(shape))


class FloatInput(HostTensor):
    """The model's float input before the host quantizes it; `ops` are its pre-processing."""


@dataclass(frozen=True, eq=False, kw_only=True)
class HostResult(HostTensor):
    """What the host computes from the accelerator's output `source` after the last hardware layer:
    only host ops may follow (`node` made it host-only, `why` says why, for the error otherwise)."""

    source: Signal
    node: str  # "name (op type)" of the node that moved the computation to the host
    why: str
