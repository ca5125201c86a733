"""Automatic folding on a board against FINN's measured throughput on the same chip.

    python benchmarks/bench_folding.py [--board pynq-z2] [--clock-mhz 100] [--json FILE]

Builds a TFC-W1A1 MLP (784-64-64-64-10, bipolar input, binary weights and activations, as
FINN's tfc-w1a1) and FINN's CNV-W1A1 (hwgen.zoo.cnv, 3x32x32) with Brevitas, lowers them with
hwgen and folds them automatically for the board. For each it prints the estimated frames/s
next to FINN's measured figure on a Pynq-Z1 (xc7z020, the same part as pynq-z2) at 100 MHz
(finn-examples' notebook outputs: 837,019 and 3,020 img/s), and judges the folding by
FINN's own resource formulas (hwgen.estimate.finn) as well as by hwgen's model. It also folds
hwgen's graph as finn-examples folds FINN's (its published folding configs, FINN_FOLDINGS), so
that both foldings are estimated by the same models: FINN's measured figure against its own
folding's estimate says how close such estimates come to a board.
Estimates, not measurements: no bitstream is built.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import quiet  # noqa: E402

FINN_TFC_W1A1_FPS = 837_019  # finn-examples' tfc-w1a1 notebook output, Pynq-Z1, 100 MHz, batch 1000
FINN_CNV_W1A1_FPS = 3_020  # finn-examples' cnv-w1a1 notebook output, Pynq-Z1, 100 MHz

# finn-examples build/bnn-pynq/folding_config/{tfc,cnv}-w1a1_folding_config.json (PE, SIMD, ram_style of
# the layers hwgen's graphs have too: hwgen streams the quantized input, so FINN's input Thresholding and
# its LabelSelect have no counterpart). The config leaves the max pools out: FINN's StreamingMaxPool_Batch
# takes a whole pixel per cycle, which is PE = channels here.
FINN_FOLDINGS = {
    "TFC-W1A1": {"MVAU_hls_0": {"PE": 16, "SIMD": 49, "ram_style": "block"}, "MVAU_hls_1": {"PE": 8, "SIMD": 8},
                 "MVAU_hls_2": {"PE": 8, "SIMD": 8}, "MVAU_hls_3": {"PE": 10, "SIMD": 8, "ram_style": "distributed"}},
    "CNV-W1A1": {"ConvolutionInputGenerator_0": {"SIMD": 3}, "MatrixVectorActivation_0": {"PE": 16, "SIMD": 3},
                 "ConvolutionInputGenerator_1": {"SIMD": 32}, "MatrixVectorActivation_1": {"PE": 32, "SIMD": 32},
                 "ConvolutionInputGenerator_2": {"SIMD": 32}, "MatrixVectorActivation_2": {"PE": 16, "SIMD": 32},
                 "ConvolutionInputGenerator_3": {"SIMD": 32}, "MatrixVectorActivation_3": {"PE": 16, "SIMD": 32},
                 "ConvolutionInputGenerator_4": {"SIMD": 32}, "MatrixVectorActivation_4": {"PE": 4, "SIMD": 32},
                 "ConvolutionInputGenerator_5": {"SIMD": 32}, "MatrixVectorActivation_5": {"PE": 1, "SIMD": 32},
                 "MatrixVectorActivation_6": {"PE": 1, "SIMD": 4}, "MatrixVectorActivation_7": {"PE": 1, "SIMD": 8},
                 "MatrixVectorActivation_8": {"PE": 5, "SIMD": 1}, "StreamingMaxPool_0": {"PE": 64}, "StreamingMaxPool_1": {"PE": 128}},
}


def make_tfc_w1a1(seed: int = 0):
    import brevitas.nn as qnn
    import torch
    from brevitas.quant import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst
    from torch import nn

    torch.manual_seed(seed)
    layers = [qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst, return_quant_tensor=True), nn.Flatten()]
    width = 784
    for out in (64, 64, 64):
        layers += [qnn.QuantLinear(width, out, bias=False, weight_quant=SignedBinaryWeightPerTensorConst),
                   nn.BatchNorm1d(out), qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst, return_quant_tensor=True)]
        width = out
    layers.append(qnn.QuantLinear(width, 10, bias=False, weight_quant=SignedBinaryWeightPerTensorConst))
    model = nn.Sequential(*layers)
    for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm1d)):
        bn.running_mean.uniform_(-8, 8)
        bn.running_var.uniform_(20, 60)
    return model.eval()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--board", default="pynq-z2")
    p.add_argument("--clock-mhz", type=float, default=100.0)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)

    import torch
    from brevitas.export import export_qonnx

    from hwgen.boards import load_board
    from hwgen.frontend.load import load_qonnx
    from hwgen.lower import lower
    from hwgen.zoo.cnv import cnv, randomize_batchnorm

    board = load_board(args.board)
    results = {}
    for name, make, shape, finn_fps in (("TFC-W1A1", make_tfc_w1a1, (1, 1, 28, 28), FINN_TFC_W1A1_FPS),
                                        ("CNV-W1A1", lambda: randomize_batchnorm(cnv(1, 1)), (1, 3, 32, 32), FINN_CNV_W1A1_FPS)):
        with tempfile.TemporaryDirectory() as tmp, quiet():
            path = Path(tmp) / "model.onnx"
            export_qonnx(make(), torch.zeros(shape), export_path=str(path))
            graph = lower(load_qonnx(path), name)
        results[name] = report(name, graph, board, args.clock_mhz, finn_fps)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def estimate(graph, board, clock_mhz) -> dict:
    """Frames/s, and the resources by hwgen's model and by FINN's formulas, of a folded graph."""
    from hwgen.codegen.render import ports
    from hwgen.estimate import cycles, resources, total_resources
    from hwgen.estimate.cycle_model import io_cycles
    from hwgen.estimate.finn import finn_resources, finn_total
    from hwgen.estimate.resource_model import SHELL, fifo_resources
    from hwgen.fifo import shrink_fifos, size_fifos
    from hwgen.fold import fits

    words = graph.input.elems // graph.layers[0].in_elems
    t0 = time.perf_counter()
    depths = size_fifos(graph, words)
    t1 = time.perf_counter()
    shallow = shrink_fifos(graph, words, sized=depths)
    t2 = time.perf_counter()
    fifos = {"never_blocking": {"words": sum(depths.values()), **fifo_resources(graph, depths).as_dict(), "seconds": t1 - t0},
             "shallow": {"words": sum(shallow.values()), **fifo_resources(graph, shallow).as_dict(), "seconds": t2 - t1}}
    dma = max(io_cycles(p.words, p.bus, board.dma_port_bits) for p in ports(graph))
    bottleneck = max([cycles(l) for l in graph.layers] + [dma])
    ok, usage = fits(graph, board)
    ours = total_resources(graph, shallow) + SHELL  # the FIFOs a build gives the design, which fits() counts too
    finn_layers, finn_fifos = finn_total(graph), finn_total(graph, depths)
    avail = board.resources
    rows = []
    for layer in graph.layers:
        r, f = resources(layer), finn_resources(layer)
        rows.append({"layer": layer.name, "PE": getattr(layer, "pe", None), "SIMD": getattr(layer, "simd", None),
                     "memory": getattr(getattr(layer, "ram_style", None), "value", None),
                     "products": getattr(getattr(layer, "res_type", None), "value", None), "cycles": cycles(layer),
                     "LUT": round(r.LUT), "FINN LUT": round(f.LUT), "BRAM18": r.BRAM18, "FINN BRAM18": f.BRAM18, "DSP": r.DSP})
    finn_usage = {k: getattr(finn_fifos, k if k != "BRAM36" else "BRAM18") / (avail[k] * (2 if k == "BRAM36" else 1))
                  for k in ("LUT", "BRAM36", "DSP") if avail.get(k)}
    return {"fps": clock_mhz * 1e6 / bottleneck, "bottleneck_cycles": bottleneck, "dma_cycles": dma, "layers": rows,
            "hwgen": {"total": ours.as_dict(), "usage": usage, "fits_cap": ok}, "fifos": fifos,
            "finn": {"layers": finn_layers.as_dict(), "with_fifos": finn_fifos.as_dict(), "usage_with_fifos": finn_usage,
                     "fits_cap": all(v <= board.utilization_cap for v in finn_usage.values())}}


def report(name, graph, board, clock_mhz, finn_fps) -> dict:
    from hwgen.fold import apply_folding, auto_fold

    t0 = time.perf_counter()
    folded = auto_fold(graph, board, clock_mhz)
    fold_s = time.perf_counter() - t0
    ours = estimate(folded, board, clock_mhz)
    finn_folded = apply_folding(graph, FINN_FOLDINGS[name], "finn-examples folding")
    theirs = estimate(finn_folded, board, clock_mhz)
    cap = board.utilization_cap
    print(f"{name} on {board.name} ({board.part}) at {clock_mhz:g} MHz, automatic folding in {fold_s:.2f} s")
    print(f"{'layer':<10}{'PE':>5}{'SIMD':>6}{'memory':>13}{'mult':>6}{'cycles':>8}{'LUT':>9}{'FINN LUT':>10}"
          f"{'BRAM18':>8}{'FINN BRAM18':>12}{'DSP':>5}")
    for r in ours["layers"]:
        print(f"{r['layer']:<10}{r['PE'] or '-':>5}{r['SIMD'] or '-':>6}{r['memory'] or '-':>13}{r['products'] or '-':>6}"
              f"{r['cycles']:>8}{r['LUT']:>9,}{r['FINN LUT']:>10,}{r['BRAM18']:>8.0f}{r['FINN BRAM18']:>12.0f}{r['DSP']:>5.0f}")
    for who, e in (("hwgen's folding", ours), ("finn-examples' folding", theirs)):
        h, f = e["hwgen"], e["finn"]
        print(f"{who}: {e['fps']:,.0f} frames/s estimated (bottleneck {e['bottleneck_cycles']:,} cycles; DMA {e['dma_cycles']})")
        print(f"  hwgen's model (layers, FIFOs, shell): {h['total']['LUT']:,.0f} LUT ({h['usage']['LUT']:.0%}), "
              f"{h['total']['BRAM36']:.1f} BRAM36 ({h['usage']['BRAM36']:.0%}), {h['total']['DSP']:.0f} DSP ({h['usage']['DSP']:.0%}); "
              f"within the {cap:.0%} cap: {h['fits_cap']}")
        nb, sh = e["fifos"]["never_blocking"], e["fifos"]["shallow"]
        print(f"  FIFOs (counted above: shallow, as built) {sh['words']:,} words, {sh['LUT']:,.0f} LUT, {sh['BRAM36']:.1f} BRAM36 "
              f"in {sh['seconds']:.2f} s; never-blocking: {nb['words']:,} words, {nb['LUT']:,.0f} LUT, "
              f"{nb['BRAM36']:.1f} BRAM36 in {nb['seconds']:.2f} s")
        print(f"  FINN's formulas (layers + FIFOs, no shell): {f['with_fifos']['LUT']:,.0f} LUT ({f['usage_with_fifos']['LUT']:.0%}), "
              f"{f['with_fifos']['BRAM36']:.1f} BRAM36 ({f['usage_with_fifos']['BRAM36']:.0%}), {f['with_fifos']['DSP']:.0f} DSP; "
              f"within the {cap:.0%} cap: {f['fits_cap']}")
    print(f"estimated {ours['fps']:,.0f} frames/s vs FINN measured {finn_fps:,} img/s: {ours['fps'] / finn_fps:.2f}x (target >= 2x); "
          f"vs finn-examples' folding estimated the same way ({theirs['fps']:,.0f}): {ours['fps'] / theirs['fps']:.2f}x; "
          f"FINN measured / its estimate: {finn_fps / theirs['fps']:.2f}\n")
    return {"board": board.name, "clock_mhz": clock_mhz, "fold_seconds": fold_s, "finn_measured_fps": finn_fps,
            "hwgen_folding": ours, "finn_examples_folding": theirs, "ratio_vs_finn_measured": ours["fps"] / finn_fps,
            "ratio_vs_finn_folding_estimate": ours["fps"] / theirs["fps"]}


if __name__ == "__main__":
    raise SystemExit(main())
