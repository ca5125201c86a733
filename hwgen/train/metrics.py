"""Average precision of a detector, PASCAL VOC style (numpy only).

Detections of all images are ranked by score; each in turn is a true positive when its best-overlapping
ground-truth box of the same image has IoU > `iou` (VOC's strict ">") and was not matched by a
higher-scored detection, else a false positive. AP is the area under the precision-recall curve
after making precision monotone (each point takes the best precision at any higher recall): VOC
2010+'s all-point interpolation. Boxes are continuous x1 y1 x2 y2 (no "+1" pixel convention).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwgen.driver.detect import box_iou


@dataclass(frozen=True)
class PRCurve:
    ap: float
    recall: np.ndarray  # after each ranked detection
    precision: np.ndarray
    true_positive: np.ndarray  # bool, per ranked detection
    ground_truths: int


def average_precision(detections, ground_truths, iou: float = 0.5) -> PRCurve:
    """detections: per image (boxes (K, 4), scores (K,)); ground_truths: per image boxes (G, 4)."""
    if len(detections) != len(ground_truths):
        raise ValueError(f"{len(detections)} images of detections but {len(ground_truths)} of ground truth")
    image, boxes, scores = [], [], []
    for i, (b, s) in enumerate(detections):
        b, s = np.asarray(b, dtype=np.float64).reshape(-1, 4), np.asarray(s, dtype=np.float64).reshape(-1)
        if len(b) != len(s):
            raise ValueError(f"image {i}: {len(b)} boxes but {len(s)} scores")
        image += [i] * len(b)
        boxes.append(b)
        scores.append(s)
    image = np.asarray(image, dtype=np.int64)
    boxes = np.concatenate(boxes) if boxes else np.zeros((0, 4))
    scores = np.concatenate(scores) if scores else np.zeros(0)
    truths = [np.asarray(g, dtype=np.float64).reshape(-1, 4) for g in ground_truths]
    total = sum(len(g) for g in truths)
    matched = [np.zeros(len(g), dtype=bool) for g in truths]
    order = np.argsort(-scores, kind="stable")
    tp = np.zeros(len(order), dtype=bool)
    for rank, d in enumerate(order):
        g = truths[image[d]]
        if not len(g):
            continue
        overlaps = box_iou(boxes[d], g)[0]
        best = int(np.argmax(overlaps))
        if overlaps[best] > iou and not matched[image[d]][best]:
            matched[image[d]][best] = True
            tp[rank] = True
    cum_tp = np.cumsum(tp)
    recall = cum_tp / total if total else np.zeros(len(tp))
    precision = cum_tp / np.arange(1, len(tp) + 1)
    return PRCurve(ap=_area(recall, precision), recall=recall, precision=precision, true_positive=tp, ground_truths=total)


def _area(recall: np.ndarray, precision: np.ndarray) -> float:
    """All-point interpolated area under the precision-recall curve."""
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[0.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]  # precision envelope: best precision at any higher recall
    steps = np.flatnonzero(r[1:] != r[:-1])
    return float(np.sum((r[steps + 1] - r[steps]) * p[steps + 1]))
