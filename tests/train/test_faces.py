"""Face data (hwgen.train.faces): the WIDER FACE reader on a file written here in its exact format, and
the synthetic scenes (faces really where the boxes say, held-out images and backgrounds, determinism)."""

from __future__ import annotations

import numpy as np
import pytest

from hwgen.errors import HwgenError
from hwgen.train.faces import (
    MAX_FACE,
    MIN_FACE,
    TEST_BACKGROUNDS,
    TRAIN_BACKGROUNDS,
    SyntheticFaces,
    WiderFace,
    read_wider_annotations,
)

pytest.importorskip("skimage")

# three images as WIDER FACE's wider_face_val_bbx_gt.txt lists them: 2 faces (the second flagged
# invalid), no face (a line of zeros follows the 0), 1 face
ANNOTATIONS = """\
0--Parade/0_Parade_marchingband_1_465.jpg
2
345 211 4 4 2 0 0 0 0 1
331 126 3 3 0 0 0 1 0 0
0--Parade/0_Parade_Parade_0_194.jpg
0
0 0 0 0 0 0 0 0 0 0
1--Handshaking/1_Handshaking_Handshaking_1_94.jpg
1
10 20 30 40 1 1 0 0 2 0
"""


def test_wider_annotations_parse(tmp_path):
    path = tmp_path / "wider_face_val_bbx_gt.txt"
    path.write_text(ANNOTATIONS)
    entries = read_wider_annotations(path)
    assert [e.path for e in entries] == ["0--Parade/0_Parade_marchingband_1_465.jpg", "0--Parade/0_Parade_Parade_0_194.jpg",
                                         "1--Handshaking/1_Handshaking_Handshaking_1_94.jpg"]
    np.testing.assert_array_equal(entries[0].boxes, [[345, 211, 349, 215], [331, 126, 334, 129]])  # x y w h -> x1 y1 x2 y2
    np.testing.assert_array_equal(entries[0].attributes, [[2, 0, 0, 0, 0, 1], [0, 0, 0, 1, 0, 0]])
    assert entries[1].boxes.shape == (0, 4)
    np.testing.assert_array_equal(entries[2].boxes, [[10, 20, 40, 60]])


def test_wider_dataset_reads_images_and_drops_invalid_faces(tmp_path):
    from PIL import Image

    split = tmp_path / "wider_face_split"
    split.mkdir()
    (split / "wider_face_val_bbx_gt.txt").write_text(ANNOTATIONS)
    for i, (name, size) in enumerate([("0--Parade/0_Parade_marchingband_1_465.jpg", (400, 300)),
                                      ("0--Parade/0_Parade_Parade_0_194.jpg", (64, 48)),
                                      ("1--Handshaking/1_Handshaking_Handshaking_1_94.jpg", (80, 90))]):
        path = tmp_path / "WIDER_val" / "images" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", size, (i * 40, 10, 20)).save(path)
    data = WiderFace(tmp_path, "val")
    assert len(data) == 3
    items = list(data)
    assert items[0][0].shape == (300, 400, 3) and items[0][0].dtype == np.uint8
    np.testing.assert_array_equal(items[0][1], [[345, 211, 349, 215]])  # the invalid one is gone
    assert items[1][1].shape == (0, 4)
    assert items[2][0].shape == (90, 80, 3)
    assert len(WiderFace(tmp_path, "val", min_size=5)[0][1]) == 0  # 4-pixel faces below min_size


@pytest.mark.parametrize("text, message", [
    ("0--Parade/a.jpg\n2\n1 2 3 4 0 0 0 0 0 0\n", r"line 4: 0--Parade/a.jpg: 2 faces announced, the file ends after 1"),
    ("0--Parade/a.jpg\ntwo\n", r"line 2: expected the number of faces of 0--Parade/a.jpg, found 'two'"),
    ("0--Parade/a.jpg\n1\n1 2 3 4 0 0\n", r"line 3: 0--Parade/a.jpg: a face line must be 10 integers"),
    ("1 2 3 4 0 0 0 0 0 0\n", r"line 1: expected an image path, found '1 2 3 4 0 0 0 0 0 0'"),
])
def test_wider_annotations_errors_name_the_line(tmp_path, text, message):
    path = tmp_path / "gt.txt"
    path.write_text(text)
    with pytest.raises(HwgenError, match=message):
        read_wider_annotations(path)


def test_wider_missing_files(tmp_path):
    with pytest.raises(HwgenError, match="WIDER FACE annotation file not found"):
        WiderFace(tmp_path, "train")
    with pytest.raises(HwgenError, match="split must be 'train' or 'val', not 'test'"):
        WiderFace(tmp_path, "test")


@pytest.fixture(scope="module")
def train_set():
    return SyntheticFaces("train", 128, seed=0)


@pytest.fixture(scope="module")
def test_set():
    return SyntheticFaces("test", 128, seed=0)


def test_scenes_are_deterministic_and_in_range(train_set):
    a, b = train_set.scene(7), SyntheticFaces("train", 128, seed=0).scene(7)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.boxes, b.boxes)
    assert not np.array_equal(train_set.scene(8).image, a.image)
    counts = []
    for i in range(60):
        sc = train_set.scene(i)
        assert sc.image.shape == (128, 128, 3) and sc.image.dtype == np.uint8
        every = np.concatenate([sc.boxes, sc.distractors])
        assert np.all(every >= 0) and np.all(every <= 128)
        sides = np.concatenate([every[:, 2] - every[:, 0], every[:, 3] - every[:, 1]])
        assert np.all(sides >= round(MIN_FACE * 0.9)) and np.all(sides <= round(MAX_FACE * 1.1))
        for j in range(len(every)):  # nothing pasted over anything else
            for k in range(j):
                x1, y1 = np.maximum(every[j, :2], every[k, :2])
                x2, y2 = np.minimum(every[j, 2:], every[k, 2:])
                assert x2 <= x1 or y2 <= y1
        counts.append(len(sc.boxes))
    assert 0 in counts and max(counts) >= 3 and sum(counts) > 60  # scenes without faces, and crowded ones


def _best_correlation(patch: np.ndarray, crops: np.ndarray) -> float:
    from hwgen.driver.detect import resize_bilinear

    h, w = patch.shape
    best = -1.0
    for crop in crops:
        ref = resize_bilinear(crop[:, :, None], h, w)[:, :, 0].astype(np.float64)
        for r in (ref, ref[:, ::-1]):
            best = max(best, float(np.corrcoef(patch.ravel(), r.ravel())[0, 1]))
    return best


def test_boxes_hold_the_split_faces(train_set, test_set):
    """Each ground-truth box holds one of its split's face crops (resized, maybe flipped, contrast and
    brightness changed: correlation near 1), and no crop of the other split."""
    for data, other in ((train_set, test_set), (test_set, train_set)):
        checked = 0
        for i in range(6):
            sc = data.scene(i)
            for x1, y1, x2, y2 in sc.boxes.astype(int):
                patch = sc.image[y1:y2, x1:x2, 0].astype(np.float64)
                if patch.std() < 5:  # clipped flat by brightness: nothing to compare
                    continue
                assert np.all(sc.image[y1:y2, x1:x2, 0] == sc.image[y1:y2, x1:x2, 2])  # grey
                assert _best_correlation(patch, data.faces) > 0.97
                assert _best_correlation(patch, other.faces) < 0.97
                checked += 1
        assert checked >= 5


def test_test_split_holds_out_images_and_backgrounds(train_set, test_set):
    assert len(train_set.faces) == 80 and len(test_set.faces) == 20
    assert not set(TRAIN_BACKGROUNDS) & set(TEST_BACKGROUNDS)
    train_bytes = {f.tobytes() for f in train_set.faces} | {f.tobytes() for f in train_set.others}
    assert not any(f.tobytes() in train_bytes for f in test_set.faces) and not any(f.tobytes() in train_bytes for f in test_set.others)
    assert "astronaut" not in TRAIN_BACKGROUNDS + TEST_BACKGROUNDS and "camera" not in TRAIN_BACKGROUNDS + TEST_BACKGROUNDS
    images, boxes = test_set.batch(5, 3)
    assert images.shape == (3, 128, 128, 3) and len(boxes) == 3
    np.testing.assert_array_equal(boxes[1], test_set.scene(6).boxes)
