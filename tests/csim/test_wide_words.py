"""Stream words wider than ap_int's default 1024 bits (up to the 4096 Vitis HLS allows): the design
defines AP_INT_MAX_W for every compile of it (the C-sim library and its precompiled header, hls.tcl's
cflags, the co-simulation test bench), and runs bit-exact.

Without the define, hls4ml's ap_int.h (the C-sim headers here) aborts the process on the first
conversion into an ap_uint wider than 1024 bits (the kernels' ap_uint loops do that: the thresholds
in any C-sim, every layer in the exact one). The C-sim and the test bench therefore run in child
processes, so that such an abort fails the test instead of ending the test session.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from hwgen.boards import load_board
from hwgen.codegen.render import make_design, render
from hwgen.csim.compile import find_toolchain
from hwgen.datatypes import DataType
from hwgen.driver import packing
from hwgen.ir import reference
from hwgen.ir.layers import DWC
from hwgen.synth.scripts import write_scripts
from tests.conftest import chain, random_values
from tests.kinds.test_dwc import mvau, thresholding

U, I = DataType.uint, DataType.int


def wide_graph():
    """16-bit words in and out; inside, fc0 writes 1024 x uint4 = 4096-bit words, the thresholds turn
    them into 1024 x uint2 = 2048-bit words, a DWC splits those into the 1024-bit words fc1 reads."""
    rng = np.random.default_rng(11)
    fc0 = mvau(rng, "fc0", 8, 1024, 8, 1024, U(2), I(2), U(4))
    act = thresholding(rng, "act", 1024, 1024, U(4), U(2))
    fc1 = mvau(rng, "fc1", 1024, 8, 512, 8, U(2), I(2), U(2))
    return chain([fc0, act, fc1], name="wide")


def test_the_design_has_the_wide_words():
    graph = wide_graph()
    design = make_design(graph)
    bits = {s.name: s.bits for s in design.streams}
    assert bits == {"s_input": 16, "s_fc0": 4096, "s_act": 2048, "s_DWC_0": 1024, "s_fc1": 16}
    assert any(isinstance(l, DWC) for l in graph.layers)
    assert (design.widest_word, design.ap_int_max_w) == (4096, 4096)
    narrow = make_design(chain([mvau(np.random.default_rng(1), "fc", 8, 512, 8, 512, U(2), I(2), U(2))]))
    assert (narrow.widest_word, narrow.ap_int_max_w) == (1024, None)  # 1024 bits: ap_int's default suffices


CHILD = """
import sys
import numpy as np
from pathlib import Path
from hwgen.csim.simulate import Simulation
from hwgen.ir import reference
from tests.conftest import random_values
from tests.csim.test_wide_words import wide_graph
graph = wide_graph()
sim = Simulation(graph, Path(sys.argv[1]), exact=sys.argv[2] == "exact")
x = random_values(np.random.default_rng(3), graph.input.dtype, (3, graph.input.elems))
got, want = sim.run(x), reference.run(graph, x)
print("bit-exact" if np.array_equal(got, want) else f"DIFFERENT in {int((got != want).sum())} elements")
"""


def run_in_child(workdir: Path, mode: str) -> None:
    """The C-sim of wide_graph() on 3 frames against the numpy reference, in a child Python process."""
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", CHILD, str(workdir), mode], cwd=root, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    assert done.stdout.strip().splitlines()[-1] == "bit-exact"


def test_wide_words_are_bit_exact_in_the_fast_csim(tmp_path):
    """The default C-sim (the thresholds run their ap_uint loop there too)."""
    run_in_child(tmp_path, "fast")
    # the define reaches the precompiled ap_int.h / hls_stream.h and every translation unit
    log = (tmp_path / "csim" / "compile.log").read_text()
    commands = [line for line in log.splitlines() if line.startswith(("$ ", "precompiled header made: $ "))]
    assert len(commands) == 4  # the header, top.cpp, csim.cpp, the link
    assert all("-DAP_INT_MAX_W=4096" in c for c in commands[:3]), commands
    assert "-x c++-header" in commands[0] and all("-include" in c for c in commands[1:3])
    # a compile without it stops at the generated guard instead of aborting at run time
    top = (tmp_path / "hls" / "top.hpp").read_text()
    assert "#if AP_INT_MAX_W < 4096\n#error" in top


def test_wide_words_are_bit_exact_in_the_exact_csim(tmp_path):
    """The synthesis arithmetic everywhere, as `hwgen build --csim-exact` compiles it."""
    run_in_child(tmp_path, "exact")


def hls_cflags(hls_tcl: Path, hls_dir: Path) -> list[str]:
    """hls.tcl's cflags as Vitis HLS would expand them in `hls_dir`, less -DHWGEN_HAVE_AP_AXI_SDATA
    (hls4ml ships no ap_axi_sdata.h: axis.hpp's stand-in ap_axiu is used instead)."""
    line = re.search(r'^set cflags "(.*)"$', hls_tcl.read_text(), re.M).group(1)
    line = line.replace("[file join $hwgen_dir kernels]", str(hls_dir / "kernels")).replace("$hwgen_dir", str(hls_dir))
    return [f for f in line.split() if f != "-DHWGEN_HAVE_AP_AXI_SDATA"]


def test_the_cosim_testbench_compiled_with_hls_tcl_cflags_passes(tmp_path):
    """What Vitis HLS's csim_design / cosim_design compile, with g++: top.cpp and the test bench, on
    vectors packed from the numpy reference."""
    graph = wide_graph()
    design = make_design(graph)
    inp, out = design.input, design.output
    levels = random_values(np.random.default_rng(4), graph.input.dtype, (2, graph.input.elems))
    data = packing.pack(levels, str(graph.input.dtype), inp.per_word, inp.bus)
    expected = packing.pack(reference.run(graph, levels), str(graph.output.dtype), out.per_word, out.bus)
    render(graph, tmp_path / "hls", tmp_path / "csim")
    write_scripts(tmp_path, load_board("pynq-z2"), design, 100.0, cosim=True, vectors=(data, expected))
    hls = tmp_path / "hls"
    cflags = hls_cflags(hls / "hls.tcl", hls)
    tc = find_toolchain()
    tb = tmp_path / "cosim_tb"
    built = subprocess.run([tc.cxx, *cflags, "-O1", "-w", f"-I{tc.ap_include}", str(hls / "top.cpp"),
                            str(tmp_path / "csim" / "cosim_tb.cpp"), "-o", str(tb)], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-4000:]
    run = subprocess.run([str(tb)], cwd=tmp_path / "csim", capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, f"exit {run.returncode}\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}"
    assert "hwgen cosim: PASS: 2 frames" in run.stdout
    assert "-DAP_INT_MAX_W=4096" in cflags and "-DHWGEN_CSIM_EXACT" in cflags
