"""Vitis HLS synthesis reports in the format Vitis HLS 2024.2 writes them, for designs the tests choose.

The layout follows real reports (public Vitis HLS 2024.2 output of a DATAFLOW design, and 2020.2 and
Vivado HLS 2019.2 ones): csynth.xml holds the top's summary, RTLDesignHierarchy (TopModule, then
Instance elements with InstName, ModuleName, IsCompInst, ID and a nested InstancesList) and
ModuleInformation (one Module per RTL module: Name, Loops, PerformanceEstimates with
SummaryOfOverallLatency's Best/Average/Worst-caseLatency, PipelineInitiationInterval, PipelineType,
and SummaryOfLoopLatency with one element per loop, named after it, holding Name, Slack, TripCount,
Latency, AbsoluteTimeLatency, PipelineII, PipelineDepth, PipelineType, InstanceList). Vitis outlines a
pipelined loop into a child module `<parent>_Pipeline_<loop>`; `outlined=True` writes it that way.

Also a stand-in for `vitis_hls -f hls.tcl` in build tests: `python -m tests.synth.hls_reports BUILD`
writes the reports of the build's own design (layers and cycles from report/estimates.json, port words
from csim/accelerator.json); HWGEN_FAKE_II="MVAU_1=2" makes that layer's loop run at II=2 (and its
interval twice as long), HWGEN_FAKE_EXTRA="MVAU_0=100" adds cycles to a layer's interval.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

FUNCTIONS = {"MVAU": "mvau", "Thresholding": "thresholding", "DWC": "dwc", "SWG": "swg", "MaxPool": "maxpool"}


@dataclass
class Loop:
    name: str
    trips: int
    ii: int | None = 1  # None: not pipelined
    depth: int = 3

    @property
    def latency(self) -> int:
        return (self.trips - 1) * (self.ii or self.depth) + self.depth if self.trips else 0


@dataclass
class Process:
    module: str  # RTL module of the dataflow process
    loops: list[Loop] = field(default_factory=list)
    outlined: bool = False  # loops in <module>_Pipeline_<loop> children (Vitis 2022+), else in the module itself
    extra: int = 0  # cycles on top of the loops (the interval grows by as much)

    @property
    def latency(self) -> int:
        return sum(loop.latency for loop in self.loops) + 2 + self.extra

    @property
    def interval(self) -> int:
        return self.latency + 1


def _loop_xml(loop: Loop, indent: str) -> str:
    pipelined = loop.ii is not None
    body = [f"<Name>{loop.name}</Name>", "<Slack>7.30</Slack>", f"<TripCount>{loop.trips}</TripCount>",
            f"<Latency>{loop.latency}</Latency>", f"<AbsoluteTimeLatency>{loop.latency * 10} ns</AbsoluteTimeLatency>"]
    body += ([f"<PipelineII>{loop.ii}</PipelineII>", f"<PipelineDepth>{loop.depth}</PipelineDepth>", "<PipelineType>yes</PipelineType>"]
             if pipelined else [f"<IterationLatency>{loop.depth}</IterationLatency>", f"<PipelineDepth>{loop.depth}</PipelineDepth>",
                                "<PipelineType>no</PipelineType>"])
    body.append("<InstanceList/>")
    inner = "\n".join(f"{indent}    {line}" for line in body)
    return f"{indent}<{loop.name}>\n{inner}\n{indent}</{loop.name}>"


def _module_xml(name: str, latency: int, interval: int, loops: list[Loop], pipeline_type: str = "no") -> str:
    loop_tags = "".join(f"<{loop.name}/>" for loop in loops)
    loop_xml = "\n".join(_loop_xml(loop, " " * 20) for loop in loops)
    return f"""        <Module>
            <Name>{name}</Name>
            <Loops>{loop_tags}</Loops>
            <PerformanceEstimates>
                <SummaryOfTimingAnalysis>
                    <TargetClockPeriod>10.00</TargetClockPeriod>
                    <ClockUncertainty>2.70</ClockUncertainty>
                    <EstimatedClockPeriod>5.412</EstimatedClockPeriod>
                </SummaryOfTimingAnalysis>
                <SummaryOfOverallLatency>
                    <Best-caseLatency>{latency}</Best-caseLatency>
                    <Average-caseLatency>{latency}</Average-caseLatency>
                    <Worst-caseLatency>{latency}</Worst-caseLatency>
                    <Best-caseRealTimeLatency>{latency * 10} ns</Best-caseRealTimeLatency>
                    <Average-caseRealTimeLatency>{latency * 10} ns</Average-caseRealTimeLatency>
                    <Worst-caseRealTimeLatency>{latency * 10} ns</Worst-caseRealTimeLatency>
                    <PipelineInitiationInterval>{interval}</PipelineInitiationInterval>
                    <PipelineType>{pipeline_type}</PipelineType>
                </SummaryOfOverallLatency>
                <SummaryOfLoopLatency>
{loop_xml}
                </SummaryOfLoopLatency>
            </PerformanceEstimates>
            <AreaEstimates>
                <Resources>
                    <FF>120</FF>
                    <AVAIL_FF>106400</AVAIL_FF>
                    <UTIL_FF>~0</UTIL_FF>
                    <LUT>240</LUT>
                    <AVAIL_LUT>53200</AVAIL_LUT>
                    <UTIL_LUT>~0</UTIL_LUT>
                </Resources>
            </AreaEstimates>
        </Module>"""


def _port_xml(port: str, direction: str, bits: int) -> str:
    fields = [("name", f"{port}_TDATA"), ("Object", f"{port}_V_data_V"), ("Type", "pointer"), ("Scope", None), ("IOProtocol", "axis"),
              ("IOConfig", "register, both mode"), ("Dir", direction), ("Bits", bits), ("Attribute", "data")]
    inner = "\n".join(f"            <{k}/>" if v is None else f"            <{k}>{v}</{k}>" for k, v in fields)
    return f"        <RtlPorts>\n{inner}\n        </RtlPorts>"


def csynth_xml(processes: list[Process], top: str = "hwgen_top", in_bits: int = 8, out_bits: int = 32) -> str:
    """csynth.xml of a DATAFLOW top whose processes are `processes`, in call order (after entry_proc)."""
    instances, modules = [], [_module_xml("entry_proc", 0, 1, [])]
    for index, p in enumerate(processes):
        children = ""
        if p.outlined:
            child = "\n".join(f"""                        <Instance>
                            <InstName>grp_{p.module}_Pipeline_{loop.name}_fu_{90 + i}</InstName>
                            <ModuleName>{p.module}_Pipeline_{loop.name}</ModuleName>
                            <IsCompInst>true</IsCompInst>
                            <ID>{200 + 10 * index + i}</ID>
                        </Instance>""" for i, loop in enumerate(p.loops))
            children = f"\n                    <InstancesList>\n{child}\n                    </InstancesList>"
            for loop in p.loops:
                modules.append(_module_xml(f"{p.module}_Pipeline_{loop.name}", loop.latency + 2, loop.latency + 1, [loop],
                                           "loop auto-rewind stp (delay=0 clock cycles(s))"))
            modules.append(_module_xml(p.module, p.latency, p.interval, []))
        else:
            modules.append(_module_xml(p.module, p.latency, p.interval, p.loops))
        instances.append(f"""                <Instance>
                    <InstName>{p.module}_U0</InstName>
                    <ModuleName>{p.module}</ModuleName>
                    <IsCompInst>true</IsCompInst>
                    <ID>{60 + index}</ID>{children}
                </Instance>""")
    top_latency, top_interval = sum(p.latency for p in processes), max(p.interval for p in processes)
    modules.append(_module_xml(top, top_latency, top_interval, [], "dataflow"))
    return f"""<profile>
    <ReportVersion>
        <Version>2024.2</Version>
    </ReportVersion>
    <UserAssignments>
        <unit>ns</unit>
        <ProductFamily>zynq</ProductFamily>
        <Part>xc7z020-clg400-1</Part>
        <TopModelName>{top}</TopModelName>
        <TargetClockPeriod>10.00</TargetClockPeriod>
        <ClockUncertainty>2.70</ClockUncertainty>
        <FlowTarget>vivado</FlowTarget>
    </UserAssignments>
    <PerformanceEstimates>
        <PipelineType>dataflow</PipelineType>
        <SummaryOfTimingAnalysis>
            <unit>ns</unit>
            <EstimatedClockPeriod>6.912</EstimatedClockPeriod>
        </SummaryOfTimingAnalysis>
        <SummaryOfOverallLatency>
            <unit>clock cycles</unit>
            <Best-caseLatency>{sum(p.latency for p in processes)}</Best-caseLatency>
            <Average-caseLatency>{sum(p.latency for p in processes)}</Average-caseLatency>
            <Worst-caseLatency>{sum(p.latency for p in processes)}</Worst-caseLatency>
            <Best-caseRealTimeLatency>undef</Best-caseRealTimeLatency>
            <Average-caseRealTimeLatency>undef</Average-caseRealTimeLatency>
            <Worst-caseRealTimeLatency>undef</Worst-caseRealTimeLatency>
            <DataflowPipelineThroughput>{max(p.interval for p in processes)}</DataflowPipelineThroughput>
            <Interval-min>{max(p.interval for p in processes)}</Interval-min>
            <Interval-max>{max(p.interval for p in processes)}</Interval-max>
        </SummaryOfOverallLatency>
    </PerformanceEstimates>
    <AreaEstimates>
        <Resources>
            <BRAM_18K>6</BRAM_18K>
            <FF>5312</FF>
            <LUT>8127</LUT>
            <DSP>0</DSP>
            <URAM>0</URAM>
        </Resources>
        <AvailableResources>
            <BRAM_18K>280</BRAM_18K>
            <DSP>220</DSP>
            <FF>106400</FF>
            <LUT>53200</LUT>
            <URAM>0</URAM>
        </AvailableResources>
    </AreaEstimates>
    <InterfaceSummary>
{_port_xml("in_stream", "in", in_bits)}
{_port_xml("out_stream", "out", out_bits)}
    </InterfaceSummary>
    <RTLDesignHierarchy>
        <TopModule MAX_DEPTH="3">
            <ModuleName>{top}</ModuleName>
            <InstancesList>
                <Instance>
                    <InstName>entry_proc_U0</InstName>
                    <ModuleName>entry_proc</ModuleName>
                    <IsCompInst>true</IsCompInst>
                    <ID>58</ID>
                </Instance>
{chr(10).join(instances)}
            </InstancesList>
        </TopModule>
    </RTLDesignHierarchy>
    <ModuleInformation>
{chr(10).join(modules)}
    </ModuleInformation>
</profile>
"""


def build_processes(build_dir: Path, ii: dict[str, int] | None = None, extra: dict[str, int] | None = None) -> list[Process]:
    """The processes Vitis HLS would make of a build's design, every loop at II=1 unless `ii` says otherwise."""
    ii, extra = ii or {}, extra or {}
    estimates = json.loads((build_dir / "report" / "estimates.json").read_text())
    meta = json.loads((build_dir / "csim" / "accelerator.json").read_text())
    words_in, words_out = meta["input"]["words"], meta["output"]["words"]
    processes = [Process(f"axis_to_stream_{meta['input']['bus']}u_{words_in}u_s", [Loop("VITIS_LOOP_33_1", words_in, 1, 2)])]
    for i, layer in enumerate(estimates["layers"]):
        name, function = layer["name"], FUNCTIONS[layer["kind"]]
        loop = Loop(f"VITIS_LOOP_{120 + i}_1", layer["cycles"], ii.get(name, 1), 4)
        processes.append(Process(f"{function}_{i}u_{layer['cycles']}u_s", [loop], outlined=layer["kind"] == "MVAU",
                                 extra=extra.get(name, 0)))
    processes.append(Process(f"stream_to_axis_{meta['output']['bus']}u_{words_out}u_s", [Loop("VITIS_LOOP_45_1", words_out, 1, 2)]))
    return processes


def _pairs(text: str) -> dict[str, int]:
    return {k: int(v) for k, v in (item.split("=") for item in text.split(",") if item)}


def main(argv: list[str]) -> int:
    build_dir = Path(argv[0])
    processes = build_processes(build_dir, _pairs(os.environ.get("HWGEN_FAKE_II", "")), _pairs(os.environ.get("HWGEN_FAKE_EXTRA", "")))
    report = build_dir / "hls" / "hwgen_hls" / "solution1" / "syn" / "report"
    report.mkdir(parents=True, exist_ok=True)
    meta = json.loads((build_dir / "csim" / "accelerator.json").read_text())
    (report / "csynth.xml").write_text(csynth_xml(processes, in_bits=meta["input"]["bus"], out_bits=meta["output"]["bus"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
