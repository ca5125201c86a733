"""Host driver of an hwgen accelerator: float tensors in, float tensors out (numpy only).

    acc = Accelerator("build/")                  # C simulation of the generated C++
    acc = Accelerator("deploy/", backend="pynq")  # the bitstream on a PYNQ board
    y = acc.execute(x)                            # x as the original model takes it

`execute` does on the host what the original model does around the hardware: pre-process and
quantize the input (the model's float ops before its input quantizer, e.g. a normalization,
then the quantizer: float32, exactly as QONNX), pack it into AXI-stream words, run the
accelerator (DMA or C-sim, same bytes), unpack, and apply the float ops after the last hardware
layer (scales and biases, then e.g. Softmax, ArgMax or TopK). accelerator.json lists these ops
(input `pre_ops` and `quant`, output `ops` and `post_ops`; hwgen/driver/ops.py defines them).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from . import packing
from .ops import apply_ops, quant_int, step_after, step_after_post

METADATA = "accelerator.json"


def find_metadata(path: str | Path) -> Path:
    path = Path(path)
    for candidate in (path / METADATA, path / "deploy" / METADATA, path):
        if candidate.is_file() and candidate.name == METADATA:
            return candidate
    raise FileNotFoundError(
        f"no {METADATA} in {path} or {path / 'deploy'}: not a finished hwgen build "
        "(a build writes it last, after verification passed)"
    )


class Accelerator:
    def __init__(self, path: str | Path, backend: str = "csim", **backend_options):
        self.metadata_path = find_metadata(path)
        self.meta = json.loads(self.metadata_path.read_text())
        self.input, self.output = self.meta["input"], self.meta["output"]
        if backend == "csim":
            from .backends import CSimBackend

            self.backend = CSimBackend(self.metadata_path.parent / self.meta["csim_library"], self.meta)
        elif backend == "pynq":
            from .backends import PynqBackend

            self.backend = PynqBackend(self.metadata_path.parent, self.meta, **backend_options)
        else:
            raise ValueError(f"backend must be 'csim' or 'pynq', not {backend!r}")
        self.last_timings: dict[str, float] = {}

    # -- the stages, usable one by one -------------------------------------------
    def quantize(self, x: np.ndarray) -> np.ndarray:
        """Float input (N, *input shape[1:]) -> integer levels (N, elements), as QONNX computes them:
        the pre-processing ops, then the input quantizer, all in float32."""
        x = np.asarray(x, dtype=np.float32)
        shape = tuple(self.input["shape"][1:])
        if x.shape == tuple(self.input["shape"]) or x.shape[1:] == shape:
            x = x.reshape((-1,) + shape)
        elif x.shape == shape:
            x = x[None]
        else:
            raise ValueError(f"input must have shape (N, {', '.join(map(str, shape))}), not {x.shape}")
        x = apply_ops(x, self.input.get("pre_ops", []), dtype=np.float32)
        levels = quant_int(x, self.input["quant"], dtype=np.float32)
        if self.input.get("layout") == "nhwc":  # (N, C, H, W) -> channels-last stream order
            levels = levels.transpose(0, 2, 3, 1)
        return levels.reshape(len(x), -1).astype(np.int64)

    def pack_input(self, levels: np.ndarray) -> np.ndarray:
        i = self.input
        return packing.pack(levels, i["dtype"], i["per_word"], i["bus"])

    def unpack_output(self, data: np.ndarray) -> np.ndarray:
        o = self.output
        return packing.unpack(data, o["dtype"], o["per_word"], o["bus"], o["elems"])

    def postprocess(self, values: np.ndarray) -> np.ndarray:
        """Output integers -> the original model's output (N, *result shape[1:]): float32, or int64
        indices when the model ends in ArgMax / TopK indices.

        The stream's element-wise `ops` (float64, stream order) give the last hardware layer's
        tensor in ONNX layout; the `post_ops` (float32, as QONNX) compute the model's output from it."""
        y = np.ascontiguousarray(self._model_order(apply_ops(self._channels_last(values), self.output["ops"])), dtype=np.float32)
        return apply_ops(y, self.output.get("post_ops", []), dtype=np.float32)

    def output_step(self) -> np.ndarray:
        """The quantization step of each output element (result shape[1:]): the output quantizer's
        scale, or what one step of the streamed integers (an accumulator LSB; -1 to +1 for a
        bipolar stream) is worth after the float ops (ops.step_after), then carried through the
        post-processing (ops.step_after_post: 1 for indices, a bound after Softmax and the like)."""
        stream = self._channels_last(np.zeros((1, self.output["elems"])))
        spacing = 2 if self.output["dtype"] == "bipolar" else 1
        step = self._model_order(step_after(self.output["ops"], stream.shape, spacing))
        return step_after_post(step, self.output.get("post_ops", []))[0]

    def _channels_last(self, values: np.ndarray) -> np.ndarray:
        """(N, elements) in stream order -> the shape the output ops broadcast over (channels last)."""
        if self.output.get("layout") == "nhwc":  # channels-last stream of a (C, H, W) map
            c, h, w = self.output["shape"][1:]
            return np.asarray(values).reshape(len(values), h, w, c)
        return np.asarray(values)

    def _model_order(self, y: np.ndarray) -> np.ndarray:
        """The inverse of _channels_last, into the model's layout: (N, *output shape[1:])."""
        n, shape = len(y), tuple(self.output["shape"][1:])
        if self.output.get("layout") == "nhwc":
            return np.ascontiguousarray(y.transpose(0, 3, 1, 2))
        if self.output.get("perm") is not None:  # stream element j is ONNX feature perm[j]
            ordered = np.empty_like(y)
            ordered[:, self.output["perm"]] = y
            y = ordered
        return y.reshape((n,) + shape)

    # -- whole path --------------------------------------------------------------
    def execute_integers(self, levels: np.ndarray) -> np.ndarray:
        """Input levels (N, elements) -> output integers (N, elements), through the hardware path."""
        levels = np.asarray(levels, dtype=np.int64).reshape(-1, self.input["elems"])
        data = self.pack_input(levels)
        out = self.backend.run(data, len(levels))
        return self.unpack_output(out)

    def execute(self, x: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        levels = self.quantize(x)
        t1 = time.perf_counter()
        data = self.pack_input(levels)
        t2 = time.perf_counter()
        out = self.backend.run(data, len(levels))
        t3 = time.perf_counter()
        values = self.unpack_output(out)
        t4 = time.perf_counter()
        y = self.postprocess(values)
        t5 = time.perf_counter()
        self.last_timings = {"quantize": t1 - t0, "pack": t2 - t1, "accelerator": t3 - t2, "unpack": t4 - t3, "postprocess": t5 - t4}
        return y

    def classify(self, x: np.ndarray, k: int = 1) -> np.ndarray:
        """Indices of the k largest outputs per frame (N, k), for classifiers that output scores (a model
        ending in ArgMax or TopK indices returns its indices from `execute` already)."""
        y = self.execute(x).reshape(len(np.asarray(x).reshape((-1,) + tuple(self.input["shape"][1:]))), -1)
        return np.argsort(-y, axis=1, kind="stable")[:, :k]

    def throughput_test(self, frames: int = 1000, seed: int = 0) -> dict:
        """Run `frames` random inputs; frames/s of the whole path and seconds per stage."""
        rng = np.random.default_rng(seed)
        lo, hi = packing.value_range(self.input["dtype"])
        levels = rng.integers(lo, hi + 1, size=(frames, self.input["elems"]))
        if self.input["dtype"] == "bipolar":
            levels = np.where(levels > 0, 1, -1)
        scale = np.float32(self.input["quant"]["scale"])
        x = ((levels - self.input["quant"].get("zero_point", 0)) * scale).astype(np.float32)
        x = x.reshape((frames,) + tuple(self.input["shape"][1:]))
        t0 = time.perf_counter()
        self.execute(x)
        total = time.perf_counter() - t0
        return {"frames": frames, "seconds": total, "frames_per_second": frames / total, "stages": dict(self.last_timings)}
