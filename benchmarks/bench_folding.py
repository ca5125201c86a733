"""Automatic folding on a board against FINN's measured throughput on the same chip.

    python benchmarks/bench_folding.py [--board pynq-z2] [--clock-mhz 100] [--json FILE]

Builds a TFC-W1A1 MLP (784-64-64-64-10, bipolar input, binary weights and activations, as
FINN's tfc-w1a1) with Brevitas, lowers it with hwgen, folds it automatically for the board and
prints the estimated frames/s next to FINN's measured 837,019 img/s on a Pynq-Z1 (xc7z020, the
same part as pynq-z2) at 100 MHz (finn-examples notebook output, FACTS.md). It also prints
FINN-R's own LUT formula for hwgen's folding, to show the fit is judged at least as
conservatively as FINN judges it. Estimates, not measurements: no bitstream is built.
The same for CNV-W1A1 (hwgen.zoo.cnv, 3x32x32) against FINN's measured 3,020 img/s.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import quiet  # noqa: E402

FINN_TFC_W1A1_FPS = 837_019  # finn-examples, Pynq-Z1, 100 MHz, batch 1000 (FACTS.md)
FINN_CNV_W1A1_FPS = 3_020  # finn-examples, Pynq-Z1, 100 MHz (FACTS.md)


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


def finn_r_luts(layer) -> float:
    """FINN-R's MVAU LUT formula (FACTS.md) for one of hwgen's MVAU layers."""
    w, a = layer.w_dtype.bits, layer.in_dtype.bits
    nt = 0 if layer.thresholds is None else 2 ** layer.out_dtype.bits - 1
    mult = layer.simd * (2 * math.ceil((w + a) / 6) - 1) * (w + a)
    addtree = (w + a) * (2 * layer.simd - 1)
    return 300 + 1.1 * layer.pe * (mult + addtree + layer.acc_dtype.bits + nt * layer.acc_dtype.bits)


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


def report(name, graph, board, clock_mhz, finn_fps) -> dict:
    from hwgen.estimate import cycles, resources, total_resources
    from hwgen.estimate.cycle_model import io_cycles
    from hwgen.estimate.resource_model import SHELL
    from hwgen.fifo import size_fifos
    from hwgen.fold import auto_fold, fits

    t0 = time.perf_counter()
    folded = auto_fold(graph, board, clock_mhz)
    fold_s = time.perf_counter() - t0
    depths = size_fifos(folded, folded.input.elems // folded.layers[0].in_elems)
    dma = io_cycles(-(-folded.input.elems * folded.input.dtype.bits // 8), board.dma_port_bits)
    bottleneck = max([cycles(l) for l in folded.layers] + [dma])
    fps = clock_mhz * 1e6 / bottleneck
    ok, usage = fits(folded, board)
    total = total_resources(folded, depths) + SHELL
    rows = []
    for layer in folded.layers:
        r = resources(layer)
        finn = finn_r_luts(layer) if hasattr(layer, "w_dtype") else None
        rows.append({"layer": layer.name, "PE": getattr(layer, "pe", None), "SIMD": getattr(layer, "simd", None),
                     "cycles": cycles(layer), "LUT": round(r.LUT), "FINN-R LUT": None if finn is None else round(finn),
                     "BRAM36": r.BRAM36})
    print(f"{name} on {board.name} ({board.part}) at {clock_mhz:g} MHz, automatic folding in {fold_s:.2f} s")
    print(f"{'layer':<10}{'PE':>5}{'SIMD':>6}{'cycles':>8}{'LUT':>9}{'FINN-R LUT':>12}{'BRAM36':>8}")
    for r in rows:
        finn = "-" if r["FINN-R LUT"] is None else f"{r['FINN-R LUT']:,}"
        print(f"{r['layer']:<10}{r['PE'] or '-':>5}{r['SIMD'] or '-':>6}{r['cycles']:>8}{r['LUT']:>9,}{finn:>12}{r['BRAM36']:>8.1f}")
    print(f"DMA: {dma} cycles per frame through the {board.dma_port_bits}-bit port")
    print(f"with the shell: {total.LUT:,.0f} LUT ({usage['LUT']:.0%}), {total.BRAM36:.1f} BRAM36 ({usage['BRAM36']:.0%}), "
          f"{total.DSP:.0f} DSP; fits the {board.utilization_cap:.0%} cap: {ok}")
    print(f"estimated {fps:,.0f} frames/s vs FINN measured {finn_fps:,} img/s: {fps / finn_fps:.2f}x (target >= 2x)\n")
    return {"board": board.name, "clock_mhz": clock_mhz, "layers": rows, "dma_cycles": dma, "fps": fps, "finn_fps": finn_fps,
            "ratio": fps / finn_fps, "fits": ok, "usage": usage, "fold_seconds": fold_s}


if __name__ == "__main__":
    raise SystemExit(main())
