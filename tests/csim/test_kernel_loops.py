"""The kernels' pipelined loops as Vitis HLS will see them, checked with g++ (Vitis HLS is not here).

- The sliding-window kernels (swg.hpp, maxpool.hpp) take their block schedule from compile-time
  tables: the tables are constant expressions (static_assert accepts them) equal to the cycle model's
  window_blocks, and the compiled loops call none of the schedule arithmetic (last, reads, length):
  at -O0, where g++ keeps every called member function out of line, no such function is emitted.
  What only Vitis HLS can tell, the II it achieves and the timing at the target clock, is not checked.
- Every layer kernel's loop runs frames * PER_FRAME iterations and declares PER_FRAME (one frame) as
  its LOOP_TRIPCOUNT, so that csynth reports a latency; the C-sim counters (test_cycles.py and the
  layer tests) check that PER_FRAME * frames is what the loop runs, i.e. PER_FRAME == cycles(layer).
"""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

from hwgen.csim.compile import find_toolchain
from hwgen.datatypes import DataType
from hwgen.estimate import cycles
from hwgen.ir.layers import SWG, MaxPool
from hwgen.kinds import kind_of
from hwgen.kinds.window import window_blocks
from hwgen.resources import kernels
from tests.kinds import test_maxpool, test_swg

U = DataType.uint


def window_layers() -> list:
    """The SWG and MaxPool cases of the C-sim tests, and random geometries (padding of any size for SWG)."""
    layers = [test_swg.swg(*case[:-1], name=f"SWG_{i}") for i, case in enumerate(test_swg.CASES)]
    layers += [test_maxpool.maxpool(*case[:-1], name=f"MaxPool_{i}") for i, case in enumerate(test_maxpool.CASES)]
    rng = np.random.default_rng(12)
    while len(layers) < 60:
        h, w, kh, kw, sh, sw = (int(v) for v in (*rng.integers(1, 12, 2), *rng.integers(1, 6, 2), *rng.integers(1, 4, 2)))
        pad = tuple(int(p) for p in rng.integers(0, 4, 4))
        if pad[0] + h + pad[2] < kh or pad[1] + w + pad[3] < kw:
            continue
        c = int(rng.choice([1, 2, 6]))
        word = int(rng.choice([d for d in (1, 2, 3, 6) if c % d == 0]))
        if len(layers) % 2:
            layers.append(SWG(f"SWG_r{len(layers)}", h, w, c, kh, kw, sh, sw, pad, word, U(2)))
        elif max(pad[0], pad[2]) < kh and max(pad[1], pad[3]) < kw:
            layers.append(MaxPool(f"MaxPool_r{len(layers)}", h, w, c, kh, kw, sh, sw, pad, word, U(2)))
    return layers


def window_type(layer) -> str:
    """hwgen::Window<...> as the kernel instantiates it: the emitted template arguments less the element type."""
    return f"hwgen::Window<{', '.join(map(str, kind_of(layer).context(layer).targs[:-1]))}>"


def expected_tables(layer) -> dict:
    """What the kernel's tables must hold, from the cycle model: block 0 of window_blocks is the kernel's block -1."""
    reads, ops = window_blocks(layer)
    length = np.concatenate([reads[:1], np.maximum(reads[1:], ops)])
    return {"reads": reads.tolist(), "length": length.tolist(), "first": 0 if reads[0] else 1,
            "per_frame": cycles(layer), "words": layer.ifm_h * layer.ifm_w * layer.channels // layer.in_elems}


def compile_cpp(tmp_path, source: str, *flags: str) -> subprocess.CompletedProcess:
    tc = find_toolchain()
    path = tmp_path / "check.cpp"
    path.write_text(source)
    return subprocess.run([tc.cxx, "-std=c++14", "-w", f"-I{kernels()}", f"-I{tc.ap_include}", *flags, str(path)],
                          capture_output=True, text=True, timeout=600, check=False)


def test_window_schedules_are_compile_time_tables_equal_to_the_cycle_model(tmp_path):
    layers = window_layers()
    assert len(layers) == 60 and {type(l) for l in layers} == {SWG, MaxPool}
    assert any(expected_tables(l)["first"] == 1 for l in layers)  # a block -1 that reads nothing is covered
    lines = ['#include "swg.hpp"',
             "template <unsigned N> constexpr bool same(const unsigned (&a)[N], const unsigned (&b)[N]) {",
             "    for (unsigned i = 0; i < N; i++) if (a[i] != b[i]) return false;",
             "    return true;", "}"]
    for i, layer in enumerate(layers):
        e = expected_tables(layer)
        lines += [f"typedef {window_type(layer)} G{i};",
                  f"constexpr hwgen::BlockTables<G{i}::BLOCKS> T{i} = hwgen::block_tables<G{i}>();",
                  f"constexpr unsigned R{i}[] = {{{', '.join(map(str, e['reads']))}}};",
                  f"constexpr unsigned L{i}[] = {{{', '.join(map(str, e['length']))}}};",
                  f'static_assert(same(T{i}.reads, R{i}), "{layer.name}: reads");',
                  f'static_assert(same(T{i}.length, L{i}), "{layer.name}: length");',
                  f'static_assert(T{i}.first == {e["first"]} && T{i}.per_frame == {e["per_frame"]}ULL && '
                  f'T{i}.words == {e["words"]}ULL, "{layer.name}: first block, per frame, words");']
    done = compile_cpp(tmp_path, "\n".join(lines) + "\n", "-fsyntax-only")
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.skipif(shutil.which("nm") is None, reason="nm (binutils) is not installed")
def test_window_loops_evaluate_no_schedule_arithmetic_at_run_time(tmp_path):
    calls = []
    for layer in window_layers()[::6]:
        ctx = kind_of(layer).context(layer)
        calls.append(f"    {{ hls::stream<ap_uint<{ctx.in_bits}> > in; hls::stream<ap_uint<{ctx.out_bits}> > out;\n"
                     f"      hwgen::{ctx.function}<{', '.join(map(str, ctx.targs))}>(in, out, frames, \"{layer.name}\"); }}")
    source = '#include "maxpool.hpp"\n#include "swg.hpp"\n\nvoid kernels(unsigned frames) {\n' + "\n".join(calls) + "\n}\n"
    obj = tmp_path / "check.o"
    done = compile_cpp(tmp_path, source, "-O0", "-c", "-o", str(obj))
    assert done.returncode == 0, done.stderr[-3000:]
    symbols = subprocess.run(["nm", "-C", str(obj)], capture_output=True, text=True, check=True).stdout
    # control: -O0 kept the loops' own helpers out of line, so a schedule function they called would be here too
    assert len(re.findall(r"hwgen::Blocks<.*>::next\(", symbols)) == len(set(map(window_type, window_layers()[::6])))
    arithmetic = re.findall(r"hwgen::(?:Window<[^\n]*>::(?:last|reads|length|per_frame)\(|block_tables<)[^\n]*", symbols)
    assert arithmetic == []


LAYER_KERNELS = ["mvau.hpp", "thresholding.hpp", "dwc.hpp", "swg.hpp", "maxpool.hpp"]


@pytest.mark.parametrize("kernel", LAYER_KERNELS)
def test_every_pipelined_loop_declares_its_trip_count_per_frame(kernel):
    text = (kernels() / kernel).read_text()
    loops = re.findall(r"for \(unsigned long long (\w+) = 0; \1 < (\w+); \1\+\+\) \{\n#pragma HLS PIPELINE II = 1\n(.*)\n", text)
    assert loops and len(loops) == text.count("#pragma HLS PIPELINE")
    for _, bound, pragma in loops:
        assert bound == "total"
        assert pragma == "#pragma HLS LOOP_TRIPCOUNT min = PER_FRAME avg = PER_FRAME max = PER_FRAME"
    # each loop's bound: frames (the runtime argument) times the per-frame count its pragma names
    assert len(re.findall(r"const unsigned long long total = frames \* PER_FRAME;", text)) == len(loops)


def test_axi_port_loops_declare_their_words_per_frame():
    text = (kernels() / "axis.hpp").read_text()
    loops = re.findall(r"for \(unsigned long long i = 0; i < \(unsigned long long\)frames \* WORDS; i\+\+\) \{\n"
                       r"#pragma HLS PIPELINE II = 1\n(.*)\n", text)
    assert len(loops) == 2 == text.count("#pragma HLS PIPELINE")
    assert set(loops) == {"#pragma HLS LOOP_TRIPCOUNT min = WORDS avg = WORDS max = WORDS"}
