"""hwgen's host driver (numpy only): copied into every build's deploy/ folder as `hwgen_driver`.

It must not import anything from hwgen outside this folder: on the board, only numpy
(and pynq) are installed.
"""

from .accelerator import Accelerator
from .detect import Detector, Pipeline

__all__ = ["Accelerator", "Detector", "Pipeline"]
