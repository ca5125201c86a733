"""Command line: python -m hwgen {build, csim, boards}."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hwgen.errors import HwgenError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m hwgen", description="Quantized neural networks to FPGA dataflow accelerators.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    b = sub.add_parser("build", help="build an accelerator from a QONNX model (verified in C simulation)",
                       description="Lower a Brevitas/QONNX model to streaming layers, generate HLS C++, compile and "
                                   "verify the C simulation against QONNX execution, and write the build folder.")
    b.add_argument("model", nargs="?", type=Path, help="QONNX .onnx file from brevitas.export.export_qonnx "
                                                     "(default: the bundled 8x8-digits MLP, W2A2)")
    b.add_argument("--board", default="pynq-z2", help="target board (see: python -m hwgen boards); default pynq-z2")
    b.add_argument("--out", type=Path, default=Path("build"), help="build folder to create or update; default ./build")
    b.add_argument("--folding", type=Path, help='JSON file {"MVAU_0": {"PE": 4, "SIMD": 8}, ...} (FINN folding configs too); '
                                                'default: automatic folding')
    b.add_argument("--target-fps", type=float, help="automatic folding: the cheapest design reaching this many frames/s; "
                                                    "default: the fastest design that fits the board")
    b.add_argument("--verify-frames", type=int, default=100, help="frames compared with QONNX execution; default 100")
    b.add_argument("--seed", type=int, default=0, help="seed of random verification inputs; default 0")
    b.add_argument("--clock-mhz", type=float, help="PL clock for the estimates; default: the board's")

    c = sub.add_parser("csim", help="run a finished build's C simulation on a .npy input",
                       description="Feed float inputs (as the original model takes them, batch first) through the "
                                   "host driver and the C simulation; write the model's float outputs.")
    c.add_argument("build", type=Path, help="build folder of python -m hwgen build")
    c.add_argument("--input", type=Path, required=True, help=".npy file, shape (N, ...) or the model's input shape")
    c.add_argument("--output", type=Path, required=True, help=".npy file to write the outputs to")

    sub.add_parser("boards", help="list the boards hwgen knows", description="List boards/ with part, resources and clock.")
    return p


def cmd_build(args) -> int:
    from hwgen.build import BuildConfig, run_build
    from hwgen.report import summary_text

    config = BuildConfig(model=args.model, board=args.board, out_dir=args.out, folding=args.folding,
                         target_fps=args.target_fps, verify_frames=args.verify_frames, seed=args.seed, clock_mhz=args.clock_mhz)
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
    try:
        x = np.load(args.input)
    except (OSError, ValueError) as exc:
        raise HwgenError(f"cannot read {args.input} as a .npy array ({exc})") from None
    try:
        y = acc.execute(x)
    except ValueError as exc:
        raise HwgenError(str(exc), where=str(args.input)) from None
    np.save(args.output, y)
    print(f"{len(y)} frames -> {args.output} {y.shape} {y.dtype}")
    return 0


def cmd_boards(args) -> int:
    from hwgen.boards import board_names, load_board

    print(f"{'board':<12}{'part':<24}{'LUT':>9}{'FF':>9}{'BRAM36':>8}{'URAM':>6}{'DSP':>6}{'MHz':>6}  description")
    for name in board_names():
        b = load_board(name)
        r = b.resources
        print(f"{name:<12}{b.part:<24}{r['LUT']:>9,}{r['FF']:>9,}{r['BRAM36']:>8}{r['URAM']:>6}{r['DSP']:>6}{b.clock_mhz:>6g}  {b.description}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler = {"build": cmd_build, "csim": cmd_csim, "boards": cmd_boards}[args.command]
    try:
        return handler(args)
    except HwgenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
