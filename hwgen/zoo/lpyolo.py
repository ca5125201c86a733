"""LPYOLO in Brevitas: the 4-bit TinyYOLO-derived face detector (needs the `train` extra).

The network of finn-quantized-yolo (github.com/sefaburakokcu/finn-quantized-yolo, its
`lp_yolo_architecture`) as trained with quantized-yolov5 (github.com/sefaburakokcu/quantized-yolov5,
`models/hub/yolov1-tiny-quant.yaml`: TinyYOLOv3 at width x0.2, channels rounded up to multiples of 8):

    pixels (uint8, read as pixel / 255 by an unsigned 8-bit input quantizer of scale 1/255)
    5 x [conv 3x3 pad 1 + BN + QuantReLU + MaxPool 2/2]   8, 8, 16, 32, 56 channels   (R -> R/32)
    conv 3x3 104, conv 3x3 208, conv 1x1 56, conv 3x3 104  (each + BN + QuantReLU)
    head: conv 3x3 -> 3 * (5 + classes), no BN, no bias; x 1/2; QuantHardTanh (8 bits, [-1, 1])

First and head convolutions have 8-bit weights, the others `weight_bits`; every weight
quantizer has one scale per output channel. At 416 x 416 and one class: 153.6 M MACs and
350,696 weights, output 18 x 13 x 13. The head's HardTanh output t replaces YOLOv5's sigmoid
s = t / 2 + 0.5 (hwgen.driver.detect decodes it). The head's quantizer has a constant scale of
1/127 (narrow range: levels -127..127), so t covers exactly [-1, 1].

`randomize_batchnorm` gives an untrained model batch-norm statistics, measured layer by layer on
random images, that spread every activation over its quantizer's levels (tests, benchmarks);
`calibrate_batchnorm` does the same for any model on a batch given.
"""

from __future__ import annotations

from dataclasses import dataclass

from hwgen.driver.detect import LPYOLO_ANCHORS as ANCHORS  # pixels of the model input (quantized-yolov5's yaml)

STRIDE = 32
BACKBONE = (8, 8, 16, 32, 56)  # conv 3x3 + max pool 2/2 each
NECK = ((104, 3), (208, 3), (56, 1), (104, 3))  # (channels, kernel) at stride 32
ACT_MAX = 6.0  # initial range of the learned QuantReLU scales (quantized-yolov5's CommonUintActQuant)


@dataclass(frozen=True)
class ConvSpec:
    """One convolution of the network, for counting and tests."""

    in_channels: int
    out_channels: int
    kernel: int
    out_size: int  # output feature map side (before any pooling)
    weight_bits: int

    @property
    def weights(self) -> int:
        return self.out_channels * self.in_channels * self.kernel ** 2

    @property
    def macs(self) -> int:
        return self.weights * self.out_size ** 2


def outputs(classes: int = 1) -> int:
    """Head channels: 3 anchors x (x, y, w, h, objectness, one score per class)."""
    return len(ANCHORS) * (5 + classes)


def layer_table(resolution: int = 416, weight_bits: int = 4, classes: int = 1) -> list[ConvSpec]:
    """The convolutions of `lpyolo(resolution, weight_bits, classes=classes)`, input to output."""
    _check_resolution(resolution)
    table, channels, size = [], 3, resolution
    for i, out in enumerate(BACKBONE):
        table.append(ConvSpec(channels, out, 3, size, 8 if i == 0 else weight_bits))
        channels, size = out, size // 2
    for out, k in NECK:
        table.append(ConvSpec(channels, out, k, size, weight_bits))
        channels = out
    table.append(ConvSpec(channels, outputs(classes), 3, size, 8))
    return table


def _check_resolution(resolution: int) -> None:
    if not isinstance(resolution, int) or resolution < STRIDE or resolution % STRIDE:
        raise ValueError(f"resolution must be a positive multiple of {STRIDE} (5 poolings by 2), not {resolution!r}")


def lpyolo(resolution: int = 416, weight_bits: int = 4, act_bits: int = 4, classes: int = 1, head_bits: int = 8):
    """The LPYOLO network as a torch.nn.Module taking (N, 3, resolution, resolution) floats in [0, 1].

    `weight_bits` / `act_bits`: the inner convolutions' weights and every QuantReLU; the first
    and the head convolution keep 8-bit weights, the head's HardTanh `head_bits`. The module's
    `resolution`, `anchors`, `stride` and `classes` attributes describe its output for decoding.
    """
    import brevitas.nn as qnn
    import torch
    from brevitas.quant import Int8ActPerTensorFloatMinMaxInit, Uint8ActPerTensorFloat, Uint8ActPerTensorFloatMaxInit

    _check_resolution(resolution)
    for name, bits in (("weight_bits", weight_bits), ("act_bits", act_bits), ("head_bits", head_bits)):
        if not isinstance(bits, int) or not 2 <= bits <= 8:
            raise ValueError(f"{name} must be an integer in 2..8, not {bits!r}")

    class Pixels(Uint8ActPerTensorFloat):  # x = pixel / 255: the levels are the camera's bytes
        scaling_impl_type = "const"
        max_val = 1.0

    class ReLUQuant(Uint8ActPerTensorFloatMaxInit):
        max_val = ACT_MAX

    class HeadQuant(Int8ActPerTensorFloatMinMaxInit):  # t in [-1, 1] exactly, for the YOLO decode
        scaling_impl_type = "const"
        narrow_range = True
        min_val = -1.0
        max_val = 1.0

    class Half(torch.nn.Module):
        def forward(self, x):
            return x * 0.5

    def conv_block(spec: ConvSpec) -> list:
        return [qnn.QuantConv2d(spec.in_channels, spec.out_channels, spec.kernel, padding=spec.kernel // 2, bias=False,
                                weight_bit_width=spec.weight_bits, weight_scaling_per_output_channel=True),
                torch.nn.BatchNorm2d(spec.out_channels),
                qnn.QuantReLU(act_quant=ReLUQuant, bit_width=act_bits, return_quant_tensor=True)]

    table = layer_table(resolution, weight_bits, classes)
    layers: list = [qnn.QuantIdentity(act_quant=Pixels, return_quant_tensor=True)]
    for spec in table[: len(BACKBONE)]:
        layers += conv_block(spec) + [torch.nn.MaxPool2d(2, 2)]
    for spec in table[len(BACKBONE) : -1]:
        layers += conv_block(spec)
    head = table[-1]
    layers += [qnn.QuantConv2d(head.in_channels, head.out_channels, 3, padding=1, bias=False, weight_bit_width=8,
                               weight_scaling_per_output_channel=True),
               Half(), qnn.QuantHardTanh(act_quant=HeadQuant, bit_width=head_bits, return_quant_tensor=False)]
    model = torch.nn.Sequential(*layers)
    model.resolution, model.anchors, model.stride, model.classes = resolution, ANCHORS, STRIDE, classes
    return model


def count(model) -> dict:
    """MACs per frame and weights of a model from `lpyolo` (counted from its modules)."""
    import brevitas.nn as qnn
    import torch

    size = model.resolution
    macs = weights = 0
    for m in model:
        if isinstance(m, qnn.QuantConv2d):
            weights += m.weight.numel()
            macs += m.weight.numel() * size * size  # stride 1, "same" padding: output side = input side
        elif isinstance(m, torch.nn.MaxPool2d):
            size //= 2
    return {"macs": macs, "weights": weights}


def randomize_batchnorm(model, seed: int = 0, frames: int = 8):
    """`calibrate_batchnorm` on random images; returns the model in eval mode."""
    import numpy as np
    import torch

    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(frames, 3, model.resolution, model.resolution)).astype(np.float32) / 255
    return calibrate_batchnorm(model, torch.from_numpy(x), seed)


def calibrate_batchnorm(model, x, seed: int = 0, spread: float = ACT_MAX):
    """Every batch norm of `model` (1-D or 2-D, in order) given the mean and variance its input has on
    the batch `x`, measured with the batch norms before it already set, then gains (a quarter negative)
    and offsets that spread each channel over [0, spread] or so: an untrained model whose activations
    use their quantizers' levels (tests, benchmarks). Returns the model in eval mode."""
    import numpy as np
    import torch

    rng = np.random.default_rng(seed)
    model.eval()
    for bn in (m for m in model.modules() if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d))):
        seen = []
        hook = bn.register_forward_hook(lambda _m, inp, _out: seen.append(inp[0].detach()))
        with torch.no_grad():
            model(x)
        hook.remove()
        c = bn.num_features
        inputs = seen[0].double().transpose(0, 1).reshape(c, -1)
        sign = np.where(rng.random(c) < 0.25, -1.0, 1.0)
        with torch.no_grad():
            bn.running_mean.copy_(inputs.mean(1))
            bn.running_var.copy_(inputs.var(1) + 1e-3)
            bn.weight.copy_(torch.from_numpy(sign * spread * rng.uniform(0.2, 0.5, c)))
            bn.bias.copy_(torch.from_numpy(spread * rng.uniform(0.3, 0.6, c)))
    return model
