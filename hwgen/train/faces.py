"""Face-detection data: a reader for WIDER FACE, and a synthetic set built from what scikit-image ships.

WIDER FACE (not downloadable here) for users who have it:
    for image, boxes in WiderFace("/data/widerface", "val"): ...
reads `wider_face_split/wider_face_{split}_bbx_gt.txt` and `WIDER_{split}/images/...`. Its format, per image:
    0--Parade/0_Parade_marchingband_1_849.jpg     the image path under WIDER_{split}/images
    1                                             the number of faces (0: one line of zeros follows)
    449 330 122 149 0 0 0 0 0 0                   x y w h blur expression illumination invalid occlusion pose

The synthetic set (scikit-image's `data.lfw_subset()`: 100 face and 100 non-face 25 x 25 crops, and its
sample photographs and textures): each scene is a random crop of a background, with 0-4 faces pasted
at 12-64 px (a rectangle each: the ground truth) and 0-3 non-face crops pasted alike as distractors, so
a grey pasted patch alone does not mean "face". The test split holds out face images, non-face
images and background pictures: none of them appears in training. `lfw_subset` has no identity labels,
so held-out images may still show a person seen in training (LFW repeats some people often).
Scenes are a pure function of (split, seed, index): the same on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hwgen.driver.detect import box_iou, resize_bilinear
from hwgen.errors import HwgenError

# -- WIDER FACE --------------------------------------------------------------------------------
WIDER_ATTRIBUTES = ("blur", "expression", "illumination", "invalid", "occlusion", "pose")


@dataclass(frozen=True)
class WiderEntry:
    path: str  # relative to WIDER_{split}/images
    boxes: np.ndarray  # (K, 4) x1, y1, x2, y2 float64 pixels
    attributes: np.ndarray  # (K, 6) int, columns WIDER_ATTRIBUTES


def read_wider_annotations(path: str | Path) -> list[WiderEntry]:
    """Parse a `wider_face_*_bbx_gt.txt` file; HwgenError naming the line when it is malformed."""
    path = Path(path)
    if not path.is_file():
        raise HwgenError(f"WIDER FACE annotation file not found: {path}",
                         hint="download wider_face_split.zip from the WIDER FACE site and unpack it beside WIDER_train/ and WIDER_val/")
    lines = path.read_text().splitlines()
    entries, i = [], 0

    def fail(what: str):
        raise HwgenError(what, where=f"{path}, line {i + 1}", hint="the file must be WIDER FACE's wider_face_*_bbx_gt.txt, unchanged")

    while i < len(lines):
        name = lines[i].strip()
        if not name:
            i += 1
            continue
        if not name.lower().endswith((".jpg", ".jpeg", ".png")):
            fail(f"expected an image path, found {name!r}")
        i += 1
        if i >= len(lines) or not lines[i].strip().isdigit():
            fail(f"expected the number of faces of {name}, found {lines[i].strip()!r}" if i < len(lines) else f"the file ends after {name}")
        n = int(lines[i])
        i += 1
        rows = []
        for _ in range(max(n, 1)):  # an image without faces still has one line of zeros
            if i >= len(lines):
                fail(f"{name}: {n} faces announced, the file ends after {len(rows)}")
            fields = lines[i].split()
            if len(fields) != 10 or not all(f.lstrip("-").isdigit() for f in fields):
                fail(f"{name}: a face line must be 10 integers (x y w h and 6 attributes), found {lines[i].strip()!r}")
            rows.append([int(f) for f in fields])
            i += 1
        data = np.asarray(rows[:n], dtype=np.int64).reshape(n, 10)
        x, y, w, h = data[:, 0], data[:, 1], data[:, 2], data[:, 3]
        boxes = np.stack([x, y, x + w, y + h], axis=1).astype(np.float64)
        entries.append(WiderEntry(path=name, boxes=boxes, attributes=data[:, 4:]))
    return entries


class WiderFace:
    """WIDER FACE images and their valid faces (the `invalid` flag unset, width and height > 0).

    root holds `wider_face_split/` and `WIDER_train/` / `WIDER_val/` as the archives unpack.
    Iterating yields (image (H, W, 3) uint8 RGB, boxes (K, 4) x1 y1 x2 y2); images are read with
    Pillow or scikit-image, whichever is installed.
    """

    def __init__(self, root: str | Path, split: str = "val", min_size: float = 0):
        if split not in ("train", "val"):
            raise HwgenError(f"split must be 'train' or 'val', not {split!r}")
        self.root = Path(root)
        self.images = self.root / f"WIDER_{split}" / "images"
        self.entries = read_wider_annotations(self.root / "wider_face_split" / f"wider_face_{split}_bbx_gt.txt")
        self.min_size = min_size

    def __len__(self) -> int:
        return len(self.entries)

    def boxes(self, i: int) -> np.ndarray:
        e = self.entries[i]
        w, h = e.boxes[:, 2] - e.boxes[:, 0], e.boxes[:, 3] - e.boxes[:, 1]
        keep = (e.attributes[:, WIDER_ATTRIBUTES.index("invalid")] == 0) & (w > self.min_size) & (h > self.min_size)
        return e.boxes[keep]

    def image(self, i: int) -> np.ndarray:
        path = self.images / self.entries[i].path
        if not path.is_file():
            raise HwgenError(f"image {self.entries[i].path} of the annotations is missing", where=str(self.images),
                             hint="unpack WIDER_train.zip / WIDER_val.zip into the same folder as wider_face_split/")
        return read_image(path)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        return self.image(i), self.boxes(i)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]


def read_image(path: Path) -> np.ndarray:
    try:
        from PIL import Image

        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except ImportError:
        from skimage import io

        from hwgen.driver.detect import as_rgb

        return as_rgb(io.imread(path))


# -- synthetic faces -----------------------------------------------------------------------------
# scikit-image sample pictures without a human face (astronaut and camera have one; the cat is left out too)
TRAIN_BACKGROUNDS = ("brick", "grass", "coffee", "coins", "hubble_deep_field", "moon", "page", "cell", "clock", "logo",
                     "colorwheel", "retina", "microaneurysms", "checkerboard")
TEST_BACKGROUNDS = ("rocket", "stereo_motorcycle", "gravel", "text", "immunohistochemistry")
TEST_FACES = 20  # of the 100 face crops, the last 20 are test-only; likewise the last 20 non-face crops
MIN_FACE, MAX_FACE = 12, 64  # pasted face sides in pixels (at any scene size)
SPLITS = {"train": 0, "test": 1}


@dataclass(frozen=True)
class Scene:
    image: np.ndarray  # (size, size, 3) uint8
    boxes: np.ndarray  # (K, 4) x1, y1, x2, y2 of the pasted faces
    distractors: np.ndarray  # (D, 4) where non-face crops were pasted (not faces)


class SyntheticFaces:
    """Scenes of `size` x `size` pixels for `split` "train" or "test" (see the module docstring)."""

    def __init__(self, split: str = "train", size: int = 128, seed: int = 0):
        if split not in SPLITS:
            raise HwgenError(f"split must be 'train' or 'test', not {split!r}")
        try:
            import skimage.data
        except ImportError:
            raise HwgenError("the synthetic face data set needs scikit-image", hint="pip install 'hwgen[train]'") from None
        self.split, self.size, self.seed = split, size, seed
        crops = (skimage.data.lfw_subset() * 255).round().astype(np.uint8)
        faces, others = crops[:100], crops[100:]
        held = slice(100 - TEST_FACES, 100) if split == "test" else slice(0, 100 - TEST_FACES)
        self.faces, self.others = faces[held], others[held]
        names = TEST_BACKGROUNDS if split == "test" else TRAIN_BACKGROUNDS
        self.backgrounds = [_background(getattr(skimage.data, n)()) for n in names]

    def scene(self, index: int) -> Scene:
        rng = np.random.default_rng([self.seed, SPLITS[self.split], index])
        s = self.size
        bg = self.backgrounds[rng.integers(len(self.backgrounds))]
        side = int(rng.integers(min(bg.shape[:2]) // 3, min(bg.shape[:2]) + 1))
        y, x = rng.integers(0, bg.shape[0] - side + 1), rng.integers(0, bg.shape[1] - side + 1)
        image = resize_bilinear(bg[y : y + side, x : x + side], s, s)
        if rng.random() < 0.3:
            image = np.repeat(image.mean(axis=2, keepdims=True).round().astype(np.uint8), 3, axis=2)
        n_faces = int(rng.choice(5, p=[0.1, 0.35, 0.25, 0.2, 0.1]))
        n_others = int(rng.integers(0, 4))
        placed: list[list[float]] = []
        kinds: list[bool] = []
        for is_face in [True] * n_faces + [False] * n_others:
            box = _free_spot(rng, s, placed)
            if box is None:
                continue
            crops = self.faces if is_face else self.others
            _paste(image, crops[rng.integers(len(crops))], box, rng)
            placed.append(box)
            kinds.append(is_face)
        boxes = np.asarray(placed, dtype=np.float64).reshape(-1, 4)
        kinds = np.asarray(kinds, dtype=bool)
        return Scene(image=image, boxes=boxes[kinds], distractors=boxes[~kinds])

    def batch(self, start: int, count: int) -> tuple[np.ndarray, list[np.ndarray]]:
        """Scenes start .. start + count - 1: images (count, size, size, 3) uint8 and their face boxes."""
        scenes = [self.scene(i) for i in range(start, start + count)]
        return np.stack([sc.image for sc in scenes]), [sc.boxes for sc in scenes]


def _background(image: np.ndarray) -> np.ndarray:
    from hwgen.driver.detect import as_rgb

    if isinstance(image, tuple):  # stereo_motorcycle: (left, right, disparity)
        image = image[0]
    image = np.asarray(image)
    if image.dtype == bool:
        image = image.astype(np.uint8) * 255
    elif image.dtype != np.uint8:
        image = (np.clip(image, 0, 1) * 255).round().astype(np.uint8)
    return as_rgb(image)


def _free_spot(rng: np.random.Generator, size: int, placed: list, tries: int = 20):
    """A square-ish box of side 12..64 (log-uniform) inside the scene, overlapping no placed box."""
    for _ in range(tries):
        side = float(np.exp(rng.uniform(np.log(MIN_FACE), np.log(min(MAX_FACE, size)))))
        w = round(side * rng.uniform(0.9, 1.1))
        h = round(side * rng.uniform(0.9, 1.1))
        if w > size or h > size:
            continue
        x, y = int(rng.integers(0, size - w + 1)), int(rng.integers(0, size - h + 1))
        box = [x, y, x + w, y + h]
        if not placed or box_iou([box], placed).max() == 0:
            return box
    return None


def _paste(image: np.ndarray, crop: np.ndarray, box, rng: np.random.Generator) -> None:
    """A grey crop resized into box, with random flip, contrast and brightness, onto the RGB image."""
    x1, y1, x2, y2 = (int(v) for v in box)
    patch = resize_bilinear(crop[:, :, None], y2 - y1, x2 - x1)[:, :, 0].astype(np.float32)
    if rng.random() < 0.5:
        patch = patch[:, ::-1]
    patch = (patch - patch.mean()) * rng.uniform(0.7, 1.3) + patch.mean() + rng.uniform(-30, 30)
    image[y1:y2, x1:x2] = np.clip(patch, 0, 255).round().astype(np.uint8)[:, :, None]
