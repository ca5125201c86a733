"""Runs builds of mutated models in a separate worker process, so that a hang (a time limit per case) or a
signal death (a crash in the C-sim library, the runtime, numpy) is seen and counted, not suffered.

Each case ends in one outcome: "built" (hwgen.json complete, deploy/accelerator.json present, verification
passed), "error: <HwgenError class> at <step>" (hwgen.json failed, no accelerator.json), or a failure:
"internal" (an InternalError: an exception hwgen did not expect), "mismatch" (the verification found the
C simulation differing from the reference or from QONNX: a wrong accelerator, not a bad model), "other" (any other exception or a
traceback on stderr), "half-written" (the build folder disagrees with the outcome), "hang", "signal".
"""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
from pathlib import Path

FAILURES = ("internal", "mismatch", "other", "half-written", "hang", "signal")


def build_case(model: str, out: str, cli: bool) -> tuple[str, str]:
    """(outcome, message) of one build; in the worker process."""
    if cli:
        run = subprocess.run([sys.executable, "-m", "hwgen", "build", model, "--out", out, "--verify-frames", "3", "--no-synth"],
                             capture_output=True, text=True)
        text = (run.stderr or "").strip()
        if "Traceback" in text:
            return "other", text[-2000:]
        outcome = {0: "built", 2: "error", 3: "internal"}.get(run.returncode, f"other (exit {run.returncode})")
        if outcome == "error" and "bug in hwgen" in text:
            return "mismatch", text[-2000:]
        if outcome == "error":
            outcome += f": {_error_class(out)}"
        return _check_folder(out, outcome), text.splitlines()[-1] if text else ""
    import hwgen
    from hwgen.errors import HwgenError, InternalError

    try:
        b = hwgen.build(model, out_dir=out, verify_frames=3, synthesize=False)
    except InternalError as exc:
        return "internal", str(exc)
    except HwgenError as exc:
        if exc.where == "verification" and "bug in hwgen" in (exc.hint or ""):  # the accelerator computes something else
            return "mismatch", str(exc)
        return _check_folder(out, f"error: {type(exc).__name__} at {_step(out)}"), str(exc)
    except Exception as exc:  # what the fuzz test exists to find
        import traceback

        return "other", "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-2000:]
    del b  # a build returns only after its verification passed (a mismatch raises HwgenError)
    return _check_folder(out, "built"), ""


def _step(out: str) -> str:
    try:
        return json.loads((Path(out) / "hwgen.json").read_text()).get("step") or "?"
    except (OSError, ValueError):
        return "?"


def _error_class(out: str) -> str:
    return f"(cli) at {_step(out)}"


def _check_folder(out: str, outcome: str) -> str:
    """A build folder never presents a failed build as good, nor a good one as failed."""
    try:
        status = json.loads((Path(out) / "hwgen.json").read_text())["status"]
    except (OSError, ValueError, KeyError):
        status = None
    finished = (Path(out) / "deploy" / "accelerator.json").is_file()
    good = status == "complete" and finished
    if (outcome == "built") != good or (outcome != "built" and status not in ("failed", None)):
        return "half-written"
    return outcome


def _serve(conn) -> None:
    while True:
        job = conn.recv()
        if job is None:
            return
        conn.send(build_case(**job))


class Worker:
    """One build at a time in a spawned process; restarted after a hang or a death."""

    def __init__(self, limit_s: float):
        self.limit_s, self.proc, self.conn = limit_s, None, None

    def _start(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child,), daemon=True)
        self.proc.start()
        child.close()

    def run(self, model, out, cli: bool = False) -> tuple[str, str]:
        if self.proc is None or not self.proc.is_alive():
            self._start()
        self.conn.send({"model": str(model), "out": str(out), "cli": cli})
        if not self.conn.poll(self.limit_s):
            self.close(kill=True)
            return "hang", f"no result within {self.limit_s:.0f} s"
        try:
            return self.conn.recv()
        except (EOFError, ConnectionError):
            self.proc.join(5)
            code = self.proc.exitcode
            self.proc = None
            return "signal", f"the worker died (exit code {code})"

    def close(self, kill: bool = False) -> None:
        if self.proc is not None:
            if kill:
                self.proc.kill()
            else:
                self.conn.send(None)
            self.proc.join(10)
        self.proc = None
