"""Object detection around an hwgen accelerator: letterbox, YOLO decode, NMS, a threaded pipeline.

numpy only (it runs on the board's Python); OpenCV or Pillow resize the image when installed.

    det = Detector(Accelerator("deploy/"))           # an LPYOLO-style single-head YOLO model
    found = det.detect(image)                       # (H, W, 3) uint8 RGB, any size
    found.boxes, found.scores, found.classes        # boxes x1, y1, x2, y2 in the image's pixels

    for found in Pipeline(det).run(frames): ...     # frame N+1 pre-processed and N-1 post-processed
                                                    # while the accelerator runs frame N

The model's output is one YOLO head: (3 * (5 + classes), S, S) HardTanh values t in [-1, 1], channel
a * (5 + classes) + k for anchor a and k = x, y, w, h, objectness, class scores (YOLOv5's layout).
The HardTanh replaces YOLOv5's sigmoid s = t / 2 + 0.5, so YOLOv5's decode
    xy = (2 s - 0.5 + grid) * stride,  wh = (2 s)^2 * anchor,  confidence = s
reads xy = (t + 0.5 + grid) * stride, wh = (t + 1)^2 * anchor, objectness = t / 2 + 0.5; a box's score
is objectness times its best class score, as YOLOv5's non_max_suppression computes it (formulas
checked against github.com/sefaburakokcu/quantized-yolov5 `models/yolo.py` and `utils/loss.py` and
the LPYOLO deployment, github.com/sefaburakokcu/finn-quantized-yolo `src/deploy/driver`).
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field

import numpy as np

LPYOLO_ANCHORS = ((10, 14), (23, 27), (37, 58))  # pixels of the model input (quantized-yolov5 yolov1-tiny-quant.yaml)
FILL = 114  # letterbox padding grey (YOLOv5's)


# -- letterbox -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Letterbox:
    """Where an image sits in the model's square input: model = image * scale + offset, per axis."""

    image_shape: tuple[int, int]  # (height, width) of the original image
    scale_x: float
    scale_y: float
    left: int  # padding columns left of the image
    top: int  # padding rows above the image

    def to_image(self, boxes: np.ndarray) -> np.ndarray:
        """x1, y1, x2, y2 boxes in model pixels -> the original image's pixels, clipped to it."""
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        h, w = self.image_shape
        x = np.clip((boxes[:, [0, 2]] - self.left) / self.scale_x, 0, w)
        y = np.clip((boxes[:, [1, 3]] - self.top) / self.scale_y, 0, h)
        return np.stack([x[:, 0], y[:, 0], x[:, 1], y[:, 1]], axis=1)

    def to_model(self, boxes: np.ndarray) -> np.ndarray:
        """Image-pixel boxes -> model-input pixels (the inverse of to_image inside the image)."""
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        return boxes * [self.scale_x, self.scale_y, self.scale_x, self.scale_y] + [self.left, self.top, self.left, self.top]


def as_rgb(image: np.ndarray) -> np.ndarray:
    """(H, W), (H, W, 1), (H, W, 3) or (H, W, 4) uint8 -> (H, W, 3) uint8 (grey replicated, alpha dropped)."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"images must be uint8 pixels, not {image.dtype} (convert floats with (x * 255).round().astype(np.uint8))")
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4) or 0 in image.shape[:2]:
        raise ValueError(f"an image must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) pixels, not {image.shape}")
    if image.shape[2] == 1:
        return np.repeat(image, 3, axis=2)
    return image[:, :, :3]


def resize_bilinear(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of (H, W, C) uint8 with pixel centres aligned (OpenCV's INTER_LINEAR convention)."""
    h, w = image.shape[:2]

    def taps(n_in: int, n_out: int):
        src = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0, n_in - 1)
        lo = np.floor(src).astype(np.intp)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, (src - lo)

    y0, y1, fy = taps(h, height)
    x0, x1, fx = taps(w, width)
    img = image.astype(np.float32)
    top = img[y0] * (1 - fy)[:, None, None] + img[y1] * fy[:, None, None]
    out = top[:, x0] * (1 - fx)[None, :, None] + top[:, x1] * fx[None, :, None]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _resize(image: np.ndarray, height: int, width: int, method: str) -> np.ndarray:
    if method == "auto":
        for candidate in ("opencv", "pillow"):
            try:
                return _resize(image, height, width, candidate)
            except ImportError:
                pass
        method = "numpy"
    if method == "opencv":
        import cv2

        return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
    if method == "pillow":
        from PIL import Image

        return np.asarray(Image.fromarray(image).resize((width, height), Image.BILINEAR))
    if method == "numpy":
        return resize_bilinear(image, height, width)
    raise ValueError(f"resize must be 'auto', 'opencv', 'pillow' or 'numpy', not {method!r}")


def letterbox(image: np.ndarray, size: int, fill: int = FILL, resize: str = "auto") -> tuple[np.ndarray, Letterbox]:
    """Scale `image` to fit a size x size square keeping its aspect ratio, centred on `fill` grey.

    resize: "auto" (OpenCV, else Pillow, else numpy), or one of them by name; they round differently,
    so a pipeline should use one throughout.
    """
    image = as_rgb(image)
    h, w = image.shape[:2]
    r = min(size / h, size / w)
    new_w, new_h = max(1, min(size, round(w * r))), max(1, min(size, round(h * r)))
    left, top = (size - new_w) // 2, (size - new_h) // 2
    canvas = np.full((size, size, 3), fill, dtype=np.uint8)
    canvas[top : top + new_h, left : left + new_w] = image if (new_h, new_w) == (h, w) else _resize(image, new_h, new_w, resize)
    return canvas, Letterbox(image_shape=(h, w), scale_x=new_w / w, scale_y=new_h / h, left=left, top=top)


# -- decode and NMS ------------------------------------------------------------------------
@dataclass
class Detections:
    boxes: np.ndarray  # (K, 4) x1, y1, x2, y2 float64
    scores: np.ndarray  # (K,)
    classes: np.ndarray  # (K,) int64

    def __len__(self) -> int:
        return len(self.scores)

    def __eq__(self, other) -> bool:
        return (isinstance(other, Detections) and np.array_equal(self.boxes, other.boxes)
                and np.array_equal(self.scores, other.scores) and np.array_equal(self.classes, other.classes))


def decode(t: np.ndarray, anchors=LPYOLO_ANCHORS, stride: float = 32) -> Detections:
    """Every cell and anchor of one frame's head output t (A * (5 + classes), S_y, S_x) as a box in
    model-input pixels, scored objectness x best class score (see the module docstring)."""
    t = np.asarray(t, dtype=np.float64)
    anchors = np.asarray(anchors, dtype=np.float64).reshape(-1, 2)
    a = len(anchors)
    if t.ndim != 3 or t.shape[0] % a or t.shape[0] // a < 6:
        raise ValueError(f"a YOLO head output must be ({a} * (5 + classes), S, S) values, not {t.shape}")
    per = t.shape[0] // a
    sy, sx = t.shape[1:]
    t = t.reshape(a, per, sy, sx).transpose(0, 2, 3, 1)  # (anchor, y, x, k)
    gy, gx = np.meshgrid(np.arange(sy), np.arange(sx), indexing="ij")
    cx = (t[..., 0] + 0.5 + gx) * stride
    cy = (t[..., 1] + 0.5 + gy) * stride
    bw = (t[..., 2] + 1) ** 2 * anchors[:, 0, None, None]
    bh = (t[..., 3] + 1) ** 2 * anchors[:, 1, None, None]
    s = t[..., 4:] / 2 + 0.5  # objectness, class scores
    best = s[..., 1:].argmax(-1)
    score = s[..., 0] * np.take_along_axis(s[..., 1:], best[..., None], -1)[..., 0]
    boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=-1)
    return Detections(boxes=boxes.reshape(-1, 4), scores=score.reshape(-1), classes=best.reshape(-1).astype(np.int64))


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box of a (N, 4) with every box of b (M, 4), x1 y1 x2 y2."""
    a, b = np.asarray(a, dtype=np.float64).reshape(-1, 4), np.asarray(b, dtype=np.float64).reshape(-1, 4)
    iw = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = iw * ih
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.45, classes: np.ndarray | None = None) -> np.ndarray:
    """Greedy non-maximum suppression: indices of the kept boxes, best score first. A box is dropped
    when it overlaps a better-scored kept box of the same class by IoU > iou_threshold."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores), kind="stable")
    classes = np.zeros(len(boxes), np.int64) if classes is None else np.asarray(classes)
    keep = []
    while len(order):
        i, rest = order[0], order[1:]
        keep.append(i)
        overlap = box_iou(boxes[i], boxes[rest])[0]
        order = rest[(overlap <= iou_threshold) | (classes[rest] != classes[i])]
    return np.asarray(keep, dtype=np.int64)


def select(found: Detections, conf_threshold: float = 0.25, iou_threshold: float = 0.45, max_detections: int = 300) -> Detections:
    """The boxes scoring above conf_threshold, after NMS, best first."""
    keep = found.scores > conf_threshold
    boxes, scores, classes = found.boxes[keep], found.scores[keep], found.classes[keep]
    kept = nms(boxes, scores, iou_threshold, classes)[:max_detections]
    return Detections(boxes=boxes[kept], scores=scores[kept], classes=classes[kept])


# -- the detector --------------------------------------------------------------------------
def head_error(shape_in, shape_out, anchors: int = len(LPYOLO_ANCHORS)) -> str | None:
    """Why a model with these input and output shapes is not a single-head YOLO detector (None if it is):
    a square RGB input (1, 3, R, R) and one output (1, anchors * (5 + classes), S, S), S dividing R."""
    shape_in, shape_out = list(shape_in), list(shape_out)
    if len(shape_in) != 4 or shape_in[1] != 3 or shape_in[2] != shape_in[3]:
        return f"a detector needs a square RGB input (1, 3, R, R), this accelerator takes {shape_in}"
    if len(shape_out) != 4 or shape_out[2] != shape_out[3] or shape_in[2] % shape_out[2]:
        return f"a detector needs one YOLO head output (1, C, S, S) with S dividing {shape_in[2]}, not {shape_out}"
    if shape_out[1] % anchors or shape_out[1] // anchors < 6:
        return f"{shape_out[1]} output channels are not {anchors} anchors x (5 + classes)"
    return None


class Detector:
    """An accelerator (hwgen.driver.Accelerator, C-sim or PYNQ) plus the host's detection work.

    The three stages, usable one by one (Pipeline overlaps them):
      preprocess(image) -> (packed input words, Letterbox)     letterbox + quantize + pack
      infer(packed) -> packed output words                      the accelerator
      postprocess(packed output, Letterbox) -> Detections       unpack + float ops + decode + NMS
    A model whose input is uint8 pixels (accelerator.json "pixels_are_levels") streams the
    letterboxed frame as it is; otherwise the frame is read as pixel / 255 and quantized.
    """

    def __init__(self, accelerator, anchors=LPYOLO_ANCHORS, conf_threshold: float = 0.25, iou_threshold: float = 0.45,
                 resize: str = "auto", max_detections: int = 300):
        self.acc = accelerator
        shape_in, shape_out = accelerator.input["shape"], accelerator.output["shape"]
        self.anchors = np.asarray(anchors, dtype=np.float64).reshape(-1, 2)
        problem = head_error(shape_in, shape_out, len(self.anchors))
        if problem:
            raise ValueError(problem)
        self.size = int(shape_in[2])
        self.stride = self.size // int(shape_out[2])
        self.num_classes = shape_out[1] // len(self.anchors) - 5
        self.conf_threshold, self.iou_threshold, self.max_detections = conf_threshold, iou_threshold, max_detections
        self.resize = resize
        self.pixels_are_levels = bool(accelerator.input.get("pixels_are_levels")) and accelerator.input.get("layout") == "nhwc"
        self.last_timings: dict[str, float] = {}

    def preprocess(self, image: np.ndarray) -> tuple[np.ndarray, Letterbox]:
        canvas, box = letterbox(image, self.size, resize=self.resize)
        if self.pixels_are_levels:  # (H, W, C) uint8 is the stream order of an nhwc input
            levels = canvas.reshape(1, -1)
        else:
            levels = self.acc.quantize(canvas.transpose(2, 0, 1)[None].astype(np.float32) / np.float32(255))
        return self.acc.pack_input(levels), box

    def infer(self, packed: np.ndarray) -> np.ndarray:
        return self.acc.backend.run(packed, len(packed))

    def raw_output(self, packed_output: np.ndarray) -> np.ndarray:
        """Packed output words -> the model's float output (N, C, S, S)."""
        return self.acc.postprocess(self.acc.unpack_output(packed_output))

    def postprocess(self, packed_output: np.ndarray, box: Letterbox) -> Detections:
        t = self.raw_output(packed_output)[0]
        found = select(decode(t, self.anchors, self.stride), self.conf_threshold, self.iou_threshold, self.max_detections)
        return Detections(boxes=box.to_image(found.boxes), scores=found.scores, classes=found.classes)

    def detect(self, image: np.ndarray) -> Detections:
        """One image through the three stages in turn; seconds per stage in `last_timings`."""
        t0 = time.perf_counter()
        packed, box = self.preprocess(image)
        t1 = time.perf_counter()
        out = self.infer(packed)
        t2 = time.perf_counter()
        found = self.postprocess(out, box)
        t3 = time.perf_counter()
        self.last_timings = {"preprocess": t1 - t0, "accelerator": t2 - t1, "postprocess": t3 - t2}
        return found


# -- the pipeline --------------------------------------------------------------------------
@dataclass
class PipelineStats:
    frames: int = 0
    seconds: float = 0.0  # wall time from the first frame taken to the last result given
    stage_seconds: dict = field(default_factory=lambda: {"preprocess": 0.0, "accelerator": 0.0, "postprocess": 0.0})

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def per_frame(self) -> dict:
        """Mean seconds per frame of each stage (each runs on its own thread)."""
        return {k: v / self.frames if self.frames else 0.0 for k, v in self.stage_seconds.items()}

    def __str__(self) -> str:
        stages = ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in self.per_frame().items())
        return f"{self.frames} frames in {self.seconds:.2f} s: {self.frames_per_second:.1f} frames/s end to end ({stages} per frame)"


_DONE = object()


class Pipeline:
    """Three threads joined by one-slot queues: while the accelerator runs frame N, frame N+1 is
    pre-processed and frame N-1 post-processed. Results come in input order; `stats` has the time
    each stage spent per frame and the end-to-end frames/s of the last run.

    numpy's array work and the C-sim's ctypes call release Python's lock, so the stages overlap
    where the host has cores for them (the PYNQ-Z2's ARM has two); the PYNQ backend's DMA wait
    polls in Python, yielding the lock on every poll.
    """

    def __init__(self, detector: Detector, depth: int = 1):
        self.detector = detector
        self.depth = depth
        self.stats = PipelineStats()

    def run(self, images):
        """Yield the Detections of each image of the iterable `images`, in order. An exception in a
        stage stops the pipeline and is raised here."""
        det = self.detector
        stop = threading.Event()
        to_acc, to_post, results = (queue.Queue(maxsize=self.depth) for _ in range(3))
        self.stats = stats = PipelineStats()
        lock = threading.Lock()

        def put(q, item) -> bool:
            while not stop.is_set():
                try:
                    q.put(item, timeout=0.05)
                    return True
                except queue.Full:
                    pass
            return False

        def drain(q):
            while not stop.is_set():
                try:
                    item = q.get(timeout=0.05)
                except queue.Empty:
                    continue
                if item is _DONE or isinstance(item, BaseException):
                    raise _Upstream(item)
                yield item

        def worker(name: str, items, fn, sink):
            def work():
                try:
                    for item in items():
                        t0 = time.perf_counter()
                        out = fn(item)
                        with lock:
                            stats.stage_seconds[name] += time.perf_counter() - t0
                        if not put(sink, out):
                            return
                    put(sink, _DONE)
                except _Upstream as up:  # the end, or an error, from the stage before
                    put(sink, up.item)
                except BaseException as exc:  # handed on to the caller
                    put(sink, exc)
            return threading.Thread(target=work, daemon=True)

        threads = [worker("preprocess", lambda: iter(images), det.preprocess, to_acc),
                   worker("accelerator", lambda: drain(to_acc), lambda item: (det.infer(item[0]), item[1]), to_post),
                   worker("postprocess", lambda: drain(to_post), lambda item: det.postprocess(*item), results)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        try:
            for found in drain(results):
                stats.frames += 1
                stats.seconds = time.perf_counter() - t0
                yield found
        except _Upstream as up:
            if up.item is not _DONE:
                raise up.item
        finally:
            stop.set()
            for t in threads:
                t.join()


class _Upstream(Exception):
    """Carries the end marker or an exception from one stage's queue to the next stage."""

    def __init__(self, item):
        super().__init__()
        self.item = item
