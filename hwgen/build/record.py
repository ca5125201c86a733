"""The run record: what a build is asked to do (BuildConfig), what it made (Build), and hwgen.json, which
says how far a build folder's last run got and with which configuration (config_of reads it back)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Callable

from hwgen.boards import DEFAULT_BOARD, Board
from hwgen.codegen.render import Design
from hwgen.driver import Accelerator
from hwgen.errors import HwgenError
from hwgen.estimate.summary import Estimates
from hwgen.fifo import FifoDepths, FifoPlan
from hwgen.fold import Fit
from hwgen.ir.graph import DataflowGraph
from hwgen.ir.serialize import jsonable
from hwgen.verify import Verification
from hwgen.version import __version__

STATUS_FILE = "hwgen.json"
FOLDERS = ("model", "hls", "csim", "report", "deploy")  # a build folder's parts (ARCHITECTURE.md, "The build folder")


@dataclass(frozen=True)
class BuildConfig:
    """What a build is asked to do; its defaults are the defaults of hwgen.build() and the command line."""

    model: Path | None = None  # QONNX model file; None builds the bundled digits MLP
    board: str = DEFAULT_BOARD  # a board of boards/ (python -m hwgen boards)
    out_dir: Path = Path("build")  # the build folder, created or updated
    folding: Path | None = None  # JSON folding file {layer: {"PE": p, "SIMD": s}}; None: automatic folding
    target_fps: float | None = None  # automatic folding: cheapest design reaching this; None: fastest that fits
    utilization_cap: float | None = None  # fraction of each board resource a design may use; None: the board file's
    csim_exact: bool = False  # C-sim in the ap_int arithmetic synthesis sees (slower): every layer's loop is counted
    fifo_depths: FifoDepths = FifoDepths.SHALLOW  # FIFO sizing (a FifoDepths or its value)
    verify_frames: int = 100  # frames compared against QONNX execution (IR vs C-sim: every frame)
    seed: int = 0  # seed of the random verification inputs (models without a bundled test set)
    clock_mhz: float | None = None  # PL clock for the estimates and synthesis; None: the board's default
    xilinx_settings: tuple[Path, ...] = ()  # settings64.sh scripts of Vivado / Vitis HLS; empty: tools from PATH
    synthesize: bool = True  # run Vitis HLS + Vivado when found (scripts are written either way)
    require_bitstream: bool = False  # fail unless a bitstream was produced
    cosim: bool = False  # also run Vitis HLS C/RTL co-simulation on a few verification frames
    jobs: int = 4  # parallel Vivado jobs
    allow_slow: bool = False  # keep going when synthesis misses the cycle model (a loop above II=1, a process
    #                           interval above the model's cycles, timing not met): warnings in the summary instead

    def __post_init__(self) -> None:
        if self.verify_frames < 1:
            raise HwgenError(f"verify_frames must be at least 1, not {self.verify_frames}")
        if self.clock_mhz is not None and not 0 < self.clock_mhz <= 1000:
            raise HwgenError(f"clock_mhz must be in (0, 1000], not {self.clock_mhz}")
        if self.target_fps is not None and self.target_fps <= 0:
            raise HwgenError(f"target_fps must be positive, not {self.target_fps}")
        if self.utilization_cap is not None and not 0 < self.utilization_cap <= 1:
            raise HwgenError(f"utilization_cap must be in (0, 1], not {self.utilization_cap}",
                             hint="a fraction of each resource: 0.85 lets a design use 85% of the LUTs, BRAM and DSPs")
        try:
            object.__setattr__(self, "fifo_depths", FifoDepths(self.fifo_depths))
        except ValueError:
            raise HwgenError(f"fifo_depths must be one of {', '.join(d.value for d in FifoDepths)}, not {self.fifo_depths!r}") from None
        if self.require_bitstream and not self.synthesize:
            raise HwgenError("a bitstream is required but synthesis is switched off")
        if self.target_fps is not None and self.folding is not None:
            raise HwgenError("give either a folding file or a target FPS, not both")


@dataclass
class Build:
    """What a build made; returned by hwgen.build(). Each step reads and extends it."""

    config: BuildConfig
    out_dir: Path
    board: Board
    model_name: str = ""
    model: object = None  # cleaned qonnx ModelWrapper
    graph: DataflowGraph | None = None  # folded
    fit: Fit | None = None  # what automatic folding found and how (None with a folding file)
    fifos: FifoPlan | None = None  # the FIFOs it is built with (and what never-blocking ones would hold)
    design: Design | None = None  # what code generation made
    csim_library: Path | None = None
    verification: Verification | None = None
    estimates: Estimates | None = None
    reference_io: dict = field(default_factory=dict)  # a few inputs and their C-sim outputs
    cosim_vectors: tuple = ()  # packed input bytes and C-sim output bytes of a few frames
    synthesis: dict = field(default_factory=dict)  # what the tools did, parsed reports
    synthesis_status: list = field(default_factory=list)  # lines for the summary
    timings: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    step: str | None = None  # the step under way (hwgen.json names it: where a failed or stopped build was)
    versions: dict = field(default_factory=dict)  # of hwgen, Python and the libraries (hwgen.json)
    progress: Callable[[str], None] = field(default=lambda _msg: None, repr=False)

    @property
    def clock_mhz(self) -> float:
        return self.config.clock_mhz or self.board.clock_mhz

    @property
    def accelerator_dir(self) -> Path:
        return self.out_dir / "deploy"

    def accelerator(self, backend: str = "csim") -> Accelerator:
        return Accelerator(self.out_dir, backend=backend)


def write_json(path: Path, data) -> None:
    """`data` (numpy values and enums made plain) as indented JSON, whole or not at all: a build may be stopped at any moment."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(jsonable(data), indent=2) + "\n")
    os.replace(tmp, path)


def versions() -> dict:
    """Of hwgen, Python, the libraries a build depends on, and g++."""
    import importlib.metadata as md

    found = {"hwgen": __version__, "python": platform.python_version()}
    for pkg in ("numpy", "onnx", "qonnx", "onnxruntime", "hls4ml", "jinja2"):
        try:
            found[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            found[pkg] = None
    try:
        found["g++"] = subprocess.run(["g++", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        found["g++"] = None
    return found


def write_record(b: Build, status: str, error: str | None = None, **extra) -> None:
    """hwgen.json: the status ("running", "complete", "failed", "interrupted"), the step, the config, versions, timings, notes."""
    cfg = {k: (str(v) if isinstance(v, Path) else [str(p) for p in v] if isinstance(v, tuple) else v.value if isinstance(v, Enum) else v)
           for k, v in asdict(b.config).items()}
    record = {"status": status, "step": b.step, "error": error, **extra, "config": cfg, "model_name": b.model_name,
              "versions": b.versions, "step_seconds": b.timings, "folding_search": b.fit.to_json() if b.fit is not None else None,
              "notes": b.notes + (b.graph.notes if b.graph is not None else [])}
    write_json(b.out_dir / STATUS_FILE, record)


def config_of(build_dir: Path) -> BuildConfig:
    """The BuildConfig a build folder was made with (from its hwgen.json)."""
    path = Path(build_dir) / STATUS_FILE
    if not path.is_file():
        raise HwgenError(f"{build_dir} is not an hwgen build folder (no {STATUS_FILE})", hint="build it first: python -m hwgen build")
    try:
        cfg = json.loads(path.read_text())["config"]
    except (ValueError, KeyError, TypeError) as exc:
        raise HwgenError(f"{path} is damaged ({type(exc).__name__}: {exc})", hint="build the folder again: python -m hwgen build") from None
    paths = {"model", "out_dir", "folding"}
    for key in paths:
        cfg[key] = Path(cfg[key]) if cfg.get(key) is not None else None
    cfg["xilinx_settings"] = tuple(Path(p) for p in cfg.get("xilinx_settings", ()))
    return BuildConfig(**{k: v for k, v in cfg.items() if k in BuildConfig.__dataclass_fields__})
