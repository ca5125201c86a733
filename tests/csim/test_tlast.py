"""TLAST: the kernel puts it on the last output word of each call of the top function (one DMA
transfer each way per call), and both test benches, the C-sim wrapper (hwgen_run) and the
co-simulation test bench, expect exactly that: they fail on TLAST at the end of every frame, the
placement hwgen had before, with which the DMA's receive ends after the first frame."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from hwgen.boards import load_board
from hwgen.codegen.render import include_dirs, make_design
from hwgen.csim.compile import compile_library
from hwgen.csim.simulate import Simulation
from hwgen.driver import packing
from hwgen.driver.backends import CSimBackend
from hwgen.synth.scripts import write_scripts
from tests.conftest import random_values
from tests.synth.tcl import small_graph
from tests.synth.test_scripts import compile_testbench

FRAMES = 3


@pytest.fixture(scope="module")
def design(tmp_path_factory):
    """The small two-MVAU design compiled for C-sim, FRAMES frames of input and their output."""
    work = tmp_path_factory.mktemp("tlast")
    graph = small_graph()
    sim = Simulation(graph, work)
    levels = random_values(np.random.default_rng(3), graph.input.dtype, (FRAMES, graph.input.elems))
    data = packing.pack(levels, str(graph.input.dtype), sim.inp.per_word, sim.inp.bus)
    return work, graph, sim, data


@pytest.fixture(scope="module")
def tlast_per_frame(design, tmp_path_factory):
    """The same design's hls/ and csim/ with the kernel's TLAST moved to the last word of every frame."""
    work, *_ = design
    old = tmp_path_factory.mktemp("tlast_per_frame")
    shutil.copytree(work / "hls", old / "hls")
    shutil.copytree(work / "csim", old / "csim")
    axis = old / "hls" / "kernels" / "axis.hpp"
    text = axis.read_text()
    assert text.count("word.last = (i == last);") == 1
    axis.write_text(text.replace("word.last = (i == last);", "word.last = (i % WORDS == WORDS - 1);"))
    return old


def test_kernel_marks_the_calls_last_word(design):
    _, _, sim, data = design
    words_per_frame = sim.out.words
    words, last = sim.backend.stream(data, FRAMES)
    assert len(words) == FRAMES * words_per_frame
    np.testing.assert_array_equal(last, np.arange(FRAMES * words_per_frame) == FRAMES * words_per_frame - 1)
    np.testing.assert_array_equal(words.reshape(FRAMES, -1), sim.backend.run(data, FRAMES))  # hwgen_run accepts it


def test_csim_wrapper_rejects_tlast_per_frame(design, tlast_per_frame):
    _, _, sim, data = design
    library, _ = compile_library([tlast_per_frame / "hls" / "top.cpp", tlast_per_frame / "csim" / "csim.cpp"],
                                 include_dirs(tlast_per_frame / "hls"), tlast_per_frame / "csim" / "libhwgen_csim.so",
                                 tlast_per_frame / "csim" / "compile.log")
    meta = {"input": {"bus": sim.inp.bus, "words": sim.inp.words}, "output": {"bus": sim.out.bus, "words": sim.out.words}}
    old = CSimBackend(library, meta)
    _, last = old.stream(data, FRAMES)
    assert last.sum() == FRAMES  # the old placement, as compiled
    with pytest.raises(RuntimeError, match=r"C simulation failed: TLAST was not on the run's last output word alone"):
        old.run(data, FRAMES)
    np.testing.assert_array_equal(old.run(data[:1], 1), sim.backend.run(data[:1], 1))  # one frame: the same word


def test_cosim_testbench_rejects_tlast_per_frame(design, tlast_per_frame):
    _, graph, sim, data = design
    expected = sim.backend.run(data, FRAMES)
    write_scripts(tlast_per_frame, load_board("pynq-z2"), make_design(graph), 100.0, cosim=True, vectors=(data, expected))
    tb = compile_testbench(tlast_per_frame, tlast_per_frame / "cosim_tb")
    result = subprocess.run([str(tb), str(tlast_per_frame / "csim")], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1, result.stdout
    w = sim.out.words
    # calls of 1 and 2 frames: frame 1 ends the second call's first frame, not the call
    assert f"hwgen cosim: frame 1 word {w - 1}: TLAST is 1, expected 0 (not the call's last word)" in result.stdout
    assert "hwgen cosim: FAIL: 0 output words differ, 1 misplaced TLAST, of 3 frames" in result.stdout
