"""FINN's CNV (3x32x32, hwgen.zoo.cnv) at W1A1, W1A2, W2A2: C-sim == numpy reference, ≈ QONNX, same argmax."""

from __future__ import annotations

import numpy as np
import pytest

import hwgen
from hwgen.ir import reference

torch = pytest.importorskip("torch")
pytest.importorskip("brevitas")


@pytest.mark.parametrize("bits", [(1, 1), pytest.param((1, 2), marks=pytest.mark.slow),
                                  pytest.param((2, 2), marks=pytest.mark.slow)], ids=["w1a1", "w1a2", "w2a2"])
def test_cnv(tmp_path, bits):
    from brevitas.export import export_qonnx

    from hwgen.frontend.load import load_qonnx
    from hwgen.ir.layers import MVAU, SWG, MaxPool
    from hwgen.verify import qonnx_outputs, random_inputs
    from hwgen.zoo.cnv import cnv, randomize_batchnorm

    torch.manual_seed(sum(bits))
    model = randomize_batchnorm(cnv(*bits), seed=sum(bits))
    path = tmp_path / "cnv.onnx"
    export_qonnx(model, torch.zeros(1, 3, 32, 32), export_path=str(path))
    b = hwgen.build(path, out_dir=tmp_path / "build", verify_frames=8)
    kinds = [type(l) for l in b.graph.layers]
    assert kinds.count(SWG) == 6 and kinds.count(MaxPool) == 2 and kinds.count(MVAU) == 9
    assert b.verification.ir_vs_csim["bit_exact"]
    # shallow FIFOs: none deeper than never-blocking; the DMA's (SWG_0 reads 1,024 words over ~8,200 cycles) much shallower
    shallow, never = b.estimates.fifos.depths, b.estimates.fifos.never_blocking
    assert all(shallow[s] <= never[s] for s in never) and shallow["input"] < never["input"] / 10
    assert b.estimates.fifo_resources.BRAM18 < b.estimates.fifo_resources_never_blocking.BRAM18
    assert f"s_input depth = {shallow['input']}" in (tmp_path / "build" / "hls" / "top.cpp").read_text()

    acc = hwgen.Accelerator(tmp_path / "build")
    x = random_inputs(b.graph, 8, seed=3)
    levels = acc.quantize(x)
    np.testing.assert_array_equal(acc.execute_integers(levels), reference.run(b.graph, levels))
    ours = acc.execute(x)
    golden = qonnx_outputs(load_qonnx(path), x)
    with torch.no_grad():
        torch_out = model(torch.from_numpy(x))
    torch_out = np.asarray(getattr(torch_out, "value", torch_out))
    scale = np.abs(golden).max()
    assert np.abs(ours - golden).max() <= 1e-4 * scale
    assert np.abs(torch_out - golden).max() <= 1e-3 * scale
    assert (ours.argmax(1) == golden.argmax(1)).all()
