"""A classical face detector to score beside LPYOLO: scikit-image's LBP frontal-face cascade (OpenCV's
`lbpcascade_frontalface`, shipped as `skimage.data.lbp_frontal_face_cascade_filename()`).

The cascade's 24 x 24 window is larger than the smallest faces of the synthetic set (12 px), so the
image is enlarged `upscale` times first. `skimage.feature.Cascade.detect_multi_scale` merges its raw
windows and keeps groups of at least `min_neighbor_number`, without a score; to rank detections
for AP it is asked for every raw window instead (a merge threshold above 1 merges none), and the
windows are grouped here as it groups them (two windows join when their intersection covers at least
half of the smaller one), a group's box the mean of its windows and its score the number of windows:
the classic Viola-Jones confidence.
"""

from __future__ import annotations

import numpy as np


class LBPCascade:
    def __init__(self, upscale: float = 2.0, scale_factor: float = 1.1, step_ratio: float = 1.0,
                 min_size: int = 24, max_size: int = 192, merge: float = 0.5, min_neighbors: int = 1):
        from skimage.data import lbp_frontal_face_cascade_filename
        from skimage.feature import Cascade

        self.cascade = Cascade(lbp_frontal_face_cascade_filename())
        self.upscale, self.scale_factor, self.step_ratio = upscale, scale_factor, step_ratio
        self.min_size, self.max_size, self.merge, self.min_neighbors = min_size, max_size, merge, min_neighbors

    def windows(self, image: np.ndarray) -> np.ndarray:
        """Every window the cascade accepts, (K, 4) x1 y1 x2 y2 in the image's pixels."""
        from hwgen.driver.detect import as_rgb, resize_bilinear

        image = as_rgb(image)
        h, w = image.shape[:2]
        big = resize_bilinear(image, round(h * self.upscale), round(w * self.upscale))
        grey = big.astype(np.float64).mean(axis=2) / 255
        found = self.cascade.detect_multi_scale(grey, scale_factor=self.scale_factor, step_ratio=self.step_ratio,
                                                min_size=(self.min_size, self.min_size), max_size=(self.max_size, self.max_size),
                                                min_neighbor_number=1, intersection_score_threshold=1.01)
        boxes = np.array([[d["c"], d["r"], d["c"] + d["width"], d["r"] + d["height"]] for d in found], dtype=np.float64)
        return boxes.reshape(-1, 4) / self.upscale

    def detect(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Grouped detections: boxes (K, 4) and scores (K,) = windows in the group."""
        return group(self.windows(image), self.merge, self.min_neighbors)


def group(windows: np.ndarray, merge: float = 0.5, min_neighbors: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Connected groups of windows (intersection / smaller area >= merge): mean box, count."""
    windows = np.asarray(windows, dtype=np.float64).reshape(-1, 4)
    n = len(windows)
    if not n:
        return np.zeros((0, 4)), np.zeros(0)
    iw = np.clip(np.minimum(windows[:, None, 2], windows[None, :, 2]) - np.maximum(windows[:, None, 0], windows[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(windows[:, None, 3], windows[None, :, 3]) - np.maximum(windows[:, None, 1], windows[None, :, 1]), 0, None)
    area = (windows[:, 2] - windows[:, 0]) * (windows[:, 3] - windows[:, 1])
    joined = iw * ih >= merge * np.minimum(area[:, None], area[None, :])
    label = np.arange(n)
    while True:  # each window takes the smallest label among its neighbours until nothing changes
        new = np.where(joined, label[None, :], n).min(axis=1)
        if np.array_equal(new, label):
            break
        label = new
    groups = np.unique(label)
    boxes = np.array([windows[label == g].mean(axis=0) for g in groups])
    counts = np.array([np.sum(label == g) for g in groups], dtype=np.float64)
    keep = counts >= min_neighbors
    order = np.argsort(-counts[keep], kind="stable")
    return boxes[keep][order], counts[keep][order]
