"""AP@0.5 (hwgen.train.metrics) on hand-made detections, the values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen.train.metrics import average_precision

A = [0, 0, 10, 10]
B = [20, 20, 30, 30]
C = [40, 0, 50, 10]


def test_perfect_detector():
    curve = average_precision([([A, B], [0.9, 0.8]), ([C], [0.7])], [[A, B], [C]])
    assert curve.ap == pytest.approx(1.0)
    np.testing.assert_array_equal(curve.true_positive, [True, True, True])


def test_ranked_false_positive_by_hand():
    # image 0: truths A, B; detections A (0.9), a miss far away (0.8), B (0.7)
    # ranks: TP, FP, TP -> recall 1/2, 1/2, 1; precision 1, 1/2, 2/3
    # envelope: at recall 1/2 precision 1, up to recall 1 precision 2/3 -> AP = 0.5 * 1 + 0.5 * 2/3
    curve = average_precision([([A, [60, 60, 70, 70], B], [0.9, 0.8, 0.7])], [[A, B]])
    np.testing.assert_allclose(curve.recall, [0.5, 0.5, 1.0])
    np.testing.assert_allclose(curve.precision, [1.0, 0.5, 2 / 3])
    assert curve.ap == pytest.approx(0.5 + 0.5 * 2 / 3)


def test_duplicate_and_missed_by_hand():
    # truths A, B, C (two images); detections: A (0.9), A again (0.8: duplicate -> FP), C (0.6); B never found
    # ranks: TP, FP, TP -> recall 1/3, 1/3, 2/3; precision 1, 1/2, 2/3 -> AP = 1/3 * 1 + 1/3 * 2/3
    curve = average_precision([([A, [0.5, 0, 10.5, 10]], [0.9, 0.8]), ([C], [0.6])], [[A, B], [C]])
    np.testing.assert_array_equal(curve.true_positive, [True, False, True])
    assert curve.ap == pytest.approx(1 / 3 + 2 / 9)


def test_low_scored_hit_after_misses_by_hand():
    # one truth; a false positive scored higher than the hit: precision 1/2 at recall 1 -> AP 0.5
    assert average_precision([([B, A], [0.9, 0.1])], [[A]]).ap == pytest.approx(0.5)


def test_iou_must_exceed_one_half():
    # [0, 0, 10, 20] against A: intersection 100, union 200 -> IoU exactly 0.5: not a hit (VOC's ">")
    assert average_precision([([[0, 0, 10, 20]], [1.0])], [[A]]).ap == 0.0
    # [0, 0, 10, 19]: IoU 100 / 190 > 0.5: a hit
    assert average_precision([([[0, 0, 10, 19]], [1.0])], [[A]]).ap == pytest.approx(1.0)


def test_detection_in_an_image_without_faces_is_a_false_positive():
    # image 1 has no truth: its detection (0.95) ranks first and is false -> precision 1/2 at recall 1
    curve = average_precision([([A], [0.9]), ([A], [0.95])], [[A], np.zeros((0, 4))])
    assert curve.ap == pytest.approx(0.5)


def test_no_detections_and_bad_input():
    assert average_precision([(np.zeros((0, 4)), np.zeros(0))], [[A]]).ap == 0.0
    with pytest.raises(ValueError, match="2 images of detections but 1 of ground truth"):
        average_precision([([A], [1.0]), ([A], [1.0])], [[A]])
    with pytest.raises(ValueError, match="image 0: 2 boxes but 1 scores"):
        average_precision([([A, B], [1.0])], [[A]])
