"""The build's steps, in order (STEPS): each is `step(build) -> None`, reading and extending the `Build` record.

    load -> lower -> fold -> fifo -> codegen -> csim -> verify -> estimate -> synth -> report -> deploy

hwgen.build.run runs them; ARCHITECTURE.md says what each stage hands on.
"""

from __future__ import annotations

from typing import Callable

from hwgen.build.checks import step_verify
from hwgen.build.deploy import write_deploy
from hwgen.build.record import Build, write_json
from hwgen.build.synthesis import step_synth
from hwgen.codegen.render import cxx_defines, include_dirs, render
from hwgen.csim.compile import compile_library
from hwgen.estimate.summary import estimate
from hwgen.fifo import plan_fifos
from hwgen.fold import apply_folding, auto_fit, read_folding, write_folding
from hwgen.frontend.check import check_supported
from hwgen.frontend.load import load_qonnx
from hwgen.ir.serialize import write_graph
from hwgen.lower import HANDLERS, lower
from hwgen.report import write_report


def step_load(b: Build) -> None:
    """The model, cleaned (model/model_clean.onnx), and checked: every node must be an op hwgen.lower maps."""
    b.model = load_qonnx(b.config.model)
    check_supported(b.model, HANDLERS)
    b.model.save(str(b.out_dir / "model" / "model_clean.onnx"))


def step_lower(b: Build) -> None:
    b.graph = lower(b.model, b.model_name)


def step_fold(b: Build) -> None:
    if b.config.folding is not None:
        b.graph = apply_folding(b.graph, read_folding(b.config.folding), f"folding file {b.config.folding}")
    else:
        b.fit = auto_fit(b.graph, b.board, b.clock_mhz, b.config.target_fps, b.config.fifo_depths)
        b.graph = b.fit.graph
    write_folding(b.graph, b.out_dir / "model" / "folding.json")
    write_graph(b.graph, b.out_dir / "model")


def step_fifo(b: Build) -> None:
    """The FIFOs automatic folding counted in its fit check (plan_fifos, the same sizing)."""
    b.fifos = plan_fifos(b.graph, b.config.fifo_depths)
    if b.fifos.note:
        b.notes.append(f"FIFOs {b.fifos.note}")
    write_json(b.out_dir / "model" / "fifo_depths.json", b.fifos.depths)


def step_codegen(b: Build) -> None:
    b.design = render(b.graph, b.out_dir / "hls", b.out_dir / "csim", b.fifos.depths)


def step_csim(b: Build) -> None:
    hls, csim = b.out_dir / "hls", b.out_dir / "csim"
    b.csim_library, cached = compile_library([hls / "top.cpp", csim / "csim.cpp"], include_dirs(hls), csim / "libhwgen_csim.so",
                                             csim / "compile.log", exact=b.config.csim_exact, defines=cxx_defines(b.design))
    b.notes.append("C-sim library from the compile cache" if cached else "C-sim library compiled")


def step_estimate(b: Build) -> None:
    ports = ((b.design.input.words, b.design.input.bus), (b.design.output.words, b.design.output.bus))
    b.estimates = estimate(b.graph, b.board, b.clock_mhz, b.fifos, ports)
    write_json(b.out_dir / "report" / "estimates.json", b.estimates.to_json())


def step_report(b: Build) -> None:
    write_report(b)


def step_deploy(b: Build) -> None:
    """deploy/, with accelerator.json written last: only now is the folder a finished build."""
    write_deploy(b)


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
