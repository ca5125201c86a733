"""The dataflow graph: a chain of streaming layers plus what the host does around it."""

from __future__ import annotations

from dataclasses import dataclass, field

from hwgen.datatypes import DataType
from hwgen.ir.layers import Layer
from hwgen.kinds import kind_of


@dataclass(frozen=True)
class HostInput:
    """The model input as the host sees it: float tensor in, integer stream out.

    `quant` is the input quantizer as a driver op dict (see hwgen.driver.ops); the host
    computes its integer levels in float32, exactly as QONNX does, and streams them. Before it,
    the host applies `pre_ops` (the model's float ops between its input and the quantizer, one
    ONNX node each, in float32) to the (N, *shape[1:]) input. A model without input quantizer
    whose input is annotated with an integer QONNX datatype has the op "integer": its values are
    the levels, the host only checks them.
    """

    shape: tuple[int, ...]  # the original model's input shape (batch 1)
    quant: dict
    dtype: DataType  # stream element type of the integer levels
    elems: int  # elements per frame
    layout: str = "flat"  # "nhwc": a (1, C, H, W) input streams channels-last; "flat": in C order
    pre_ops: tuple[dict, ...] = ()  # hwgen.driver.ops tensor ops before `quant` (ONNX layout, float32)


@dataclass(frozen=True)
class HostOutput:
    """The model output: the last layer's integer stream, then float ops on the host.

    `ops` turn the stream's integers into the float tensor of ONNX shape `shape` (element-wise,
    float64, in stream order); `post_ops` then compute the model's output of shape `result_shape`
    from it (ONNX layout, float32: Softmax, ArgMax, TopK, Transpose, ... after the last layer).
    """

    shape: tuple[int, ...]  # the original model's output shape (batch 1)
    dtype: DataType
    elems: int
    ops: tuple[dict, ...] = ()  # hwgen.driver.ops applied to the integers (float64), channels last
    layout: str = "flat"  # "nhwc": the stream is the (1, C, H, W) output channels-last
    perm: tuple[int, ...] | None = None  # flat outputs: ONNX index of each stream element (None: same)
    post_ops: tuple[dict, ...] = ()  # hwgen.driver.ops tensor ops after `ops`, in ONNX layout (float32)
    result_shape: tuple[int, ...] | None = None  # the model's output shape (batch 1); None: `shape`


@dataclass
class DataflowGraph:
    layers: list[Layer]
    input: HostInput
    output: HostOutput
    model_name: str = "model"
    notes: list[str] = field(default_factory=list)  # what the lowering decided, for the report

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"no layer named {name!r}; layers are {', '.join(l.name for l in self.layers)}")

    def with_layers(self, layers: list[Layer]) -> "DataflowGraph":
        """The same graph (input, output, name, notes) with other layers."""
        return DataflowGraph(layers=list(layers), input=self.input, output=self.output, model_name=self.model_name, notes=self.notes)

    @property
    def foldable(self) -> list[Layer]:
        return [l for l in self.layers if kind_of(l).foldable]

    def check(self) -> None:
        """Consecutive layers agree on element type and count; words are re-sized by DWCs."""
        prev_dtype, prev_elems, prev_word, prev_name = self.input.dtype, self.input.elems, None, "input"
        for layer in self.layers:
            if layer.in_dtype != prev_dtype or layer.frame_in != prev_elems:
                raise ValueError(
                    f"layer {layer.name!r} expects {layer.frame_in} x {layer.in_dtype} per frame, "
                    f"{prev_name!r} produces {prev_elems} x {prev_dtype}"
                )
            if prev_word is not None and layer.in_elems != prev_word:
                raise ValueError(
                    f"layer {layer.name!r} reads words of {layer.in_elems} elements, "
                    f"{prev_name!r} writes words of {prev_word}: a DWC is missing"
                )
            prev_dtype, prev_elems, prev_word, prev_name = layer.out_dtype, layer.frame_out, layer.out_elems, layer.name
        if prev_dtype != self.output.dtype or prev_elems != self.output.elems:
            raise ValueError(f"graph output expects {self.output.elems} x {self.output.dtype}, "
                             f"last layer gives {prev_elems} x {prev_dtype}")


def stream_widths(graph: DataflowGraph) -> dict[str, int]:
    """Bits per word of a chain's streams: the DMA's ("input") and the one each layer writes (by its name)."""
    first = graph.layers[0]
    return {"input": first.in_elems * first.in_dtype.bits} | {l.name: l.out_elems * l.out_dtype.bits for l in graph.layers}
