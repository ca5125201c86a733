"""Running a build: every step in order, hwgen.json saying how far it got, and what a failure leaves behind."""

from __future__ import annotations

import json
import platform
import signal
import sys
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path
from typing import Callable

from hwgen.boards import load_board
from hwgen.build import steps
from hwgen.build.record import FOLDERS, STATUS_FILE, Build, BuildConfig, versions, write_record
from hwgen.driver.accelerator import METADATA
from hwgen.errors import HwgenError, InternalError, Interrupted
from hwgen.ir.layers import LAYER_KINDS
from hwgen.resources import default_model
from hwgen.synth.scripts import deploy_files
from hwgen.version import __version__


def run_build(config: BuildConfig, progress: Callable[[str], None] | None = None) -> Build:
    """Run every step, recording in hwgen.json how far the build got.

    While it runs, hwgen.json says "running" and names the step under way; at the end "complete",
    and only then does deploy/accelerator.json (the driver's sign of a finished build) exist.
    Otherwise hwgen.json says, with the step:
      - "failed": HwgenError, a problem with the input (model, options, tools), is raised as it is;
        any other exception is a bug in hwgen: its traceback goes to report/internal_error.log and
        an InternalError (a HwgenError naming the step, the model node or layer where known, and
        the log) is raised from it;
      - "interrupted": SIGINT (Ctrl-C) or SIGTERM stopped it; Interrupted (a KeyboardInterrupt)
        is raised.
    Running the same build again redoes every step, reusing what is keyed by content: compiled
    C-sim libraries (the compile cache) and QONNX's outputs (model/qonnx_outputs.npz).
    """
    board = load_board(config.board)
    if config.utilization_cap is not None:
        board = replace(board, utilization_cap=config.utilization_cap)
    if config.model is None:
        config = BuildConfig(**{**asdict(config), "model": default_model()})
    out = Path(config.out_dir)
    model = Path(config.model)
    b = Build(config=config, out_dir=out, board=board, model_name=model.stem if model.stem != "model" else model.parent.name)
    try:
        for sub in FOLDERS:
            (out / sub).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HwgenError(f"cannot create the build folder {out} ({exc.strerror or exc})",
                         hint="--out must name a folder (new or an earlier build), not a file") from None
    for stale in (METADATA, *(f.name for f in deploy_files(out).values())):  # not this design's until produced again
        (out / "deploy" / stale).unlink(missing_ok=True)
    (out / "report" / INTERNAL_ERROR_LOG).unlink(missing_ok=True)
    b.versions = versions()
    say = progress or (lambda _msg: None)
    b.progress = say
    with _signals_stop_the_build() as hold:
        try:
            order = steps.STEPS
            for i, (name, step) in enumerate(order, 1):
                b.step = name
                write_record(b, "running")
                say(f"[{i}/{len(order)}] {name} ...")
                t0 = time.perf_counter()
                try:
                    step(b)
                finally:
                    b.timings[name] = round(time.perf_counter() - t0, 3)
                say(f"[{i}/{len(order)}] {name} done in {b.timings[name]:.2f} s")
            b.step = None
            write_record(b, "complete")
        except HwgenError as exc:
            hold()
            _abandon(b, "failed", str(exc))
            raise
        except KeyboardInterrupt as exc:
            hold()
            stop = exc if isinstance(exc, Interrupted) else Interrupted(signal.SIGINT)
            stop.step = b.step
            _abandon(b, "interrupted", str(stop), signal=stop.signal_name)
            if stop is exc:
                raise
            raise stop from None
        except Exception as exc:
            hold()
            error = _internal_error(b, exc)
            _abandon(b, "failed", str(error), log=None if error.log is None else str(error.log.relative_to(out)))
            raise error from exc
        except BaseException as exc:  # SystemExit, GeneratorExit: not a finished build either
            hold()
            _abandon(b, "failed", f"{type(exc).__name__}: {exc}")
            raise
    return b


INTERNAL_ERROR_LOG = "internal_error.log"  # in report/: the traceback of an InternalError


def _abandon(b: Build, status: str, error: str, **extra) -> None:
    """A build that did not finish: never presented as one, and hwgen.json says how it ended."""
    (b.out_dir / "deploy" / METADATA).unlink(missing_ok=True)
    write_record(b, status, error, **extra)


@contextmanager
def _signals_stop_the_build():
    """While a build runs, SIGINT and SIGTERM raise Interrupted in it, so that hwgen.json can say so
    (by default SIGTERM ends the process at once). Only where Python's default handlers are in
    place (a caller's own handler, or an ignored signal, is left alone) and only in the main
    thread (the only one Python delivers signals to). Yields `hold`: after it is called, and
    after the first signal, further signals are ignored while the build writes how it ended.
    The previous handlers come back on exit."""
    held = False

    def hold() -> None:
        nonlocal held
        held = True

    def stop(signum, _frame) -> None:
        if not held:
            hold()
            raise Interrupted(signum)

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            if signal.getsignal(sig) in (signal.SIG_DFL, signal.default_int_handler):
                previous[sig] = signal.signal(sig, stop)
    try:
        yield hold
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _internal_error(b: Build, exc: Exception) -> InternalError:
    """An unexpected exception in a step: its traceback into report/internal_error.log, and one
    short error naming the step, the node or layer (when known) and what to report."""
    where = _where_in_traceback(exc)
    log = b.out_dir / "report" / INTERNAL_ERROR_LOG
    text = [f"hwgen {__version__}: internal error in build step {b.step!r}" + (f" at {where}" if where else ""),
            f"time: {time.strftime('%Y-%m-%d %H:%M:%S %z')}",
            f"command: {' '.join(sys.argv)}",
            f"config: {json.dumps({k: str(v) for k, v in asdict(b.config).items()})}",
            f"versions: {json.dumps(b.versions)}",
            f"platform: {platform.platform()}", "",
            "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))]
    try:
        log.write_text("\n".join(text))
    except OSError:
        log = None
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    attach = f"{log} and {b.out_dir / STATUS_FILE}" if log is not None else f"{b.out_dir / STATUS_FILE} and the command you ran"
    return InternalError(f"internal error in build step {b.step!r}: {type(exc).__name__}" + (f": {first}" if first else ""),
                         where=where, step=b.step, log=log, original=exc,
                         hint=f"this is a bug in hwgen, not a problem with your model or options: please report it to the "
                              f"hwgen developers, attaching {attach} (and the model file if you can share it)")


def _where_in_traceback(exc: BaseException) -> str | None:
    """The model node or layer being handled where `exc` was raised: from the innermost function of
    its traceback taking a parameter `node` (an ONNX NodeProto: the lowering's handlers) or `layer`
    (an hwgen layer: the per-layer functions of folding, estimates, code generation). Parameters
    only: a loop variable may be left over from a loop that had finished. None if none has."""
    tb, frames = exc.__traceback__, []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        code = frame.f_code
        params = code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]
        node = frame.f_locals.get("node") if "node" in params else None
        layer = frame.f_locals.get("layer") if "layer" in params else None
        if hasattr(node, "op_type") and hasattr(node, "name"):
            return f"node {node.name!r} ({node.op_type})"
        if type(layer) in LAYER_KINDS and hasattr(layer, "name"):
            return f"layer {layer.name!r} ({type(layer).__name__})"
    return None
