"""Command line: python -m hwgen {build, csim, boards}."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from hwgen.errors import HwgenError, InternalError, Interrupted


def _parser() -> argparse.ArgumentParser:
    from hwgen.build import BuildConfig as Default  # its field defaults are the options' defaults
    from hwgen.build import FifoDepths

    p = argparse.ArgumentParser(prog="python -m hwgen", description="Quantized neural networks to FPGA dataflow accelerators.",
                                epilog=EXIT_STATUS)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    b = sub.add_parser("build", help="build an accelerator from a QONNX model (verified in C simulation)",
                       description="Lower a Brevitas/QONNX model to streaming layers, generate HLS C++, compile and "
                                   "verify the C simulation against QONNX execution, and write the build folder.",
                       epilog=EXIT_STATUS)
    b.add_argument("model", nargs="?", type=Path, help="QONNX .onnx file from brevitas.export.export_qonnx "
                                                     "(default: the bundled 8x8-digits MLP, W2A2)")
    b.add_argument("--board", default=Default.board, help=f"target board (see: python -m hwgen boards); default {Default.board}")
    b.add_argument("--out", type=Path, default=Default.out_dir, help=f"build folder to create or update; default ./{Default.out_dir}")
    b.add_argument("--folding", type=Path, help='JSON file {"MVAU_0": {"PE": 4, "SIMD": 8, "ram_style": "block", "resType": "lut"}, ...} '
                                                '(FINN folding configs too); '
                                                'default: automatic folding')
    b.add_argument("--target-fps", type=float, help="automatic folding: the cheapest design reaching this many frames/s; "
                                                    "default: the fastest design that fits the board")
    b.add_argument("--utilization-cap", type=float, metavar="FRACTION",
                   help="fraction of each board resource (LUT, FF, BRAM, DSP) a design may use, e.g. 0.7; "
                        "default: the board's (0.85)")
    b.add_argument("--fifo-depths", choices=[d.value for d in FifoDepths], default=Default.fifo_depths.value,
                   help="shallow: the cheapest FIFOs with which the output comes on the same cycles as with "
                        "never-blocking ones (producers wait within their slack); never-blocking: room for every word "
                        "a producer sends ahead (deeper, robust to pipeline latency the model leaves out); "
                        f"default {Default.fifo_depths.value}")
    b.add_argument("--csim-exact", action="store_true",
                   help="C-sim in the ap_int arithmetic synthesis sees instead of plain C++ integers (slower); every "
                        "layer's loop, the MVAUs' too, is then counted and checked against the cycle model")
    b.add_argument("--verify-frames", type=int, default=Default.verify_frames,
                   help=f"frames compared with QONNX execution; default {Default.verify_frames}")
    b.add_argument("--seed", type=int, default=Default.seed, help=f"seed of random verification inputs; default {Default.seed}")
    b.add_argument("--clock-mhz", type=float, help="PL clock for the estimates and synthesis; default: the board's")
    _synth_options(b, Default)
    b.add_argument("--no-synth", action="store_true", help="write the synthesis scripts but do not run the tools")

    y = sub.add_parser("synth", help="finish a build with Vitis HLS and Vivado (bitstream into deploy/)",
                       description="Re-run a build folder's steps with its recorded configuration, this time requiring "
                                   "Vitis HLS and Vivado: writes deploy/hwgen.bit + hwgen.hwh and report/synthesis.json. "
                                   "Fails, naming the layer and the numbers, when a loop misses II=1, a layer's interval "
                                   "exceeds the cycle model or timing is not met, unless --allow-slow.",
                       epilog=EXIT_STATUS)
    y.add_argument("build", type=Path, help="build folder of python -m hwgen build")
    _synth_options(y, Default)

    c = sub.add_parser("csim", help="run a finished build's C simulation on a .npy input",
                       description="Feed float inputs (as the original model takes them, batch first) through the "
                                   "host driver and the C simulation; write the model's float outputs.")
    c.add_argument("build", type=Path, help="build folder of python -m hwgen build")
    c.add_argument("--input", type=Path, required=True, help=".npy file, shape (N, ...) or the model's input shape")
    c.add_argument("--output", type=Path, required=True, help=".npy file to write the outputs to")

    sub.add_parser("boards", help="list the boards hwgen knows", description="List boards/ with part, resources and clock.")
    return p


def _synth_options(p, default) -> None:
    p.add_argument("--xilinx-settings", type=Path, action="append", default=[], metavar="SETTINGS_SH",
                   help="settings64.sh of Vivado (and of Vitis HLS if installed apart); repeatable; default: tools on PATH")
    p.add_argument("--require-bitstream", action="store_true", help="fail unless Vitis HLS and Vivado ran and made a bitstream")
    p.add_argument("--cosim", action="store_true", help="also run Vitis HLS C/RTL co-simulation on a few verified frames")
    p.add_argument("--jobs", type=int, default=default.jobs, help=f"parallel Vivado jobs; default {default.jobs}")
    p.add_argument("--allow-slow", action="store_true",
                   help="keep going when synthesis misses the cycle model (a loop above II=1 in Vitis HLS, a layer's "
                        "interval above its modelled cycles, timing not met after Vivado); without it the build stops "
                        "naming the layer and the numbers. Either way they go into report/synthesis.json and the summary")


def cmd_synth(args) -> int:
    from dataclasses import replace

    from hwgen.build import config_of, run_build
    from hwgen.report import summary_text

    config = replace(config_of(args.build), out_dir=args.build, synthesize=True, require_bitstream=True,
                     cosim=args.cosim, jobs=args.jobs, allow_slow=args.allow_slow,
                     xilinx_settings=tuple(args.xilinx_settings) or config_of(args.build).xilinx_settings)
    b = run_build(config, progress=lambda m: print(m, flush=True))
    print()
    print(summary_text(b))
    return 0


def cmd_build(args) -> int:
    from hwgen.build import BuildConfig, run_build
    from hwgen.report import summary_text

    config = BuildConfig(model=args.model, board=args.board, out_dir=args.out, folding=args.folding,
                         target_fps=args.target_fps, utilization_cap=args.utilization_cap,
                         fifo_depths=args.fifo_depths, csim_exact=args.csim_exact, verify_frames=args.verify_frames, seed=args.seed,
                         clock_mhz=args.clock_mhz,
                         xilinx_settings=tuple(args.xilinx_settings), synthesize=not args.no_synth,
                         require_bitstream=args.require_bitstream, cosim=args.cosim, jobs=args.jobs,
                         allow_slow=args.allow_slow)
    b = run_build(config, progress=lambda m: print(m, flush=True))
    print()
    print(summary_text(b))
    return 0


def cmd_csim(args) -> int:
    import numpy as np

    from hwgen.driver import Accelerator

    try:
        acc = Accelerator(args.build, backend="csim")
    except FileNotFoundError as exc:
        raise HwgenError(str(exc), hint="build it first: python -m hwgen build MODEL --out BUILD") from None
    except (OSError, AttributeError, RuntimeError, ValueError, KeyError) as exc:  # broken or stale library / metadata
        raise HwgenError(f"cannot load the C simulation of {args.build} ({type(exc).__name__}: {exc})",
                         where=str(args.build / "csim" / "libhwgen_csim.so"),
                         hint=f"rebuild it: python -m hwgen build ... --out {args.build}") from None
    try:
        x = np.load(args.input)
    except (OSError, ValueError) as exc:
        raise HwgenError(f"cannot read {args.input} as a .npy array ({exc})") from None
    try:
        y = acc.execute(x)
    except ValueError as exc:
        raise HwgenError(str(exc), where=str(args.input)) from None
    try:
        np.save(args.output, y)
    except OSError as exc:
        raise HwgenError(f"cannot write {args.output} ({exc.strerror or exc})",
                         hint="check that its folder exists and is writable") from None
    print(f"{len(y)} frames -> {args.output} {y.shape} {y.dtype}")
    return 0


def cmd_boards(args) -> int:
    from hwgen.boards import board_names, load_board

    print(f"{'board':<12}{'part':<24}{'LUT':>9}{'FF':>9}{'BRAM36':>8}{'URAM':>6}{'DSP':>6}{'MHz':>6}  description")
    for name in board_names():
        b = load_board(name)
        r = b.resources
        print(f"{name:<12}{b.part:<24}{r['LUT']:>9,}{r['FF']:>9,}{r['BRAM36']:>8}{r['URAM']:>6}{r['DSP']:>6}"
              f"{b.clock_mhz:>6g}  {b.description}")
    return 0


EXIT_ERROR = 2  # a problem with the input: the model, options, files or tools (argparse's usage errors too)
EXIT_INTERNAL_ERROR = 3  # a bug in hwgen
EXIT_STATUS = f"""exit status: 0 done; {EXIT_ERROR} an error in the input (model, options, files, tools), the
message says what to change; {EXIT_INTERNAL_ERROR} an internal error (a bug in hwgen), the message names the log
to report; 130 stopped by Ctrl-C (SIGINT), 143 by SIGTERM (128 + the signal's number). A build that
did not finish says so in its hwgen.json ("failed" or "interrupted", with the step)."""


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler = {"build": cmd_build, "synth": cmd_synth, "csim": cmd_csim, "boards": cmd_boards}[args.command]
    try:
        return handler(args)
    except InternalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INTERNAL_ERROR
    except HwgenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt as exc:
        stop = exc if isinstance(exc, Interrupted) else Interrupted(signal.SIGINT)
        where = _build_folder(args)
        print(f"interrupted: {stop}" + (f"; {where / 'hwgen.json'} says so, and the same command finishes the build "
                                        "(compiled C-sim libraries and QONNX's outputs are reused)"
                                        if stop.step and where is not None else ""), file=sys.stderr)
        return stop.exit_status
    except Exception as exc:  # noqa: BLE001  (the boundary: whatever escaped outside the build's steps, which run_build reports itself)
        log = _internal_error_log(args, exc)
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        print(f"error: internal error in 'python -m hwgen {args.command}': {type(exc).__name__}" + (f": {first}" if first else "")
              + f"\n  hint: this is a bug in hwgen: please report it to the hwgen developers, attaching {log}", file=sys.stderr)
        return EXIT_INTERNAL_ERROR


def _build_folder(args) -> Path | None:
    return getattr(args, "out", None) or getattr(args, "build", None)


def _internal_error_log(args, exc: Exception) -> Path:
    """The traceback into the build folder's report/ (a temporary file where there is none)."""
    import platform
    import tempfile
    import traceback

    from hwgen.build.run import INTERNAL_ERROR_LOG
    from hwgen.version import __version__

    text = (f"hwgen {__version__}: internal error in 'python -m hwgen {args.command}'\ncommand: {' '.join(sys.argv)}\n"
            f"platform: {platform.platform()}, Python {platform.python_version()}\n\n"
            + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    folder = _build_folder(args)
    if folder is not None and (folder / "report").is_dir():
        try:
            (folder / "report" / INTERNAL_ERROR_LOG).write_text(text)
            return folder / "report" / INTERNAL_ERROR_LOG
        except OSError:
            pass
    fd, name = tempfile.mkstemp(prefix="hwgen-internal-error-", suffix=".log")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return Path(name)
