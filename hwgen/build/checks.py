"""The build's verify step: numpy reference == C-sim on every frame, the cycle model == the C-sim's loop
counts, and the accelerator's outputs == QONNX execution of the model (hwgen.verify compares)."""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np

from hwgen import verify
from hwgen.build.deploy import is_default_model, write_metadata
from hwgen.build.record import Build, write_json
from hwgen.driver.accelerator import METADATA, Accelerator
from hwgen.errors import HwgenError
from hwgen.resources import default_model

REFERENCE_FRAMES = 32  # inputs + C-sim outputs shipped in deploy/ for the on-board self-check
COSIM_FRAMES = 4  # frames the RTL co-simulation checks (it is slow)


def step_verify(b: Build) -> None:
    write_metadata(b, b.out_dir / "csim" / METADATA)  # C-sim can run before deploy/ exists
    acc = Accelerator(b.out_dir / "csim", backend="csim")
    x, labels = _verification_inputs(b)
    levels = acc.quantize(x)
    acc.backend.reset_iterations()
    result = verify.Verification(ir_vs_csim=verify.compare_ir_csim(b.graph, acc, levels),
                                 cycles_vs_csim=verify.compare_cycles(b.graph, acc.backend, len(levels), exact=b.config.csim_exact))
    b.reference_io = {"x": x[:REFERENCE_FRAMES], "y_int": acc.execute_integers(levels[:REFERENCE_FRAMES])}
    packed = acc.pack_input(levels[:COSIM_FRAMES])
    b.cosim_vectors = (packed, acc.backend.run(packed, len(packed)))
    ir = result.ir_vs_csim
    if not ir["bit_exact"]:
        write_json(b.out_dir / "report" / "verification.json", result.to_json())
        raise HwgenError(f"C simulation differs from the numpy reference in {ir['mismatches']} of {ir['elements']} elements "
                         f"(first: {ir['first_mismatch']})", where="verification",
                         hint="this is a bug in hwgen: please report it with report/verification.json and the model")
    n = min(b.config.verify_frames, len(x))
    golden = _qonnx_outputs(b, x[:n])
    ours = acc.execute(x)
    result.qonnx_vs_csim = verify.compare_qonnx(golden, ours[:n], acc.output_step(), model=b.model, x=x[:n])
    if labels is not None:
        result.accuracy = {
            "frames": int(len(labels)),
            "csim": float((ours.reshape(len(ours), -1).argmax(1) == labels).mean()),
            "qonnx_first_frames": float((golden.reshape(n, -1).argmax(1) == labels[:n]).mean()),
            **_reference_accuracy(),
        }
    write_json(b.out_dir / "report" / "verification.json", result.to_json())
    b.verification = result
    q = result.qonnx_vs_csim
    if not q["passed"]:
        hint = "this is a bug in hwgen's lowering: please report it with report/verification.json and the model"
        raise HwgenError(_disagreement(q), where="verification", hint=hint)


def _disagreement(q: dict, shown: int = 5) -> str:
    """What the QONNX comparison found that rounding ties do not explain, position by position."""
    frames = sorted({p["frame"] for p in q["failing"]})
    lines = [(f"the accelerator's output differs from QONNX execution of the model in {q['elements_failing']} of "
              f"{q['elements']} output elements where QONNX computing in float64 does not give the accelerator's value "
              f"either ({q['elements_beyond_one_step']} of the differing elements more than one quantization step apart), "
              f"in frame{'s' if len(frames) > 1 else ''} "
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


def _qonnx_outputs(b: Build, x: np.ndarray) -> np.ndarray:
    """QONNX's outputs for `x`, reused from an earlier run into this folder when they were computed
    from the same model (its cleaned ONNX bytes), the same input bytes and the same versions of
    qonnx, onnx, onnxruntime and numpy (all in the key), else computed (and stored for the next run)."""
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
    if is_default_model(b.config.model):
        data = np.load(default_model().parent / "test_set.npz")
        return data["x"].astype(np.float32), data["y"]
    return verify.random_inputs(b.graph, max(b.config.verify_frames, 64), b.config.seed), None


def _reference_accuracy() -> dict:
    info = default_model().parent / "model.json"
    if not info.is_file():
        return {}
    return {"torch": json.loads(info.read_text()).get("torch_test_accuracy")}
