"""What the sliding-window kinds (SWG, MaxPool) share: geometry, the window walk, the line buffer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwgen.datatypes import DataType
from hwgen.hw import Resources, memory
from hwgen.kinds.base import Schedule


def check_window(layer: str, ifm_h: int, ifm_w: int, channels: int, k_h: int, k_w: int,
                 stride_h: int, stride_w: int, pad: tuple) -> None:
    """Shared geometry checks of the sliding-window layers (SWG, MaxPool)."""
    for what, value in (("ifm_h", ifm_h), ("ifm_w", ifm_w), ("channels", channels), ("k_h", k_h), ("k_w", k_w),
                        ("stride_h", stride_h), ("stride_w", stride_w)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{layer}: {what} must be a positive integer, not {value!r}")
    if len(pad) != 4 or any(not isinstance(p, (int, np.integer)) or p < 0 for p in pad):
        raise ValueError(f"{layer}: pad must be 4 non-negative integers (top, left, bottom, right), not {pad!r}")
    top, left, bottom, right = pad
    if top + ifm_h + bottom < k_h or left + ifm_w + right < k_w:
        raise ValueError(f"{layer}: a {k_h}x{k_w} window must fit the padded {top + ifm_h + bottom}x{left + ifm_w + right} input")


@dataclass(frozen=True, eq=False)
class Window:
    """The fields and geometry SWG and MaxPool share: a window sliding over the padded input (floor mode).

    `pad` is (top, left, bottom, right); subclasses add their word size and `dtype`.
    """

    name: str
    ifm_h: int
    ifm_w: int
    channels: int
    k_h: int
    k_w: int
    stride_h: int
    stride_w: int
    pad: tuple[int, int, int, int]

    def _check_geometry(self) -> str:
        layer = f"{type(self).__name__} {self.name!r}"
        object.__setattr__(self, "pad", tuple(int(p) for p in self.pad))
        check_window(layer, self.ifm_h, self.ifm_w, self.channels, self.k_h, self.k_w, self.stride_h, self.stride_w, self.pad)
        return layer

    @property
    def ofm_h(self) -> int:
        return (self.ifm_h + self.pad[0] + self.pad[2] - self.k_h) // self.stride_h + 1

    @property
    def ofm_w(self) -> int:
        return (self.ifm_w + self.pad[1] + self.pad[3] - self.k_w) // self.stride_w + 1

    @property
    def frame_in(self) -> int:
        return self.ifm_h * self.ifm_w * self.channels

    @property
    def in_dtype(self) -> DataType:
        return self.dtype

    @property
    def out_dtype(self) -> DataType:
        return self.dtype


def windows(layer: Window, x: np.ndarray, pad_value: int) -> np.ndarray:
    """(frames, ifm_h*ifm_w*channels) -> (frames, ofm_h, ofm_w, k_h, k_w, channels): every window of the padded input."""
    n = x.shape[0]
    top, left, bottom, right = layer.pad
    image = x.reshape(n, layer.ifm_h, layer.ifm_w, layer.channels)
    padded = np.pad(image, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=pad_value)
    rows = (np.arange(layer.ofm_h) * layer.stride_h)[:, None] + np.arange(layer.k_h)[None, :]  # (ofm_h, k_h)
    cols = (np.arange(layer.ofm_w) * layer.stride_w)[:, None] + np.arange(layer.k_w)[None, :]
    return padded[:, rows[:, None, :, None], cols[None, :, None, :], :]


def window_blocks(layer: Window) -> tuple[np.ndarray, int]:
    """The loop of the sliding-window kernels (swg.hpp, maxpool.hpp), block by block, per frame.

    A line buffer holds input rows. Block 0 only reads: the input rows the first output row needs.
    Block 1 + oy walks output row oy's windows, one word of one window element per iteration
    (ofm_w * k_h * k_w * C/word iterations, `ops`), while it reads the rows output row oy + 1 needs
    (after the last output row: the input rows left). Output row oy needs the input rows up to
        last(oy) = clamp(oy * stride_h + k_h - 1 - pad_top, -1, ifm_h - 1),  last(ofm_h) = ifm_h - 1.
    Returns the words read in each of the 1 + ofm_h blocks, and `ops`; block 1 + oy takes
    max(ops, reads) iterations.
    """
    cf = layer.channels // layer.in_elems
    oy = np.arange(layer.ofm_h + 1)
    last = np.clip(oy * layer.stride_h + layer.k_h - 1 - layer.pad[0], -1, layer.ifm_h - 1)
    last[-1] = layer.ifm_h - 1
    rows = np.diff(np.concatenate([[-1], last]))
    return rows * layer.ifm_w * cf, layer.ofm_w * layer.k_h * layer.k_w * cf


def cycles(layer: Window) -> int:
    reads, ops = window_blocks(layer)
    return int(reads[0] + np.maximum(reads[1:], ops).sum())


def schedule(layer: Window, window_elems: int) -> Schedule:
    """swg.hpp / maxpool.hpp: block 0 only reads; block 1 + oy reads in its first `reads` iterations
    and walks windows in its first `ops`, writing a word every `window_elems` of them."""
    reads, ops = window_blocks(layer)
    lengths = np.concatenate([reads[:1], np.maximum(reads[1:], ops)])
    keep = lengths > 0  # a block 0 without rows is skipped
    reads, lengths, is_window = reads[keep], lengths[keep], np.arange(len(keep))[keep] > 0
    it = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)  # iteration within its block
    in_window = np.repeat(is_window, lengths) & (it < ops)
    return Schedule(reads=it < np.repeat(reads, lengths), writes=in_window & (it % window_elems == window_elems - 1))


def line_buffer_shape(layer: Window) -> tuple[int, int]:
    """(width, depth) of the sliding-window kernels' line buffer: k_h + stride_h input rows of C/word words (swg.hpp)."""
    word = layer.in_elems
    return word * layer.dtype.bits, (layer.k_h + layer.stride_h) * layer.ifm_w * (layer.channels // word)


def line_buffer(layer: Window) -> Resources:
    """The line buffer (line_buffer_shape), in the memory its size picks."""
    return memory(*line_buffer_shape(layer))


def targs(layer: Window, word: int) -> tuple:
    """The kernels' template arguments: geometry, padding, elements per word, element type."""
    return (layer.ifm_h, layer.ifm_w, layer.channels, layer.k_h, layer.k_w, layer.stride_h, layer.stride_w,
            *layer.pad, word, layer.dtype.hls())
