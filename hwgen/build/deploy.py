"""The deploy folder: what goes to the board (the driver package, accelerator.json, notebooks, reference
inputs and outputs), and accelerator.json itself, the driver's description of a finished build."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from hwgen.build.record import Build, write_json
from hwgen.driver.accelerator import METADATA  # the driver's sign of a finished build
from hwgen.driver.detect import head_error
from hwgen.driver.ops import quant_int
from hwgen.driver.schema import InputPort, InputQuantizer, Metadata, OutputPort
from hwgen.resources import default_model, face_scenes, notebooks
from hwgen.synth.scripts import DMA_INSTANCE, IP_INSTANCE
from hwgen.version import __version__

FRAMES_REGISTER = 0x10  # the s_axilite offset of the top function's `frames` argument (after Vitis HLS's control registers)
DRIVER = Path(__file__).resolve().parent.parent / "driver"  # copied as deploy/hwgen_driver: numpy only


def is_default_model(path: Path) -> bool:
    return Path(path).resolve() == default_model().resolve()


def write_deploy(b: Build) -> None:
    """deploy/: driver package, metadata, notebooks, reference inputs/outputs: copy it to the board. The digits
    notebook and its test set come with the bundled model, the face-detection notebook and its sample scenes
    with any model shaped like a single-head YOLO detector (hwgen.driver.detect.head_error)."""
    deploy = b.accelerator_dir
    driver = deploy / "hwgen_driver"
    if driver.exists():
        shutil.rmtree(driver)
    driver.mkdir(parents=True)
    for f in sorted(DRIVER.glob("*.py")):
        shutil.copyfile(f, driver / f.name)
    np.savez(deploy / "reference_io.npz", **b.reference_io)
    shutil.copyfile(notebooks() / "check_accelerator.ipynb", deploy / "check_accelerator.ipynb")
    if is_default_model(b.config.model):
        shutil.copyfile(notebooks() / "digits_classification.ipynb", deploy / "digits_classification.ipynb")
        shutil.copyfile(default_model().parent / "test_set.npz", deploy / "test_set.npz")
    if head_error(b.graph.input.shape, b.graph.output.shape) is None:  # a single-head YOLO detector (LPYOLO's shape)
        shutil.copyfile(notebooks() / "face_detection.ipynb", deploy / "face_detection.ipynb")
        shutil.copyfile(face_scenes(), deploy / "face_scenes.npz")
    write_metadata(b, deploy / METADATA)


def write_metadata(b: Build, path: Path) -> None:
    """What the driver needs (deploy/accelerator.json; csim/ has one too, for verification before deploy/
    exists): ports, host pre/post-processing, files. Its keys are hwgen.driver.schema's."""
    g, d = b.graph, b.design
    rel = Path("..") / "csim" / "libhwgen_csim.so" if path.parent.name == "deploy" else Path("libhwgen_csim.so")
    meta = Metadata(
        hwgen_version=__version__,
        layouts="input 'nhwc': the (N, C, H, W) input streams channels-last, 'flat': in C order; output "
                "'nhwc': the stream is the (C, H, W) output channels-last, 'flat' with perm: stream element j "
                "is output feature perm[j]",
        host_ops="input 'pre_ops' (the model's float ops before its input quantizer), then 'quant', run on "
                 "the host in float32 on the (N, ...) input in ONNX layout; output 'ops' (element-wise, float64, stream "
                 "order) give the last hardware layer's tensor of 'shape', then 'post_ops' (float32, ONNX layout: "
                 "Softmax, ArgMax, TopK, ...) the model's output of 'result_shape'; hwgen_driver/ops.py defines them",
        model=b.model_name,
        board=b.board.name,
        input=InputPort(shape=list(g.input.shape), pre_ops=list(g.input.pre_ops), quant=g.input.quant, dtype=str(g.input.dtype),
                        elems=g.input.elems, per_word=d.input.per_word, bus=d.input.bus, words=d.input.words,
                        layout=g.input.layout,
                        levels="Accelerator.execute_integers takes the input quantizer's integer levels in stream order: "
                               "for layout 'nhwc' an (N, H, W, C) integer array (an image batch as cameras give it) "
                               "reshaped to (N, -1); for 'flat' the quantizer's input (after pre_ops) flattened in C order",
                        pixels_are_levels=pixels_are_levels(g.input.quant)
                        and all(op["op"] == "reshape" for op in g.input.pre_ops)),  # values unchanged
        output=OutputPort(shape=list(g.output.shape), dtype=str(g.output.dtype), elems=g.output.elems, ops=list(g.output.ops),
                          post_ops=list(g.output.post_ops), result_shape=list(g.output.result_shape or g.output.shape),
                          layout=g.output.layout, perm=None if g.output.perm is None else list(g.output.perm),
                          per_word=d.output.per_word, bus=d.output.bus, words=d.output.words),
        csim_library=str(rel),
        bitstream="hwgen.bit" if b.synthesis.get("ran") else None,
        ip=IP_INSTANCE,
        dma=DMA_INSTANCE,
        frames_register=FRAMES_REGISTER,
        transfers="one run = the frame count written to frames_register, ap_start, one AXI DMA transfer of frames x "
                  "input words x bus/8 bytes in (MM2S) and one of frames x output words x bus/8 bytes out (S2MM); "
                  "TLAST is on the run's last output word only, where the DMA ends the receive",
        estimated_fps=None if b.estimates is None else b.estimates.fps,
        folding={l.name: {"PE": l.pe, **({"SIMD": l.simd} if hasattr(l, "simd") else {})} for l in g.foldable},
    )
    write_json(path, meta)


def pixels_are_levels(q: InputQuantizer) -> bool:
    """An unsigned 8-bit input quantizer of scale 1/255, zero point 0: raw uint8 pixels are its levels
    (x = pixel / 255 quantizes back to the pixel), so a camera frame can be streamed as it is. Likewise
    an input without quantizer annotated UINT8: its values are the pixels."""
    if q.get("op") == "integer":
        return (q["min"], q["max"], q["bipolar"]) == (0, 255, False)
    if q.get("op") != "quant" or q.get("signed") or q.get("bits") != 8 or q.get("zero_point", 0) != 0:
        return False
    pixels = np.arange(256, dtype=np.float32)
    return bool(np.array_equal(quant_int(pixels / np.float32(255), q, np.float32), pixels))
