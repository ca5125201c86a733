"""hwgen: low-bit quantized neural networks (Brevitas / QONNX) to streaming-dataflow FPGA accelerators."""

__version__ = "0.1.0"

from hwgen.build import Build, BuildConfig, build  # noqa: E402
from hwgen.driver import Accelerator  # noqa: E402
from hwgen.errors import HwgenError, InternalError, Interrupted, UnsupportedModelError  # noqa: E402

__all__ = ["Accelerator", "Build", "BuildConfig", "HwgenError", "InternalError", "Interrupted", "UnsupportedModelError", "build",
           "__version__"]
