"""LPYOLO training pieces (hwgen.train.lpyolo): target assignment and loss worked out by hand, the
HardTanh's training gradient, and a few steps of the real loop (tiny: 4 steps at 64 x 64)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("brevitas")
pytest.importorskip("skimage")

from hwgen.driver.detect import LPYOLO_ANCHORS  # noqa: E402
from hwgen.train.lpyolo import TrainConfig, assign, head_output, yolo_loss  # noqa: E402

# LPYOLO's anchors in cells of 32 px: (0.3125, 0.4375), (0.71875, 0.84375), (1.15625, 1.8125)


def rows(index, boxes):
    return sorted(zip(*(i.tolist() for i in index), *(boxes.T.round(6).tolist())))


def test_assign_by_hand():
    # a 24 px face centred at (52, 52): centre 1.625 cells, side 0.75 cells. Side ratios to the anchors:
    # 2.4 and 1.71, 1.04 and 1.125, 1.54 and 2.42: all below 4, so all 3 anchors. Its cell (1, 1); the
    # centre leans right and down (0.625 > 0.5), so cells (2, 1) and (1, 2) too, centres relative to
    # each: (0.625, 0.625), (-0.375, 0.625), (0.625, -0.375)
    index, boxes = assign([np.array([[40, 40, 64, 64]])], LPYOLO_ANCHORS, 32, 4)
    expected = [(0, a, gy, gx, ox, oy, 0.75, 0.75) for a in range(3)
                for gx, gy, ox, oy in ((1, 1, 0.625, 0.625), (2, 1, -0.375, 0.625), (1, 2, 0.625, -0.375))]
    assert rows(index, boxes) == sorted(expected)


def test_assign_large_and_odd_boxes():
    # 100 px (3.125 cells) centred at (50, 50): ratios 10, 4.35 and 2.70 -> anchor 2 only; centre 1.5625 cells:
    # leans right/down -> cells (1, 1), (2, 1), (1, 2)
    index, _ = assign([np.zeros((0, 4)), np.array([[0, 0, 100, 100]])], LPYOLO_ANCHORS, 32, 4)
    assert set(index[0].tolist()) == {1} and set(index[1].tolist()) == {2} and len(index[0]) == 3
    # a 128 x 8 strip fits no anchor (best ratio: anchor 1, 5.57) -> the best one only; centre (64, 4) -> cell
    # (2, 0) exactly at 0.0 across: leans left to (1, 0); 0.125 down: cell row 0 has no row above
    index, boxes = assign([np.array([[0, 0, 128, 8]])], LPYOLO_ANCHORS, 32, 4)
    assert rows(index, boxes) == [(0, 1, 0, 1, 1.0, 0.125, 4.0, 0.25), (0, 1, 0, 2, 0.0, 0.125, 4.0, 0.25)]


def perfect_head(face, cells: int = 4) -> torch.Tensor:
    """Head outputs that decode exactly to `face` at every place it is assigned to, objectness 1 there
    and -1 elsewhere, class score 1."""
    t = torch.full((1, 3, cells, cells, 6), -1.0)
    t[..., 5] = 1.0
    index, boxes = assign([np.array([face])], LPYOLO_ANCHORS, 32, cells)
    anchors = np.asarray(LPYOLO_ANCHORS) / 32
    for (b, a, gy, gx), (ox, oy, w, h) in zip(zip(*index), boxes):
        t[b, a, gy, gx, :5] = torch.tensor([ox - 0.5, oy - 0.5, math.sqrt(w / anchors[a, 0]) - 1, math.sqrt(h / anchors[a, 1]) - 1, 1.0])
    return t.permute(0, 1, 4, 2, 3).reshape(1, 18, cells, cells)


def test_loss_of_a_perfect_prediction_by_hand():
    cfg = TrainConfig()
    t = perfect_head([40, 40, 64, 64])
    assert t.abs().max() <= 1
    loss, parts = yolo_loss(t, [np.array([[40, 40, 64, 64]])], LPYOLO_ANCHORS, 32, cfg)
    # GIoU 1 -> box loss 0; objectness: every place at its target (1 with IoU 1, else 0) up to the squeeze
    # of probabilities into [0.01, 0.99]: -log 0.99 each; class the same
    assert parts["box"] == pytest.approx(0, abs=1e-5)
    assert parts["obj"] == pytest.approx(-math.log(0.99), rel=1e-4)
    assert parts["cls"] == pytest.approx(-math.log(0.99), rel=1e-4)
    assert float(loss) == pytest.approx(-math.log(0.99) * 1.5, rel=1e-4)
    worse = t.clone()
    worse[0, 0] += 0.3  # anchor 0's x shifted everywhere
    assert float(yolo_loss(worse, [np.array([[40, 40, 64, 64]])], LPYOLO_ANCHORS, 32, cfg)[0]) > float(loss) + 0.01


def test_head_output_passes_gradient_back_into_range_only():
    from hwgen.zoo.lpyolo import lpyolo, randomize_batchnorm

    model = randomize_batchnorm(lpyolo(64), seed=0)  # eval mode, features spread over their levels
    head = model[-3]
    x = torch.rand(2, 3, 64, 64)

    def head_grad(weight: float, direction: float) -> float:
        """Set every head weight to `weight`; the head weights' gradient when the loss pulls every output
        in `direction` (+1: up)."""
        with torch.no_grad():
            head.weight.fill_(weight)
        head.weight.grad = None
        out = head_output(model, x)
        with torch.no_grad():
            assert torch.equal(out, model(x))  # forward: the HardTanh's value
        (-direction * out).sum().backward()
        return float(head.weight.grad.abs().sum())

    with torch.no_grad():
        model[-3].weight.fill_(1.0)
        assert (model[:-1](x) > 1).all()  # non-negative features, all-positive weights: saturated high
    assert head_grad(1.0, +1) == 0  # further up: nothing (as the HardTanh alone)
    assert head_grad(1.0, -1) > 0  # back down into range: flows (the HardTanh alone gives 0)
    assert head_grad(-1.0, -1) == 0  # saturated low, further down: nothing
    assert head_grad(-1.0, +1) > 0  # back up: flows
    assert head_grad(1e-4, +1) > 0 and head_grad(1e-4, -1) > 0  # inside the range: both ways
    with torch.no_grad():
        head.weight.fill_(1.0)
    head.weight.grad = None
    (-model(x)).sum().backward()  # the plain HardTanh: saturated high and pulled down, nothing flows
    assert float(head.weight.grad.abs().sum()) == 0


def test_a_few_training_steps_export_qonnx(tmp_path):
    from hwgen.frontend.load import load_qonnx
    from hwgen.train.lpyolo import train

    cfg = TrainConfig(out=tmp_path / "run", resolution=64, images=64, minutes=None, batch=16, test_images=8, log_every=1,
                      eval_every=2)
    result = train(cfg, say=lambda _m: None)
    assert result.steps == 4 and result.images_seen == 64 and result.images_per_second > 0
    assert [h["step"] for h in result.history] == [1, 2, 3, 4] and all(np.isfinite(h["loss"]) for h in result.history)
    assert set(result.ap) == {"chance", "untrained", "trained"} and all(0 <= v <= 1 for v in result.ap.values())
    assert [(h["step"], h["images"]) for h in result.ap_history] == [(2, 32), (4, 64)]
    assert result.ap_history[-1]["ap"] == result.ap["trained"]  # the same model, the same scenes
    saved = json.loads((tmp_path / "run" / "train.json").read_text())
    assert saved["steps"] == 4 and saved["config"]["resolution"] == 64
    model = load_qonnx(tmp_path / "run" / "lpyolo_64.onnx")
    assert [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim] == [1, 3, 64, 64]


@pytest.mark.parametrize("args, message", [
    (["--minutes", "0"], "training needs a number of images, a time budget in minutes, or both"),
    (["--resolution", "100", "--images", "16"], "resolution must be a positive multiple of 32 (5 poolings by 2), not 100"),
])
def test_cli_bad_settings_give_one_error(tmp_path, capsys, args, message):
    from hwgen.train.lpyolo import main

    assert main(["--out", str(tmp_path / "run"), "--test-images", "2", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
