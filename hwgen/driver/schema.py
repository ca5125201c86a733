"""The JSON the driver reads, named once: the host ops (ops.py) and deploy/accelerator.json.

The compiler writes these dicts through the constructors below (a TypedDict called with keywords
is a plain dict); the driver reads them by the same keys. tests/driver/test_schema.py checks that
every key the driver reads is declared here and that a build writes exactly these keys.
numpy-free and standalone like the rest of the driver: it is copied to the board.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict, Union

# -- host ops: element-wise float operations on the host (ops.apply_op), channel parameters along the last axis


class AffineOp(TypedDict):
    op: Literal["affine"]  # y = mul * x + add
    mul: Any  # float or per-channel array
    add: Any


class ReluOp(TypedDict):
    op: Literal["relu"]  # y = max(x, 0)


class ClipOp(TypedDict):
    op: Literal["clip"]  # y = min(max(x, min), max)
    min: float
    max: float


class QuantOp(TypedDict):
    op: Literal["quant"]  # y = (q(x) - zero_point) * scale, QONNX Quant
    scale: Any
    zero_point: Any
    bits: int
    signed: bool
    narrow: bool
    rounding_mode: str  # ops.ROUNDING_MODES


class BipolarQuantOp(TypedDict):
    op: Literal["bipolar_quant"]  # y = (x >= 0 ? 1 : -1) * scale, QONNX BipolarQuant
    scale: Any


class IntegerOp(TypedDict):
    """An unquantized input annotated with an integer QONNX datatype: its values are the levels (scale 1)."""

    op: Literal["integer"]
    datatype: str  # the QONNX datatype's name, "UINT8"
    min: int
    max: int
    bipolar: bool
    scale: float  # 1.0
    zero_point: float  # 0.0


# -- tensor ops of the host's pre- and post-processing (on (N, ...) batches in ONNX layout, one ONNX node each)


class BinaryOp(TypedDict):
    op: Literal["mul", "add", "sub", "div"]  # y = x op value (reverse: value op x), ONNX broadcasting
    value: Any  # the constant operand
    reverse: bool


class ReshapeOp(TypedDict):
    op: Literal["reshape"]  # y = x.reshape(N, *shape[1:])
    shape: list[int]


class TransposeOp(TypedDict):
    op: Literal["transpose"]  # y = x.transpose(perm); perm[0] == 0
    perm: list[int]


class SoftmaxOp(TypedDict):
    op: Literal["softmax", "log_softmax"]  # ONNX Softmax / LogSoftmax along axis
    axis: int
    coerced: bool  # before opset 13: over all axes from `axis` on


class SigmoidOp(TypedDict):
    op: Literal["sigmoid"]  # y = 1 / (1 + exp(-x))


class ArgMaxOp(TypedDict):
    op: Literal["argmax"]  # ONNX ArgMax: int64 indices
    axis: int
    keepdims: bool
    select_last_index: bool


class TopKOp(TypedDict):
    op: Literal["topk"]  # ONNX TopK, sorted, equal values: the lower index first
    k: int
    axis: int
    largest: bool
    output: Literal["values", "indices"]


HostOp = Union[AffineOp, ReluOp, ClipOp, QuantOp, BipolarQuantOp, IntegerOp, BinaryOp, ReshapeOp, TransposeOp, SoftmaxOp,
               SigmoidOp, ArgMaxOp, TopKOp]
InputQuantizer = Union[QuantOp, BipolarQuantOp, IntegerOp]  # what the host does to the input

# -- deploy/accelerator.json (hwgen.build.deploy writes it, last, after verification passed)


class InputPort(TypedDict):
    shape: list[int]  # the model's input shape, batch 1
    pre_ops: list[HostOp]  # the model's float ops before its input quantizer, run on the host in float32
    quant: InputQuantizer
    dtype: str  # stream element type of the levels ("uint8", "bipolar", ...)
    elems: int  # elements per frame
    per_word: int  # elements per AXI-stream word
    bus: int  # AXI-stream width in bits
    words: int  # words per frame
    layout: str  # "nhwc": a (1, C, H, W) input streams channels-last; "flat": in C order
    levels: str  # what Accelerator.execute_integers takes (a sentence)
    pixels_are_levels: bool  # raw uint8 pixels are the input quantizer's levels


class OutputPort(TypedDict):
    shape: list[int]
    dtype: str
    elems: int
    ops: list[HostOp]  # applied on the host to the output integers, channels last
    post_ops: list[HostOp]  # then the model's ops after the last hardware layer (Softmax, ArgMax, ...), ONNX layout
    result_shape: list[int]  # the model's output shape after post_ops, batch 1
    layout: str  # "nhwc": the stream is the (C, H, W) output channels-last; "flat" (with perm)
    perm: list[int] | None  # flat outputs: the ONNX index of each stream element (None: the same order)
    per_word: int
    bus: int
    words: int


class Metadata(TypedDict):
    hwgen_version: str
    layouts: str  # what the layouts mean (a sentence)
    host_ops: str  # what the host computes before and after the accelerator (a sentence)
    model: str
    board: str
    input: InputPort
    output: OutputPort
    csim_library: str  # relative to the folder of accelerator.json
    bitstream: str | None  # None: not synthesized
    ip: str  # the accelerator's block-design cell (PYNQ's Overlay attribute)
    dma: str  # the AXI DMA's cell
    frames_register: int  # the s_axilite offset of the frame count
    transfers: str  # how one run moves its data (a sentence)
    estimated_fps: float | None  # at the build's clock; bounds the PYNQ backend's wait
    folding: dict[str, dict[str, int]]  # per foldable layer: PE (and SIMD)
