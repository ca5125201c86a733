"""FINN's CNV topology in Brevitas (needs the `train` extra: torch, brevitas).

CNV (BNN-PYNQ's cnv, as Brevitas' bnn_pynq examples define it): 3x32x32 input quantized to 8 bits; conv 3x3 (no padding) 64, 64,
max pool 2, 128, 128, max pool 2, 256, 256; FC 512, 512, 10; batch norm after each layer
but the last; no biases. 1-bit weights use a binary quantizer, 1-bit activations a bipolar one.
Untrained: `randomize_batchnorm` gives the batch norms statistics that make the thresholds
non-trivial, for tests and benchmarks.
"""

from __future__ import annotations


def cnv(weight_bits: int = 1, act_bits: int = 1, classes: int = 10):
    import brevitas.nn as qnn
    import torch
    from brevitas.quant import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst

    def conv(cin: int, cout: int):
        if weight_bits == 1:
            return qnn.QuantConv2d(cin, cout, 3, bias=False, weight_quant=SignedBinaryWeightPerTensorConst)
        return qnn.QuantConv2d(cin, cout, 3, bias=False, weight_bit_width=weight_bits)

    def linear(fan_in: int, fan_out: int):
        if weight_bits == 1:
            return qnn.QuantLinear(fan_in, fan_out, bias=False, weight_quant=SignedBinaryWeightPerTensorConst)
        return qnn.QuantLinear(fan_in, fan_out, bias=False, weight_bit_width=weight_bits)

    def act():
        if act_bits == 1:
            return qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst, return_quant_tensor=True)
        return qnn.QuantReLU(bit_width=act_bits, return_quant_tensor=True)

    layers = [qnn.QuantIdentity(bit_width=8, return_quant_tensor=True)]
    channels = 3
    for i, out in enumerate((64, 64, 128, 128, 256, 256)):
        layers += [conv(channels, out), torch.nn.BatchNorm2d(out), act()]
        if i in (1, 3):
            layers.append(torch.nn.MaxPool2d(2))
        channels = out
    layers.append(torch.nn.Flatten())
    for fan_in, fan_out in ((256, 512), (512, 512)):
        layers += [linear(fan_in, fan_out), torch.nn.BatchNorm1d(fan_out), act()]
    layers.append(linear(512, classes))
    return torch.nn.Sequential(*layers)


def randomize_batchnorm(model, seed: int = 0):
    """Batch-norm statistics and gains (some negative) that spread every activation's levels."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    for bn in (m for m in model.modules() if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d))):
        n = bn.num_features
        with torch.no_grad():
            bn.running_mean.copy_(torch.randn(n, generator=gen) * 3)
            bn.running_var.copy_(torch.empty(n).uniform_(5, 40, generator=gen))
            bn.weight.copy_(torch.empty(n).uniform_(-1, 2, generator=gen))
            bn.bias.copy_(torch.empty(n).uniform_(-0.5, 1.5, generator=gen))
    return model.eval()
