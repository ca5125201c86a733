"""CNV-W2A2: hwgen.build time (QONNX to verified C-sim) and C-sim frames/s against QONNX, one core.

    python benchmarks/bench_cnv.py [--frames N] [--qonnx-frames M] [--repeat R] [--bits W A] [--json FILE]

FINN's CNV topology (hwgen.zoo.cnv, 3x32x32, randomized batch norms), exported with Brevitas.
1. hwgen.build() with a cold compile cache (issue target: under 120 s on a 2-core machine).
2. On one core (threads pinned, onnxruntime at one thread), on the same random inputs: QONNX
   execute_onnx one frame per call (the reference) and hwgen's Accelerator.execute on a batch
   (the whole host path) and its C-sim library call alone. Issue target: C-sim at least as fast
   as QONNX. Ratios, not seconds, are what repeat on a noisy machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_of, limit_threads, pinned, quiet, single_thread_onnxruntime  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=64)
    p.add_argument("--qonnx-frames", type=int, default=8)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--bits", type=int, nargs=2, default=(2, 2), metavar=("W", "A"))
    p.add_argument("--core", type=int, default=0)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    limit_threads()

    import numpy as np
    import torch
    from brevitas.export import export_qonnx

    import hwgen
    from hwgen.frontend.load import load_qonnx
    from hwgen.verify import qonnx_outputs, random_inputs
    from hwgen.zoo.cnv import cnv, randomize_batchnorm

    w, a = args.bits
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["HWGEN_CACHE_DIR"] = str(tmp / "cache")
        torch.manual_seed(0)
        with quiet():
            export_qonnx(randomize_batchnorm(cnv(w, a)), torch.zeros(1, 3, 32, 32), export_path=str(tmp / "cnv.onnx"))
        t0 = time.perf_counter()
        b = hwgen.build(tmp / "cnv.onnx", out_dir=tmp / "build", verify_frames=8)
        build_s = time.perf_counter() - t0
        x = random_inputs(b.graph, args.frames, seed=1)
        model = load_qonnx(tmp / "cnv.onnx")
        acc = hwgen.Accelerator(tmp / "build")
        packed = acc.pack_input(acc.quantize(x))
        with pinned(args.core) as pin_note:
            ort_note = single_thread_onnxruntime()
            q_s, _, golden = best_of(lambda: qonnx_outputs(model, x[: args.qonnx_frames]), args.repeat)
            e_s, _, ours = best_of(lambda: acc.execute(x), args.repeat)
            l_s, _, _ = best_of(lambda: acc.backend.run(packed, len(packed)), args.repeat)
        q_fps, e_fps, l_fps = args.qonnx_frames / q_s, args.frames / e_s, args.frames / l_s
        diff = float(np.abs(ours[: args.qonnx_frames] - golden).max())
    print(f"CNV-W{w}A{a} (3x32x32): hwgen.build {build_s:.1f} s with a cold compile cache (target < 120 s); steps: "
          + ", ".join(f"{k} {v:.1f}" for k, v in b.timings.items()))
    print(f"one core: {pin_note}; {ort_note}; best of {args.repeat}")
    print(f"{'path':<40}{'frames':>7}{'frames/s':>10}{'vs QONNX':>10}")
    print(f"{'QONNX execute_onnx, 1 frame per call':<40}{args.qonnx_frames:>7}{q_fps:>10.2f}{1:>9.2f}x")
    print(f"{'hwgen execute, batch (whole host path)':<40}{args.frames:>7}{e_fps:>10.2f}{e_fps / q_fps:>9.2f}x")
    print(f"{'C-sim library call alone':<40}{args.frames:>7}{l_fps:>10.2f}{l_fps / q_fps:>9.2f}x")
    print(f"outputs vs QONNX on {args.qonnx_frames} frames: max |diff| {diff:.3g}; "
          f"target C-sim >= QONNX: {'met' if e_fps >= q_fps else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps({"bits": [w, a], "build_seconds": build_s, "steps": b.timings, "qonnx_fps": q_fps,
                                         "execute_fps": e_fps, "library_fps": l_fps, "max_abs_diff": diff}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
