"""Tool location and runs, with fake vitis_hls / vivado executables written by the tests."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from hwgen.boards import load_board
from hwgen.errors import HwgenError, ToolError
from hwgen.synth import scripts
from hwgen.synth.scripts import tcl_word, write_scripts
from hwgen.synth.tools import ToolPlan, Tools, ToolStep, find_tools, make_plan, run_plan
from tests.synth.tcl import STUBS, hls_axis


def fake_tool(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def isolated_path(*folders: Path) -> str:
    """PATH with the given folders and the system's basic tools, without any real Xilinx install."""
    return os.pathsep.join([str(f) for f in folders] + ["/usr/bin", "/bin"])


def plan_for(tmp_path: Path, tools: Tools, product: Path | None = None) -> ToolPlan:
    work = tmp_path / "hls"
    work.mkdir(exist_ok=True)
    (work / "hls.tcl").write_text("# script\n")
    script_set = {"files": [work / "hls.tcl"], "commands": {"hls": ["vitis_hls", "-f", "hls.tcl"]}, "cwd": {"hls": work},
                  "products": {"hls": [product] if product else []}}
    return make_plan(script_set, tools)


# -- find_tools -------------------------------------------------------------------------------------------
def test_find_tools_on_path(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    fake_tool(bin_dir, "vitis_hls", "exit 0\n")
    fake_tool(bin_dir, "vivado", "exit 0\n")
    monkeypatch.setenv("PATH", isolated_path(bin_dir))
    tools = find_tools()
    assert tools.complete and tools.missing == ()
    assert (tools.hls, tools.hls_kind, tools.vivado) == (str(bin_dir / "vitis_hls"), "vitis_hls", str(bin_dir / "vivado"))
    assert tools.argv(["vitis_hls", "-f", "hls.tcl"]) == [str(bin_dir / "vitis_hls"), "-f", "hls.tcl"]


def test_find_tools_reports_absence_without_raising(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    fake_tool(bin_dir, "vivado", "exit 0\n")
    monkeypatch.setenv("PATH", isolated_path(bin_dir))
    tools = find_tools()
    assert tools.missing == ("vitis_hls",) and not tools.complete
    assert "vitis_hls: not found" in tools.describe() and "searched PATH" in tools.describe()
    with pytest.raises(ToolError, match="vitis_hls \\(or vitis-run\\) was not found") as info:
        plan_for(tmp_path, tools)
    assert "settings64.sh" in str(info.value)  # the hint says how to provide the tools
    assert find_tools(path=str(tmp_path / "nothing")).missing == ("vitis_hls", "vivado")


def test_vitis_run_stands_in_for_vitis_hls(tmp_path, monkeypatch):
    """Vitis 2023.2+: only vitis-run; `vitis_hls -f X` runs as `vitis-run --mode hls --tcl X`."""
    bin_dir = tmp_path / "bin"
    fake_tool(bin_dir, "vitis-run", 'echo "$@" > args.txt\n')
    fake_tool(bin_dir, "vivado", "exit 0\n")
    monkeypatch.setenv("PATH", isolated_path(bin_dir))
    tools = find_tools()
    assert tools.hls_kind == "vitis-run" and tools.complete
    plan = plan_for(tmp_path, tools)
    assert plan.steps[0].argv == (str(bin_dir / "vitis-run"), "--mode", "hls", "--tcl", "hls.tcl")
    run_plan(plan, tmp_path / "logs")
    assert (tmp_path / "hls" / "args.txt").read_text() == "--mode hls --tcl hls.tcl\n"
    with pytest.raises(HwgenError, match="only 'vitis_hls -f SCRIPT' can run as vitis-run"):
        tools.argv(["vitis_hls", "-i"])


def test_tools_through_a_settings_script(tmp_path, monkeypatch):
    """The tools are not on PATH; a settings64.sh puts them there for each command only."""
    xilinx = tmp_path / "Xilinx" / "bin"
    fake_tool(xilinx, "vitis_hls", 'echo "XILINX_VIVADO=$XILINX_VIVADO cwd=$(pwd) args=$*"\n'
                                   'echo "INFO: [HLS 200-1510] Running: csynth_design"\n')
    fake_tool(xilinx, "vivado", "exit 0\n")
    settings = tmp_path / "Xilinx" / "settings64.sh"
    settings.write_text(f'export PATH="{xilinx}:$PATH"\nexport XILINX_VIVADO="{tmp_path / "Xilinx"}"\necho sourced\n')
    monkeypatch.setenv("PATH", isolated_path())
    assert find_tools().missing == ("vitis_hls", "vivado")

    tools = find_tools(settings=settings)
    assert tools.complete and tools.settings == (settings,)
    assert tools.hls == str(xilinx / "vitis_hls")
    plan = plan_for(tmp_path, tools)
    argv = plan.steps[0].argv
    assert argv[:2] == ("bash", "-c") and f"source {settings}" in argv[2]
    assert argv[3:] == ("hwgen", str(xilinx / "vitis_hls"), "-f", "hls.tcl")
    lines = []
    [result] = run_plan(plan, tmp_path / "logs", progress=lines.append)
    log = (tmp_path / "logs" / "hls.log").read_text()
    assert f"XILINX_VIVADO={tmp_path / 'Xilinx'} cwd={tmp_path / 'hls'} args=-f hls.tcl" in log
    assert "hls: INFO: [HLS 200-1510] Running: csynth_design" in lines
    assert result.returncode == 0 and result.log == tmp_path / "logs" / "hls.log"

    missing = find_tools(settings=tmp_path / "nope" / "settings64.sh")
    assert missing.missing == ("vitis_hls", "vivado")
    assert "settings script" in missing.describe() and "does not exist" in missing.describe()


# -- run_plan ---------------------------------------------------------------------------------------------
def test_run_plan_success_streams_progress_and_log(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    product = tmp_path / "hls" / "out" / "csynth.xml"
    fake_tool(bin_dir, "vitis_hls", """echo "INFO: [HLS 200-10] Setting up"
echo "INFO: [HLS 200-1510] Running: csynth_design"
echo "some chatter"
echo "CRITICAL WARNING: [HLS 200-885] II not met"
mkdir -p out && echo '<profile/>' > out/csynth.xml
echo "hwgen: exported the IP"
""")
    fake_tool(bin_dir, "vivado", "exit 0\n")
    monkeypatch.setenv("PATH", isolated_path(bin_dir))
    (tmp_path / "hls" / "out").mkdir(parents=True)
    product.write_text("stale")  # removed before the run, so a result is always this run's
    plan = plan_for(tmp_path, find_tools(), product)
    lines = []
    [result] = run_plan(plan, tmp_path / "logs", progress=lines.append)
    assert product.read_text() == "<profile/>\n"
    assert result.warnings == ["CRITICAL WARNING: [HLS 200-885] II not met"]
    assert "hls: INFO: [HLS 200-1510] Running: csynth_design" in lines and "hls: hwgen: exported the IP" in lines
    assert not any("some chatter" in l for l in lines)
    assert lines[-1].startswith("hls: done in ")
    assert "some chatter" in (tmp_path / "logs" / "hls.log").read_text()


def test_run_plan_failure_raises_with_error_lines(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    noise = "".join(f'echo "INFO: [HLS 200-111] step {i}"\n' for i in range(40))
    fake_tool(bin_dir, "vitis_hls", 'echo "INFO: [HLS 200-1510] Running: csynth_design"\n'
                                    'echo "ERROR: [HLS 214-124] use of undeclared identifier \'x\' (top.cpp:12:5)"\n'
                                    + noise + 'echo "last words" >&2\nexit 1\n')
    fake_tool(bin_dir, "vivado", "exit 0\n")
    monkeypatch.setenv("PATH", isolated_path(bin_dir))
    plan = plan_for(tmp_path, find_tools())
    with pytest.raises(ToolError, match=r"vitis_hls failed in step 'hls' \(exit 1\)") as info:
        run_plan(plan, tmp_path / "logs")
    message = str(info.value)
    assert "ERROR: [HLS 214-124] use of undeclared identifier 'x' (top.cpp:12:5)" in message
    assert "last words" in message and "step 39" in message  # the last lines, stderr included
    assert "step 3\n" not in message  # not the whole log
    assert info.value.where == str(tmp_path / "logs" / "hls.log")


def test_run_plan_missing_product(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    fake_tool(bin_dir, "vitis_hls", 'echo "hwgen: nothing written"\n')
    fake_tool(bin_dir, "vivado", "exit 0\n")
    monkeypatch.setenv("PATH", isolated_path(bin_dir))
    product = tmp_path / "hls" / "csynth.xml"
    with pytest.raises(ToolError, match=r"step 'hls' exited 0 but did not write .*csynth.xml"):
        run_plan(plan_for(tmp_path, find_tools(), product), tmp_path / "logs")


def test_run_plan_refuses_a_plan_without_its_files(tmp_path):
    plan = ToolPlan((tmp_path / "hls.tcl",), (ToolStep("hls", "vitis_hls", ("true",), tmp_path),))
    with pytest.raises(HwgenError, match="the plan's files are missing: .*hls.tcl"):
        run_plan(plan, tmp_path / "logs")


# -- the whole chain: write_scripts -> make_plan -> run_plan, fake tools running the scripts under tclsh ----
@pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh (Tcl 8.6) is not installed")
def test_scripts_run_through_fake_tools(build, tmp_path, monkeypatch):  # noqa: F811
    build_dir, design, vectors = build
    board = load_board("zcu104")
    out = write_scripts(build_dir, board, design, 200.0, cosim=True, vectors=vectors, jobs=2)
    run_dir = tmp_path / "impl_1"
    run_dir.mkdir()
    (run_dir / f"{scripts.BD_NAME}_wrapper.bit").write_bytes(b"bitstream")
    (run_dir / f"{scripts.BD_NAME}.hwh").write_text("<hwh/>")
    driver = tmp_path / "driver.tcl"
    driver.write_text(f"set ::stub(log) {tcl_word(tmp_path / 'calls.log')}\nset ::stub(run_dir) {tcl_word(run_dir)}\n"
                      f"set ::stub(board_parts) {tcl_word(board.board_part)}\nset ::stub(hls_axis) {tcl_word(hls_axis(design))}\n"
                      f"source {tcl_word(STUBS)}\n"
                      "source [lindex $argv 0]\n")
    bin_dir = tmp_path / "bin"
    fake_tool(bin_dir, "vitis_hls", f'[ "$1" = "-f" ] || exit 2\nexec tclsh {driver} "$2"\n')
    fake_tool(bin_dir, "vivado", 'while [ $# -gt 0 ]; do [ "$1" = "-source" ] && script="$2"; shift; done\n'
                                 f'exec tclsh {driver} "$script"\n')
    monkeypatch.setenv("PATH", isolated_path(bin_dir))

    plan = make_plan(out, find_tools())
    assert [s.name for s in plan.steps] == ["hls", "vivado"]
    assert plan.steps[1].argv[1:] == ("-mode", "batch", "-nojournal", "-log", "vivado.log", "-source", "bd.tcl")
    assert "cd " in plan.describe() and "bd.tcl" in plan.describe()
    lines = []
    results = run_plan(plan, tmp_path / "logs", progress=lines.append)
    assert [r.name for r in results] == ["hls", "vivado"]
    deploy = scripts.deploy_files(build_dir)
    assert deploy["bitstream"].read_bytes() == b"bitstream" and deploy["hwh"].read_text() == "<hwh/>"
    assert any("hwgen: exported hwgen.org:hwgen:hwgen_top:1.0" in l for l in lines)
    assert any("hwgen: PL clock requested 200 MHz" in l for l in lines)
    calls = (tmp_path / "calls.log").read_text()
    assert "create_clock -period 5 -name default" in calls and "launch_runs impl_1 -to_step write_bitstream -jobs 2" in calls

    # a failing Vivado step (here: the board files are missing) raises with the script's own ERROR line
    driver.write_text(driver.read_text().replace(f"set ::stub(board_parts) {tcl_word(board.board_part)}", ""))
    with pytest.raises(ToolError, match="vivado failed in step 'vivado'") as info:
        run_plan(make_plan(out, find_tools(), steps=["vivado"]), tmp_path / "logs")
    assert "ERROR: hwgen: Vivado does not know the board part xilinx.com:zcu104:part0:1.1" in str(info.value)
    assert not deploy["bitstream"].exists()
