"""The build's synth step: the Vitis HLS and Vivado scripts, always; the tools' runs when they are found,
each checked against the cycle model (a loop above II=1, an interval above the model, timing not met)."""

from __future__ import annotations

from dataclasses import asdict

from hwgen.build.record import Build, write_json
from hwgen.errors import HwgenError
from hwgen.hw import RESOURCE_KINDS
from hwgen.synth import find_tools, make_plan, parse_timing_summary, parse_utilization, run_plan, write_scripts
from hwgen.synth.achieved import compare_hls, summary_lines, timing_problem
from hwgen.synth.reports import parse_hls_design
from hwgen.synth.scripts import csynth_report, vivado_reports


def step_synth(b: Build) -> None:
    """Write the Vitis HLS / Vivado scripts; run them when the tools are found (and wanted)."""
    cfg = b.config
    scripts = write_scripts(b.out_dir, b.board, b.design, b.clock_mhz, cfg.cosim,
                            b.cosim_vectors if cfg.cosim else None, jobs=cfg.jobs)
    finish = f"python -m hwgen synth {b.out_dir}" + "".join(f" --xilinx-settings {s}" for s in cfg.xilinx_settings)
    b.synthesis = {"scripts": [str(p) for p in scripts["files"]], "ran": False, "finish_command": finish}
    if not cfg.synthesize:
        b.synthesis_status = ["not done: synthesis (switched off); scripts in hls/hls.tcl and vivado/bd.tcl",
                              f"finish:   {finish}"]
        return
    tools = find_tools(cfg.xilinx_settings or None)
    b.synthesis["tools"] = tools.describe()
    if not tools.complete:
        if cfg.require_bitstream:
            raise HwgenError(f"a bitstream was required, but {', '.join(tools.missing)} not found ({tools.describe()})",
                             hint="put Vitis HLS and Vivado on PATH or pass --xilinx-settings .../settings64.sh")
        b.synthesis_status = [
            f"not done: Vitis HLS synthesis, Vivado implementation and the bitstream ({', '.join(tools.missing)} not found); "
            "the scripts are written (hls/hls.tcl, vivado/bd.tcl)",
            f"finish:   {finish}   (on a machine with Vitis HLS and Vivado)"]
        return
    logs = b.out_dir / "vivado" / "logs"
    run_plan(make_plan(scripts, tools, steps=["hls"]), logs, progress=b.progress)
    b.synthesis.update(_hls_achieved(b))
    _gate(b, "Vitis HLS synthesis is slower than the cycle model",
          "change the folding or the kernels, or pass --allow-slow to build the bitstream anyway (the summary then "
          "lists these as warnings)")
    run_plan(make_plan(scripts, tools, steps=["vivado"]), logs, progress=b.progress)
    b.synthesis["ran"] = True
    b.synthesis.update(_vivado_reports(b))
    _gate(b, "the implemented design misses its clock",
          "lower --clock-mhz or the folding, or pass --allow-slow to keep this bitstream anyway")
    write_json(b.out_dir / "report" / "synthesis.json", b.synthesis)
    b.synthesis_status = [f"synthesized: deploy/hwgen.bit + hwgen.hwh; {b.synthesis.get('summary', '')}", *_achieved_lines(b)]


def _hls_achieved(b: Build) -> dict:
    """Vitis HLS's report, and each process's loops and interval next to the cycle model (hwgen.synth.achieved)."""
    hls = parse_hls_design(csynth_report(b.out_dir).parent)
    model = {layer.name: layer.cycles for layer in b.estimates.layers}
    achieved = {**compare_hls(hls, b.design, model), "clock_mhz": b.clock_mhz, "allow_slow": b.config.allow_slow}
    return {"hls": asdict(hls.report), "achieved": achieved}


def _vivado_reports(b: Build) -> dict:
    """Post-implementation utilization and timing; timing not met is one more way to miss the model."""
    reports = vivado_reports(b.out_dir)
    util = parse_utilization(reports["utilization"])
    timing = parse_timing_summary(reports["timing_summary"])
    used = {k: util.used(k) for k in RESOURCE_KINDS}
    summary = (f"post-implementation {used['LUT']:,.0f} LUT, {used['BRAM36']:g} BRAM36, {used['DSP']:,.0f} DSP; "
               f"timing {'met' if timing.met else 'NOT met'} (WNS {timing.wns_ns:+.3f} ns)")
    achieved = b.synthesis["achieved"]
    achieved["timing"] = asdict(timing)
    problem = timing_problem(timing, b.clock_mhz)
    if problem:
        achieved["problems"].append(problem)
    return {"utilization": used, "timing": asdict(timing), "summary": summary}


def _gate(b: Build, what: str, hint: str) -> None:
    """Stop the build on the problems found so far (recorded in report/synthesis.json first), unless allow_slow."""
    problems = b.synthesis["achieved"]["problems"]
    record = b.out_dir / "report" / "synthesis.json"
    write_json(record, b.synthesis)
    if problems and not b.config.allow_slow:
        raise HwgenError(f"{what}:\n" + "\n".join(f"  - {p}" for p in problems), hint=f"{hint}; the numbers are in {record}")


def _achieved_lines(b: Build) -> list[str]:
    return summary_lines(b.synthesis.get("achieved", {}))
