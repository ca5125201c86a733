"""Read what Vivado reports: report_utilization, report_timing_summary, and the PL clock bd.tcl records.

Resources use the keys of hwgen.hw.RESOURCE_KINDS (LUT, FF, BRAM36, URAM, DSP): Vivado's "Block RAM
Tile" is a 36 Kb tile (BRAM36, halves for a lone RAMB18). Tables are read by their header row, so the
columns of every version (with or without "Prohibited") parse alike. A file of another kind raises
HwgenError naming the file and what was expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from hwgen.errors import HwgenError
from hwgen.synth.reports import read_report

# report_utilization site types -> board resource keys; the first name is 7-series, the second UltraScale+.
SITE_TYPES = {
    "LUT": ("Slice LUTs", "CLB LUTs"),
    "FF": ("Slice Registers", "CLB Registers"),
    "BRAM36": ("Block RAM Tile",),
    "URAM": ("URAM",),
    "DSP": ("DSPs",),
}

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
    text = read_report(path)
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
    lines = read_report(path).splitlines()
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
    for line in read_report(path).splitlines():
        key, _, value = line.partition(" ")
        if key in ("requested_mhz", "actual_mhz") and _number(value) is not None:
            out[key] = _number(value)
    if set(out) != {"requested_mhz", "actual_mhz"}:
        raise HwgenError(f"{path} is not hwgen's pl_clock.txt: expected lines 'requested_mhz N' and 'actual_mhz N'")
    return out
