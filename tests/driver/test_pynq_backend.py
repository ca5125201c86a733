"""The PYNQ backend's data path without a board: a stand-in `pynq` module whose DMA hands the bytes
to the build's C simulation, as the bitstream would. What it checks: buffer sizes and the frame-count
register the backend programs, and that a stuck transfer ends in a TimeoutError, not a hang. What it
cannot check: the real Overlay, DMA register map and cache handling (no board here)."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

import hwgen
from hwgen.driver import Accelerator
from hwgen.driver.backends import CSimBackend


class FakeBuffer(np.ndarray):
    def flush(self):
        self.flushed = True

    def invalidate(self):
        self.invalidated = True


class FakeChannel:
    def __init__(self, board, name):
        self.board, self.name, self.idle, self.buffer, self.nbytes = board, name, True, None, 0

    def transfer(self, buffer, nbytes):
        assert self.idle, f"{self.name}: transfer while busy"
        self.buffer, self.nbytes, self.idle = buffer, nbytes, False
        self.board.kick()

    def wait(self):
        assert self.idle, f"{self.name}: wait() would spin for ever"


class FakeBoard:
    """An overlay whose accelerator is the C simulation: it runs once ap_start, the frame count and
    both DMA transfers are set; `stuck` leaves the receive channel busy (an accelerator that never ends)."""

    def __init__(self, library, meta, stuck=False):
        self.csim, self.stuck, self.registers = CSimBackend(library, meta), stuck, {}
        self.in_bytes, self.out_bytes = self.csim.in_bytes, self.csim.out_bytes
        self.axi_dma_0 = types.SimpleNamespace(sendchannel=FakeChannel(self, "send"), recvchannel=FakeChannel(self, "recv"))
        self.hwgen_top_0 = types.SimpleNamespace(write=self.registers.__setitem__, read=lambda offset: self.registers.get(offset, 0) & ~1)
        self.runs = []

    def kick(self):
        send, recv = self.axi_dma_0.sendchannel, self.axi_dma_0.recvchannel
        if self.registers.get(0x00) != 1 or send.buffer is None or recv.buffer is None or send.idle or recv.idle:
            return
        frames = self.registers[0x10]
        assert send.nbytes == frames * self.in_bytes and recv.nbytes == frames * self.out_bytes
        assert getattr(send.buffer, "flushed", False), "input buffer not flushed before the DMA read it"
        out = self.csim.run(np.asarray(send.buffer[:frames]), frames)
        self.runs.append(frames)
        send.idle = True
        if not self.stuck:
            recv.buffer[:frames] = out
            recv.idle = True


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    out = tmp_path_factory.mktemp("pynq") / "build"
    hwgen.build(out_dir=out, verify_frames=5, synthesize=False)
    (out / "deploy" / "hwgen.bit").write_bytes(b"")  # the Overlay is faked; the backend only checks both exist
    (out / "deploy" / "hwgen.hwh").write_text("")
    return out


def fake_pynq(monkeypatch, build, **board_options):
    acc = Accelerator(build)
    board = FakeBoard(build / "deploy" / acc.meta["csim_library"], acc.meta, **board_options)
    module = types.ModuleType("pynq")
    module.Overlay = lambda path: board
    module.allocate = lambda shape, dtype: np.zeros(shape, dtype).view(FakeBuffer)
    monkeypatch.setitem(sys.modules, "pynq", module)
    return board


def test_pynq_backend_moves_the_same_bytes_as_csim(monkeypatch, build):
    board = fake_pynq(monkeypatch, build)
    acc, on_board = Accelerator(build), Accelerator(build, backend="pynq", bitfile="hwgen.bit")
    x = np.random.default_rng(0).random((7, 1, 8, 8), dtype=np.float32)
    np.testing.assert_array_equal(on_board.execute(x), acc.execute(x))
    np.testing.assert_array_equal(on_board.execute(x[:3]), acc.execute(x[:3]))  # smaller batch: the buffers are reused
    assert board.runs == [7, 3]


def test_stuck_transfer_times_out(monkeypatch, build):
    board = fake_pynq(monkeypatch, build, stuck=True)
    on_board = Accelerator(build, backend="pynq", bitfile="hwgen.bit", timeout_s=0.2)
    nbytes = 2 * board.out_bytes
    with pytest.raises(TimeoutError, match=rf"did not receive the output \(S2MM\), {nbytes} bytes for 2 frames, within 0\.2 s"):
        on_board.execute(np.zeros((2, 1, 8, 8), dtype=np.float32))
