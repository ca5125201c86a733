#!/usr/bin/env python
"""Train and export hwgen's bundled default model (DigitsMLP, W2A2, sklearn digits).

Writes into --out (default hwgen/data/digits_mlp):
  model.onnx     self-contained QONNX export (batch size 1)
  test_set.npz   x: float32 (N,1,8,8) test inputs (exactly k/16), y: int64 labels
  model.json     metadata incl. measured PyTorch test accuracy

Needs the ``train`` extra (torch, brevitas, scikit-learn).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "hwgen" / "data" / "digits_mlp"
WEIGHT_BITS = 2
ACT_BITS = 2
N_CHECK = 20


def qonnx_argmax(onnx_path: Path, x: np.ndarray) -> np.ndarray:
    """Argmax of the QONNX-executed model, one frame at a time (batch fixed at 1)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.util.cleanup import cleanup_model

    model = cleanup_model(ModelWrapper(str(onnx_path)))
    iname = model.graph.input[0].name
    oname = model.graph.output[0].name
    preds = []
    for frame in x:
        out = execute_onnx(model, {iname: frame[None].astype(np.float32)})[oname]
        preds.append(int(np.argmax(out)))
    return np.asarray(preds, dtype=np.int64)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    parser.add_argument("--epochs", type=int, default=40, help="training epochs")
    parser.add_argument("--seed", type=int, default=0, help="split + training seed")
    parser.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate")
    args = parser.parse_args(argv)

    import brevitas
    import torch

    try:
        import hwgen  # noqa: F401
    except ImportError:  # running from a source checkout without installing
        sys.path.insert(0, str(REPO_ROOT))

    from hwgen.zoo.digits import DigitsMLP, accuracy, export, load_digits_split, predict, train

    torch.set_num_threads(min(2, torch.get_num_threads()))
    x_train, y_train, x_test, y_test = load_digits_split(seed=args.seed)
    print(f"digits split: {len(x_train)} train / {len(x_test)} test frames")

    torch.manual_seed(args.seed)
    model = DigitsMLP(weight_bits=WEIGHT_BITS, act_bits=ACT_BITS)
    t0 = time.perf_counter()

    train(model, x_train, y_train, epochs=args.epochs, seed=args.seed, lr=args.lr)
    train_s = time.perf_counter() - t0
    acc = accuracy(model, x_test, y_test)
    print(f"training took {train_s:.1f}s; torch test accuracy {acc:.4f}")

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    onnx_path = export(model, out / "model.onnx")
    print(f"wrote {onnx_path} ({onnx_path.stat().st_size} bytes)")

    # sanity check: QONNX execution agrees with PyTorch on the first frames
    torch_pred = predict(model, x_test[:N_CHECK]).argmax(axis=1)
    qonnx_pred = qonnx_argmax(onnx_path, x_test[:N_CHECK])
    agree = int((torch_pred == qonnx_pred).sum())
    print(f"qonnx vs torch argmax agreement: {agree}/{N_CHECK}")
    assert agree == N_CHECK, f"qonnx/torch mismatch: {torch_pred} vs {qonnx_pred}"

    np.savez_compressed(
        out / "test_set.npz",
        x=np.ascontiguousarray(x_test, dtype=np.float32),
        y=np.ascontiguousarray(y_test, dtype=np.int64),
    )
    meta = {
        "name": f"digits-mlp-w{WEIGHT_BITS}a{ACT_BITS}",
        "description": (
            "Brevitas MLP for the sklearn 8x8 digits data set: 8-bit unsigned input "
            "quantizer, two hidden QuantLinear(64, bias=False) + BatchNorm1d + "
            f"{ACT_BITS}-bit QuantReLU layers, {WEIGHT_BITS}-bit weights, "
            "float logits from a biased QuantLinear(64->10). Exported as QONNX, batch 1."
        ),
        "topology": "64-64-64-10",
        "weight_bits": WEIGHT_BITS,
        "act_bits": ACT_BITS,
        "input": "8x8 grayscale digit, values in [0,1] (sklearn digits / 16)",
        "torch_test_accuracy": round(acc, 6),
        "test_frames": int(len(x_test)),
        "seed": args.seed,
        "epochs": args.epochs,
        "brevitas_version": brevitas.__version__,
        "torch_version": torch.__version__,
    }
    (out / "model.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {out / 'test_set.npz'} and {out / 'model.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
