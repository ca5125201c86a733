"""FINN and hwgen side by side in one run: folding and estimates on the very QONNX files hwgen builds.

    python benchmarks/bench_vs_finn.py [--models TFC-W1A1 CNV-W1A1 ...] [--board pynq-z2] [--clock-mhz 100]
                                       [--finn-venv DIR] [--finn-version 1.6.1] [--pip-arg ARG] [--tolerance 0.01]
                                       [--mvau-wwidth-max 36] [--keep DIR] [--json FILE]

For each model (exported once with Brevitas, in hwgen's own code, to a temporary folder):
1. FINN's folding: FINN's build steps up to its specialized HW layers, then SetFolding
   (step_target_fps_parallelization) at the highest target_fps whose estimate fits the board
   within its utilization cap on LUT, BRAM18 and DSP, found by geometric search; FINN's
   estimator (exp_cycles_per_layer, res_estimation): frames/s and resources.
2. hwgen's automatic folding for the board (hwgen.fold.auto_fold), by hwgen's model: frames/s
   (layers and DMA) and resources (layers, the shallow FIFOs a build gives it, shell).
3. hwgen's folding given to FINN as a folding config (PE, SIMD, ram_style, resType per node,
   paired by kind and shape) and estimated by FINN's estimator: the same cost model as 1 with a
   different folding, the fair comparison of folding quality.
FINN runs in its own virtual environment (finn-plus pins onnx, onnxruntime, protobuf and brevitas
versions hwgen's environment does not have), created under --finn-venv on first use, as a
subprocess (benchmarks/finn_estimate.py, JSON in and out). No Vivado or Vitis is needed: FINN's
simulator binding is replaced by a stand-in, and the estimate-only steps never simulate.
"""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import git_state, machine, quiet, table  # noqa: E402
from finn_env import DRIVER, FINN_PLUS_VERSION, Unavailable, clean_env, default_venv, ensure_finn  # noqa: E402


# -- the models -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelEntry:
    """A network to compare: `make(module)` builds the Brevitas model, `module` imported."""

    name: str
    module: str  # where the model comes from (hwgen's zoo); a model whose module is missing is skipped with a note
    make: Callable
    input_shape: tuple[int, ...]


def _tfc_w1a1(_module):
    from bench_folding import make_tfc_w1a1  # FINN's TFC-W1A1 as bench_folding.py builds it

    return make_tfc_w1a1()


def _cnv(weight_bits: int, act_bits: int):
    def make(module):
        import torch

        torch.manual_seed(0)
        return module.randomize_batchnorm(module.cnv(weight_bits, act_bits))

    return make


MODELS = (
    ModelEntry("TFC-W1A1", "bench_folding", _tfc_w1a1, (1, 1, 28, 28)),
    ModelEntry("CNV-W1A1", "hwgen.zoo.cnv", _cnv(1, 1), (1, 3, 32, 32)),
    ModelEntry("CNV-W2A2", "hwgen.zoo.cnv", _cnv(2, 2), (1, 3, 32, 32)),
    ModelEntry("LPYOLO-416", "hwgen.zoo.lpyolo", lambda module: module.lpyolo(), (1, 3, 416, 416)),
)


# -- hwgen's side ---------------------------------------------------------------------------
# What describe() carries to FINN or needs for pairing, per layer kind; any other field of a layer (hwgen's layers
# gain options) is listed as not carried, so that a folding FINN is not told about cannot pass unnoticed.
_ACCOUNTED = {
    "MVAU": {"name", "mw", "mh", "simd", "pe", "vectors", "ram_style", "res_type", "in_dtype", "w_dtype", "acc_dtype",
             "out_dtype", "weights", "thresholds", "out_min"},
    "Thresholding": {"name", "channels", "pe", "vectors", "in_dtype", "out_dtype", "thresholds", "out_min"},
    "SWG": {"name", "ifm_h", "ifm_w", "channels", "k_h", "k_w", "stride_h", "stride_w", "pad", "simd", "dtype",
            "parallel_window"},
    "MaxPool": {"name", "ifm_h", "ifm_w", "channels", "k_h", "k_w", "stride_h", "stride_w", "pad", "pe", "dtype"},
}


def describe(layer) -> dict | None:
    """A foldable hwgen layer as FINN pairs it: kind, shape signature, folding in FINN's attribute names.

    An MVAU's memory and products are given as hwgen resolved them (its "auto" picks one), a MaxPool's PE
    goes to FINN's depthwise window (SIMD) and Pool (PE) alike."""
    from dataclasses import fields

    from hwgen.ir.layers import MVAU, SWG, MaxPool, Thresholding
    from hwgen.kinds import kind_of

    def window(l):
        return {"ifm": [l.ifm_h, l.ifm_w], "channels": l.channels, "kernel": [l.k_h, l.k_w],
                "stride": [l.stride_h, l.stride_w], "pad": list(l.pad)}

    if isinstance(layer, MVAU):
        memory, products = kind_of(layer).describe(layer).implementation.split("/")
        d = {"kind": "MVAU", "signature": {"mw": layer.mw, "mh": layer.mh, "vectors": layer.vectors},
             "folding": {"PE": layer.pe, "SIMD": layer.simd,
                         "ram_style": {"bram": "block", "lutram": "distributed"}.get(memory, memory),
                         "resType": "dsp" if products.startswith("dsp") else products}}
    elif isinstance(layer, Thresholding):
        d = {"kind": "Thresholding", "signature": {"channels": layer.channels, "vectors": layer.vectors},
             "folding": {"PE": layer.pe}}
    elif isinstance(layer, SWG):
        d = {"kind": "SWG", "signature": window(layer), "folding": {"SIMD": layer.simd}}
        if getattr(layer, "parallel_window", None) is not None:  # a whole window per cycle, where hwgen has it
            d["folding"]["parallel_window"] = int(bool(layer.parallel_window))
    elif isinstance(layer, MaxPool):
        d = {"kind": "MaxPool", "signature": window(layer), "folding": {"PE": layer.pe}}
    else:
        return None
    not_carried = sorted({f.name for f in fields(layer)} - _ACCOUNTED[d["kind"]])
    return {"name": layer.name, **d, "not_carried": not_carried}


def hwgen_side(path: Path, name: str, board, clock_mhz: float) -> dict:
    from bench_folding import estimate

    from hwgen.fold import auto_fold
    from hwgen.frontend.load import load_qonnx
    from hwgen.lower import lower

    t0 = time.perf_counter()
    graph = lower(load_qonnx(path), name)
    t1 = time.perf_counter()
    folded = auto_fold(graph, board, clock_mhz)
    t2 = time.perf_counter()
    est = estimate(folded, board, clock_mhz)
    t3 = time.perf_counter()
    layers = [d for d in map(describe, folded.layers) if d is not None]
    return {"load_lower_seconds": t1 - t0, "fold_seconds": t2 - t1, "estimate_seconds": t3 - t2, "layers": layers,
            "fps": est["fps"], "bottleneck_cycles": est["bottleneck_cycles"], "dma_cycles": est["dma_cycles"],
            "total": est["hwgen"]["total"], "usage": est["hwgen"]["usage"], "fits": est["hwgen"]["fits_cap"],
            "per_layer": est["layers"], "finn_formulas_port": est["finn"]}


def finn_side(python: Path, path: Path, work: Path, board, clock_mhz: float, hw: dict, args) -> dict:
    res = board.resources
    request = {"model": str(path), "work_dir": str(work), "fpga_part": board.part, "clock_ns": 1e3 / clock_mhz,
               "available": {"LUT": res["LUT"], "BRAM_18K": 2 * res["BRAM36"], "URAM": res["URAM"], "DSP": res["DSP"]},
               "cap": board.utilization_cap, "hwgen_layers": hw["layers"], "hwgen_bottleneck_cycles": hw["bottleneck_cycles"],
               "start_fps": hw["fps"], "tolerance": args.tolerance,
               "mvau_wwidth_max": args.mvau_wwidth_max}
    (work / "request.json").write_text(json.dumps(request, indent=1))
    log = work / "finn.log"
    t0 = time.perf_counter()
    with open(log, "w") as out:
        r = subprocess.run([str(python), str(DRIVER), str(work / "request.json"), str(work / "result.json")],
                           stdout=out, stderr=subprocess.STDOUT, env=clean_env(), cwd=work, check=False)
    wall = time.perf_counter() - t0
    if r.returncode != 0 or not (work / "result.json").is_file():
        tail = "\n    ".join(log.read_text(errors="replace").strip().splitlines()[-12:])
        raise Unavailable(f"FINN's driver exited {r.returncode} without a result:\n    {tail}")
    result = json.loads((work / "result.json").read_text())
    result["wall_seconds"] = wall
    return result


# -- the report -----------------------------------------------------------------------------
def _res(total: dict, usage: dict, bram_key: str) -> tuple[str, str, str]:
    lut, bram, dsp = total["LUT"], total[bram_key] * (2 if bram_key == "BRAM36" else 1), total["DSP"]
    u_bram = usage.get("BRAM36", usage.get("BRAM_18K", 0))
    return (f"{lut:,.0f} ({usage['LUT']:.0%})", f"{bram:,.0f} ({u_bram:.0%})", f"{dsp:,.0f} ({usage['DSP']:.0%})")


def _cells(f: dict | None, main: str, nodes: list[str]) -> tuple:
    """A folding's cells for one hwgen layer: FINN's attributes of node `main`; cycles, LUT, BRAM18 of `nodes`."""
    if f is None:
        return ("-",) * 4
    a = f["folding"][main]
    fold = "/".join(str(a[k]) for k in ("PE", "SIMD") if k in a)
    if "resType" in a:
        fold += f" {a['ram_style']}/{a['resType']}"
    if a.get("parallel_window"):
        fold += " window"
    layers = [f["layers"][n] for n in nodes]
    return (fold, f"{max(l['cycles'] for l in layers):,}", f"{sum(l['LUT'] for l in layers):,}",
            f"{sum(l['BRAM_18K'] for l in layers):,}")


def layer_rows(finn: dict) -> list[tuple]:
    """Per hwgen layer: its FINN node(s), FINN's folding and hwgen's, each with FINN's cycles, LUT and BRAM18."""
    rows = []
    for p in finn["pairs"]:
        roles = p["finn"]
        nodes = list(roles.values())
        main = roles.get("mvau") or roles.get("pool") or roles.get("thresholding") or roles["window"]
        rows.append((p["hwgen"], "+".join(nodes), *_cells(finn["finn_folding"], main, nodes),
                     *_cells(finn["hwgen_folding"], main, nodes)))
    return rows


def report(name: str, hw: dict, finn: dict) -> None:
    """The per-layer table of one model, and what was paired, cut off or left out."""
    print(f"\n{name}: FINN's HW nodes paired with hwgen's layers by kind and shape; folding PE/SIMD and, for an MVAU,"
          f" weight memory/products; cycles, LUT and BRAM18 by FINN's estimator")
    print(table(layer_rows(finn), ("hwgen layer", "FINN node(s)", "FINN's folding", "cycles", "LUT", "BRAM18",
                                   "hwgen's folding", "cycles", "LUT", "BRAM18")))
    for u in finn["finn_only"]:
        cut = "; cut off, not estimated" if u["where"] != "middle" else ""
        print(f"  FINN only: {u['kind']} {', '.join(u['nodes'])}, {u['why']}{cut}")
    for n in finn["hwgen_only"]:
        print(f"  hwgen only: {n}, no FINN node of its kind and shape; absent from FINN's estimates")
    for layer in hw["layers"]:
        if layer["not_carried"]:
            print(f"  {layer['name']}: hwgen fields not carried to FINN's config: {', '.join(layer['not_carried'])}")
    folding = {l["name"]: l["folding"] for l in hw["layers"]}
    for p in finn["pairs"]:
        if "_rtl_" in p["finn"].get("mvau", "") and folding[p["hwgen"]].get("resType") != "dsp":
            print(f"  {p['finn']['mvau']}: FINN's RTL MVAU computes on DSP slices only; hwgen's {p['hwgen']} products in "
                  f"{folding[p['hwgen']]['resType']} are estimated by FINN as DSPs")
    for node, count in finn["xnor_thresholds_raised_to_0"].items():
        print(f"  {node}: {count} negative XNOR thresholds raised to 0 (FINN asserts >= 0; a popcount is never negative, "
              "so the network computes the same)")
    port = sum(r["FINN LUT"] for r in hw["per_layer"] if not r["layer"].startswith("DWC_"))
    print(f"  hwgen's frames/s: {hw['bottleneck_cycles']:,} cycles a frame (DMA {hw['dma_cycles']:,}); hwgen's port of "
          f"FINN's formulas (hwgen.estimate.finn) on its folding, layers without DWCs: {port:,} LUT, FINN's estimator: "
          f"{finn['hwgen_folding']['total']['LUT']:,} LUT")


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else ("both 0" if a == b else f"{a:,.0f} vs 0")


def summary(results: dict, board, clock_mhz: float) -> None:
    """One table for all models: each model's three foldings; then the ratios and wall times."""
    rows, ratios = [], []
    for name, r in results.items():
        finn, hw = r["finn"], r["hwgen"]
        theirs, given = finn["finn_folding"], finn["hwgen_folding"]
        if theirs:
            rows.append((name, f"FINN SetFolding, target_fps {theirs['target_fps']:,}", "FINN", f"{theirs['fps']:,.0f}",
                         *_res(theirs["total"], theirs["usage"], "BRAM_18K"), "yes" if theirs["fits"] else "no"))
        else:
            rows.append((name, "FINN SetFolding: nothing fits", "FINN", "-", "-", "-", "-", "no"))
        rows.append(("", "hwgen auto_fold", "hwgen", f"{hw['fps']:,.0f}", *_res(hw["total"], hw["usage"], "BRAM36"),
                     "yes" if hw["fits"] else "no"))
        rows.append(("", "hwgen auto_fold", "FINN", f"{given['fps']:,.0f}", *_res(given["total"], given["usage"], "BRAM_18K"),
                     "yes" if given["fits"] else "no"))
        t, g = (theirs or {}).get("total"), given["total"]
        ratios.append((name, _ratio(given["fps"], theirs["fps"]) if t else "-", _ratio(g["LUT"], t["LUT"]) if t else "-",
                       _ratio(g["BRAM_18K"], t["BRAM_18K"]) if t else "-", _ratio(g["DSP"], t["DSP"]) if t else "-",
                       f"{finn['front_end_seconds']:.1f}", f"{finn['finn_search_seconds']:.1f} ({len(finn['finn_search'])})",
                       f"{finn['hwgen_folding_seconds']:.1f}", f"{finn['wall_seconds']:.1f}",
                       f"{hw['load_lower_seconds']:.2f}", f"{hw['fold_seconds']:.2f}"))
    print(f"\nSummary: {board.name} ({board.part}) at {clock_mhz:g} MHz, {board.utilization_cap:.0%} cap on LUT, BRAM18 and DSP")
    print(table(rows, ("model", "folding", "estimator", "frames/s", "LUT", "BRAM18", "DSP", "fits")))
    print("\nhwgen's folding against FINN's, both by FINN's estimator (ratios), and wall seconds in this run: FINN's front end"
          " (QONNX to specialized HW layers), its target search (SetFolding runs), its estimate of hwgen's folding, its"
          " whole process (imports included); hwgen's load + lowering and its automatic folding")
    print(table(ratios, ("model", "frames/s", "LUT", "BRAM18", "DSP", "FINN front end", "FINN search (runs)",
                         "FINN on hwgen's", "FINN process", "hwgen load+lower", "hwgen fold")))


# -- main -----------------------------------------------------------------------------------
def export(entry: ModelEntry, module, path: Path) -> None:
    import torch
    from brevitas.export import export_qonnx

    with quiet():
        export_qonnx(entry.make(module), torch.zeros(entry.input_shape), export_path=str(path))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    names = [m.name for m in MODELS]
    p.add_argument("--models", nargs="+", default=names, choices=names, metavar="MODEL", help=f"of {', '.join(names)}")
    p.add_argument("--board", default="pynq-z2")
    p.add_argument("--clock-mhz", type=float, default=100.0)
    p.add_argument("--finn-venv", type=Path, help="FINN's virtual environment, created on first use "
                   "(default: $XDG_CACHE_HOME or ~/.cache, then hwgen-bench/finn-plus-VERSION)")
    p.add_argument("--finn-version", default=FINN_PLUS_VERSION, help=f"finn-plus release to install (default {FINN_PLUS_VERSION})")
    p.add_argument("--pip-arg", action="append", default=[], metavar="ARG",
                   help="extra argument for pip when filling FINN's environment (repeatable), e.g. --pip-arg=--index-url=URL")
    p.add_argument("--tolerance", type=float, default=0.01, help="stop FINN's target search when the bracket is this narrow (ratio - 1)")
    p.add_argument("--mvau-wwidth-max", type=int, default=36,
                   help="FINN's SetFolding bound on an MVAU's weight bits per PE (its build config's mvau_wwidth_max, default 36)")
    p.add_argument("--keep", type=Path, help="keep the exported models, FINN's logs, requests and results in this folder")
    p.add_argument("--json", type=Path, help="write every number to this file")
    args = p.parse_args(argv)

    from hwgen.boards import load_board
    from hwgen.errors import HwgenError

    board = load_board(args.board)
    venv = args.finn_venv or default_venv(args.finn_version)
    try:
        python = ensure_finn(venv, args.finn_version, args.pip_arg)
    except Unavailable as exc:
        print(f"bench_vs_finn: FINN (finn-plus {args.finn_version}) is not usable in {venv}: {exc}\n  needed: Python >= 3.11 "
              "with venv and pip, PyPI (or --pip-arg=--index-url=... / --pip-arg=--find-links=... naming a source of "
              "finn-plus and its requirements) and about 2.5 GB of disk; no Vivado or Vitis", file=sys.stderr)
        return 2
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        for entry in (m for m in MODELS if m.name in args.models):
            try:
                module = importlib.import_module(entry.module)
            except ModuleNotFoundError as exc:
                if exc.name != entry.module:
                    raise
                print(f"\n{entry.name}: skipped, hwgen has no {entry.module} yet")
                results[entry.name] = {"skipped": f"no module {entry.module}"}
                continue
            work = root / entry.name
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            path = work / "model.onnx"
            try:
                export(entry, module, path)
            except AttributeError as exc:  # the zoo module is there, without the builder this entry calls
                print(f"\n{entry.name}: skipped, {entry.module} does not build it as MODELS expects ({exc})")
                results[entry.name] = {"skipped": str(exc)}
                continue
            print(f"\n{entry.name}: hwgen folds ...", flush=True)
            try:
                hw = hwgen_side(path, entry.name, board, args.clock_mhz)
            except HwgenError as exc:
                print(f"{entry.name}: hwgen failed: {exc}")
                results[entry.name] = {"hwgen_error": str(exc)}
                continue
            print(f"{entry.name}: FINN runs its estimate-only flow (front end, then a target_fps search) ...", flush=True)
            try:
                finn = finn_side(python, path, work, board, args.clock_mhz, hw, args)
            except Unavailable as exc:
                print(f"bench_vs_finn: FINN could not run on {entry.name}: {exc}", file=sys.stderr)
                return 2
            if "error" in finn:
                print(f"{entry.name}: FINN failed: {finn['error']}")
                results[entry.name] = {"hwgen": hw, "finn_error": finn["error"], "finn_traceback": finn.get("traceback")}
                continue
            results[entry.name] = {"hwgen": hw, "finn": finn}
            report(entry.name, hw, finn)
    summary({k: v for k, v in results.items() if "finn" in v}, board, args.clock_mhz)
    if args.json:
        args.json.write_text(json.dumps({"board": board.name, "part": board.part, "clock_mhz": args.clock_mhz,
                                         "finn_venv": str(venv), "machine": machine(), "git": git_state(),
                                         "models": results}, indent=1, default=str))
    failed = [k for k, v in results.items() if "finn_error" in v or "hwgen_error" in v]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
