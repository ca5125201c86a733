"""The PYNQ backend's data path without a board, through the strict stand-in `pynq` of fake_pynq.py:
the AXI DMA as PG021 and PYNQ's dma.py have it (S2MM ends at TLAST or its length, length registers
of limited width, busy channels refuse transfers, non-coherent buffers), the accelerator being the
build's C simulation with its own TLAST bits. What it cannot check: the real Overlay, register
timing and caches (no board here)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import hwgen
from hwgen.driver import Accelerator, backends
from hwgen.driver.backends import PynqBackend
from tests.driver.fake_pynq import Board, Hang, StaleRead, Unflushed

# digits MLP: 64 uint8 pixels in one 512-bit word; 10 int8 logits in 16 bytes (one 128-bit word of 10, or two 64-bit
# words of 5: whichever the folding chose)
IN_BYTES, OUT_BYTES = 64, 16


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    out = tmp_path_factory.mktemp("pynq") / "build"
    hwgen.build(out_dir=out, verify_frames=5, synthesize=False)
    (out / "deploy" / "hwgen.bit").write_bytes(b"")  # the Overlay is a stand-in; it and the backend check both exist
    (out / "deploy" / "hwgen.hwh").write_text("")
    return out


@pytest.fixture(scope="module")
def csim(build):
    acc = Accelerator(build)
    i, o = acc.meta["input"], acc.meta["output"]
    assert (i["words"] * i["bus"] // 8, o["words"] * o["bus"] // 8) == (IN_BYTES, OUT_BYTES)
    return acc


def on_board(monkeypatch, build, csim, accelerator=None, timeout_s: float = 10.0, **board_options):
    """A stand-in board whose accelerator is the C-sim (or `accelerator`), and the PYNQ driver on it."""
    board = Board(accelerator or csim.backend, **board_options)
    monkeypatch.setitem(sys.modules, "pynq", board.module())
    return board, Accelerator(build, backend="pynq", bitfile="hwgen.bit", timeout_s=timeout_s)


def frames(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 1, 8, 8), dtype=np.float32)


class TlastPerFrame:
    """The C-sim's output words with TLAST on every frame's last word, as hwgen's kernel had it."""

    def __init__(self, csim_backend, words_per_frame: int = 1):
        self.csim, self.in_bytes, self.per_frame = csim_backend, csim_backend.in_bytes, words_per_frame

    def stream(self, data, n):
        words, last = self.csim.stream(data, n)
        last = last.copy()
        last[self.per_frame - 1::self.per_frame] = True
        return words, last


class OneWordTooMany(TlastPerFrame):
    """The C-sim's output words and one more, TLAST moved onto it."""

    def stream(self, data, n):
        words, last = self.csim.stream(data, n)
        return np.concatenate([words, words[-1:]]), np.r_[np.zeros(len(last), bool), True]


# -- batches ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 7, 1000])
def test_batches_through_the_strict_dma_equal_csim(monkeypatch, build, csim, n):
    """PYNQ's default 14-bit length register: 16,383 bytes a transfer, 255 input frames of 64 bytes."""
    board, acc = on_board(monkeypatch, build, csim, length_width=14)
    x = frames(n)
    np.testing.assert_array_equal(acc.execute(x), csim.execute(x))
    runs = [255] * (n // 255) + ([n % 255] if n % 255 else [])
    assert board.runs == runs  # 1000 frames: 255, 255, 255, 235
    assert board.dma_transfers == [t for r in runs for t in (("S2MM", r * OUT_BYTES), ("MM2S", r * IN_BYTES))]
    assert board.loads == 1


def test_buffers_are_reused_and_runs_repeat(monkeypatch, build, csim):
    board, acc = on_board(monkeypatch, build, csim)
    for n in (7, 3, 7):
        x = frames(n, seed=n)
        np.testing.assert_array_equal(acc.execute(x), csim.execute(x))
    assert board.runs == [7, 3, 7] and board.loads == 1


def test_tlast_on_every_frame_is_a_named_shortfall(monkeypatch, build, csim):
    """The S2MM channel ends its transfer at the first TLAST: with TLAST per frame, frames 2..7 never arrive."""
    board, acc = on_board(monkeypatch, build, csim, accelerator=TlastPerFrame(csim.backend, csim.meta["output"]["words"]))
    with pytest.raises(RuntimeError, match=r"the DMA received 16 bytes of the 112 expected for 7 frames \(1 whole frames of "
                                           r"16 bytes\): the accelerator's TLAST ended the transfer early\. .* the overlay was reloaded"):
        acc.execute(frames(7))
    assert board.loads == 2
    x = frames(1)  # one frame: its last word is the run's last word, so this accelerator is right for it
    np.testing.assert_array_equal(acc.execute(x), csim.execute(x))


def test_late_tlast_leaves_the_accelerator_busy_and_is_named(monkeypatch, build, csim):
    """The S2MM transfer ends at its length, all bytes there; the extra word keeps the accelerator from going idle."""
    board, acc = on_board(monkeypatch, build, csim, accelerator=OneWordTooMany(csim.backend), timeout_s=0.2)
    with pytest.raises(TimeoutError, match=r"the accelerator did not go idle after its 112 output bytes for 7 frames \(it has more "
                                           r"output than deploy/accelerator\.json says\), within 0\.2 s; .* the overlay was reloaded"):
        acc.execute(frames(7))
    assert board.loads == 2 and board.dma_transfers == [("S2MM", 112), ("MM2S", 448)]


def test_stuck_run_times_out_and_the_next_call_works(monkeypatch, build, csim):
    board, acc = on_board(monkeypatch, build, csim, timeout_s=0.2)
    board.stall_next_run = True  # reads its input, never writes a word
    with pytest.raises(TimeoutError, match=r"did not receive the output \(S2MM\), 32 bytes for 2 frames, within 0\.2 s; the "
                                           r"accelerator's control register read 0x0 .* the overlay was reloaded"):
        acc.execute(frames(2))
    assert board.loads == 2
    x = frames(7)
    np.testing.assert_array_equal(acc.execute(x), csim.execute(x))
    assert board.runs == [2, 7]


def test_interrupted_run_is_reset_before_the_next(monkeypatch, build, csim):
    """A run left half-way by an exception the backend did not raise itself (here: Ctrl-C while waiting)."""
    board, acc = on_board(monkeypatch, build, csim)
    board.stall_next_run = True
    interrupts = [KeyboardInterrupt()]

    def sleep(seconds):
        if interrupts:
            raise interrupts.pop()

    monkeypatch.setattr(backends.time, "sleep", sleep)
    with pytest.raises(KeyboardInterrupt):
        acc.execute(frames(2))
    x = frames(3)
    np.testing.assert_array_equal(acc.execute(x), csim.execute(x))
    assert board.loads == 2


def test_busy_accelerator_is_refused_before_any_transfer(monkeypatch, build, csim):
    board, acc = on_board(monkeypatch, build, csim, timeout_s=0.5)
    board.pl.ip.write(0x10, 3)  # another process started a run of 3 frames and sent nothing yet
    board.pl.ip.write(0x00, 0x1)
    with pytest.raises(RuntimeError, match=r"the accelerator 'hwgen_top_0' is busy before a run \(control register 0x0, "
                                           r"ap_idle = 0\): another process .* acc\.backend\.reset\(\)"):
        acc.execute(frames(2))
    assert board.dma_transfers == []
    acc.backend.reset()
    x = frames(2)
    np.testing.assert_array_equal(acc.execute(x), csim.execute(x))
    assert board.loads == 2


def test_frame_larger_than_the_dma_length_register(monkeypatch, tmp_path):
    """PG021's narrowest length register, 8 bits: 255 bytes a transfer, less than a 512-byte frame."""
    (tmp_path / "hwgen.bit").write_bytes(b"")
    (tmp_path / "hwgen.hwh").write_text("")
    board = Board(accelerator=None, length_width=8)
    monkeypatch.setitem(sys.modules, "pynq", board.module())
    meta = {"bitstream": "hwgen.bit", "input": {"words": 8, "bus": 512}, "output": {"words": 1, "bus": 64}}
    with pytest.raises(RuntimeError, match=r"one frame is 512 bytes in and 8 bytes out, but the DMA 'axi_dma_0' moves at most "
                                           r"255 bytes a transfer \(a 8-bit length register\): the bitstream's AXI DMA needs "
                                           r"c_sg_length_width >= 10"):
        PynqBackend(tmp_path, meta)


def test_pynq_without_nbytes_gets_a_clear_error(monkeypatch, build, csim):
    with pytest.raises(RuntimeError, match=r"PYNQ 2\.5\.1: the DMA driver's sendchannel\.transfer takes no nbytes= or reports no "
                                           r"transferred bytes \(both came with PYNQ 2\.6\).*PYNQ 2\.6 or later"):
        on_board(monkeypatch, build, csim, pynq_version="2.5.1")


# -- the stand-in itself: as strict as PG021 and PYNQ ----------------------------------------------------------
class Words:
    """An accelerator writing the given words and TLAST bits (8-byte words) for any input of 8 bytes a frame."""

    in_bytes = 8

    def __init__(self, last):
        self.last = np.asarray(last, dtype=bool)

    def stream(self, data, n):
        return np.arange(8 * len(self.last), dtype=np.uint8).reshape(-1, 8), self.last


def start_run(board, n_in, recv_bytes):
    """recv.transfer, frames = n_in, ap_start, send.transfer of n_in 8-byte frames, as the backend does."""
    pynq, pl = board.module(), board.pl
    ibuf, obuf = pynq.allocate((64,), np.uint8), pynq.allocate((64,), np.uint8)
    pl.dma.recvchannel.transfer(obuf, nbytes=recv_bytes)
    pl.ip.write(0x10, n_in)
    pl.ip.write(0x00, 1)
    pl.dma.sendchannel.transfer(ibuf, nbytes=8 * n_in)
    return ibuf, obuf


def test_stand_in_s2mm_ends_at_tlast_or_length():
    board = Board(Words([False, True, False, False]))
    board.load()
    recv = board.pl.dma.recvchannel
    _, obuf = start_run(board, 1, 64)
    recv.wait()
    assert recv.transferred == 16 and not board.pl.ip.read(0x00) & 0x4  # ended at TLAST; two words still in the accelerator
    np.testing.assert_array_equal(obuf[:16], np.arange(16))
    recv.transfer(obuf, nbytes=8)  # no TLAST on the third word: the length ends the transfer
    recv.wait()
    assert recv.transferred == 8 and not board.pl.ip.read(0x00) & 0x4  # the fourth word is still waiting
    recv.transfer(obuf, nbytes=8)
    recv.wait()
    assert recv.transferred == 8 and board.pl.ip.read(0x00) & 0x4  # every word out: idle


def test_stand_in_refuses_what_pynq_and_the_dma_refuse():
    board = Board(Words([False, True]), length_width=8)
    board.load()
    pynq, dma = board.module(), board.pl.dma
    with pytest.raises(ValueError, match=r"Transfer size is 256 bytes, which exceeds the maximum DMA buffer size 255\."):
        dma.recvchannel.transfer(pynq.allocate((512,), np.uint8), nbytes=256)
    ibuf, obuf = pynq.allocate((64,), np.uint8), pynq.allocate((64,), np.uint8)
    with pytest.raises(Hang, match="S2MM: wait"):
        dma.recvchannel.wait()  # nothing transferred yet: PYNQ would spin on the idle bit
    dma.recvchannel.transfer(obuf, nbytes=16)
    with pytest.raises(RuntimeError, match="DMA channel not idle"):
        dma.recvchannel.transfer(obuf, nbytes=16)
    dma.sendchannel.transfer(ibuf, nbytes=8)  # the accelerator has not started: MM2S cannot finish
    with pytest.raises(RuntimeError, match="DMA channel not idle"):
        dma.sendchannel.transfer(ibuf, nbytes=8)
    ibuf[:8] = 1  # the CPU changes what MM2S has yet to read, without flush()
    board.pl.ip.write(0x10, 1)
    with pytest.raises(Unflushed, match="MM2S read bytes"):
        board.pl.ip.write(0x00, 1)
    dma.write(0x00, 0x4)  # soft reset: both channels halted
    with pytest.raises(RuntimeError, match="DMA channel not started"):
        dma.sendchannel.transfer(ibuf, nbytes=8)


def test_stand_in_buffers_are_not_coherent():
    board = Board(Words([False, True]))
    board.load()
    recv = board.pl.dma.recvchannel
    _, obuf = start_run(board, 1, 16)
    assert recv._idle  # the words are in memory, the CPU's view of obuf is stale
    with pytest.raises(StaleRead, match="invalidate"):
        np.array(obuf[:16])
    recv.wait()  # PYNQ's wait() invalidates
    np.testing.assert_array_equal(obuf[:16], np.arange(16))
