"""Backends move packed frames through the accelerator: `run(bytes (N, in bytes), N) -> bytes (N, out bytes)`."""

from __future__ import annotations

import ctypes
import hashlib
import os
import tempfile
import time
from pathlib import Path

import numpy as np

CSIM_ERRORS = {
    1: "the accelerator left input words unread",
    2: "the accelerator produced fewer output words than expected",
    3: "TLAST was not on the run's last output word alone (the DMA's receive would end at the first TLAST)",
    4: "the accelerator produced more output words than expected",
    5: "an accumulator exceeded its declared type in layer {layer} (the synthesized hardware would wrap around)",
}


def _private_copy(library: Path) -> Path:
    """A content-named copy to dlopen: the loader caches libraries by path, so a rebuilt library at
    the same path would silently return the old one (or crash when overwritten while mapped)."""
    data = library.read_bytes()
    target = Path(tempfile.gettempdir()) / f"hwgen-csim-{os.getuid()}" / f"{hashlib.sha256(data).hexdigest()[:20]}.so"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
    return target


class CSimBackend:
    """The C simulation of the generated C++ (a g++-built shared library), fed the DMA's bytes."""

    def __init__(self, library: Path, meta: dict):
        if not Path(library).is_file():
            raise FileNotFoundError(f"C-sim library {library} not found: run the build's csim step (python -m hwgen build ...)")
        self.lib = ctypes.CDLL(str(_private_copy(Path(library))))
        self.lib.hwgen_run.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint]
        self.lib.hwgen_run.restype = ctypes.c_int
        self.lib.hwgen_stream.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_ulonglong]
        self.lib.hwgen_stream.restype = ctypes.c_longlong
        self.lib.hwgen_iterations.argtypes = [ctypes.c_char_p]
        self.lib.hwgen_iterations.restype = ctypes.c_ulonglong
        self.lib.hwgen_overflow_layer.restype = ctypes.c_char_p
        self.lib.hwgen_trace_enable.argtypes = [ctypes.c_int]
        self.lib.hwgen_trace_words.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p]
        self.lib.hwgen_trace_words.restype = ctypes.c_longlong
        for name in ("hwgen_in_bus", "hwgen_in_words", "hwgen_out_bus", "hwgen_out_words"):
            getattr(self.lib, name).restype = ctypes.c_uint
        i, o = meta["input"], meta["output"]
        found = (self.lib.hwgen_in_bus(), self.lib.hwgen_in_words(), self.lib.hwgen_out_bus(), self.lib.hwgen_out_words())
        expected = (i["bus"], i["words"], o["bus"], o["words"])
        if found != expected:
            raise RuntimeError(f"C-sim library {library} has ports (in bus, in words, out bus, out words) {found}, the metadata says {expected}: rebuild")
        self.in_bytes = i["words"] * i["bus"] // 8
        self.out_bytes = o["words"] * o["bus"] // 8
        self.out_word_bytes = o["bus"] // 8

    def _input(self, data: np.ndarray, frames: int) -> np.ndarray:
        data = np.ascontiguousarray(data, dtype=np.uint8)
        if data.shape != (frames, self.in_bytes):
            raise ValueError(f"input buffer must be ({frames}, {self.in_bytes}) bytes, not {data.shape}")
        return data

    def _failed(self, code: int) -> RuntimeError:
        layer = self.lib.hwgen_overflow_layer().decode()
        return RuntimeError(f"C simulation failed: {CSIM_ERRORS.get(code, f'error code {code}').format(layer=layer)}")

    def run(self, data: np.ndarray, frames: int) -> np.ndarray:
        """One run of `frames` frames, checked: every output word there, TLAST on the last alone."""
        data = self._input(data, frames)
        out = np.zeros((frames, self.out_bytes), dtype=np.uint8)
        code = self.lib.hwgen_run(data.ctypes.data, out.ctypes.data, frames)
        if code:
            raise self._failed(code)
        return out

    def stream(self, data: np.ndarray, frames: int) -> tuple[np.ndarray, np.ndarray]:
        """One run as the accelerator's AXI output carries it, unchecked (for a model of the DMA):
        every output word it wrote, (words, bus/8) bytes, and each word's TLAST bit (bool)."""
        data = self._input(data, frames)
        capacity = frames * self.out_bytes // self.out_word_bytes + 1  # room to see one word too many
        words = np.zeros((capacity, self.out_word_bytes), dtype=np.uint8)
        last = np.zeros(capacity, dtype=np.uint8)
        written = self.lib.hwgen_stream(data.ctypes.data, frames, words.ctypes.data, last.ctypes.data, capacity)
        if written < 0:
            raise self._failed(-written)
        n = min(written, capacity)
        return words[:n], last[:n].astype(bool)

    def iterations(self, layer: str) -> int:
        """Loop iterations the layer's kernel ran since the library was loaded (C-sim counters)."""
        return int(self.lib.hwgen_iterations(layer.encode()))

    def reset_iterations(self) -> None:
        """Counters and traces back to zero."""
        self.lib.hwgen_reset_iterations()

    def trace(self, on: bool = True) -> None:
        """Record, from now on, the loop iteration of every stream word each kernel reads and writes."""
        self.lib.hwgen_trace_enable(1 if on else 0)

    def traced(self, layer: str) -> tuple[np.ndarray, np.ndarray]:
        """The iterations (counted as `iterations`) at which the layer's loop read and wrote a word, while tracing."""
        words = []
        for write in (0, 1):
            n = self.lib.hwgen_trace_words(layer.encode(), write, None)
            if n < 0:
                raise RuntimeError(f"layer {layer} ran the C-sim fast path, which has no loop to trace: "
                                   f"compile the library with exact=True (-DHWGEN_CSIM_EXACT)")
            out = np.zeros(n, dtype=np.uint64)
            self.lib.hwgen_trace_words(layer.encode(), write, out.ctypes.data)
            words.append(out.astype(np.int64))
        return words[0], words[1]


class PynqBackend:
    """The bitstream on a PYNQ board: AXI DMA in and out, frame count in the IP's control registers.

    A transfer that does not finish within `timeout_s` seconds plus ten times the frames' time at the
    build's estimated rate raises TimeoutError (PYNQ's own wait() spins for ever)."""

    def __init__(self, folder: Path, meta: dict, bitfile: str | None = None, timeout_s: float = 10.0):
        bit = Path(folder) / (bitfile or meta.get("bitstream") or "")
        if not meta.get("bitstream") and bitfile is None:
            raise FileNotFoundError(
                "this build has no bitstream (Vitis HLS / Vivado did not run): use backend='csim', "
                "or finish the build on a machine with the Xilinx tools"
            )
        if not bit.is_file() or not bit.with_suffix(".hwh").is_file():
            raise FileNotFoundError(f"{bit} and {bit.with_suffix('.hwh')} must both exist (PYNQ's Overlay needs the .hwh beside the .bit)")
        import pynq  # on the board only

        self._pynq = pynq
        self.overlay = pynq.Overlay(str(bit))
        self.dma = getattr(self.overlay, meta.get("dma", "axi_dma_0"))
        self.ip = getattr(self.overlay, meta.get("ip", "hwgen_top_0"))
        i, o = meta["input"], meta["output"]
        self.in_bytes = i["words"] * i["bus"] // 8
        self.out_bytes = o["words"] * o["bus"] // 8
        self.frames_offset = meta.get("frames_register", 0x10)
        self.timeout_s, self.estimated_fps = timeout_s, meta.get("estimated_fps")
        self._buffers = (0, None, None)

    def _buffers_for(self, frames: int):
        if self._buffers[0] < frames:
            self._buffers = (
                frames,
                self._pynq.allocate(shape=(frames, self.in_bytes), dtype=np.uint8),
                self._pynq.allocate(shape=(frames, self.out_bytes), dtype=np.uint8),
            )
        return self._buffers[1], self._buffers[2]

    def run(self, data: np.ndarray, frames: int) -> np.ndarray:
        ibuf, obuf = self._buffers_for(frames)
        ibuf[:frames] = data
        ibuf.flush()
        self.ip.write(self.frames_offset, frames)
        self.ip.write(0x00, 0x01)  # ap_start
        self.dma.recvchannel.transfer(obuf, nbytes=frames * self.out_bytes)
        self.dma.sendchannel.transfer(ibuf, nbytes=frames * self.in_bytes)
        limit = self.timeout_s + (10 * frames / self.estimated_fps if self.estimated_fps else 0)
        deadline = time.monotonic() + limit
        for what, channel, nbytes in (("send the input (MM2S)", self.dma.sendchannel, frames * self.in_bytes),
                                      ("receive the output (S2MM)", self.dma.recvchannel, frames * self.out_bytes)):
            while not channel.idle:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"the DMA did not {what}, {nbytes} bytes for {frames} frames, within {limit:.1f} s; the accelerator's "
                        f"control register reads {self.ip.read(0x00):#x} (bit 1: done, bit 2: idle). The bitstream may not "
                        f"match deploy/accelerator.json (rebuild and copy deploy/ again), or the overlay needs reloading")
                time.sleep(0)
            channel.wait()
        obuf.invalidate()
        return np.array(obuf[:frames])
