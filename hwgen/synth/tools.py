"""Vitis HLS and Vivado: where they are (the one place that decides), and running a plan of tool commands.

    tools = find_tools(settings=["/opt/Xilinx/Vivado/2023.2/settings64.sh"])   # or PATH alone
    if tools.missing: print(tools.describe())                                  # never raises for absence
    plan = make_plan(write_scripts(...), tools)                                # files + argv + cwd
    results = run_plan(plan, build / "logs", progress=print)                   # raises ToolError on failure

Without settings scripts the tools are looked up on PATH. With them, each command runs as
`bash -c 'source S1 && ... && exec "$@"' hwgen TOOL ARGS...`, so the scripts set the environment of
that command only. Vitis 2023.2 and later ship `vitis-run` and deprecate `vitis_hls`: when only
`vitis-run` is found, `vitis_hls -f X.tcl` runs as `vitis-run --mode hls --tcl X.tcl`.
"""

from __future__ import annotations

import collections
import os
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hwgen.errors import HwgenError, ToolError

HLS_NAMES = ("vitis_hls", "vitis-run")  # in order of preference
TOOL_NAMES = ("vitis_hls", "vivado")  # what the scripts' commands name

# Lines of a tool's output worth passing to `progress` while it runs.
PROGRESS = re.compile(
    r"^(INFO: \[HLS 200-(1510|111|10)\]"  # Running: <command> / Finished <command> / Setting up / Analyzing
    r"|INFO: \[(COSIM|SIM) 212-\d+\]"
    r"|Phase \d+(\.\d+)* "  # Vivado synthesis / placement / routing phases
    r"|\[.*\] (Launched|Waiting for|Run output will be captured)"
    r"|.*(synth_1|impl_1) (finished|Complete)"
    r"|hwgen:|hwgen cosim:"
    r"|ERROR:|CRITICAL WARNING:)"
)
# Lines that explain a failure.
RELEVANT = re.compile(r"(ERROR|CRITICAL WARNING|FAIL|hwgen:|\*\*\* C/RTL co-simulation)")
TAIL_LINES = 15
MAX_RELEVANT = 25


@dataclass(frozen=True)
class Tools:
    """What find_tools found: executables (None: missing), the settings scripts they need."""

    hls: str | None  # path of vitis_hls or vitis-run (the name alone when found through settings scripts)
    hls_kind: str | None  # "vitis_hls" or "vitis-run"
    vivado: str | None
    settings: tuple[Path, ...] = ()  # sourced before every command, in order
    notes: tuple[str, ...] = ()  # where we looked, why something is missing

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(name for name, path in (("vitis_hls", self.hls), ("vivado", self.vivado)) if path is None)

    @property
    def complete(self) -> bool:
        return not self.missing

    def describe(self) -> str:
        found = [f"{self.hls_kind}: {self.hls}" if self.hls else "vitis_hls: not found",
                 f"vivado: {self.vivado}" if self.vivado else "vivado: not found"]
        if self.settings:
            found.append("through " + ", ".join(str(s) for s in self.settings))
        return "; ".join(found + list(self.notes))

    def argv(self, command: Sequence[str]) -> list[str]:
        """The argv that runs `command` (["vitis_hls", "-f", "hls.tcl"], ["vivado", ...]) with these tools."""
        name, args = command[0], list(command[1:])
        if name == "vitis_hls":
            if self.hls is None:
                raise ToolError("vitis_hls (or vitis-run) was not found: " + self.describe(), hint=INSTALL_HINT)
            exe = self.hls
            if self.hls_kind == "vitis-run":
                args = _vitis_run_args(args)
        elif name == "vivado":
            if self.vivado is None:
                raise ToolError("vivado was not found: " + self.describe(), hint=INSTALL_HINT)
            exe = self.vivado
        else:
            raise HwgenError(f"a tool command must start with one of {TOOL_NAMES}, not {name!r}")
        if not self.settings:
            return [exe, *args]
        sources = " && ".join(f"source {shlex.quote(str(s))}" for s in self.settings)
        return ["bash", "-c", f'{sources} && exec "$@"', "hwgen", exe, *args]


INSTALL_HINT = ("install Vitis HLS and Vivado (AMD), then put them on PATH or pass their settings64.sh "
                "(e.g. /tools/Xilinx/Vivado/2023.2/settings64.sh)")


def _vitis_run_args(args: list[str]) -> list[str]:
    if len(args) == 2 and args[0] == "-f":
        return ["--mode", "hls", "--tcl", args[1]]
    raise HwgenError(f"only 'vitis_hls -f SCRIPT' can run as vitis-run, not 'vitis_hls {' '.join(args)}'")


def find_tools(settings: Path | str | Sequence[Path | str] | None = None, path: str | None = None) -> Tools:
    """Locate vitis_hls (or vitis-run) and vivado; a Tools with `missing` set when absent, never an exception.

    settings: Xilinx settings scripts (settings64.sh of Vivado and, for separate installs, of Vitis HLS);
    when given, the tools are those the scripts put on PATH. path: the PATH to search (default: os.environ).
    """
    if settings is None:
        scripts: tuple[Path, ...] = ()
    elif isinstance(settings, (str, Path)):
        scripts = (Path(settings),)
    else:
        scripts = tuple(Path(s) for s in settings)
    if not scripts:
        search = path if path is not None else os.environ.get("PATH", "")
        hls, kind = None, None
        for name in HLS_NAMES:
            hls = shutil.which(name, path=search)
            if hls:
                kind = name
                break
        vivado = shutil.which("vivado", path=search)
        notes = () if hls and vivado else ("searched PATH",)
        return Tools(hls, kind, vivado, (), notes)

    absent = [str(s) for s in scripts if not s.is_file()]
    if absent:
        return Tools(None, None, None, scripts, (f"settings script {', '.join(absent)} does not exist",))
    found, note = _which_after_sourcing(scripts, ("vitis_hls", "vitis-run", "vivado"), path)
    hls_kind = next((name for name in HLS_NAMES if found.get(name)), None)
    hls = found.get(hls_kind) if hls_kind else None
    notes = (note,) if note else (() if hls and found.get("vivado") else (f"searched PATH after sourcing {', '.join(map(str, scripts))}",))
    return Tools(hls, hls_kind, found.get("vivado"), scripts, notes)


def _which_after_sourcing(scripts: tuple[Path, ...], names: Iterable[str], path: str | None) -> tuple[dict, str]:
    sources = " && ".join(f"source {shlex.quote(str(s))} >/dev/null 2>&1" for s in scripts)
    lookups = "; ".join(f'printf "%s=%s\\n" {shlex.quote(n)} "$(command -v {shlex.quote(n)})"' for n in names)
    env = dict(os.environ)
    if path is not None:
        env["PATH"] = path
    try:
        result = subprocess.run(["bash", "-c", f"{sources} || exit 3; {lookups}"], capture_output=True, text=True,
                                timeout=120, env=env, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {}, f"sourcing {', '.join(map(str, scripts))} failed: {exc}"
    if result.returncode != 0:
        return {}, f"sourcing {', '.join(map(str, scripts))} failed (exit {result.returncode})"
    found = {}
    for line in result.stdout.splitlines():
        name, _, where = line.partition("=")
        if name in names and where.strip():
            found[name] = where.strip()
    return found, ""


@dataclass(frozen=True)
class ToolStep:
    name: str  # "hls", "vivado": also the log file's name
    tool: str  # "vitis_hls", "vivado": what runs, for messages
    argv: tuple[str, ...]
    cwd: Path
    products: tuple[Path, ...] = ()  # files a successful run must leave


@dataclass(frozen=True)
class ToolPlan:
    """What a synthesis does: the files written, then each command in order."""

    files: tuple[Path, ...]
    steps: tuple[ToolStep, ...]

    def describe(self) -> str:
        lines = [f"cd {shlex.quote(str(s.cwd))} && {shlex.join(s.argv)}" for s in self.steps]
        return "\n".join(lines)


def make_plan(scripts: dict, tools: Tools, steps: Sequence[str] | None = None) -> ToolPlan:
    """The plan running write_scripts' commands with `tools`; raises ToolError when a tool is missing.

    steps: the step names to run, in order (default: all, "hls" then "vivado").
    """
    names = list(steps) if steps is not None else list(scripts["commands"])
    unknown = [n for n in names if n not in scripts["commands"]]
    if unknown:
        raise HwgenError(f"steps must be among {list(scripts['commands'])}, not {unknown}")
    planned = tuple(ToolStep(n, scripts["commands"][n][0], tuple(tools.argv(scripts["commands"][n])), Path(scripts["cwd"][n]),
                             tuple(Path(p) for p in scripts.get("products", {}).get(n, ()))) for n in names)
    return ToolPlan(tuple(Path(f) for f in scripts["files"]), planned)


@dataclass
class StepResult:
    name: str
    returncode: int
    seconds: float
    log: Path
    products: tuple[Path, ...] = ()  # the step's products, all present
    warnings: list[str] = field(default_factory=list)  # CRITICAL WARNING lines


def run_plan(plan: ToolPlan, log_dir: Path, progress: Callable[[str], None] | None = None) -> list[StepResult]:
    """Run each step in its folder, its output streamed to log_dir/<step>.log; stop at the first failure.

    A non-zero exit, or a product missing after the run, raises ToolError carrying the log's ERROR and
    CRITICAL WARNING lines and its last lines.
    """
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda _line: None)
    missing = [str(f) for f in plan.files if not Path(f).exists()]
    if missing:
        raise HwgenError(f"the plan's files are missing: {', '.join(missing)}", hint="write the scripts again (write_scripts)")
    results = []
    for step in plan.steps:
        results.append(_run_step(step, log_dir / f"{step.name}.log", say))
    return results


def _run_step(step: ToolStep, log: Path, say: Callable[[str], None]) -> StepResult:
    for product in step.products:  # what the run must make is not taken from an earlier run
        if product.is_file():
            product.unlink()
    relevant: list[str] = []
    warnings: list[str] = []
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    say(f"{step.name}: {shlex.join(step.argv)} (in {step.cwd}; log {log})")
    t0 = time.perf_counter()
    with open(log, "w", encoding="utf-8", errors="replace") as out:
        out.write(f"$ cd {shlex.quote(str(step.cwd))} && {shlex.join(step.argv)}\n\n")
        out.flush()
        try:
            proc = subprocess.Popen(list(step.argv), cwd=step.cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, text=True, errors="replace", bufsize=1)
        except OSError as exc:
            raise ToolError(f"{step.tool} could not be started for step {step.name!r}: {exc}", where=str(log),
                            hint=INSTALL_HINT) from None
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                out.write(line)
                text = line.rstrip("\n")
                tail.append(text)
                if RELEVANT.search(text) and len(relevant) < MAX_RELEVANT:
                    relevant.append(text)
                if text.startswith("CRITICAL WARNING"):
                    warnings.append(text)
                if PROGRESS.match(text):
                    say(f"{step.name}: {text.strip()}")
            returncode = proc.wait()
        except BaseException:  # KeyboardInterrupt included: do not leave the tool running
            proc.kill()
            proc.wait()
            raise
    seconds = time.perf_counter() - t0
    if returncode != 0:
        raise ToolError(f"{step.tool} failed in step {step.name!r} "
                        f"(exit {returncode}) after {seconds:.0f} s:\n" + _explain(relevant, tail),
                        where=str(log), hint="the full output is in the log")
    absent = [str(p) for p in step.products if not p.is_file()]
    if absent:
        raise ToolError(f"step {step.name!r} exited 0 but did not write {', '.join(absent)}:\n" + _explain(relevant, tail),
                        where=str(log), hint="the full output is in the log")
    say(f"{step.name}: done in {seconds:.0f} s")
    return StepResult(step.name, returncode, round(seconds, 3), log, step.products, warnings)


def _explain(relevant: list[str], tail: Iterable[str]) -> str:
    lines = list(relevant)
    rest = [l for l in tail if l not in lines]
    if rest:
        lines += ["  ... last lines:"] + rest
    return "\n".join("  " + l if not l.startswith("  ") else l for l in lines)
