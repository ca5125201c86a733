"""The package finds its non-Python files (templates, boards, notebooks, bundled model) wherever it runs.

.ci/run installs hwgen non-editable and sets HWGEN_EXPECT_INSTALLED=1: then hwgen must come from
site-packages and its files from inside the package, not from this checkout.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import hwgen
from hwgen import resources


def test_resources_are_found():
    assert (resources.kernels() / "mvau.hpp").is_file()
    assert (resources.hls_templates() / "top.cpp.j2").is_file()
    assert (resources.boards() / "pynq-z2.json").is_file()
    assert (resources.notebooks() / "check_accelerator.ipynb").is_file()
    assert (resources.notebooks() / "face_detection.ipynb").is_file() and resources.face_scenes().is_file()
    assert resources.face_detector().is_file() and (resources.face_detector().parent / "model.json").is_file()
    assert resources.default_model().is_file()
    assert (resources.default_model().parent / "test_set.npz").is_file()


def test_installed_package_is_the_one_tested():
    if os.environ.get("HWGEN_EXPECT_INSTALLED") != "1":
        pytest.skip("a development checkout (.ci/run checks the installed package)")
    package = Path(hwgen.__file__).resolve().parent
    assert "site-packages" in package.parts, package
    assert resources.hls_templates() == package / "_resources" / "hls_templates"
    assert resources.boards() == package / "_resources" / "boards"
