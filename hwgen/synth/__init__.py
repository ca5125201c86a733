"""Synthesis with the Xilinx tools: scripts (scripts.py), tool location and runs (tools.py), reports (reports.py: Vitis
HLS; vivado.py: Vivado), and what synthesis achieved against the cycle model (achieved.py: loop IIs, process
intervals, timing).

Everything up to the tools' boundary works without them: the scripts are written and checked
here; Vitis HLS and Vivado run only through tools.run_plan, when find_tools finds them.
"""

from hwgen.synth.reports import HlsDesign, HlsLoop, HlsModule, HlsReport, parse_csynth_xml, parse_hls_design, parse_module_report
from hwgen.synth.scripts import IP_VLNV, write_scripts
from hwgen.synth.tools import (
    StepResult,
    ToolPlan,
    Tools,
    ToolStep,
    find_tools,
    make_plan,
    run_plan,
)
from hwgen.synth.vivado import Timing, Utilization, parse_pl_clock, parse_timing_summary, parse_utilization

__all__ = [
    "IP_VLNV",
    "HlsDesign",
    "HlsLoop",
    "HlsModule",
    "HlsReport",
    "StepResult",
    "Timing",
    "ToolPlan",
    "ToolStep",
    "Tools",
    "Utilization",
    "find_tools",
    "make_plan",
    "parse_csynth_xml",
    "parse_hls_design",
    "parse_module_report",
    "parse_pl_clock",
    "parse_timing_summary",
    "parse_utilization",
    "run_plan",
    "write_scripts",
]
