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
