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


def compile_library(sources: list[Path], include_dirs: list[Path], output: Path, log: Path,
                    exact: bool = False) -> tuple[Path, bool]:
    """g++ `sources` into the shared library `output`; returns (path, whether the cache had it).

    exact=True compiles the kernels' synthesis arithmetic (ap_int) instead of the C-sim fast path
    (plain C++ integers, range-checked): see hls_templates/kernels/hwgen_types.hpp.
    """
    toolchain = find_toolchain()
    flags = CXXFLAGS + (("-DHWGEN_CSIM_EXACT",) if exact else ())
    cached = cache_dir() / f"{_digest(sources, include_dirs, toolchain, flags)}.so"
    output.parent.mkdir(parents=True, exist_ok=True)
    if cached.is_file():
        _install(cached, output)
        log.write_text(f"cache hit: {cached}\n")
        return output, True
    # one g++ per source, in parallel (the translation units take about the same time), then the link
    building = output.with_suffix(".building")
    objects = [output.parent / f"{i}_{s.stem}.o" for i, s in enumerate(sources)]
    compiles = [[toolchain.cxx, *flags, *(f"-I{d}" for d in include_dirs), f"-I{toolchain.ap_include}", "-c", str(s), "-o", str(o)]
                for s, o in zip(sources, objects)]
    link = [toolchain.cxx, "-shared", "-fPIC", *map(str, objects), "-o", str(building)]
    runs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for cmd in compiles]
    results = [(cmd, *run.communicate(), run.returncode) for cmd, run in zip(compiles, runs)]
    if all(code == 0 for *_, code in results):
        done = subprocess.run(link, capture_output=True, text=True)
        results.append((link, done.stdout, done.stderr, done.returncode))
    for o in objects:
        o.unlink(missing_ok=True)
    log.write_text("\n".join(f"$ {' '.join(cmd)}\n{out}{err}" for cmd, out, err, _ in results))
    failed = [(cmd, err, code) for cmd, _, err, code in results if code != 0]
    if failed:
        cmd, err, code = failed[0]
        errors = [l for l in err.splitlines() if "error" in l][:15] or err.splitlines()[-15:]
        raise ToolError(f"g++ failed to compile the C simulation (exit {code}):\n" + "\n".join(errors),
                        where=str(log), hint="this is a bug in hwgen's generated code if the model was accepted; please report it with the log")
    os.replace(building, output)
    _install(output, cached)
    return output, False


def _install(source: Path, target: Path) -> None:
    """Copy then rename: a library someone has loaded is replaced, never overwritten in place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)
