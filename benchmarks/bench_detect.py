"""The detection pipeline (hwgen.driver.detect) on C-sim: sequential frames against the three-thread Pipeline.

    python benchmarks/bench_detect.py [--resolution R] [--frames N] [--repeat K] [--json FILE]

1. Builds LPYOLO (hwgen.zoo.lpyolo, untrained, batch norms calibrated on random images) at R x R
   with automatic folding, in a temporary folder with a fresh compile cache.
2. Runs N camera-sized frames (480 x 640 RGB noise, letterboxed to R x R with the numpy resize)
     - one after the other with Detector.detect: the reference (1.00x), its per-stage split,
     - through Pipeline (pre-processing of frame i+1 and post-processing of frame i-1 while the
       C-sim runs frame i), best of K each, and checks both give the same detections.
   The pipeline's gain is bounded by the cores the process may use and by the slowest stage; on
   the board the accelerator stage is the DMA round trip, not C-sim.
Wall-clock numbers depend on the machine and its load: compare ratios, not seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_of, git_state, machine, quiet, table


def build_lpyolo(folder: Path, resolution: int):
    import torch
    from brevitas.export import export_qonnx

    import hwgen
    from hwgen.zoo.lpyolo import lpyolo, randomize_batchnorm

    torch.manual_seed(0)
    model = randomize_batchnorm(lpyolo(resolution), seed=0)
    path = folder / f"lpyolo{resolution}.onnx"
    with quiet():
        export_qonnx(model, torch.zeros(1, 3, resolution, resolution), export_path=str(path))
    return hwgen.build(path, out_dir=folder / "build", synthesize=False, verify_frames=4)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--resolution", type=int, default=128, help="model input side, a multiple of 32 (default: %(default)s)")
    p.add_argument("--frames", type=int, default=60, help="frames per run (default: %(default)s)")
    p.add_argument("--repeat", type=int, default=3, help="runs of each path, the fastest counts (default: %(default)s)")
    p.add_argument("--json", type=Path, help="write every number to this file")
    args = p.parse_args()

    from hwgen.driver import Accelerator
    from hwgen.driver.detect import Detector, Pipeline

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["HWGEN_CACHE_DIR"] = str(Path(tmp) / "cache")
        b = build_lpyolo(Path(tmp), args.resolution)
        det = Detector(Accelerator(b.out_dir), conf_threshold=0.25, resize="numpy")
        rng = np.random.default_rng(0)
        frames = [rng.integers(0, 256, size=(480, 640, 3), dtype=np.uint8) for _ in range(args.frames)]

        stage_sums = {}

        def sequential():
            sums = dict.fromkeys(("preprocess", "accelerator", "postprocess"), 0.0)
            found = []
            for f in frames:
                found.append(det.detect(f))
                for k, v in det.last_timings.items():
                    sums[k] += v
            stage_sums.setdefault("runs", []).append(sums)
            return found

        pipe = Pipeline(det)
        pipe_stats = []

        def piped():
            found = list(pipe.run(frames))
            pipe_stats.append(pipe.stats)
            return found

        t_seq, seq_times, seq_found = best_of(sequential, args.repeat)
        t_pipe, pipe_times, pipe_found = best_of(piped, args.repeat)
    if seq_found != pipe_found:
        raise SystemExit("the pipeline's detections differ from the sequential path's")
    seq_split = stage_sums["runs"][seq_times.index(t_seq)]
    best_stats = pipe_stats[pipe_times.index(t_pipe)]
    n = args.frames
    print(f"LPYOLO {args.resolution} x {args.resolution} on C-sim, {n} frames of 480 x 640, best of {args.repeat}; "
          f"{machine()['cores']} cores usable; build {sum(b.timings.values()):.1f} s")
    rows = [("sequential Detector.detect", n, f"{n / t_seq:,.1f}", "1.00x"),
            ("Pipeline (3 threads)", n, f"{n / t_pipe:,.1f}", f"{t_seq / t_pipe:.2f}x")]
    print(table(rows, ("path", "frames", "frames/s", "vs sequential")))
    print("sequential, per frame: " + ", ".join(f"{k} {v / n * 1e3:.1f} ms" for k, v in seq_split.items()))
    print("pipeline, per frame (each stage on its thread): "
          + ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in best_stats.per_frame().items()))
    print("detections: identical on both paths")
    if args.json:
        args.json.write_text(json.dumps({
            "resolution": args.resolution, "frames": n, "sequential_seconds": seq_times, "pipeline_seconds": pipe_times,
            "sequential_stage_seconds": seq_split, "pipeline_stage_seconds_per_frame": best_stats.per_frame(),
            "build_step_seconds": b.timings, "machine": machine(), "git": git_state()}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
