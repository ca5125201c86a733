"""FIFO sizing without RTL simulation: a token-level model of the streaming pipeline.

Every layer is one pipelined loop at II=1 whose iterations read and write stream words on its kind's
`schedule` (hwgen.kinds). With frames arriving once per bottleneck period and unbounded FIFOs, each
iteration starts as soon as the one before it has and the word it reads has arrived; the most words
ever waiting on an edge is the depth that never blocks its producer (size_streams, size_fifos).
Those depths are then shrunk (shrink_streams, shrink_fifos): with blocking FIFOs a producer that finds
its FIFO full waits, which costs nothing while it has slack, and each FIFO is made as cheap as it can
be without the output moving by a cycle.

    streams.py  the model iteration by iteration (Node, Edge, size_streams, BlockingModel): the reference
    events.py   the same over the iterations that read or write a word, re-computed only from where a
                change reaches (EventModel): what sizing uses, the same depths and cycles
    shrink.py   the search for the cheapest depths (shrink_streams, either model)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from hwgen.estimate.cycle_model import cycles
from hwgen.fifo.events import EventModel, size_streams
from hwgen.fifo.shrink import SHRINK_FRAMES, SHRINK_SWEEPS, shrink_streams
from hwgen.fifo.streams import MIN_DEPTH, SIMULATED_FRAMES, BlockingModel, Edge, Node, run_blocking
from hwgen.ir.graph import DataflowGraph

__all__ = ["MIN_DEPTH", "SIMULATED_FRAMES", "SHRINK_FRAMES", "SHRINK_SWEEPS", "SHRINK_MAX_ITERATIONS", "BlockingModel", "Edge",
           "EventModel", "FifoDepths", "FifoPlan", "Node", "chain_streams", "plan_fifos", "run_blocking", "shrink_fifos",
           "shrink_streams", "shrinkable", "size_fifos", "size_streams"]

# loop iterations per frame (all layers) up to which shrink_fifos runs: LPYOLO-416 at 54 M takes 2.7 GB and ~60 s
SHRINK_MAX_ITERATIONS = 100_000_000


def chain_streams(graph: DataflowGraph) -> tuple[list[Node], list[Edge]]:
    """A chain of layers as nodes and edges: the input feeds the first layer, each layer the next."""
    nodes = [Node.of(layer) for layer in graph.layers]
    names = ["input"] + [n.name for n in nodes]
    return nodes, [Edge(src, 0, dst, 0) for src, dst in zip(names[:-1], names[1:])]


def size_fifos(graph: DataflowGraph, input_words: int, period: int | None = None) -> dict[str, int]:
    """FIFO depth for the stream each layer writes (keyed by that layer's name, and "input").

    `input_words`: words per frame the DMA delivers (one per cycle); `period`: cycles per frame
    the pipeline is run at (default: its bottleneck).
    """
    nodes, edges = chain_streams(graph)
    depths = {src: depth for (src, _, _, _), depth in size_streams(nodes, edges, input_words, period).items()}
    depths[graph.layers[-1].name] = MIN_DEPTH  # the output stream: the DMA drains it as fast as it comes
    return depths


def shrinkable(graph: DataflowGraph) -> bool:
    """Whether shrink_fifos fits in memory and time: its cost grows with the loop iterations (events) it simulates."""
    return sum(cycles(layer) for layer in graph.layers) <= SHRINK_MAX_ITERATIONS


def shrink_fifos(graph: DataflowGraph, input_words: int, period: int | None = None,
                 sized: dict[str, int] | None = None) -> dict[str, int]:
    """size_fifos' depths (`sized`, when already computed) made as cheap as they can be without
    moving the output by a cycle (shrink_streams)."""
    from hwgen.ir.graph import stream_widths

    nodes, edges = chain_streams(graph)
    sized = sized or size_fifos(graph, input_words, period)
    width = stream_widths(graph)
    depths = shrink_streams(nodes, edges, {e: sized[e[0]] for e in edges}, {e: width[e[0]] for e in edges}, input_words, period)
    return {e[0]: d for e, d in depths.items()} | {graph.layers[-1].name: sized[graph.layers[-1].name]}


class FifoDepths(str, Enum):
    """How deep the stream FIFOs are made."""

    SHALLOW = "shallow"  # the cheapest with which the output comes on the same cycles (shrink_fifos)
    NEVER_BLOCKING = "never-blocking"  # room for every word a producer sends ahead (size_fifos)


@dataclass(frozen=True)
class FifoPlan:
    """The FIFOs a design is built with: what the fit check during folding counts and what the build uses."""

    depths: dict[str, int]  # depth of the stream each layer writes (and "input")
    never_blocking: dict[str, int]  # what each stream holds if no producer ever waits
    sizing: FifoDepths  # the sizing used: the one asked for, unless the design is too slow to shrink
    note: str | None = None  # why it is not the one asked for


def plan_fifos(graph: DataflowGraph, sizing: FifoDepths = FifoDepths.SHALLOW) -> FifoPlan:
    """The depths of `sizing` for the design: never-blocking (size_fifos), or shrunk (shrink_fifos)
    unless its loops run more iterations a frame than SHRINK_MAX_ITERATIONS (then never-blocking,
    and the note says why)."""
    words = graph.input.elems // graph.layers[0].in_elems
    never = size_fifos(graph, words)
    note = None
    if sizing is FifoDepths.SHALLOW and not shrinkable(graph):
        sizing = FifoDepths.NEVER_BLOCKING
        note = (f"kept never-blocking: the layers' loops run {sum(cycles(l) for l in graph.layers):,} iterations "
                f"a frame, more than the {SHRINK_MAX_ITERATIONS:,} that shrinking simulates")
    depths = shrink_fifos(graph, words, sized=never) if sizing is FifoDepths.SHALLOW else dict(never)
    return FifoPlan(depths, never, sizing, note)

