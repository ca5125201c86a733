"""What the script tests share: a small rendered design, and tclsh running a script with every vendor command stubbed.

tcl_stubs.tcl stands in for the tools (it checks cells, pins, files and the IP catalog as it goes),
so hls.tcl and bd.tcl run their own Tcl for real: the variables, the checks, the file copies into
deploy/.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from hwgen.codegen.render import make_design
from hwgen.csim.simulate import Simulation
from hwgen.datatypes import DataType
from hwgen.driver import packing
from hwgen.ir.layers import MVAU
from hwgen.synth.scripts import tcl_word
from tests.conftest import chain, random_thresholds, random_values

STUBS = Path(__file__).with_name("tcl_stubs.tcl")
BOARDS = ["pynq-z2", "zcu104"]
needs_tclsh = pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh (Tcl 8.6) is not installed")

U, I = DataType.uint, DataType.int


def small_graph():
    """Two MVAUs (thresholded, then raw accumulator) with a width converter between: buses 8 and 32 bits."""
    rng = np.random.default_rng(7)
    w0 = random_values(rng, I(2), (8, 16))
    t0 = random_thresholds(rng, 8, 3, -6, 6)
    l0 = MVAU("MVAU_0", 16, 8, 4, 2, U(2), I(2), I(8), U(2), w0, t0, 0)
    w1 = random_values(rng, I(2), (4, 8))
    l1 = MVAU("MVAU_1", 8, 4, 2, 4, U(2), I(2), I(6), I(6), w1, None, 0)
    return chain([l0, l1], name="synth_test")


def render_small(tmp_path_factory):
    """hls/ of a small design, its design context, and 3 frames of (packed input, expected output) from C-sim."""
    work = tmp_path_factory.mktemp("design")
    graph = small_graph()
    sim = Simulation(graph, work)
    levels = random_values(np.random.default_rng(1), graph.input.dtype, (3, graph.input.elems))
    data = packing.pack(levels, str(graph.input.dtype), sim.inp.per_word, sim.inp.bus)
    expected = sim.backend.run(data, len(data))
    return work, make_design(graph), (data, expected)


def build_folder(tmp_path, rendered):
    work, design, vectors = rendered
    shutil.copytree(work / "hls", tmp_path / "build" / "hls")
    return tmp_path / "build", design, vectors


def run_tcl(tmp_path: Path, cwd: Path, script: str, **stub) -> tuple[subprocess.CompletedProcess, list[str]]:
    """tclsh sources tcl_stubs.tcl, then `script` in `cwd`; returns the result and the logged calls."""
    log = tmp_path / f"{script}.calls"
    log.unlink(missing_ok=True)
    settings = {"log": log, **stub}
    driver = tmp_path / f"run_{script}"
    driver.write_text("".join(f"set ::stub({k}) {tcl_word(v)}\n" for k, v in settings.items())
                      + f"source {tcl_word(STUBS)}\nsource {script}\n")
    result = subprocess.run(["tclsh", str(driver)], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    calls = log.read_text().splitlines() if log.exists() else []
    return result, calls


def first(calls: list[str], call: str) -> int:
    """Index of the first call that is `call` or starts with `call` and a space."""
    for i, line in enumerate(calls):
        if line == call or line.startswith(call + " "):
            return i
    raise AssertionError(f"{call} was never called; calls: {[c.split(' ', 1)[0] for c in calls]}")


def assert_order(calls: list[str], commands: list[str]) -> None:
    positions = [first(calls, c) for c in commands]
    assert positions == sorted(positions), list(zip(commands, positions))


def hls_axis(design) -> str:
    """The HLS IP's stream widths for the stubs (in Vitis HLS: the widths of the top's ap_axiu ports)."""
    return f"in_stream {design.input.bus} out_stream {design.output.bus}"
