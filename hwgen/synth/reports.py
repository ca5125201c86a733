"""Read what the tools report: Vitis HLS csynth.xml, Vivado report_utilization and report_timing_summary.

Vitis HLS writes syn/report/csynth.xml (the top's summary; since 2022 also RTLDesignHierarchy, the
instance tree, and ModuleInformation, every module's latency, interval and loops) and one
<module>_csynth.xml per module (its own summary and loops; every Vivado/Vitis HLS version).
parse_hls_design reads both: the instance tree from csynth.xml, each module's numbers from
ModuleInformation or else from its own file. Loops are the children of SummaryOfLoopLatency,
named by their <Name> (Vitis) or their tag (Vivado HLS, where inner loops nest inside outer ones);
PipelineII is the achieved II of a pipelined loop (absent for a loop that was not pipelined).

Resources use the keys of hwgen.boards (LUT, FF, BRAM36, URAM, DSP) where the tool's unit allows:
Vivado's "Block RAM Tile" is a 36 Kb tile (BRAM36, halves for a lone RAMB18); Vitis HLS counts
BRAM_18K, kept under that name. Vivado tables are read by their header row, so the columns of
every version (with or without "Prohibited") parse alike. A file of another kind raises HwgenError
naming the file and what was expected.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from pathlib import Path

from hwgen.errors import HwgenError

# report_utilization site types -> board resource keys; the first name is 7-series, the second UltraScale+.
SITE_TYPES = {
    "LUT": ("Slice LUTs", "CLB LUTs"),
    "FF": ("Slice Registers", "CLB Registers"),
    "BRAM36": ("Block RAM Tile",),
    "URAM": ("URAM",),
    "DSP": ("DSPs",),
}
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


@dataclass(frozen=True)
class Utilization:
    """Vivado report_utilization: (used, available) per resource; used may be fractional for BRAM36."""

    family: str  # "7series" or "ultrascale+" (by the table's LUT row name)
    device: str
    design_state: str
    tool_version: str
    resources: dict = field(default_factory=dict)  # key -> (used, available); URAM absent on parts without it

    def used(self, key: str) -> float:
        return self.resources.get(key, (0, 0))[0]

    def fraction(self, key: str) -> float:
        used, available = self.resources.get(key, (0, 0))
        return used / available if available else 0.0


@dataclass(frozen=True)
class Timing:
    """Vivado report_timing_summary's design summary (ns); met means setup, hold and pulse width all met."""

    wns_ns: float
    tns_ns: float
    whs_ns: float
    ths_ns: float
    wpws_ns: float | None
    failing_endpoints: int  # setup + hold
    met: bool
    constrained: bool  # False when the design had no timing constraints (then met is False too)


def _read(path: Path) -> str:
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
    text = _read(path)
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
        return ET.fromstring(_read(path))
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


# -- Vivado tables --------------------------------------------------------------------------------
def _header_fields(text: str) -> dict[str, str]:
    """'| Device       : xc7z020clg400-1' lines of a Vivado report's banner."""
    fields = {}
    for line in text.splitlines()[:40]:
        m = re.match(r"^\|\s*([A-Za-z][A-Za-z ]*?)\s*:\s*(.*?)\s*$", line)
        if m and m.group(1) not in fields:
            fields[m.group(1)] = m.group(2)
    return fields


def _number(cell: str) -> float | None:
    cell = cell.strip().lstrip("<").replace(",", "")
    try:
        return float(cell)
    except ValueError:
        return None


def _table_rows(text: str):
    """(site type, indent, {column: cell}) for every row of every '| Site Type | Used | ...' table."""
    columns = None
    for line in text.splitlines():
        if not line.startswith("|"):
            if not line.startswith("+"):
                columns = None
            continue
        cells = line.strip().strip("|").split("|")
        names = [c.strip() for c in cells]
        if names and names[0] == "Site Type":
            columns = names
            continue
        if columns is None or len(cells) != len(columns):
            continue
        raw = cells[0]
        indent = len(raw) - len(raw.lstrip(" "))
        yield raw.strip().rstrip("*").strip(), indent, dict(zip(columns, names))


def parse_utilization(path: Path) -> Utilization:
    """Totals of LUT, FF, BRAM36, URAM, DSP from `report_utilization` (7-series or UltraScale+, any column set)."""
    path = Path(path)
    text = _read(path)
    found: dict[str, tuple[float, float]] = {}
    family = None
    for site, indent, row in _table_rows(text):
        if indent > 1 or "Used" not in row or "Available" not in row:
            continue  # sub-rows ("  LUT as Logic") and tables of another shape
        for key, names in SITE_TYPES.items():
            if site in names and key not in found:
                used, available = _number(row["Used"]), _number(row["Available"])
                if used is None or available is None:
                    raise HwgenError(f"{path}: the {site!r} row of report_utilization has Used {row['Used']!r} and "
                                     f"Available {row['Available']!r}, expected numbers")
                found[key] = (int(used) if used.is_integer() and key != "BRAM36" else used, int(available))
                if key == "LUT":
                    family = "7series" if site == SITE_TYPES["LUT"][0] else "ultrascale+"
    if "LUT" not in found or "FF" not in found:
        raise HwgenError(f"{path} is not a Vivado report_utilization report: expected a '| Site Type | Used | ... | Available |' "
                         f"table with a 'Slice LUTs' or 'CLB LUTs' and a 'Slice Registers' or 'CLB Registers' row, found none")
    header = _header_fields(text)
    return Utilization(family=family or "", device=header.get("Device", ""), design_state=header.get("Design State", ""),
                       tool_version=header.get("Tool Version", ""), resources=found)


def parse_timing_summary(path: Path) -> Timing:
    """WNS, TNS, WHS, THS (and WPWS) of the 'Design Timing Summary' of `report_timing_summary`."""
    path = Path(path)
    lines = _read(path).splitlines()
    start = next((i for i, l in enumerate(lines) if "Design Timing Summary" in l), None)
    header = None
    if start is not None:
        header = next((i for i in range(start, min(start + 20, len(lines))) if "WNS(ns)" in lines[i]), None)
    if header is None:
        raise HwgenError(f"{path} is not a Vivado report_timing_summary report: expected a 'Design Timing Summary' "
                         "section with a 'WNS(ns)  TNS(ns) ...' table, found none")
    columns = re.split(r"\s{2,}", lines[header].strip())
    values = None
    for line in lines[header + 1:header + 6]:
        words = line.split()
        if words and not set(line.strip()) <= set("- "):
            values = words
            break
    if values is None or len(values) != len(columns):
        raise HwgenError(f"{path}: the Design Timing Summary has columns {columns} but its value row is "
                         f"{values!r}, expected one value per column")
    row = dict(zip(columns, values))

    def num(name: str) -> float | None:
        if name not in row:
            return None
        value = row[name].lower()
        return float("inf") if value == "inf" else (_number(value) if _number(value) is not None else None)

    wns, tns, whs, ths = num("WNS(ns)"), num("TNS(ns)"), num("WHS(ns)"), num("THS(ns)")
    if None in (wns, tns, whs, ths):
        raise HwgenError(f"{path}: the Design Timing Summary lacks WNS, TNS, WHS or THS (columns {columns})")
    wpws = num("WPWS(ns)")
    failing = int((num("TNS Failing Endpoints") or 0) + (num("THS Failing Endpoints") or 0))
    text = "\n".join(lines[header:header + 12])
    constrained = "no user specified timing constraints" not in text.lower() and wns != float("inf")
    if "All user specified timing constraints are met" in text:
        met = True
    elif "Timing constraints are not met" in text:
        met = False
    else:
        met = constrained and wns >= 0 and whs >= 0 and (wpws is None or wpws >= 0)
    return Timing(wns, tns, whs, ths, wpws, failing, met and constrained, constrained)


def parse_pl_clock(path: Path) -> dict[str, float]:
    """bd.tcl's reports/pl_clock.txt: {"requested_mhz": ..., "actual_mhz": ...} (the PS's real PL clock)."""
    path = Path(path)
    out = {}
    for line in _read(path).splitlines():
        key, _, value = line.partition(" ")
        if key in ("requested_mhz", "actual_mhz") and _number(value) is not None:
            out[key] = _number(value)
    if set(out) != {"requested_mhz", "actual_mhz"}:
        raise HwgenError(f"{path} is not hwgen's pl_clock.txt: expected lines 'requested_mhz N' and 'actual_mhz N'")
    return out
