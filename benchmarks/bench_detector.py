"""The face detector end to end: the shipped LPYOLO-128 built and scored, LPYOLO-416 folded for every board.

    python benchmarks/bench_detector.py [--boards pynq-z2 ultra96 ...] [--frames N] [--skip-416] [--json FILE]

1. The trained detector hwgen ships (hwgen.resources.face_detector(), 128 x 128) is built for pynq-z2 with
   automatic folding in a temporary folder with a fresh compile cache: build seconds, estimated frames/s at
   100 MHz and LUT / BRAM36 / DSP. Its AP@0.5 on the 200 held-out synthetic scenes through the C-sim, beside
   the PyTorch model's (model.json, measured at training). The host's work per frame (letterbox + quantize +
   pack; unpack + decode + NMS) and the three-thread pipeline's end-to-end frames/s over N scenes on C-sim.
2. LPYOLO at 416 x 416 (hwgen.zoo.lpyolo, batch norms calibrated on random images: the architecture, not
   trained weights) lowered and auto-folded for each board (exact folding with the FIFOs a build plans):
   estimated frames/s, the bottleneck, LUT / BRAM36 / DSP, folding seconds. Estimates by hwgen's model, not
   measurements; `python -m hwgen build` of the same model adds the C-sim and its verification.
Wall-clock numbers depend on the machine and its load: compare ratios, not seconds.
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
from common import git_state, machine, quiet, table  # noqa: E402

BOARDS = ("pynq-z1", "pynq-z2", "ultra96-v2", "kv260", "zcu104")


def shipped(tmp: Path, frames: int) -> dict:
    import hwgen
    from hwgen.driver.detect import Detector, Pipeline
    from hwgen.resources import face_detector
    from hwgen.train.faces import SyntheticFaces
    from hwgen.train.lpyolo import accelerator_predict, evaluate

    record = json.loads((face_detector().parent / "model.json").read_text())
    start = time.perf_counter()
    with quiet():
        b = hwgen.build(face_detector(), out_dir=tmp / "build128", synthesize=False, verify_frames=4)
    seconds = time.perf_counter() - start
    images, truths = SyntheticFaces("test", record["resolution"], record["seed"]).batch(0, record["test_scenes"])
    acc = hwgen.Accelerator(b.out_dir)
    ap = evaluate(accelerator_predict(acc), images, truths)
    det = Detector(acc)
    pre = post = 0.0
    for image in images[:frames]:
        det.detect(image)
        pre, post = pre + det.last_timings["preprocess"], post + det.last_timings["postprocess"]
    pipeline = Pipeline(det)
    list(pipeline.run(list(images[:frames])))
    shares = b.estimates.to_json()["usage_with_shell"]
    return {"build_seconds": seconds, "fps": b.estimates.fps, "usage": {k: shares[k] for k in ("LUT", "BRAM36", "DSP")},
            "ap_csim": ap, "ap_pytorch": record["ap"]["trained"], "ap_lbp_cascade": record["ap"].get("lbp_cascade"),
            "host_ms": {"preprocess": 1e3 * pre / frames, "postprocess": 1e3 * post / frames},
            "pipeline_fps": pipeline.stats.frames_per_second, "pipeline": str(pipeline.stats)}


def lpyolo416(tmp: Path, boards: list[str]) -> list[dict]:
    import torch
    from brevitas.export import export_qonnx

    from hwgen.boards import load_board
    from hwgen.estimate import cycles
    from hwgen.fold import auto_fit
    from hwgen.frontend.load import load_qonnx
    from hwgen.lower import lower
    from hwgen.zoo.lpyolo import lpyolo, randomize_batchnorm

    torch.manual_seed(0)
    path = tmp / "lpyolo416.onnx"
    with quiet():
        export_qonnx(randomize_batchnorm(lpyolo(416), seed=0), torch.zeros(1, 3, 416, 416), export_path=str(path))
    graph = lower(load_qonnx(path), "lpyolo416")
    rows = []
    for name in boards:
        board = load_board(name)
        start = time.perf_counter()
        fit = auto_fit(graph, board, board.clock_mhz)
        slowest = max(fit.graph.layers, key=cycles)
        rows.append({"board": name, "fps": board.clock_mhz * 1e6 / cycles(slowest), "bottleneck": slowest.name,
                     "fits": fit.fits, "usage": {k: fit.usage[k] for k in ("LUT", "BRAM36", "DSP")},
                     "solver": fit.summary(), "seconds": time.perf_counter() - start})
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--boards", nargs="+", default=list(BOARDS), help="boards for LPYOLO-416 (default: all five)")
    p.add_argument("--frames", type=int, default=60, help="scenes for the host timings and the pipeline (default: %(default)s)")
    p.add_argument("--skip-416", action="store_true", help="only the shipped 128 x 128 detector")
    p.add_argument("--json", type=Path, help="write every number to this file")
    args = p.parse_args(argv)
    result = {"command": " ".join(["python", *sys.argv]), "machine": machine(), "git": git_state()}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["HWGEN_CACHE_DIR"] = str(Path(tmp) / "cache")
        s = result["shipped"] = shipped(Path(tmp), args.frames)
        print(f"LPYOLO-128 (shipped, trained) on pynq-z2: built in {s['build_seconds']:.1f} s, {s['fps']:,.0f} frames/s estimated, "
              + ", ".join(f"{k} {v:.0%}" for k, v in s["usage"].items()))
        print(f"  AP@0.5 on 200 held-out scenes: C-sim {s['ap_csim']:.6f}, PyTorch {s['ap_pytorch']:.6f}, "
              f"LBP cascade {s['ap_lbp_cascade']:.4f}")
        print(f"  host per frame: preprocess {s['host_ms']['preprocess']:.2f} ms, postprocess {s['host_ms']['postprocess']:.2f} ms")
        print(f"  pipeline on C-sim: {s['pipeline']}")
        if not args.skip_416:
            rows = result["lpyolo416"] = lpyolo416(Path(tmp), args.boards)
            print("\nLPYOLO-416 (architecture, random weights), automatic folding, estimates:")
            print(table([(r["board"], f"{r['fps']:,.1f}", r["bottleneck"], "yes" if r["fits"] else "NO",
                          *(f"{r['usage'][k]:.0%}" for k in ("LUT", "BRAM36", "DSP")), f"{r['seconds']:.1f}") for r in rows],
                        ("board", "frames/s", "bottleneck", "fits", "LUT", "BRAM36", "DSP", "fold s")))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
