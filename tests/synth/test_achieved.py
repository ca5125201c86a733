"""Synthesis against the cycle model (hwgen.synth.achieved) on Vitis HLS reports in the 2024.2 layout.

tests/synth/samples/csynth.xml is the report of the two-MVAU design of test_scripts.small_graph:
    axis_to_stream (4 words of 8 bits), MVAU_0 (16 -> 8, SIMD 4, PE 2; its loop outlined into a child
    module, as Vitis 2022+ does), MVAU_1 (8 -> 4, SIMD 2, PE 4; its loop in the module), stream_to_axis.
The model's cycles, by hand: MVAU_0 (8 / 2) x (16 / 4) = 16, MVAU_1 (4 / 4) x (8 / 2) = 4; the input
port 16 / 4 = 4 words, the output 4 / 4 = 1 word. Allowed interval: model + the loops' pipeline depths
+ CALL_CYCLES (8): input 4 + 2 + 8 = 14, MVAU_0 16 + 4 + 8 = 28, MVAU_1 4 + 5 + 8 = 17, output 1 + 2 + 8 = 11.
The sample's intervals are 8, 22, 11 and 5.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hwgen.codegen.render import make_design
from hwgen.synth.achieved import CALL_CYCLES, compare_hls, layer_numbers, summary_lines, timing_problem
from hwgen.synth.reports import parse_hls_design
from hwgen.synth.vivado import parse_timing_summary
from tests.synth.tcl import small_graph

SAMPLES = Path(__file__).with_name("samples")
MVAU_0 = "mvau_16u_8u_4u_2u_1u_UInt_2u_Int_2u_Int_8u_UInt_2u_3u_0u_false_s"
MVAU_1 = "mvau_8u_4u_2u_4u_1u_UInt_2u_Int_2u_Int_6u_Int_6u_0u_0u_false_s"
MODEL = {"MVAU_0": 16, "MVAU_1": 4}


@pytest.fixture(scope="module")
def design():
    d = make_design(small_graph())
    assert [(l.name, l.function) for l in d.layers] == [("MVAU_0", "mvau"), ("MVAU_1", "mvau")]
    assert (d.input.words, d.output.words) == (4, 1)
    return d


def edited(tmp_path: Path, module: str, old: str, new: str, source: Path = SAMPLES) -> Path:
    """`source`'s report (the sample) with `old` replaced by `new` inside `module`'s ModuleInformation entry."""
    text = (source / "csynth.xml").read_text()
    start = text.index(f"<Name>{module}</Name>")
    end = text.index("</Module>", start)
    assert old in text[start:end]
    (tmp_path / "csynth.xml").write_text(text[:start] + text[start:end].replace(old, new) + text[end:])
    return tmp_path


def test_ii_1_everywhere_passes(design):
    out = compare_hls(parse_hls_design(SAMPLES), design, MODEL)
    assert out["problems"] == [] and out["notes"] == []
    rows = [(p["layer"], p["model_cycles"], p["interval"], p["allowed_interval"], p["max_ii"]) for p in out["processes"]]
    assert rows == [("input", 4, 8, 14, 1), ("MVAU_0", 16, 22, 28, 1), ("MVAU_1", 4, 11, 17, 1), ("output", 1, 5, 11, 1)]
    assert CALL_CYCLES == 8  # the allowances above are worked out with it
    mvau0 = out["processes"][1]
    assert mvau0["instance"] == f"{MVAU_0}_U0"
    assert mvau0["loops"] == [{"module": f"{MVAU_0}_Pipeline_VITIS_LOOP_134_1", "name": "VITIS_LOOP_134_1", "trip_count": 16,
                               "ii": 1, "depth": 4, "latency": 19}]
    assert layer_numbers(out) == {"input": (8, 1), "MVAU_0": (22, 1), "MVAU_1": (11, 1), "output": (5, 1)}


def test_loop_at_ii_2_fails_naming_the_layer(design, tmp_path):
    # MVAU_1's loop at II=2: its interval 15 stays within 17, the II alone is the problem
    report = edited(tmp_path, MVAU_1, "<PipelineII>1</PipelineII>", "<PipelineII>2</PipelineII>")
    report = edited(report, MVAU_1, "<PipelineInitiationInterval>11<", "<PipelineInitiationInterval>15<", source=report)
    out = compare_hls(parse_hls_design(report), design, MODEL)
    assert out["problems"] == [f"MVAU_1: loop VITIS_LOOP_134_1 ({MVAU_1}) runs at II=2, not 1 over 4 iterations"]
    assert layer_numbers(out)["MVAU_1"] == (15, 2)


def test_outlined_loop_at_ii_2_is_the_layers(design, tmp_path):
    """A loop Vitis moved into a child module still belongs to the layer whose process holds it."""
    child = f"{MVAU_0}_Pipeline_VITIS_LOOP_134_1"
    out = compare_hls(parse_hls_design(edited(tmp_path, child, "<PipelineII>1</PipelineII>", "<PipelineII>2</PipelineII>")),
                      design, MODEL)
    assert out["problems"] == [f"MVAU_0: loop VITIS_LOOP_134_1 ({child}) runs at II=2, not 1 over 16 iterations"]


def test_interval_above_the_model_fails(design, tmp_path):
    # MVAU_0 at 29 cycles a frame: one above its 28 allowed (16 + depth 4 + 8); at 28 it passes
    at_limit = compare_hls(parse_hls_design(edited(tmp_path, MVAU_0, "<PipelineInitiationInterval>22<",
                                                   "<PipelineInitiationInterval>28<")), design, MODEL)
    assert at_limit["problems"] == []
    over = compare_hls(parse_hls_design(edited(tmp_path, MVAU_0, "<PipelineInitiationInterval>22<",
                                               "<PipelineInitiationInterval>29<")), design, MODEL)
    assert over["problems"] == [f"MVAU_0: 29 cycles a frame in Vitis HLS (interval of {MVAU_0}_U0), the cycle model's 16 "
                                "(+ 12 for pipeline fill and the call)"]


def test_port_process_above_its_words_fails(design, tmp_path):
    # the input converter takes 4 words a frame; 30 cycles is above 4 + 2 + 8
    report = edited(tmp_path, "axis_to_stream_8u_8u_4u_s", "<PipelineInitiationInterval>8<", "<PipelineInitiationInterval>30<")
    out = compare_hls(parse_hls_design(report), design, MODEL)
    assert out["problems"] == ["input: 30 cycles a frame in Vitis HLS (interval of axis_to_stream_8u_8u_4u_s_U0), the cycle "
                               "model's 4 (+ 10 for pipeline fill and the call)"]


def test_model_cycles_come_from_the_caller(design):
    """The same report against a model claiming MVAU_0 takes 8 cycles: 22 > 8 + 12."""
    out = compare_hls(parse_hls_design(SAMPLES), design, {**MODEL, "MVAU_0": 8})
    assert out["problems"] == [f"MVAU_0: 22 cycles a frame in Vitis HLS (interval of {MVAU_0}_U0), the cycle model's 8 "
                               "(+ 12 for pipeline fill and the call)"]


def test_interval_not_reported_is_a_note(design, tmp_path):
    """No interval (a loop bound without LOOP_TRIPCOUNT): a note, not a pass or a failure."""
    report = edited(tmp_path, MVAU_1, "<PipelineInitiationInterval>11<", "<PipelineInitiationInterval>undef<")
    out = compare_hls(parse_hls_design(report), design, MODEL)
    assert out["problems"] == []
    assert out["notes"] == [f"MVAU_1: Vitis HLS gives no interval for {MVAU_1} (a loop without LOOP_TRIPCOUNT): its cycles "
                            "were not checked"]
    assert layer_numbers(out)["MVAU_1"] == (None, 1)


def test_processes_that_do_not_match_the_layers_are_not_guessed(design, tmp_path):
    """One mvau process for two MVAU layers: neither is checked (none is paired with the wrong layer)."""
    text = (SAMPLES / "csynth.xml").read_text().replace(f"<ModuleName>{MVAU_0}</ModuleName>", "<ModuleName>thresholding_x_s</ModuleName>")
    (tmp_path / "csynth.xml").write_text(text)
    out = compare_hls(parse_hls_design(tmp_path), design, MODEL)
    assert out["problems"] == []
    assert out["notes"] == [
        "the Vitis HLS report has 1 mvau processes for 2 layers (MVAU_0, MVAU_1): their loops and intervals were not checked",
        f"Vitis HLS process {MVAU_0}_U0 (thresholding_x_s) matches no layer",
        f"Vitis HLS process {MVAU_1}_U0 ({MVAU_1}) matches no layer"]
    assert [p["layer"] for p in out["processes"]] == ["input", "output"]


def test_report_without_hierarchy_says_so(design, tmp_path):
    shutil.copy(SAMPLES / "csynth_vivado_hls.xml", tmp_path / "csynth.xml")
    out = compare_hls(parse_hls_design(tmp_path), design, MODEL)
    assert out["processes"] == [] and out["problems"] == []
    assert out["notes"] == ["csynth.xml has no RTLDesignHierarchy (Vitis HLS 2022.1 or later writes it): loops and "
                            "intervals per layer were not checked"]


def test_timing():
    assert timing_problem(parse_timing_summary(SAMPLES / "timing_summary_met.rpt"), 100.0) is None
    assert timing_problem(parse_timing_summary(SAMPLES / "timing_summary_failed.rpt"), 150.0) == (
        "timing not met after Vivado implementation at 150 MHz: WNS -0.412 ns, TNS -37.519 ns, WHS +0.010 ns, "
        "212 failing endpoints")


def test_summary_lines(design, tmp_path):
    report = edited(tmp_path, MVAU_1, "<PipelineII>1</PipelineII>", "<PipelineII>2</PipelineII>")
    out = {**compare_hls(parse_hls_design(report), design, MODEL), "clock_mhz": 100.0, "allow_slow": True}
    lines = summary_lines(out)
    assert lines[0] == ("achieved: Vitis HLS 4 loops in 4 processes, II up to 2; 4 of 4 intervals within the model's cycles "
                        "(+ pipeline fill); input port 8 cycles a frame for 4 words; output port 5 cycles a frame for 1 word")
    assert lines[1] == f"WARNING: (--allow-slow) MVAU_1: loop VITIS_LOOP_134_1 ({MVAU_1}) runs at II=2, not 1 over 4 iterations"
