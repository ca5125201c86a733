"""The architecture's rules, checked on the source (ARCHITECTURE.md explains them).

- Each stage imports only itself and earlier stages (code generation not even the estimates); imports
  inside functions count too.
- The driver imports nothing from hwgen outside its folder (it is copied to the board alone).
- No Python file is longer than 400 lines.
- Nothing in the repository refers to documents or paths outside it.
"""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "hwgen"

# In order; a module belongs to the stage of the longest prefix listed.
STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("hwgen.version", "hwgen.errors", "hwgen.datatypes", "hwgen.resources", "hwgen.boards", "hwgen.hw", "hwgen.driver")),
    ("kinds and the graph", ("hwgen.kinds", "hwgen.ir")),
    ("estimate", ("hwgen.estimate", "hwgen.fifo")),
    ("frontend", ("hwgen.frontend",)),
    ("lower", ("hwgen.lower",)),
    ("fold", ("hwgen.fold",)),
    ("codegen", ("hwgen.codegen",)),
    ("csim", ("hwgen.csim",)),
    ("verify", ("hwgen.verify",)),
    ("synth", ("hwgen.synth",)),
    ("report", ("hwgen.report",)),
    ("build, api, cli", ("hwgen.build", "hwgen", "hwgen.cli", "hwgen.__main__")),
    ("models and training", ("hwgen.zoo", "hwgen.train")),
]


# Earlier, but still not to be imported: code generation renders what folding decided (the implementation
# choices are the layers' own, hwgen.kinds), it never estimates.
FORBIDDEN = {("hwgen.codegen", "hwgen.estimate"), ("hwgen.codegen", "hwgen.fifo")}


def stage_of(module: str) -> int:
    best, stage = -1, None
    for i, (_, prefixes) in enumerate(STAGES):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, stage = len(prefix), i
    if stage is None:
        raise AssertionError(f"{module} belongs to no stage: add it to STAGES (and to ARCHITECTURE.md)")
    return stage


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def hwgen_imports(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, module) of every import of an hwgen module in `source` (the text of `module`), at any depth:
    inside functions too."""
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the package this module is in
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module
            # `from hwgen.x import y`: y may be a module of hwgen.x; it is in the same stage or a later prefix
            found += [(node.lineno, f"{target}.{alias.name}" if _is_module(f"{target}.{alias.name}") else target)
                      for alias in node.names]
    return [(line, name) for line, name in found if name == "hwgen" or name.startswith("hwgen.")]


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports_of(path: Path) -> list[tuple[int, str]]:
    return hwgen_imports(path.read_text(), module_name(path), path.name == "__init__.py")


SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_each_stage_imports_only_earlier_stages(path):
    mine = stage_of(module_name(path))
    me = module_name(path)
    late = [f"line {line}: {name} ({STAGES[stage_of(name)][0]})" for line, name in imports_of(path) if stage_of(name) > mine]
    assert not late, f"{me} ({STAGES[mine][0]}) imports from later stages: " + "; ".join(late)
    banned = [f"line {line}: {name}" for line, name in imports_of(path) for mod, other in FORBIDDEN
              if _within(me, mod) and _within(name, other)]
    assert not banned, f"{me} imports what it must not: " + "; ".join(banned)


def test_the_order_test_sees_imports_inside_functions():
    """The walk finds an import inside a function, and a relative one, as the module they name."""
    source = "def f():\n    from hwgen.report import write_report\n    from . import ops\n    import hwgen.kinds.mvau\n"
    assert hwgen_imports(source, "hwgen.driver.probe") == [(2, "hwgen.report"), (3, "hwgen.driver.ops"), (4, "hwgen.kinds.mvau")]
    assert stage_of("hwgen.report") > stage_of("hwgen.driver.probe")


def test_the_driver_imports_nothing_from_hwgen_outside_it():
    for path in sorted((PACKAGE / "driver").glob("*.py")):
        outside = [name for _, name in imports_of(path) if not name.startswith("hwgen.driver")]
        assert not outside, f"{path.name} imports {outside}: the driver is copied to the board alone"


def tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:  # an installed copy, not a checkout: the source folders as they are
        return [p for d in ("hwgen", "tests", "benchmarks", "scripts") for p in (ROOT / d).rglob("*") if p.is_file()]
    return [ROOT / line for line in out.stdout.splitlines() if (ROOT / line).is_file()]


def test_no_python_file_is_longer_than_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in tracked_files() if p.suffix == ".py"
            for n in [len(p.read_text().splitlines())] if n > 400}
    assert not long, long


OUTSIDE = ("DESIGN" + ".md", "STYLE" + ".md", "FACTS" + ".md", "/" + "work/", "../" + "shared")


def test_nothing_refers_to_documents_outside_the_repository():
    found = []
    for path in tracked_files():
        if path.suffix in (".onnx", ".npz", ".png", ".so", ".bin") or path == Path(__file__).resolve():
            continue
        text = path.read_text(errors="replace")
        found += [f"{path.relative_to(ROOT)}: {word}" for word in OUTSIDE if word in text]
    assert not found, found
