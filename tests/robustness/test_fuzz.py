"""Damaged and hand-edited models never crash the build (issue 13): a fuzz test.

Valid seed models (a small Brevitas MLP and a small conv net exported as the other tests export them,
and the bundled digits MLP the command line builds by default) are mutated the ways a user, a script
or another tool edits a model (tests/robustness/mutations.py: quantizer parameters, attributes,
initializer dtypes and shapes, input dims, node order, cycles, domains, opsets and IR versions,
duplicated names, removed initializers, dangling and extra outputs) and built, in a worker process
with a time limit per case (runner.py). Each case must build and verify, or end in exactly one
HwgenError with hwgen.json saying `failed` and no deploy/accelerator.json: no other exception, no
InternalError, no hang, no signal death, no build folder presented as finished when it is not.
A sample of cases goes through the command line (`python -m hwgen build`) instead of hwgen.build.

Why a seeded generator and not hypothesis: a case is one mutation of one seed model, already as
small as a failing input gets, so hypothesis's shrinking has little to shrink and would re-run
builds of seconds each while trying; the closing numbers need the same count of cases per
mutation kind, which a round-robin over the kinds gives directly; and a failure is reproduced by
its case id alone (seed model, kind, seed: `mutate_case`) with no example database to keep. The
default run is one case per kind on the small MLP (most fail at load in well under
a second; those that build mostly reuse the C-sim compile cache, HWGEN_CACHE_DIR); the wide sweep
(`-m slow`) runs SWEEP cases over all three seed models and writes a summary per kind.
"""

from __future__ import annotations

import collections

import pytest

from hwgen.resources import default_model

pytest.importorskip("torch")
pytest.importorskip("brevitas")
pytest.importorskip("onnxoptimizer")

from tests.e2e.models import MLPSpec, build_and_export  # noqa: E402
from tests.robustness.mutations import MUTATIONS, mutate_case  # noqa: E402
from tests.robustness.runner import FAILURES, Worker  # noqa: E402

LIMIT_S = 300  # per case: a conv net's C-sim compile takes tens of seconds on a loaded machine
SWEEP = 510  # mutated models in the wide sweep (34 per kind)
CLI_EVERY = 10  # every tenth case through the command line


def mlp(folder):
    spec = MLPSpec(hidden=(12,), in_features=10, out_features=4, weight_bits=2, act_bits=2, bias=True, name="fuzz_mlp")
    return build_and_export(spec, folder)[1]


def conv(folder):
    import brevitas.nn as qnn
    import torch
    from brevitas.export import export_qonnx

    torch.manual_seed(0)
    model = torch.nn.Sequential(qnn.QuantIdentity(bit_width=4, return_quant_tensor=True),
                                qnn.QuantConv2d(1, 3, 3, bias=False, weight_bit_width=2), torch.nn.BatchNorm2d(3),
                                qnn.QuantReLU(bit_width=2, return_quant_tensor=True), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                                qnn.QuantLinear(3 * 2 * 2, 4, bias=False, weight_bit_width=2)).eval()
    path = folder / "fuzz_conv.onnx"
    export_qonnx(model, torch.rand(1, 1, 6, 6), export_path=str(path))
    return path


def sweep(seeds: dict, cases, tmp_path) -> tuple[dict, list]:
    """Run `cases` ((seed name, kind, seed, cli)); returns the outcomes per kind and the failures."""
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    bad, worker = [], Worker(LIMIT_S)
    try:
        for i, (name, kind, seed, cli) in enumerate(cases):
            path = tmp_path / f"case{i}.onnx"
            what = mutate_case(seeds[name], kind, seed, path)
            outcome, message = worker.run(path, tmp_path / f"build{i}", cli=cli)
            counts[kind][outcome] += 1
            if outcome in FAILURES or outcome.startswith("other"):
                bad.append(f"case {name}/{kind}/seed {seed}{' (cli)' if cli else ''}: {what}: {outcome}: {message}")
    finally:
        worker.close()
    return counts, bad


def summary(counts: dict) -> str:
    lines = []
    for kind in MUTATIONS:
        c = counts.get(kind, collections.Counter())
        built = c["built"]
        errors = {k[len("error: "):]: v for k, v in c.items() if k.startswith("error")}
        other = sum(v for k, v in c.items() if k != "built" and not k.startswith("error"))
        lines.append(f"{kind:20s} {sum(c.values()):4d} cases: built+verified {built}, clear error {sum(errors.values())} "
                     f"({', '.join(f'{k}: {v}' for k, v in sorted(errors.items()))}), other {other}")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def small_mlp(tmp_path_factory):
    return mlp(tmp_path_factory.mktemp("seed"))


def test_fuzz_quick(small_mlp, tmp_path):
    """One case per kind on the small MLP, the shuffled one through the command line."""
    cases = [("mlp", kind, 0, kind == "shuffle") for kind in MUTATIONS]
    counts, bad = sweep({"mlp": small_mlp}, cases, tmp_path)
    print(summary(counts))
    assert not bad, "\n".join(bad)
    assert sum(sum(c.values()) for c in counts.values()) == len(cases)


@pytest.mark.slow
def test_fuzz_sweep(tmp_path_factory, tmp_path):
    folder = tmp_path_factory.mktemp("seeds")
    seeds = {"mlp": mlp(folder), "conv": conv(folder), "digits": default_model()}
    kinds, names = list(MUTATIONS), list(seeds)
    cases = [(names[(i // len(kinds)) % len(names)], kinds[i % len(kinds)], i, i % CLI_EVERY == 0) for i in range(SWEEP)]
    counts, bad = sweep(seeds, cases, tmp_path)
    text = summary(counts)
    (tmp_path / "fuzz_summary.txt").write_text(text + "\n" + "\n".join(bad) + "\n")
    print(f"\n{SWEEP} mutated models ({', '.join(names)}):\n{text}\nsummary: {tmp_path / 'fuzz_summary.txt'}")
    assert not bad, f"{len(bad)} of {SWEEP} cases crashed, hung or left a misleading build folder:\n" + "\n".join(bad[:40])
