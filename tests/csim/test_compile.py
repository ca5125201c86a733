"""compile_library: one g++ per source in parallel, then the link; errors named; the cache."""

from __future__ import annotations

import ctypes

import pytest

from hwgen.csim.compile import compile_library
from hwgen.errors import ToolError


def sources(tmp_path, body: str):
    a, b = tmp_path / "src" / "a.cpp", tmp_path / "other" / "a.cpp"  # same file name in two folders
    a.parent.mkdir()
    b.parent.mkdir()
    a.write_text('extern "C" int twice(int x) { return 2 * x; }\n')
    b.write_text(body)
    return [a, b]


def test_two_sources_link_into_one_library_and_are_cached(tmp_path):
    srcs = sources(tmp_path, 'extern "C" int twice(int); extern "C" int four_times(int x) { return twice(twice(x)); }\n')
    out = tmp_path / "lib" / "libx.so"
    path, cached = compile_library(srcs, [], out, tmp_path / "compile.log")
    assert not cached and path == out
    assert ctypes.CDLL(str(out)).four_times(5) == 20
    log = (tmp_path / "compile.log").read_text()
    assert log.count(" -c ") == 2 and "-shared" in log
    assert sorted(p.name for p in out.parent.iterdir()) == ["libx.so"]  # objects removed
    again, cached = compile_library(srcs, [], tmp_path / "lib2" / "libx.so", tmp_path / "compile2.log")
    assert cached and (tmp_path / "compile2.log").read_text().startswith("cache hit")


def test_a_compile_error_names_the_line_and_the_log(tmp_path):
    srcs = sources(tmp_path, "int broken( { return undeclared_name; }\n")
    with pytest.raises(ToolError, match=r"g\+\+ failed to compile the C simulation \(exit 1\):\n.*error") as info:
        compile_library(srcs, [], tmp_path / "lib" / "libx.so", tmp_path / "compile.log")
    assert str(tmp_path / "compile.log") in str(info.value)
    assert "error" in (tmp_path / "compile.log").read_text()
    assert not (tmp_path / "lib" / "libx.so").exists()


def test_precompiled_header_is_made_once_and_a_broken_one_is_survived(tmp_path, monkeypatch):
    """ap_int.h / hls_stream.h are precompiled into the cache on the first compile and -included by the
    next; a truncated .gch (g++ fails on it) costs a second compile without it, not the build."""
    monkeypatch.setenv("HWGEN_CACHE_DIR", str(tmp_path / "cache"))

    def build(n):
        src = tmp_path / f"s{n}" / "uses_ap.cpp"
        src.parent.mkdir()
        src.write_text(f'#include <ap_int.h>\nextern "C" int plus(int x) {{ ap_int<12> a = x; return (a + {n}).to_int(); }}\n')
        out = tmp_path / f"lib{n}" / "libx.so"
        path, cached = compile_library([src], [], out, tmp_path / f"compile{n}.log")
        assert not cached and ctypes.CDLL(str(path)).plus(5) == 5 + n
        return (tmp_path / f"compile{n}.log").read_text()

    first = build(1)
    assert first.startswith("precompiled header made: ") and "-x c++-header" in first and "-include " in first
    gch = next((tmp_path / "cache").rglob("hwgen_pch.hpp.gch"))
    second = build(2)
    assert second.startswith(f"precompiled header: {gch}") and f"-include {gch.with_suffix('')}" in second
    gch.write_bytes(gch.read_bytes()[:100_000])
    third = build(3)
    assert "failed with the precompiled header" in third and "again without it" in third
