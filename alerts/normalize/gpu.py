"""The GPU series: from the inferwatch exporter or NVIDIA dcgm-exporter, and kube-state-metrics' GPU requests.

GPUs come from the inferwatch exporter *or* NVIDIA dcgm-exporter, converted to base units and
keyed by `gpu_uuid`. Where both report a GPU the inferwatch exporter wins (`A or on (gpu_uuid)
B`), so nothing is counted twice; `max by (gpu_uuid)` likewise folds a GPU scraped by two
exporters (a sidecar and a DaemonSet) into one series. A GPU's allocation comes from the kubelet
(the DaemonSet) where it knows the GPU, from the sidecars' claims only where it does not. The
series only the dashboards read (node and MIG identity, power limit, clocks, SLO alert state)
are here too.
"""

from __future__ import annotations

from inferwatch import contract as x
from inferwatch.alerts.normalize.expressions import TARGET_MEMORY, W
from inferwatch.conventions import normalized as c
from inferwatch.conventions import slo as s
from inferwatch.rules import RecordingRule

_W = W
# Whole-GPU series of the inferwatch exporter; MIG instances carry a non-empty mig_uuid.
_WHOLE_GPU = '{mig_uuid=""}'
_MIB = 1048576


def _dcgm(expr: str, *extra_by: str) -> str:
    """`max by (gpu_uuid, …)` of a dcgm-exporter expression, its `UUID` label renamed `gpu_uuid`."""
    by = ", ".join((c.GPU_UUID, *extra_by))
    return f'max by ({by}) (label_replace({expr}, "{c.GPU_UUID}", "$1", "UUID", "(.+)"))'


def _prefer_inferwatch(inferwatch: str, dcgm: str) -> str:
    """The inferwatch exporter's series; dcgm-exporter's only for GPUs the inferwatch exporter lacks."""
    return f"{inferwatch}\nor on ({c.GPU_UUID})\n{dcgm}"


def _iw(expr: str, *extra_by: str) -> str:
    by = ", ".join((c.GPU_UUID, *extra_by))
    return f"max by ({by}) ({expr})"


def _allocation(source: str) -> str:
    """The inferwatch exporter's allocations whose `source` label matches `source`, one series per
    GPU and container: copies of one series (two scrapes) fold with max, and the MIG instances of
    one GPU a container holds add up."""
    by = f"{c.GPU_UUID}, {c.NAMESPACE}, {c.POD}, {c.CONTAINER}"
    return f"sum by ({by}) (max by ({by}, {c.MIG_UUID}) ({x.GPU_ALLOCATION.name}{{{source}}}))"


def _inferwatch_allocation() -> str:
    """Per GPU, the kubelet's attribution where a DaemonSet knows the GPU, else the sidecars' claims.

    A sidecar claims every GPU it sees for its own pod; beside a device-plugin GPU request it runs
    with NVIDIA_VISIBLE_DEVICES=all and sees every GPU of the node, so on a shared node every
    sidecar claims every GPU. The DaemonSet's answer comes from the kubelet and is exact, both for
    the GPUs it attributes and for the device-plugin GPUs nobody holds (served as
    inferwatch_podresources_gpu_info): sidecar claims on those are dropped. A GPU the DaemonSet
    does not know (its attribution off, GPUs allocated through DRA) keeps the sidecars' claims. A
    series without the `source` label (an exporter older than the label) counts as the kubelet's:
    before the label every source counted alike.

    `unless on (gpu_uuid)` then a plain `or`, not `or on (gpu_uuid)`: MetricsQL evaluates both
    point by point, and its `or on (gpu_uuid)` would fill a gap of one pod's kubelet series with
    another pod's sidecar claim on the same GPU; `unless` drops a claim at each point the kubelet
    knows the GPU, and the two sides of the `or` then never share a GPU at one point.
    """
    source = x.ALLOCATION_SOURCE
    kubelet_selector = f'{source}!="{x.ALLOCATION_FROM_SIDECAR}"'
    kubelet = _allocation(kubelet_selector)
    sidecar = _allocation(f'{source}="{x.ALLOCATION_FROM_SIDECAR}"')
    known = f"{x.GPU_ALLOCATION.name}{{{kubelet_selector}}} or {x.PODRESOURCES_GPU_INFO.name}"
    return f"(\n  {kubelet}\nor\n  (\n    {sidecar}\n    unless on ({c.GPU_UUID})\n    ({known})\n  )\n)"


def gpu_rules() -> list[RecordingRule]:
    """Every per-GPU series, from whichever exporter reports the GPU."""
    util = "DCGM_FI_DEV_GPU_UTIL"
    label_model = f'label_replace({util}, "{c.GPU_MODEL}", "$1", "modelName", "(.+)")'
    thermal = f'{x.GPU_THROTTLE.name}{{mig_uuid="",reason=~"(?i).*thermal.*"}}'
    power = f'{x.GPU_THROTTLE.name}{{mig_uuid="",reason=~"(?i).*power.*"}}'
    # dcgm's throttle reasons are a bitmask: 0x20 SW thermal, 0x40 HW thermal slowdown,
    # 0x4 SW power cap, 0x80 HW power brake.
    reasons = "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS"
    ecc = f'{x.GPU_ECC_ERRORS.name}{{mig_uuid="",type=~"(?i).*uncorrect.*"}}'
    attached = util + '{pod!=""}'
    xid = f"{x.GPU_XID_ERRORS.name}{_WHOLE_GPU}"
    return [
        RecordingRule(
            c.GPU_INFO,
            _prefer_inferwatch(
                f"group by ({c.GPU_UUID}, {c.GPU_MODEL}) ({x.GPU_INFO.name}{_WHOLE_GPU})",
                f'group by ({c.GPU_UUID}, {c.GPU_MODEL}) (label_replace({label_model}, "{c.GPU_UUID}", "$1", '
                f'"UUID", "(.+)"))',
            ),
        ),
        RecordingRule(
            c.GPU_UP,
            # dcgm-exporter has no "lost" signal: a GPU it still reports is up (Xid 79 covers loss).
            _prefer_inferwatch(_iw(f"{x.GPU_UP.name}{_WHOLE_GPU}"), f"({_dcgm(util)} * 0 + 1)"),
        ),
        RecordingRule(
            c.GPU_UTILIZATION,
            _prefer_inferwatch(_iw(f"{x.GPU_UTILIZATION.name}{_WHOLE_GPU}"), f"({_dcgm(util)} / 100)"),
        ),
        RecordingRule(
            c.GPU_BUSY_RATE,
            _prefer_inferwatch(
                _iw(f"rate({x.GPU_BUSY.name}{_WHOLE_GPU}[{_W}])"),
                f"({_dcgm(f'avg_over_time({util}[{_W}])')} / 100)",
            ),
        ),
        RecordingRule(
            c.GPU_MEMORY_USED,
            _prefer_inferwatch(
                _iw(f"{x.GPU_MEMORY_USED.name}{_WHOLE_GPU}"), f"({_dcgm('DCGM_FI_DEV_FB_USED')} * {_MIB})"
            ),
        ),
        RecordingRule(
            c.GPU_MEMORY_TOTAL,
            _prefer_inferwatch(
                _iw(f"{x.GPU_MEMORY_TOTAL.name}{_WHOLE_GPU}"),
                f"(({_dcgm('DCGM_FI_DEV_FB_USED')} + {_dcgm('DCGM_FI_DEV_FB_FREE')}) * {_MIB})",
            ),
        ),
        RecordingRule(
            c.GPU_POWER,
            _prefer_inferwatch(_iw(f"{x.GPU_POWER.name}{_WHOLE_GPU}"), _dcgm("DCGM_FI_DEV_POWER_USAGE")),
        ),
        RecordingRule(
            c.GPU_ENERGY_RATE,
            _prefer_inferwatch(
                _iw(f"rate({x.GPU_ENERGY.name}{_WHOLE_GPU}[{_W}])"),
                f"({_dcgm(f'rate(DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION[{_W}])')} / 1000)",
            ),
        ),
        RecordingRule(
            c.GPU_TEMPERATURE,
            # The GPU core sensor: what DCGM_FI_DEV_GPU_TEMP reports too (memory has its own limits).
            _prefer_inferwatch(
                _iw(f'{x.GPU_TEMPERATURE.name}{{mig_uuid="",sensor="gpu"}}'), _dcgm("DCGM_FI_DEV_GPU_TEMP")
            ),
        ),
        RecordingRule(
            c.GPU_XID_ERRORS_INCREASE,
            _prefer_inferwatch(
                # An Xid's series appears with its first event (value 1), which increase() cannot
                # see; a series absent a window ago counts from 0.
                _iw(f"clamp_min({xid} - ({xid} offset {_W} or {xid} * 0), 0)", "xid"),
                # dcgm-exporter keeps only the *last* Xid code as a gauge value: count_values
                # turns the code into the `xid` label; a change within the window is a new event.
                f'clamp_max(count_values by ({c.GPU_UUID}) ("xid",\n'
                f'  label_replace(DCGM_FI_DEV_XID_ERRORS != 0, "{c.GPU_UUID}", "$1", "UUID", "(.+)")\n'
                f"  and on ({c.GPU_UUID})\n"
                f'  label_replace(changes(DCGM_FI_DEV_XID_ERRORS[{_W}]) > 0, "{c.GPU_UUID}", "$1", "UUID", "(.+)")\n'
                f"), 1)",
            ),
        ),
        RecordingRule(
            c.GPU_ECC_UNCORRECTED_INCREASE,
            _prefer_inferwatch(
                f"sum by ({c.GPU_UUID}) ({_iw(f'increase({ecc}[{_W}])', 'type')})",
                _dcgm(f"increase(DCGM_FI_DEV_ECC_DBE_VOL_TOTAL[{_W}])"),
            ),
        ),
        RecordingRule(
            c.GPU_THROTTLE,
            _prefer_inferwatch(
                f'label_replace({_iw(thermal)}, "{c.THROTTLE_CAUSE}", "thermal", "{c.GPU_UUID}", ".*")\n'
                f'or label_replace({_iw(power)}, "{c.THROTTLE_CAUSE}", "power", "{c.GPU_UUID}", ".*")',
                f'label_replace(clamp_max(floor({_dcgm(reasons)} / 32) % 4, 1), "{c.THROTTLE_CAUSE}", "thermal", '
                f'"{c.GPU_UUID}", ".*")\n'
                f"or label_replace(clamp_max(floor({_dcgm(reasons)} / 4) % 2 + floor({_dcgm(reasons)} / 128) % 2, 1), "
                f'"{c.THROTTLE_CAUSE}", "power", "{c.GPU_UUID}", ".*")',
            ),
        ),
        RecordingRule(
            c.GPU_ALLOCATION,
            _prefer_inferwatch(
                _inferwatch_allocation(),
                # dcgm-exporter knows the pod a GPU is attached to, not time-slicing: whole GPU.
                f"({_dcgm(attached, c.NAMESPACE, c.POD, c.CONTAINER)} * 0 + 1)",
            ),
        ),
        RecordingRule(
            c.GPU_SAMPLE_AGE,
            # The inferwatch exporter only: dcgm-exporter has no sample-age series. A GPU two exporters
            # scrape keeps the older age, since the other normalized series may carry either's values.
            _iw(f"{x.GPU_SAMPLE_AGE.name}{_WHOLE_GPU}"),
        ),
    ]


def kube_rules() -> list[RecordingRule]:
    """GPUs requested by Running pods, from kube-state-metrics."""
    return [
        RecordingRule(
            c.GPU_REQUESTED,
            # Only Running pods hold their GPUs (Pending ones wait for them, finished ones gave them back).
            f"sum by ({c.NAMESPACE}, {c.POD}, {c.CONTAINER}) "
            f'(kube_pod_container_resource_requests{{resource="nvidia_com_gpu"}})\n'
            f"* on ({c.NAMESPACE}, {c.POD}) group_left ()\n"
            f'(max by ({c.NAMESPACE}, {c.POD}) (kube_pod_status_phase{{phase="Running"}}) == 1)',
        )
    ]


def gpu_exporter_target_up() -> RecordingRule:
    """`up` of GPU exporter targets (the inferwatch exporter's or dcgm-exporter's), by exporter."""

    def target_up(*families: str) -> str:
        seen = " or ".join(f"last_over_time({f}[{TARGET_MEMORY}])" for f in families)
        return (
            f"max by ({c.NAMESPACE}, {c.POD}, instance, job) (\n"
            f"  up and on (instance, job) group by (instance, job) ({seen})\n)"
        )

    return RecordingRule(
        c.GPU_EXPORTER_TARGET_UP,
        f'label_replace({target_up(x.GPU_INFO.name, x.VLLM_UP.name)}, "exporter", "inferwatch", '
        f'"job", ".*")\nor\n'
        f'label_replace({target_up("DCGM_FI_DEV_GPU_UTIL")}, "exporter", "dcgm", "job", ".*")',
    )


def dashboard_rules() -> list[RecordingRule]:
    """Series only the dashboards read: node and MIG identity, power limit, clocks, SLO alert state."""

    mig_by = f"{c.GPU_UUID}, {c.MIG_UUID}"
    dcgm_node = (
        f'label_replace(label_replace(label_replace(DCGM_FI_DEV_GPU_UTIL, "{c.GPU_UUID}", "$1", "UUID", "(.+)"), '
        f'"{c.GPU_MODEL}", "$1", "modelName", "(.+)"), "{c.NODE}", "$1", "Hostname", "(.+)")'
    )
    info_by = f"{c.GPU_UUID}, {c.GPU_MODEL}, {c.NODE}"
    alerts = 'ALERTS{alertstate="firing",alertname="%s"}'
    return [
        RecordingRule(
            c.GPU_NODE_INFO,
            # A GPU seen by a DaemonSet (whose target carries the node) and by a sidecar (whose
            # target does not) keeps the node.
            f'group by ({info_by}) (inferwatch_gpu_info{{mig_uuid="",{c.NODE}!=""}})\n'
            f"or on ({c.GPU_UUID})\n"
            f"group by ({info_by}) (inferwatch_gpu_info{_WHOLE_GPU})\n"
            f"or on ({c.GPU_UUID})\n"
            f"group by ({info_by}) ({dcgm_node})",
        ),
        RecordingRule(
            c.GPU_POWER_LIMIT,
            _prefer_inferwatch(
                _iw(f"inferwatch_gpu_power_limit_watts{_WHOLE_GPU}"), _dcgm("DCGM_FI_DEV_POWER_MGMT_LIMIT")
            ),
        ),
        RecordingRule(
            c.GPU_CLOCK,
            _prefer_inferwatch(
                _iw(f"inferwatch_gpu_clock_hertz{_WHOLE_GPU}", c.CLOCK),
                f'label_replace({_dcgm("DCGM_FI_DEV_SM_CLOCK")} * 1e6, "{c.CLOCK}", "sm", "{c.GPU_UUID}", ".*")\n'
                f'or label_replace({_dcgm("DCGM_FI_DEV_MEM_CLOCK")} * 1e6, "{c.CLOCK}", "memory", '
                f'"{c.GPU_UUID}", ".*")',
            ),
        ),
        RecordingRule(
            c.GPU_MIG_INFO,
            f"group by ({mig_by}, {c.MIG_PROFILE}) (inferwatch_gpu_mig_info)",
        ),
        RecordingRule(c.GPU_MIG_MEMORY_USED, f"max by ({mig_by}) (inferwatch_gpu_mig_memory_used_bytes)"),
        RecordingRule(c.GPU_MIG_MEMORY_TOTAL, f"max by ({mig_by}) (inferwatch_gpu_mig_memory_total_bytes)"),
        RecordingRule(
            c.SLO_ALERT_STATE,
            # Every label but the alert's own: what is left is the SLO and its group labels.
            f"max without (alertname, alertstate, severity, {s.WINDOW_LABEL}) (\n"
            f"  {alerts % s.ALERT_PAGE} * 2\n"
            f"  or {alerts % s.ALERT_TICKET}\n"
            f"  or {s.ERROR_BUDGET_REMAINING} * 0\n)",
        ),
    ]
