"""The build's report/: a text summary (also printed), plots as PNG, and one HTML page with both."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from hwgen.estimate import cycles, resources
from hwgen.hw import SCARCE
from hwgen.kinds import kind_of
from hwgen.synth.achieved import layer_numbers


def summary_text(b) -> str:
    lines = [f"hwgen build of {b.model_name!r} for {b.board.name} in {b.out_dir}/ ({sum(b.timings.values()):.1f} s)", ""]
    hls = layer_numbers(b.synthesis.get("achieved", {}))  # Vitis HLS's interval and II next to the model's cycles
    lines.append(f"{'layer':<16}{'kind':<14}{'shape':<10}{'PE':>4}{'SIMD':>6}{'types (in/w/out)':>22}{'memory/mult':>13}{'cycles':>9}"
                 + (f"{'HLS':>9}{'II':>4}" if hls else "") + f"{'LUT':>9}{'BRAM36':>8}{'DSP':>5}")
    for layer in b.graph.layers:
        kind = type(layer).__name__
        row = kind_of(layer).describe(layer)
        pe = getattr(layer, "pe", "-")
        r = resources(layer)
        achieved = ""
        if hls:
            interval, ii = hls.get(layer.name, (None, None))
            achieved = f"{'?' if interval is None else interval:>9}{'?' if ii is None else ii:>4}"
        lines.append(f"{layer.name:<15} {kind:<14}{row.shape:<10}{pe:>4}{row.simd:>6}{row.types:>22}{row.implementation:>13}"
                     f"{cycles(layer):>9}{achieved}{r.LUT:>9,.0f}{r.BRAM36:>8.1f}{r.DSP:>5.0f}")
    e = b.estimates.to_json()  # the numbers as report/estimates.json has them
    t, u, avail = e["total"], e["usage_with_shell"], e["board_resources"]
    lines.append(f"{'total (layers + FIFOs)':<{85 + (13 if hls else 0)}}{t['LUT']:>9,.0f}{t['BRAM36']:>8.1f}{t['DSP']:>5.0f}")
    lines.append("")
    lines.append(f"estimated: {e['fps']:,.0f} frames/s at {e['clock_mhz']:g} MHz (bottleneck {e['bottleneck']}), "
                 f"latency {e['latency_us']:.2f} us; with the DMA shell {u['LUT']:.0%} of {avail['LUT']:,} LUT, "
                 f"{u['BRAM36']:.0%} of {avail['BRAM36']} BRAM36, {u['DSP']:.0%} of {avail['DSP']} DSP "
                 f"({'fits' if e['fits'] else 'does NOT fit'} the {e['utilization_cap']:.0%} cap)")
    f, nb = e["fifos"], e["fifos_never_blocking"]
    depth, nb_depth = sum(e["fifo_depths"].values()), sum(e["fifo_depths_never_blocking"].values())
    how = (f"shallow: the output on the same cycles as with never-blocking FIFOs of {nb_depth:,} words, "
           f"{nb['LUT']:,.0f} LUT, {nb['BRAM36']:.1f} BRAM36" if e["fifo_sizing"] == "shallow"
           else e.get("fifo_note") or "never-blocking: no producer ever waits")
    lines.append(f"FIFOs:    {len(e['fifo_depths'])} streams, {depth:,} words, {f['LUT']:,.0f} LUT, {f['BRAM36']:.1f} BRAM36 ({how})")
    if b.fit is not None:
        lines.append(f"folding:  {b.fit.summary()}")
    v = b.verification
    ic, q = v.ir_vs_csim, v.qonnx_vs_csim
    lines.append(f"verified: C-sim == numpy reference on {ic['frames']} frames ({ic['mismatches']} mismatches); "
                 f"vs QONNX on {q['frames']} frames: {q['elements_differing']} of {q['elements']} elements a level apart"
                 + (f" (each explained by rounding ties: QONNX in float64 gives the C-sim's value; "
                    f"{q['elements_beyond_one_step']} moved more than one step by a tie in a hidden layer)"
                    if q["elements_beyond_one_step"] else
                    " (each at a rounding tie: QONNX in float64 gives the C-sim's value)" if q["elements_differing"] else "")
                 + f", max |diff| {q['max_abs_diff']:.3g} ({q['max_steps_apart']:.2g} output steps), "
                 f"argmax agreement {q['argmax_agreement']:.1%}")
    c = v.cycles_vs_csim
    if c is not None:
        counted, modelled = c["loops_counted"], len(c["layers"]) - c["loops_counted"]
        if c["mismatches"]:
            lines.append(f"WARNING: the cycle model disagrees with the C-sim loop counts of {', '.join(c['mismatches'])}: "
                         f"the estimates above are wrong there (a bug in hwgen: please report it with report/verification.json)")
        elif not modelled:
            lines.append(f"cycles:   C-sim loop iterations == cycle model for all {counted} layers")
        else:  # the fast MVAU path has no loop: it reports the trip count it plans, which the model predicts by construction
            lines.append(f"cycles:   C-sim loop iterations == cycle model for {counted} of {len(c['layers'])} layers; the {modelled} MVAUs "
                         f"on the fast C-sim path report their planned trip count: trip-count consistency only "
                         f"(--csim-exact counts their loops)")
    if v.accuracy is not None:
        a = v.accuracy
        torch_acc = f"{a['torch']:.2%} (PyTorch, at training)" if a.get("torch") is not None else "n/a"
        lines.append(f"accuracy on {a['frames']} test frames: {a['csim']:.2%} through C-sim; {torch_acc}")
    for line in b.synthesis_status:
        lines.append(line)
    lines.append(f"run it:   python -m hwgen csim {b.out_dir} --input x.npy --output y.npy")
    return "\n".join(lines)


def _plots(b, folder: Path) -> list[Path]:
    """cycles.png (per layer, bottleneck marked) and resources.png (per layer, share of the board)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    names = [l.name for l in b.graph.layers]
    cyc = [cycles(l) for l in b.graph.layers]
    fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(names) + 2), 3.5))
    colors = ["tab:red" if c == max(cyc) else "tab:blue" for c in cyc]
    ax.bar(names, cyc, color=colors)
    ax.set_ylabel("cycles per frame")
    ax.set_title(f"{b.model_name}: cycles per layer (red: bottleneck), {b.estimates.fps:,.0f} frames/s at {b.clock_mhz:g} MHz")
    ax.tick_params(axis="x", rotation=60)
    fig.tight_layout()
    paths = [folder / "cycles.png"]
    fig.savefig(paths[0], dpi=110)
    plt.close(fig)

    avail = b.board.resources
    kinds = SCARCE
    fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(names) + 2), 3.5))
    width = 0.8 / len(kinds)
    for i, kind in enumerate(kinds):
        share = [100 * getattr(resources(l), kind) / max(1, avail[kind]) for l in b.graph.layers]
        ax.bar([x + i * width for x in range(len(names))], share, width=width, label=kind)
    ax.set_xticks([x + width for x in range(len(names))], names, rotation=60)
    ax.set_ylabel(f"% of {b.board.name}")
    ax.set_title(f"resources per layer (board cap {b.board.utilization_cap:.0%})")
    ax.legend()
    fig.tight_layout()
    paths.append(folder / "resources.png")
    fig.savefig(paths[1], dpi=110)
    plt.close(fig)
    return paths


def write_report(b) -> None:
    folder = b.out_dir / "report"
    folder.mkdir(parents=True, exist_ok=True)
    text = summary_text(b)
    (folder / "summary.txt").write_text(text + "\n")
    images = _plots(b, folder)
    body = [f"<h1>hwgen: {html.escape(b.model_name)} on {html.escape(b.board.name)}</h1>", f"<pre>{html.escape(text)}</pre>"]
    for path in images:
        data = base64.b64encode(path.read_bytes()).decode()
        body.append(f'<p><img alt="{path.stem}" src="data:image/png;base64,{data}"></p>')
    if not images:
        body.append("<p>(plots need matplotlib: pip install matplotlib)</p>")
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>hwgen report</title>"
            "<style>body{font-family:sans-serif;margin:2em} pre{font-size:12px}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")
    (folder / "summary.html").write_text(page)
