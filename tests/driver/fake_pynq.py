"""A strict stand-in for `pynq` on a board, for the PYNQ backend's tests (no board here).

Modelled on AMD PG021 (AXI DMA v7.1, direct-register mode), Xilinx/PYNQ's `pynq/lib/dma.py`
(`_SDMAChannel`, the driver of that mode) and `pynq/buffer.py`, and UG1399's `ap_ctrl_hs` control
registers. The accelerator is the build's C simulation: the S2MM channel receives the very AXI
words the generated C++ writes, TLAST bits included (`CSimBackend.stream`), never recomputed ones.

What it holds the driver to, as the board would:
- S2MM ends a transfer at the first word with TLAST or when its programmed length is reached,
  whichever comes first, and rewrites its length register with the bytes received (PYNQ reads it
  into `channel.transferred` in `wait()`).
- Length registers have `length_width` bits (`c_sg_length_width`, at most 26): a longer transfer
  gets PYNQ's ValueError. A channel whose transfer has not finished refuses another with PYNQ's
  RuntimeError("DMA channel not idle"); one that is stopped or reset, RuntimeError("DMA channel not
  started"). `wait()` on a transfer that cannot finish would spin for ever: it raises Hang here.
- Buffers are not coherent: the array is what the CPU sees; the DMA reads and writes the memory
  behind it. `flush()` (PYNQ's MM2S `transfer` calls it) copies the CPU's bytes to memory,
  `invalidate()` (PYNQ's S2MM `wait` calls it) copies memory to the CPU's view. Reading a buffer
  that the DMA wrote and nobody invalidated raises StaleRead; the MM2S channel reading bytes the CPU
  changed after the flush raises Unflushed (on a board: stale data, silently).
- The accelerator takes the frame count register when it starts (ap_start), reads input words from
  MM2S only as far as its run needs them (the rest stay in the DMA, which stays busy), writes its
  output words only as S2MM takes them, and is idle (ap_idle) again once every output word has left.
  An ap_start written while it runs starts the next run when this one ends. Registers other than
  the control register (0x00) and the frame count (0x10) are refused.
- `Overlay(bitfile)` (needs the .hwh beside it) programs the PL afresh: a new DMA and accelerator,
  both from reset. A DMA soft reset (DMACR bit 2) halts both channels and drops their transfers.

What it cannot model: time (words move whenever a register or status is touched), back-pressure
inside the accelerator (it takes a run's whole input even while its output waits, where a board's
would stall once its FIFOs are full: a timeout there, a short receive here), the AXI bus, cache
lines, interrupts, scatter-gather mode.
"""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np

AP_START, AP_DONE, AP_IDLE = 0x1, 0x2, 0x4
DMACR = {0x00: "MM2S", 0x30: "S2MM"}
DMACR_RS, DMACR_RESET = 0x1, 0x4


class Hang(AssertionError):
    """A call that would never return on the board."""


class StaleRead(AssertionError):
    """The CPU read bytes the DMA wrote without invalidating its cache first."""


class Unflushed(AssertionError):
    """The DMA read bytes the CPU wrote without flushing its cache first."""


class Memory:
    """One allocation in DDR as the DMA sees it; `stale` marks bytes the DMA wrote since the CPU last invalidated them."""

    def __init__(self, nbytes: int, address: int, rng: np.random.Generator):
        self.bytes = rng.integers(0, 256, nbytes, dtype=np.uint8)  # uninitialized memory
        self.stale = np.zeros(nbytes, dtype=bool)
        self.address = address


class Buffer(np.ndarray):
    """pynq.allocate's PynqBuffer: a numpy array (the CPU's cached view) over one Memory."""

    def __array_finalize__(self, obj):
        self.memory = getattr(obj, "memory", None)
        self.offset = 0
        if self.memory is not None:
            self.offset = obj.offset + self.__array_interface__["data"][0] - obj.__array_interface__["data"][0]

    def _cpu_bytes(self) -> np.ndarray:
        raw = np.ndarray.view(self, np.ndarray)
        assert raw.flags.c_contiguous, "a DMA buffer must be contiguous"
        return raw.reshape(-1).view(np.uint8)

    def _span(self) -> slice:
        return slice(self.offset, self.offset + self.nbytes)

    @property
    def physical_address(self) -> int:
        return self.memory.address + self.offset

    def flush(self):
        self.memory.bytes[self._span()] = self._cpu_bytes()

    def invalidate(self):
        self._cpu_bytes()[:] = self.memory.bytes[self._span()]
        self.memory.stale[self._span()] = False

    def __getitem__(self, key):
        if self.memory is not None and self.memory.stale[self._span()].any():
            first = self.offset + int(np.argmax(self.memory.stale[self._span()]))
            raise StaleRead(f"the CPU reads a buffer whose bytes from {first} on the DMA wrote: invalidate() it first")
        return super().__getitem__(key)


class Channel:
    """One DMA channel as PYNQ (2.6 and later) drives it: `_SDMAChannel`'s checks, the hardware's behaviour behind."""

    reports_transferred = True  # PYNQ 2.6+: transfer(array, start, nbytes) and .transferred

    def __init__(self, pl: PL, direction: str, max_size: int, align: int = 8):
        self._pl, self.direction, self._max_size, self._align = pl, direction, max_size, align
        self._rs = self._idle = False
        self._first_transfer = True
        self._active, self._length, self._done, self._length_register = None, 0, 0, 0
        if self.reports_transferred:
            self.transferred = 0
        self.start()

    @property
    def running(self) -> bool:
        return self._rs

    @property
    def idle(self) -> bool:
        self._pl.advance()
        return self._idle

    @property
    def error(self) -> bool:
        return False

    def start(self):
        self._rs, self._first_transfer = True, True

    def stop(self):
        self._halt()

    def _halt(self):
        """Stopped or reset: PG021 direct-register mode flushes the pending transfer; Idle reads 0 while halted."""
        self._rs = self._idle = False
        self._active, self._length, self._done, self._length_register = None, 0, 0, 0

    def transfer(self, array, start=0, nbytes=0):
        if not self.running:
            raise RuntimeError("DMA channel not started")
        self._pl.advance()
        if not self._idle and not self._first_transfer:
            raise RuntimeError("DMA channel not idle")
        if nbytes == 0:
            nbytes = array.nbytes - start
        if nbytes > self._max_size:
            raise ValueError(f"Transfer size is {nbytes} bytes, which exceeds the maximum DMA buffer size {self._max_size}.")
        assert isinstance(array, Buffer) and array.memory is not None, "DMA buffers come from pynq.allocate"
        assert 0 < nbytes and start + nbytes <= array.nbytes, (
            f"{self.direction}: {nbytes} bytes from byte {start} overrun the {array.nbytes}-byte buffer")
        if (array.physical_address + start) % self._align:
            raise RuntimeError(f"DMA does not support unaligned transfers; Starting address must be aligned to {self._align} bytes.")
        if self.direction == "MM2S":
            array.flush()
        if self.reports_transferred:
            self.transferred = 0
        self._active, self._start, self._length, self._done = array, array.offset + start, nbytes, 0
        self._idle, self._first_transfer = False, False
        self._pl.dma_transfers.append((self.direction, nbytes))
        self._pl.advance()

    def wait(self):
        if not self.running:
            raise RuntimeError("DMA channel not started")
        self._pl.advance()
        if not self._idle:
            raise Hang(f"{self.direction}: wait() on a transfer that cannot finish ({self._done} of {self._length} bytes) spins for ever")
        if self.direction == "S2MM":
            self._finished.invalidate()
        if self.reports_transferred:
            self.transferred = self._length_register

    # -- the hardware side, driven by PL.advance ------------------------------------------------
    def _complete(self):
        self._finished, self._active = self._active, None
        self._length_register, self._idle = self._done, True

    def read(self, nbytes: int) -> np.ndarray:
        """MM2S: up to `nbytes` bytes for the stream (as many as the transfer has left), read from memory."""
        n = min(nbytes, self._length - self._done)
        span = slice(self._start + self._done, self._start + self._done + n)
        cpu = self._active._cpu_bytes()[span.start - self._active.offset:span.stop - self._active.offset]
        if not np.array_equal(cpu, self._active.memory.bytes[span]):
            raise Unflushed(f"MM2S read bytes {span.start}..{span.stop} that the CPU changed after the last flush()")
        data = self._active.memory.bytes[span].copy()
        self._done += n
        if self._done == self._length:
            self._complete()
        return data

    def write_word(self, word: np.ndarray, last: bool) -> None:
        """S2MM: one stream word into memory; the transfer ends at TLAST or at its length."""
        n = min(len(word), self._length - self._done)
        span = slice(self._start + self._done, self._start + self._done + n)
        self._active.memory.bytes[span] = word[:n]
        self._active.memory.stale[span] = True
        self._done += n
        if last or self._done == self._length:
            self._complete()


class Channel25(Channel):
    """PYNQ 2.5 and earlier: transfer(array) moves the whole array, no .transferred."""

    reports_transferred = False

    def transfer(self, array):
        super().transfer(array)


class DMA:
    """The AXI DMA's driver object (`overlay.axi_dma_0`): two channels, PYNQ's buffer_max_size, DMACR access."""

    def __init__(self, pl: PL, length_width: int, channel=Channel):
        assert 8 <= length_width <= 26, "PG021: the length register has 8 to 26 bits"
        self.buffer_max_size = (1 << length_width) - 1
        self.sendchannel = channel(pl, "MM2S", self.buffer_max_size)
        self.recvchannel = channel(pl, "S2MM", self.buffer_max_size)
        self._channels = {"MM2S": self.sendchannel, "S2MM": self.recvchannel}

    def read(self, offset: int) -> int:
        assert offset in DMACR, f"the stand-in DMA models only the control registers, not offset {offset:#x}"
        return DMACR_RS if self._channels[DMACR[offset]].running else 0  # a soft reset completes at once here

    def write(self, offset: int, value: int) -> None:
        assert offset in DMACR, f"the stand-in DMA models only the control registers, not offset {offset:#x}"
        if value & DMACR_RESET:  # PG021: resetting either channel resets the whole DMA
            for channel in self._channels.values():
                channel._halt()
        elif value & DMACR_RS:
            self._channels[DMACR[offset]].start()
        else:
            self._channels[DMACR[offset]].stop()


class Accelerator:
    """The HLS top function behind its AXI-lite registers (ap_ctrl_hs), computing with the C-sim."""

    def __init__(self, pl: PL):
        self._pl = pl
        self.frames_register = 0
        self.start_pending = self.done = False
        self.run = None  # the run in progress: frames, input bytes so far, output words and TLAST left

    def read(self, offset: int) -> int:
        self._pl.advance()
        if offset == 0x10:
            return self.frames_register
        assert offset == 0x00, f"the accelerator has no register at {offset:#x} (0x00 control, 0x10 frames)"
        value = (AP_START if self.start_pending else 0) | (AP_DONE if self.done else 0) | (0 if self.run else AP_IDLE)
        self.done = False  # ap_done clears on read
        return value

    def write(self, offset: int, value: int) -> None:
        if offset == 0x10:
            assert 0 <= value < 1 << 32, f"the frame count register has 32 bits, not room for {value}"
            self.frames_register = value
        else:
            assert offset == 0x00, f"the accelerator has no register at {offset:#x} (0x00 control, 0x10 frames)"
            assert value in (0, AP_START), f"control register {value:#x}: only ap_start is expected (no auto-restart, no interrupts)"
            self.start_pending = self.start_pending or value == AP_START
        self._pl.advance()


class PL:
    """The programmable logic after one bitstream download: DMA and accelerator, wired as vivado/bd.tcl wires them."""

    def __init__(self, board: Board):
        self.board = board
        self.dma_transfers = board.dma_transfers
        self.dma = DMA(self, board.length_width, Channel25 if board.pynq_version < (2, 6) else Channel)
        self.ip = Accelerator(self)

    def advance(self) -> None:
        """Move every word that can move now."""
        acc, send, recv, board = self.ip, self.dma.sendchannel, self.dma.recvchannel, self.board
        if acc.run is None and acc.start_pending:
            acc.start_pending = False
            acc.run = {"frames": acc.frames_register, "input": [], "words": None, "next": 0, "stalled": board.stall_next_run}
            board.stall_next_run = False
            board.runs.append(acc.frames_register)
        run = acc.run
        if run is None:
            return
        needed = run["frames"] * board.accelerator.in_bytes - sum(len(b) for b in run["input"])
        if needed and send._active is not None:
            run["input"].append(send.read(needed))
            needed -= len(run["input"][-1])
        if needed or run["stalled"]:
            return
        if run["words"] is None:
            data = np.concatenate(run["input"]).reshape(run["frames"], board.accelerator.in_bytes) if run["frames"] else \
                np.zeros((0, board.accelerator.in_bytes), np.uint8)
            run["words"], run["last"] = board.accelerator.stream(data, run["frames"])
        while run["next"] < len(run["words"]) and recv._active is not None:
            recv.write_word(run["words"][run["next"]], bool(run["last"][run["next"]]))
            run["next"] += 1
        if run["next"] == len(run["words"]):
            acc.run, acc.done = None, True
            self.advance()  # a start written while it ran


class Board:
    """What a test holds: the accelerator (the C-sim, or a variant of it), the DMA's length-register width,
    faults to inject, and a record: accelerator runs (frames each), DMA transfers, overlay loads."""

    def __init__(self, accelerator, length_width: int = 26, pynq_version: str = "3.1.0", ip="hwgen_top_0", dma="axi_dma_0"):
        self.accelerator, self.length_width = accelerator, length_width
        self.version = pynq_version
        self.pynq_version = tuple(int(x) for x in pynq_version.split(".")[:2])
        self.names = (ip, dma)
        self.runs: list[int] = []
        self.dma_transfers: list[tuple[str, int]] = []
        self.loads = 0
        self.stall_next_run = False  # the next run reads its input and then never writes a word
        self.pl: PL | None = None
        self._rng = np.random.default_rng(0)
        self._next_address = 0x1000_0000

    def load(self) -> PL:
        """Program the bitstream: the PL starts from reset."""
        self.loads += 1
        self.pl = PL(self)
        return self.pl

    def overlay(self, bitfile: str):
        path = Path(bitfile)
        if not path.is_file() or not path.with_suffix(".hwh").is_file():
            raise OSError(f"Overlay: {path} and its .hwh must exist")
        pl = self.load()
        ip, dma = self.names
        return types.SimpleNamespace(**{ip: pl.ip, dma: pl.dma})

    def allocate(self, shape, dtype="u4", target=None, **kwargs):
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        memory = Memory(nbytes, self._next_address, self._rng)
        self._next_address += -(-nbytes // 4096) * 4096
        buffer = memory.bytes.copy().view(dtype).reshape(shape).view(Buffer)
        buffer.memory, buffer.offset = memory, 0
        return buffer

    def module(self) -> types.ModuleType:
        module = types.ModuleType("pynq")
        module.__version__ = self.version
        module.Overlay = self.overlay
        module.allocate = self.allocate
        return module
