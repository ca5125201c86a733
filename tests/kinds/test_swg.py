"""Sliding window generator (SWG) in C simulation, bit-exact against the numpy reference, which is
itself checked against a naive loop; SWG -> MVAU chains against a direct numpy convolution."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hwgen.csim.simulate import Simulation
from hwgen.datatypes import DataType
from hwgen.estimate import cycles, resources
from hwgen.fifo import size_fifos
from hwgen.ir import reference
from hwgen.ir.layers import MVAU, SWG
from hwgen.kinds import kind_of
from tests.conftest import chain, random_values

I, U, B = DataType.int, DataType.uint, DataType.bipolar


def naive_windows(x, h, w, c, kh, kw, sh, sw, pad, pad_value):
    """One frame, element by element: [(oy, ox) row-major][(ky, kx, c)] of the padded image."""
    top, left, bottom, right = pad
    image = x.reshape(h, w, c)
    out = []
    oy = 0
    while oy * sh + kh <= top + h + bottom:
        ox = 0
        while ox * sw + kw <= left + w + right:
            for ky in range(kh):
                for kx in range(kw):
                    r, col = oy * sh + ky - top, ox * sw + kx - left
                    for ch in range(c):
                        out.append(image[r, col, ch] if 0 <= r < h and 0 <= col < w else pad_value)
            ox += 1
        oy += 1
    return np.array(out, dtype=np.int64)


def naive_swg(layer: SWG, x: np.ndarray) -> np.ndarray:
    args = (layer.ifm_h, layer.ifm_w, layer.channels, layer.k_h, layer.k_w, layer.stride_h, layer.stride_w, layer.pad)
    return np.stack([naive_windows(f, *args, 0) for f in x])


def swg(h, w, c, kh, kw, sh, sw, pad, simd, dtype, name="SWG_0"):
    return SWG(name, h, w, c, kh, kw, sh, sw, pad, simd, dtype)


def check_layer(layer, expected_fn, rng, workdir, frames=(5, 1), exact=False):
    """C-sim == numpy reference == independent expectation; iteration counters == cycles(); the FIFO
    schedule reads and writes every word once in cycles() iterations."""
    graph = chain([layer])
    sim = Simulation(graph, workdir, exact=exact)
    sim.backend.reset_iterations()
    total = 0
    for n in frames:
        x = random_values(rng, layer.in_dtype, (n, layer.frame_in))
        x.reshape(-1)[:2] = [layer.in_dtype.min, layer.in_dtype.max]
        got = sim.run(x)
        assert got.shape == (n, layer.frame_out)
        np.testing.assert_array_equal(got, expected_fn(layer, x))
        np.testing.assert_array_equal(got, reference.run(graph, x))
        total += n
    assert sim.backend.iterations(layer.name) == total * cycles(layer)
    check_schedule(layer)


def check_schedule(layer):
    s = kind_of(layer).schedule(layer)
    assert len(s.reads) == len(s.writes) == cycles(layer)
    assert s.reads.sum() == layer.frame_in // layer.in_elems
    assert s.writes.sum() == layer.frame_out // layer.out_elems


# ifm_h, ifm_w, channels, k_h, k_w, stride_h, stride_w, pad (top, left, bottom, right), simd, dtype, exact
CASES = [
    (4, 4, 3, 1, 1, 1, 1, (0, 0, 0, 0), 1, U(2), False),  # 1x1: the identity
    (6, 6, 3, 2, 2, 2, 2, (0, 0, 0, 0), 3, I(4), True),  # 2x2 stride 2
    (5, 5, 10, 3, 3, 1, 1, (1, 1, 1, 1), 5, I(8), False),  # 3x3 "same"
    (7, 11, 3, 3, 3, 2, 2, (1, 1, 1, 1), 1, U(4), True),  # non-square input, stride 2, padding
    (9, 8, 1, 5, 5, 3, 3, (0, 0, 0, 0), 1, U(1), False),  # 5x5 stride 3, one channel
    (7, 11, 3, 1, 3, 1, 1, (0, 1, 0, 1), 3, I(3), False),  # 1x3, left/right padding only
    (6, 7, 10, 3, 3, 1, 2, (1, 1, 0, 0), 10, I(2), True),  # asymmetric padding top/left, SIMD = C
    (7, 6, 3, 3, 2, 2, 1, (0, 0, 1, 1), 3, U(8), False),  # asymmetric padding bottom/right, non-square kernel
    (8, 9, 3, 1, 1, 3, 2, (0, 0, 0, 0), 1, U(3), True),  # stride > kernel: rows and columns skipped
    (5, 5, 2, 2, 2, 3, 3, (0, 0, 0, 0), 2, B(), False),  # stride > kernel, bipolar
    (4, 5, 2, 2, 2, 1, 1, (2, 0, 0, 2), 1, I(4), True),  # padding as tall as the kernel: no rows before row 0
]


def case_id(case) -> str:
    h, w, c, kh, kw, sh, sw, pad, simd, dt, exact = case
    return f"{h}x{w}x{c}-k{kh}x{kw}-s{sh}x{sw}-p{''.join(map(str, pad))}-simd{simd}-{dt}" + ("-exact" if exact else "")


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_swg_matches_reference(tmp_path, case):
    *shape, exact = case
    layer = swg(*shape)
    check_layer(layer, naive_swg, np.random.default_rng(len(CASES) + shape[3]), tmp_path, exact=exact)


def test_reference_matches_naive_loop():
    rng = np.random.default_rng(1)
    for h, w, kh, kw, sh, sw, top, left, bottom, right in itertools.islice(
            ((rng.integers(1, 8), rng.integers(1, 8), *rng.integers(1, 5, 2), *rng.integers(1, 4, 2), *rng.integers(0, 3, 4))
             for _ in itertools.count()), 300):
        if top + h + bottom < kh or left + w + right < kw:
            continue
        layer = swg(int(h), int(w), 2, int(kh), int(kw), int(sh), int(sw), (int(top), int(left), int(bottom), int(right)), 1, I(4))
        x = random_values(rng, I(4), (2, layer.frame_in))
        np.testing.assert_array_equal(reference.execute(layer, x), naive_swg(layer, x))
        check_schedule(layer)


def conv_numpy(x, weights, h, w, c, kh, kw, sh, sw, pad):
    """Direct convolution, NHWC in, weights (out, c, kh, kw) as ONNX has them; (frames, ofm_h*ofm_w*out)."""
    top, left, bottom, right = pad
    n = x.shape[0]
    img = np.pad(x.reshape(n, h, w, c), ((0, 0), (top, bottom), (left, right), (0, 0)))
    oh, ow = (h + top + bottom - kh) // sh + 1, (w + left + right - kw) // sw + 1
    out = np.zeros((n, oh, ow, weights.shape[0]), dtype=np.int64)
    for oy in range(oh):
        for ox in range(ow):
            patch = img[:, oy * sh:oy * sh + kh, ox * sw:ox * sw + kw, :]  # (n, kh, kw, c)
            out[:, oy, ox, :] = np.einsum("nyxc,ocyx->no", patch, weights)
    return out.reshape(n, -1)


CONV_CASES = [  # h, w, c, out, kh, kw, sh, sw, pad, swg simd, mvau simd, pe, dtype, exact
    (6, 6, 3, 4, 3, 3, 1, 1, (1, 1, 1, 1), 3, 9, 2, U(2), False),
    (7, 11, 2, 3, 3, 2, 2, 1, (1, 0, 0, 1), 1, 4, 3, I(4), True),  # DWC between SWG and MVAU
    (5, 5, 4, 2, 2, 2, 2, 2, (0, 0, 0, 0), 2, 16, 1, I(3), False),
]


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_swg_mvau_is_a_convolution(tmp_path, case):
    h, w, c, o, kh, kw, sh, sw, pad, simd, mvau_simd, pe, dtype, exact = case
    rng = np.random.default_rng(h * w + c)
    s = swg(h, w, c, kh, kw, sh, sw, pad, simd, dtype)
    weights = rng.integers(-3, 4, size=(o, c, kh, kw))  # ONNX layout
    mw = kh * kw * c
    flat = weights.transpose(0, 2, 3, 1).reshape(o, mw)  # (out, ky, kx, c): the SWG's window order
    bound = int(np.abs(flat).sum(1).max()) * max(abs(dtype.min), dtype.max)
    acc = DataType.smallest(-bound, bound)
    mvau = MVAU("MVAU_0", mw, o, mvau_simd, pe, dtype, I(3), acc, acc, flat, None, 0, s.ofm_h * s.ofm_w)
    graph = chain([s, mvau])
    sim = Simulation(graph, tmp_path, exact=exact)
    sim.backend.reset_iterations()
    x = random_values(rng, dtype, (4, s.frame_in))
    got = sim.run(x)
    np.testing.assert_array_equal(got, conv_numpy(x, weights, h, w, c, kh, kw, sh, sw, pad))
    np.testing.assert_array_equal(got, reference.run(graph, x))
    assert {l.name: sim.backend.iterations(l.name) for l in graph.layers} == {l.name: 4 * cycles(l) for l in graph.layers}
    depths = size_fifos(graph, s.frame_in // s.in_elems)
    assert all(d >= 2 for d in depths.values())


def test_swg_validation_names_the_layer():
    with pytest.raises(ValueError, match=r"^SWG 'c0': simd=4 must be a divisor of channels=6 \(valid: 1, 2, 3, 6\)$"):
        swg(4, 4, 6, 3, 3, 1, 1, (0, 0, 0, 0), 4, U(2), name="c0")
    with pytest.raises(ValueError, match=r"^SWG 'c0': zero padding needs a data type holding 0, not bipolar"):
        swg(4, 4, 6, 3, 3, 1, 1, (1, 1, 1, 1), 1, B(), name="c0")
    with pytest.raises(ValueError, match=r"^SWG 'c0': a 5x5 window must fit the padded 4x6 input$"):
        swg(3, 6, 1, 5, 5, 1, 1, (1, 0, 0, 0), 1, U(2), name="c0")
    with pytest.raises(ValueError, match=r"^SWG 'c0': pad must be 4 non-negative integers"):
        swg(4, 4, 1, 3, 3, 1, 1, (1, 1, 1), 1, U(2), name="c0")
    with pytest.raises(ValueError, match=r"^SWG 'c0': stride_h must be a positive integer, not 0$"):
        swg(4, 4, 1, 3, 3, 0, 1, (0, 0, 0, 0), 1, U(2), name="c0")


def test_swg_shapes_refold_and_costs():
    layer = swg(7, 11, 6, 3, 2, 2, 1, (1, 0, 0, 1), 2, U(4))
    assert (layer.ofm_h, layer.ofm_w) == ((7 + 1 - 3) // 2 + 1, (11 + 1 - 2) // 1 + 1) == (3, 11)
    assert layer.frame_in == 7 * 11 * 6 and layer.frame_out == 3 * 11 * 3 * 2 * 6
    assert (layer.in_elems, layer.out_elems, layer.pe, layer.in_dtype, layer.out_dtype) == (2, 2, 2, U(4), U(4))
    assert layer.refold(pe=3).simd == 3 and layer.refold(simd=6).simd == 6 and layer.refold().simd == 2
    with pytest.raises(ValueError, match="one word size"):
        layer.refold(simd=3, pe=6)
    with pytest.raises(ValueError, match="simd=4 must be a divisor of channels=6"):
        layer.refold(pe=4)
    # block -1 reads rows 0..1 (row -1 is padding); each output row's windows take 11*6*3 = 198
    # iterations, more than the 2 rows (66 words) read meanwhile
    assert cycles(layer) == 2 * 33 + 3 * 198
    assert cycles(layer.refold(pe=6)) == 2 * 11 + 3 * 66
    r = resources(layer)
    assert r.LUT > 150 and r.FF > 100


def test_swg_cycles_when_reading_dominates():
    layer = swg(9, 4, 1, 1, 1, 3, 3, (0, 0, 0, 0), 1, U(2))  # 3x2 outputs, 3 rows of 4 read per output row
    assert cycles(layer) == 4 + 12 + 12 + (4 * 3 - 4 * 1)  # block -1: row 0; rows 1-3, 4-6, 7-8
    assert cycles(swg(6, 6, 1, 3, 3, 1, 1, (3, 0, 0, 0), 1, U(2))) == sum(max(4 * 9, r * 6) for r in (1, 1, 1, 1, 1, 1, 0))


@pytest.mark.slow
@pytest.mark.parametrize("k,s,pad", [(1, 1, 0), (2, 1, 0), (2, 2, 1), (3, 1, 1), (3, 2, 0), (3, 3, 1), (5, 1, 2), (5, 2, 1)], ids=str)
@pytest.mark.parametrize("c,simd", [(1, 1), (3, 1), (3, 3), (10, 2), (10, 10)], ids=str)
def test_swg_sweep(tmp_path, k, s, pad, c, simd):
    dtype = [U(1), I(2), U(3), I(5), U(8)][(k + s + c) % 5]
    layer = swg(7, 9, c, k, k, s, s, (pad, pad, pad, pad), simd, dtype)
    check_layer(layer, naive_swg, np.random.default_rng(k * 100 + s * 10 + c), tmp_path, frames=(3,), exact=bool((k + c) % 2))
