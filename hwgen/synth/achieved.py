"""What synthesis achieved, next to what the cycle model claims: each loop's II, each process's interval, timing.

The accelerator's top is one DATAFLOW region: axis_to_stream, one process per layer (the kernel function
named in its layer context's `function`), stream_to_axis. Vitis HLS names each process's module after
its function (`mvau_16u_8u_..._s`, an instance `mvau_..._U0`), keeps the call order in the instance
tree, and may outline a pipelined loop into a child module (`..._Pipeline_VITIS_LOOP_131_1`). So the
k-th process of a function is the k-th layer calling it (when the counts differ, none of that function's
layers is checked, and the notes say so), and a process's loops are those of its module and of every
module under it.

A process is as fast as the model says when every pipelined loop in it reaches II=1 and its interval
(cycles between two calls, reported per frame because the kernels' LOOP_TRIPCOUNT is one frame's) is
at most the model's cycles plus FILL: its loops' pipeline depths and CALL_CYCLES, paid once per call.
A call streams a whole batch of frames, so that fill is not a per-frame cost; any other excess is.
"""

from __future__ import annotations

from hwgen.codegen.render import Design
from hwgen.synth.reports import HlsDesign
from hwgen.synth.vivado import Timing

CALL_CYCLES = 8  # a process call's own states (start, loop entry and exit, done) allowed on top of its pipeline fill
INPUT, OUTPUT = "input", "output"  # the two port processes, by the names the summary gives them
PORT_FUNCTIONS = {INPUT: "axis_to_stream", OUTPUT: "stream_to_axis"}


def _of_function(module: str, function: str) -> bool:
    return module == function or module.startswith(function + "_")


def compare_hls(hls: HlsDesign, design: Design, model_cycles: dict[str, int]) -> dict:
    """Each dataflow process's II, interval and latency from Vitis HLS, next to the model's cycles.

    design: what hwgen.codegen.render.render returned (its layers' names and kernel functions, its
    input and output ports' words). model_cycles: cycles per frame by layer name; the port
    processes are held to their words per frame. Returns {"processes": [...], "problems": [...],
    "notes": [...]}: problems are the ways synthesis is slower than the model (a loop above II=1, an
    interval above the model plus fill); notes what could not be checked.
    """
    expected = ([(INPUT, PORT_FUNCTIONS[INPUT], design.input.words)]
                + [(l.name, l.function, model_cycles[l.name]) for l in design.layers]
                + [(OUTPUT, PORT_FUNCTIONS[OUTPUT], design.output.words)])
    problems: list[str] = []
    notes: list[str] = []
    if not hls.report.meets_clock:
        notes.append(f"Vitis HLS estimates a {hls.report.estimated_clock_ns:g} ns clock period against the "
                     f"{hls.report.target_clock_ns:g} ns target (Vivado's timing decides)")
    if hls.hierarchy is None:
        notes.append("csynth.xml has no RTLDesignHierarchy (Vitis HLS 2022.1 or later writes it): loops and "
                     "intervals per layer were not checked")
        return {"processes": [], "problems": problems, "notes": notes}
    queue = [i for i in hls.hierarchy.children if not i.module.startswith("entry_proc")]
    matched = {}  # label -> process: the k-th process of a function is the k-th layer calling it
    for function in dict.fromkeys(f for _, f, _ in expected):
        labels = [label for label, f, _ in expected if f == function]
        found = [i for i in queue if _of_function(i.module, function)]
        if len(found) != len(labels):
            notes.append(f"the Vitis HLS report has {len(found)} {function} processes for {len(labels)} layers "
                         f"({', '.join(labels)}): their loops and intervals were not checked")
            continue
        matched.update(zip(labels, found))
    processes = []
    for label, function, model in expected:
        found = matched.get(label)
        if found is None:
            continue
        queue.remove(found)
        own = hls.modules.get(found.module)
        loops = [(m, loop) for m in found.modules() if m in hls.modules for loop in hls.modules[m].loops]
        unreported = [m for m in found.modules() if m not in hls.modules]
        if unreported:
            notes.append(f"{label}: Vitis HLS reported nothing for {', '.join(unreported)}")
        fill = sum(loop.depth or 0 for _, loop in loops if loop.ii is not None) + CALL_CYCLES
        interval = own.interval_cycles[1] if own is not None else None
        for module, loop in loops:
            if loop.ii is not None and loop.ii > 1:
                trips = f" over {loop.trip_count:,} iterations" if loop.trip_count else ""
                problems.append(f"{label}: loop {loop.name} ({module}) runs at II={loop.ii}, not 1{trips}")
        if interval is None:
            notes.append(f"{label}: Vitis HLS gives no interval for {found.module} (a loop without LOOP_TRIPCOUNT): "
                         "its cycles were not checked")
        elif interval > model + fill:
            problems.append(f"{label}: {interval:,} cycles a frame in Vitis HLS (interval of {found.name}), the cycle "
                            f"model's {model:,} (+ {fill} for pipeline fill and the call)")
        processes.append({
            "layer": label, "function": function, "instance": found.name, "module": found.module,
            "model_cycles": model, "interval": interval, "allowed_interval": model + fill,
            "latency": own.latency_cycles[1] if own is not None else None,
            "max_ii": max((loop.ii for _, loop in loops if loop.ii is not None), default=None),
            "loops": [{"module": m, "name": loop.name, "trip_count": loop.trip_count, "ii": loop.ii, "depth": loop.depth,
                       "latency": loop.latency} for m, loop in loops],
        })
    for extra in queue:
        notes.append(f"Vitis HLS process {extra.name} ({extra.module}) matches no layer")
    return {"processes": processes, "problems": problems, "notes": notes}


def timing_problem(timing: Timing, clock_mhz: float) -> str | None:
    """Why the implemented design does not run at `clock_mhz`, or None when its timing is met."""
    if timing.met:
        return None
    if not timing.constrained:
        return f"Vivado reports no timing constraints on the implemented design: its {clock_mhz:g} MHz clock was not checked"
    return (f"timing not met after Vivado implementation at {clock_mhz:g} MHz: WNS {timing.wns_ns:+.3f} ns, "
            f"TNS {timing.tns_ns:+.3f} ns, WHS {timing.whs_ns:+.3f} ns, {timing.failing_endpoints:,} failing endpoints")


def summary_lines(achieved: dict) -> list[str]:
    """The summary's lines on synthesis against the model (problems first, as warnings when allowed)."""
    lines = []
    processes = achieved.get("processes", [])
    if processes:
        loops = sum(len(p["loops"]) for p in processes)
        worst = max((p["max_ii"] or 1 for p in processes), default=1)
        within = sum(p["interval"] is not None and p["interval"] <= p["allowed_interval"] for p in processes)
        ports = {p["layer"]: p for p in processes if p["layer"] in (INPUT, OUTPUT)}
        port_text = "; ".join(f"{label} port {p['interval'] if p['interval'] is not None else '?'} cycles a frame "
                              f"for {p['model_cycles']} word{'s' if p['model_cycles'] != 1 else ''}" for label, p in ports.items())
        lines.append(f"achieved: Vitis HLS {loops} loops in {len(processes)} processes, "
                     f"{'II=1 in all pipelined loops' if worst == 1 else f'II up to {worst}'}; {within} of {len(processes)} "
                     f"intervals within the model's cycles (+ pipeline fill){'; ' + port_text if port_text else ''}")
    timing = achieved.get("timing")
    if timing:
        lines.append(f"timing:   {'met' if timing['met'] else 'NOT met'} at {achieved['clock_mhz']:g} MHz "
                     f"(WNS {timing['wns_ns']:+.3f} ns)")
    prefix = "WARNING: (--allow-slow) " if achieved.get("allow_slow") else "problem:  "
    lines += [prefix + p for p in achieved.get("problems", [])]
    lines += ["note:     " + n for n in achieved.get("notes", [])]
    return lines


def layer_numbers(achieved: dict) -> dict[str, tuple[int | None, int | None]]:
    """{layer: (Vitis HLS interval, highest achieved II)} for the summary's layer table."""
    return {p["layer"]: (p["interval"], p["max_ii"]) for p in achieved.get("processes", [])}
