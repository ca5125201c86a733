"""The bnn_pynq TFC-W1A1 and CNV-W1A1 exactly as Brevitas defines them (needs the `train` extra).

Brevitas ships these models in its wheel, as `brevitas_examples.bnn_pynq` (source in the
Brevitas repository: src/brevitas_examples/bnn_pynq/models/FC.py, CNV.py, common.py,
tensor_norm.py; configurations cfg/tfc_1w1a.ini, cfg/cnv_1w1a.ini). This module builds them
through Brevitas's own `model_with_cfg`, untrained (`pretrained=False`, no download), so the
architecture is theirs to the last setting:
  - pre-processing in `forward`: `2.0 * x - torch.tensor([1.0])`, the input in [0, 1] mapped to
    [-1, 1] (TFC first views the image as (N, 784));
  - TFC: QuantIdentity (1 bit: bipolar) on the input, three QuantLinear 64 with BatchNorm1d and
    a bipolar QuantIdentity, Dropout(0.2), a last QuantLinear 10 and TensorNorm; no biases;
  - CNV: QuantIdentity 8 bit on the input (Q1.7: [-1, 1 - 2^-7], power-of-two scale), six 3x3
    QuantConv2d (64, 64, 128, 128, 256, 256, no padding) with BatchNorm2d(eps=1e-4) and a bipolar
    QuantIdentity, MaxPool2d(2) after the second and fourth, QuantLinear 512, 512 with
    BatchNorm1d(eps=1e-4) and bipolar activations, a last QuantLinear 10 and TensorNorm;
  - weights: CommonWeightQuant at 1 bit (binary, constant scale 1); TensorNorm: one running mean
    and variance, one weight and bias for the whole tensor.
Exported with `brevitas.export.export_qonnx`, the pre-processing is a Mul and a Sub before the
input quantizer and TensorNorm a Sub, Div, Mul, Add after the last layer: hwgen runs both on the
host. `randomize` gives the batch norms and TensorNorm statistics that make every threshold
non-trivial (an untrained model has identity norms), for tests and benchmarks.
"""

from __future__ import annotations

from pathlib import Path

INPUT_SHAPES = {"tfc_1w1a": (1, 1, 28, 28), "cnv_1w1a": (1, 3, 32, 32)}


def bnn_pynq(name: str, seed: int = 0):
    """Brevitas's bnn_pynq model `name` ('tfc_1w1a' or 'cnv_1w1a'), untrained, randomized, in eval mode."""
    import torch

    if name not in INPUT_SHAPES:
        raise ValueError(f"name must be one of {', '.join(INPUT_SHAPES)}, not {name!r}")
    try:
        from brevitas_examples.bnn_pynq.models import model_with_cfg
    except ImportError as exc:
        raise ImportError(f"hwgen.zoo.bnn_pynq needs brevitas_examples, which the brevitas package ships ({exc})") from exc
    torch.manual_seed(seed)  # their constructors draw the weights uniformly in [-1, 1]
    model, _ = model_with_cfg(name, pretrained=False)
    return randomize(model, seed)


def tfc_w1a1(seed: int = 0):
    return bnn_pynq("tfc_1w1a", seed)


def cnv_w1a1(seed: int = 0):
    return bnn_pynq("cnv_1w1a", seed)


def randomize(model, seed: int = 0):
    """Batch-norm statistics as hwgen.zoo.cnv.randomize_batchnorm gives them, and a TensorNorm that
    shifts and scales the logits (a negative gain on odd seeds, which reverses their order)."""
    import torch

    from hwgen.zoo.cnv import randomize_batchnorm

    randomize_batchnorm(model, seed)
    gen = torch.Generator().manual_seed(seed + 1)
    for norm in (m for m in model.modules() if type(m).__name__ == "TensorNorm"):
        with torch.no_grad():
            norm.running_mean.copy_(torch.randn(1, generator=gen) * 4)
            norm.running_var.copy_(torch.empty(1).uniform_(20, 200, generator=gen))
            norm.weight.copy_(torch.empty(1).uniform_(0.5, 2, generator=gen) * (-1 if seed % 2 else 1))
            norm.bias.copy_(torch.randn(1, generator=gen))
    return model.eval()


def export(model, name: str, path: str | Path) -> Path:
    """The model as QONNX (brevitas.export.export_qonnx) at `path`, for an input of the model's shape."""
    import torch
    from brevitas.export import export_qonnx

    path = Path(path)
    export_qonnx(model, torch.rand(*INPUT_SHAPES[name]), export_path=str(path))
    return path
