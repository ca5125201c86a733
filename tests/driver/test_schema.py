"""The driver's JSON keys are named once (hwgen/driver/schema.py): the driver reads no key it does not declare,
the compiler builds the dicts only through its constructors, with exactly their keys, and a build writes them."""

from __future__ import annotations

import ast
import json
import typing
from pathlib import Path

import pytest

import hwgen
from hwgen.driver import schema

PACKAGE = Path(hwgen.__file__).resolve().parent
TYPED = {name: cls for name, cls in vars(schema).items() if isinstance(cls, type) and typing.is_typeddict(cls)}
DECLARED = {key for cls in TYPED.values() for key in typing.get_type_hints(cls)}
OPS = {op: cls for cls in TYPED.values() if "op" in typing.get_type_hints(cls) for op in typing.get_args(typing.get_type_hints(cls)["op"])}


def keys_read(path: Path) -> set[str]:
    """Every string constant used as a subscript (d["key"]) or as the first argument of .get("key")."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
            found.add(node.slice.value)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found.add(node.args[0].value)
    return found


@pytest.mark.parametrize("path", sorted(p for p in (PACKAGE / "driver").glob("*.py") if p.name != "schema.py"), ids=lambda p: p.name)
def test_the_driver_reads_only_declared_keys(path):
    assert keys_read(path) - DECLARED == set()


def test_the_key_scan_finds_reads():
    assert keys_read(PACKAGE / "driver" / "ops.py") >= {"op", "scale", "zero_point", "bits", "signed", "narrow", "rounding_mode",
                                                          "mul", "add", "min", "max", "bipolar", "datatype"}


def constructions(path: Path):
    """(line, what) of every dict with an "op" key built as a literal, and every schema constructor called with other keys."""
    problems = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Dict) and any(isinstance(k, ast.Constant) and k.value == "op" for k in node.keys):
            problems.append((node.lineno, "an op dict written as a literal: build it with hwgen.driver.schema's constructor"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in TYPED:
            given = {k.arg for k in node.keywords}
            wanted = set(typing.get_type_hints(TYPED[node.func.id]))
            if given != wanted:
                problems.append((node.lineno, f"{node.func.id}: missing {sorted(wanted - given)}, unknown {sorted(given - wanted)}"))
    return problems


@pytest.mark.parametrize("path", sorted(p for p in PACKAGE.rglob("*.py") if p.parent.name != "driver"),
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_compiler_builds_the_dicts_through_the_schema(path):
    assert constructions(path) == []


def test_the_construction_scan_finds_both_mistakes(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('a = {"op": "relu"}\nb = ClipOp(op="clip", min=0.0)\n')
    assert constructions(bad) == [(1, "an op dict written as a literal: build it with hwgen.driver.schema's constructor"),
                                  (2, "ClipOp: missing ['max'], unknown []")]


def conforms(d: dict, cls) -> list[str]:
    """Where `d` has other keys than the TypedDict `cls` declares, recursively."""
    hints = typing.get_type_hints(cls)
    problems = [f"{cls.__name__}: keys {sorted(d)} != {sorted(hints)}"] if set(d) != set(hints) else []
    for key, hint in hints.items():
        if typing.is_typeddict(hint):
            problems += conforms(d[key], hint)
    return problems


def op_problems(op: dict) -> list[str]:
    return conforms(op, OPS[op["op"]]) if op.get("op") in OPS else [f"unknown op {op.get('op')!r}"]


def test_a_build_writes_exactly_the_declared_metadata(tmp_path):
    hwgen.build(out_dir=tmp_path / "build", synthesize=False, verify_frames=5)
    for folder in ("deploy", "csim"):
        meta = json.loads((tmp_path / "build" / folder / "accelerator.json").read_text())
        assert conforms(meta, schema.Metadata) == []
        assert op_problems(meta["input"]["quant"]) == []
        assert [p for op in meta["output"]["ops"] for p in op_problems(op)] == []
        assert meta["output"]["ops"]  # the bundled model ends in float ops on the host (its last layer's scale and bias)
