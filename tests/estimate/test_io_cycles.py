"""The AXI DMA's cycles per frame (cycle_model.io_cycles) and where the build and folding use them.

Expected values are worked out by hand below from how vivado/bd.tcl builds the shell: the DMA's
memory side is the board's HP port (64 bits on PYNQ-Z2, 128 on ZCU104) and moves one port-wide beat
a cycle; its stream side carries one accelerator word a cycle, each word padded to the stream width.
"""

from __future__ import annotations

import numpy as np
import pytest

from hwgen.boards import load_board
from hwgen.build import Build, BuildConfig, FifoDepths
from hwgen.build.steps import step_estimate
from hwgen.codegen.render import make_design
from hwgen.datatypes import DataType
from hwgen.errors import HwgenError
from hwgen.estimate.cycle_model import io_cycles
from hwgen.fifo import FifoPlan
from hwgen.fold import auto_fold, dma_floor
from hwgen.ir.layers import MVAU
from tests.conftest import chain, random_thresholds, random_values

U, I = DataType.uint, DataType.int


@pytest.mark.parametrize("words,stream_bits,port_bits,expected", [
    # 784 pixels, one 8-bit word each, 64-bit port: the memory side needs 784 B / 8 B = 98 beats, but the
    # stream gives one pixel a cycle: 784 (counting packed bytes over the port said 98)
    (784, 8, 64, 784),
    # 10 words of 32 bits on a 64-bit port: 40 B = 5 beats; the stream: 10 words
    (10, 32, 64, 10),
    # 49 words of 128 bits on a 128-bit port: 49 on both sides
    (49, 128, 128, 49),
    # 16 words of 512 bits on a 64-bit port: 16 x 64 B / 8 B = 128 memory beats, 16 stream words
    (16, 512, 64, 128),
    # 7 words of 1024 bits (896 bits of data, padded) on a 128-bit port: 7 x 128 B / 16 B = 56
    (7, 1024, 128, 56),
    (0, 8, 64, 0),
])
def test_io_cycles_by_hand(words, stream_bits, port_bits, expected):
    assert io_cycles(words, stream_bits, port_bits) == expected


def test_io_cycles_refuses_nonsense():
    with pytest.raises(ValueError, match="positive widths"):
        io_cycles(4, 0, 64)


def pixel_graph():
    """64 UINT8 pixels, one a word (SIMD 1), into a 64 -> 16 MVAU; then 16 -> 10 with PE 2 streaming the
    raw 8-bit accumulator: output words of 2 x 8 = 16 bits, 5 a frame."""
    rng = np.random.default_rng(3)
    l0 = MVAU("MVAU_0", 64, 16, 1, 1, U(8), I(2), I(18), U(2), random_values(rng, I(2), (16, 64)),
              random_thresholds(rng, 16, 3, -200, 200), 0)
    l1 = MVAU("MVAU_1", 16, 10, 1, 2, U(2), I(2), I(8), I(8), random_values(rng, I(2), (10, 16)), None, 0)
    return chain([l0, l1], name="pixels")


@pytest.mark.parametrize("board,expected", [
    # in: 64 words of 8 bits -> 64 stream cycles (memory: 64 B / 8 B = 8 beats);
    # out: 5 words of 16 bits -> 5 stream cycles (memory: 10 B / 8 B -> 2 beats)
    ("pynq-z2", {"DMA in": 64, "DMA out": 5}),
    # the same on a 128-bit port: memory 64 B / 16 B = 4 and 10 B / 16 B -> 1; the streams still 64 and 5
    ("zcu104", {"DMA in": 64, "DMA out": 5}),
])
def test_build_estimate_counts_the_stream_words(tmp_path, board, expected):
    graph = pixel_graph()
    design = make_design(graph)
    assert (design.input.bus, design.input.words, design.output.bus, design.output.words) == (8, 64, 16, 5)
    b = Build(config=BuildConfig(), out_dir=tmp_path, board=load_board(board), graph=graph, design=design,
              fifos=FifoPlan({}, {}, FifoDepths.SHALLOW))
    step_estimate(b)
    assert b.estimates.io_cycles == expected
    # MVAU_0 reads its 64 words at SIMD 1 for each of 16 outputs: 1024 cycles, slower than the DMA
    assert b.estimates.bottleneck == "MVAU_0"


def hundred_bytes_graph():
    """100 UINT8 inputs into a 100 -> 10 MVAU (the only layer): the input word is SIMD x 8 bits."""
    rng = np.random.default_rng(5)
    layer = MVAU("MVAU_0", 100, 10, 1, 1, U(8), I(2), I(17), I(17), random_values(rng, I(2), (10, 100)), None, 0)
    return chain([layer], name="hundred")


def test_dma_floor_by_hand():
    """The input's best word over SIMD in divisors(100), on a 64-bit port (words, padded width -> cycles):
    1: 100 x 8 -> 100;  2: 50 x 16 -> 50;  4: 25 x 32 -> 25;  5: 20 x 64 (40 bits) -> 20;
    10: 10 x 128 (80) -> 20;  20: 5 x 256 (160) -> 20;  25: 4 x 256 (200) -> 16;  50: 2 x 512 (400) -> 16;
    100: 1 x 1024 (800) -> 16.  Best: 16 (packed bytes over the port would say 100 / 8 -> 13).
    The output (10 x INT17, PE in 1, 2, 5, 10): PE 5 gives 2 words of 128 bits (85) -> 4; PE 10 gives
    1 word of 256 (170) -> 4; PE 2: 5 x 64 (34) -> 5; PE 1: 10 x 32 -> 10. Best 4. Floor: max(16, 4) = 16.
    On a 128-bit port: SIMD 25, 50, 100 -> 8, 8, 8; SIMD 20: 5 x 256 -> 10; SIMD 10: 10 x 128 -> 10.
    Best 8; the output: PE 10 -> 2, PE 5 -> 2. Floor 8."""
    graph = hundred_bytes_graph()
    assert dma_floor(graph, load_board("pynq-z2")) == 16
    assert dma_floor(graph, load_board("zcu104")) == 8


def test_folding_target_beyond_the_dma_is_refused():
    """14 cycles a frame (7,000,000 frames/s at 100 MHz) is below the 16-cycle DMA floor above."""
    with pytest.raises(HwgenError, match=r"7,000,000 frames/s is out of reach: the AXI DMA needs at least 16 cycles per frame "
                                         r"to move 100 x uint8 in and 10 x int17 out through pynq-z2's 64-bit memory port"):
        auto_fold(hundred_bytes_graph(), load_board("pynq-z2"), 100.0, target_fps=7e6)
