"""Convolution and max pooling handlers: Conv -> SWG + MVAU (vectors = output pixels), MaxPool -> MaxPool.

Feature maps stream channels-last. A convolution's sliding-window generator emits, for every
output pixel, the window in (ky, kx, c) order; the MVAU's weights are reordered to match:
(out, in, ky, kx) -> (out, ky, kx, in). A 1x1 convolution with stride 1 and no padding needs no
window generator: the MVAU reads the pixels as they come.
"""

from __future__ import annotations

import numpy as np

from hwgen.errors import UnsupportedModelError
from hwgen.lower.handlers import linear
from hwgen.lower.values import PendingMVAU, Signal
from hwgen.lower.walk import Walk, _where


def _window_attrs(walk: Walk, node, x: Signal, kernel_from_weights=None):
    kernel = tuple(walk.attr(node, "kernel_shape", kernel_from_weights or ()))
    if len(kernel) != 2:
        raise UnsupportedModelError(f"only 2-D windows are supported, not kernel_shape {list(kernel)}", where=_where(node))
    strides = tuple(walk.attr(node, "strides", (1, 1)))
    pads = tuple(walk.attr(node, "pads", (0, 0, 0, 0)))  # ONNX: (top, left, bottom, right)
    dilations = tuple(walk.attr(node, "dilations", (1, 1)))
    if dilations != (1, 1):
        raise UnsupportedModelError(f"dilations {list(dilations)} are not supported (only 1)", where=_where(node))
    if str(walk.attr(node, "auto_pad", "NOTSET")) not in ("NOTSET", "VALID"):
        raise UnsupportedModelError("auto_pad SAME_* is not supported; export with explicit pads", where=_where(node))
    return kernel, strides, pads


def _feature_map(walk: Walk, node) -> Signal:
    x = walk.signal(node, 0)
    if len(x.shape) != 4:
        raise UnsupportedModelError(f"{node.op_type} input must be a (1, C, H, W) feature map, not {x.shape}", where=_where(node))
    if isinstance(x.source, PendingMVAU) or not x.is_affine:
        raise UnsupportedModelError(f"the input of this {node.op_type} is not quantized", where=_where(node),
                                    hint="put a quantized activation (QuantReLU, QuantIdentity) before it")
    return x


def conv(walk: Walk, node):
    from hwgen.ir.layers import SWG

    x = _feature_map(walk, node)
    w = walk.const(node, 1, "the convolution weights")
    if int(walk.attr(node, "group", 1)) != 1:
        raise UnsupportedModelError(f"grouped convolutions (group={walk.attr(node, 'group')}) are not supported yet", where=_where(node))
    if w.level is None:
        raise UnsupportedModelError("the weights are not quantized", where=_where(node), hint="use brevitas.nn.QuantConv2d")
    level = w.level - np.broadcast_to(w.zero, w.level.shape)
    scale = np.broadcast_to(w.scale, w.level.shape).astype(np.float64)
    oc, ic, kh, kw = level.shape
    if ic != x.channels:
        raise UnsupportedModelError(f"weights for {ic} input channels, the input has {x.channels}", where=_where(node))
    per_out = scale.reshape(oc, -1)
    if not np.all(per_out == per_out[:, :1]):
        raise UnsupportedModelError("weight scales vary within an output channel", where=_where(node),
                                    hint="use per-tensor or per-output-channel weight scaling")
    if not np.all(level == np.round(level)):
        raise UnsupportedModelError("weight zero points are not integers", where=_where(node))
    kernel, strides, pads = _window_attrs(walk, node, x, (kh, kw))
    weights = np.round(level).astype(np.int64).transpose(0, 2, 3, 1).reshape(oc, kh * kw * ic)  # (out, ky, kx, c)
    _, _, ih, iw = x.shape
    lo_c = np.broadcast_to(x.lo, (ic,)).astype(np.int64)
    hi_c = np.broadcast_to(x.hi, (ic,)).astype(np.int64)
    if any(pads):
        add = np.asarray(x.ops[0]["add"]) if x.ops else np.zeros(())
        if np.any(add != 0):
            raise UnsupportedModelError("zero padding of an input with a zero-point offset", where=_where(node),
                                        hint="use a quantizer with zero point 0 before a padded convolution")
        if x.dtype.bits == 1 and x.dtype.signed:
            raise UnsupportedModelError("zero padding of a bipolar (±1) input", where=_where(node),
                                        hint="pad with a quantized layer before, or use a convolution without padding")
        lo_c, hi_c = np.minimum(lo_c, 0), np.maximum(hi_c, 0)  # padding brings zeros into the windows
    pointwise = kernel == (1, 1) and strides == (1, 1) and not any(pads)
    if not pointwise:
        name = walk.new_name("SWG")
        walk.layers.append(SWG(name=name, ifm_h=ih, ifm_w=iw, channels=ic, k_h=kh, k_w=kw, stride_h=strides[0],
                               stride_w=strides[1], pad=tuple(int(p) for p in pads), simd=1, dtype=x.dtype))
        walk.notes.append(f"{name}: {kh}x{kw} windows, stride {list(strides)}, pads {list(pads)} for node {node.name!r}")
        x = Signal(shape=x.shape, source=name, dtype=x.dtype, lo=x.lo, hi=x.hi, ops=x.ops)
    out_shape = walk.shape(node.output[0])
    bias = walk.const(node, 2, "the convolution bias").value if len(node.input) > 2 and node.input[2] else None
    return linear(walk, node, x, weights, per_out[:, 0], bias, np.tile(lo_c, kh * kw), np.tile(hi_c, kh * kw),
                  vectors=int(np.prod(out_shape[2:])), tile=kh * kw)


def maxpool(walk: Walk, node):
    from hwgen.ir.layers import MaxPool

    x = _feature_map(walk, node)
    if int(walk.attr(node, "ceil_mode", 0)):
        raise UnsupportedModelError("ceil_mode=1 is not supported", where=_where(node), hint="use ceil_mode=False in MaxPool2d")
    if int(walk.attr(node, "storage_order", 0)) or len(node.output) > 1 and node.output[1]:
        raise UnsupportedModelError("MaxPool indices output is not supported", where=_where(node))
    if x.ops and np.any(np.asarray(x.ops[0]["mul"]) <= 0):
        raise UnsupportedModelError("max pooling after a non-positive scale", where=_where(node))
    kernel, strides, pads = _window_attrs(walk, node, x)
    _, c, ih, iw = x.shape
    name = walk.new_name("MaxPool")
    walk.layers.append(MaxPool(name=name, ifm_h=ih, ifm_w=iw, channels=c, k_h=kernel[0], k_w=kernel[1], stride_h=strides[0],
                               stride_w=strides[1], pad=tuple(int(p) for p in pads), pe=1, dtype=x.dtype))
    # max commutes with the increasing affine map from levels to values; padding never wins a max
    return Signal(shape=walk.shape(node.output[0]), source=name, dtype=x.dtype, lo=x.lo, hi=x.hi, ops=x.ops)
