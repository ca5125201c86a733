"""The synth tests' shared fixtures: a small design rendered once per module, and a build folder of it per test."""

from __future__ import annotations

import pytest

from tests.synth.tcl import build_folder, render_small


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    return render_small(tmp_path_factory)


@pytest.fixture
def build(tmp_path, rendered):
    return build_folder(tmp_path, rendered)
