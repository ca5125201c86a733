"""Read what the tools report: Vitis HLS csynth.xml, Vivado report_utilization and report_timing_summary.

Resources use the keys of hwgen.boards (LUT, FF, BRAM36, URAM, DSP) where the tool's unit allows:
Vivado's "Block RAM Tile" is a 36 Kb tile (BRAM36, halves for a lone RAMB18); Vitis HLS counts
BRAM_18K, kept under that name. Vivado tables are read by their header row, so the columns of
every version (with or without "Prohibited") parse alike. A file of another kind raises HwgenError
naming the file and what was expected.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
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
