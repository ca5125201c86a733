"""FINN's own virtual environment for bench_vs_finn.py: finn-plus installed once, run as a subprocess.

finn-plus pins onnx, onnxruntime, protobuf and brevitas versions hwgen's environment does not have,
so it lives in its own virtual environment (under ~/.cache/hwgen-bench/ unless told otherwise).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FINN_PLUS_VERSION = "1.6.1"  # the version this benchmark was written and run against
DRIVER = HERE / "finn_estimate.py"
# finn-plus 1.6.1 declares brevitas==0.13.0, which wants setuptools<70, which no torch from 2.13 on takes (they want
# setuptools>=77.0.3): pip resolves it only with an older torch and its CUDA wheels (GBs), and not with hwgen's torch.
# FINN's estimate-only flow never imports brevitas. It does import torch (the LayerNorm op, loaded with every HW
# op) and psutil (simulation_build.py, imported by the build steps), which finn-plus does not declare.
DROPPED_REQUIREMENTS = {"brevitas"}
ADDED_REQUIREMENTS = ("psutil",)


class Unavailable(Exception):
    """FINN could not be installed or started here: one message says what failed and what is needed."""


def default_venv(version: str) -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "hwgen-bench" / f"finn-plus-{version}"


def run(cmd: list, what: str, env: dict | None = None) -> str:
    try:
        r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env, check=False)
    except OSError as exc:
        raise Unavailable(f"{what} failed to run: {exc}") from None
    if r.returncode != 0:
        tail = "\n    ".join((r.stdout + r.stderr).strip().splitlines()[-12:])
        raise Unavailable(f"{what} failed (exit {r.returncode}):\n    {tail}")
    return r.stdout


def clean_env() -> dict:
    """The environment for FINN's interpreter: none of hwgen's Python paths."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PYTHONNOUSERSITE"] = "1"
    return env


def _torch_requirement() -> str:
    """torch at the version hwgen's environment has (a CPU build where that is what is installed), else any."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"torch=={version('torch').split('+')[0]}"
    except PackageNotFoundError:
        return "torch"


def ensure_finn(venv: Path, version: str, pip_args: list[str]) -> Path:
    """The Python of a virtual environment holding finn-plus `version`, created and filled on first use.

    finn-plus goes in without its dependencies, then its declared requirements less DROPPED_REQUIREMENTS,
    plus ADDED_REQUIREMENTS and torch; a marker file records a finished install."""
    python = venv / "bin" / "python"
    marker = venv / "hwgen-bench.json"
    if marker.is_file() and python.is_file():
        try:
            if json.loads(marker.read_text()).get("finn-plus") == version:
                return python
        except json.JSONDecodeError:
            pass
    if sys.version_info < (3, 11):
        raise Unavailable(f"finn-plus {version} needs Python >= 3.11; this is {sys.version.split()[0]}: "
                          "run the benchmark with a Python 3.11 or newer")
    env = clean_env()
    if not python.is_file():
        print(f"creating FINN's virtual environment in {venv} (first use; a few minutes) ...", flush=True)
        base = getattr(sys, "_base_executable", None) or sys.executable
        run([base, "-m", "venv", venv], f"python -m venv {venv}", env)
    pip = [python, "-m", "pip", "install", "--disable-pip-version-check", "-q", *pip_args]
    run([*pip, "--no-deps", f"finn-plus=={version}"], f"pip install finn-plus=={version}", env)
    declared = json.loads(run([python, "-c", "import importlib.metadata as m, json; print(json.dumps(m.requires('finn-plus')))"],
                               "reading finn-plus's requirements", env))
    wanted = [r for r in declared if "extra ==" not in r and re.split(r"[\s\[(<>=!~;]", r, maxsplit=1)[0].lower()
              not in DROPPED_REQUIREMENTS]
    wanted += [*ADDED_REQUIREMENTS, _torch_requirement()]
    run([*pip, *wanted], f"pip install of finn-plus's requirements ({', '.join(wanted)})", env)
    smoke = ("import finn.xsi\nfinn.xsi.SimEngine = object\nimport finn.builder.build_dataflow_steps\n"
             "import finn.transformation.fpgadataflow.set_folding")
    run([python, "-c", smoke], "importing FINN's build steps in its environment", env)
    marker.write_text(json.dumps({"finn-plus": version, "requirements": wanted, "pip_args": pip_args}, indent=2))
    return python
