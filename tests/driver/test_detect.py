"""Host-side detection (hwgen.driver.detect): letterbox, YOLO decode, NMS, the threaded pipeline.

Expected values are worked out by hand in the comments from the formulas of the module docstring.
"""

from __future__ import annotations

import numpy as np
import pytest

from hwgen.driver.detect import (
    LPYOLO_ANCHORS,
    Detections,
    Detector,
    Letterbox,
    Pipeline,
    box_iou,
    decode,
    head_error,
    letterbox,
    nms,
    resize_bilinear,
    select,
)


def head(size: int = 2, fill: float = -1.0) -> np.ndarray:
    """A (18, S, S) head output with every t at `fill` (-1: objectness 0, nothing found)."""
    return np.full((18, size, size), fill)


def place(t: np.ndarray, anchor: int, gy: int, gx: int, values) -> None:
    t[anchor * 6 : anchor * 6 + 6, gy, gx] = values


def test_decode_one_box_by_hand():
    t = head()
    place(t, anchor=1, gy=1, gx=0, values=(0.25, -0.5, 0.5, 0.0, 0.8, 1.0))
    found = decode(t, LPYOLO_ANCHORS, stride=32)
    assert found.boxes.shape == (3 * 2 * 2, 4)
    best = int(np.argmax(found.scores))
    # cx = (0.25 + 0.5 + 0) * 32 = 24, cy = (-0.5 + 0.5 + 1) * 32 = 32,
    # w = (0.5 + 1)^2 * 23 = 51.75, h = (0 + 1)^2 * 27 = 27; score = (0.8/2 + 0.5) * (1/2 + 0.5) = 0.9
    np.testing.assert_allclose(found.boxes[best], [24 - 25.875, 32 - 13.5, 24 + 25.875, 32 + 13.5])
    assert found.scores[best] == pytest.approx(0.9)
    assert found.classes[best] == 0
    assert np.count_nonzero(found.scores) == 1  # every other objectness is t = -1 -> 0


def test_decode_picks_the_best_class_and_multiplies_scores():
    t = np.full((3 * 7, 1, 1), -1.0)  # 2 classes: 3 anchors x 7
    t[0:7, 0, 0] = (0, 0, 0, 0, 0.0, -0.6, 0.2)  # objectness 0.5, class scores 0.2 and 0.6
    found = decode(t, LPYOLO_ANCHORS, stride=32)
    assert found.classes[0] == 1 and found.scores[0] == pytest.approx(0.5 * 0.6)
    # cx = cy = 0.5 * 32 = 16, w = 1 * 10, h = 1 * 14
    np.testing.assert_allclose(found.boxes[0], [11, 9, 21, 23])


def test_decode_rejects_a_wrong_shape():
    with pytest.raises(ValueError, match=r"must be \(3 \* \(5 \+ classes\), S, S\)"):
        decode(np.zeros((17, 2, 2)))


def test_box_iou_by_hand():
    a = [[0, 0, 10, 10]]
    b = [[5, 0, 15, 10], [1, 0, 11, 10], [20, 20, 30, 30], [0, 0, 10, 10]]
    # overlaps 50 / 150, 90 / 110, 0, 100 / 100
    np.testing.assert_allclose(box_iou(a, b)[0], [1 / 3, 90 / 110, 0, 1])


def test_nms_by_hand():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30], [0, 0, 10, 10], [5, 0, 15, 10]], float)
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    classes = np.array([0, 0, 0, 1, 0])
    # box 1 overlaps box 0 by 0.82 > 0.45: dropped; box 3 is another class: kept; box 4 overlaps box 0 by 1/3: kept
    np.testing.assert_array_equal(nms(boxes, scores, 0.45, classes), [0, 2, 3, 4])
    # class-agnostic: box 3 is box 0
    np.testing.assert_array_equal(nms(boxes, scores, 0.45), [0, 2, 4])
    # at IoU 0.3, box 4 (1/3) goes too
    np.testing.assert_array_equal(nms(boxes, scores, 0.3), [0, 2])
    # the order follows the scores, not the input
    np.testing.assert_array_equal(nms(boxes[::-1], scores[::-1], 0.45), [4, 2, 0])


def test_select_filters_then_suppresses():
    found = Detections(boxes=np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30]], float),
                       scores=np.array([0.2, 0.8, 0.5]), classes=np.zeros(3, np.int64))
    kept = select(found, conf_threshold=0.25, iou_threshold=0.45)
    # box 0 is below 0.25 and cannot suppress box 1
    np.testing.assert_array_equal(kept.scores, [0.8, 0.5])
    np.testing.assert_array_equal(kept.boxes, [[1, 0, 11, 10], [20, 20, 30, 30]])


def test_bilinear_resize_by_hand():
    image = np.array([[0, 100], [100, 200]], np.uint8)[:, :, None]
    # 2 -> 4: source coordinates (i + 0.5) / 2 - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1);
    # f(y, x) = 100 x + 100 y on the unit square
    w = np.array([0, 0.25, 0.75, 1])
    expected = 100 * (w[:, None] + w[None, :])
    np.testing.assert_array_equal(resize_bilinear(image, 4, 4)[:, :, 0], expected)


def test_letterbox_geometry_by_hand():
    image = np.zeros((100, 200, 3), np.uint8)
    image[:, :, 0] = 200
    canvas, box = letterbox(image, 64, resize="numpy")
    # r = min(64 / 100, 64 / 200) = 0.32: 200 x 100 -> 64 x 32, centred: 16 grey rows above and below
    assert (box.scale_x, box.scale_y, box.left, box.top) == (0.32, 0.32, 0, 16)
    assert canvas.shape == (64, 64, 3)
    assert np.all(canvas[:16] == 114) and np.all(canvas[48:] == 114)
    assert np.all(canvas[16:48, :, 0] == 200) and np.all(canvas[16:48, :, 1:] == 0)
    # an image box (50, 25, 150, 75) is (16, 16 + 8, 48, 16 + 24) in the model's pixels, and back
    np.testing.assert_allclose(box.to_model([[50, 25, 150, 75]]), [[16, 24, 48, 40]])
    np.testing.assert_allclose(box.to_image([[16, 24, 48, 40]]), [[50, 25, 150, 75]])
    # parts in the padding are clipped to the image
    np.testing.assert_allclose(box.to_image([[-8, 0, 70, 64]]), [[0, 0, 200, 100]])


def test_letterbox_accepts_grey_and_rgba_and_rejects_floats():
    grey = np.arange(64, dtype=np.uint8).reshape(8, 8)
    canvas, _ = letterbox(grey, 8)
    np.testing.assert_array_equal(canvas, np.repeat(grey[:, :, None], 3, axis=2))  # same size: no resize
    rgba = np.zeros((8, 8, 4), np.uint8)
    assert letterbox(rgba, 16, resize="numpy")[0].shape == (16, 16, 3)
    with pytest.raises(ValueError, match="images must be uint8 pixels, not float64"):
        letterbox(np.zeros((8, 8, 3)), 16)
    with pytest.raises(ValueError, match="resize must be 'auto', 'opencv', 'pillow' or 'numpy'"):
        letterbox(grey, 16, resize="lanczos")


class FakeAccelerator:
    """A stand-in for hwgen.driver.Accelerator with its pack / run / unpack / postprocess interface.

    Its "hardware" is a fixed function of the frame: one box per anchor-0 cell, centred in the cell,
    whose objectness is the cell's mean red value / 127.5 - 1 and whose size follows the green value.
    """

    def __init__(self, size: int = 64, stride: int = 32):
        s = size // stride
        self.size, self.cells = size, s
        self.input = {"shape": [1, 3, size, size], "layout": "nhwc", "pixels_are_levels": True}
        self.output = {"shape": [1, 18, s, s]}
        self.backend = self
        self.frames_run = 0

    def pack_input(self, levels):
        return np.asarray(levels, dtype=np.uint8).reshape(len(levels), -1)

    def run(self, data, frames):
        self.frames_run += frames
        img = data.reshape(frames, self.size, self.size, 3).astype(np.float64)
        s, k = self.cells, self.size // self.cells
        cells = img.reshape(frames, s, k, s, k, 3).mean(axis=(2, 4))  # (N, S, S, 3)
        t = np.full((frames, 18, s, s), -1.0)
        t[:, 0] = t[:, 1] = 0.0  # centred in its cell
        t[:, 4] = cells[..., 0] / 127.5 - 1  # objectness
        t[:, 5] = 1.0  # class score 1
        t[:, 2] = t[:, 3] = cells[..., 1] / 255  # size
        return t

    def unpack_output(self, data):
        return data

    def postprocess(self, values):
        return values


def frames(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=(int(rng.integers(40, 120)), int(rng.integers(40, 120)), 3), dtype=np.uint8) for _ in range(n)]


def test_detector_maps_a_box_back_to_the_image():
    acc = FakeAccelerator(size=64)
    det = Detector(acc, conf_threshold=0.5, resize="numpy")
    assert (det.stride, det.num_classes, det.size) == (32, 1, 64)
    image = np.zeros((128, 256, 3), np.uint8)
    # r = 0.25: the image is 64 x 32 in the model, rows 16..47; model cell (1, 1) covers rows 32..63, columns 32..63
    image[64:, 128:, 0] = 255  # that cell's mean red: half its rows are image (255), half padding (114): 184.5
    found = det.detect(image)
    assert len(found) == 1 and found.classes[0] == 0
    # objectness t = 184.5 / 127.5 - 1 -> score t / 2 + 0.5 = 184.5 / 255; green is 57 (half 0, half 114): t = 57 / 255
    assert found.scores[0] == pytest.approx(184.5 / 255)
    tw = 57 / 255
    cx = cy = (0 + 0.5 + 1) * 32
    w, h = (tw + 1) ** 2 * 10, (tw + 1) ** 2 * 14
    model_box = np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
    expected = [model_box[0] / 0.25, (model_box[1] - 16) / 0.25, model_box[2] / 0.25, min(128, (model_box[3] - 16) / 0.25)]
    np.testing.assert_allclose(found.boxes[0], expected)
    assert set(det.last_timings) == {"preprocess", "accelerator", "postprocess"}


def test_detector_rejects_a_non_detector_model():
    acc = FakeAccelerator()
    acc.output = {"shape": [1, 10]}
    with pytest.raises(ValueError, match="one YOLO head output"):
        Detector(acc)


@pytest.mark.parametrize("shape_in, shape_out, problem", [
    ([1, 3, 416, 416], [1, 18, 13, 13], None),  # LPYOLO: 3 anchors x (5 + 1 class), stride 32
    ([1, 3, 64, 64], [1, 21, 2, 2], None),  # 2 classes
    ([1, 3, 64, 64], [1, 18, 3, 3], "S dividing 64"),
    ([1, 3, 64, 48], [1, 18, 2, 2], "square RGB input"),
    ([1, 1, 64, 64], [1, 18, 2, 2], "square RGB input"),
    ([1, 3, 64, 64], [1, 15, 2, 2], "15 output channels are not 3 anchors x (5 + classes)"),
    ([1, 3, 64, 64], [1, 20, 2, 2], "20 output channels"),
    ([1, 1, 8, 8], [1, 10], "square RGB input"),  # the digits MLP
])
def test_head_error_names_what_is_not_a_yolo_head(shape_in, shape_out, problem):
    found = head_error(shape_in, shape_out)
    assert found is None if problem is None else problem in found


def test_pipeline_equals_the_sequential_path():
    images = frames(12)
    sequential = [Detector(FakeAccelerator(), conf_threshold=0.3, resize="numpy").detect(im) for im in images]
    assert sum(len(d) for d in sequential) > 0  # the frames do produce boxes
    acc = FakeAccelerator()
    pipe = Pipeline(Detector(acc, conf_threshold=0.3, resize="numpy"))
    piped = list(pipe.run(iter(images)))
    assert piped == sequential  # same boxes, scores and classes, in input order
    assert acc.frames_run == 12
    assert pipe.stats.frames == 12 and pipe.stats.frames_per_second > 0
    assert all(v > 0 for v in pipe.stats.per_frame().values())
    assert "12 frames in" in str(pipe.stats)


def test_pipeline_raises_a_stage_error_in_the_caller_and_stops():
    images = frames(3) + [np.zeros((8, 8, 3))] + frames(3)  # the fourth is not uint8
    pipe = Pipeline(Detector(FakeAccelerator(), resize="numpy"))
    got = []
    with pytest.raises(ValueError, match="images must be uint8 pixels"):
        for found in pipe.run(images):
            got.append(found)
    assert len(got) == 3


def test_pipeline_stops_when_the_caller_stops_early():
    pipe = Pipeline(Detector(FakeAccelerator(), resize="numpy"))
    gen = pipe.run(frames(10))
    next(gen)
    gen.close()  # joins the three threads; would hang if one were left waiting
    assert pipe.stats.frames == 1


def test_letterbox_record_is_frozen():
    box = Letterbox(image_shape=(1, 1), scale_x=1, scale_y=1, left=0, top=0)
    with pytest.raises(Exception):
        box.left = 3


def test_detect_imports_only_what_the_board_has():
    """The module is copied into every deploy folder: at import time it may need the standard library and
    numpy only (OpenCV and Pillow are imported inside the resize, when asked for and present)."""
    import ast
    import sys
    from pathlib import Path

    import hwgen.driver.detect as detect

    tree = ast.parse(Path(detect.__file__).read_text())
    top = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            top.add(node.module.split(".")[0] if node.level == 0 else ".")
    assert top - set(sys.stdlib_module_names) - {"__future__"} == {"numpy"}
