"""Layer descriptors: validation messages, and every layer kind has its reference, cycle model and template."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen.codegen.layers import layer_context
from hwgen.datatypes import DataType
from hwgen.estimate import cycles
from hwgen.ir import reference
from hwgen.ir.layers import DWC, LAYER_KINDS, MVAU, SWG, MaxPool, Thresholding, divisors

I, U, B = DataType.int, DataType.uint, DataType.bipolar


def mvau(**overrides):
    args = dict(name="fc0", mw=12, mh=6, simd=4, pe=3, in_dtype=U(2), w_dtype=I(2), acc_dtype=I(7), out_dtype=I(7),
                weights=np.ones((6, 12), dtype=np.int64), thresholds=None, out_min=0, vectors=1)
    args.update(overrides)
    return MVAU(**args)


def thresholding(**overrides):
    args = dict(name="act0", channels=10, pe=5, in_dtype=I(4), out_dtype=U(2),
                thresholds=np.tile([-2, 0, 3], (10, 1)), out_min=0, vectors=1)
    args.update(overrides)
    return Thresholding(**args)


def dwc(**overrides):
    args = dict(name="dwc0", elems=24, in_elems=4, out_elems=2, dtype=I(3))
    args.update(overrides)
    return DWC(**args)


def swg(**overrides):
    args = dict(name="swg0", ifm_h=5, ifm_w=6, channels=4, k_h=3, k_w=3, stride_h=1, stride_w=2, pad=(1, 1, 1, 0),
                simd=2, dtype=I(3))
    args.update(overrides)
    return SWG(**args)


def maxpool(**overrides):
    args = dict(name="pool0", ifm_h=6, ifm_w=6, channels=4, k_h=2, k_w=2, stride_h=2, stride_w=2, pad=(0, 0, 0, 0),
                pe=2, dtype=I(3))
    args.update(overrides)
    return MaxPool(**args)


FACTORIES = {MVAU: mvau, Thresholding: thresholding, DWC: dwc, SWG: swg, MaxPool: maxpool}


def test_divisors():
    assert divisors(1) == [1]
    assert divisors(12) == [1, 2, 3, 4, 6, 12]
    assert divisors(13) == [1, 13]
    for n in range(1, 60):
        assert divisors(n) == [d for d in range(1, n + 1) if n % d == 0]


@pytest.mark.parametrize("make,kwargs,message", [
    (mvau, dict(simd=5), "MVAU 'fc0': simd=5 must be a divisor of mw=12 (valid: 1, 2, 3, 4, 6, 12)"),
    (mvau, dict(simd=0), "MVAU 'fc0': simd=0 must be a divisor of mw=12 (valid: 1, 2, 3, 4, 6, 12)"),
    (mvau, dict(simd=24), "MVAU 'fc0': simd=24 must be a divisor of mw=12 (valid: 1, 2, 3, 4, 6, 12)"),
    (mvau, dict(pe=4), "MVAU 'fc0': pe=4 must be a divisor of mh=6 (valid: 1, 2, 3, 6)"),
    (mvau, dict(name="dense_7", mh=7, pe=2, weights=np.ones((7, 12), dtype=np.int64)), "MVAU 'dense_7': pe=2 must be a divisor of mh=7 (valid: 1, 7)"),
    (thresholding, dict(pe=3), "Thresholding 'act0': pe=3 must be a divisor of channels=10 (valid: 1, 2, 5, 10)"),
    (thresholding, dict(pe=-1), "Thresholding 'act0': pe=-1 must be a divisor of channels=10 (valid: 1, 2, 5, 10)"),
    (dwc, dict(in_elems=4, out_elems=6), "DWC 'dwc0': in_elems=4 and out_elems=6 must divide one another"),
    (dwc, dict(elems=20, in_elems=8, out_elems=2), "DWC 'dwc0': word size=8 must be a divisor of elems=20 (valid: 1, 2, 4, 5, 10, 20)"),
])
def test_folding_errors_name_the_layer_and_valid_values(make, kwargs, message):
    with pytest.raises(ValueError, match="^" + _re(message) + "$"):
        make(**kwargs)


def _re(text: str) -> str:
    import re

    return re.escape(text)


@pytest.mark.parametrize("make,kwargs,pattern", [
    (mvau, dict(weights=np.ones((12, 6), dtype=np.int64)), r"MVAU 'fc0': weights must have shape \(6, 12\), not \(12, 6\)"),
    (mvau, dict(weights=np.full((6, 12), 2)), r"MVAU 'fc0': weights do not fit int2"),
    (mvau, dict(w_dtype=B(), weights=np.zeros((6, 12), dtype=np.int64)), r"MVAU 'fc0': weights do not fit bipolar"),
    (mvau, dict(out_dtype=I(8)), r"MVAU 'fc0': without thresholds out_dtype must be acc_dtype=int7, not int8"),
    (mvau, dict(acc_dtype=I(63), out_dtype=I(63)), r"MVAU 'fc0': a int63 accumulator is wider than the 62 bits hwgen supports"),
    (mvau, dict(out_dtype=U(2), thresholds=np.zeros((5, 3), dtype=np.int64)), r"MVAU 'fc0': thresholds must have shape \(6, n\), not \(5, 3\)"),
    (mvau, dict(out_dtype=U(2), thresholds=np.tile([0, 2, 1], (6, 1))), r"MVAU 'fc0': thresholds must be sorted ascending"),
    (mvau, dict(out_dtype=U(2), thresholds=np.tile([0, 1, 64], (6, 1))), r"MVAU 'fc0': thresholds in \[0, 64\] do not fit int7"),
    (mvau, dict(out_dtype=B(), thresholds=np.zeros((6, 2), dtype=np.int64), out_min=-1), r"MVAU 'fc0': a bipolar output needs exactly 1 threshold and out_min=-1"),
    (mvau, dict(out_dtype=B(), thresholds=np.zeros((6, 1), dtype=np.int64), out_min=0), r"MVAU 'fc0': a bipolar output needs exactly 1 threshold and out_min=-1"),
    (mvau, dict(out_dtype=U(2), thresholds=np.zeros((6, 4), dtype=np.int64)), r"MVAU 'fc0': outputs 0..4 do not fit uint2"),
    (mvau, dict(out_dtype=I(2), thresholds=np.zeros((6, 1), dtype=np.int64), out_min=-3), r"MVAU 'fc0': outputs -3..-2 do not fit int2"),
    (thresholding, dict(thresholds=np.tile([-17, 0, 3], (10, 1))), r"Thresholding 'act0': thresholds in \[-17, 3\] do not fit int5"),
    (thresholding, dict(out_dtype=I(2), out_min=0), r"Thresholding 'act0': outputs 0..3 do not fit int2"),
])
def test_parameter_errors(make, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        make(**kwargs)


def test_threshold_range_includes_one_above_the_input_range():
    # thresholds are compared with input values: in.max + 1 ("never crossed") must fit the threshold type
    thresholding(thresholds=np.tile([-8, 0, 8], (10, 1)))
    with pytest.raises(ValueError, match="do not fit"):
        thresholding(thresholds=np.tile([-8, 0, 17], (10, 1)))
    assert thresholding().threshold_dtype == I(5)
    assert thresholding(in_dtype=U(3), thresholds=np.tile([0, 4, 8], (10, 1))).threshold_dtype == U(4)
    assert thresholding(in_dtype=B(), out_dtype=B(), out_min=-1, thresholds=np.tile([2], (10, 1))).threshold_dtype == I(3)


def test_every_fold_that_divides_is_accepted():
    for simd in divisors(12):
        for pe in divisors(6):
            layer = mvau(simd=simd, pe=pe)
            assert (layer.in_elems, layer.out_elems) == (simd, pe)
    for pe in divisors(10):
        assert thresholding(pe=pe).in_elems == pe


def test_refold():
    layer = mvau()
    assert (layer.refold(simd=6).simd, layer.refold(simd=6).pe) == (6, 3)
    assert (layer.refold(pe=2).simd, layer.refold(pe=2).pe) == (4, 2)
    with pytest.raises(ValueError, match="simd=5 must be a divisor"):
        layer.refold(simd=5)
    assert thresholding().refold(pe=2).pe == 2


def test_frame_sizes():
    layer = mvau(vectors=3)
    assert (layer.frame_in, layer.frame_out) == (36, 18)
    assert (thresholding(vectors=4).frame_in, thresholding(vectors=4).frame_out) == (40, 40)
    assert (dwc().frame_in, dwc().frame_out, dwc().in_dtype, dwc().out_dtype) == (24, 24, I(3), I(3))


def test_every_layer_kind_has_a_factory_here():
    """A new layer kind must be added to FACTORIES, so the completeness test below covers it."""
    assert set(LAYER_KINDS) == set(FACTORIES)


@pytest.mark.parametrize("kind", LAYER_KINDS, ids=lambda k: k.__name__)
def test_every_layer_kind_has_reference_cycles_and_template(kind):
    layer = FACTORIES[kind]()
    x = np.zeros((2, layer.frame_in), dtype=np.int64) + (layer.in_dtype.min if layer.in_dtype != B() else 1)
    y = reference.execute(layer, x)
    assert y.shape == (2, layer.frame_out)
    assert layer.out_dtype.contains(y)
    n = cycles(layer)
    assert isinstance(n, int) and n >= 1
    ctx = layer_context(layer)
    assert {"kind", "name", "function", "targs", "params", "in_bits", "out_bits"} <= set(ctx)
    assert ctx["name"] == layer.name
    assert ctx["in_bits"] == layer.in_elems * layer.in_dtype.bits
    assert ctx["out_bits"] == layer.out_elems * layer.out_dtype.bits


def test_the_registries_refuse_unknown_kinds():
    class Mystery:
        pass

    with pytest.raises(NotImplementedError, match="Mystery"):
        reference.execute(Mystery(), np.zeros((1, 1)))
    with pytest.raises(NotImplementedError, match="Mystery"):
        cycles(Mystery())
    with pytest.raises(NotImplementedError, match="Mystery"):
        layer_context(Mystery())
