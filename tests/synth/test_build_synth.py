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


def fake_tools(bin_dir: Path) -> None:
    """vitis_hls / vivado stand-ins that write the products the real tools write (sample reports)."""
    bin_dir.mkdir()
    hls = f"""#!/bin/sh
[ "$1" = "-f" ] && [ -f "$2" ] || exit 2
grep -q csynth_design "$2" || exit 3
mkdir -p hwgen_hls/solution1/syn/report hwgen_hls/solution1/impl/ip
cp {SAMPLES}/csynth.xml hwgen_hls/solution1/syn/report/csynth.xml
echo '<component/>' > hwgen_hls/solution1/impl/ip/component.xml
echo "INFO: [HLS 200-111] Finished Command csynth_design"
"""
    vivado = f"""#!/bin/sh
while [ $# -gt 0 ]; do [ "$1" = "-source" ] && script="$2"; shift; done
grep -q write_bitstream "$script" || exit 3
mkdir -p reports ../deploy
cp {SAMPLES}/utilization_7series_2023.rpt reports/utilization.rpt
cp {SAMPLES}/timing_summary_met.rpt reports/timing_summary.rpt
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
    assert "synthesized" in (tmp_path / "b/report/summary.txt").read_text()


def test_synth_command_finishes_a_build(tmp_path):
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + "/usr/bin:/bin"}
    out = tmp_path / "b"
    run = lambda *args, env=env: subprocess.run([sys.executable, "-m", "hwgen", *args], capture_output=True, text=True, env=env)
    first = run("build", "--out", str(out), "--verify-frames", "5")
    assert first.returncode == 0, first.stderr
    assert f"python -m hwgen synth {out}" in first.stdout
    missing = run("synth", str(out))
    assert missing.returncode == 2 and "error: a bitstream was required" in missing.stderr and "Traceback" not in missing.stderr
    fake_tools(tmp_path / "bin")
    done = run("synth", str(out), env={**env, "PATH": str(tmp_path / "bin") + os.pathsep + env["PATH"]})
    assert done.returncode == 0, done.stderr
    assert (out / "deploy/hwgen.bit").is_file() and "synthesized" in done.stdout
