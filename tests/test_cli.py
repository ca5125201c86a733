"""python -m hwgen, run as a user runs it: a subprocess in a scratch folder."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from hwgen.build import BuildConfig, FifoDepths
from hwgen.driver import Accelerator
from hwgen.errors import HwgenError


def hwgen_cli(*args, cwd, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hwgen", *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, check=False)


def assert_user_error(result: subprocess.CompletedProcess, *phrases: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("error: ") or "\nerror: " in result.stderr, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr


@pytest.fixture(scope="module")
def default_build(tmp_path_factory):
    """The bundled digits MLP, built once through the command line."""
    cwd = tmp_path_factory.mktemp("cli")
    result = hwgen_cli("build", "--out", "out", "--verify-frames", "20", cwd=cwd)
    return cwd, cwd / "out", result


def test_boards(tmp_path):
    result = hwgen_cli("boards", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == ["board", "part"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert "pynq-z2" in rows and "xc7z020clg400-1" in rows["pynq-z2"] and "53,200" in rows["pynq-z2"]
    assert {"pynq-z1", "zcu104", "kv260", "ultra96-v2"} <= set(rows)


def test_build_default_model(default_build):
    cwd, out, result = default_build
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    # progress, then the summary
    assert "[1/" in result.stdout and "load" in result.stdout
    assert "hwgen build of 'digits_mlp' for pynq-z2" in result.stdout
    for phrase in ("MVAU_0", "estimated:", "frames/s", "verified: C-sim == numpy reference", "(0 mismatches)",
                   "argmax agreement", "run it:   python -m hwgen csim"):
        assert phrase in result.stdout, phrase
    # the build folder (ARCHITECTURE.md)
    record = json.loads((out / "hwgen.json").read_text())
    assert record["status"] == "complete" and record["error"] is None
    assert record["config"]["board"] == "pynq-z2" and record["config"]["verify_frames"] == 20
    assert set(record["step_seconds"]) >= {"load", "lower", "fold", "codegen", "csim", "verify", "deploy"}
    assert (out / "model" / "model_clean.onnx").is_file()
    assert (out / "model" / "folding.json").is_file()
    assert (out / "hls" / "top.cpp").is_file() and list((out / "hls").glob("params_*.hpp"))
    assert list((out / "csim").glob("*.so"))
    verification = json.loads((out / "report" / "verification.json").read_text())
    assert verification["ir_vs_csim"]["bit_exact"] is True
    assert verification["qonnx_vs_csim"]["frames"] == 20
    cyc = verification["cycles_vs_csim"]
    assert cyc["mismatches"] == [] and cyc["loops_counted"] >= 1  # the width converters' loops, counted one by one
    # the MVAUs' fast C-sim path only reports its planned trip count: the summary must not call that a cycle check
    assert (f"cycles:   C-sim loop iterations == cycle model for {cyc['loops_counted']} of {len(cyc['layers'])} layers; "
            f"the {len(cyc['layers']) - cyc['loops_counted']} MVAUs on the fast C-sim path report their planned trip count: "
            f"trip-count consistency only") in result.stdout
    assert (out / "report" / "estimates.json").is_file()
    meta = json.loads((out / "deploy" / "accelerator.json").read_text())
    assert meta["board"] == "pynq-z2" and meta["input"]["shape"] == [1, 1, 8, 8]
    driver = out / "deploy" / "hwgen_driver"
    assert (driver / "__init__.py").is_file() and (driver / "accelerator.py").is_file()
    # nothing written outside --out
    assert sorted(p.name for p in cwd.iterdir()) == ["out"]


def test_csim_matches_the_driver(default_build, tmp_path):
    _, out, result = default_build
    assert result.returncode == 0, result.stderr
    x = np.random.default_rng(3).uniform(0, 1, size=(9, 1, 8, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    run = hwgen_cli("csim", out, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "9 frames" in run.stdout
    y = np.load(tmp_path / "y.npy")
    expected = Accelerator(out, backend="csim").execute(x)
    assert y.shape == (9, 10) and y.dtype == np.float32
    np.testing.assert_array_equal(y, expected)


def test_csim_single_frame_and_bad_shape(default_build, tmp_path):
    _, out, result = default_build
    assert result.returncode == 0, result.stderr
    np.save(tmp_path / "one.npy", np.full((1, 8, 8), 0.5, dtype=np.float32))  # no batch axis
    run = hwgen_cli("csim", out, "--input", tmp_path / "one.npy", "--output", tmp_path / "y.npy", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert np.load(tmp_path / "y.npy").shape == (1, 10)
    np.save(tmp_path / "bad.npy", np.zeros((3, 7), dtype=np.float32))
    run = hwgen_cli("csim", out, "--input", tmp_path / "bad.npy", "--output", tmp_path / "y2.npy", cwd=tmp_path)
    assert_user_error(run, "bad.npy", "input must have shape (N, 1, 8, 8), not (3, 7)")
    assert not (tmp_path / "y2.npy").exists()


def test_csim_errors(default_build, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((1, 4), dtype=np.float32))
    run = hwgen_cli("csim", tmp_path / "nobuild", "--input", "x.npy", "--output", "y.npy", cwd=tmp_path)
    assert_user_error(run, "not a finished hwgen build", "hint: build it first")
    (tmp_path / "text.npy").write_text("not numpy")
    for name in ("text.npy", "absent.npy"):
        run = hwgen_cli("csim", default_build[1], "--input", name, "--output", "y.npy", cwd=tmp_path)
        assert_user_error(run, f"cannot read {name} as a .npy array")
    assert not (tmp_path / "y.npy").exists()


def test_build_unsupported_model(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    graph = helper.make_graph([helper.make_node("Sigmoid", ["x"], ["y"], name="act")], "sig", [x], [y])
    onnx.save(helper.make_model(graph), str(tmp_path / "sig.onnx"))
    run = hwgen_cli("build", "sig.onnx", "--out", "b", cwd=tmp_path)
    assert_user_error(run, "1 unsupported node in the model", "(op Sigmoid)", "hint: supported ONNX ops:")
    assert json.loads((tmp_path / "b" / "hwgen.json").read_text())["status"] == "failed"
    assert not (tmp_path / "b" / "deploy" / "accelerator.json").exists()


def test_build_missing_model(tmp_path):
    run = hwgen_cli("build", "missing.onnx", "--out", "b", cwd=tmp_path)
    assert_user_error(run, "model file not found: missing.onnx")


def test_build_unknown_board(tmp_path):
    run = hwgen_cli("build", "--board", "zedboard", "--out", "b", cwd=tmp_path)
    assert_user_error(run, "unknown board 'zedboard'", "pynq-z2")


@pytest.mark.parametrize("args,phrase", [
    (["build", "--verify-frames", "0"], "verify_frames must be at least 1, not 0"),
    (["build", "--clock-mhz", "0"], "clock_mhz must be in (0, 1000], not 0.0"),
    (["build", "--utilization-cap", "1.5"], "utilization_cap must be in (0, 1], not 1.5"),
])
def test_build_bad_options(tmp_path, args, phrase):
    assert_user_error(hwgen_cli(*args, "--out", "b", cwd=tmp_path), phrase)


def test_build_bad_fifo_depths(tmp_path):
    run = hwgen_cli("build", "--fifo-depths", "deep", "--out", "b", cwd=tmp_path)
    assert run.returncode == 2 and "argument --fifo-depths: invalid choice: 'deep'" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "b").exists()
    with pytest.raises(HwgenError, match="fifo_depths must be one of shallow, never-blocking, not 'deep'"):
        BuildConfig(fifo_depths="deep")
    assert BuildConfig(fifo_depths="never-blocking").fifo_depths is FifoDepths.NEVER_BLOCKING


def test_a_design_too_slow_to_shrink_keeps_never_blocking_fifos(tmp_path, monkeypatch):
    """Shrinking simulates every loop iteration of a few frames: past hwgen.fifo.SHRINK_MAX_ITERATIONS a
    frame (here lowered to 1) the build keeps the never-blocking depths and says why."""
    import hwgen
    import hwgen.fifo
    from hwgen.estimate import cycles

    monkeypatch.setattr(hwgen.fifo, "SHRINK_MAX_ITERATIONS", 1)
    b = hwgen.build(out_dir=tmp_path / "b", verify_frames=5, synthesize=False)
    fifos = b.estimates.fifos
    assert fifos.sizing is FifoDepths.NEVER_BLOCKING and fifos.depths == fifos.never_blocking
    iterations = sum(cycles(l) for l in b.graph.layers)  # a loop iteration a cycle, layer by layer
    assert fifos.note.startswith(f"kept never-blocking: the layers' loops run {iterations} iterations a frame, more than the 1 ")
    assert f"({fifos.note})" in hwgen.report.summary_text(b)


@pytest.mark.parametrize("command", [[], ["build"], ["csim"], ["boards"]], ids=["top", "build", "csim", "boards"])
def test_help(tmp_path, command):
    result = hwgen_cli(*command, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: python -m hwgen")
    expected = {(): ["build", "csim", "boards", "exit status: 0 done; 2 an error in the input", "3 an internal error"],
                ("build",): ["--out", "--board", "--folding", "--verify-frames", "--utilization-cap", "--fifo-depths",
                             "--csim-exact", "130 stopped by Ctrl-C (SIGINT), 143 by SIGTERM"],
                ("csim",): ["--input", "--output"], ("boards",): ["List boards"]}[tuple(command)]
    text = " ".join(result.stdout.split())  # argparse wraps to the terminal's width
    for word in expected:
        assert word in text


def test_usage_errors(tmp_path):
    """argparse's own errors (exit 2, usage line), no traceback."""
    for args in ([], ["frobnicate"], ["csim", "somewhere"]):
        result = hwgen_cli(*args, cwd=tmp_path)
        assert result.returncode == 2 and "usage:" in result.stderr and "Traceback" not in result.stderr


def test_csim_broken_library(default_build, tmp_path):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(default_build[1], out)
    (out / "csim" / "libhwgen_csim.so").write_bytes(b"not a shared library")
    np.save(tmp_path / "x.npy", np.zeros((1, 1, 8, 8), dtype=np.float32))
    run = hwgen_cli("csim", out, "--input", "x.npy", "--output", "y.npy", cwd=tmp_path)
    assert_user_error(run, "libhwgen_csim.so")


def test_build_out_is_a_file(tmp_path):
    (tmp_path / "taken").write_text("")
    assert_user_error(hwgen_cli("build", "--out", "taken", cwd=tmp_path), "taken")


def test_csim_output_folder_missing(default_build, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((2, 1, 8, 8), dtype=np.float32))
    run = hwgen_cli("csim", default_build[1], "--input", "x.npy", "--output", tmp_path / "no" / "y.npy", cwd=tmp_path)
    assert_user_error(run, "y.npy")


def test_utilization_cap_bounds_automatic_folding(tmp_path):
    """--utilization-cap 0.3: the fastest design within 30% of the board (the default fills 84% of the LUTs);
    with --fifo-depths never-blocking the FIFOs are size_fifos' (test_cnv checks the shallow default); with
    --csim-exact the C-sim runs the ap_int arithmetic and every loop, the MVAUs' too, is counted."""
    result = hwgen_cli("build", "--out", "b", "--utilization-cap", "0.3", "--verify-frames", "5", "--no-synth",
                       "--fifo-depths", "never-blocking", "--csim-exact", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    estimates = json.loads((tmp_path / "b" / "report" / "estimates.json").read_text())
    assert estimates["utilization_cap"] == 0.3 and estimates["fits"] is True
    assert 0.2 < estimates["usage_with_shell"]["LUT"] <= 0.3
    assert "fits the 30% cap" in result.stdout
    record = json.loads((tmp_path / "b" / "hwgen.json").read_text())
    assert record["config"]["utilization_cap"] == 0.3 and record["config"]["fifo_depths"] == "never-blocking"
    assert estimates["fifo_sizing"] == "never-blocking" and estimates["fifo_depths"] == estimates["fifo_depths_never_blocking"]
    assert "FIFOs:    " in result.stdout and "BRAM36 (never-blocking: no producer ever waits)" in result.stdout
    cycles = json.loads((tmp_path / "b" / "report" / "verification.json").read_text())["cycles_vs_csim"]
    assert cycles["loops_counted"] == len(cycles["layers"]) == len(estimates["layers"]) and not cycles["mismatches"]
    assert f"C-sim loop iterations == cycle model for all {len(cycles['layers'])} layers\n" in result.stdout
    assert "-DHWGEN_CSIM_EXACT" in (tmp_path / "b" / "csim" / "compile.log").read_text()


def test_synth_of_a_damaged_build_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "hwgen.json").write_text('{"status": "runn')  # cut short
    assert_user_error(hwgen_cli("synth", out, cwd=tmp_path), f"{out / 'hwgen.json'} is damaged (JSONDecodeError",
                      "hint: build the folder again")
