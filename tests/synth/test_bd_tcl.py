"""The Vivado block design script (bd.tcl): run under tclsh with every vendor command stubbed (tests/synth/tcl.py),
its AXI DMA sized to the board's HP port, and the stubs as strict as PG021 about the DMA's widths."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from hwgen.boards import load_board
from hwgen.synth import scripts
from hwgen.synth.scripts import write_scripts
from tests.synth.tcl import assert_order, hls_axis, needs_tclsh, run_tcl


def prepare_vivado(tmp_path: Path, build_dir: Path, board, design, hwh_in_gen: bool) -> tuple[Path, dict]:
    """Scripts written, the HLS export stubbed, impl_1's folder holding a dummy .bit (and .hwh)."""
    write_scripts(build_dir, board, design, 100.0, cosim=False, jobs=3)
    result, _ = run_tcl(tmp_path, build_dir / "hls", "hls.tcl")
    assert result.returncode == 0, result.stdout + result.stderr
    project = build_dir / "vivado" / scripts.VIVADO_PROJECT
    run_dir = project / f"{scripts.VIVADO_PROJECT}.runs" / "impl_1"
    run_dir.mkdir(parents=True)
    (run_dir / f"{scripts.BD_NAME}_wrapper.bit").write_bytes(b"BIT" + board.name.encode())
    hwh = (project / f"{scripts.VIVADO_PROJECT}.gen" / "sources_1" / "bd" / scripts.BD_NAME / "hw_handoff"
           if hwh_in_gen else run_dir) / f"{scripts.BD_NAME}.hwh"
    hwh.parent.mkdir(parents=True, exist_ok=True)
    hwh.write_text(f"<MODULES board='{board.name}'/>")
    return run_dir, {"run_dir": run_dir, "board_parts": board.board_part, "hls_axis": hls_axis(design)}


VIVADO_ORDER = ["create_project", "get_board_parts", "set_property board_part", "set_property ip_repo_paths",
                "update_ip_catalog", "create_bd_design", "create_bd_cell", "connect_bd_net", "connect_bd_intf_net",
                "apply_bd_automation -rule xilinx.com:bd_rule:axi4", "assign_bd_address", "validate_bd_design",
                "save_bd_design", "make_wrapper", "add_files", "launch_runs", "wait_on_run", "open_run",
                "report_utilization", "report_timing_summary", "close_project"]


@needs_tclsh
@pytest.mark.parametrize("name,hwh_in_gen", [("pynq-z2", True), ("zcu104", False)])
def test_bd_tcl_runs(build, tmp_path, name, hwh_in_gen):
    build_dir, design, _ = build
    board = load_board(name)
    _, stub = prepare_vivado(tmp_path, build_dir, board, design, hwh_in_gen)
    (build_dir / "deploy").mkdir()
    (build_dir / "deploy" / "hwgen.bit").write_bytes(b"stale")  # an earlier run's result is not kept
    result, calls = run_tcl(tmp_path, build_dir / "vivado", "bd.tcl", **stub)
    assert result.returncode == 0, result.stdout + result.stderr
    assert_order(calls, VIVADO_ORDER)
    cells = [c.split()[-1] for c in calls if c.startswith("create_bd_cell")]
    ps = "processing_system7_0" if board.family == "zynq7000" else "zynq_ultra_ps_e_0"
    assert cells == [ps, "axi_dma_0", "hwgen_top_0", "rst_pl_0"]
    assert "create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma:7.1 axi_dma_0" in calls  # the newest version
    assert "create_bd_cell -type ip -vlnv hwgen.org:hwgen:hwgen_top:1.0 hwgen_top_0" in calls
    assert f"set_property board_part {board.board_part} hwgen_vivado" in calls
    assert sum(c.startswith("apply_bd_automation -rule xilinx.com:bd_rule:axi4") for c in calls) == 4
    assert "launch_runs impl_1 -to_step write_bitstream -jobs 3" in calls
    deploy = build_dir / "deploy"
    assert (deploy / "hwgen.bit").read_bytes() == b"BIT" + name.encode()
    assert (deploy / "hwgen.hwh").read_text() == f"<MODULES board='{name}'/>"
    reports = scripts.vivado_reports(build_dir)
    assert reports["utilization"].is_file() and reports["timing_summary"].is_file()
    assert reports["pl_clock"].read_text() == "requested_mhz 100\nactual_mhz 100.000000\n"
    assert f"hwgen: wrote {deploy / 'hwgen.bit'}" in result.stdout


@needs_tclsh
def test_bd_tcl_names_missing_board_files(build, tmp_path):
    build_dir, design, _ = build
    board = load_board("pynq-z2")
    _, stub = prepare_vivado(tmp_path, build_dir, board, design, False)
    result, calls = run_tcl(tmp_path, build_dir / "vivado", "bd.tcl", **{**stub, "board_parts": ""})
    assert result.returncode != 0
    assert ("ERROR: hwgen: Vivado does not know the board part tul.com.tw:pynq-z2:part0:1.0 (TUL PYNQ-Z2 (Zynq-7020)): "
            "install its board files") in result.stdout
    assert not any(c.startswith("create_bd_design") for c in calls)


@needs_tclsh
def test_bd_tcl_takes_another_version_of_the_board_files(build, tmp_path):
    build_dir, design, _ = build
    board = load_board("pynq-z2")
    _, stub = prepare_vivado(tmp_path, build_dir, board, design, False)
    installed = "tul.com.tw:pynq-z2:part0:1.0-rc tul.com.tw:pynq-z2:part0:1.1 tul.com.tw:pynq-z1:part0:1.2"
    result, calls = run_tcl(tmp_path, build_dir / "vivado", "bd.tcl", **{**stub, "board_parts": installed})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING: hwgen: board part tul.com.tw:pynq-z2:part0:1.0 is not installed, using tul.com.tw:pynq-z2:part0:1.1" in result.stdout
    assert "set_property board_part tul.com.tw:pynq-z2:part0:1.1 hwgen_vivado" in calls


@needs_tclsh
def test_bd_tcl_needs_the_hls_ip(build, tmp_path):
    build_dir, design, _ = build
    board = load_board("zcu104")
    write_scripts(build_dir, board, design, 100.0, cosim=False)
    result, calls = run_tcl(tmp_path, build_dir / "vivado", "bd.tcl", board_parts=board.board_part)
    assert result.returncode != 0
    assert "ERROR: hwgen: the HLS IP is missing" in result.stdout and "run hls.tcl first" in result.stdout
    assert [c for c in calls if not c.startswith("exit")] == []  # tclsh's exit after the error


@needs_tclsh
def test_bd_tcl_fails_on_an_unfinished_run(build, tmp_path):
    build_dir, design, _ = build
    board = load_board("pynq-z2")
    _, stub = prepare_vivado(tmp_path, build_dir, board, design, True)
    result, calls = run_tcl(tmp_path, build_dir / "vivado", "bd.tcl", **{**stub, "progress": "40%"})
    assert result.returncode != 0
    assert "ERROR: hwgen: Vivado run synth_1 stopped at 40% (write_bitstream Complete!)" in result.stdout
    assert not (build_dir / "deploy" / "hwgen.bit").exists()
    assert not any(c.startswith("report_utilization") for c in calls)


# -- the AXI DMA shell: memory side at the HP port's width (PG021), converters where a word is wider -------------
# (board, accelerator input bits, output bits) -> per DMA channel (memory bits, stream bits, burst beats) and
# the converters (S_TDATA_NUM_BYTES, M_TDATA_NUM_BYTES), worked out by hand: the memory side is the HP port
# (64 bits on the Zynq-7000 boards, 128 on the UltraScale+ ones); PG021 allows a stream at most as wide as
# the memory side, so the DMA's stream is the accelerator's word up to the port width, else the port's width
# with an AXI4-Stream width converter to the word (bytes = bits / 8).
DMA_CASES = [
    ("pynq-z2", 8, 32, {"mm2s": (64, 8, 256), "s2mm": (64, 32, 256)}, {}),
    ("zcu104", 8, 32, {"mm2s": (128, 8, 256), "s2mm": (128, 32, 256)}, {}),
    ("pynq-z2", 64, 64, {"mm2s": (64, 64, 256), "s2mm": (64, 64, 256)}, {}),
    ("pynq-z2", 512, 128, {"mm2s": (64, 64, 256), "s2mm": (64, 64, 256)}, {"axis_dwc_in": (8, 64), "axis_dwc_out": (16, 8)}),
    ("kv260", 256, 8, {"mm2s": (128, 128, 256), "s2mm": (128, 8, 256)}, {"axis_dwc_in": (16, 32)}),
]


def with_buses(design, in_bus: int, out_bus: int):
    port = type(design.input)
    return replace(design, input=port(in_bus, 4, 1, 4, "uint8"), output=port(out_bus, 2, 1, 2, "uint8"))


def cell_configs(calls: list[str]) -> dict[str, dict[str, str]]:
    """{cell: {parameter: value}} from the logged set_property calls on block design cells."""
    configs: dict[str, dict[str, str]] = {}
    for line in calls:
        m = re.fullmatch(r"set_property -dict \{(.*)\} /(\w+)", line)
        if m:
            configs.setdefault(m.group(2), {}).update(re.findall(r"CONFIG\.(\w+) (\S+)", m.group(1)))
    return configs


@needs_tclsh
@pytest.mark.parametrize("name,in_bus,out_bus,channels,converters", DMA_CASES)
def test_bd_tcl_sizes_the_dma_to_the_hp_port(build, tmp_path, name, in_bus, out_bus, channels, converters):
    build_dir, design, _ = build
    board = load_board(name)
    design = with_buses(design, in_bus, out_bus)
    _, stub = prepare_vivado(tmp_path, build_dir, board, design, True)
    result, calls = run_tcl(tmp_path, build_dir / "vivado", "bd.tcl", **stub)
    assert result.returncode == 0, result.stdout + result.stderr  # validate_bd_design: every stream's two ends alike
    cfg = cell_configs(calls)
    dma = cfg["axi_dma_0"]
    for channel, (memory, stream, burst) in channels.items():
        side = {"mm2s": ("c_m_axi_mm2s_data_width", "c_m_axis_mm2s_tdata_width", "c_mm2s_burst_size"),
                "s2mm": ("c_m_axi_s2mm_data_width", "c_s_axis_s2mm_tdata_width", "c_s2mm_burst_size")}[channel]
        assert [dma[k] for k in side] == [str(memory), str(stream), str(burst)], channel
    assert (dma["c_include_sg"], dma["c_sg_length_width"]) == ("0", "26")
    ps = {"zynq7000": ("processing_system7_0", "PCW_S_AXI_HP0_DATA_WIDTH"), "zynq_us+": ("zynq_ultra_ps_e_0", "PSU__SAXIGP2__DATA_WIDTH")}
    cell, key = ps[board.family]
    assert cfg[cell][key] == str(channels["mm2s"][0])  # the HP port is as wide as the DMA's memory side
    made = {c: (int(cfg[c]["S_TDATA_NUM_BYTES"]), int(cfg[c]["M_TDATA_NUM_BYTES"])) for c in cfg if c.startswith("axis_dwc")}
    assert made == converters
    assert all(cfg[c]["HAS_TLAST"] == "1" and cfg[c]["HAS_TKEEP"] == "1" for c in made)
    links = [line.split()[1:] for line in calls if line.startswith("connect_bd_intf_net")]
    mm2s = (["/axi_dma_0/M_AXIS_MM2S", "/axis_dwc_in/S_AXIS"], ["/axis_dwc_in/M_AXIS", "/hwgen_top_0/in_stream"]) \
        if "axis_dwc_in" in converters else (["/axi_dma_0/M_AXIS_MM2S", "/hwgen_top_0/in_stream"],)
    s2mm = (["/hwgen_top_0/out_stream", "/axis_dwc_out/S_AXIS"], ["/axis_dwc_out/M_AXIS", "/axi_dma_0/S_AXIS_S2MM"]) \
        if "axis_dwc_out" in converters else (["/hwgen_top_0/out_stream", "/axi_dma_0/S_AXIS_S2MM"],)
    assert links == [*mm2s, *s2mm]
    clock = f"/{cell}/{scripts._PS[board.family]['clock']}"
    for c in made:  # clocked and reset with the rest of the PL
        assert any(line.startswith(f"connect_bd_net {clock} ") and f"/{c}/aclk" in line.split() for line in calls)
        assert any(line.startswith("connect_bd_net /rst_pl_0/peripheral_aresetn ") and f"/{c}/aresetn" in line.split() for line in calls)


def test_boards_use_their_native_hp_width():
    """64-bit S_AXI_HP0 on the Zynq-7000 boards, 128-bit S_AXI_HP0_FPD on the UltraScale+ ones (the widths
    FINN's pynq_native_port_width lists for the same boards); a width the PS has no setting for is refused."""
    from dataclasses import asdict

    from hwgen.boards import Board, board_names

    widths = {name: (load_board(name).family, load_board(name).dma_port_bits) for name in board_names()}
    assert widths == {"kv260": ("zynq_us+", 128), "pynq-z1": ("zynq7000", 64), "pynq-z2": ("zynq7000", 64),
                      "ultra96-v2": ("zynq_us+", 128), "zcu104": ("zynq_us+", 128)}
    with pytest.raises(ValueError, match=r"dma_port_bits must be one of \(32, 64\) \(the zynq7000 HP port\), not 128"):
        Board(**{**asdict(load_board("pynq-z2")), "dma_port_bits": 128})


@needs_tclsh
def test_bd_tcl_stream_width_differing_from_the_ip_is_refused(build, tmp_path):
    """The stubs check both ends of each stream: an IP whose in_stream is not the width the script was
    written for fails validate_bd_design, as Vivado's BD 41-237 does."""
    build_dir, design, _ = build
    _, stub = prepare_vivado(tmp_path, build_dir, load_board("pynq-z2"), design, True)
    result, _ = run_tcl(tmp_path, build_dir / "vivado", "bd.tcl", **{**stub, "hls_axis": "in_stream 16 out_stream 32"})
    assert result.returncode != 0
    assert ("[BD 41-237] AXI4-Stream properties differ between /axi_dma_0/M_AXIS_MM2S (TDATA 8 bits, TLAST 1, TKEEP 1) "
            "and /hwgen_top_0/in_stream (TDATA 16 bits, TLAST 1, TKEEP 1)") in result.stderr + result.stdout


STUB_DMA = """create_project p p -part xc7z020clg400-1
create_bd_design d
create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma:7.1 axi_dma_0
set_property -dict [list {settings}] [get_bd_cells axi_dma_0]
"""


@needs_tclsh
@pytest.mark.parametrize("settings,message", [
    ("CONFIG.c_m_axi_mm2s_data_width 64 CONFIG.c_m_axis_mm2s_tdata_width 512",
     "CONFIG.c_m_axis_mm2s_tdata_width (512) must be at most CONFIG.c_m_axi_mm2s_data_width (64) (PG021)"),
    ("CONFIG.c_m_axi_s2mm_data_width 128 CONFIG.c_s_axis_s2mm_tdata_width 256",
     "CONFIG.c_s_axis_s2mm_tdata_width (256) must be at most CONFIG.c_m_axi_s2mm_data_width (128) (PG021)"),
    ("CONFIG.c_m_axi_mm2s_data_width 256 CONFIG.c_mm2s_burst_size 256",
     "CONFIG.c_mm2s_burst_size 256 beats of 256 bits exceed AXI4's 4 KB burst"),
    ("CONFIG.c_sg_length_width 27", "CONFIG.c_sg_length_width must be 8..26 bits, not 27"),
    ("CONFIG.c_m_axi_mm2s_data_width 16", "CONFIG.c_m_axi_mm2s_data_width must be one of 32 64 128 256 512 1024, not 16"),
    ("CONFIG.c_s_axis_s2mm_tdata_width 24", "CONFIG.c_s_axis_s2mm_tdata_width must be one of 8 16 32 64 128 256 512 1024, not 24"),
    ("CONFIG.c_mm2s_burst_size 512", "CONFIG.c_mm2s_burst_size must be one of 2 4 8 16 32 64 128 256, not 512"),
    ("CONFIG.c_m_axis_mm2s_data_width 8", "axi_dma has no parameter CONFIG.c_m_axis_mm2s_data_width"),
])
def test_stub_dma_refuses_what_pg021_refuses(tmp_path, settings, message):
    (tmp_path / "t.tcl").write_text(STUB_DMA.format(settings=settings))
    result, _ = run_tcl(tmp_path, tmp_path, "t.tcl")
    assert result.returncode != 0
    assert f"stub: axi_dma_0: {message}" in result.stderr, result.stderr


@needs_tclsh
def test_stub_dma_takes_what_pg021_allows(tmp_path):
    """The narrowest and widest legal pairs: an 8-bit stream on a 64-bit memory side, 1024 on 1024 with 32-beat bursts."""
    ok = ("CONFIG.c_m_axi_mm2s_data_width 64 CONFIG.c_m_axis_mm2s_tdata_width 8 CONFIG.c_mm2s_burst_size 256 "
          "CONFIG.c_m_axi_s2mm_data_width 1024 CONFIG.c_s_axis_s2mm_tdata_width 1024 CONFIG.c_s2mm_burst_size 32 "
          "CONFIG.c_sg_length_width 26")
    (tmp_path / "t.tcl").write_text(STUB_DMA.format(settings=ok))
    result, _ = run_tcl(tmp_path, tmp_path, "t.tcl")
    assert result.returncode == 0, result.stderr
