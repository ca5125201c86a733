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

    config = BuildConfig(model=args.model, board=args.board, out_dir=args.out, folding=args.folding,
                         target_fps=args.target_fps, verify_frames=args.verify_frames, seed=args.seed, clock_mhz=args.clock_mhz)
    b = run_build(config, progress=lambda m: print(m, flush=True))
    print()
    print(summary(b))
    return 0


def summary(b) -> str:
    from hwgen.estimate import cycles, resources

    lines = [f"hwgen build of {b.model_name!r} for {b.board.name} in {b.out_dir}/ ({sum(b.timings.values()):.1f} s)", ""]
    lines.append(f"{'layer':<14}{'kind':<14}{'shape':<10}{'PE':>4}{'SIMD':>6}{'types (in/w/out)':>22}{'cycles':>9}"
                 f"{'LUT':>9}{'BRAM36':>8}{'DSP':>5}")
    for layer in b.graph.layers:
        kind = type(layer).__name__
        if kind == "MVAU":
            shape, simd, types = f"{layer.mh}x{layer.mw}", layer.simd, f"{layer.in_dtype}/{layer.w_dtype}/{layer.out_dtype}"
        elif kind == "Thresholding":
            shape, simd, types = f"{layer.channels}", "-", f"{layer.in_dtype}/-/{layer.out_dtype}"
        else:
            shape, simd, types = f"{layer.in_elems}->{layer.out_elems}", "-", f"{layer.dtype}"
        pe = getattr(layer, "pe", "-")
        r = resources(layer)
        lines.append(f"{layer.name:<14}{kind:<14}{shape:<10}{pe:>4}{simd:>6}{types:>22}{cycles(layer):>9}"
                     f"{r.LUT:>9,.0f}{r.BRAM36:>8.1f}{r.DSP:>5.0f}")
    e = b.estimates
    t, u, avail = e["total"], e["usage_with_shell"], e["board_resources"]
    lines.append(f"{'total (layers + FIFOs)':<70}{t['LUT']:>9,.0f}{t['BRAM36']:>8.1f}{t['DSP']:>5.0f}")
    lines.append("")
    lines.append(f"estimated: {e['fps']:,.0f} frames/s at {e['clock_mhz']:g} MHz (bottleneck {e['bottleneck']}), "
                 f"latency {e['latency_us']:.2f} us; with the DMA shell {u['LUT']:.0%} of {avail['LUT']:,} LUT, "
                 f"{u['BRAM36']:.0%} of {avail['BRAM36']} BRAM36, {u['DSP']:.0%} of {avail['DSP']} DSP "
                 f"({'fits' if e['fits'] else 'does NOT fit'} the {e['utilization_cap']:.0%} cap)")
    v = b.verification
    ic, q = v["ir_vs_csim"], v["qonnx_vs_csim"]
    lines.append(f"verified: C-sim == numpy reference on {ic['frames']} frames ({ic['mismatches']} mismatches); "
                 f"vs QONNX on {q['frames']} frames: {q['elements_differing']} of {q['elements']} elements differ, "
                 f"max |diff| {q['max_abs_diff']:.3g}, argmax agreement {q['argmax_agreement']:.1%}")
    if "accuracy" in v:
        a = v["accuracy"]
        torch_acc = f"{a['torch']:.2%} (PyTorch, at training)" if a.get("torch") is not None else "n/a"
        lines.append(f"accuracy on {a['frames']} test frames: {a['csim']:.2%} through C-sim; {torch_acc}")
    lines.append("not done: HLS synthesis, Vivado and the bitstream (Vitis HLS / Vivado flow not implemented yet)")
    lines.append(f"run it:   python -m hwgen csim {b.out_dir} --input x.npy --output y.npy")
    return "\n".join(lines)


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
