"""Where hwgen's non-Python files are: HLS templates, board files, notebooks, bundled models.

In a source checkout they sit at the top of the repository; in an installed wheel they are
inside the package (pyproject.toml force-includes them as hwgen/_resources/).
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    for candidate in (_PACKAGE / "_resources" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"hwgen's {name}/ folder is missing from {_PACKAGE} and its parent: the installation is incomplete")


def hls_templates() -> Path:
    return _find("hls_templates")


def kernels() -> Path:
    return hls_templates() / "kernels"


def boards() -> Path:
    return _find("boards")


def notebooks() -> Path:
    return _find("notebooks")


def default_model() -> Path:
    return _PACKAGE / "data" / "digits_mlp" / "model.onnx"


def face_scenes() -> Path:
    """Held-out synthetic face scenes for the face-detection notebook (scripts/make_face_scenes.py)."""
    return _PACKAGE / "data" / "face_scenes.npz"


def face_detector() -> Path:
    """The trained LPYOLO face detector hwgen ships (QONNX, 128 x 128 uint8 pixels in; its model.json
    beside it has the training settings and the PyTorch model's AP@0.5 on the held-out scenes)."""
    return _PACKAGE / "data" / "lpyolo_128" / "model.onnx"
