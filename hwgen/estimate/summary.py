"""The estimates of a whole design (report/estimates.json): frame rate, latency, resources per layer, FIFOs, fit."""

from __future__ import annotations

from dataclasses import dataclass

from hwgen.boards import Board
from hwgen.estimate.cycle_model import cycles, io_cycles, throughput
from hwgen.estimate.resource_model import SHELL, fifo_resources, resources, total_resources
from hwgen.fifo import FifoPlan
from hwgen.hw import Resources
from hwgen.ir.graph import DataflowGraph
from hwgen.ir.layers import MVAU
from hwgen.kinds import kind_of


@dataclass(frozen=True)
class LayerEstimate:
    name: str
    kind: str
    folding: dict  # PE, SIMD (None where the layer has none); an MVAU's ram_style, resType and resolved implementation
    cycles: int
    resources: Resources

    def to_json(self) -> dict:
        return {"name": self.name, "kind": self.kind, "folding": self.folding, "cycles": self.cycles,
                "resources": self.resources.as_dict()}


@dataclass(frozen=True)
class Estimates:
    board: str
    clock_mhz: float
    fps: float
    bottleneck: str  # the layer (or "DMA in" / "DMA out") that sets the pace
    io_cycles: dict[str, int]  # the DMA's cycles per frame, "DMA in" and "DMA out"
    latency_cycles: int
    latency_us: float
    layers: tuple[LayerEstimate, ...]
    fifos: FifoPlan
    fifo_resources: Resources  # of the FIFOs built
    fifo_resources_never_blocking: Resources
    total: Resources  # layers + FIFOs
    shell: Resources
    board_resources: dict  # available, by RESOURCE_KINDS
    utilization_cap: float
    usage_with_shell: dict[str, float]  # fraction of each board resource, rounded to 4 places
    fits: bool

    def to_json(self) -> dict:
        """report/estimates.json."""
        return {
            "board": self.board, "clock_mhz": self.clock_mhz, "fps": self.fps, "bottleneck": self.bottleneck,
            "io_cycles": self.io_cycles, "latency_cycles": self.latency_cycles, "latency_us": self.latency_us,
            "layers": [layer.to_json() for layer in self.layers], "fifo_depths": self.fifos.depths,
            "fifo_sizing": self.fifos.sizing.value, "fifo_note": self.fifos.note,
            "fifo_depths_never_blocking": self.fifos.never_blocking,
            "fifos": self.fifo_resources.as_dict(), "fifos_never_blocking": self.fifo_resources_never_blocking.as_dict(),
            "total": self.total.as_dict(), "shell": self.shell.as_dict(),
            "board_resources": self.board_resources, "utilization_cap": self.utilization_cap,
            "usage_with_shell": self.usage_with_shell, "fits": self.fits,
        }


def layer_estimate(layer) -> LayerEstimate:
    folding = {"PE": getattr(layer, "pe", None), "SIMD": getattr(layer, "simd", None)}
    if isinstance(layer, MVAU):
        folding.update(ram_style=layer.ram_style.value, resType=layer.res_type.value,
                       implementation=kind_of(layer).describe(layer).implementation)
    return LayerEstimate(layer.name, type(layer).__name__, folding, cycles(layer), resources(layer))


def estimate(graph: DataflowGraph, board: Board, clock_mhz: float, fifos: FifoPlan,
             ports: tuple[tuple[int, int], tuple[int, int]]) -> Estimates:
    """The design's estimates at `clock_mhz` with the FIFOs of `fifos`; `ports`: (words per frame, bus bits)
    of the input and the output AXI stream, which the DMA moves through the board's memory port."""
    (in_words, in_bus), (out_words, out_bus) = ports
    port = board.dma_port_bits  # the DMA's memory side (vivado/bd.tcl)
    io = {"DMA in": io_cycles(in_words, in_bus, port), "DMA out": io_cycles(out_words, out_bus, port)}
    t = throughput(graph, clock_mhz, io)
    total = total_resources(graph, fifos.depths)
    usage = (total + SHELL).usage(board.resources)
    return Estimates(
        board=board.name, clock_mhz=clock_mhz, fps=t["fps"], bottleneck=t["bottleneck"], io_cycles=io,
        latency_cycles=t["latency_cycles"], latency_us=t["latency_cycles"] / clock_mhz,
        layers=tuple(layer_estimate(layer) for layer in graph.layers), fifos=fifos,
        fifo_resources=fifo_resources(graph, fifos.depths), fifo_resources_never_blocking=fifo_resources(graph, fifos.never_blocking),
        total=total, shell=SHELL, board_resources=board.resources, utilization_cap=board.utilization_cap,
        usage_with_shell={k: round(v, 4) for k, v in usage.items()},
        fits=all(v <= board.utilization_cap for v in usage.values()),
    )
