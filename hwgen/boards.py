"""Board descriptions from boards/*.json: part, resources, clock, shell family."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass

from hwgen.errors import HwgenError
from hwgen.hw import RESOURCE_KINDS
from hwgen.resources import boards as boards_dir

DEFAULT_BOARD = "pynq-z2"  # what a build targets unless told otherwise (hwgen.build, BuildConfig, the CLI)


class Family(str, enum.Enum):
    """Which block-design shell a board gets (hwgen.synth.scripts): its processing system and HP port."""

    ZYNQ7000 = "zynq7000"
    ZYNQ_USP = "zynq_us+"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


# Data widths the PS's high-performance slave port takes: S_AXI_HP0 on Zynq-7000 (PCW_S_AXI_HP0_DATA_WIDTH),
# S_AXI_HP0_FPD on Zynq UltraScale+ (PSU__SAXIGP2__DATA_WIDTH). The native widths are 64 and 128.
HP_PORT_BITS = {Family.ZYNQ7000: (32, 64), Family.ZYNQ_USP: (32, 64, 128)}


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    family: Family  # which block-design shell (a board file names it by its value)
    part: str  # Vivado part
    board_part: str  # Vivado board part (board preset of the processing system)
    resources: dict  # LUT, FF, BRAM36, URAM, DSP available on the part
    clock_mhz: float  # default PL clock the shell configures
    utilization_cap: float  # fraction of each resource a design may use
    dma_port_bits: int = 64  # the PS memory port the DMA's memory side uses (HP port: 64 bits on Zynq-7000, 128 on US+)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "family", Family(self.family))
        except ValueError:
            raise ValueError(f"board {self.name!r}: family must be one of {', '.join(repr(f.value) for f in Family)}, "
                             f"not {self.family!r}") from None
        missing = [k for k in RESOURCE_KINDS if k not in self.resources]
        if missing:
            raise ValueError(f"board {self.name!r}: resources lack {', '.join(missing)}")
        if self.dma_port_bits not in HP_PORT_BITS[self.family]:
            raise ValueError(f"board {self.name!r}: dma_port_bits must be one of {HP_PORT_BITS[self.family]} "
                             f"(the {self.family} HP port), not {self.dma_port_bits!r}")
        if not 0 < self.utilization_cap <= 1:
            raise ValueError(f"board {self.name!r}: utilization_cap must be in (0, 1], not {self.utilization_cap}")


def board_names() -> list[str]:
    return sorted(p.stem for p in boards_dir().glob("*.json"))


def load_board(name: str) -> Board:
    path = boards_dir() / f"{name}.json"
    if not path.is_file():
        raise HwgenError(f"unknown board {name!r}", hint=f"choose one of: {', '.join(board_names())} (python -m hwgen boards)")
    try:
        return Board(**json.loads(path.read_text()))
    except (TypeError, ValueError) as exc:
        raise HwgenError(f"board file {path} is malformed: {exc}") from None
