"""Quantization-aware training of LPYOLO (hwgen.zoo.lpyolo) on synthetic faces, AP@0.5, QONNX export.

    python -m hwgen.train.lpyolo --out runs/lp128 --resolution 128 --minutes 5      # a smoke run
    python -m hwgen.train.lpyolo --out runs/lp128 --resolution 128 --images 600000  # a real one

Needs the `train` extra (torch, brevitas, scikit-image). Writes into --out: `lpyolo_<R>.onnx` (QONNX,
batch 1, uint8 pixels / 255 in), `lpyolo_<R>.pt` (state dict) and `train.json` (settings, loss
history, images/s, AP@0.5 of the untrained and the trained model and of chance on the held-out
test scenes, optionally the LBP-cascade baseline's).

The loss follows YOLOv5's (github.com/sefaburakokcu/quantized-yolov5 `utils/loss.py`, which LPYOLO was
trained with), written here for the HardTanh head: a ground-truth box is assigned to every anchor whose
width and height ratios to it are below 4 (the best anchor when none is) in its centre cell and in
the neighbouring cell along x and along y that its centre leans toward, as the decoded centre
t + 0.5 spans [-0.5, 1.5] cells; box loss 1 - GIoU of the decoded box, objectness binary cross-entropy
with the decoded box's IoU as target at assigned places and 0 elsewhere, class cross-entropy toward 1
at assigned places (with one class the score is objectness x class, as the decode computes it).
Probabilities s = t / 2 + 0.5 are squeezed into [0.01, 0.99] before the logarithms (t reaches -1
and 1 exactly).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from hwgen.driver.detect import LPYOLO_ANCHORS, decode, select
from hwgen.errors import HwgenError
from hwgen.train.metrics import average_precision

ANCHOR_RATIO = 4.0  # YOLOv5's anchor_t
EPS = 0.01  # probability squeeze before the logarithms


@dataclass
class TrainConfig:
    out: Path = Path("runs/lpyolo")  # output folder
    resolution: int = 128  # scene and model input side (a multiple of 32)
    weight_bits: int = 4
    act_bits: int = 4
    images: int | None = None  # training scenes to see (None: until `minutes` run out)
    minutes: float | None = 5.0  # wall-clock budget (None: until `images` are seen)
    batch: int = 16
    lr: float = 2e-3  # Adam, cosine decay to lr / 20 over the run
    threads: int = 1  # torch CPU threads
    seed: int = 0
    test_images: int = 200  # held-out test scenes for AP
    log_every: int = 10  # steps
    eval_every: int = 0  # steps between test AP measurements during training (0: at the end only)
    baseline: bool = False  # also score the LBP cascade on the test scenes
    box_gain: float = 1.0
    obj_gain: float = 1.0
    cls_gain: float = 0.5


@dataclass
class TrainResult:
    config: dict
    steps: int = 0
    images_seen: int = 0
    seconds: float = 0.0
    images_per_second: float = 0.0
    history: list = field(default_factory=list)  # {step, images, loss, box, obj, cls}
    ap_history: list = field(default_factory=list)  # {step, images, seconds, ap}: the learning curve
    ap: dict = field(default_factory=dict)  # test AP@0.5: untrained, trained, chance, lbp_cascade
    files: dict = field(default_factory=dict)


# -- targets and loss ---------------------------------------------------------------------------
def assign(targets: list[np.ndarray], anchors: np.ndarray, stride: int, cells: int):
    """Ground-truth boxes (per image, x1 y1 x2 y2 pixels) -> positive places and their boxes.

    Returns index arrays (image, anchor, gy, gx) and target boxes (cx, cy, w, h) in cell units, the
    centre relative to the assigned cell (so in [-0.5, 1.5)).
    """
    anchors_g = np.asarray(anchors, dtype=np.float64) / stride
    rows = []
    for b, boxes in enumerate(targets):
        for x1, y1, x2, y2 in np.asarray(boxes, dtype=np.float64).reshape(-1, 4):
            cx, cy, w, h = (x1 + x2) / 2 / stride, (y1 + y2) / 2 / stride, (x2 - x1) / stride, (y2 - y1) / stride
            if w <= 0 or h <= 0:
                continue
            ratio = np.maximum(np.array([w, h]) / anchors_g, anchors_g / np.array([w, h])).max(axis=1)
            matched = np.flatnonzero(ratio < ANCHOR_RATIO)
            if not len(matched):
                matched = [int(np.argmin(ratio))]
            gx, gy = min(int(cx), cells - 1), min(int(cy), cells - 1)
            places = [(gx, gy)]
            fx, fy = cx - gx, cy - gy
            if fx < 0.5 and gx > 0:
                places.append((gx - 1, gy))
            elif fx > 0.5 and gx < cells - 1:
                places.append((gx + 1, gy))
            if fy < 0.5 and gy > 0:
                places.append((gx, gy - 1))
            elif fy > 0.5 and gy < cells - 1:
                places.append((gx, gy + 1))
            for a in matched:
                for px, py in places:
                    rows.append((b, a, py, px, cx - px, cy - py, w, h))
    arr = np.asarray(rows, dtype=np.float64).reshape(-1, 8)
    index = tuple(arr[:, i].astype(np.int64) for i in range(4))
    return index, arr[:, 4:]


def _xywh_corners(box):
    import torch

    return torch.stack([box[:, 0] - box[:, 2] / 2, box[:, 1] - box[:, 3] / 2, box[:, 0] + box[:, 2] / 2, box[:, 1] + box[:, 3] / 2], 1)


def iou_giou(pred, target):
    """IoU and generalized IoU of (M, 4) centre-size boxes, row by row (torch)."""
    import torch

    p, t = _xywh_corners(pred), _xywh_corners(target)
    iw = (torch.minimum(p[:, 2], t[:, 2]) - torch.maximum(p[:, 0], t[:, 0])).clamp(min=0)
    ih = (torch.minimum(p[:, 3], t[:, 3]) - torch.maximum(p[:, 1], t[:, 1])).clamp(min=0)
    inter = iw * ih
    union = pred[:, 2] * pred[:, 3] + target[:, 2] * target[:, 3] - inter + 1e-9
    iou = inter / union
    hull = (torch.maximum(p[:, 2], t[:, 2]) - torch.minimum(p[:, 0], t[:, 0])) * \
           (torch.maximum(p[:, 3], t[:, 3]) - torch.minimum(p[:, 1], t[:, 1])) + 1e-9
    return iou, iou - (hull - union) / hull


def head_output(model, x):
    """The model's head output t for training: the HardTanh's value forward; backward, its gradient
    also where the pre-activation lies outside [-1, 1] when the loss pulls it back inside (the
    HardTanh alone passes none there, so a face whose objectness saturated at -1 would stay lost)."""
    import torch

    class BackIntoRange(torch.autograd.Function):
        @staticmethod
        def forward(ctx, u, t):
            ctx.save_for_backward(u)
            return t.clone()

        @staticmethod
        def backward(ctx, grad):
            (u,) = ctx.saved_tensors
            inward = ((u >= -1) & (u <= 1)) | ((u < -1) & (grad < 0)) | ((u > 1) & (grad > 0))
            return grad * inward, None

    u = model[:-1](x)  # the head convolution x 1/2
    return BackIntoRange.apply(u, model[-1](u))


def probability(t):
    """s = t / 2 + 0.5 squeezed linearly into [EPS, 1 - EPS]: finite logarithms at t = -1 and 1."""
    return t * (0.5 - EPS) + 0.5


def bce(p, target):
    import torch

    return -(target * torch.log(p) + (1 - target) * torch.log(1 - p))


def yolo_loss(t, targets: list[np.ndarray], anchors, stride: int, cfg: TrainConfig):
    """t: head output (N, A * 6, S, S) in [-1, 1]; targets: per image face boxes in pixels."""
    import torch

    n, _, s, _ = t.shape
    a = len(anchors)
    t = t.view(n, a, -1, s, s).permute(0, 1, 3, 4, 2)  # (N, A, S, S, 5 + classes)
    (b, ai, gy, gx), tbox = assign(targets, np.asarray(anchors), stride, s)
    tobj = torch.zeros(t.shape[:4])
    zero = t.sum() * 0
    lbox, lcls = zero, zero
    if len(b):
        ps = t[b, ai, gy, gx]
        anchor_g = torch.as_tensor(np.asarray(anchors, dtype=np.float32)[ai] / stride)
        pbox = torch.cat([ps[:, :2] + 0.5, (ps[:, 2:4] + 1) ** 2 * anchor_g], 1)
        iou, giou = iou_giou(pbox, torch.as_tensor(tbox, dtype=torch.float32))
        lbox = (1 - giou).mean()
        tobj[b, ai, gy, gx] = iou.detach().clamp(min=0)
        lcls = bce(probability(ps[:, 5:]), torch.ones_like(ps[:, 5:])).mean()
    lobj = bce(probability(t[..., 4]), tobj).mean()
    total = cfg.box_gain * lbox + cfg.obj_gain * lobj + cfg.cls_gain * lcls
    return total, {"box": float(lbox.detach()), "obj": float(lobj.detach()), "cls": float(lcls.detach())}


# -- evaluation ---------------------------------------------------------------------------------
def detections(outputs: np.ndarray, anchors=LPYOLO_ANCHORS, stride: int = 32, conf: float = 0.001, max_det: int = 100):
    """Head outputs (N, A * 6, S, S) -> per image (boxes, scores), decoded and suppressed as the driver does."""
    found = [select(decode(t, anchors, stride), conf, 0.45, max_det) for t in outputs]
    return [(f.boxes, f.scores) for f in found]


def torch_predict(model, batch: int = 32):
    """images (N, R, R, 3) uint8 -> the model's head outputs (N, C, S, S) (eval mode, float)."""
    import torch

    def predict(images: np.ndarray) -> np.ndarray:
        model.eval()
        outs = []
        with torch.no_grad():
            for i in range(0, len(images), batch):
                x = torch.from_numpy(images[i : i + batch].transpose(0, 3, 1, 2).astype(np.float32) / 255)
                outs.append(model(x).numpy())
        return np.concatenate(outs)

    return predict


def accelerator_predict(accelerator):
    """The same through an hwgen Accelerator (C-sim or PYNQ) of a model with uint8 pixel input."""
    if not accelerator.input.get("pixels_are_levels"):
        raise ValueError("the accelerator's input is not uint8 pixels (accelerator.json pixels_are_levels is false)")

    def predict(images: np.ndarray) -> np.ndarray:
        return accelerator.postprocess(accelerator.execute_integers(np.asarray(images).reshape(len(images), -1)))

    return predict


def evaluate(predict, images: np.ndarray, truths: list[np.ndarray], stride: int = 32) -> float:
    """AP@0.5 of `predict` (uint8 images -> head outputs) on the scenes; boxes are in scene pixels."""
    return average_precision(detections(predict(images), stride=stride), truths).ap


def chance_ap(truths: list[np.ndarray], resolution: int, seed: int = 0) -> float:
    """AP@0.5 of every anchor box centred in every cell with random scores: the level an untrained
    detector starts from."""
    s = resolution // 32
    rng = np.random.default_rng(seed)
    prior = decode(np.zeros((3 * 6, s, s)))  # t = 0: each anchor's box, centred in each cell
    dets = [(prior.boxes, rng.random(len(prior.boxes))) for _ in truths]
    return average_precision(dets, truths).ap


def baseline_ap(images: np.ndarray, truths: list[np.ndarray]) -> float:
    from hwgen.train.baseline import LBPCascade

    cascade = LBPCascade()
    return average_precision([cascade.detect(im) for im in images], truths).ap


# -- training -----------------------------------------------------------------------------------
def train(cfg: TrainConfig, say=print) -> TrainResult:
    import brevitas.nn as qnn
    import onnx
    import torch
    from brevitas.export import export_qonnx

    from hwgen.frontend.load import save_clean
    from hwgen.train.faces import SyntheticFaces
    from hwgen.zoo.lpyolo import lpyolo

    if cfg.images is None and cfg.minutes is None:
        raise HwgenError("training needs a number of images, a time budget in minutes, or both",
                         hint="pass --images N and/or --minutes M (not 0)")
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    model = lpyolo(cfg.resolution, cfg.weight_bits, cfg.act_bits)
    head = [m for m in model if isinstance(m, qnn.QuantConv2d)][-1]
    with torch.no_grad():  # start the head inside the HardTanh's range (its gradient is 0 outside)
        head.weight.mul_(0.1)
    train_set = SyntheticFaces("train", cfg.resolution, cfg.seed)
    test_images, test_truths = SyntheticFaces("test", cfg.resolution, cfg.seed).batch(0, cfg.test_images)
    result = TrainResult(config={k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()})
    result.ap["chance"] = chance_ap(test_truths, cfg.resolution, cfg.seed)
    result.ap["untrained"] = evaluate(torch_predict(model), test_images, test_truths)
    say(f"test AP@0.5 before training {result.ap['untrained']:.4f} (chance {result.ap['chance']:.4f})")

    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    budget = None if cfg.minutes is None else cfg.minutes * 60
    total_steps = None if cfg.images is None else math.ceil(cfg.images / cfg.batch)
    scenes = ThreadPoolExecutor(1)  # the next batch is drawn while this one trains
    pending = scenes.submit(train_set.batch, 0, cfg.batch)
    t0 = time.perf_counter()
    step = 0
    while True:
        elapsed = time.perf_counter() - t0
        if (total_steps is not None and step >= total_steps) or (budget is not None and elapsed >= budget):
            break
        progress = step / total_steps if total_steps else elapsed / budget
        for g in opt.param_groups:  # cosine decay to lr / 20
            g["lr"] = cfg.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))
        images, truths = pending.result()
        pending = scenes.submit(train_set.batch, (step + 1) * cfg.batch, cfg.batch)
        model.train()
        x = torch.from_numpy(images.transpose(0, 3, 1, 2).astype(np.float32) / 255)
        loss, parts = yolo_loss(head_output(model, x), truths, LPYOLO_ANCHORS, 32, cfg)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % cfg.log_every == 0 or step == 1:
            seen = step * cfg.batch
            rate = seen / (time.perf_counter() - t0)
            result.history.append({"step": step, "images": seen, "loss": loss.item(), **parts})
            say(f"step {step:5d}  images {seen:7d}  {rate:5.1f} img/s  loss {loss.item():.4f}  "
                f"box {parts['box']:.4f}  obj {parts['obj']:.4f}  cls {parts['cls']:.4f}")
        if cfg.eval_every and step % cfg.eval_every == 0:
            ap = evaluate(torch_predict(model), test_images, test_truths)
            result.ap_history.append({"step": step, "images": step * cfg.batch, "seconds": time.perf_counter() - t0, "ap": ap})
            say(f"step {step:5d}  test AP@0.5 {ap:.4f}")
    scenes.shutdown(cancel_futures=True)
    result.steps, result.images_seen = step, step * cfg.batch
    result.seconds = time.perf_counter() - t0
    result.images_per_second = result.images_seen / result.seconds if result.seconds else 0.0
    result.ap["trained"] = evaluate(torch_predict(model), test_images, test_truths)
    say(f"test AP@0.5 after {result.images_seen} images ({result.seconds:.0f} s, {result.images_per_second:.1f} img/s): "
        f"{result.ap['trained']:.4f}")
    if cfg.baseline:
        result.ap["lbp_cascade"] = baseline_ap(test_images, test_truths)
        say(f"LBP cascade test AP@0.5: {result.ap['lbp_cascade']:.4f}")
    model.eval()
    onnx_path = out / f"lpyolo_{cfg.resolution}.onnx"
    export_qonnx(model, torch.zeros(1, 3, cfg.resolution, cfg.resolution), export_path=str(onnx_path))
    save_clean(onnx.load(str(onnx_path)), onnx_path)  # one file, without the exporter's stack traces and paths
    torch.save(model.state_dict(), out / f"lpyolo_{cfg.resolution}.pt")
    result.files = {"onnx": str(onnx_path), "state_dict": str(out / f"lpyolo_{cfg.resolution}.pt")}
    (out / "train.json").write_text(json.dumps(asdict(result), indent=2) + "\n")
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m hwgen.train.lpyolo", description=__doc__.split("\n\n")[0],
                                epilog="\n\n".join(__doc__.split("\n\n")[1:3]), formatter_class=argparse.RawDescriptionHelpFormatter)
    d = TrainConfig()
    p.add_argument("--out", type=Path, default=d.out, help="output folder (default: %(default)s)")
    p.add_argument("--resolution", type=int, default=d.resolution, help="input side, a multiple of 32 (default: %(default)s)")
    p.add_argument("--weight-bits", type=int, default=d.weight_bits, help="inner convolutions' weight bits (default: %(default)s)")
    p.add_argument("--act-bits", type=int, default=d.act_bits, help="QuantReLU bits (default: %(default)s)")
    p.add_argument("--images", type=int, default=d.images, help="training scenes to see (default: until --minutes)")
    p.add_argument("--minutes", type=float, default=d.minutes, help="time budget; 0 for none (default: %(default)s)")
    p.add_argument("--batch", type=int, default=d.batch, help="batch size (default: %(default)s)")
    p.add_argument("--lr", type=float, default=d.lr, help="Adam learning rate (default: %(default)s)")
    p.add_argument("--threads", type=int, default=d.threads, help="torch CPU threads (default: %(default)s)")
    p.add_argument("--seed", type=int, default=d.seed, help="data and weight seed (default: %(default)s)")
    p.add_argument("--test-images", type=int, default=d.test_images, help="held-out test scenes (default: %(default)s)")
    p.add_argument("--eval-every", type=int, default=d.eval_every,
                   help="steps between test AP measurements during training, 0: at the end only (default: %(default)s)")
    p.add_argument("--baseline", action="store_true", help="also score the LBP cascade on the test scenes")
    args = p.parse_args(argv)
    cfg = TrainConfig(out=args.out, resolution=args.resolution, weight_bits=args.weight_bits, act_bits=args.act_bits,
                      images=args.images, minutes=args.minutes or None, batch=args.batch, lr=args.lr, threads=args.threads,
                      seed=args.seed, test_images=args.test_images, eval_every=args.eval_every, baseline=args.baseline)
    try:
        train(cfg, say=lambda m: print(m, flush=True))
    except (HwgenError, ValueError) as exc:  # bad settings: one message, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
