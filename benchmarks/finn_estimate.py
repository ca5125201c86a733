"""FINN's estimate-only flow on one QONNX file, run by bench_vs_finn.py under finn-plus's own Python.

    <finn venv>/bin/python benchmarks/finn_estimate.py REQUEST.json RESULT.json

Never imported by hwgen or run in hwgen's environment: it needs finn-plus (and its pins on onnx,
onnxruntime, protobuf), and imports nothing from hwgen. bench_vs_finn.py writes the request and
reads the result; both are JSON.

The request names the model, the part, the clock, the resources available and the cap, and
hwgen's foldable layers (kind, shape, folding). The driver
1. runs FINN's build steps up to step_specialize_layers (ConvertQONNXtoFINN, tidy-up,
   streamlining, conversion to HW layers, the dataflow partition, HLS/RTL specialization);
2. pairs FINN's HW nodes with hwgen's layers by kind and shape (an MVAU by MW, MH and input
   vectors; a sliding window by image, channels, kernel and stride, with a padding node before
   it; hwgen's MaxPool by FINN's depthwise window + Pool, or StreamingMaxPool), and cuts off FINN
   nodes before the first and after the last pair (the input quantizer and the output affine,
   which hwgen runs on the host);
3. FINN's own folding: step_target_fps_parallelization (SetFolding) at a target_fps found by
   geometric search, then step_minimize_bit_width; the highest frames/s whose estimate fits
   within the cap on LUT, BRAM18 and DSP;
4. hwgen's folding as a FINN folding config (step_apply_folding_config), then
   step_minimize_bit_width.
Estimates are FINN's analyses as step_generate_estimate_reports runs them: exp_cycles_per_layer
(AnnotateCycles' numbers) and res_estimation. frames/s = clock / the largest layer cycles.

FINN's build steps import finn.xsi.SimEngine, which builds or loads Vivado's simulator; a
stand-in class is bound on finn.xsi first. Nothing here simulates or synthesizes.
"""

from __future__ import annotations

import copy
import json
import math
import os
import sys
import time
import traceback
from pathlib import Path

RESOURCES = ("LUT", "BRAM_18K", "URAM", "DSP")
FINN_ONLY_WHY = {
    "head": "before hwgen's first layer (hwgen quantizes the input on the host and streams it quantized)",
    "tail": "after hwgen's last layer (hwgen applies the output scale and bias on the host)",
    "middle": "no hwgen counterpart; folded by FINN's SetFolding at hwgen's bottleneck cycles",
}


def boot_finn(work: Path) -> None:
    """FINN's settings from a private build dir (no ~/.finn), and a stand-in for its simulator binding."""
    os.environ["FINN_BUILD_DIR"] = str(work / "finn_build")
    os.environ["FINN_SETTINGS"] = str(work / "finn_settings.yaml")  # absent: defaults, nothing written to $HOME
    (work / "finn_build").mkdir(parents=True, exist_ok=True)
    import finn.xsi

    class SimEngineStandIn:  # the estimate-only steps never simulate
        def __init__(self, *args, **kwargs):
            raise RuntimeError("RTL simulation is not available in the estimate-only flow")

    finn.xsi.SimEngine = SimEngineStandIn


# -- pairing FINN's nodes with hwgen's layers -------------------------------------------------
def finn_units(model) -> list[dict]:
    """FINN's HW nodes in graph order, grouped as hwgen's layers are: a padding node with the sliding window
    after it, a depthwise window with the Pool after it. Each unit: kind, signature, node names, roles."""
    from qonnx.custom_op.registry import getCustomOp

    nodes = list(model.graph.node)
    units, i = [], 0
    while i < len(nodes):
        node, inst = nodes[i], getCustomOp(nodes[i])
        kind = node.op_type.rsplit("_", 1)[0] if node.op_type.endswith(("_hls", "_rtl")) else node.op_type
        attr = inst.get_nodeattr
        nxt = nodes[i + 1] if i + 1 < len(nodes) else None
        pad, pad_name = [0, 0, 0, 0], None
        if kind == "FMPadding" and nxt is not None and nxt.op_type.startswith("ConvolutionInputGenerator"):
            pad, pad_name, ifm = list(attr("Padding")), node.name, list(attr("ImgDim"))
            i += 1
            node, inst = nodes[i], getCustomOp(nodes[i])
            kind, attr = "ConvolutionInputGenerator", inst.get_nodeattr
            nxt = nodes[i + 1] if i + 1 < len(nodes) else None
        if kind == "ConvolutionInputGenerator":
            ifm = list(attr("IFMDim")) if pad_name is None else ifm
            window = {"ifm": ifm, "channels": attr("IFMChannels"), "kernel": list(attr("ConvKernelDim")),
                      "stride": list(attr("Stride")), "pad": pad}
            roles = {**({"padding": pad_name} if pad_name else {}), "window": node.name}  # in graph order
            pool = getCustomOp(nxt) if nxt is not None and nxt.op_type.startswith("Pool") else None
            if attr("depthwise") and pool is not None and pool.get_nodeattr("Function") == "MaxPool":
                units.append({"kind": "MaxPool", "signature": window, "roles": {**roles, "pool": nxt.name}})
                i += 2
                continue
            units.append({"kind": "SWG" if not attr("depthwise") else "DepthwiseWindow", "signature": window, "roles": roles})
        elif kind == "StreamingMaxPool":
            dim, k = list(attr("ImgDim")), list(attr("PoolDim"))
            units.append({"kind": "MaxPool", "signature": {"ifm": dim, "channels": attr("NumChannels"), "kernel": k,
                                                            "stride": k, "pad": [0, 0, 0, 0]}, "roles": {"pool": node.name}})
        elif kind == "MVAU":
            units.append({"kind": "MVAU", "signature": {"mw": attr("MW"), "mh": attr("MH"),
                                                        "vectors": math.prod(attr("numInputVectors"))}, "roles": {"mvau": node.name}})
        elif kind == "Thresholding":
            units.append({"kind": "Thresholding", "signature": {"channels": attr("NumChannels"),
                                                                "vectors": math.prod(attr("numInputVectors"))},
                          "roles": {"thresholding": node.name}})
        else:
            units.append({"kind": node.op_type, "signature": None, "roles": {"node": node.name}})
        i += 1
    return units


def pair(units: list[dict], layers: list[dict]) -> tuple[list[tuple[dict, dict]], list[dict], list[dict]]:
    """hwgen's layers, in order, each with the next FINN unit of the same kind and shape.

    Returns the pairs, FINN's units without a hwgen layer (each marked head, middle or tail) and hwgen's
    layers without a FINN unit."""
    pairs, finn_only, hwgen_only, pos = [], [], [], 0
    for layer in layers:
        for k in range(pos, len(units)):
            if units[k]["kind"] == layer["kind"] and units[k]["signature"] == layer["signature"]:
                finn_only += units[pos:k]
                pairs.append((layer, units[k]))
                pos = k + 1
                break
        else:
            hwgen_only.append(layer)
    finn_only += units[pos:]
    paired = [id(u) for _, u in pairs]
    for u in finn_only:
        index = next(k for k, v in enumerate(units) if v is u)
        before = any(id(v) in paired for v in units[:index])
        after = any(id(v) in paired for v in units[index + 1:])
        u["where"] = "middle" if before and after else "head" if after else "tail"
    return pairs, finn_only, hwgen_only


def clip_xnor_thresholds(model) -> dict[str, int]:
    """Raise an XNOR MVAU's negative thresholds to 0; returns how many per node.

    FINN requires the thresholds of a bipolar x bipolar MVAU (compared with a popcount) to be >= 0, and
    asserts when folding such a node. A threshold below 0 is a neuron that always fires, as a threshold of
    0 is (a popcount is never negative): the network computes the same. Untrained models with randomized
    batch norms have such neurons; trained ones rarely do."""
    from qonnx.core.datatype import DataType
    from qonnx.custom_op.registry import getCustomOp

    clipped = {}
    for node in model.graph.node:
        if not node.op_type.startswith("MVAU") or len(node.input) < 3:
            continue
        inst = getCustomOp(node)
        xnor = inst.get_nodeattr("binaryXnorMode") == 1 or (
            inst.get_input_datatype(0) == DataType["BIPOLAR"] and inst.get_input_datatype(1) == DataType["BIPOLAR"])
        thresholds = model.get_initializer(node.input[2])
        if xnor and thresholds is not None and (thresholds < 0).any():
            clipped[node.name] = int((thresholds < 0).sum())
            model.set_initializer(node.input[2], thresholds.clip(min=0))
    return clipped


def cut(model, first_nodes, last_nodes):
    """The chain from the first of `first_nodes` to the last of `last_nodes`: its input and output become the graph's."""
    from onnx import TensorProto, helper
    from qonnx.transformation.general import RemoveUnusedTensors

    names = [n.name for n in model.graph.node]
    first, last = min(map(names.index, first_nodes)), max(map(names.index, last_nodes))
    drop = [n for k, n in enumerate(model.graph.node) if k < first or k > last]
    new_in, new_out = model.graph.node[first].input[0], model.graph.node[last].output[0]
    in_shape, out_shape = model.get_tensor_shape(new_in), model.get_tensor_shape(new_out)
    for n in drop:
        model.graph.node.remove(n)
    graph = model.graph
    for coll, name, shape in ((graph.input, new_in, in_shape), (graph.output, new_out, out_shape)):
        if coll[0].name != name:
            for vi in [v for v in graph.value_info if v.name == name]:
                graph.value_info.remove(vi)
            coll.pop()
            coll.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
    return model.transform(RemoveUnusedTensors())


# -- folding configs ----------------------------------------------------------------------------
def hwgen_config(pairs) -> dict:
    """hwgen's folding in FINN's names and attributes."""
    config = {}
    for layer, unit in pairs:
        fold, roles = layer["folding"], unit["roles"]
        if layer["kind"] == "MVAU":
            config[roles["mvau"]] = {k: fold[k] for k in ("PE", "SIMD", "ram_style", "resType") if k in fold}
        elif layer["kind"] == "Thresholding":
            config[roles["thresholding"]] = {"PE": fold["PE"]}
        elif layer["kind"] == "SWG":
            config[roles["window"]] = {"SIMD": fold["SIMD"], **({"parallel_window": fold["parallel_window"]}
                                                                 if "parallel_window" in fold else {})}
            if "padding" in roles:
                config[roles["padding"]] = {"SIMD": fold["SIMD"]}
        elif layer["kind"] == "MaxPool":
            config[roles["pool"]] = {"PE": fold["PE"]}
            for role in ("window", "padding"):
                if role in roles:
                    config[roles[role]] = {"SIMD": fold["PE"]}
    return config


FOLDING_ATTRS = ("PE", "SIMD", "parallel_window", "ram_style", "resType", "mem_mode")


def folding_of(model) -> dict:
    from qonnx.custom_op.registry import getCustomOp

    out = {}
    for node in model.graph.node:
        inst = getCustomOp(node)
        types = inst.get_nodeattr_types()
        out[node.name] = {a: inst.get_nodeattr(a) for a in FOLDING_ATTRS if a in types}
    return out


# -- estimates ----------------------------------------------------------------------------------
def estimate(model, req: dict) -> dict:
    from finn.analysis.fpgadataflow.exp_cycles_per_layer import exp_cycles_per_layer
    from finn.analysis.fpgadataflow.res_estimation import res_estimation

    cycles = model.analysis(exp_cycles_per_layer)
    res = model.analysis(lambda m: res_estimation(m, req["fpga_part"]))
    layers = {name: {"cycles": cycles[name], **{k: r.get(k, 0) for k in RESOURCES}} for name, r in res.items()}
    total = {k: sum(r[k] for r in layers.values()) for k in RESOURCES}
    usage = {k: total[k] / req["available"][k] for k in RESOURCES if req["available"].get(k)}
    bottleneck = max(cycles.values())
    return {"fps": 1e9 / req["clock_ns"] / bottleneck, "bottleneck_cycles": bottleneck,
            "bottleneck": max(cycles, key=cycles.get), "total": total, "usage": usage,
            "fits": all(v <= req["cap"] for v in usage.values()), "layers": layers, "folding": folding_of(model)}


def finn_folding(base, cfg, steps, target_fps: float, req: dict) -> dict:
    """FINN's own folding at `target_fps`, as its build does it, and its estimate."""
    cfg = copy.copy(cfg)
    cfg.target_fps = target_fps
    cfg.folding_config_file = None
    model = steps.step_target_fps_parallelization(copy.deepcopy(base), cfg)
    model = steps.step_minimize_bit_width(model, cfg)
    return {"target_fps": target_fps, **estimate(model, req)}


def search(base, cfg, steps, req: dict) -> tuple[dict | None, list[dict]]:
    """The fastest of FINN's foldings that fits: double or halve target_fps (an integer, as FINN's config
    takes it) from hwgen's figure to bracket the largest one that fits, then bisect geometrically to
    `tolerance`. SetFolding relaxes an unreachable target to what its slowest layer reaches, so a larger
    target can give the same folding: raising stops once the frames/s reached stop growing. Fitting need
    not be monotonic in the target; the fastest fitting folding seen is returned."""
    tried = []

    def at(fps: int) -> dict:
        result = finn_folding(base, cfg, steps, fps, req)
        tried.append({k: result[k] for k in ("target_fps", "fps", "bottleneck_cycles", "total", "usage", "fits")})
        usage = ", ".join(f"{k} {v:.0%}" for k, v in result["usage"].items())
        print(f"  FINN SetFolding, target_fps {fps:,}: {result['fps']:,.0f} frames/s, {usage}, "
              + ("fits" if result["fits"] else "over the cap"), file=sys.stderr, flush=True)
        return result

    best, over = None, None
    r = at(max(1, round(req["start_fps"])))
    while not r["fits"]:  # halve until one fits
        over = r
        if r["target_fps"] == 1:
            return None, tried
        r = at(max(1, r["target_fps"] // 2))
    best = r
    while over is None:  # double until one does not
        r = at(best["target_fps"] * 2)
        if not r["fits"]:
            over = r
        elif r["fps"] <= best["fps"]:  # SetFolding reached no faster: every layer as fast as FINN folds it
            return best, tried
        else:
            best = r
    lo, hi = best["target_fps"], over["target_fps"]
    while hi / lo > 1 + req["tolerance"] and hi - lo > 1:
        r = at(round(math.sqrt(lo * hi)))
        if r["fits"]:
            lo, best = r["target_fps"], (r if r["fps"] > best["fps"] else best)
        else:
            hi = r["target_fps"]
    return best, tried


def run(req: dict) -> dict:
    work = Path(req["work_dir"])
    boot_finn(work)
    import finn.builder.build_dataflow_steps as steps
    from finn.builder.build_dataflow_config import DataflowBuildConfig, DataflowOutputType, estimate_only_dataflow_steps
    from qonnx.core.modelwrapper import ModelWrapper

    out = {"finn_version": _version("finn-plus"), "qonnx_version": _version("qonnx"), "onnx_version": _version("onnx")}
    cfg = DataflowBuildConfig(output_dir=str(work / "finn_output"), synth_clk_period_ns=req["clock_ns"],
                              fpga_part=req["fpga_part"], target_fps=int(req["start_fps"]),
                              mvau_wwidth_max=req["mvau_wwidth_max"], generate_outputs=[DataflowOutputType.ESTIMATE_REPORTS],
                              steps=estimate_only_dataflow_steps)
    cfg.get_report_directory().mkdir(parents=True, exist_ok=True)
    front = estimate_only_dataflow_steps[: estimate_only_dataflow_steps.index("step_specialize_layers") + 1]
    t0 = time.perf_counter()
    model = ModelWrapper(req["model"])
    for name in front:
        model = getattr(steps, name)(model, cfg)
    out["front_end_steps"] = front
    out["front_end_seconds"] = time.perf_counter() - t0
    out["xnor_thresholds_raised_to_0"] = clip_xnor_thresholds(model)

    units = finn_units(model)
    pairs, finn_only, hwgen_only = pair(units, req["hwgen_layers"])
    out["finn_nodes"] = [n.name for n in model.graph.node]
    out["pairs"] = [{"hwgen": layer["name"], "finn": unit["roles"], "signature": unit["signature"]} for layer, unit in pairs]
    out["finn_only"] = [{"nodes": list(u["roles"].values()), "kind": u["kind"], "where": u["where"], "why": FINN_ONLY_WHY[u["where"]]}
                        for u in finn_only]
    out["hwgen_only"] = [layer["name"] for layer in hwgen_only]
    if not pairs:
        raise RuntimeError(f"no FINN node matches any hwgen layer by kind and shape; FINN's HW nodes: {', '.join(out['finn_nodes'])}")
    model = cut(model, pairs[0][1]["roles"].values(), pairs[-1][1]["roles"].values())
    out["finn_nodes_estimated"] = [n.name for n in model.graph.node]

    t0 = time.perf_counter()
    best, tried = search(model, cfg, steps, req)
    out["finn_search_seconds"] = time.perf_counter() - t0
    out["finn_search"] = tried
    out["finn_folding"] = best

    t0 = time.perf_counter()
    config = hwgen_config(pairs)
    config_path = work / "hwgen_folding_for_finn.json"
    config_path.write_text(json.dumps(config, indent=2))
    hw_cfg = copy.copy(cfg)
    hw_cfg.folding_config_file = str(config_path)
    # FINN nodes with no hwgen counterpart in the middle of the chain get SetFolding's choice at hwgen's pace
    hw_cfg.target_fps = round(1e9 / req["clock_ns"] / req["hwgen_bottleneck_cycles"]) if any(
        u["where"] == "middle" for u in finn_only) else None
    hw = copy.deepcopy(model)
    if hw_cfg.target_fps is not None:
        hw = steps.step_target_fps_parallelization(hw, hw_cfg)
    hw = steps.step_apply_folding_config(hw, hw_cfg)
    hw = steps.step_minimize_bit_width(hw, hw_cfg)
    applied = folding_of(hw)
    mismatched = [f"{node}.{k}: asked {v!r}, FINN has {applied.get(node, {}).get(k)!r}" for node, attrs in config.items()
                  for k, v in attrs.items() if applied.get(node, {}).get(k) != v]
    if mismatched:
        raise RuntimeError("FINN did not take hwgen's folding as given: " + "; ".join(mismatched))
    out["hwgen_folding_config"] = config
    out["hwgen_folding"] = estimate(hw, req)
    out["hwgen_folding_seconds"] = time.perf_counter() - t0
    return out


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.splitlines()[2].strip(), file=sys.stderr)
        return 2
    request, result = Path(argv[0]), Path(argv[1])
    try:
        out = run(json.loads(request.read_text()))
    except Exception as exc:  # noqa: BLE001 (any failure of FINN's goes back to bench_vs_finn.py, one message a model)
        out = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    result.write_text(json.dumps(out, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
