"""Seeded Brevitas MLPs for end-to-end tests, and their QONNX export.

`MLPSpec` describes a fully-connected network: an input quantizer, hidden layers of
QuantLinear (+ BatchNorm1d) + activation quantizer, and a last QuantLinear with or without an
output quantizer. `build_mlp(spec)` makes the PyTorch model with randomized, calibrated
batch-norm statistics (some negative gammas), so every threshold of the lowered network is
non-trivial; `export(model, spec, path)` writes it with brevitas.export.export_qonnx.

Bit widths: 1 means binary (weights: SignedBinaryWeightPerTensorConst; activations and input:
SignedBinaryActPerTensorConst, i.e. bipolar ±1), 2..8 means integer quantizers.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import brevitas.nn as qnn
import numpy as np
import torch
from brevitas.quant import (
    Int8ActPerTensorFloatMinMaxInit,
    SignedBinaryActPerTensorConst,
    SignedBinaryWeightPerTensorConst,
    Uint8ActPerTensorFloatMaxInit,
)
from torch import nn

ACTIVATIONS = ("relu", "hardtanh", "identity")
INPUTS = ("signed", "unsigned", "bipolar")
CALIBRATION_FRAMES = 512


@dataclass(frozen=True)
class MLPSpec:
    hidden: tuple[int, ...] = (64, 64, 64)
    in_features: int = 784
    out_features: int = 10
    weight_bits: int | tuple[int, ...] = 2  # one for all layers, or one per QuantLinear
    act_bits: int | tuple[int, ...] = 2  # one for all hidden layers, or one per hidden layer
    act: str = "relu"  # hidden activation for act_bits >= 2: relu | hardtanh | identity
    input: str = "signed"  # input quantizer: signed | unsigned | bipolar
    input_bits: int = 8
    per_channel: bool = False  # weight_scaling_per_output_channel (integer weights only)
    bias: bool = False  # float biases on every QuantLinear
    output_bits: int | None = None  # an activation quantizer (with batch norm) after the last layer
    output_act: str = "identity"  # its kind: relu | hardtanh | identity
    requant_bits: int | None = None  # a second quantizer on the input (a standalone thresholding layer)
    image: bool = False  # input (1, 1, H, W) + Flatten, H * W == in_features, H == W
    seed: int = 0
    name: str = field(default="mlp", compare=False)

    def __post_init__(self):
        if self.act not in ACTIVATIONS or self.output_act not in ACTIVATIONS:
            raise ValueError(f"act and output_act must be one of {ACTIVATIONS}, not {self.act!r}, {self.output_act!r}")
        if self.input not in INPUTS:
            raise ValueError(f"input must be one of {INPUTS}, not {self.input!r}")
        if len(self.layer_weight_bits) != len(self.hidden) + 1 or len(self.layer_act_bits) != len(self.hidden):
            raise ValueError("weight_bits needs one entry per QuantLinear, act_bits one per hidden layer")

    @property
    def layer_weight_bits(self) -> tuple[int, ...]:
        bits = self.weight_bits
        return (bits,) * (len(self.hidden) + 1) if isinstance(bits, int) else tuple(bits)

    @property
    def layer_act_bits(self) -> tuple[int, ...]:
        bits = self.act_bits
        return (bits,) * len(self.hidden) if isinstance(bits, int) else tuple(bits)

    @property
    def input_shape(self) -> tuple[int, ...]:
        if self.image:
            side = round(self.in_features ** 0.5)
            assert side * side == self.in_features, "image=True needs a square number of input features"
            return (1, 1, side, side)
        return (1, self.in_features)


def tfc(weight_bits: int, act_bits: int, seed: int = 0, **changes) -> MLPSpec:
    """FINN's TFC: 784-64-64-64-10, 28x28 input flattened, BN after each hidden layer."""
    spec = MLPSpec(hidden=(64, 64, 64), in_features=784, out_features=10, weight_bits=weight_bits, act_bits=act_bits,
                   act="relu", input="signed", input_bits=8, image=True, seed=seed, name=f"tfc_w{weight_bits}a{act_bits}")
    return replace(spec, **changes)


# -- quantized layers --------------------------------------------------------------
ACT_MAX = 2.0  # activation range: relu [0, ACT_MAX], hardtanh / identity [-ACT_MAX, ACT_MAX]
# relu: QuantReLU, unsigned; hardtanh: QuantHardTanh, signed; identity: QuantIdentity, signed narrow range


def input_quantizer(spec: MLPSpec) -> nn.Module:
    if spec.input == "bipolar" or spec.input_bits == 1:
        return qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst, return_quant_tensor=True)
    if spec.input == "unsigned":
        return qnn.QuantIdentity(act_quant=Uint8ActPerTensorFloatMaxInit, bit_width=spec.input_bits, max_val=1.0,
                                 return_quant_tensor=True)
    return qnn.QuantIdentity(act_quant=Int8ActPerTensorFloatMinMaxInit, bit_width=spec.input_bits, min_val=-1.0,
                             max_val=1.0, return_quant_tensor=True)


def linear(spec: MLPSpec, fan_in: int, fan_out: int, bits: int) -> nn.Module:
    if bits == 1:
        return qnn.QuantLinear(fan_in, fan_out, bias=spec.bias, weight_quant=SignedBinaryWeightPerTensorConst)
    return qnn.QuantLinear(fan_in, fan_out, bias=spec.bias, weight_bit_width=bits,
                           weight_scaling_per_output_channel=spec.per_channel)


def activation(kind: str, bits: int) -> nn.Module:
    if bits == 1:
        return qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst, return_quant_tensor=True)
    if kind == "relu":
        return qnn.QuantReLU(act_quant=Uint8ActPerTensorFloatMaxInit, bit_width=bits, max_val=ACT_MAX,
                             return_quant_tensor=True)
    if kind == "hardtanh":
        return qnn.QuantHardTanh(bit_width=bits, min_val=-ACT_MAX, max_val=ACT_MAX, return_quant_tensor=True)
    return qnn.QuantIdentity(act_quant=Int8ActPerTensorFloatMinMaxInit, bit_width=bits, min_val=-ACT_MAX,
                             max_val=ACT_MAX, narrow_range=True, return_quant_tensor=True)


class MLP(nn.Module):
    def __init__(self, spec: MLPSpec):
        super().__init__()
        self.spec = spec
        layers: list[nn.Module] = [input_quantizer(spec)]
        if spec.requant_bits is not None:  # clips the input to [-1, 1] (hardtanh) at fewer levels
            layers.append(qnn.QuantHardTanh(bit_width=spec.requant_bits, min_val=-1.0, max_val=1.0, return_quant_tensor=True))
        if spec.image:
            layers.append(nn.Flatten())
        widths = (spec.in_features,) + spec.hidden
        wbits, abits = spec.layer_weight_bits, spec.layer_act_bits
        for i, width in enumerate(spec.hidden):
            layers += [linear(spec, widths[i], width, wbits[i]), nn.BatchNorm1d(width), activation(spec.act, abits[i])]
        layers.append(linear(spec, widths[-1], spec.out_features, wbits[-1]))
        if spec.output_bits is not None:
            layers += [nn.BatchNorm1d(spec.out_features), activation(spec.output_act, spec.output_bits)]
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layers(x)
        return out.value if hasattr(out, "value") else out


# -- random weights and batch norm ---------------------------------------------------
def random_inputs(spec: MLPSpec, frames: int, seed: int) -> np.ndarray:
    """Float inputs over the input quantizer's range (a little beyond, to exercise clipping)."""
    rng = np.random.default_rng(seed)
    shape = (frames,) + spec.input_shape[1:]
    if spec.input == "bipolar" or spec.input_bits == 1:
        return rng.normal(0.0, 1.0, size=shape).astype(np.float32)
    lo = 0.0 if spec.input == "unsigned" else -1.0
    return rng.uniform(lo - 0.05, 1.05, size=shape).astype(np.float32)


def _bn_target(bn_index: int, spec: MLPSpec, n_bn: int) -> tuple[str, int]:
    if bn_index == n_bn - 1 and spec.output_bits is not None:
        return spec.output_act, spec.output_bits
    return spec.act, spec.layer_act_bits[bn_index]


def _randomize_bn(bn: nn.BatchNorm1d, inputs: torch.Tensor, kind: str, bits: int, rng: np.random.Generator) -> None:
    """Statistics near the real ones, gammas (a quarter negative) and betas that spread the
    normalized pre-activations over the whole range of the following quantizer."""
    c = bn.num_features
    mean = inputs.double().mean(0).numpy()
    std = inputs.double().std(0).numpy() + 1e-3
    if bits == 1:
        center, spread = 0.0, 1.0
    elif kind == "relu":
        center, spread = 0.45 * ACT_MAX, 0.6 * ACT_MAX
    else:
        center, spread = 0.0, 0.8 * ACT_MAX
    sign = np.where(rng.random(c) < 0.25, -1.0, 1.0)
    gamma = sign * spread * rng.uniform(0.5, 1.5, c)
    beta = center + spread * rng.uniform(-0.4, 0.4, c)
    with torch.no_grad():
        bn.running_mean.copy_(torch.from_numpy(mean + std * rng.normal(0, 0.2, c)))
        bn.running_var.copy_(torch.from_numpy((std * rng.uniform(0.8, 1.25, c)) ** 2))
        bn.weight.copy_(torch.from_numpy(gamma))
        bn.bias.copy_(torch.from_numpy(beta))


def build_mlp(spec: MLPSpec) -> MLP:
    """The model of `spec`, seeded, in eval mode, batch norms calibrated on random inputs."""
    torch.manual_seed(spec.seed)
    rng = np.random.default_rng(spec.seed)
    model = MLP(spec).eval()
    if spec.bias:
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, qnn.QuantLinear):
                    m.bias.copy_(torch.from_numpy(rng.normal(0, 0.5, m.out_features)))
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm1d)]
    x = torch.from_numpy(random_inputs(spec, CALIBRATION_FRAMES, spec.seed + 1))
    for i, bn in enumerate(bns):  # in order: each one sees the already randomized layers before it
        seen = []
        hook = bn.register_forward_hook(lambda _m, inp, _out, seen=seen: seen.append(inp[0].detach()))
        with torch.no_grad():
            model(x)
        hook.remove()
        _randomize_bn(bn, seen[0], *_bn_target(i, spec, len(bns)), rng)
    return model


@torch.no_grad()
def torch_outputs(model: MLP, x: np.ndarray) -> np.ndarray:
    model.eval()
    return model(torch.from_numpy(np.asarray(x, dtype=np.float32))).numpy()


@torch.no_grad()
def hidden_levels(model: MLP, x: np.ndarray) -> list[int]:
    """Distinct output values of each activation quantizer after a linear layer, on `x`."""
    after_linear = [m for prev, m in zip(model.layers, model.layers[1:]) if isinstance(prev, (nn.BatchNorm1d, qnn.QuantLinear))]
    counts, quantizers = [], [m for m in after_linear if isinstance(m, (qnn.QuantReLU, qnn.QuantHardTanh, qnn.QuantIdentity))]
    for q in quantizers:
        seen = []
        hook = q.register_forward_hook(lambda _m, _inp, out, seen=seen: seen.append(getattr(out, "value", out)))
        model(torch.from_numpy(np.asarray(x, dtype=np.float32)))
        hook.remove()
        counts.append(len(torch.unique(seen[0])))
    return counts


@torch.no_grad()
def output_lsb(model: MLP) -> np.ndarray:
    """One step of the model's output per channel (a scalar when all are the same): the output
    quantizer's scale, else input scale times weight scale of the last QuantLinear."""
    x = torch.from_numpy(random_inputs(model.spec, 2, seed=0))
    if model.spec.output_bits is not None:
        return model.layers(x).scale.double().numpy().reshape(-1)
    *hidden, last = model.layers
    scale = nn.Sequential(*hidden)(x).scale * last.quant_weight().scale
    return scale.double().numpy().reshape(-1)


# -- golden execution ----------------------------------------------------------------
def qonnx_execute(path: str | Path, x: np.ndarray) -> np.ndarray:
    """qonnx's execute_onnx of the exported file, one frame at a time (its batch is 1)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.util.cleanup import cleanup_model

    model = cleanup_model(ModelWrapper(str(path)))
    iname, oname = model.graph.input[0].name, model.graph.output[0].name
    return np.concatenate([execute_onnx(model, {iname: x[i : i + 1]})[oname] for i in range(len(x))])


# -- export --------------------------------------------------------------------------
def export(model: MLP, path: str | Path, dynamo: bool = True) -> Path:
    """brevitas.export.export_qonnx with a batch-1 example input, as a user would call it.

    The file lands at `path`, possibly with a `.data` weights sidecar beside it. dynamo=False
    uses the older TorchScript exporter (MatMul + Transpose instead of Gemm).
    """
    from brevitas.export import export_qonnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.eval()
    example = torch.from_numpy(random_inputs(model.spec, 1, seed=12345))
    export_qonnx(model, example, export_path=str(path), dynamo=dynamo)
    return path


def build_and_export(spec: MLPSpec, folder: str | Path, dynamo: bool = True) -> tuple[MLP, Path]:
    model = build_mlp(spec)
    return model, export(model, Path(folder) / f"{spec.name}.onnx", dynamo=dynamo)
