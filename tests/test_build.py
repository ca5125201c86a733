"""How a build that does not finish ends: hwgen.json says how and where, the folder is never
presented as finished, and the command line gives one message and a distinct exit status.

  - an exception no step expected (a bug) -> "failed", the traceback in report/internal_error.log,
    `python -m hwgen` exit 3 with one short message; hwgen.build() raises InternalError from it;
  - SIGINT / SIGTERM during a step -> "interrupted" with the step, exit 130 / 143, and the same
    command run again finishes the build.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import hwgen
from hwgen.cli import EXIT_INTERNAL_ERROR, main
from hwgen.errors import HwgenError, InternalError

build_module = importlib.import_module("hwgen.build.steps")  # the steps run_build runs (STEPS)


def record_of(out: Path) -> dict:
    return json.loads((out / "hwgen.json").read_text())


def failing(kind: type[Exception], message: str, after=None):
    """A step that raises `kind(message)`, after running `after` (a real step) if given."""
    def step(b):
        if after is not None:
            after(b)
        raise kind(message)
    return step


def inject(monkeypatch, name: str, step) -> None:
    monkeypatch.setattr(build_module, "STEPS", [(n, step if n == name else s) for n, s in build_module.STEPS])


def run_cli(capsys, *args) -> tuple[int, str, str]:
    code = main(["build", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("step,kind", [("fold", KeyError), ("estimate", IndexError), ("deploy", ValueError)])
def test_an_unexpected_exception_is_an_internal_error(tmp_path, capsys, monkeypatch, step, kind):
    """Injected into a step (for deploy: after the real step wrote deploy/accelerator.json)."""
    after = build_module.step_deploy if step == "deploy" else None
    inject(monkeypatch, step, failing(kind, "injected fault 42", after))
    out = tmp_path / "build"
    code, stdout, stderr = run_cli(capsys, "--out", out, "--no-synth", "--verify-frames", "4")

    assert code == EXIT_INTERNAL_ERROR == 3
    assert "Traceback" not in stderr + stdout
    lines = stderr.splitlines()
    assert lines[0] == (f"error: internal error in build step {step!r}: {kind.__name__}: "
                        + ("'injected fault 42'" if kind is KeyError else "injected fault 42"))
    assert len(lines) == 2
    assert lines[1].startswith("  hint: this is a bug in hwgen, not a problem with your model or options: please report it")
    log = out / "report" / "internal_error.log"
    assert f"attaching {log} and {out / 'hwgen.json'}" in lines[1]
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and f"{kind.__name__}: " in text and "injected fault 42" in text
    assert f"internal error in build step {step!r}" in text.splitlines()[0]
    record = record_of(out)
    assert (record["status"], record["step"], record["log"]) == ("failed", step, "report/internal_error.log")
    assert record["error"] == stderr[len("error: "):].rstrip("\n")
    assert not (out / "deploy" / "accelerator.json").exists()


def test_the_node_or_layer_is_named(tmp_path, capsys, monkeypatch):
    from hwgen import lower
    from hwgen.estimate import summary

    def gemm(walk, node):  # a handler that trips over the node it handles
        return node.attribute[99]

    monkeypatch.setitem(lower.HANDLERS, "Gemm", gemm)
    code, _, stderr = run_cli(capsys, "--out", tmp_path / "a", "--no-synth")
    assert code == 3 and stderr.startswith("error: node 'Gemm_0' (Gemm): internal error in build step 'lower': IndexError"), stderr
    monkeypatch.undo()

    def resources(layer):  # a cost model without an entry for the layer
        return {}[layer.name]

    monkeypatch.setattr(summary, "resources", resources)
    code, _, stderr = run_cli(capsys, "--out", tmp_path / "b", "--no-synth", "--verify-frames", "4")
    assert code == 3
    assert stderr.startswith("error: layer 'MVAU_0' (MVAU): internal error in build step 'estimate': KeyError: 'MVAU_0'"), stderr


def test_where_is_named_from_parameters_not_from_leftover_loop_variables():
    from onnx import helper

    from hwgen.build.run import _where_in_traceback

    nodes = [helper.make_node("Relu", ["a"], ["b"], name="Relu_0"), helper.make_node("Relu", ["b"], ["c"], name="Relu_1")]

    def handler(node):
        raise IndexError("in the handler")

    def walk_then_fail():
        for node in nodes:  # the leftover loop variable is the point
            pass
        raise KeyError("after the loop")

    for call, expected in ((lambda: handler(nodes[0]), "node 'Relu_0' (Relu)"), (walk_then_fail, None)):
        with pytest.raises((IndexError, KeyError)) as info:
            call()
        assert _where_in_traceback(info.value) == expected


def test_the_python_api_raises_internal_error_from_the_original(tmp_path, monkeypatch):
    inject(monkeypatch, "fifo", failing(ValueError, "injected"))
    with pytest.raises(InternalError, match=r"internal error in build step 'fifo': ValueError: injected") as info:
        hwgen.build(out_dir=tmp_path / "build", synthesize=False)
    error = info.value
    assert isinstance(error, HwgenError)
    assert isinstance(error.__cause__, ValueError) and error.original is error.__cause__
    assert error.step == "fifo" and error.log == tmp_path / "build" / "report" / "internal_error.log" and error.log.is_file()
    # the build's signal handlers are gone again
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL and signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_user_error_is_not_an_internal_error(tmp_path, capsys):
    code, _, stderr = run_cli(capsys, tmp_path / "missing.onnx", "--out", tmp_path / "build")
    assert code == 2 and stderr.startswith("error: model file not found") and "internal error" not in stderr
    assert not (tmp_path / "build" / "report" / "internal_error.log").exists()


# -- SIGINT and SIGTERM, in a real build -------------------------------------------------
def wait_for_step(proc: subprocess.Popen, out: Path, step: str, timeout: float = 300) -> None:
    """Until hwgen.json says the build is running `step`."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            raise AssertionError(f"the build ended (exit {proc.returncode}) before step {step!r}")
        try:
            record = record_of(out)
        except (OSError, ValueError):  # not written yet
            record = {}
        if record.get("status") == "running" and record.get("step") == step:
            return
        time.sleep(0.02)
    raise AssertionError(f"no step {step!r} within {timeout} s")


def processes_naming(text: str) -> list[str]:
    """Command lines of running processes that mention `text` (a build folder: its g++ runs)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in args:
            found.append(args)
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="looks for left-over g++ processes in /proc")
def test_a_build_stopped_by_a_signal_says_so_and_reruns(tmp_path):
    out = tmp_path / "build"
    env = {**os.environ, "HWGEN_CACHE_DIR": str(tmp_path / "cache")}  # a cold compile cache: the csim step takes seconds
    command = [sys.executable, "-m", "hwgen", "build", "--out", str(out), "--no-synth"]

    def start(log: str) -> subprocess.Popen:
        return subprocess.Popen(command, cwd=tmp_path, env=env, stdout=open(tmp_path / f"{log}.out", "w"),
                                stderr=open(tmp_path / f"{log}.err", "w"))

    for signum, step in ((signal.SIGINT, "csim"), (signal.SIGTERM, "verify")):
        name = signal.Signals(signum).name
        proc = start(name)
        wait_for_step(proc, out, step)
        proc.send_signal(signum)
        assert proc.wait(timeout=60) == 128 + signum  # 130, 143
        stderr = (tmp_path / f"{name}.err").read_text()
        assert "Traceback" not in stderr
        assert stderr.startswith(f"interrupted: stopped by {name} during step {step!r}; {out / 'hwgen.json'} says so"), stderr
        record = record_of(out)
        assert (record["status"], record["step"], record["signal"]) == ("interrupted", step, name)
        assert record["error"] == f"stopped by {name} during step {step!r}"
        assert not (out / "deploy" / "accelerator.json").exists()
        assert processes_naming(str(out)) == []  # no g++ left compiling into the folder

    proc = start("rerun")
    assert proc.wait(timeout=300) == 0, (tmp_path / "rerun.err").read_text()
    record = record_of(out)
    assert (record["status"], record["step"], record["error"]) == ("complete", None, None)
    assert "C-sim library from the compile cache" in record["notes"]  # compiled by the run stopped in verify
    assert (out / "deploy" / "accelerator.json").is_file()
    hwgen.Accelerator(out)  # a finished build, for the driver too
