"""Read what Vitis HLS reports: csynth.xml (Vivado's reports: hwgen.synth.vivado).

Vitis HLS writes syn/report/csynth.xml (the top's summary; since 2022 also RTLDesignHierarchy, the
instance tree, and ModuleInformation, every module's latency, interval and loops) and one
<module>_csynth.xml per module (its own summary and loops; every Vivado/Vitis HLS version).
parse_hls_design reads both: the instance tree from csynth.xml, each module's numbers from
ModuleInformation or else from its own file. Loops are the children of SummaryOfLoopLatency,
named by their <Name> (Vitis) or their tag (Vivado HLS, where inner loops nest inside outer ones);
PipelineII is the achieved II of a pipelined loop (absent for a loop that was not pipelined).

Vitis HLS counts BRAM_18K, kept under that name (hwgen.hw.RESOURCE_KINDS count BRAM36). A file of
another kind raises HwgenError naming the file and what was expected.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from pathlib import Path

from hwgen.errors import HwgenError

HLS_RESOURCES = {"LUT": ("LUT",), "FF": ("FF",), "BRAM_18K": ("BRAM_18K",), "DSP": ("DSP", "DSP48E"), "URAM": ("URAM",)}


@dataclass(frozen=True)
class HlsReport:
    """Vitis HLS synthesis estimates of the top function (solution/syn/report/csynth.xml)."""

    top: str
    part: str
    version: str
    target_clock_ns: float
    clock_uncertainty_ns: float | None
    estimated_clock_ns: float
    latency_cycles: tuple[int | None, int | None]  # best, worst; None where HLS says "undef" (variable trip count)
    interval_cycles: tuple[int | None, int | None]  # min, max
    resources: dict = field(default_factory=dict)  # LUT, FF, BRAM_18K, DSP, URAM used
    available: dict = field(default_factory=dict)  # same keys, on the part

    @property
    def estimated_fmax_mhz(self) -> float:
        return 1000.0 / self.estimated_clock_ns

    @property
    def meets_clock(self) -> bool:
        """The estimate fits the target period (HLS already subtracted the uncertainty from its budget)."""
        return self.estimated_clock_ns <= self.target_clock_ns


def read_report(path: Path) -> str:
    path = Path(path)
    if not path.is_file():
        raise HwgenError(f"report {path} does not exist")
    return path.read_text(encoding="utf-8", errors="replace")


# -- Vitis HLS ----------------------------------------------------------------------------------
def _cycles(text: str | None) -> int | None:
    if text is None:
        return None
    text = text.strip()
    return int(text) if text.isdigit() else None  # "undef", "-" or missing


def _float(node: ET.Element, path: str) -> float | None:
    text = node.findtext(path)
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def parse_csynth_xml(path: Path) -> HlsReport:
    """The top function's estimates from Vitis HLS's csynth.xml (Vivado HLS's DSP48E read as DSP)."""
    path = Path(path)
    text = read_report(path)
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise HwgenError(f"{path} is not a Vitis HLS csynth.xml: expected XML, found a parse error ({exc})") from None
    estimated = _float(root, "PerformanceEstimates/SummaryOfTimingAnalysis/EstimatedClockPeriod")
    target = _float(root, "UserAssignments/TargetClockPeriod")
    if root.tag != "profile" or estimated is None or target is None:
        raise HwgenError(f"{path} is not a Vitis HLS csynth.xml: expected <profile> with UserAssignments/TargetClockPeriod "
                         f"and PerformanceEstimates/SummaryOfTimingAnalysis/EstimatedClockPeriod, found <{root.tag}> without them")
    latency = root.find("PerformanceEstimates/SummaryOfOverallLatency")

    def get(name: str) -> int | None:
        return _cycles(latency.findtext(name)) if latency is not None else None

    def resources(section: str) -> dict:
        node = root.find(f"AreaEstimates/{section}")
        out = {}
        if node is not None:
            for key, names in HLS_RESOURCES.items():
                for name in names:
                    value = _cycles(node.findtext(name))
                    if value is not None:
                        out[key] = value
                        break
        return out

    return HlsReport(
        top=(root.findtext("UserAssignments/TopModelName") or "").strip(),
        part=(root.findtext("UserAssignments/Part") or "").strip(),
        version=(root.findtext("ReportVersion/Version") or "").strip(),
        target_clock_ns=target,
        clock_uncertainty_ns=_float(root, "UserAssignments/ClockUncertainty"),
        estimated_clock_ns=estimated,
        latency_cycles=(get("Best-caseLatency"), get("Worst-caseLatency")),
        interval_cycles=(get("Interval-min"), get("Interval-max")),
        resources=resources("Resources"),
        available=resources("AvailableResources"),
    )


@dataclass(frozen=True)
class HlsLoop:
    """One loop as Vitis HLS scheduled it (cycles; None where HLS says "undef" or leaves it out)."""

    name: str
    trip_count: int | None  # the most iterations (LOOP_TRIPCOUNT's max for a variable bound)
    latency: int | None  # the most cycles the whole loop takes
    ii: int | None  # achieved initiation interval; None: the loop is not pipelined
    depth: int | None  # pipeline depth (iteration latency of an unpipelined loop)


@dataclass(frozen=True)
class HlsModule:
    """A module's (an RTL function's) schedule: latency and interval per call, its loops."""

    name: str
    latency_cycles: tuple[int | None, int | None]  # best, worst
    interval_cycles: tuple[int | None, int | None]  # min, max: cycles between the starts of two calls
    loops: tuple[HlsLoop, ...] = ()


@dataclass(frozen=True)
class HlsInstance:
    """A node of csynth.xml's RTLDesignHierarchy: an instance of a module and the instances inside it."""

    name: str
    module: str
    children: tuple["HlsInstance", ...] = ()

    def modules(self) -> list[str]:
        """This instance's module and those of every instance under it, each once, in tree order."""
        out = [self.module]
        for child in self.children:
            out += [m for m in child.modules() if m not in out]
        return out


@dataclass(frozen=True)
class HlsDesign:
    """Vitis HLS's schedule of the whole design: the top's summary, its instance tree, every module's numbers."""

    report: HlsReport
    hierarchy: HlsInstance | None  # None: csynth.xml has no RTLDesignHierarchy (Vivado HLS)
    modules: dict = field(default_factory=dict)  # module name -> HlsModule
    missing: tuple[str, ...] = ()  # modules of the hierarchy with neither a ModuleInformation entry nor a file


def _span(node: ET.Element, path: str) -> tuple[int | None, int | None]:
    """A count that may be a number, "undef", "a ~ b" or <range><min>a</min><max>b</max></range>."""
    element = node.find(path)
    if element is None:
        return None, None
    rng = element.find("range")
    if rng is not None:
        return _cycles(rng.findtext("min")), _cycles(rng.findtext("max"))
    text = (element.text or "").strip()
    if "~" in text:
        low, high = text.split("~", 1)
        return _cycles(low), _cycles(high)
    value = _cycles(text)
    return value, value


_LOOP_FIELDS = ("TripCount", "Latency", "PipelineII", "IterationLatency", "PipelineDepth")


def _loops(summary: ET.Element | None) -> list[HlsLoop]:
    if summary is None:
        return []
    out = []
    for element in summary:
        if not any(element.find(f) is not None for f in _LOOP_FIELDS):
            continue
        depth = element.findtext("PipelineDepth") or element.findtext("IterationLatency")
        out.append(HlsLoop(name=(element.findtext("Name") or element.tag).strip(), trip_count=_span(element, "TripCount")[1],
                           latency=_span(element, "Latency")[1], ii=_cycles(element.findtext("PipelineII")),
                           depth=_cycles(depth)))
        out += _loops(element)  # Vivado HLS: inner loops inside the outer loop's element
    return out


def _module(name: str, estimates: ET.Element | None) -> HlsModule:
    """A module from its PerformanceEstimates (of a ModuleInformation entry or of its own <module>_csynth.xml)."""
    if estimates is None:
        return HlsModule(name, (None, None), (None, None))
    latency = estimates.find("SummaryOfOverallLatency")
    if latency is None:
        return HlsModule(name, (None, None), (None, None), tuple(_loops(estimates.find("SummaryOfLoopLatency"))))
    if latency.find("PipelineInitiationInterval") is not None:  # csynth.xml's ModuleInformation
        interval = _span(latency, "PipelineInitiationInterval")
    else:  # <module>_csynth.xml
        interval = (_span(latency, "Interval-min")[0], _span(latency, "Interval-max")[1])
    return HlsModule(name, (_span(latency, "Best-caseLatency")[0], _span(latency, "Worst-caseLatency")[1]), interval,
                     tuple(_loops(estimates.find("SummaryOfLoopLatency"))))


def _instances(node: ET.Element) -> tuple[HlsInstance, ...]:
    found = node.find("InstancesList")
    if found is None:
        return ()
    return tuple(HlsInstance((i.findtext("InstName") or "").strip(), (i.findtext("ModuleName") or "").strip(), _instances(i))
                 for i in found.findall("Instance"))


def _xml(path: Path) -> ET.Element:
    try:
        return ET.fromstring(read_report(path))
    except ET.ParseError as exc:
        raise HwgenError(f"{path} is not a Vitis HLS csynth report: expected XML, found a parse error ({exc})") from None


def parse_module_report(path: Path) -> HlsModule:
    """One module's own report, <module>_csynth.xml (any Vivado or Vitis HLS version)."""
    root = _xml(Path(path))
    name = (root.findtext("UserAssignments/TopModelName") or "").strip()
    if root.tag != "profile" or not name or root.find("PerformanceEstimates") is None:
        raise HwgenError(f"{path} is not a Vitis HLS <module>_csynth.xml: expected <profile> with UserAssignments/TopModelName "
                         f"and PerformanceEstimates, found <{root.tag}> without them")
    return _module(name, root.find("PerformanceEstimates"))


def parse_hls_design(report_dir: Path) -> HlsDesign:
    """Vitis HLS's syn/report/ folder: csynth.xml's summary and instance tree, each module's numbers."""
    report_dir = Path(report_dir)
    top = parse_csynth_xml(report_dir / "csynth.xml")
    root = _xml(report_dir / "csynth.xml")
    modules = {}
    for entry in root.findall("ModuleInformation/Module"):
        name = (entry.findtext("Name") or "").strip()
        modules[name] = _module(name, entry.find("PerformanceEstimates"))
    tree = root.find("RTLDesignHierarchy/TopModule")
    hierarchy = None
    if tree is not None:
        hierarchy = HlsInstance(top.top, (tree.findtext("ModuleName") or top.top).strip(), _instances(tree))
    missing = []
    for name in hierarchy.modules() if hierarchy is not None else []:
        if name in modules:
            continue
        own = report_dir / f"{name}_csynth.xml"
        if own.is_file():
            modules[name] = replace(parse_module_report(own), name=name)
        else:
            missing.append(name)
    return HlsDesign(top, hierarchy, modules, tuple(missing))
