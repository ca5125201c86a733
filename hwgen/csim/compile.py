"""Compile generated C++ into a C-sim shared library with g++, cached by content hash.

ap_int.h / hls_stream.h come from `$XILINX_HLS/include` when XILINX_HLS is set (a Vitis HLS
install), otherwise from the hls4ml package's copy (templates/vivado/ap_types). The toolchain
is resolved here and nowhere else.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from hwgen.errors import HwgenError, ToolError

CXXFLAGS = ("-std=c++14", "-O3", "-fwrapv", "-fPIC", "-w")  # -fwrapv: see mvau.hpp's fast path


@dataclass(frozen=True)
class Toolchain:
    cxx: str
    ap_include: Path
    ap_source: str  # "Vitis HLS ($XILINX_HLS)" or "hls4ml <version>"


def find_toolchain() -> Toolchain:
    cxx = os.environ.get("CXX") or shutil.which("g++")
    if not cxx:
        raise HwgenError("g++ was not found on PATH", hint="install a C++ compiler (e.g. apt-get install g++) or set CXX")
    xilinx = os.environ.get("XILINX_HLS")
    if xilinx and (Path(xilinx) / "include" / "ap_int.h").is_file():
        return Toolchain(cxx, Path(xilinx) / "include", f"Vitis HLS ({xilinx})")
    try:
        import hls4ml  # noqa: F401  (only its header files are used)
    except ImportError:
        raise HwgenError("no ap_int.h found: XILINX_HLS is not set and hls4ml is not installed",
                         hint="pip install hls4ml (it ships the ap_types headers), or set XILINX_HLS") from None
    import importlib.metadata

    path = Path(hls4ml.__file__).parent / "templates" / "vivado" / "ap_types"
    if not (path / "ap_int.h").is_file():
        raise HwgenError(f"hls4ml is installed but {path}/ap_int.h is missing", hint="reinstall hls4ml")
    return Toolchain(cxx, path, f"hls4ml {importlib.metadata.version('hls4ml')}")


def cache_dir() -> Path:
    return Path(os.environ.get("HWGEN_CACHE_DIR") or Path.home() / ".cache" / "hwgen") / "csim"


def _digest(sources: list[Path], include_dirs: list[Path], toolchain: Toolchain, flags: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    h.update(" ".join((toolchain.cxx, str(toolchain.ap_include), *flags)).encode())
    for path in sources + sorted(p for d in include_dirs for p in d.glob("*.h*")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:24]


PCH_HEADERS = ("ap_int.h", "hls_stream.h")


def precompiled_header(toolchain: Toolchain, flags: tuple[str, ...]) -> tuple[Path | None, str]:
    """ap_int.h and hls_stream.h precompiled (g++ -x c++-header), once per toolchain, header files
    and flags, in the cache: parsing them is about 3 s of every translation unit, loading the
    precompiled form 0.2 s. Returns the header to `-include` (its .gch beside it) and what was done,
    or None where g++ could not make one or HWGEN_NO_PCH is set (then every compile parses the headers)."""
    if os.environ.get("HWGEN_NO_PCH"):
        return None, "no precompiled header (HWGEN_NO_PCH is set)"
    h = hashlib.sha256(" ".join((toolchain.cxx, str(toolchain.ap_include), *flags)).encode())
    for path in sorted(toolchain.ap_include.rglob("*.h")):  # by name, size and time (Vitis ships hundreds)
        st = path.stat()
        h.update(f"{path.relative_to(toolchain.ap_include)} {st.st_size} {st.st_mtime_ns}".encode())
    folder = cache_dir() / f"pch-{h.hexdigest()[:24]}"
    header = folder / "hwgen_pch.hpp"
    if (folder / "hwgen_pch.hpp.gch").is_file():
        return header, f"precompiled header: {header}.gch"
    building = folder.with_name(f"{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    (building / header.name).write_text("".join(f"#include <{name}>\n" for name in PCH_HEADERS))
    cmd = [toolchain.cxx, *flags, f"-I{toolchain.ap_include}", "-x", "c++-header", str(building / header.name),
           "-o", str(building / "hwgen_pch.hpp.gch")]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        shutil.rmtree(building, ignore_errors=True)
        return None, f"no precompiled header (exit {done.returncode}): $ {' '.join(cmd)}\n{done.stderr[-2000:]}"
    try:
        os.rename(building, folder)  # whole, or not at all: a truncated .gch fails every compile using it
    except OSError:  # another process made it meanwhile
        shutil.rmtree(building, ignore_errors=True)
    return header, f"precompiled header made: $ {' '.join(cmd)}"


def compile_library(sources: list[Path], include_dirs: list[Path], output: Path, log: Path,
                    exact: bool = False, defines: tuple[str, ...] = ()) -> tuple[Path, bool]:
    """g++ `sources` into the shared library `output`; returns (path, whether the cache had it).

    exact=True compiles the kernels' synthesis arithmetic (ap_int) instead of the C-sim fast path
    (plain C++ integers, range-checked): see hls_templates/kernels/hwgen_types.hpp. The sources
    start from a precompiled ap_int.h / hls_stream.h (precompiled_header); should a compile fail
    with it, it is repeated without, and only that failure counts. `defines`: the design's -D flags
    (hwgen.codegen.render.cxx_defines), given to the precompiled header too: AP_INT_MAX_W must be
    defined before ap_int.h is first read.
    """
    toolchain = find_toolchain()
    flags = CXXFLAGS + tuple(defines) + (("-DHWGEN_CSIM_EXACT",) if exact else ())
    cached = cache_dir() / f"{_digest(sources, include_dirs, toolchain, flags)}.so"
    output.parent.mkdir(parents=True, exist_ok=True)
    if cached.is_file():
        _install(cached, output)
        log.write_text(f"cache hit: {cached}\n")
        return output, True
    building = output.with_suffix(".building")
    pch, pch_note = precompiled_header(toolchain, flags)
    results = _compile_and_link(toolchain, flags, sources, include_dirs, output, building, pch)
    notes = [pch_note]
    if pch is not None and any(code != 0 for *_, code in results):
        notes.append("failed with the precompiled header:\n" + "\n".join(f"$ {' '.join(c)}\n{o}{e}" for c, o, e, _ in results)
                     + "\nagain without it:")
        results = _compile_and_link(toolchain, flags, sources, include_dirs, output, building, None)
    log.write_text("\n".join(notes + [f"$ {' '.join(cmd)}\n{out}{err}" for cmd, out, err, _ in results]))
    failed = [(cmd, err, code) for cmd, _, err, code in results if code != 0]
    if failed:
        cmd, err, code = failed[0]
        errors = [l for l in err.splitlines() if "error" in l][:15] or err.splitlines()[-15:]
        raise ToolError(f"g++ failed to compile the C simulation (exit {code}):\n" + "\n".join(errors),
                        where=str(log),
                        hint="this is a bug in hwgen's generated code if the model was accepted; please report it with the log")
    os.replace(building, output)
    _install(output, cached)
    return output, False


def _compile_and_link(toolchain: Toolchain, flags, sources, include_dirs, output: Path, building: Path, pch: Path | None) -> list:
    """One g++ per source, in parallel (the translation units take about the same time), then the
    link into `building`; [(command, stdout, stderr, exit code)]."""
    objects = [output.parent / f"{i}_{s.stem}.o" for i, s in enumerate(sources)]
    first = ["-include", str(pch)] if pch is not None else []
    compiles = [[toolchain.cxx, *flags, *(f"-I{d}" for d in include_dirs), f"-I{toolchain.ap_include}", *first, "-c", str(s), "-o", str(o)]
                for s, o in zip(sources, objects)]
    link = [toolchain.cxx, "-shared", "-fPIC", *map(str, objects), "-o", str(building)]
    runs = []
    try:
        for cmd in compiles:
            runs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        results = [(cmd, *run.communicate(), run.returncode) for cmd, run in zip(compiles, runs)]
    except BaseException:  # a stopped build (Ctrl-C, SIGTERM) leaves no g++ running
        for run in runs:
            run.kill()
            run.wait()
        raise
    if all(code == 0 for *_, code in results):
        done = subprocess.run(link, capture_output=True, text=True)
        results.append((link, done.stdout, done.stderr, done.returncode))
    for o in objects:
        o.unlink(missing_ok=True)
    return results


def _install(source: Path, target: Path) -> None:
    """Copy then rename: a library someone has loaded is replaced, never overwritten in place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)
