"""hwgen build with and without the Xilinx tools: the synth step, the deploy metadata, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import hwgen
from hwgen.errors import HwgenError

SAMPLES = Path(__file__).parent / "samples"


REPO = Path(__file__).resolve().parents[2]


def fake_tools(bin_dir: Path) -> None:
    """vitis_hls / vivado stand-ins that write the products the real tools write: csynth.xml of the build's own
    design in the Vitis HLS 2024.2 layout (tests/synth/hls_reports.py: every loop at II=1 unless HWGEN_FAKE_II
    says otherwise), Vivado's reports from the samples (timing met, or not with HWGEN_FAKE_TIMING=failed)."""
    bin_dir.mkdir()
    hls = f"""#!/bin/sh
[ "$1" = "-f" ] && [ -f "$2" ] || exit 2
grep -q csynth_design "$2" || exit 3
PYTHONPATH={REPO} {sys.executable} -m tests.synth.hls_reports .. || exit 4
mkdir -p hwgen_hls/solution1/impl/ip
echo '<component/>' > hwgen_hls/solution1/impl/ip/component.xml
echo "INFO: [HLS 200-111] Finished Command csynth_design"
"""
    vivado = f"""#!/bin/sh
while [ $# -gt 0 ]; do [ "$1" = "-source" ] && script="$2"; shift; done
grep -q write_bitstream "$script" || exit 3
mkdir -p reports ../deploy
cp {SAMPLES}/utilization_7series_2023.rpt reports/utilization.rpt
cp {SAMPLES}/timing_summary_${{HWGEN_FAKE_TIMING:-met}}.rpt reports/timing_summary.rpt
echo bit > ../deploy/hwgen.bit
echo hwh > ../deploy/hwgen.hwh
echo "Phase 1 Placer Initialization"
"""
    for name, body in (("vitis_hls", hls), ("vivado", vivado)):
        (bin_dir / name).write_text(body)
        (bin_dir / name).chmod(0o755)


def test_hls_project_names_match_the_fakes():
    from hwgen.synth.scripts import csynth_report, hls_export_dir

    assert csynth_report(Path("b")) == Path("b/hls/hwgen_hls/solution1/syn/report/csynth.xml")
    assert hls_export_dir(Path("b")) == Path("b/hls/hwgen_hls/solution1/impl/ip")


def test_without_tools_the_build_finishes_and_says_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + "/usr/bin:/bin")
    b = hwgen.build(out_dir=tmp_path / "b", verify_frames=10)
    assert not b.synthesis["ran"]
    assert (tmp_path / "b/hls/hls.tcl").is_file() and (tmp_path / "b/vivado/bd.tcl").is_file()
    assert any("not found" in line for line in b.synthesis_status)
    assert json.loads((tmp_path / "b/deploy/accelerator.json").read_text())["bitstream"] is None
    with pytest.raises(HwgenError, match="a bitstream was required, but vitis_hls, vivado not found"):
        hwgen.build(out_dir=tmp_path / "b", verify_frames=10, require_bitstream=True)
    assert json.loads((tmp_path / "b/hwgen.json").read_text())["status"] == "failed"
    assert not (tmp_path / "b/deploy/accelerator.json").exists()


def test_with_tools_the_bitstream_lands_in_deploy(tmp_path, monkeypatch):
    fake_tools(tmp_path / "bin")
    monkeypatch.setenv("PATH", str(tmp_path / "bin") + os.pathsep + os.environ["PATH"])
    b = hwgen.build(out_dir=tmp_path / "b", verify_frames=10, require_bitstream=True)
    assert b.synthesis["ran"]
    meta = json.loads((tmp_path / "b/deploy/accelerator.json").read_text())
    assert meta["bitstream"] == "hwgen.bit"
    report = json.loads((tmp_path / "b/report/synthesis.json").read_text())
    assert report["utilization"]["LUT"] > 0 and report["timing"]["met"] is True
    achieved = report["achieved"]
    assert achieved["problems"] == [] and achieved["notes"] == []
    # every layer (and the two port processes) checked, each against the model's cycles from estimates.json
    model = {l["name"]: l["cycles"] for l in json.loads((tmp_path / "b/report/estimates.json").read_text())["layers"]}
    assert [p["layer"] for p in achieved["processes"]] == ["input", *model, "output"]
    assert all(p["model_cycles"] == model[p["layer"]] and p["max_ii"] == 1 for p in achieved["processes"][1:-1])
    summary = (tmp_path / "b/report/summary.txt").read_text()
    assert "synthesized" in summary and "HLS  II" in summary and "II=1 in all pipelined loops" in summary
    assert "timing:   met at 100 MHz (WNS +1.482 ns)" in summary


def fake_path(tmp_path: Path, monkeypatch, **env) -> None:
    if not (tmp_path / "bin").exists():
        fake_tools(tmp_path / "bin")
    monkeypatch.setenv("PATH", str(tmp_path / "bin") + os.pathsep + os.environ["PATH"])
    for key, value in env.items():
        monkeypatch.setenv(key, value)


def test_loop_at_ii_2_stops_the_build_before_vivado(tmp_path, monkeypatch):
    fake_path(tmp_path, monkeypatch, HWGEN_FAKE_II="MVAU_1=2")
    with pytest.raises(HwgenError, match=r"(?s)Vitis HLS synthesis is slower than the cycle model:\n"
                                         r"  - MVAU_1: loop VITIS_LOOP_122_1 \(mvau_2u_8u_s_Pipeline_VITIS_LOOP_122_1\) "
                                         r"runs at II=2, not 1 over 8 iterations\n.*--allow-slow") as info:
        hwgen.build(out_dir=tmp_path / "b", verify_frames=10)
    # the fake's MVAU_1 loop: 8 iterations at II=2, depth 4 -> 18 cycles; its process 18 + 2 = 20, interval 21,
    # above the model's 8 + 4 (depth) + 8 (call)
    assert "MVAU_1: 21 cycles a frame in Vitis HLS (interval of mvau_2u_8u_s_U0), the cycle model's 8 (+ 12 for " \
           "pipeline fill and the call)" in str(info.value)
    report = json.loads((tmp_path / "b/report/synthesis.json").read_text())
    assert report["ran"] is False and len(report["achieved"]["problems"]) == 2
    assert {p["layer"]: p["max_ii"] for p in report["achieved"]["processes"]}["MVAU_1"] == 2
    assert not (tmp_path / "b/deploy/hwgen.bit").exists()  # Vivado never ran
    assert json.loads((tmp_path / "b/hwgen.json").read_text())["status"] == "failed"


def test_timing_not_met_fails_the_build(tmp_path, monkeypatch):
    fake_path(tmp_path, monkeypatch, HWGEN_FAKE_TIMING="failed")
    with pytest.raises(HwgenError, match=r"the implemented design misses its clock:\n  - timing not met after Vivado "
                                         r"implementation at 100 MHz: WNS -0.412 ns, TNS -37.519 ns, WHS \+0.010 ns, "
                                         r"212 failing endpoints"):
        hwgen.build(out_dir=tmp_path / "b", verify_frames=10)
    report = json.loads((tmp_path / "b/report/synthesis.json").read_text())
    assert report["timing"]["met"] is False and report["achieved"]["timing"]["wns_ns"] == -0.412
    assert not (tmp_path / "b/deploy/accelerator.json").exists()


def test_allow_slow_continues_with_warnings(tmp_path, monkeypatch):
    fake_path(tmp_path, monkeypatch, HWGEN_FAKE_II="MVAU_1=2", HWGEN_FAKE_TIMING="failed")
    b = hwgen.build(out_dir=tmp_path / "b", verify_frames=10, allow_slow=True)
    assert b.synthesis["ran"] and json.loads((tmp_path / "b/deploy/accelerator.json").read_text())["bitstream"] == "hwgen.bit"
    summary = (tmp_path / "b/report/summary.txt").read_text()
    assert "WARNING: (--allow-slow) MVAU_1: loop VITIS_LOOP_122_1" in summary
    assert "WARNING: (--allow-slow) timing not met after Vivado implementation at 100 MHz: WNS -0.412 ns" in summary
    # the layer table: MVAU_1's row holds Vitis HLS's interval (21) and II (2) next to the model's 8 cycles
    row = next(line for line in summary.splitlines() if line.startswith("MVAU_1 "))
    assert row.split()[-6:-3] == ["8", "21", "2"]
    report = json.loads((tmp_path / "b/report/synthesis.json").read_text())
    assert report["achieved"]["allow_slow"] is True and len(report["achieved"]["problems"]) == 3


def test_synth_command_finishes_a_build(tmp_path):
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + "/usr/bin:/bin"}
    out = tmp_path / "b"

    def run(*args, env=env):
        return subprocess.run([sys.executable, "-m", "hwgen", *args], capture_output=True, text=True, env=env)

    first = run("build", "--out", str(out), "--verify-frames", "5")
    assert first.returncode == 0, first.stderr
    assert f"python -m hwgen synth {out}" in first.stdout
    helped = run("synth", "--help")
    assert "--allow-slow" in helped.stdout and "unless --allow-slow" in helped.stdout
    missing = run("synth", str(out))
    assert missing.returncode == 2 and "error: a bitstream was required" in missing.stderr and "Traceback" not in missing.stderr
    fake_tools(tmp_path / "bin")
    tools = {**env, "PATH": str(tmp_path / "bin") + os.pathsep + env["PATH"]}
    slow = run("synth", str(out), env={**tools, "HWGEN_FAKE_II": "MVAU_0=2"})
    assert slow.returncode == 2 and "Traceback" not in slow.stderr
    assert "error: Vitis HLS synthesis is slower than the cycle model:\n  - MVAU_0: loop VITIS_LOOP_120_1" in slow.stderr
    assert "--allow-slow" in slow.stderr
    allowed = run("synth", str(out), "--allow-slow", env={**tools, "HWGEN_FAKE_II": "MVAU_0=2"})
    assert allowed.returncode == 0, allowed.stderr
    assert "WARNING: (--allow-slow) MVAU_0: loop VITIS_LOOP_120_1" in allowed.stdout
    done = run("synth", str(out), env=tools)
    assert done.returncode == 0, done.stderr
    assert (out / "deploy/hwgen.bit").is_file() and "synthesized" in done.stdout and "WARNING" not in done.stdout
