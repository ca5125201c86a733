"""Three-level verification: QONNX execution (golden, float) ~ IR numpy reference == C-sim.

IR and C-sim are compared on every frame, bit for bit. QONNX runs one frame at a time (its
graphs have batch 1) on the first `qonnx_frames`; it computes in float32, so at exact rounding
ties a quantizer may land one level away from hwgen's float64 thresholds: such elements are
counted and reported, not hidden.
"""

from __future__ import annotations

import numpy as np

from hwgen.ir import reference
from hwgen.ir.graph import DataflowGraph


def random_inputs(graph: DataflowGraph, frames: int, seed: int) -> np.ndarray:
    """Float inputs spread over the input quantizer's whole range, off the grid (rounding exercised);
    for an integer-annotated input, its integers."""
    from hwgen.driver.ops import quant_levels

    rng = np.random.default_rng(seed)
    q = graph.input.quant
    lo, hi = quant_levels(q)
    levels = rng.integers(lo, hi + 1, size=(frames,) + tuple(graph.input.shape[1:]))
    if q["op"] == "integer":  # an integer-annotated input: the values are the levels, exactly
        return (2 * rng.integers(0, 2, size=levels.shape) - 1 if q["bipolar"] else levels).astype(np.float32)
    if lo == -1 and hi == 1 and graph.input.dtype.bits == 1:
        return np.where(levels >= 0, 1.0, -1.0).astype(np.float32) * rng.uniform(0.1, 2, levels.shape).astype(np.float32)
    zero = q.get("zero_point", 0.0)
    noise = rng.uniform(-0.45, 0.45, size=levels.shape)
    return ((levels - zero + noise) * q["scale"]).astype(np.float32)


def qonnx_outputs(model, x: np.ndarray) -> np.ndarray:
    from qonnx.core.onnx_exec import execute_onnx

    iname, oname = model.graph.input[0].name, model.graph.output[0].name
    outs = [execute_onnx(model, {iname: x[i : i + 1]})[oname] for i in range(len(x))]
    return np.concatenate(outs, axis=0)


def compare_ir_csim(graph: DataflowGraph, accelerator, levels: np.ndarray) -> dict:
    expected = reference.run(graph, levels)
    got = accelerator.execute_integers(levels)
    diff = expected != got
    return {"frames": int(len(levels)), "elements": int(expected.size), "mismatches": int(diff.sum()),
            "bit_exact": bool(not diff.any()), "first_mismatch": _first(diff)}


def compare_cycles(graph: DataflowGraph, backend, frames: int, exact: bool = False) -> dict:
    """Every layer's C-sim loop iterations per frame (its probe's count since the last reset, over
    `frames`) against the cycle model: at II=1 a loop's iterations are its cycles. Without `exact`
    the MVAUs ran the fast C-sim path, which has no loop: their count is the loop's trip count, and
    says nothing about the model (tests/csim/test_cycles.py checks their loops in exact builds)."""
    from hwgen.estimate import cycles
    from hwgen.ir.layers import MVAU

    layers, mismatches = {}, []
    for layer in graph.layers:
        counted = backend.iterations(layer.name) / frames
        loop = exact or not isinstance(layer, MVAU)
        layers[layer.name] = {"counted_per_frame": counted, "model": cycles(layer), "loop_counted": loop}
        if counted != cycles(layer):
            mismatches.append(layer.name)
    return {"frames": frames, "layers": layers, "mismatches": mismatches,
            "loops_counted": sum(v["loop_counted"] for v in layers.values())}


def compare_qonnx(golden: np.ndarray, ours: np.ndarray) -> dict:
    golden = golden.reshape(len(golden), -1).astype(np.float64)
    ours = ours.reshape(len(ours), -1).astype(np.float64)
    scale = max(1e-6, float(np.abs(golden).max(initial=0)))
    close = np.isclose(ours, golden, rtol=1e-4, atol=1e-5 * scale)
    # our top class agrees when QONNX's value there is (within tolerance) its maximum: ties allowed
    top = ours.argmax(axis=1)
    at_top = golden[np.arange(len(golden)), top]
    argmax_same = np.isclose(at_top, golden.max(axis=1), rtol=1e-4, atol=1e-5 * scale) if len(golden) else np.zeros(0, bool)
    return {
        "frames": int(len(golden)),
        "elements": int(golden.size),
        "elements_equal": int(close.sum()),
        "elements_differing": int((~close).sum()),
        "max_abs_diff": float(np.abs(golden - ours).max(initial=0)),
        "output_abs_max": scale,
        "argmax_agreement": float(argmax_same.mean()) if len(golden) else 1.0,
        "argmax_disagreeing_frames": [int(i) for i in np.flatnonzero(~argmax_same)[:20]],
    }


def _first(diff: np.ndarray):
    idx = np.argwhere(diff)
    return None if not len(idx) else {"frame": int(idx[0][0]), "element": int(idx[0][1])}
