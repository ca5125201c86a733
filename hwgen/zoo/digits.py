"""DigitsMLP: a tiny Brevitas-quantized MLP for the sklearn 8x8 digits data set.

This module imports torch and brevitas at import time; they are part of the
optional ``train`` extra of hwgen, so import it only where they are available.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import brevitas.nn as qnn
import numpy as np
import torch
from brevitas.quant import Uint8ActPerTensorFloat
from torch import nn

__all__ = ["DigitsMLP", "load_digits_split", "train", "accuracy", "export", "predict"]


class DigitsMLP(nn.Module):
    """Quantized MLP 64 -> hidden... -> 10 with per-layer BatchNorm and QuantReLU.

    Input: float tensor of shape (N, 1, 8, 8) with values in [0, 1].
    Output: float logits of shape (N, 10).
    """

    def __init__(
        self, weight_bits: int = 2, act_bits: int = 2, hidden: Sequence[int] = (64, 64)
    ) -> None:
        super().__init__()
        self.weight_bits = weight_bits
        self.act_bits = act_bits
        self.hidden = tuple(hidden)
        layers: list[nn.Module] = [
            qnn.QuantIdentity(
                bit_width=8, act_quant=Uint8ActPerTensorFloat, return_quant_tensor=True
            ),
            nn.Flatten(),
        ]
        in_features = 64
        for width in self.hidden:
            layers += [
                qnn.QuantLinear(in_features, width, bias=False, weight_bit_width=weight_bits),
                nn.BatchNorm1d(width),
                qnn.QuantReLU(bit_width=act_bits, return_quant_tensor=True),
            ]
            in_features = width
        layers.append(qnn.QuantLinear(in_features, 10, bias=True, weight_bit_width=weight_bits))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits for a (N, 1, 8, 8) batch."""
        out = self.layers(x)
        # the last QuantLinear returns a plain tensor (no output quantizer)
        return out.value if hasattr(out, "value") else out


def load_digits_split(
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Deterministic stratified 80/20 split of sklearn digits.

    Returns (x_train, y_train, x_test, y_test); x is float32 (N, 1, 8, 8) in [0, 1]
    (pixel values 0..16 divided by 16, so exactly k/16), y is int64.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = (data.data.astype(np.float32) / np.float32(16.0)).reshape(-1, 1, 8, 8)
    y = data.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.2, random_state=seed, stratify=y
    )
    return (
        np.ascontiguousarray(x_train, dtype=np.float32),
        np.ascontiguousarray(y_train, dtype=np.int64),
        np.ascontiguousarray(x_test, dtype=np.float32),
        np.ascontiguousarray(y_test, dtype=np.int64),
    )


def train(
    model: nn.Module,
    x_train: np.ndarray,
    y_train: np.ndarray,
    epochs: int = 40,
    seed: int = 0,
    lr: float = 1e-2,
    batch_size: int = 64,
    verbose: bool = True,
) -> nn.Module:
    """Train with Adam + cross entropy on CPU (deterministic for a given seed).

    Uses a cosine learning-rate schedule. Returns the model (trained in place).
    """
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    x = torch.from_numpy(np.asarray(x_train, dtype=np.float32))
    y = torch.from_numpy(np.asarray(y_train, dtype=np.int64))
    n = x.shape[0]
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps_per_epoch = (n + batch_size - 1) // batch_size
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs * steps_per_epoch))
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=gen)
        total_loss = 0.0
        correct = 0
        for i in range(0, n, batch_size):
            idx = perm[i : i + batch_size]
            xb, yb = x[idx], y[idx]
            opt.zero_grad()
            logits = model(xb)
            loss = loss_fn(logits, yb)
            loss.backward()
            opt.step()
            sched.step()
            total_loss += loss.item() * len(idx)
            correct += int((logits.argmax(1) == yb).sum())
        if verbose:
            print(
                f"epoch {epoch + 1:3d}/{epochs}  loss {total_loss / n:.4f}  "
                f"train acc {correct / n:.4f}  ({time.perf_counter() - t0:.2f}s)",
                flush=True,
            )
    model.eval()
    return model


@torch.no_grad()
def predict(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """Eval-mode logits as a float32 numpy array."""
    model.eval()
    return model(torch.from_numpy(np.asarray(x, dtype=np.float32))).numpy()


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy in eval mode."""
    pred = predict(model, x).argmax(axis=1)
    return float((pred == np.asarray(y)).mean())


def export(model: nn.Module, path: str | os.PathLike[str]) -> Path:
    """Export to QONNX as a single self-contained .onnx file (batch size fixed at 1).

    The graph is kept exactly as brevitas exports it (no qonnx cleanup); only the tensor data is
    inlined, the exporter's notes (stack traces, file paths) are dropped, and any external-data
    sidecar file is removed.
    """
    import onnx
    from brevitas.export import export_qonnx

    from hwgen.frontend.load import save_clean

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.eval()
    # export into a private temp dir so no sidecar ever lands next to `path`
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp) / path.name
        export_qonnx(model, torch.zeros(1, 1, 8, 8), export_path=str(tmp_path))
        proto = onnx.load(str(tmp_path), load_external_data=True)
    return save_clean(proto, path)
