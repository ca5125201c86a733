"""The build: QONNX model -> verified C-sim accelerator and deploy folder, step by step.

Each step (steps.py) is a function `step(build) -> None` that reads and extends the `Build` record
(record.py); run.py runs them, recording in hwgen.json how far the build got. The build folder:
    hwgen.json  model/  hls/  csim/  report/  deploy/
`deploy/accelerator.json` is written last (deploy.py), after verification passed: without it the
folder is not a finished build, and the driver refuses it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hwgen.build.record import Build, BuildConfig, config_of
from hwgen.build.run import run_build
from hwgen.fifo import FifoDepths

__all__ = ["Build", "BuildConfig", "FifoDepths", "build", "config_of", "run_build"]

_D = BuildConfig  # the defaults: BuildConfig's fields


def build(model_path=None, board: str = _D.board, out_dir=_D.out_dir, folding=None, target_fps: float | None = None,
          verify_frames: int = _D.verify_frames, seed: int = _D.seed, clock_mhz: float | None = None, xilinx_settings=(),
          synthesize: bool = _D.synthesize, require_bitstream: bool = False, cosim: bool = False, jobs: int = _D.jobs,
          verbose: bool = False, utilization_cap: float | None = None, fifo_depths: str = _D.fifo_depths,
          csim_exact: bool = False, allow_slow: bool = False) -> Build:
    """Build an accelerator for a QONNX model (None: the bundled digits MLP) into `out_dir`.

    Folding: from `folding` (a JSON file), else automatic: the cheapest reaching `target_fps`,
    or without a target the fastest that fits the board, within `utilization_cap` of each of its
    resources (default: the board file's, 0.85). FIFOs: `fifo_depths` "shallow" (the cheapest
    with which the output comes on the same cycles as with never-blocking ones) or "never-blocking"
    (room for every word a producer sends ahead: deeper, robust to latency the model leaves out).
    `csim_exact`: the C-sim library computes in ap_int as synthesis does (slower), and every
    layer's loop, the MVAUs' too, is counted against the cycle model. Synthesis runs when Vitis
    HLS and Vivado are found (on PATH or through `xilinx_settings`); otherwise the scripts are
    written and the summary names the command that finishes the build. A synthesis that misses the
    cycle model (a loop above II=1, a process interval above the model's cycles, timing not met
    after Vivado) fails the build, naming the layer and the numbers, unless `allow_slow`; the
    numbers go into report/synthesis.json and the summary either way.

    Raises HwgenError for a problem with the input (its message says what to change), and
    InternalError, a HwgenError subclass, for a bug in hwgen: the original exception is its
    `__cause__` (and `.original`), its traceback is in report/internal_error.log. A build
    stopped by SIGINT or SIGTERM raises Interrupted (a KeyboardInterrupt). In each case
    hwgen.json says "failed" or "interrupted" with the step, and deploy/accelerator.json is absent.
    The defaults are BuildConfig's.
    """
    config = BuildConfig(model=Path(model_path) if model_path is not None else None, board=board, out_dir=Path(out_dir),
                         folding=Path(folding) if folding is not None else None, target_fps=target_fps,
                         utilization_cap=utilization_cap, fifo_depths=fifo_depths, csim_exact=csim_exact, verify_frames=verify_frames,
                         seed=seed, clock_mhz=clock_mhz,
                         xilinx_settings=tuple(Path(p) for p in xilinx_settings), synthesize=synthesize,
                         require_bitstream=require_bitstream, cosim=cosim, jobs=jobs, allow_slow=allow_slow)
    return run_build(config, progress=(lambda m: print(m, file=sys.stderr, flush=True)) if verbose else None)
