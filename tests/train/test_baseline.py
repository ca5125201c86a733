"""The LBP-cascade baseline (hwgen.train.baseline): grouping by hand, and the cascade on a synthetic scene."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen.train.baseline import LBPCascade, group

pytest.importorskip("skimage")


def test_group_by_hand():
    windows = [[0, 0, 10, 10], [50, 50, 60, 60], [1, 1, 11, 11], [2, 2, 12, 12], [0, 0, 40, 40]]
    # windows 0, 2, 3 chain (each overlaps the next by 81 of 100 >= 50); window 4 covers window 0 whole
    # (100 = all of the smaller one) -> one group of 4: mean box ((0+1+2+0)/4, .., (10+11+12+40)/4, ..) = (0.75, 0.75, 18.25, 18.25)
    boxes, scores = group(windows)
    np.testing.assert_allclose(boxes, [[0.75, 0.75, 18.25, 18.25], [50, 50, 60, 60]])
    np.testing.assert_array_equal(scores, [4, 1])
    boxes, scores = group(windows, min_neighbors=2)
    np.testing.assert_array_equal(scores, [4])
    # without window 4: the chain 0-2-3 alone, mean (1, 1, 11, 11); a stricter rule (81 / 100 < 0.9) joins nothing
    boxes, scores = group(windows[:4])
    np.testing.assert_allclose(boxes, [[1, 1, 11, 11], [50, 50, 60, 60]])
    np.testing.assert_array_equal(scores, [3, 1])
    np.testing.assert_array_equal(group(windows[:4], merge=0.9)[1], [1, 1, 1, 1])
    assert group(np.zeros((0, 4)))[0].shape == (0, 4)


def test_cascade_finds_pasted_faces():
    from hwgen.driver.detect import box_iou
    from hwgen.train.faces import SyntheticFaces

    scene = SyntheticFaces("test", 128, seed=0).scene(1)
    assert len(scene.boxes) >= 3
    boxes, scores = LBPCascade().detect(scene.image)
    assert len(boxes) and np.all(scores >= 1)
    best = box_iou(scene.boxes, boxes).max(axis=1)
    assert (best > 0.5).sum() >= 2  # most of the faces, at IoU > 0.5
