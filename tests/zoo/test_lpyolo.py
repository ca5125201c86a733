"""hwgen.zoo.lpyolo: the LPYOLO network exactly as the issue's layer table gives it, and through hwgen."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")
qnn = pytest.importorskip("brevitas.nn")

from hwgen.zoo.lpyolo import count, layer_table, lpyolo, randomize_batchnorm  # noqa: E402

# LPYOLO at 416 x 416, written out from the published layer table (not from the module):
# (input channels, output channels, kernel, output side, weight bits)
LPYOLO_416 = [
    (3, 8, 3, 416, 8), (8, 8, 3, 208, 4), (8, 16, 3, 104, 4), (16, 32, 3, 52, 4), (32, 56, 3, 26, 4),  # + max pool 2/2 each
    (56, 104, 3, 13, 4), (104, 208, 3, 13, 4), (208, 56, 1, 13, 4), (56, 104, 3, 13, 4),
    (104, 18, 3, 13, 8),  # head: 3 anchors x (5 + 1 class)
]


def test_counts_at_416_match_the_published_figures():
    weights = sum(cout * cin * k * k for cin, cout, k, _, _ in LPYOLO_416)
    macs = sum(cout * cin * k * k * side * side for cin, cout, k, side, _ in LPYOLO_416)
    # by hand: 216 + 576 + 1,152 + 4,608 + 16,128 + 52,416 + 194,688 + 11,648 + 52,416 + 16,848
    assert weights == 350_696
    # 37,380,096 + 24,920,064 + 12,460,032 + 12,460,032 + 10,902,528 + 8,858,304 + 32,902,272 + 1,968,512
    # + 8,858,304 + 2,847,312: the "153.6 M MACs"
    assert macs == 153_557_456
    model = lpyolo(416)
    assert count(model) == {"macs": macs, "weights": weights}
    assert [(s.in_channels, s.out_channels, s.kernel, s.out_size, s.weight_bits) for s in layer_table(416)] == LPYOLO_416


def test_structure_bits_and_scales():
    model = lpyolo(64, weight_bits=3, act_bits=2)
    convs = [m for m in model if isinstance(m, qnn.QuantConv2d)]
    assert [c.quant_weight().bit_width.item() for c in convs] == [8] + [3] * 8 + [8]
    for c in convs:  # one weight scale per output channel
        assert c.quant_weight().scale.shape == (c.out_channels, 1, 1, 1)
        assert c.bias is None
    relus = [m for m in model if isinstance(m, qnn.QuantReLU)]
    assert len(relus) == 9 and all(r.act_quant.bit_width().item() == 2 for r in relus)
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in model) == 5
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in model) == 9  # not after the head
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        pixels = model[0](x)
        y = model(x)
    assert torch.allclose(pixels.scale, torch.tensor(1 / 255)) and pixels.bit_width.item() == 8 and not pixels.signed
    assert y.shape == (2, 18, 2, 2)
    levels = y * 127  # the head's HardTanh: levels -127..127 at scale 1/127
    assert torch.allclose(levels, levels.round(), atol=1e-4) and y.abs().max() <= 1
    # between the head convolution and its HardTanh: x 1/2
    assert model[-3] is convs[-1] and model[-2](torch.tensor([2.0, -3.0])).tolist() == [1.0, -1.5]


def test_resolution_must_be_a_multiple_of_32():
    with pytest.raises(ValueError, match="resolution must be a positive multiple of 32"):
        lpyolo(100)
    with pytest.raises(ValueError, match="weight_bits must be an integer in 2..8"):
        lpyolo(64, weight_bits=1)


@pytest.mark.slow  # ~30-50 s on 2 busy cores, most of it compiling the C-sim of 25 layers
def test_lpyolo_64_builds_bit_exact_and_detects_through_csim(tmp_path):
    """Exported at 64 x 64 (a 2 x 2 grid), built with automatic folding: C-sim == numpy reference on every
    bit and == QONNX (the build checks both); the detector pipeline on C-sim equals the sequential path."""
    from brevitas.export import export_qonnx

    import hwgen
    from hwgen.driver.detect import Detector, Pipeline

    torch.manual_seed(0)
    model = randomize_batchnorm(lpyolo(64), seed=0)
    path = tmp_path / "lpyolo64.onnx"
    export_qonnx(model, torch.zeros(1, 3, 64, 64), export_path=str(path))
    b = hwgen.build(path, out_dir=tmp_path / "build", synthesize=False, verify_frames=6)
    v = b.verification
    assert v.ir_vs_csim["bit_exact"] and v.ir_vs_csim["frames"] >= 64
    assert v.qonnx_vs_csim["frames"] == 6 and v.qonnx_vs_csim["elements_differing"] == 0
    assert v.cycles_vs_csim["mismatches"] == []
    meta = json.loads((tmp_path / "build" / "deploy" / "accelerator.json").read_text())
    assert meta["input"]["pixels_are_levels"] is True and meta["output"]["shape"] == [1, 18, 2, 2]
    kinds = [type(layer).__name__ for layer in b.graph.layers]
    assert kinds.count("MaxPool") == 5 and kinds.count("MVAU") == 10

    acc = hwgen.Accelerator(tmp_path / "build")
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, size=(4, 64, 64, 3), dtype=np.uint8)
    with torch.no_grad():
        torch_t = model(torch.from_numpy(frames.transpose(0, 3, 1, 2).astype(np.float32) / 255)).numpy()
    assert len(np.unique(torch_t)) > 20
    hw_t = acc.postprocess(acc.execute_integers(frames.reshape(4, -1)))  # the camera bytes, streamed as they are
    np.testing.assert_allclose(hw_t, torch_t, atol=1e-6)

    det = Detector(acc, conf_threshold=0.05, resize="numpy")
    images = [rng.integers(0, 256, size=(48 + 8 * i, 80, 3), dtype=np.uint8) for i in range(5)]
    sequential = [det.detect(im) for im in images]
    assert sum(len(d) for d in sequential) > 0
    pipe = Pipeline(det)
    assert list(pipe.run(images)) == sequential
    assert pipe.stats.frames == 5

    # deploy/ of a detector carries the face-detection notebook and its scenes; it runs unchanged on C-sim
    from tests.notebooks.test_notebooks import run_notebook

    deploy = tmp_path / "build" / "deploy"
    text = run_notebook(deploy / "face_detection.ipynb", deploy)
    scenes = np.load(deploy / "face_scenes.npz")
    count = sum(name.startswith("image_") for name in scenes.files)
    faces = sum(len(scenes[f"boxes_{i}"]) for i in range(count))
    first = Detector(hwgen.Accelerator(deploy, backend="csim"), conf_threshold=0.25, iou_threshold=0.45).detect(scenes["image_0"])
    side = scenes["image_0"].shape[0]
    assert f"scene 0 ({side} x {side}): {len(first)} detections, {len(scenes['boxes_0'])} true faces" in text, text
    assert re.search(rf"{count} scenes, {faces} faces: \d+ found at IoU >= 0.5, \d+ false detections", text), text
    assert re.search(rf"{8 * count} frames in [\d.]+ s: [\d.]+ frames/s end to end \(preprocess", text), text


def test_lpyolo_96_shallow_fifos_keep_every_output_cycle(tmp_path):
    """LPYOLO at 96 x 96 (~0.8 M loop iterations a frame), lowered and auto-folded for pynq-z2: the shrunk
    FIFO depths (hwgen.fifo.events, what the build uses) are the iteration-level reference's, shallower than
    never-blocking, and with them the blocking model (the cycle-by-cycle simulation, tests/estimate/test_fifo.py)
    starts every iteration of the last layer on the cycle never-blocking FIFOs do, over 8 frames (shrinking
    looked at 4)."""
    from brevitas.export import export_qonnx

    from hwgen.boards import load_board
    from hwgen.fifo import BlockingModel, chain_streams, run_blocking, shrink_streams, size_streams, streams
    from hwgen.fold import auto_fold
    from hwgen.frontend.load import load_qonnx
    from hwgen.ir.graph import stream_widths
    from hwgen.lower import lower

    torch.manual_seed(0)
    path = tmp_path / "lpyolo96.onnx"
    export_qonnx(lpyolo(96), torch.zeros(1, 3, 96, 96), export_path=str(path))
    graph = auto_fold(lower(load_qonnx(path), "lpyolo96"), load_board("pynq-z2"), 100.0)
    nodes, edges = chain_streams(graph)
    words = graph.input.elems // graph.layers[0].in_elems
    period = max([n.iterations for n in nodes] + [words])
    width = {e: stream_widths(graph)[e[0]] for e in edges}
    sized = size_streams(nodes, edges, words)
    assert sized == streams.size_streams(nodes, edges, words)
    shallow = shrink_streams(nodes, edges, sized, width, words)
    assert shallow == shrink_streams(nodes, edges, sized, width, words, model=BlockingModel)
    assert all(shallow[e] <= sized[e] for e in edges) and sum(shallow.values()) < sum(sized.values())
    last = nodes[-1].name
    np.testing.assert_array_equal(run_blocking(nodes, edges, shallow, words, period, frames=8)[last],
                                  run_blocking(nodes, edges, sized, words, period, frames=8)[last])
