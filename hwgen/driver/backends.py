"""Backends move packed frames through the accelerator: `run(bytes (N, in bytes), N) -> bytes (N, out bytes)`."""

from __future__ import annotations

import ctypes
import hashlib
import inspect
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
            raise RuntimeError(f"C-sim library {library} has ports (in bus, in words, out bus, out words) {found}, "
                               f"the metadata says {expected}: rebuild")
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


# The accelerator's control registers (Vitis HLS s_axilite, ap_ctrl_hs) and the AXI DMA's (AMD PG021).
AP_CONTROL, AP_START, AP_IDLE = 0x00, 0x01, 0x04
MM2S_DMACR, DMACR_RESET = 0x00, 0x04  # resetting one channel resets the whole AXI DMA
DMA_MAX_LENGTH_WIDTH = 26  # the widest length register an AXI DMA has: 2^26 - 1 bytes a transfer


class PynqBackend:
    """The bitstream on a PYNQ board, through PYNQ's driver of the AXI DMA (direct-register mode).

    A batch goes through in runs: one run is one accelerator start (frame count in its control
    registers, ap_start), one MM2S transfer of the run's input and one S2MM transfer of its output,
    with TLAST on the run's last output word, where the S2MM channel ends its transfer (PG021). Runs
    are as long as the DMA's length register allows (`dma.buffer_max_size`, 2^c_sg_length_width - 1
    bytes from the .hwh; 2^26 - 1 when PYNQ does not say), so a batch needs more than one only past
    that. A run per frame would cost a Python round trip per frame (register writes, two transfers,
    polling: tens of microseconds on a Zynq's ARM cores, by estimate), capping a board near 10^4
    frames/s where TFC-class designs stream about 10^6. The buffers hold one run and sit at the
    start of their allocation, so every transfer starts aligned.

    After each run the bytes the S2MM channel received (PYNQ's `recvchannel.transferred`: the length
    register the DMA rewrote) must be the run's output, and the accelerator must go idle (ap_idle).
    A run that does not finish within `timeout_s` seconds plus ten times the frames' time at the
    build's estimated rate raises TimeoutError (PYNQ's own wait() spins for ever); a short or long
    receive raises RuntimeError naming the shortfall. Either way the programmable logic is reset
    first (`reset`), so that the next call works: the DMA is soft-reset (it stops writing memory),
    then the overlay is reloaded. Reloading is the only reset that reaches the accelerator: an HLS
    block's control interface has no reset bit, and its ap_rst_n comes from the PS through the
    design's reset block; a DMA reset alone would leave words in the accelerator's FIFOs and AXI
    register slices that the next run would read first. It costs a bitstream download, after a failure
    only. A run stopped half-way by anything else (an error from PYNQ, Ctrl-C) is reset in the same
    way at the start of the next call. An accelerator found busy (ap_idle = 0) before a run, which
    another process may be driving, is not touched: that is an error, and `reset()` the remedy.

    Needs PYNQ 2.6 or later (PYNQ 3.x images): older DMA channels take no `nbytes=` and report no
    `transferred`, without which a short receive goes unnoticed; they get a clear error."""

    def __init__(self, folder: Path, meta: dict, bitfile: str | None = None, timeout_s: float = 10.0):
        self.bitstream = Path(folder) / (bitfile or meta.get("bitstream") or "")
        if not meta.get("bitstream") and bitfile is None:
            raise FileNotFoundError(
                "this build has no bitstream (Vitis HLS / Vivado did not run): use backend='csim', "
                "or finish the build on a machine with the Xilinx tools"
            )
        bit = self.bitstream
        if not bit.is_file() or not bit.with_suffix(".hwh").is_file():
            raise FileNotFoundError(f"{bit} and {bit.with_suffix('.hwh')} must both exist (PYNQ's Overlay needs the .hwh beside the .bit)")
        import pynq  # on the board only

        self._pynq = pynq
        self.dma_name, self.ip_name = meta.get("dma", "axi_dma_0"), meta.get("ip", "hwgen_top_0")
        i, o = meta["input"], meta["output"]
        self.in_bytes = i["words"] * i["bus"] // 8
        self.out_bytes = o["words"] * o["bus"] // 8
        self.frames_offset = meta.get("frames_register", 0x10)
        self.timeout_s, self.estimated_fps = timeout_s, meta.get("estimated_fps")
        self._buffers = (0, None, None)
        self._load()

    def _load(self) -> None:
        """(Re)load the overlay: programs the bitstream, which starts the whole PL from reset."""
        self.overlay = self._pynq.Overlay(str(self.bitstream))
        self.dma = getattr(self.overlay, self.dma_name)
        self.ip = getattr(self.overlay, self.ip_name)
        version = getattr(self._pynq, "__version__", "unknown")
        for name in ("sendchannel", "recvchannel"):
            channel = getattr(self.dma, name)
            if "nbytes" not in inspect.signature(channel.transfer).parameters or not hasattr(channel, "transferred"):
                raise RuntimeError(
                    f"PYNQ {version}: the DMA driver's {name}.transfer takes no nbytes= or reports no transferred bytes "
                    "(both came with PYNQ 2.6); hwgen's driver needs them to move part of a buffer and to check what "
                    "arrived: use a PYNQ 2.6 or later image (pip install 'pynq>=2.6' on the board)")
        self.max_bytes = int(getattr(self.dma, "buffer_max_size", None) or (1 << DMA_MAX_LENGTH_WIDTH) - 1)
        self.frames_per_run = min(self.max_bytes // self.in_bytes, self.max_bytes // self.out_bytes, 0xFFFFFFFF)
        if self.frames_per_run == 0:
            raise RuntimeError(
                f"one frame is {self.in_bytes} bytes in and {self.out_bytes} bytes out, but the DMA '{self.dma_name}' moves "
                f"at most {self.max_bytes} bytes a transfer (a {self.max_bytes.bit_length()}-bit length register): the "
                f"bitstream's AXI DMA needs c_sg_length_width >= {max(self.in_bytes, self.out_bytes).bit_length()} "
                f"(hwgen's vivado/bd.tcl sets {DMA_MAX_LENGTH_WIDTH}); rebuild the bitstream with it")
        self._dirty = False

    def reset(self) -> None:
        """Return the DMA and the accelerator to their initial state: soft-reset the DMA (PG021: DMACR bit 2,
        both channels; waited for at most 0.1 s) so it no longer writes memory, then reload the overlay."""
        self.dma.write(MM2S_DMACR, DMACR_RESET)
        deadline = time.monotonic() + 0.1
        while self.dma.read(MM2S_DMACR) & DMACR_RESET and time.monotonic() < deadline:
            time.sleep(0)
        self._load()

    def _buffers_for(self, frames: int):
        if self._buffers[0] < frames:
            self._buffers = (
                frames,
                self._pynq.allocate(shape=(frames, self.in_bytes), dtype=np.uint8),
                self._pynq.allocate(shape=(frames, self.out_bytes), dtype=np.uint8),
            )
        return self._buffers[1], self._buffers[2]

    def run(self, data: np.ndarray, frames: int) -> np.ndarray:
        data = np.ascontiguousarray(data, dtype=np.uint8).reshape(frames, self.in_bytes)
        out = np.empty((frames, self.out_bytes), dtype=np.uint8)
        if self._dirty:  # the last run stopped half-way (an exception, Ctrl-C): the PL may still hold its words
            self.reset()
        for first in range(0, frames, self.frames_per_run):
            n = min(self.frames_per_run, frames - first)
            out[first:first + n] = self._run(data[first:first + n], n, frames)
        return out

    def _run(self, data: np.ndarray, frames: int, batch: int) -> np.ndarray:
        """One accelerator run: `frames` frames, one transfer each way."""
        control = self.ip.read(AP_CONTROL)
        if not control & AP_IDLE:
            raise RuntimeError(
                f"the accelerator '{self.ip_name}' is busy before a run (control register {control:#x}, ap_idle = 0): another "
                "process or notebook may be driving it; stop that one, or call acc.backend.reset() to reload the "
                "overlay (this ends whatever it was doing), then run again")
        ibuf, obuf = self._buffers_for(min(batch, self.frames_per_run))
        ibuf[:frames] = data
        send, recv = self.dma.sendchannel, self.dma.recvchannel
        in_bytes, out_bytes = frames * self.in_bytes, frames * self.out_bytes
        self._dirty = True
        recv.transfer(obuf, nbytes=out_bytes)  # receive first: the output must have somewhere to go
        self.ip.write(self.frames_offset, frames)
        self.ip.write(AP_CONTROL, AP_START)
        send.transfer(ibuf, nbytes=in_bytes)  # PYNQ flushes the buffer before the DMA reads it
        limit = self.timeout_s + (10 * frames / self.estimated_fps if self.estimated_fps else 0)
        deadline = time.monotonic() + limit
        self._await(lambda: recv.idle, deadline, f"the DMA did not receive the output (S2MM), {out_bytes} bytes for {frames} frames", limit)
        recv.wait()  # PYNQ invalidates the buffer and reads back the received length
        if recv.transferred != out_bytes:
            got = recv.transferred
            self._fail(RuntimeError(
                f"the DMA received {got} bytes of the {out_bytes} expected for {frames} frames ({got // self.out_bytes} whole "
                f"frames of {self.out_bytes} bytes): the accelerator's TLAST ended the transfer "
                f"{'early' if got < out_bytes else 'late'}. The bitstream may not match deploy/accelerator.json "
                "(rebuild and copy deploy/ again); the overlay was reloaded"))
        self._await(lambda: send.idle, deadline, f"the DMA did not send the input (MM2S), {in_bytes} bytes for {frames} frames", limit)
        send.wait()
        self._await(lambda: self.ip.read(AP_CONTROL) & AP_IDLE, deadline,
                    f"the accelerator did not go idle after its {out_bytes} output bytes for {frames} frames "
                    "(it has more output than deploy/accelerator.json says)", limit)
        self._dirty = False
        return np.array(obuf[:frames])

    def _await(self, done, deadline: float, what: str, limit: float) -> None:
        while not done():
            if time.monotonic() > deadline:
                control = self.ip.read(AP_CONTROL)
                self._fail(TimeoutError(
                    f"{what}, within {limit:.1f} s; the accelerator's control register read {control:#x} (bit 1: done, "
                    "bit 2: idle). The bitstream may not match deploy/accelerator.json (rebuild and copy deploy/ "
                    "again); the overlay was reloaded, the next call starts afresh"))
            time.sleep(0)

    def _fail(self, error: Exception):
        self.reset()
        raise error
