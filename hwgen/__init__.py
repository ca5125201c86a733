"""hwgen: low-bit quantized neural networks (Brevitas / QONNX) to streaming-dataflow FPGA accelerators."""

from hwgen.build import Build, BuildConfig, build
from hwgen.driver import Accelerator
from hwgen.errors import HwgenError, InternalError, Interrupted, UnsupportedModelError
from hwgen.version import __version__

__all__ = ["Accelerator", "Build", "BuildConfig", "HwgenError", "InternalError", "Interrupted", "UnsupportedModelError", "build",
           "__version__"]
