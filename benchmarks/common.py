"""Helpers shared by the benchmarks: one-core pinning, best-of-R timing, quiet blocks, tables.

Only the standard library is imported at module level, so that a benchmark can call
`limit_threads()` before numpy (and its BLAS thread pool) is first imported.
"""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def limit_threads() -> dict[str, str]:
    """Set the usual thread-count variables to 1 for this process; returns the environment as it was.

    Must run before numpy / torch are imported (their thread pools read these once). Hand the
    returned environment to subprocesses that should run as a user would run them.
    """
    before = dict(os.environ)
    for var in THREAD_VARS:
        os.environ[var] = "1"
    return before


def _threads() -> list[int]:
    return [int(t) for t in os.listdir("/proc/self/task")] if os.path.isdir("/proc/self/task") else [0]


@contextlib.contextmanager
def pinned(core: int) -> Iterator[str]:
    """Every thread of this process on `core` (threads started inside inherit it); restored on exit.

    Yields a one-line description of what was pinned, or why nothing was.
    """
    if not hasattr(os, "sched_setaffinity"):
        yield "not pinned (os.sched_setaffinity is not available on this platform)"
        return
    before = os.sched_getaffinity(0)
    if core not in before:
        raise ValueError(f"core must be one of {sorted(before)}, not {core}")
    for tid in _threads():
        with contextlib.suppress(OSError):  # a thread may have exited meanwhile
            os.sched_setaffinity(tid, {core})
    try:
        yield f"all {len(_threads())} threads of the process pinned to core {core} of {sorted(before)}"
    finally:
        for tid in _threads():
            with contextlib.suppress(OSError):
                os.sched_setaffinity(tid, before)


def single_thread_onnxruntime() -> str:
    """Make every onnxruntime.InferenceSession created without options use one intra- and inter-op thread.

    qonnx's execute_onnx creates a session per standard node per call and passes no options, so
    the thread count can only be set by wrapping the constructor (this process only).
    """
    import onnxruntime as rt

    if getattr(rt.InferenceSession, "_bench_single_thread", False):
        return "onnxruntime: 1 intra-op, 1 inter-op thread"
    original = rt.InferenceSession

    def session(model, sess_options=None, *args, **kwargs):
        if sess_options is None:
            sess_options = rt.SessionOptions()
            sess_options.intra_op_num_threads = 1
            sess_options.inter_op_num_threads = 1
        return original(model, sess_options, *args, **kwargs)

    session._bench_single_thread = True
    rt.InferenceSession = session
    return "onnxruntime: 1 intra-op, 1 inter-op thread"


def best_of(fn: Callable[[], object], repeat: int) -> tuple[float, list[float], object]:
    """Run `fn` `repeat` times; (fastest seconds, every time, the fastest run's result)."""
    times, best_result, best = [], None, float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        dt = time.perf_counter() - t0
        times.append(dt)
        if dt < best:
            best, best_result = dt, result
    return best, times, best_result


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence file descriptors 1 and 2 (C libraries and subprocesses included); replayed on error."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            _restore(saved)
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        else:
            _restore(saved)


def _restore(saved: tuple[int, int]) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(saved[0], 1)
    os.dup2(saved[1], 2)
    os.close(saved[0])
    os.close(saved[1])


def machine() -> dict:
    """What the numbers were measured on."""
    import importlib.metadata as md

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = {"python": platform.python_version()}
    for pkg in ("hwgen", "numpy", "onnxruntime", "qonnx", "brevitas", "torch"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    try:
        versions["g++"] = subprocess.run(["g++", "-dumpfullversion"], check=False, capture_output=True, text=True).stdout.strip() or None
    except OSError:
        versions["g++"] = None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu, "cores": cores, "platform": platform.platform(), "versions": versions}


def git_state() -> dict:
    """Commit and modified tracked files of the hwgen checkout, read-only (no index refresh)."""
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}

    def git(*args: str) -> str | None:
        try:
            r = subprocess.run(["git", *args], check=False, cwd=root, env=env, capture_output=True, text=True)
        except OSError:
            return None
        return r.stdout.strip() if r.returncode == 0 else None

    commit = git("rev-parse", "--short", "HEAD")
    modified = git("diff", "--name-only", "HEAD")
    return {"commit": commit or "unknown (not a git checkout)", "modified": modified.splitlines() if modified else []}


def table(rows: list[tuple], header: tuple) -> str:
    """A plain text table: first column left-aligned, the others right-aligned."""
    cells = [tuple(str(c) for c in header)] + [tuple(str(c) for c in r) for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for n, r in enumerate(cells):
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
