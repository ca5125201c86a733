"""The deploy/ notebooks run headless on a host with the csim backend (one line changed)."""

from __future__ import annotations

import re

import nbformat
import pytest
from nbclient import NotebookClient

import hwgen


@pytest.fixture(scope="module")
def default_build(tmp_path_factory):
    return hwgen.build(out_dir=tmp_path_factory.mktemp("nb") / "build", verify_frames=20)


def run_notebook(path, cwd) -> str:
    """Execute the notebook with BACKEND = "csim"; return all text output."""
    nb = nbformat.read(path, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert first.source.startswith('BACKEND = "pynq"'), "the backend must be the notebook's first code line"
    first.source = first.source.replace('BACKEND = "pynq"', 'BACKEND = "csim"', 1)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            texts.append(out.get("text", "") or "".join(out.get("data", {}).get("text/plain", "")))
    return "\n".join(texts)


def test_digits_notebook_reports_the_csim_accuracy(default_build):
    deploy = default_build.out_dir / "deploy"
    text = run_notebook(deploy / "digits_classification.ipynb", deploy)
    match = re.search(r"accuracy on 360 test images: ([\d.]+)%", text)
    assert match, text
    assert float(match.group(1)) == pytest.approx(100 * default_build.verification.accuracy["csim"], abs=0.01)
    assert "frames/s over 1000 frames" in text


def test_check_notebook_finds_no_mismatch(default_build):
    deploy = default_build.out_dir / "deploy"
    text = run_notebook(deploy / "check_accelerator.ipynb", deploy)
    assert "32 frames: 0 of 320 output integers differ" in text
    assert not (deploy / "face_detection.ipynb").exists()  # only a detector's deploy/ has it


def test_deploy_driver_needs_only_numpy(default_build):
    """The driver package in deploy/ imports nothing of hwgen, torch or qonnx."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['hwgen'] = None; sys.modules['qonnx'] = None; sys.modules['torch'] = None; "
            "sys.modules['onnx'] = None; from hwgen_driver import Accelerator; "
            "a = Accelerator('.', backend='csim'); import numpy as np; r = np.load('reference_io.npz'); "
            "print(int((a.execute_integers(a.quantize(r['x'])) != r['y_int']).sum()))")
    out = subprocess.run([sys.executable, "-c", code], cwd=default_build.out_dir / "deploy", capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0"
