"""The normalization layer: the only rules that read raw `vllm:*`, `DCGM_*` and `inferwatch_*` series.

Each rule records one `inferwatch:*` name of inferwatch.conventions.normalized from every source a
real fleet has:

- vLLM's current metric names *and* the older names (a rename upstream never blanks a
  dashboard), aggregated over `engine` (the data-parallel rank) the way each kind allows: sum
  for counters and histograms (keeping `le`), max for KV-cache usage; llm-d-inference-sim's
  quirks (no `engine`, `finish_reason`) land in the same series;
- GPUs from the inferwatch exporter *or* NVIDIA dcgm-exporter, converted to base units and keyed
  by `gpu_uuid`. Where both report a GPU the inferwatch exporter wins (`A or on (gpu_uuid) B`),
  so nothing is counted twice; `max by (gpu_uuid)` likewise folds a GPU scraped by two exporters
  (a sidecar and a DaemonSet) into one series. A GPU's allocation comes from the kubelet (the
  DaemonSet) where it knows the GPU, from the sidecars' claims only where it does not.

Every rule is built from data (the source tables below), in one pure function.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from inferwatch import contract as x
from inferwatch.conventions import normalized as c
from inferwatch.promql import escape_label_value
from inferwatch.rules import RecordingRule, RuleGroup

# Groups whose names start with this prefix are the normalization layer; no other group may
# name a raw metric (tests/alerts/test_raw_metrics.py checks every generated rule file).
NORMALIZE_GROUP_PREFIX = "inferwatch-normalize"

_W = c.RATE_WINDOW
_VLLM_BY = ", ".join(c.VLLM_LABELS)
# Targets that served vLLM (or exporter) metrics within this window count as such targets
# even while they are down and serve nothing.
_TARGET_MEMORY = "1h"
# Whole-GPU series of the inferwatch exporter; MIG instances carry a non-empty mig_uuid.
_WHOLE_GPU = '{mig_uuid=""}'
_MIB = 1048576


@dataclass(frozen=True)
class VLLMCounter:
    """A normalized vLLM counter: its recorded name and the raw names, current first."""

    record: str
    sources: tuple[str, ...]


# Histograms by conventions key: raw family names, the current one first, older ones after.
VLLM_HISTOGRAM_SOURCES: dict[str, tuple[str, ...]] = {
    "ttft": ("vllm:time_to_first_token_seconds",),
    "itl": ("vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds"),
    "tpot": ("vllm:request_time_per_output_token_seconds",),
    "e2e": ("vllm:e2e_request_latency_seconds",),
    "queue": ("vllm:request_queue_time_seconds",),
    "prefill": ("vllm:request_prefill_time_seconds",),
    "decode": ("vllm:request_decode_time_seconds",),
}

VLLM_COUNTERS: tuple[VLLMCounter, ...] = (
    VLLMCounter(c.VLLM_PROMPT_TOKENS_RATE, ("vllm:prompt_tokens_total",)),
    VLLMCounter(c.VLLM_GENERATION_TOKENS_RATE, ("vllm:generation_tokens_total",)),
    VLLMCounter(c.VLLM_PREEMPTIONS_RATE, ("vllm:num_preemptions_total",)),
    VLLMCounter(c.VLLM_PREFIX_CACHE_HITS_RATE, ("vllm:prefix_cache_hits_total", "vllm:gpu_prefix_cache_hits_total")),
    VLLMCounter(
        c.VLLM_PREFIX_CACHE_QUERIES_RATE,
        ("vllm:prefix_cache_queries_total", "vllm:gpu_prefix_cache_queries_total"),
    ),
)


def _first_of(parts: list[str]) -> str:
    """`A or B or …`: the first source present for a label set wins, later ones fill gaps."""
    return "\nor\n".join(parts)


def _sum_over_engines(inner: str, *extra: str) -> str:
    """Sum over `engine`, after folding copies of one series scraped twice (vLLM itself and the
    inferwatch sidecar's pass-through differ only in job/instance/container) with max."""
    by = ", ".join((*c.VLLM_LABELS, *extra))
    return f"sum by ({by}) (max by ({by}, {c.ENGINE}) ({inner}))"


def _vllm_histogram_rules() -> list[RecordingRule]:
    rules = []
    for kind, sources in VLLM_HISTOGRAM_SOURCES.items():
        for part in ("bucket", "count", "sum"):
            if part == "bucket":
                # Go clients write le="2", Python ones le="2.0"; Prometheus 3 stores both as "2.0",
                # Prometheus 2 as scraped. Spelling integers the float way gives one form on both.
                exprs = [
                    _sum_over_engines(
                        f'label_replace(rate({src}_bucket[{_W}]), "{c.LE}", "$1.0", "{c.LE}", "([0-9]+)")', c.LE
                    )
                    for src in sources
                ]
            else:
                exprs = [_sum_over_engines(f"rate({src}_{part}[{_W}])") for src in sources]
            rules.append(RecordingRule(c.histogram_series(kind, part), _first_of(exprs)))
    return rules


def _vllm_counter_rules() -> list[RecordingRule]:
    rules = []
    for counter in VLLM_COUNTERS:
        exprs = [_sum_over_engines(f"rate({src}[{_W}])") for src in counter.sources]
        rules.append(RecordingRule(counter.record, _first_of(exprs)))
    # vLLM labels the reason `finished_reason`; llm-d-inference-sim says `finish_reason`.
    rules.append(
        RecordingRule(
            c.VLLM_REQUESTS_FINISHED_RATE,
            _sum_over_engines(
                f'label_replace(rate(vllm:request_success_total[{_W}]), "{c.FINISHED_REASON}", "$1", '
                f'"finish_reason", "(.+)")',
                c.FINISHED_REASON,
            ),
        )
    )
    # The API server's HTTP counter (prometheus-fastapi-instrumentator) by status class; the
    # name is generic, so only pods that also serve vLLM metrics count.
    rules.append(
        RecordingRule(
            c.VLLM_HTTP_REQUESTS_RATE,
            f"sum by ({c.NAMESPACE}, {c.POD}, {c.STATUS}) (\n"
            f'  label_replace(rate(http_requests_total[{_W}]), "{c.STATUS}", "${{1}}xx", "{c.STATUS}", "([1-5]).."))\n'
            f"and on ({c.NAMESPACE}, {c.POD})\n"
            f"group by ({c.NAMESPACE}, {c.POD}) (vllm:num_requests_running)",
        )
    )
    return rules


def _vllm_gauge_rules() -> list[RecordingRule]:
    return [
        RecordingRule(c.VLLM_REQUESTS_RUNNING, _sum_over_engines("vllm:num_requests_running")),
        RecordingRule(c.VLLM_REQUESTS_WAITING, _sum_over_engines("vllm:num_requests_waiting")),
        RecordingRule(
            c.VLLM_KV_CACHE_USAGE,
            _first_of(
                [
                    f"max by ({_VLLM_BY}) (vllm:kv_cache_usage_perc)",
                    f"max by ({_VLLM_BY}) (vllm:gpu_cache_usage_perc)",
                ]
            ),
        ),
    ]


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


def _gpu_rules() -> list[RecordingRule]:
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


def _kube_rules() -> list[RecordingRule]:
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


def _target_rules() -> list[RecordingRule]:
    def target_up(*families: str) -> str:
        seen = " or ".join(f"last_over_time({f}[{_TARGET_MEMORY}])" for f in families)
        return (
            f"max by ({c.NAMESPACE}, {c.POD}, instance, job) (\n"
            f"  up and on (instance, job) group by (instance, job) ({seen})\n)"
        )

    return [
        RecordingRule(
            c.VLLM_TARGET_UP,
            # A sidecar passing vLLM's metrics through answers its scrape (up = 1) while vLLM
            # behind it does not: the sidecar's own inferwatch_vllm_up says so, and the lower wins.
            f"min by ({c.NAMESPACE}, {c.POD}, instance, job) (\n"
            f"  up\n  or\n"
            f'  label_replace({x.VLLM_UP.name}, "via", "sidecar", "job", ".*")\n)\n'
            f"and on (instance, job)\n"
            f"group by (instance, job) (last_over_time(vllm:num_requests_running[{_TARGET_MEMORY}]))",
        ),
        RecordingRule(
            c.GPU_EXPORTER_TARGET_UP,
            f'label_replace({target_up(x.GPU_INFO.name, x.VLLM_UP.name)}, "exporter", "inferwatch", '
            f'"job", ".*")\nor\n'
            f'label_replace({target_up("DCGM_FI_DEV_GPU_UTIL")}, "exporter", "dcgm", "job", ".*")',
        ),
    ]


def slo_counter_group(
    name: str, interval: str, histograms: Mapping[str, Sequence[str]], availability: bool
) -> RuleGroup | None:
    """The raw counters the configured SLOs count, as normalized counters (values, not rates), per pod.

    ``histograms`` maps a histogram kind to the `le` patterns (`le_regex`) its SLOs use; with
    ``availability``, finished requests by reason and HTTP 5xx responses. Summed over `engine`
    like every normalized vLLM series (a pod's counters reset together, so the sum stays a
    counter). None when there is nothing to count. The SLOs' checkpoints read these.
    """
    rules: list[RecordingRule] = []
    for kind, patterns in histograms.items():
        sources = VLLM_HISTOGRAM_SOURCES[kind]
        le = escape_label_value("|".join(dict.fromkeys(patterns)))
        buckets = [
            _sum_over_engines(
                f'label_replace({src}_bucket{{{c.LE}=~"{le}"}}, "{c.LE}", "$1.0", "{c.LE}", "([0-9]+)")', c.LE
            )
            for src in sources
        ]
        rules.append(RecordingRule(c.counter_series(kind, "bucket"), _first_of(buckets)))
        rules.append(
            RecordingRule(
                c.counter_series(kind, "count"), _first_of([_sum_over_engines(f"{src}_count") for src in sources])
            )
        )
    if availability:
        rules.append(
            RecordingRule(
                c.VLLM_REQUESTS_FINISHED_COUNTER,
                _sum_over_engines(
                    f'label_replace(vllm:request_success_total, "{c.FINISHED_REASON}", "$1", "finish_reason", "(.+)")',
                    c.FINISHED_REASON,
                ),
            )
        )
        rules.append(
            RecordingRule(
                c.VLLM_HTTP_REQUESTS_COUNTER,
                f"sum by ({c.NAMESPACE}, {c.POD}, {c.STATUS}) (\n"
                f'  label_replace(http_requests_total{{{c.STATUS}=~"5.."}}, "{c.STATUS}", "${{1}}xx", "{c.STATUS}", '
                f'"([1-5]).."))\n'
                f"and on ({c.NAMESPACE}, {c.POD})\n"
                f"group by ({c.NAMESPACE}, {c.POD}) (vllm:num_requests_running)",
            )
        )
    return RuleGroup(name, tuple(rules), interval) if rules else None


def normalization_groups() -> tuple[RuleGroup, ...]:
    """The normalization layer as rule groups (pure; the same every time)."""
    return (
        RuleGroup(
            f"{NORMALIZE_GROUP_PREFIX}-vllm",
            tuple(_vllm_histogram_rules() + _vllm_counter_rules() + _vllm_gauge_rules()),
        ),
        RuleGroup(f"{NORMALIZE_GROUP_PREFIX}-gpu", tuple(_gpu_rules())),
        RuleGroup(f"{NORMALIZE_GROUP_PREFIX}-kube", tuple(_kube_rules() + _target_rules())),
        RuleGroup(f"{NORMALIZE_GROUP_PREFIX}-dashboards", tuple(_dashboard_rules())),
    )


def _dashboard_rules() -> list[RecordingRule]:
    """Series only the dashboards read: node and MIG identity, power limit, clocks, SLO alert state."""
    # Imported here so this group stays one self-contained addition to the module.
    from inferwatch.conventions import slo as s

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
