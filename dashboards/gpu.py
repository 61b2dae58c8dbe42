"""The GPU fleet dashboard: counts, utilization, memory, power, heat, clocks, errors and who holds which GPU."""

from __future__ import annotations

from inferwatch.config import InferwatchConfig
from inferwatch.conventions import normalized as n
from inferwatch.dashboards import links, variables
from inferwatch.dashboards.model import BAD, GOOD, NEUTRAL, WARN, DashboardSpec, Panel, Query, Row, StateText, Step
from inferwatch.promql import format_number as num

INFO = f'{n.GPU_NODE_INFO}{{{n.NODE}=~"$node",{n.GPU_MODEL}=~"$gpu_model"}}'
GPU_LEGEND = "{{node}} {{gpu_uuid}}"


def on_fleet(expr: str, labels: str = f"{n.NODE}, {n.GPU_MODEL}") -> str:
    """``expr`` (keyed by gpu_uuid) restricted to the selected nodes and GPU models, with their labels."""
    return f"({expr}) * on ({n.GPU_UUID}) group_left ({labels}) {INFO}"


def _count(expr: str) -> str:
    return f"count({expr}) or vector(0)"


def _fleet(config: InferwatchConfig) -> Row:
    t = config.thresholds
    held = f"sum by ({n.GPU_UUID}) ({n.GPU_ALLOCATION}) > 0"
    return Row(
        "Fleet",
        (
            Panel(
                "stat",
                "GPUs",
                f"Whole GPUs reported by any exporter on the selected nodes, from `{n.GPU_NODE_INFO}`.",
                "short",
                (Query(_count(INFO), "GPUs"),),
                width=6,
                height=4,
                thresholds=(Step(None, NEUTRAL),),
            ),
            Panel(
                "stat",
                "GPUs allocated",
                f"GPUs some container holds (any share), from `{n.GPU_ALLOCATION}`.",
                "short",
                (Query(_count(f"({held}) and on ({n.GPU_UUID}) {INFO}"), "allocated"),),
                width=6,
                height=4,
                thresholds=(Step(None, NEUTRAL),),
            ),
            Panel(
                "stat",
                "Allocated but idle",
                f"GPUs held by a container but busy less than {num(t.gpu_idle_utilization_ratio * 100)} % of the "
                f"time, from `{n.GPU_ALLOCATION}` and `{n.GPU_BUSY_RATE}` (0 is good): paid for, unused. Next: "
                "the attribution table below for who holds them.",
                "short",
                (
                    Query(
                        _count(
                            f"({held}) and on ({n.GPU_UUID}) ({n.GPU_BUSY_RATE} < {num(t.gpu_idle_utilization_ratio)}) "
                            f"and on ({n.GPU_UUID}) {INFO}"
                        ),
                        "idle",
                    ),
                ),
                width=6,
                height=4,
                thresholds=(Step(None, GOOD), Step(1, WARN)),
            ),
            Panel(
                "stat",
                "GPUs lost",
                f"GPUs NVML reports lost or fallen off the bus, from `{n.GPU_UP}` == 0 (0 is good). Next: the "
                "node's kernel log (Xid 79) and cordon the node.",
                "short",
                (Query(_count(f"({n.GPU_UP} == 0) and on ({n.GPU_UUID}) {INFO}"), "lost"),),
                width=6,
                height=4,
                thresholds=(Step(None, GOOD), Step(1, BAD)),
            ),
            Panel(
                "state-timeline",
                "GPU health",
                f"Each GPU up or lost over time, from `{n.GPU_UP}`.",
                "none",
                (Query(on_fleet(n.GPU_UP), GPU_LEGEND),),
                width=24,
                height=6,
                mappings=(StateText(1, "up", GOOD), StateText(0, "lost", BAD)),
                thresholds=(Step(None, BAD), Step(1, GOOD)),
            ),
            Panel(
                "timeseries",
                "Sample age",
                f"Seconds since each GPU's values were last read from NVML, from `{n.GPU_SAMPLE_AGE}` (about the "
                f"exporter's sample interval when healthy; inferwatch exporter only, dcgm-exporter reports none). "
                f"Red line: the GPUMetricsStale alert at {num(t.gpu_sample_age_seconds)} s for "
                f"{t.gpu_sample_age_for}; above it every other panel shows old values for that GPU.",
                "s",
                (Query(on_fleet(n.GPU_SAMPLE_AGE), GPU_LEGEND),),
                width=24,
                height=6,
                thresholds=(Step(None, GOOD), Step(t.gpu_sample_age_seconds, BAD)),
                threshold_style="line",
                min=0,
            ),
        ),
    )


def _usage(config: InferwatchConfig) -> Row:
    t = config.thresholds
    return Row(
        "Utilization, memory, power",
        (
            Panel(
                "timeseries",
                "Utilization",
                f"Share of time each GPU ran a kernel, from `{n.GPU_BUSY_RATE}` (exact over any window). Orange "
                f"line: below {num(t.gpu_idle_utilization_ratio * 100)} % a GPU counts as idle.",
                "percentunit",
                (Query(on_fleet(n.GPU_BUSY_RATE), GPU_LEGEND),),
                thresholds=(Step(None, WARN), Step(t.gpu_idle_utilization_ratio, GOOD)),
                threshold_style="line",
                min=0,
                max=1,
            ),
            Panel(
                "timeseries",
                "Memory used / total",
                f"Framebuffer used over total per GPU, from `{n.GPU_MEMORY_USED}` / `{n.GPU_MEMORY_TOTAL}` (vLLM "
                f"reserves most of it on purpose). Red line: the alert at {num(t.gpu_memory_used_ratio * 100)} %.",
                "percentunit",
                (Query(on_fleet(f"{n.GPU_MEMORY_USED} / ({n.GPU_MEMORY_TOTAL} > 0)"), GPU_LEGEND),),
                thresholds=(Step(None, GOOD), Step(t.gpu_memory_used_ratio, BAD)),
                threshold_style="line",
                min=0,
                max=1,
            ),
            Panel(
                "timeseries",
                "Power vs limit",
                f"Power draw and the enforced limit per GPU, from `{n.GPU_POWER}` and `{n.GPU_POWER_LIMIT}`. Draw at "
                "the limit means power throttling.",
                "watt",
                (
                    Query(on_fleet(n.GPU_POWER), "draw " + GPU_LEGEND),
                    Query(on_fleet(n.GPU_POWER_LIMIT), "limit " + GPU_LEGEND),
                ),
            ),
            Panel(
                "timeseries",
                "Temperature",
                f"GPU core temperature, from `{n.GPU_TEMPERATURE}`. Next: throttle reasons.",
                "celsius",
                (Query(on_fleet(n.GPU_TEMPERATURE), GPU_LEGEND),),
            ),
            Panel(
                "timeseries",
                "Clocks",
                f"SM and memory clocks, from `{n.GPU_CLOCK}`; a falling SM clock under load is throttling.",
                "hertz",
                (Query(on_fleet(f'{n.GPU_CLOCK}{{{n.CLOCK}=~"sm|memory"}}'), "{{clock}} " + GPU_LEGEND),),
            ),
            Panel(
                "state-timeline",
                "Throttle reasons",
                f"Thermal or power throttling per GPU, from `{n.GPU_THROTTLE}` (by `{n.THROTTLE_CAUSE}`). Alerts "
                f"after {t.throttle_for}.",
                "none",
                (Query(on_fleet(n.GPU_THROTTLE), "{{cause}} " + GPU_LEGEND),),
                mappings=(StateText(0, "ok", GOOD), StateText(1, "throttled", BAD)),
                thresholds=(Step(None, GOOD), Step(1, BAD)),
            ),
        ),
    )


def _errors() -> Row:
    return Row(
        "Errors",
        (
            Panel(
                "timeseries",
                "Xid errors",
                f"Xid events per GPU and code over 5 minutes, from `{n.GPU_XID_ERRORS_INCREASE}`. Application Xids "
                "(13, 31, 43, …) are a user program's fault; others mean drain the node. Next: the GPU runbooks.",
                "short",
                (Query(on_fleet(f"{n.GPU_XID_ERRORS_INCREASE} > 0"), "Xid {{xid}} " + GPU_LEGEND),),
                width=12,
                empty_when="no GPU reported an Xid error in the time range",
            ),
            Panel(
                "timeseries",
                "Uncorrectable ECC errors",
                f"Double-bit ECC errors per GPU over 5 minutes, from `{n.GPU_ECC_UNCORRECTED_INCREASE}` (0 is good); "
                "any error means the GPU needs a reset and possibly an RMA.",
                "short",
                (Query(on_fleet(n.GPU_ECC_UNCORRECTED_INCREASE), GPU_LEGEND),),
                thresholds=(Step(None, GOOD), Step(1, BAD)),
                threshold_style="line",
                width=12,
            ),
        ),
    )


def _attribution() -> Row:
    alloc_sel = f'{n.GPU_ALLOCATION}{{{n.NAMESPACE}=~"$namespace",{n.POD}=~"$pod"}}'
    mig = f"{n.GPU_MIG_INFO} * on ({n.MIG_UUID}) group_left () {n.GPU_MIG_MEMORY_TOTAL}"
    return Row(
        "Attribution and MIG",
        (
            Panel(
                "table",
                "GPU → node / pod / namespace",
                f"Who holds which GPU and how much of it (1 exclusive, 1/N time-sliced, slices/7 for MIG), from "
                f"`{n.GPU_ALLOCATION}` joined with `{n.GPU_NODE_INFO}`. Next: the Cost dashboard.",
                "percentunit",
                (Query(on_fleet(alloc_sel), "share"),),
                width=24,
                height=7,
                links=(links.COST,),
            ),
            Panel(
                "timeseries",
                "MIG instances: memory used per slice",
                f"Memory used over size of each MIG instance (labelled by profile), from `{n.GPU_MIG_MEMORY_USED}` / "
                f"`{n.GPU_MIG_MEMORY_TOTAL}` and `{n.GPU_MIG_INFO}`.",
                "percentunit",
                (
                    Query(
                        on_fleet(
                            f"{n.GPU_MIG_MEMORY_USED} / on ({n.GPU_UUID}, {n.MIG_UUID}) group_left ({n.MIG_PROFILE}) "
                            f"({mig})",
                        ),
                        "{{profile}} {{mig_uuid}}",
                    ),
                ),
                min=0,
                max=1,
                width=12,
                empty_when="no GPU on the selected nodes is in MIG mode",
            ),
            Panel(
                "table",
                "MIG instances",
                f"Every MIG instance, its parent GPU and profile, from `{n.GPU_MIG_INFO}` and "
                f"`{n.GPU_MIG_MEMORY_TOTAL}`.",
                "bytes",
                (Query(on_fleet(mig), "size"),),
                width=12,
                empty_when="no GPU on the selected nodes is in MIG mode",
            ),
        ),
    )


def dashboard(config: InferwatchConfig) -> DashboardSpec:
    """The GPU fleet dashboard of ``config``."""
    return DashboardSpec(
        name=links.GPU_UID,
        title="inferwatch / GPU fleet",
        description="GPUs from the inferwatch exporter or dcgm-exporter: health, utilization, errors, attribution.",
        variables=variables.GPU,
        rows=(_fleet(config), _usage(config), _errors(), _attribution()),
    )
