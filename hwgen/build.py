"""The build: QONNX model -> verified C-sim accelerator and deploy folder, step by step.

Each step is a function `step(build) -> None` that reads and extends the `Build` record;
times per step go to hwgen.json. The build folder (DESIGN.md):
    hwgen.json  model/  hls/  csim/  report/  deploy/
`deploy/accelerator.json` is written last, after verification passed: without it the folder
is not a finished build, and the driver refuses it.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Callable

import numpy as np

from hwgen import __version__
from hwgen.boards import Board, load_board
from hwgen.errors import HwgenError, InternalError, Interrupted
from hwgen.fifo import FifoDepths

STATUS_FILE = "hwgen.json"
REFERENCE_FRAMES = 32  # inputs + C-sim outputs shipped in deploy/ for the on-board self-check
COSIM_FRAMES = 4  # frames the RTL co-simulation checks (it is slow)


@dataclass(frozen=True)
class BuildConfig:
    model: Path | None = None  # QONNX model file; None builds the bundled digits MLP
    board: str = "pynq-z2"  # a board of boards/ (python -m hwgen boards)
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
    """What a build made; returned by hwgen.build()."""

    config: BuildConfig
    out_dir: Path
    board: Board
    model_name: str = ""
    model: object = None  # cleaned qonnx ModelWrapper
    graph: object = None  # folded DataflowGraph
    design: dict = field(default_factory=dict)
    fifo_depths: dict = field(default_factory=dict)  # depth of the stream each layer writes
    never_blocking_depths: dict = field(default_factory=dict)  # what each stream holds if no producer ever waits
    fifo_sizing: FifoDepths | None = None  # the sizing used: the config's, unless the design is too slow to shrink
    fifo_note: str | None = None  # why it is not the config's
    csim_library: Path | None = None
    verification: dict = field(default_factory=dict)
    estimates: dict = field(default_factory=dict)
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

    def accelerator(self, backend: str = "csim"):
        from hwgen.driver import Accelerator

        return Accelerator(self.out_dir, backend=backend)


# -- steps ------------------------------------------------------------------------------
def step_load(b: Build) -> None:
    from hwgen.frontend.load import load_qonnx

    path = b.config.model
    b.model = load_qonnx(path)
    b.model.save(str(b.out_dir / "model" / "model_clean.onnx"))


def step_lower(b: Build) -> None:
    from hwgen.lower import lower

    b.graph = lower(b.model, b.model_name)


def step_fold(b: Build) -> None:
    from hwgen.fold import apply_folding, auto_fold, read_folding, write_folding
    from hwgen.ir.serialize import write_graph

    if b.config.folding is not None:
        b.graph = apply_folding(b.graph, read_folding(b.config.folding), f"folding file {b.config.folding}")
    else:
        b.graph = auto_fold(b.graph, b.board, b.clock_mhz, b.config.target_fps, b.config.fifo_depths)
    write_folding(b.graph, b.out_dir / "model" / "folding.json")
    write_graph(b.graph, b.out_dir / "model")


def step_fifo(b: Build) -> None:
    """The FIFOs automatic folding counted in its fit check (plan_fifos, the same sizing)."""
    from hwgen.fifo import plan_fifos

    plan = plan_fifos(b.graph, b.config.fifo_depths)
    b.fifo_depths, b.never_blocking_depths, b.fifo_sizing, b.fifo_note = plan.depths, plan.never_blocking, plan.sizing, plan.note
    if plan.note:
        b.notes.append(f"FIFOs {plan.note}")
    _write_json(b.out_dir / "model" / "fifo_depths.json", b.fifo_depths)


def step_codegen(b: Build) -> None:
    from hwgen.codegen.render import render

    b.design = render(b.graph, b.out_dir / "hls", b.out_dir / "csim", b.fifo_depths)


def step_csim(b: Build) -> None:
    from hwgen.codegen.render import cxx_defines, include_dirs
    from hwgen.csim.compile import compile_library

    hls, csim = b.out_dir / "hls", b.out_dir / "csim"
    b.csim_library, cached = compile_library([hls / "top.cpp", csim / "csim.cpp"], include_dirs(hls), csim / "libhwgen_csim.so",
                                             csim / "compile.log", exact=b.config.csim_exact, defines=cxx_defines(b.design))
    b.notes.append("C-sim library from the compile cache" if cached else "C-sim library compiled")


def step_verify(b: Build) -> None:
    from hwgen import verify
    from hwgen.driver.accelerator import Accelerator

    _write_metadata(b, b.out_dir / "csim" / "accelerator.json")  # C-sim can run before deploy/ exists
    acc = Accelerator(b.out_dir / "csim", backend="csim")
    x, labels = _verification_inputs(b)
    levels = acc.quantize(x)
    acc.backend.reset_iterations()
    report = {"ir_vs_csim": verify.compare_ir_csim(b.graph, acc, levels)}
    report["cycles_vs_csim"] = verify.compare_cycles(b.graph, acc.backend, len(levels), exact=b.config.csim_exact)
    b.reference_io = {"x": x[:REFERENCE_FRAMES], "y_int": acc.execute_integers(levels[:REFERENCE_FRAMES])}
    packed = acc.pack_input(levels[:COSIM_FRAMES])
    b.cosim_vectors = (packed, acc.backend.run(packed, len(packed)))
    if not report["ir_vs_csim"]["bit_exact"]:
        _write_json(b.out_dir / "report" / "verification.json", report)
        raise HwgenError(f"C simulation differs from the numpy reference in {report['ir_vs_csim']['mismatches']} of "
                         f"{report['ir_vs_csim']['elements']} elements (first: {report['ir_vs_csim']['first_mismatch']})",
                         where="verification", hint="this is a bug in hwgen: please report it with report/verification.json and the model")
    n = min(b.config.verify_frames, len(x))
    golden = _qonnx_outputs(b, x[:n])
    ours = acc.execute(x)
    report["qonnx_vs_csim"] = verify.compare_qonnx(golden, ours[:n], acc.output_step(), model=b.model, x=x[:n])
    if labels is not None:
        report["accuracy"] = {
            "frames": int(len(labels)),
            "csim": float((ours.reshape(len(ours), -1).argmax(1) == labels).mean()),
            "qonnx_first_frames": float((golden.reshape(n, -1).argmax(1) == labels[:n]).mean()),
            **_reference_accuracy(b),
        }
    _write_json(b.out_dir / "report" / "verification.json", report)
    b.verification = report
    q = report["qonnx_vs_csim"]
    if not q["passed"]:
        hint = ("this is a bug in hwgen's lowering: please report it with report/verification.json and the model"
                if q["elements_unexplained"] else
                "QONNX computing in float64 gives the accelerator's values: rounding ties inside the model (report/"
                "verification.json lists them) moved these outputs by more than one step; please report it with that "
                "file and the model")
        raise HwgenError(_disagreement(q), where="verification", hint=hint)


def _disagreement(q: dict, shown: int = 5) -> str:
    """What the QONNX comparison found that rounding ties do not explain, position by position."""
    frames = sorted({p["frame"] for p in q["failing"]})
    lines = [(f"the accelerator's output differs from QONNX execution of the model in {q['elements_failing']} of "
              f"{q['elements']} output elements beyond rounding ties ({q['elements_beyond_one_step']} more than one "
              f"quantization step apart, {q['elements_unexplained']} where QONNX computing in float64 does not give the "
              f"accelerator's value either), in frame{'s' if len(frames) > 1 else ''} "
              f"{', '.join(map(str, frames[:10]))}{', ...' if len(frames) > 10 else ''}:")]
    for p in q["failing"][:shown]:
        f64 = p.get("qonnx_float64")
        lines.append(f"  frame {p['frame']}, output element {p['element']}: accelerator {p['accelerator']:.6g}, QONNX {p['qonnx']:.6g} "
                     f"({p['steps_apart']:.3g} step{'' if p['steps_apart'] == 1 else 's'} apart; "
                     f"QONNX in float64: {'-' if f64 is None else f'{f64:.6g}'})")
    if q["elements_failing"] > shown:
        lines.append(f"  ... and {q['elements_failing'] - shown} more (report/verification.json lists up to {len(q['failing'])})")
    lines += [f"  ({error})" for error in q.get("float64_errors", [])[:1]]
    return "\n".join(lines)


def step_estimate(b: Build) -> None:
    from hwgen.estimate import cycles, resources, throughput, total_resources
    from hwgen.estimate.cycle_model import io_cycles
    from hwgen.estimate.resource_model import SHELL, fifo_resources, implementation
    from hwgen.ir.layers import MVAU

    port = b.board.dma_port_bits  # the DMA's memory side (vivado/bd.tcl)
    io = {"DMA in": io_cycles(b.design["input"].words, b.design["input"].bus, port),
          "DMA out": io_cycles(b.design["output"].words, b.design["output"].bus, port)}
    t = throughput(b.graph, b.clock_mhz, io)
    total = total_resources(b.graph, b.fifo_depths)
    layers = []
    for layer in b.graph.layers:
        fold = {"PE": getattr(layer, "pe", None), "SIMD": getattr(layer, "simd", None)}
        if isinstance(layer, MVAU):
            fold.update(ram_style=layer.ram_style.value, resType=layer.res_type.value, implementation=implementation(layer))
        layers.append({"name": layer.name, "kind": type(layer).__name__, "folding": fold, "cycles": cycles(layer),
                       "resources": resources(layer).as_dict()})
    usage = (total + SHELL).usage(b.board.resources)
    b.estimates = {
        "board": b.board.name, "clock_mhz": b.clock_mhz, "fps": t["fps"], "bottleneck": t["bottleneck"],
        "io_cycles": io, "latency_cycles": t["latency_cycles"], "latency_us": t["latency_cycles"] / b.clock_mhz,
        "layers": layers, "fifo_depths": b.fifo_depths, "fifo_sizing": b.fifo_sizing.value, "fifo_note": b.fifo_note,
        "fifo_depths_never_blocking": b.never_blocking_depths,
        "fifos": fifo_resources(b.graph, b.fifo_depths).as_dict(),
        "fifos_never_blocking": fifo_resources(b.graph, b.never_blocking_depths).as_dict(), "total": total.as_dict(), "shell": SHELL.as_dict(),
        "board_resources": b.board.resources, "utilization_cap": b.board.utilization_cap,
        "usage_with_shell": {k: round(v, 4) for k, v in usage.items()},
        "fits": all(v <= b.board.utilization_cap for v in usage.values()),
    }
    _write_json(b.out_dir / "report" / "estimates.json", b.estimates)


def step_deploy(b: Build) -> None:
    """deploy/: driver package, metadata, notebooks, reference inputs/outputs: copy it to the board."""
    from hwgen.resources import default_model, notebooks

    deploy = b.accelerator_dir
    driver = deploy / "hwgen_driver"
    if driver.exists():
        shutil.rmtree(driver)
    driver.mkdir(parents=True)
    for f in sorted((Path(__file__).parent / "driver").glob("*.py")):
        shutil.copyfile(f, driver / f.name)
    np.savez(deploy / "reference_io.npz", **b.reference_io)
    shutil.copyfile(notebooks() / "check_accelerator.ipynb", deploy / "check_accelerator.ipynb")
    if _is_default_model(b.config.model):
        shutil.copyfile(notebooks() / "digits_classification.ipynb", deploy / "digits_classification.ipynb")
        shutil.copyfile(default_model().parent / "test_set.npz", deploy / "test_set.npz")
    _write_metadata(b, deploy / "accelerator.json")


def step_synth(b: Build) -> None:
    """Write the Vitis HLS / Vivado scripts; run them when the tools are found (and wanted)."""
    from hwgen.synth import find_tools, make_plan, run_plan, write_scripts

    cfg = b.config
    scripts = write_scripts(b.out_dir, b.board, b.design, b.clock_mhz, cfg.cosim,
                            b.cosim_vectors if cfg.cosim else None, jobs=cfg.jobs)
    finish = f"python -m hwgen synth {b.out_dir}" + "".join(f" --xilinx-settings {s}" for s in cfg.xilinx_settings)
    b.synthesis = {"scripts": [str(p) for p in scripts["files"]], "ran": False, "finish_command": finish}
    if not cfg.synthesize:
        b.synthesis_status = ["not done: synthesis (switched off); scripts in hls/hls.tcl and vivado/bd.tcl",
                              f"finish:   {finish}"]
        return
    tools = find_tools(cfg.xilinx_settings or None)
    b.synthesis["tools"] = tools.describe()
    if not tools.complete:
        if cfg.require_bitstream:
            raise HwgenError(f"a bitstream was required, but {', '.join(tools.missing)} not found ({tools.describe()})",
                             hint="put Vitis HLS and Vivado on PATH or pass --xilinx-settings .../settings64.sh")
        b.synthesis_status = [
            f"not done: Vitis HLS synthesis, Vivado implementation and the bitstream ({', '.join(tools.missing)} not found); "
            "the scripts are written (hls/hls.tcl, vivado/bd.tcl)",
            f"finish:   {finish}   (on a machine with Vitis HLS and Vivado)"]
        return
    logs = b.out_dir / "vivado" / "logs"
    run_plan(make_plan(scripts, tools, steps=["hls"]), logs, progress=b.progress)
    b.synthesis.update(_hls_achieved(b))
    _gate(b, "Vitis HLS synthesis is slower than the cycle model",
          "change the folding or the kernels, or pass --allow-slow to build the bitstream anyway (the summary then "
          "lists these as warnings)")
    run_plan(make_plan(scripts, tools, steps=["vivado"]), logs, progress=b.progress)
    b.synthesis["ran"] = True
    b.synthesis.update(_vivado_reports(b))
    _gate(b, "the implemented design misses its clock",
          "lower --clock-mhz or the folding, or pass --allow-slow to keep this bitstream anyway")
    _write_json(b.out_dir / "report" / "synthesis.json", b.synthesis)
    b.synthesis_status = [f"synthesized: deploy/hwgen.bit + hwgen.hwh; {b.synthesis.get('summary', '')}", *_achieved_lines(b)]


def _hls_achieved(b: Build) -> dict:
    """Vitis HLS's report, and each process's loops and interval next to the cycle model (hwgen.synth.achieved)."""
    from dataclasses import asdict as fields_of

    from hwgen.synth.achieved import compare_hls
    from hwgen.synth.reports import parse_hls_design
    from hwgen.synth.scripts import csynth_report

    hls = parse_hls_design(csynth_report(b.out_dir).parent)
    model = {layer["name"]: layer["cycles"] for layer in b.estimates["layers"]}
    achieved = {**compare_hls(hls, b.design, model), "clock_mhz": b.clock_mhz, "allow_slow": b.config.allow_slow}
    return {"hls": fields_of(hls.report), "achieved": achieved}


def _vivado_reports(b: Build) -> dict:
    """Post-implementation utilization and timing; timing not met is one more way to miss the model."""
    from dataclasses import asdict as fields_of

    from hwgen.synth import parse_timing_summary, parse_utilization
    from hwgen.synth.achieved import timing_problem
    from hwgen.synth.scripts import vivado_reports

    reports = vivado_reports(b.out_dir)
    util = parse_utilization(reports["utilization"])
    timing = parse_timing_summary(reports["timing_summary"])
    used = {k: util.used(k) for k in ("LUT", "FF", "BRAM36", "URAM", "DSP")}
    summary = (f"post-implementation {used['LUT']:,.0f} LUT, {used['BRAM36']:g} BRAM36, {used['DSP']:,.0f} DSP; "
               f"timing {'met' if timing.met else 'NOT met'} (WNS {timing.wns_ns:+.3f} ns)")
    achieved = b.synthesis["achieved"]
    achieved["timing"] = fields_of(timing)
    problem = timing_problem(timing, b.clock_mhz)
    if problem:
        achieved["problems"].append(problem)
    return {"utilization": used, "timing": fields_of(timing), "summary": summary}


def _gate(b: Build, what: str, hint: str) -> None:
    """Stop the build on the problems found so far (recorded in report/synthesis.json first), unless allow_slow."""
    problems = b.synthesis["achieved"]["problems"]
    record = b.out_dir / "report" / "synthesis.json"
    _write_json(record, b.synthesis)
    if problems and not b.config.allow_slow:
        raise HwgenError(f"{what}:\n" + "\n".join(f"  - {p}" for p in problems), hint=f"{hint}; the numbers are in {record}")


def _achieved_lines(b: Build) -> list[str]:
    from hwgen.synth.achieved import summary_lines

    return summary_lines(b.synthesis.get("achieved", {}))


def step_report(b: Build) -> None:
    from hwgen.report import write_report

    write_report(b)


STEPS: list[tuple[str, Callable[[Build], None]]] = [
    ("load", step_load),
    ("lower", step_lower),
    ("fold", step_fold),
    ("fifo", step_fifo),
    ("codegen", step_codegen),
    ("csim", step_csim),
    ("verify", step_verify),
    ("estimate", step_estimate),
    ("synth", step_synth),
    ("report", step_report),
    ("deploy", step_deploy),
]


# -- helpers ----------------------------------------------------------------------------
def _write_json(path: Path, data) -> None:
    from hwgen.ir.serialize import jsonable

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # whole or not at all: a build may be stopped at any moment
    tmp.write_text(json.dumps(jsonable(data), indent=2) + "\n")
    os.replace(tmp, path)


def _write_metadata(b: Build, path: Path) -> None:
    """What the driver needs (deploy/accelerator.json): ports, host pre/post-processing, files."""
    from hwgen.ir.serialize import jsonable

    g, d = b.graph, b.design
    rel = Path("..") / "csim" / "libhwgen_csim.so" if path.parent.name == "deploy" else Path("libhwgen_csim.so")
    meta = {
        "hwgen_version": __version__,
        "layouts": "input 'nhwc': the (N, C, H, W) input streams channels-last, 'flat': in C order; output "
                   "'nhwc': the stream is the (C, H, W) output channels-last, 'flat' with perm: stream element j "
                   "is output feature perm[j]",
        "host_ops": "input 'pre_ops' (the model's float ops before its input quantizer), then 'quant', run on "
                    "the host in float32 on the (N, ...) input in ONNX layout; output 'ops' (element-wise, float64, stream "
                    "order) give the last hardware layer's tensor of 'shape', then 'post_ops' (float32, ONNX layout: "
                    "Softmax, ArgMax, TopK, ...) the model's output of 'result_shape'; hwgen_driver/ops.py defines them",
        "model": b.model_name,
        "board": b.board.name,
        "input": {"shape": list(g.input.shape), "pre_ops": list(g.input.pre_ops), "quant": g.input.quant,
                  "dtype": str(g.input.dtype), "elems": g.input.elems,
                  "per_word": d["input"].per_word, "bus": d["input"].bus, "words": d["input"].words,
                  "layout": g.input.layout,
                  "levels": "Accelerator.execute_integers takes the input quantizer's integer levels in stream order: "
                            "for layout 'nhwc' an (N, H, W, C) integer array (an image batch as cameras give it) "
                            "reshaped to (N, -1); for 'flat' the quantizer's input (after pre_ops) flattened in C order",
                  "pixels_are_levels": _pixels_are_levels(g.input.quant)
                                       and all(op["op"] == "reshape" for op in g.input.pre_ops)},  # values unchanged
        "output": {"shape": list(g.output.shape), "dtype": str(g.output.dtype), "elems": g.output.elems, "ops": list(g.output.ops),
                   "post_ops": list(g.output.post_ops), "result_shape": list(g.output.result_shape or g.output.shape),
                   "layout": g.output.layout, "perm": None if g.output.perm is None else list(g.output.perm),
                   "per_word": d["output"].per_word, "bus": d["output"].bus, "words": d["output"].words},
        "csim_library": str(rel),
        "bitstream": "hwgen.bit" if b.synthesis.get("ran") else None,
        "ip": "hwgen_top_0",
        "dma": "axi_dma_0",
        "frames_register": 0x10,
        "transfers": "one run = the frame count written to frames_register, ap_start, one AXI DMA transfer of frames x "
                     "input words x bus/8 bytes in (MM2S) and one of frames x output words x bus/8 bytes out (S2MM); "
                     "TLAST is on the run's last output word only, where the DMA ends the receive",
        "estimated_fps": b.estimates.get("fps"),  # at the build's clock; bounds the PYNQ backend's wait
        "folding": {l.name: {"PE": l.pe, **({"SIMD": l.simd} if hasattr(l, "simd") else {})} for l in g.foldable},
    }
    _write_json(path, jsonable(meta))


def _pixels_are_levels(q: dict) -> bool:
    """An unsigned 8-bit input quantizer of scale 1/255, zero point 0: raw uint8 pixels are its levels
    (x = pixel / 255 quantizes back to the pixel), so a camera frame can be streamed as it is. Likewise
    an input without quantizer annotated UINT8: its values are the pixels."""
    if q.get("op") == "integer":
        return (q["min"], q["max"], q["bipolar"]) == (0, 255, False)
    if q.get("op") != "quant" or q.get("signed") or q.get("bits") != 8 or q.get("zero_point", 0) != 0:
        return False
    pixels = np.arange(256, dtype=np.float32)
    from hwgen.driver.ops import quant_int

    return bool(np.array_equal(quant_int(pixels / np.float32(255), q, np.float32), pixels))


def _qonnx_outputs(b: Build, x: np.ndarray) -> np.ndarray:
    """QONNX's outputs for `x`, reused from an earlier run into this folder when they were computed
    from the same model (its cleaned ONNX bytes), the same input bytes and the same versions of
    qonnx, onnx, onnxruntime and numpy (all in the key), else computed (and stored for the next run)."""
    import hashlib

    from hwgen import verify

    key = hashlib.sha256(b.model.model.SerializeToString())
    key.update(f"{x.shape} {x.dtype} ".encode() + x.tobytes())
    key.update(json.dumps({k: b.versions.get(k) for k in ("qonnx", "onnx", "onnxruntime", "numpy")}, sort_keys=True).encode())
    digest = key.hexdigest()
    path = b.out_dir / "model" / "qonnx_outputs.npz"
    try:
        with np.load(path) as stored:
            if str(stored["key"]) == digest:
                b.notes.append("QONNX outputs reused from an earlier run (same model, inputs and versions)")
                return stored["y"]
    except (OSError, ValueError, KeyError, EOFError):  # none yet, or damaged: computed again
        pass
    y = verify.qonnx_outputs(b.model, x)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
    np.savez(tmp, key=digest, y=y)
    os.replace(tmp, path)
    return y


def _verification_inputs(b: Build) -> tuple[np.ndarray, np.ndarray | None]:
    if _is_default_model(b.config.model):
        from hwgen.resources import default_model

        data = np.load(default_model().parent / "test_set.npz")
        return data["x"].astype(np.float32), data["y"]
    from hwgen.verify import random_inputs

    return random_inputs(b.graph, max(b.config.verify_frames, 64), b.config.seed), None


def _is_default_model(path: Path) -> bool:
    from hwgen.resources import default_model

    return Path(path).resolve() == default_model().resolve()


def _reference_accuracy(b: Build) -> dict:
    from hwgen.resources import default_model

    info = default_model().parent / "model.json"
    if not info.is_file():
        return {}
    return {"torch": json.loads(info.read_text()).get("torch_test_accuracy")}


def _versions() -> dict:
    import importlib.metadata as md

    versions = {"hwgen": __version__, "python": platform.python_version()}
    for pkg in ("numpy", "onnx", "qonnx", "onnxruntime", "hls4ml", "jinja2"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    try:
        versions["g++"] = subprocess.run(["g++", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        versions["g++"] = None
    return versions


def _record(b: Build, status: str, error: str | None = None, **extra) -> None:
    cfg = {k: (str(v) if isinstance(v, Path) else [str(p) for p in v] if isinstance(v, tuple) else v.value if isinstance(v, Enum) else v)
           for k, v in asdict(b.config).items()}
    record = {"status": status, "step": b.step, "error": error, **extra, "config": cfg, "model_name": b.model_name,
              "versions": b.versions, "step_seconds": b.timings,
              "notes": b.notes + (b.graph.notes if b.graph is not None else [])}
    _write_json(b.out_dir / STATUS_FILE, record)


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


def run_build(config: BuildConfig, progress: Callable[[str], None] | None = None) -> Build:
    """Run every step, recording in hwgen.json how far the build got.

    While it runs, hwgen.json says "running" and names the step under way; at the end "complete",
    and only then does deploy/accelerator.json (the driver's sign of a finished build) exist.
    Otherwise hwgen.json says, with the step:
      - "failed": HwgenError, a problem with the input (model, options, tools), is raised as it is;
        any other exception is a bug in hwgen: its traceback goes to report/internal_error.log and
        an InternalError (a HwgenError naming the step, the model node or layer where known, and
        the log) is raised from it;
      - "interrupted": SIGINT (Ctrl-C) or SIGTERM stopped it; Interrupted (a KeyboardInterrupt)
        is raised.
    Running the same build again redoes every step, reusing what is keyed by content: compiled
    C-sim libraries (the compile cache) and QONNX's outputs (model/qonnx_outputs.npz).
    """
    from hwgen.resources import default_model

    board = load_board(config.board)
    if config.utilization_cap is not None:
        board = replace(board, utilization_cap=config.utilization_cap)
    if config.model is None:
        config = BuildConfig(**{**asdict(config), "model": default_model()})
    out = Path(config.out_dir)
    b = Build(config=config, out_dir=out, board=board, model_name=Path(config.model).stem if Path(config.model).stem != "model" else Path(config.model).parent.name)
    try:
        for sub in ("model", "hls", "csim", "report", "deploy"):
            (out / sub).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HwgenError(f"cannot create the build folder {out} ({exc.strerror or exc})",
                         hint="--out must name a folder (new or an earlier build), not a file") from None
    for stale in ("accelerator.json", "hwgen.bit", "hwgen.hwh"):  # not this design's until produced again
        (out / "deploy" / stale).unlink(missing_ok=True)
    (out / "report" / INTERNAL_ERROR_LOG).unlink(missing_ok=True)
    b.versions = _versions()
    say = progress or (lambda _msg: None)
    b.progress = say
    with _signals_stop_the_build() as hold:
        try:
            for i, (name, step) in enumerate(STEPS, 1):
                b.step = name
                _record(b, "running")
                say(f"[{i}/{len(STEPS)}] {name} ...")
                t0 = time.perf_counter()
                try:
                    step(b)
                finally:
                    b.timings[name] = round(time.perf_counter() - t0, 3)
                say(f"[{i}/{len(STEPS)}] {name} done in {b.timings[name]:.2f} s")
            b.step = None
            _record(b, "complete")
        except HwgenError as exc:
            hold()
            _abandon(b, "failed", str(exc))
            raise
        except KeyboardInterrupt as exc:
            hold()
            stop = exc if isinstance(exc, Interrupted) else Interrupted(signal.SIGINT)
            stop.step = b.step
            _abandon(b, "interrupted", str(stop), signal=stop.signal_name)
            if stop is exc:
                raise
            raise stop from None
        except Exception as exc:
            hold()
            error = _internal_error(b, exc)
            _abandon(b, "failed", str(error), log=None if error.log is None else str(error.log.relative_to(out)))
            raise error from exc
        except BaseException as exc:  # SystemExit, GeneratorExit: not a finished build either
            hold()
            _abandon(b, "failed", f"{type(exc).__name__}: {exc}")
            raise
    return b


INTERNAL_ERROR_LOG = "internal_error.log"  # in report/: the traceback of an InternalError


def _abandon(b: Build, status: str, error: str, **extra) -> None:
    """A build that did not finish: never presented as one, and hwgen.json says how it ended."""
    (b.out_dir / "deploy" / "accelerator.json").unlink(missing_ok=True)
    _record(b, status, error, **extra)


@contextmanager
def _signals_stop_the_build():
    """While a build runs, SIGINT and SIGTERM raise Interrupted in it, so that hwgen.json can say so
    (by default SIGTERM ends the process at once). Only where Python's default handlers are in
    place (a caller's own handler, or an ignored signal, is left alone) and only in the main
    thread (the only one Python delivers signals to). Yields `hold`: after it is called, and
    after the first signal, further signals are ignored while the build writes how it ended.
    The previous handlers come back on exit."""
    held = False

    def hold() -> None:
        nonlocal held
        held = True

    def stop(signum, _frame) -> None:
        if not held:
            hold()
            raise Interrupted(signum)

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            if signal.getsignal(sig) in (signal.SIG_DFL, signal.default_int_handler):
                previous[sig] = signal.signal(sig, stop)
    try:
        yield hold
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _internal_error(b: Build, exc: Exception) -> InternalError:
    """An unexpected exception in a step: its traceback into report/internal_error.log, and one
    short error naming the step, the node or layer (when known) and what to report."""
    where = _where_in_traceback(exc)
    log = b.out_dir / "report" / INTERNAL_ERROR_LOG
    text = [f"hwgen {__version__}: internal error in build step {b.step!r}" + (f" at {where}" if where else ""),
            f"time: {time.strftime('%Y-%m-%d %H:%M:%S %z')}",
            f"command: {' '.join(sys.argv)}",
            f"config: {json.dumps({k: str(v) for k, v in asdict(b.config).items()})}",
            f"versions: {json.dumps(b.versions)}",
            f"platform: {platform.platform()}", "",
            "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))]
    try:
        log.write_text("\n".join(text))
    except OSError:
        log = None
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    attach = f"{log} and {b.out_dir / STATUS_FILE}" if log is not None else f"{b.out_dir / STATUS_FILE} and the command you ran"
    return InternalError(f"internal error in build step {b.step!r}: {type(exc).__name__}" + (f": {first}" if first else ""),
                         where=where, step=b.step, log=log, original=exc,
                         hint=f"this is a bug in hwgen, not a problem with your model or options: please report it to the "
                              f"hwgen developers, attaching {attach} (and the model file if you can share it)")


def _where_in_traceback(exc: BaseException) -> str | None:
    """The model node or layer being handled where `exc` was raised: from the innermost function of
    its traceback taking a parameter `node` (an ONNX NodeProto: the lowering's handlers) or `layer`
    (an hwgen layer: the per-layer functions of folding, estimates, code generation). Parameters
    only: a loop variable may be left over from a loop that had finished. None if none has."""
    from hwgen.ir import layers

    tb, frames = exc.__traceback__, []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        code = frame.f_code
        params = code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]
        node = frame.f_locals.get("node") if "node" in params else None
        layer = frame.f_locals.get("layer") if "layer" in params else None
        if hasattr(node, "op_type") and hasattr(node, "name"):
            return f"node {node.name!r} ({node.op_type})"
        if type(layer).__module__ == layers.__name__ and hasattr(layer, "name"):
            return f"layer {layer.name!r} ({type(layer).__name__})"
    return None


def build(model_path=None, board: str = "pynq-z2", out_dir="build", folding=None, target_fps: float | None = None,
          verify_frames: int = 100, seed: int = 0, clock_mhz: float | None = None, xilinx_settings=(),
          synthesize: bool = True, require_bitstream: bool = False, cosim: bool = False, jobs: int = 4,
          verbose: bool = False, utilization_cap: float | None = None, fifo_depths: str = FifoDepths.SHALLOW,
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
    """
    config = BuildConfig(model=Path(model_path) if model_path is not None else None, board=board, out_dir=Path(out_dir),
                         folding=Path(folding) if folding is not None else None, target_fps=target_fps,
                         utilization_cap=utilization_cap, fifo_depths=fifo_depths, csim_exact=csim_exact, verify_frames=verify_frames, seed=seed, clock_mhz=clock_mhz,
                         xilinx_settings=tuple(Path(p) for p in xilinx_settings), synthesize=synthesize,
                         require_bitstream=require_bitstream, cosim=cosim, jobs=jobs, allow_slow=allow_slow)
    return run_build(config, progress=(lambda m: print(m, file=sys.stderr, flush=True)) if verbose else None)
