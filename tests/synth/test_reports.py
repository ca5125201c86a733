"""Report parsers on hand-written samples in the formats Vitis HLS and Vivado print (tests/synth/samples/)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hwgen.errors import HwgenError
from hwgen.synth.reports import HlsLoop, parse_csynth_xml, parse_hls_design, parse_module_report
from hwgen.synth.vivado import parse_pl_clock, parse_timing_summary, parse_utilization

SAMPLES = Path(__file__).with_name("samples")


def test_csynth_xml_vitis_dataflow():
    """Vitis HLS 2024.2 layout, our DATAFLOW top with one frame's LOOP_TRIPCOUNT: latency and interval are numbers."""
    r = parse_csynth_xml(SAMPLES / "csynth.xml")
    assert (r.top, r.part, r.version) == ("hwgen_top", "xc7z020-clg400-1", "2024.2")
    assert (r.target_clock_ns, r.clock_uncertainty_ns, r.estimated_clock_ns) == (10.0, 2.7, 6.912)
    assert r.estimated_fmax_mhz == pytest.approx(144.68, abs=0.01)
    assert r.meets_clock
    # the processes' latencies 7 + 21 + 10 + 4 (the sample's ModuleInformation) and the slowest interval, 22
    assert r.latency_cycles == (42, 42) and r.interval_cycles == (22, 22)
    assert r.resources == {"LUT": 8127, "FF": 5312, "BRAM_18K": 6, "DSP": 0, "URAM": 0}
    assert r.available == {"LUT": 53200, "FF": 106400, "BRAM_18K": 280, "DSP": 220, "URAM": 0}


MVAU_0 = "mvau_16u_8u_4u_2u_1u_UInt_2u_Int_2u_Int_8u_UInt_2u_3u_0u_false_s"
MVAU_1 = "mvau_8u_4u_2u_4u_1u_UInt_2u_Int_2u_Int_6u_Int_6u_0u_0u_false_s"


def test_hls_design_instances_and_modules():
    """RTLDesignHierarchy in call order; each module's numbers from ModuleInformation, an outlined loop in its child."""
    d = parse_hls_design(SAMPLES)
    assert d.missing == ()
    assert [(i.name, i.module) for i in d.hierarchy.children] == [
        ("entry_proc_U0", "entry_proc"), ("axis_to_stream_8u_8u_4u_s_U0", "axis_to_stream_8u_8u_4u_s"),
        (f"{MVAU_0}_U0", MVAU_0), (f"{MVAU_1}_U0", MVAU_1), ("stream_to_axis_32u_24u_1u_s_U0", "stream_to_axis_32u_24u_1u_s")]
    first = d.hierarchy.children[2]
    assert first.modules() == [MVAU_0, f"{MVAU_0}_Pipeline_VITIS_LOOP_134_1"]
    assert d.modules[MVAU_0].interval_cycles == (22, 22) and d.modules[MVAU_0].loops == ()
    assert d.modules[f"{MVAU_0}_Pipeline_VITIS_LOOP_134_1"].loops == (HlsLoop("VITIS_LOOP_134_1", 16, 19, 1, 4),)
    assert d.modules[MVAU_1].latency_cycles == (10, 10) and d.modules[MVAU_1].interval_cycles == (11, 11)
    assert d.modules[MVAU_1].loops == (HlsLoop("VITIS_LOOP_134_1", 4, 8, 1, 5),)


def test_hls_design_reads_a_module_file_when_module_information_lacks_it(tmp_path):
    """Reports without ModuleInformation (Vitis before 2022) have <module>_csynth.xml: Interval-min/max there."""
    text = (SAMPLES / "csynth.xml").read_text()
    start = text.index(f"<Module>\n            <Name>{MVAU_1}</Name>")
    end = text.index("</Module>", start) + len("</Module>")
    (tmp_path / "csynth.xml").write_text(text[:start] + text[end:])
    d = parse_hls_design(tmp_path)
    assert d.missing == (MVAU_1,) and MVAU_1 not in d.modules
    shutil.copy(SAMPLES / f"{MVAU_1}_csynth.xml", tmp_path)
    d = parse_hls_design(tmp_path)
    assert d.missing == ()
    assert d.modules[MVAU_1].interval_cycles == (12, 12) and d.modules[MVAU_1].latency_cycles == (11, 11)
    assert d.modules[MVAU_1].loops == (HlsLoop("VITIS_LOOP_134_1", 4, 8, 1, 5),)  # the loop's tag is its name


def test_module_report_vivado_hls_nested_loops_and_ranges():
    """Vivado HLS 2019.2: an unpipelined outer loop (IterationLatency, no PipelineII) holding a pipelined inner
    loop, whose trip count and latency are <range>s: the most of each is kept."""
    m = parse_module_report(SAMPLES / "vivado_hls_2019_loop_csynth.xml")
    assert m.name == "Loop_1_proc"
    assert m.interval_cycles == (344065, 344065)
    assert m.loops == (HlsLoop("Loop1", 49152, 344064, None, 7), HlsLoop("Loop1.1", 3, 4, 2, 3))


def test_hls_design_without_hierarchy(tmp_path):
    """Vivado HLS's csynth.xml has no RTLDesignHierarchy: the design parses, with no instance tree."""
    shutil.copy(SAMPLES / "csynth_vivado_hls.xml", tmp_path / "csynth.xml")
    d = parse_hls_design(tmp_path)
    assert d.hierarchy is None and d.modules == {} and d.report.interval_cycles == (33, 34)


def test_csynth_xml_vivado_hls():
    """Vivado HLS 2019.2: DSP48E instead of DSP, numeric latency, an XML declaration."""
    r = parse_csynth_xml(SAMPLES / "csynth_vivado_hls.xml")
    assert (r.part, r.target_clock_ns, r.estimated_clock_ns) == ("xczu7ev-ffvc1156-2-e", 4.0, 3.421)
    assert r.latency_cycles == (131, 132) and r.interval_cycles == (33, 34)
    assert r.resources == {"LUT": 25904, "FF": 20671, "BRAM_18K": 14, "DSP": 12, "URAM": 2}
    assert r.available["DSP"] == 1728


def test_utilization_7series_without_prohibited_column():
    u = parse_utilization(SAMPLES / "utilization_7series_2019.rpt")
    assert u.family == "7series"
    assert (u.device, u.design_state) == ("7z020clg400-1", "Routed")
    assert u.tool_version.startswith("Vivado v.2019.1")
    assert u.resources == {"LUT": (6843, 53200), "FF": (9126, 106400), "BRAM36": (7.5, 140), "DSP": (0, 220)}
    assert u.used("URAM") == 0
    assert u.fraction("LUT") == pytest.approx(0.1286, abs=1e-4)


def test_utilization_7series_with_prohibited_column():
    """Vivado 2023.2: a Prohibited column and 'Slice LUTs*' (LUT combining); same numbers."""
    old = parse_utilization(SAMPLES / "utilization_7series_2019.rpt")
    new = parse_utilization(SAMPLES / "utilization_7series_2023.rpt")
    assert new.resources == old.resources
    assert new.device == "xc7z020clg400-1" and new.tool_version.startswith("Vivado v.2023.2")


def test_utilization_ultrascale_plus():
    u = parse_utilization(SAMPLES / "utilization_zynqus_2022.rpt")
    assert u.family == "ultrascale+"
    assert u.device == "xczu7ev-ffvc1156-2-e"
    assert u.resources == {"LUT": (7952, 230400), "FF": (11230, 460800), "BRAM36": (9.5, 312), "URAM": (2, 96),
                           "DSP": (4, 1728)}


def test_timing_summary_met():
    t = parse_timing_summary(SAMPLES / "timing_summary_met.rpt")
    assert (t.wns_ns, t.tns_ns, t.whs_ns, t.ths_ns, t.wpws_ns) == (1.482, 0.0, 0.019, 0.0, 3.75)
    assert t.failing_endpoints == 0
    assert t.met and t.constrained


def test_timing_summary_not_met():
    t = parse_timing_summary(SAMPLES / "timing_summary_failed.rpt")
    assert (t.wns_ns, t.tns_ns, t.whs_ns) == (-0.412, -37.519, 0.010)
    assert t.failing_endpoints == 212
    assert not t.met and t.constrained


def test_timing_summary_unconstrained(tmp_path):
    """No clock constraints: Vivado prints inf / NA; that is not a met design."""
    text = (SAMPLES / "timing_summary_met.rpt").read_text()
    lines = text.splitlines()
    i = next(i for i, l in enumerate(lines) if l.strip().startswith("1.482"))
    lines[i] = "        inf        0.000                      0                    0          inf        0.000" \
               "                      0                    0           NA           NA                      NA" \
               "                    NA  "
    text = "\n".join(lines).replace("All user specified timing constraints are met.",
                                    "There are no user specified timing constraints.")
    (tmp_path / "t.rpt").write_text(text)
    t = parse_timing_summary(tmp_path / "t.rpt")
    assert t.wns_ns == float("inf") and t.wpws_ns is None
    assert not t.constrained and not t.met


def test_pl_clock(tmp_path):
    (tmp_path / "pl_clock.txt").write_text("requested_mhz 150\nactual_mhz 142.857132\n")
    assert parse_pl_clock(tmp_path / "pl_clock.txt") == {"requested_mhz": 150.0, "actual_mhz": 142.857132}


@pytest.mark.parametrize("parse,sample,message", [
    (parse_utilization, "not_a_report.txt", "is not a Vivado report_utilization report: expected a '| Site Type | Used"),
    (parse_utilization, "timing_summary_met.rpt", "is not a Vivado report_utilization report"),
    (parse_timing_summary, "utilization_zynqus_2022.rpt",
     "is not a Vivado report_timing_summary report: expected a 'Design Timing Summary'"),
    (parse_csynth_xml, "not_a_report.txt", "is not a Vitis HLS csynth.xml: expected XML"),
    (parse_pl_clock, "not_a_report.txt", "is not hwgen's pl_clock.txt"),
    (parse_module_report, "timing_summary_met.rpt", "is not a Vitis HLS csynth report: expected XML"),
    (parse_module_report, "utilization_7series_2019.rpt", "is not a Vitis HLS csynth report: expected XML"),
])
def test_unrecognized_files(parse, sample, message):
    with pytest.raises(HwgenError, match=message.replace("|", r"\|").replace("(", r"\(")) as info:
        parse(SAMPLES / sample)
    assert sample in str(info.value)


def test_other_xml_and_missing_file(tmp_path):
    (tmp_path / "component.xml").write_text('<spirit:component xmlns:spirit="x"/>')
    with pytest.raises(HwgenError, match="is not a Vitis HLS csynth.xml: expected <profile>"):
        parse_csynth_xml(tmp_path / "component.xml")
    with pytest.raises(HwgenError, match=r"component.xml is not a Vitis HLS <module>_csynth.xml: expected <profile> with "
                                         r"UserAssignments/TopModelName and PerformanceEstimates, found <\{x\}component>"):
        parse_module_report(tmp_path / "component.xml")
    with pytest.raises(HwgenError, match="report .*missing.rpt does not exist"):
        parse_utilization(tmp_path / "missing.rpt")
