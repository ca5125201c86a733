"""C-sim throughput against QONNX execution, for a TFC-shaped W2A2 MLP, plus CLI build times.

    python benchmarks/bench_csim.py [--frames N] [--qonnx-frames M] [--repeat R] [--json FILE]

1. Builds, in code, a TFC-shaped Brevitas MLP 784-64-64-64-10 at W2A2 (8-bit input quantizer,
   bias-free QuantLinear + BatchNorm1d with randomized statistics + 2-bit QuantReLU per hidden
   layer, a last QuantLinear without activation), seeded; exports it with export_qonnx and times
   hwgen.build() on it (compile cache cold: a fresh HWGEN_CACHE_DIR).
2. On one core (every thread of the process pinned, BLAS/OpenMP/onnxruntime at one thread) and
   on the same random float inputs, measures frames/s of
     - QONNX execute_onnx, one frame per call (the reference: its graphs have batch 1),
     - hwgen Accelerator.execute(x) on a batch (quantize, pack, C-sim, unpack, postprocess),
     - Accelerator.execute one frame per call (the same calling pattern as QONNX),
     - the C-sim library call alone (the backend's run on packed bytes),
     - the same call into the build's C++ compiled with the synthesis (ap_int) arithmetic, where
       hwgen has the choice (compile_library(exact=True)); its bytes must equal the default's,
   best of R each, and prints them as ratios to QONNX. Issue target: C-sim >= 10x QONNX.
3. Times `python -m hwgen build` of the bundled model as a subprocess (as a user runs it: not
   pinned, default threads), with a fresh compile cache and again with it warm. Target: < 60 s.

Everything is written to a temporary folder; nothing lands in the working directory or in
~/.cache. Wall-clock numbers depend on the machine and its load: compare ratios, not seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import THREAD_VARS, best_of, git_state, limit_threads, machine, pinned, quiet, single_thread_onnxruntime, table

USER_ENV = limit_threads()  # before numpy is imported; subprocesses get USER_ENV back

import numpy as np  # noqa: E402  (after limit_threads() on purpose: BLAS reads the thread variables when numpy loads)

HIDDEN = (64, 64, 64)
QONNX_TARGET = 10.0  # C-sim frames/s over QONNX frames/s, one core (issue target)
CLI_TARGET_S = 60.0  # python -m hwgen build of the bundled model, compile included


# -- 1. the model ---------------------------------------------------------------------------
def make_tfc(seed: int):
    """TFC-shaped W2A2 MLP, eval mode; BatchNorm statistics measured on random data, then randomized."""
    import brevitas.nn as qnn
    import torch
    from torch import nn

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    layers = [qnn.QuantIdentity(bit_width=8, return_quant_tensor=True), nn.Flatten()]
    width = 28 * 28
    for out in HIDDEN:
        layers += [qnn.QuantLinear(width, out, bias=False, weight_bit_width=2),
                   nn.BatchNorm1d(out, momentum=None),  # momentum None: running stats = plain average
                   qnn.QuantReLU(bit_width=2, return_quant_tensor=True)]
        width = out
    layers.append(qnn.QuantLinear(width, 10, bias=False, weight_bit_width=2))
    model = nn.Sequential(*layers)
    model.train()
    with torch.no_grad():  # statistics of the real pre-activations, so the 2-bit levels are all used
        model(torch.rand(256, 1, 28, 28, generator=gen) * 2 - 1)
    for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm1d)):
        n = bn.num_features
        bn.running_mean.add_(torch.randn(n, generator=gen) * bn.running_var.sqrt() * 0.2)
        bn.running_var.mul_(torch.empty(n).uniform_(0.5, 2.0, generator=gen))
        bn.weight.data.uniform_(1.0, 3.0, generator=gen)
        bn.bias.data.uniform_(0.5, 4.0, generator=gen)
    return model.eval()


def export(model, path: Path) -> Path:
    import torch
    from brevitas.export import export_qonnx

    with quiet():  # torch.onnx's progress lines and warnings
        export_qonnx(model, torch.zeros(1, 1, 28, 28), export_path=str(path))
    return path


# -- 2. throughput --------------------------------------------------------------------------
def measure_throughput(onnx_path: Path, build, frames: int, qonnx_frames: int, repeat: int, seed: int, core: int) -> dict:
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.util.cleanup import cleanup_model

    import hwgen
    from hwgen.verify import compare_qonnx, random_inputs

    ort = single_thread_onnxruntime()
    model = cleanup_model(ModelWrapper(str(onnx_path)))
    iname, oname = model.graph.input[0].name, model.graph.output[0].name
    acc = hwgen.Accelerator(build.out_dir, backend="csim")
    x = random_inputs(build.graph, max(frames, qonnx_frames), seed)  # float, over the input quantizer's range
    xq = x[:qonnx_frames]
    data = acc.pack_input(acc.quantize(x[:frames]))

    def qonnx():
        return np.concatenate([execute_onnx(model, {iname: xq[i : i + 1]})[oname] for i in range(len(xq))])

    def csim_batch():
        y = acc.execute(x[:frames])
        return y, dict(acc.last_timings)

    def csim_per_frame():
        return np.concatenate([acc.execute(xq[i : i + 1]) for i in range(len(xq))])

    def csim_library():
        return acc.backend.run(data, frames)

    exact_backend, exact_note = exact_library(build, acc.meta)
    exact_data = data[:qonnx_frames]  # the exact library is ~30x slower: fewer frames

    def csim_exact():
        return exact_backend.run(exact_data, len(exact_data))

    with pinned(core) as pin:
        qonnx()  # warm-up: imports, first sessions
        acc.execute(x[:2])
        t_q, all_q, golden = best_of(qonnx, repeat)
        t_b, all_b, (y_batch, stages) = best_of(csim_batch, repeat)
        t_f, all_f, y_frame = best_of(csim_per_frame, repeat)
        t_l, all_l, out_fast = best_of(csim_library, repeat)
        if exact_backend is not None:
            t_e, all_e, out_exact = best_of(csim_exact, repeat)

    agreement = compare_qonnx(golden, y_batch[:qonnx_frames], acc.output_step())
    agreement["argmax_disagreements_at_ties"] = _ties(golden, y_batch[:qonnx_frames], agreement)
    if not np.array_equal(y_frame, y_batch[:qonnx_frames]):
        raise AssertionError("C-sim gives different outputs one frame per call than in a batch")
    fps = {"qonnx": qonnx_frames / t_q, "csim_execute_batch": frames / t_b,
           "csim_execute_per_frame": qonnx_frames / t_f, "csim_library": frames / t_l}
    seconds = {"qonnx": all_q, "csim_execute_batch": all_b, "csim_execute_per_frame": all_f, "csim_library": all_l}
    if exact_backend is not None:
        if not np.array_equal(out_exact, out_fast[: len(exact_data)]):
            raise AssertionError("the exact (ap_int) C-sim library gives different bytes than the default one")
        fps["csim_library_exact"], seconds["csim_library_exact"] = len(exact_data) / t_e, all_e
    return {
        "pinning": [pin, "=1, ".join(THREAD_VARS) + "=1", ort],
        "frames": {"qonnx": qonnx_frames, "csim_batch": frames, "csim_per_frame": qonnx_frames, "csim_exact": len(exact_data)},
        "repeat": repeat,
        "exact_library": exact_note,
        "seconds": seconds,
        "frames_per_second": fps,
        "ratio_to_qonnx": {k: v / fps["qonnx"] for k, v in fps.items() if k != "qonnx"},
        "execute_stages_seconds": stages,  # of the fastest batch run
        "qonnx_agreement": agreement,
    }


def exact_library(build, meta: dict):
    """The build's C++ compiled with the synthesis arithmetic (ap_int), if this hwgen can: (backend, note)."""
    import inspect

    from hwgen.csim.compile import compile_library
    from hwgen.driver.backends import CSimBackend

    if "exact" not in inspect.signature(compile_library).parameters:
        return None, "not measured separately: this hwgen's C-sim library has only the ap_int arithmetic (the rows above)"
    hls, csim = build.out_dir / "hls", build.out_dir / "csim"
    try:
        from hwgen.codegen.render import include_dirs

        dirs = include_dirs(hls)
    except ImportError:  # older layout: the kernels are found by compile_library itself
        dirs = [hls]
    folder = build.out_dir.parent / "csim-exact"
    t0 = time.perf_counter()
    library, _ = compile_library([hls / "top.cpp", csim / "csim.cpp"], dirs, folder / "libhwgen_csim.so", folder / "compile.log",
                                 exact=True)
    return CSimBackend(library, meta), f"compiled with exact=True (-DHWGEN_CSIM_EXACT) in {time.perf_counter() - t0:.1f} s"


def _ties(golden: np.ndarray, ours: np.ndarray, agreement: dict) -> int:
    """How many argmax disagreements are ties: QONNX's value at our argmax equals its maximum (to rounding)."""
    g = golden.reshape(len(golden), -1)
    o = ours.reshape(len(ours), -1)
    tol = 1e-5 * agreement["output_abs_max"]
    return int(sum(abs(g[i].max() - g[i, o[i].argmax()]) <= tol for i in np.flatnonzero(g.argmax(1) != o.argmax(1))))


# -- 3. CLI builds --------------------------------------------------------------------------
def time_cli_build(out_dir: Path, cache_dir: Path) -> dict:
    env = {**USER_ENV, "HWGEN_CACHE_DIR": str(cache_dir)}
    cmd = [sys.executable, "-m", "hwgen", "build", "--out", str(out_dir)]
    t0 = time.perf_counter()
    result = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True)  # failure reported below
    seconds = time.perf_counter() - t0
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {result.returncode}):\n{result.stdout}{result.stderr}")
    steps = json.loads((out_dir / "hwgen.json").read_text())["step_seconds"]
    return {"command": " ".join(["python", *cmd[1:]]), "seconds": seconds, "step_seconds": steps}


# -- report ---------------------------------------------------------------------------------
def report(r: dict) -> str:
    b, t = r["tfc_build"], r["throughput"]
    fps, ratio, f = t["frames_per_second"], t["ratio_to_qonnx"], t["frames"]
    g = r["git"]
    out = [f"machine: {r['machine']['cpu']}, {r['machine']['cores']} cores available",
           f"hwgen: commit {g['commit']}"
           + (f", uncommitted changes in {len(g['modified'])} files: {' '.join(g['modified'])}" if g["modified"] else ""),
           "",
           f"TFC-W2A2 (784-64-64-64-10) hwgen.build: {b['seconds']:.2f} s (compile cache cold), of which "
           + ", ".join(f"{k} {v:.2f}" for k, v in b["step_seconds"].items()),
           f"  export_qonnx: {b['export_seconds']:.2f} s",
           "",
           "one core: " + "; ".join(t["pinning"]),
           f"best of {t['repeat']}:",
           table([("QONNX execute_onnx, 1 frame per call", f["qonnx"], f"{fps['qonnx']:,.0f}", "1.00x"),
                  ("hwgen execute, batch", f["csim_batch"], f"{fps['csim_execute_batch']:,.0f}", f"{ratio['csim_execute_batch']:.2f}x"),
                  ("hwgen execute, 1 frame per call", f["csim_per_frame"], f"{fps['csim_execute_per_frame']:,.0f}",
                   f"{ratio['csim_execute_per_frame']:.2f}x"),
                  ("C-sim library call alone, batch", f["csim_batch"], f"{fps['csim_library']:,.0f}", f"{ratio['csim_library']:.2f}x")]
                 + ([("C-sim library call, exact ap_int arithmetic", f["csim_exact"], f"{fps['csim_library_exact']:,.0f}",
                      f"{ratio['csim_library_exact']:.2f}x")] if "csim_library_exact" in fps else []),
                 ("path", "frames", "frames/s", "vs QONNX")),
           f"exact ap_int library: {t['exact_library']}"]
    st = t["execute_stages_seconds"]
    total = sum(st.values())
    out += ["", f"hwgen execute, batch of {f['csim_batch']}, by stage (fastest run):",
            table([(k, f"{v * 1e3:.1f}", f"{v / total:.1%}") for k, v in st.items()], ("stage", "ms", "share"))]
    verdict = "met" if ratio["csim_execute_batch"] >= QONNX_TARGET else "NOT met"
    out.append(f"target C-sim >= {QONNX_TARGET:g}x QONNX on one core: {verdict} "
               f"({ratio['csim_execute_batch']:.2f}x, whole host path, batch)")
    a = t["qonnx_agreement"]
    out.append(f"outputs vs QONNX on {a['frames']} frames: {a['elements_differing']} of {a['elements']} elements differ, "
               f"argmax agreement {a['argmax_agreement']:.1%} (disagreements at ties: {a['argmax_disagreements_at_ties']})")
    if r.get("cli"):
        out += ["", "python -m hwgen build (bundled digits MLP), subprocess, not pinned:"]
        rows = []
        for name, c in r["cli"].items():
            slow = max(c["step_seconds"], key=c["step_seconds"].get)
            rows.append((f"compile cache {name}", f"{c['seconds']:.2f}", f"{sum(c['step_seconds'].values()):.2f}",
                         f"{slow} {c['step_seconds'][slow]:.2f}", f"{c['seconds'] / CLI_TARGET_S:.0%}"))
        out.append(table(rows, ("run", "wall s", "steps s", "slowest step s", f"of {CLI_TARGET_S:g} s target")))
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=1000, help="batch of frames for hwgen execute and the C-sim call; default 1000")
    p.add_argument("--qonnx-frames", type=int, default=100, help="frames run through QONNX (one per call); default 100")
    p.add_argument("--repeat", type=int, default=5, help="runs of each measurement, the fastest counts; default 5")
    p.add_argument("--core", type=int, default=0, help="the core the throughput measurements are pinned to; default 0")
    p.add_argument("--seed", type=int, default=0, help="seed of the model and the inputs; default 0")
    p.add_argument("--skip-cli", action="store_true", help="skip the python -m hwgen build timings")
    p.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    args = p.parse_args(argv)
    for name in ("frames", "qonnx_frames", "repeat"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1, not {getattr(args, name)}")

    import torch

    torch.set_num_threads(1)
    import hwgen

    results: dict = {"date": time.strftime("%Y-%m-%d"), "command": " ".join(["python", *sys.argv]), "machine": machine(),
                     "git": git_state(),
                     "targets": {"csim_over_qonnx": QONNX_TARGET, "cli_build_seconds": CLI_TARGET_S}}
    with tempfile.TemporaryDirectory(prefix="hwgen-bench-") as tmp:
        tmp = Path(tmp)
        os.environ["HWGEN_CACHE_DIR"] = str(tmp / "cache-inprocess")  # cold, and never ~/.cache
        print("building TFC-W2A2 ...", flush=True)
        t0 = time.perf_counter()
        onnx_path = export(make_tfc(args.seed), tmp / "tfc_w2a2.onnx")
        t_export = time.perf_counter() - t0
        t0 = time.perf_counter()
        build = hwgen.build(onnx_path, out_dir=tmp / "build-tfc", seed=args.seed)
        results["tfc_build"] = {"seconds": time.perf_counter() - t0, "export_seconds": t_export, "step_seconds": dict(build.timings),
                                "notes": build.notes}
        print("measuring throughput ...", flush=True)
        results["throughput"] = measure_throughput(onnx_path, build, args.frames, args.qonnx_frames, args.repeat, args.seed, args.core)
        if not args.skip_cli:
            print("timing python -m hwgen build ...", flush=True)
            cache = tmp / "cache-cli"
            results["cli"] = {"cold": time_cli_build(tmp / "cli-cold", cache), "warm": time_cli_build(tmp / "cli-warm", cache)}
    print()
    print(report(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
