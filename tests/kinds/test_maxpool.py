"""Streaming MaxPool in C simulation, bit-exact against the numpy reference, which is itself
checked against a naive loop."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen.datatypes import DataType
from hwgen.estimate import cycles, resources
from hwgen.ir import reference
from hwgen.ir.layers import MaxPool
from tests.conftest import random_values
from tests.kinds.test_swg import check_layer, check_schedule, naive_windows

I, U, B = DataType.int, DataType.uint, DataType.bipolar


def naive_maxpool(layer: MaxPool, x: np.ndarray) -> np.ndarray:
    k, c = layer.k_h * layer.k_w, layer.channels
    args = (layer.ifm_h, layer.ifm_w, c, layer.k_h, layer.k_w, layer.stride_h, layer.stride_w, layer.pad)
    out = []
    for f in x:
        win = naive_windows(f, *args, pad_value=layer.dtype.min).reshape(-1, k, c)
        out.append([max(int(v) for v in win[p, :, ch]) for p in range(len(win)) for ch in range(c)])
    return np.array(out, dtype=np.int64)


def maxpool(h, w, c, kh, kw, sh, sw, pad, pe, dtype, name="MaxPool_0"):
    return MaxPool(name, h, w, c, kh, kw, sh, sw, pad, pe, dtype)


# ifm_h, ifm_w, channels, k_h, k_w, stride_h, stride_w, pad (top, left, bottom, right), pe, dtype, exact
CASES = [
    (6, 6, 3, 2, 2, 2, 2, (0, 0, 0, 0), 1, U(2), False),  # the usual 2x2 stride 2
    (6, 6, 10, 2, 2, 2, 2, (0, 0, 0, 0), 10, I(4), True),  # PE = C
    (7, 11, 3, 3, 3, 2, 2, (1, 1, 1, 1), 3, I(8), False),  # 3x3 stride 2 "same", non-square: padding never wins
    (5, 5, 10, 3, 3, 1, 1, (1, 1, 0, 0), 5, I(3), True),  # asymmetric padding top/left, overlapping windows
    (7, 6, 1, 2, 3, 1, 2, (0, 0, 1, 1), 1, U(5), False),  # asymmetric padding bottom/right, non-square kernel
    (9, 9, 3, 5, 5, 3, 3, (0, 0, 0, 0), 1, U(1), False),  # 5x5 stride 3
    (8, 9, 2, 1, 3, 1, 3, (0, 1, 0, 1), 2, I(6), False),  # 1x3
    (7, 8, 3, 1, 1, 3, 2, (0, 0, 0, 0), 3, U(3), True),  # 1x1 stride > kernel: subsampling
    (6, 6, 2, 2, 2, 2, 2, (1, 1, 1, 1), 2, B(), False),  # bipolar: max of ±1, padding -1
]


def case_id(case) -> str:
    h, w, c, kh, kw, sh, sw, pad, pe, dt, exact = case
    return f"{h}x{w}x{c}-k{kh}x{kw}-s{sh}x{sw}-p{''.join(map(str, pad))}-pe{pe}-{dt}" + ("-exact" if exact else "")


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_maxpool_matches_reference(tmp_path, case):
    *shape, exact = case
    check_layer(maxpool(*shape), naive_maxpool, np.random.default_rng(shape[2] * 10 + shape[3]), tmp_path, exact=exact)


def test_reference_matches_naive_loop():
    rng = np.random.default_rng(2)
    tried = 0
    while tried < 200:
        h, w = rng.integers(1, 8, 2)
        kh, kw = rng.integers(1, 5, 2)
        sh, sw = rng.integers(1, 4, 2)
        pad = tuple(int(rng.integers(0, k)) for k in (kh, kw, kh, kw))
        if pad[0] + h + pad[2] < kh or pad[1] + w + pad[3] < kw:
            continue
        tried += 1
        dtype = [I(3), U(2), B()][tried % 3]
        layer = maxpool(int(h), int(w), 2, int(kh), int(kw), int(sh), int(sw), pad, 1, dtype)
        x = random_values(rng, dtype, (2, layer.frame_in))
        np.testing.assert_array_equal(reference.execute(layer, x), naive_maxpool(layer, x))
        check_schedule(layer)


def test_maxpool_validation_names_the_layer():
    with pytest.raises(ValueError, match=r"^MaxPool 'p0': pe=4 must be a divisor of channels=6 \(valid: 1, 2, 3, 6\)$"):
        maxpool(4, 4, 6, 2, 2, 2, 2, (0, 0, 0, 0), 4, U(2), name="p0")
    with pytest.raises(ValueError, match=r"^MaxPool 'p0': padding \(0, 0, 2, 0\) must be smaller than the 2x2 window"):
        maxpool(4, 4, 6, 2, 2, 2, 2, (0, 0, 2, 0), 1, U(2), name="p0")
    with pytest.raises(ValueError, match=r"^MaxPool 'p0': a 3x3 window must fit the padded 2x4 input$"):
        maxpool(2, 4, 1, 3, 3, 1, 1, (0, 0, 0, 0), 1, U(2), name="p0")


def test_maxpool_shapes_refold_and_costs():
    layer = maxpool(6, 8, 4, 2, 2, 2, 2, (0, 0, 0, 0), 2, I(4))
    assert (layer.ofm_h, layer.ofm_w, layer.frame_in, layer.frame_out) == (3, 4, 6 * 8 * 4, 3 * 4 * 4)
    assert (layer.in_elems, layer.out_elems, layer.in_dtype, layer.out_dtype) == (2, 2, I(4), I(4))
    assert layer.refold(pe=4).pe == 4 and layer.refold(simd=4).pe == 2
    # 2x2 stride 2: every block reads 2 rows (2*8*2 = 32 words) while walking 4*2*4 = 32 window words
    assert cycles(layer) == 32 + 2 * 32 + 32 == 6 * 8 * 4 // 2 + 32
    assert resources(layer).LUT > 150


@pytest.mark.slow
@pytest.mark.parametrize("k,s,pad", [(2, 2, 0), (2, 1, 1), (3, 2, 1), (3, 3, 0), (3, 1, 2), (5, 2, 2)], ids=str)
@pytest.mark.parametrize("c,pe", [(1, 1), (3, 3), (10, 2), (10, 10)], ids=str)
def test_maxpool_sweep(tmp_path, k, s, pad, c, pe):
    dtype = [U(1), I(2), U(3), I(5), U(8), B()][(k + s + c) % 6]
    layer = maxpool(8, 7, c, k, k, s, s, (pad, pad, pad, pad), pe, dtype)
    check_layer(layer, naive_maxpool, np.random.default_rng(k * 100 + s * 10 + c), tmp_path, frames=(3,), exact=bool((k + c) % 2))
