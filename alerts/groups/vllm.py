"""The vLLM alerts: latency, KV cache, queue, preemptions and prefix caching, per model and pod.

Thresholds and hold durations come from the `thresholds:` section of the configuration
(ttft_*, itl_*, latency_min_requests_per_second, kv_cache_*, requests_waiting_gpu_idle_for,
gpu_idle_utilization_ratio, queue_*, preemptions_*, prefix_cache_*); the runbook prose of each
alert is alerts/templates/<AlertName>.md.j2.
"""

from __future__ import annotations

from inferwatch.alerts.definition import ALERT_GROUP_PREFIX, AlertDefinition, AlertGroup, held, hold, num, pct
from inferwatch.config.thresholds import Thresholds
from inferwatch.conventions import normalized as c

# Where a vLLM alert is: the labels every description names.
_VLLM_WHERE = "model {{ $labels.model_name }} in namespace {{ $labels.namespace }}"
_POD_WHERE = "pod {{ $labels.namespace }}/{{ $labels.pod }} (model {{ $labels.model_name }})"


def _p95(kind: str) -> str:
    return f"histogram_quantile(0.95, sum by ({c.NAMESPACE}, {c.MODEL}, {c.LE}) ({c.histogram_series(kind, 'bucket')}))"


def _p95_above(kind: str, threshold: float, t: Thresholds) -> str:
    """P95 of ``kind`` above ``threshold``, judged only where requests arrive at the configured minimum
    rate: every request observes one TTFT, so the TTFT count is the request rate."""
    requests = f"sum by ({c.NAMESPACE}, {c.MODEL}) ({c.histogram_series('ttft', 'count')})"
    return (
        f"({_p95(kind)} > {num(threshold)})\n"
        f"and on ({c.NAMESPACE}, {c.MODEL})\n"
        f"({requests} >= {num(t.latency_min_requests_per_second)})"
    )


def _min_traffic(t: Thresholds) -> str:
    return f"judged at {num(t.latency_min_requests_per_second)} requests/s or more"


def vllm_alerts(t: Thresholds) -> list[AlertDefinition]:
    """The vLLM alerts, with the configured thresholds."""
    return [
        AlertDefinition(
            name="VLLMTimeToFirstTokenHigh",
            severity="page",
            expr=_p95_above("ttft", t.ttft_p95_seconds, t),
            for_=hold(t.ttft_for),
            summary="P95 time to first token of {{ $labels.model_name }} in {{ $labels.namespace }} is above "
            f"{num(t.ttft_p95_seconds)}s",
            description=f"P95 time to first token is {{{{ $value | humanizeDuration }}}} for {_VLLM_WHERE} "
            f"(threshold {num(t.ttft_p95_seconds)}s{held(t.ttft_for)}, {_min_traffic(t)}).",
            threshold=f"P95 TTFT over 5 minutes above {num(t.ttft_p95_seconds)} s{held(t.ttft_for)}, {_min_traffic(t)}",
        ),
        AlertDefinition(
            name="VLLMInterTokenLatencyHigh",
            severity="ticket",
            expr=_p95_above("itl", t.itl_p95_seconds, t),
            for_=hold(t.itl_for),
            summary="P95 inter-token latency of {{ $labels.model_name }} in {{ $labels.namespace }} is above "
            f"{num(t.itl_p95_seconds)}s",
            description=f"P95 inter-token latency is {{{{ $value | humanizeDuration }}}} for {_VLLM_WHERE} "
            f"(threshold {num(t.itl_p95_seconds)}s{held(t.itl_for)}, {_min_traffic(t)}).",
            threshold=f"P95 inter-token latency above {num(t.itl_p95_seconds)} s{held(t.itl_for)}, {_min_traffic(t)}",
        ),
        AlertDefinition(
            name="VLLMKVCacheNearlyFull",
            severity="ticket",
            expr=f"{c.VLLM_KV_CACHE_USAGE} > {num(t.kv_cache_usage_ratio)}",
            for_=hold(t.kv_cache_for),
            summary="KV cache of {{ $labels.namespace }}/{{ $labels.pod }} is above "
            f"{pct(t.kv_cache_usage_ratio)}: preemptions imminent",
            description=f"KV-cache usage is {{{{ $value | humanizePercentage }}}} in {_POD_WHERE} "
            f"(threshold {pct(t.kv_cache_usage_ratio)}{held(t.kv_cache_for)}).",
            threshold=f"KV-cache usage (max over engines) above {pct(t.kv_cache_usage_ratio)}{held(t.kv_cache_for)}",
        ),
        AlertDefinition(
            name="VLLMRequestsWaitingGPUIdle",
            severity="page",
            expr=(
                f"({c.VLLM_REQUESTS_WAITING} > 0)\n"
                f"and on ({c.NAMESPACE}, {c.POD})\n"
                f"(\n  max by ({c.NAMESPACE}, {c.POD}) (\n"
                f"    ({c.GPU_ALLOCATION} * 0) + on ({c.GPU_UUID}) group_left () {c.GPU_BUSY_RATE}\n"
                f"  ) < {num(t.gpu_idle_utilization_ratio)}\n)"
            ),
            for_=hold(t.requests_waiting_gpu_idle_for),
            summary="Requests wait in {{ $labels.namespace }}/{{ $labels.pod }} while its GPU sits idle",
            description=f"{{{{ $value | humanize }}}} request(s) are waiting in {_POD_WHERE} while every GPU "
            f"the pod holds is busy less than {pct(t.gpu_idle_utilization_ratio)} of the time"
            f"{held(t.requests_waiting_gpu_idle_for)}.",
            threshold=f"waiting requests > 0 while the pod's GPUs are busy < {pct(t.gpu_idle_utilization_ratio)}"
            f"{held(t.requests_waiting_gpu_idle_for)}",
        ),
        AlertDefinition(
            name="VLLMQueueGrowing",
            severity="ticket",
            expr=(
                f"({c.VLLM_REQUESTS_WAITING} > {t.queue_waiting_requests})\n"
                f"and\n(deriv({c.VLLM_REQUESTS_WAITING}[15m]) > 0)"
            ),
            for_=hold(t.queue_growing_for),
            summary="Request queue of {{ $labels.namespace }}/{{ $labels.pod }} keeps growing",
            description=f"{{{{ $value | humanize }}}} requests are waiting in {_POD_WHERE} and the queue has "
            f"kept growing{held(t.queue_growing_for)} (threshold {t.queue_waiting_requests} waiting).",
            threshold=f"more than {t.queue_waiting_requests} waiting requests and a rising queue"
            f"{held(t.queue_growing_for)}",
        ),
        AlertDefinition(
            name="VLLMPreemptionsHigh",
            severity="ticket",
            expr=f"{c.VLLM_PREEMPTIONS_RATE} > {num(t.preemptions_per_second)}",
            for_=hold(t.preemptions_for),
            summary="vLLM preempts requests in {{ $labels.namespace }}/{{ $labels.pod }}",
            description=f"{{{{ $value | humanize }}}} preemptions per second in {_POD_WHERE} "
            f"(threshold {num(t.preemptions_per_second)}/s{held(t.preemptions_for)}).",
            threshold=f"more than {num(t.preemptions_per_second)} preemptions per second{held(t.preemptions_for)}",
        ),
        AlertDefinition(
            name="VLLMPrefixCacheHitRateLow",
            severity="ticket",
            expr=(
                f"({c.VLLM_PREFIX_CACHE_HITS_RATE} / {c.VLLM_PREFIX_CACHE_QUERIES_RATE} "
                f"< {num(t.prefix_cache_hit_ratio)})\n"
                f"and\n({c.VLLM_PREFIX_CACHE_QUERIES_RATE} > {num(t.prefix_cache_min_queries_per_second)})"
            ),
            for_=hold(t.prefix_cache_for),
            summary="Prefix-cache hit rate of {{ $labels.namespace }}/{{ $labels.pod }} is low",
            description=f"Prefix-cache hit rate is {{{{ $value | humanizePercentage }}}} in {_POD_WHERE} "
            f"(threshold {pct(t.prefix_cache_hit_ratio)}{held(t.prefix_cache_for)}, judged above "
            f"{num(t.prefix_cache_min_queries_per_second)} queried tokens/s).",
            threshold=f"prefix-cache hits / queried tokens below {pct(t.prefix_cache_hit_ratio)}"
            f"{held(t.prefix_cache_for)}",
        ),
    ]


GROUP = AlertGroup(f"{ALERT_GROUP_PREFIX}-vllm", vllm_alerts)
