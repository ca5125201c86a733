"""The trained LPYOLO face detector that ships in the package (hwgen/data/lpyolo_128): its record, and
its AP@0.5 through the accelerator (C-sim) against the PyTorch model's, measured at training."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hwgen.resources import face_detector


def test_the_record_says_what_was_measured():
    record = json.loads((face_detector().parent / "model.json").read_text())
    assert face_detector().is_file()
    assert record["resolution"] == 128 and record["test_scenes"] == 200 and record["seed"] == 0
    ap = record["ap"]
    assert ap["trained"] > ap["untrained"] and ap["trained"] > ap["chance"]  # training did something, as measured then


@pytest.mark.slow
def test_ap_through_csim_equals_pytorch(tmp_path):
    """Built with automatic folding for pynq-z2 (the build checks C-sim == numpy reference and QONNX), then the
    200 held-out scenes through the C-sim: the AP equals the one PyTorch gave at training (model.json)."""
    pytest.importorskip("skimage")
    import hwgen
    from hwgen.train.faces import SyntheticFaces
    from hwgen.train.lpyolo import accelerator_predict, evaluate

    record = json.loads((face_detector().parent / "model.json").read_text())
    b = hwgen.build(face_detector(), out_dir=tmp_path / "build", synthesize=False, verify_frames=4)
    assert b.verification.qonnx_vs_csim["passed"]
    images, truths = SyntheticFaces("test", record["resolution"], record["seed"]).batch(0, record["test_scenes"])
    ap = evaluate(accelerator_predict(hwgen.Accelerator(b.out_dir)), images, truths)
    assert ap == pytest.approx(record["ap"]["trained"], abs=1e-3)
    assert np.isfinite(ap)
