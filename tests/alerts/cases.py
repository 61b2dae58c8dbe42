"""Input series for promtool unit tests: for every alert, one history that fires it and one that does not.

Inputs are *raw* series (vLLM, inferwatch exporter, up), so each case runs through the
normalization rules and the alert rules together, as Prometheus runs them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from inferwatch.config import Thresholds
from inferwatch.config.durations import duration_seconds
from inferwatch.conventions import cost

# The thresholds the cases are written for: the defaults (tests/alerts/test_promtool.py builds
# its rules from them). Evaluation times are the alert's configured `for:` plus the warm-up its
# expression needs, so a changed default moves the cases with it.
T = Thresholds()

VLLM = 'namespace="ns1",pod="vllm-0",model_name="llama",job="vllm",instance="10.0.0.1:8000"'
GPU = 'gpu_uuid="GPU-1",namespace="ns1",pod="vllm-0",job="inferwatch-exporter",instance="10.0.0.1:9400"'
GPU_INFO = f'inferwatch_gpu_info{{{GPU},gpu_model="NVIDIA H100 80GB HBM3",gpu_index="0"}}'
EXPORTER_TARGET = 'namespace="ns1",pod="vllm-0",job="inferwatch-exporter",instance="10.0.0.1:9400"'
EXPORTER_INFO = f'inferwatch_exporter_info{{{EXPORTER_TARGET},version="0.9.0",gpu_backend="nvml"}}'
H100 = {"gpu_uuid": "GPU-1", "gpu_model": "NVIDIA H100 80GB HBM3"}
POD = {"namespace": "ns1", "pod": "vllm-0", "model_name": "llama"}
SIDECAR = 'namespace="ns1",pod="vllm-0",job="sidecar",instance="10.0.0.1:9400"'
TARGET = {"namespace": "ns1", "pod": "vllm-0", "instance": "10.0.0.1:8000", "job": "vllm"}
EPP = 'namespace="ns1",job="epp",instance="10.0.0.5:9090"'
ROUTED = f'{EPP},model_name="llama",target_model_name="llama"'
POOL = {"namespace": "ns1", "pool": "llama-pool"}
COST_HEARTBEAT, COST_GROUP_LABEL = cost.RECORDING_HEARTBEAT, cost.RULE_GROUP_LABEL
LEVEL0, LEVEL1 = f"{cost.GROUP_PREFIX}-level0", f"{cost.GROUP_PREFIX}-level1"
COST_GAP = cost.ALERT_RECORDING_GAP


def cost_gap(group: str, reason: str) -> dict[str, str]:
    """The labels of InferwatchCostRecordingGap for one cost group and reason."""
    return {"severity": "ticket", COST_GROUP_LABEL: group, cost.GAP_REASON_LABEL: reason}


def series(name_and_labels: str, values: str) -> dict[str, str]:
    """One promtool input series."""
    return {"series": name_and_labels, "values": values}


def at(for_: str, warmup_minutes: int) -> str:
    """An evaluation time: ``warmup_minutes`` for the expression's windows to fill, plus the alert's ``for:``."""
    return f"{duration_seconds(for_) // 60 + warmup_minutes}m"


def heartbeat(group: str, values: str) -> dict[str, str]:
    """A cost rule group's heartbeat as the group records it: its interval (the tests' 60 s) at each evaluation."""
    return series(f'{COST_HEARTBEAT}{{{COST_GROUP_LABEL}="{group}"}}', values)


def routed(
    per_minute: int, shed_per_minute: int, *, code: str = "ResourceExhausted", g2: bool = True
) -> list[dict[str, str]]:
    """A router's scheduled and shed requests a minute, in llm_d_epp_* names or the Inference Extension's."""
    request, errors, ready = (
        ("llm_d_epp_request_total", "llm_d_epp_request_error_total", "llm_d_epp_ready_endpoints")
        if g2
        else (
            "inference_objective_request_total",
            "inference_objective_request_error_total",
            "inference_pool_ready_pods",
        )
    )
    fairness = ',fairness_id="default-flow",priority="0"' if g2 else ""
    return [
        series(f"{request}{{{ROUTED}{fairness}}}", f"0+{per_minute}x40"),
        series(f'{errors}{{{ROUTED}{fairness},error_code="{code}"}}', f"0+{shed_per_minute}x40"),
        series(f'{ready}{{{EPP},name="llama-pool"}}', "2x40"),
    ]


def ttft(engine: str, buckets: dict[str, int]) -> list[dict[str, str]]:
    """TTFT histogram of one engine whose buckets grow by the given counts per minute (the +Inf one is the
    request count: every request observes one TTFT)."""
    return [
        series(f'vllm:time_to_first_token_seconds_bucket{{{VLLM},engine="{engine}",le="{le}"}}', f"0+{n}x40")
        for le, n in buckets.items()
    ] + ttft_count(engine, buckets["+Inf"])


def ttft_count(engine: str, per_minute: int) -> list[dict[str, str]]:
    """The TTFT count of one engine: ``per_minute`` requests a minute."""
    return [series(f'vllm:time_to_first_token_seconds_count{{{VLLM},engine="{engine}"}}', f"0+{per_minute}x40")]


def itl(buckets: dict[str, int], requests_per_minute: int) -> list[dict[str, str]]:
    """Inter-token-latency histogram (one engine) growing by the given counts per minute, at a request rate."""
    return [
        series(f'vllm:inter_token_latency_seconds_bucket{{{VLLM},engine="0",le="{le}"}}', f"0+{n}x40")
        for le, n in buckets.items()
    ] + ttft_count("0", requests_per_minute)


@dataclass(frozen=True)
class AlertCase:
    """A history for one alert, when to evaluate it, and whether/how it fires."""

    alert: str
    inputs: list[dict[str, str]]
    eval_time: str
    labels: dict[str, str] = field(default_factory=dict)  # empty: the alert must stay quiet
    value_text: str = ""  # how the description renders {{ $value | … }}

    @property
    def fires(self) -> bool:
        """Whether this case expects the alert to fire."""
        return bool(self.labels)


_TEMPLATE = re.compile(r"\{\{\s*(\$labels\.(\w+)|\$value(\s*\|\s*\w+)?)\s*\}\}")


def render(template: str, labels: dict[str, str], value_text: str) -> str:
    """Render the few template forms the alerts use, to state the exact expected annotation."""

    def sub(m: re.Match[str]) -> str:
        return labels[m.group(2)] if m.group(2) else value_text

    return _TEMPLATE.sub(sub, template)


FIRING: list[AlertCase] = [
    AlertCase(
        "VLLMTimeToFirstTokenHigh",
        # Two data-parallel engines, every request in the (2.5, 5] bucket: P95 = 4.875 s.
        ttft("0", {"1": 0, "2.5": 0, "5": 10, "+Inf": 10}) + ttft("1", {"1": 0, "2.5": 0, "5": 10, "+Inf": 10}),
        at(T.ttft_for, 10),
        {"severity": "page", "namespace": "ns1", "model_name": "llama"},
        "4.875s",
    ),
    # Low traffic, but above the minimum (15 requests a minute = 0.25/s >= 0.2/s): still judged.
    AlertCase(
        "VLLMTimeToFirstTokenHigh",
        ttft("0", {"1": 0, "2.5": 0, "5": 15, "+Inf": 15}),
        at(T.ttft_for, 10),
        {"severity": "page", "namespace": "ns1", "model_name": "llama"},
        "4.875s",
    ),
    AlertCase(
        "VLLMInterTokenLatencyHigh",
        itl({"0.1": 0, "0.5": 60, "+Inf": 60}, requests_per_minute=15),
        at(T.itl_for, 10),
        {"severity": "ticket", "namespace": "ns1", "model_name": "llama"},
        "480ms",
    ),
    AlertCase(
        "VLLMKVCacheNearlyFull",
        [
            series(f'vllm:kv_cache_usage_perc{{{VLLM},engine="0"}}', "0.97x10"),
            series(f'vllm:kv_cache_usage_perc{{{VLLM},engine="1"}}', "0.5x10"),
        ],
        at(T.kv_cache_for, 3),
        {"severity": "ticket", **POD},
        "97%",
    ),
    AlertCase(
        "VLLMRequestsWaitingGPUIdle",
        [
            series(f'vllm:num_requests_waiting{{{VLLM},engine="0"}}', "3x30"),
            series(f'inferwatch_gpu_allocation_ratio{{{GPU},container="vllm"}}', "1x30"),
            series(f"inferwatch_gpu_busy_seconds_total{{{GPU}}}", "0+1.2x30"),  # 2 % busy
        ],
        at(T.requests_waiting_gpu_idle_for, 10),
        {"severity": "page", **POD},
        "3",
    ),
    AlertCase(
        "VLLMQueueGrowing",
        # Flat from 20m, so the value shown does not depend on which rule group ran first.
        [series(f'vllm:num_requests_waiting{{{VLLM},engine="0"}}', "0+2x20 40x20")],
        at(T.queue_growing_for, 15),
        {"severity": "ticket", **POD},
        "40",
    ),
    AlertCase(
        "VLLMPreemptionsHigh",
        [series(f'vllm:num_preemptions_total{{{VLLM},engine="0"}}', "0+60x30")],
        at(T.preemptions_for, 10),
        {"severity": "ticket", **POD},
        "1",
    ),
    AlertCase(
        "VLLMPrefixCacheHitRateLow",
        [
            series(f'vllm:prefix_cache_queries_total{{{VLLM},engine="0"}}', "0+60000x80"),
            series(f'vllm:prefix_cache_hits_total{{{VLLM},engine="0"}}', "0+3000x80"),
        ],
        at(T.prefix_cache_for, 10),
        {"severity": "ticket", **POD},
        "5%",
    ),
    AlertCase(
        "GPUMemoryNearlyFull",
        [
            series(GPU_INFO, "1x20"),
            series(f"inferwatch_gpu_memory_used_bytes{{{GPU}}}", "78000000000x20"),
            series(f"inferwatch_gpu_memory_total_bytes{{{GPU}}}", "80000000000x20"),
        ],
        at(T.gpu_memory_for, 5),
        {"severity": "ticket", **H100},
        "97.5%",
    ),
    AlertCase(
        "GPULost",
        [series(f"inferwatch_gpu_up{{{GPU}}}", "1 1 0x10")],
        at(T.gpu_lost_for, 7),
        {"severity": "page", "gpu_uuid": "GPU-1"},
        "0",
    ),
    AlertCase(
        "GPUCriticalXid",
        [
            series(GPU_INFO, "1x15"),
            # The exporter creates an Xid's series at its first event.
            series(f'inferwatch_gpu_xid_errors_total{{{GPU},xid="79"}}', "_x6 1x10"),
        ],
        at(T.xid_for, 10),
        {"severity": "page", "xid": "79", **H100},
        "1",
    ),
    AlertCase(
        "GPUUncorrectableECCErrors",
        [
            series(GPU_INFO, "1x15"),
            series(f'inferwatch_gpu_ecc_errors_total{{{GPU},type="uncorrectable"}}', "0x6 2x10"),
            series(f'inferwatch_gpu_ecc_errors_total{{{GPU},type="correctable"}}', "0+5x16"),
        ],
        at(T.ecc_for, 10),
        {"severity": "page", **H100},
        "2",
    ),
    AlertCase(
        "GPUThrottlingSustained",
        [
            series(GPU_INFO, "1x30"),
            series(f'inferwatch_gpu_throttle_active{{{GPU},reason="hw_thermal_slowdown"}}', "1x30"),
            series(f'inferwatch_gpu_throttle_active{{{GPU},reason="sw_power_cap"}}', "0x30"),
        ],
        at(T.throttle_for, 5),
        {"severity": "ticket", "cause": "thermal", **H100},
    ),
    # Every NVML read takes minutes: the exporter still reports the GPU up, but serves values two
    # minutes old. (A steady age: the two promtools evaluate the alert on different steps of a growing one.)
    AlertCase(
        "GPUMetricsStale",
        [
            series(GPU_INFO, "1x20"),
            series(f"inferwatch_gpu_up{{{GPU}}}", "1x20"),
            series(f"inferwatch_gpu_sample_age_seconds{{{GPU}}}", "1 1 120x18"),
        ],
        at(T.gpu_sample_age_for, 4),
        {"severity": "ticket", **H100},
        "2m 0s",
    ),
    AlertCase(
        "VLLMTargetDown",
        [
            series('up{namespace="ns1",pod="vllm-0",job="vllm",instance="10.0.0.1:8000"}', "1 1 1 0x20"),
            series(f'vllm:num_requests_running{{{VLLM},engine="0"}}', "0 0 0 stale"),
        ],
        at(T.vllm_target_down_for, 7),
        {"severity": "page", **TARGET},
        "0",
    ),
    # The sidecar answers its scrape, but vLLM behind it does not.
    AlertCase(
        "VLLMTargetDown",
        [
            series(f"up{{{SIDECAR}}}", "1x20"),
            series(f"inferwatch_vllm_up{{{SIDECAR}}}", "1 1 1 0x20"),
            series(f'vllm:num_requests_running{{{SIDECAR},model_name="llama",engine="0"}}', "0 0 0 stale"),
        ],
        at(T.vllm_target_down_for, 7),
        {"severity": "page", **TARGET, "job": "sidecar", "instance": "10.0.0.1:9400"},
        "0",
    ),
    AlertCase(
        "GPUExporterDown",
        [
            series(
                'up{namespace="ns1",pod="vllm-0",job="inferwatch-exporter",instance="10.0.0.1:9400"}',
                "1 1 0x30",
            ),
            series(EXPORTER_INFO, "1 1 stale"),
        ],
        at(T.gpu_exporter_down_for, 10),
        {
            "severity": "ticket",
            "exporter": "inferwatch",
            "namespace": "ns1",
            "pod": "vllm-0",
            "job": "inferwatch-exporter",
            "instance": "10.0.0.1:9400",
        },
        "0",
    ),
    AlertCase(
        "VLLMMetricsAbsent",
        [series('up{job="node"}', "1x30")],
        at(T.metrics_absent_for, 5),
        {"severity": "ticket"},
        "1",
    ),
    # 10 of every 100 requests refused (llm-d-router v0.9.0 on).
    AlertCase(
        "InferencePoolSheddingRequests",
        routed(90, 10),
        at(T.router_shed_for, 6),
        {"severity": "page", **POOL},
        "10%",
    ),
    # The Inference Extension's names and its spelling of the code.
    AlertCase(
        "InferencePoolSheddingRequests",
        routed(60, 40, code="InferencePoolResourceExhausted", g2=False),
        at(T.router_shed_for, 6),
        {"severity": "page", **POOL},
        "40%",
    ),
    AlertCase(
        "GPUMetricsAbsent",
        [series('up{job="node"}', "1x30")],
        at(T.metrics_absent_for, 5),
        {"severity": "ticket"},
        "1",
    ),
    # Prometheus restarted: the first cost group missed 15 evaluations (55 to 69 min); an hour later
    # (window 60-120 min, which both promtools read alike: no sample at its start) it recorded 51 min.
    AlertCase(
        COST_GAP,
        [heartbeat(LEVEL0, "60x54 _x15 60x60"), heartbeat(LEVEL1, "60x130")],
        "120m",
        cost_gap(LEVEL0, cost.GAP_REASON_GAP),
        "51m 0s",
    ),
    # A 3-hour outage (60 to 239 min): 20 minutes after the restart (the gap held for its `for:`
    # since then) the last hour holds 21 evaluations.
    AlertCase(
        COST_GAP,
        [heartbeat(LEVEL0, "60x59 _x180 60x30")],
        "260m",
        cost_gap(LEVEL0, cost.GAP_REASON_GAP),
        "21m 0s",
    ),
    # The second group stopped at 30 min while the first runs on: stopped, nothing in the last hour.
    AlertCase(
        COST_GAP,
        [heartbeat(LEVEL0, "60x120"), heartbeat(LEVEL1, "60x30")],
        "100m",
        cost_gap(LEVEL1, cost.GAP_REASON_STOPPED),
        "0s",
    ),
]

QUIET: list[AlertCase] = [
    # Every request under 1 s.
    AlertCase("VLLMTimeToFirstTokenHigh", ttft("0", {"1": 10, "2.5": 10, "5": 10, "+Inf": 10}), at(T.ttft_for, 10)),
    # Every request slow, but only 6 a minute (0.1/s, under the 0.2/s minimum): a few slow requests
    # at near-zero traffic are no trend.
    AlertCase("VLLMTimeToFirstTokenHigh", ttft("0", {"1": 0, "2.5": 0, "5": 6, "+Inf": 6}), at(T.ttft_for, 10)),
    AlertCase(
        "VLLMInterTokenLatencyHigh", itl({"0.1": 60, "0.5": 60, "+Inf": 60}, requests_per_minute=15), at(T.itl_for, 10)
    ),
    AlertCase(
        "VLLMInterTokenLatencyHigh", itl({"0.1": 0, "0.5": 60, "+Inf": 60}, requests_per_minute=6), at(T.itl_for, 10)
    ),
    # 60 % on each of two engines: summing (wrong) would read 120 %; max reads 60 %.
    AlertCase(
        "VLLMKVCacheNearlyFull",
        [
            series(f'vllm:kv_cache_usage_perc{{{VLLM},engine="0"}}', "0.6x10"),
            series(f'vllm:kv_cache_usage_perc{{{VLLM},engine="1"}}', "0.6x10"),
        ],
        at(T.kv_cache_for, 3),
    ),
    # Requests wait, but the GPU is 90 % busy: a capacity problem, not a stuck engine.
    AlertCase(
        "VLLMRequestsWaitingGPUIdle",
        [
            series(f'vllm:num_requests_waiting{{{VLLM},engine="0"}}', "3x30"),
            series(f'inferwatch_gpu_allocation_ratio{{{GPU},container="vllm"}}', "1x30"),
            series(f"inferwatch_gpu_busy_seconds_total{{{GPU}}}", "0+54x30"),
        ],
        at(T.requests_waiting_gpu_idle_for, 10),
    ),
    # A long but steady queue.
    AlertCase(
        "VLLMQueueGrowing",
        [series(f'vllm:num_requests_waiting{{{VLLM},engine="0"}}', "50x40")],
        at(T.queue_growing_for, 15),
    ),
    AlertCase(
        "VLLMPreemptionsHigh",
        [series(f'vllm:num_preemptions_total{{{VLLM},engine="0"}}', "0+6x30")],
        at(T.preemptions_for, 10),
    ),
    AlertCase(
        "VLLMPrefixCacheHitRateLow",
        [
            series(f'vllm:prefix_cache_queries_total{{{VLLM},engine="0"}}', "0+60000x80"),
            series(f'vllm:prefix_cache_hits_total{{{VLLM},engine="0"}}', "0+30000x80"),
        ],
        at(T.prefix_cache_for, 10),
    ),
    AlertCase(
        "GPUMemoryNearlyFull",
        [
            series(GPU_INFO, "1x20"),
            series(f"inferwatch_gpu_memory_used_bytes{{{GPU}}}", "40000000000x20"),
            series(f"inferwatch_gpu_memory_total_bytes{{{GPU}}}", "80000000000x20"),
        ],
        at(T.gpu_memory_for, 5),
    ),
    AlertCase("GPULost", [series(f"inferwatch_gpu_up{{{GPU}}}", "1x10")], at(T.gpu_lost_for, 7)),
    # Xid 13 (graphics engine exception) is an application fault: excluded by default.
    AlertCase(
        "GPUCriticalXid",
        [series(GPU_INFO, "1x15"), series(f'inferwatch_gpu_xid_errors_total{{{GPU},xid="13"}}', "_x6 1x10")],
        at(T.xid_for, 10),
    ),
    # Corrected (single-bit) errors are routine.
    AlertCase(
        "GPUUncorrectableECCErrors",
        [
            series(GPU_INFO, "1x15"),
            series(f'inferwatch_gpu_ecc_errors_total{{{GPU},type="uncorrectable"}}', "0x16"),
            series(f'inferwatch_gpu_ecc_errors_total{{{GPU},type="correctable"}}', "0+5x16"),
        ],
        at(T.ecc_for, 10),
    ),
    # Throttled for 10 minutes, then fine: not sustained.
    AlertCase(
        "GPUThrottlingSustained",
        [
            series(GPU_INFO, "1x30"),
            series(f'inferwatch_gpu_throttle_active{{{GPU},reason="hw_thermal_slowdown"}}', "1x10 0x20"),
        ],
        at(T.throttle_for, 5),
    ),
    # Fresh values, a second old.
    AlertCase(
        "GPUMetricsStale",
        [
            series(GPU_INFO, "1x20"),
            series(f"inferwatch_gpu_up{{{GPU}}}", "1x20"),
            series(f"inferwatch_gpu_sample_age_seconds{{{GPU}}}", "1x20"),
        ],
        at(T.gpu_sample_age_for, 4),
    ),
    # A lost GPU's values age too, but GPULost pages for it: no second alert.
    AlertCase(
        "GPUMetricsStale",
        [
            series(GPU_INFO, "1x20"),
            series(f"inferwatch_gpu_up{{{GPU}}}", "1 1 0x18"),
            series(f"inferwatch_gpu_sample_age_seconds{{{GPU}}}", "1 1 60+60x18"),
        ],
        at(T.gpu_sample_age_for, 4),
    ),
    AlertCase(
        "VLLMTargetDown",
        [
            series('up{namespace="ns1",pod="vllm-0",job="vllm",instance="10.0.0.1:8000"}', "1x20"),
            series(f'vllm:num_requests_running{{{VLLM},engine="0"}}', "0x20"),
        ],
        at(T.vllm_target_down_for, 7),
    ),
    AlertCase(
        "GPUExporterDown",
        [
            series('up{namespace="ns1",pod="vllm-0",job="inferwatch-exporter",instance="10.0.0.1:9400"}', "1x30"),
            series(EXPORTER_INFO, "1x30"),
        ],
        at(T.gpu_exporter_down_for, 10),
    ),
    AlertCase(
        "VLLMMetricsAbsent",
        [series(f'vllm:num_requests_running{{{VLLM},engine="0"}}', "0x30")],
        at(T.metrics_absent_for, 5),
    ),
    AlertCase("GPUMetricsAbsent", [series(GPU_INFO, "1x30")], at(T.metrics_absent_for, 5)),
    # 2 % shed: below the threshold.
    AlertCase("InferencePoolSheddingRequests", routed(98, 2), at(T.router_shed_for, 6)),
    # Half shed, but 6 requests a minute (0.1/s, under the 0.2/s minimum).
    AlertCase("InferencePoolSheddingRequests", routed(3, 3), at(T.router_shed_for, 6)),
    # Many errors, none of them shedding: no endpoint at all is another alert's business.
    AlertCase("InferencePoolSheddingRequests", routed(50, 50, code="ServiceUnavailable"), at(T.router_shed_for, 6)),
    # Every evaluation of the last hour recorded.
    AlertCase(COST_GAP, [heartbeat(LEVEL0, "60x130"), heartbeat(LEVEL1, "60x130")], "120m"),
    # A fresh install: its groups began 40 minutes ago, nothing before (the hour is short, not gapped).
    AlertCase(COST_GAP, [heartbeat(LEVEL0, "_x80 60x40")], "120m"),
]
