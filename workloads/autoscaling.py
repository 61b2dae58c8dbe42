"""Autoscaling a model on inferwatch's recorded series: the rules, KEDA, prometheus-adapter and an HPA.

The scaling signals are recorded once per model (labels namespace, model_name) from the
normalized per-pod series, which already sum vLLM's `engine` ranks and fold the copies a sidecar
and a direct scrape make of one series. Every query below is built here from those names: the
KEDA triggers, the prometheus-adapter rules and the HPA read the same series, so they cannot
disagree about what "waiting requests" means.

Both signals are totals per model used as `AverageValue` targets, so the HPA wants
`ceil(total / target per pod)` replicas: queued requests per pod, and KV cache in use per pod
(the guard: replicas whose caches are full are not removed because the queue is momentarily
empty). The HPA takes the larger of the two.

Behind the llm-d router (`autoscaling.signals_from: router`) the same two signals come per
InferencePool from the router's view instead: the queue it balances on plus the requests its
flow-control layer holds back, which wait at the router and which no engine's queue counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inferwatch.config import InferwatchConfig
from inferwatch.config.workload import WorkloadSpec
from inferwatch.conventions import normalized as c
from inferwatch.promql import format_number, selector
from inferwatch.rules import RecordingRule, RuleGroup
from inferwatch.workloads.pods import app_labels, metadata

AUTOSCALING_GROUP = "inferwatch-autoscaling"
MODEL_LABELS: tuple[str, ...] = (c.NAMESPACE, c.MODEL)
_BY_MODEL = ", ".join(MODEL_LABELS)


@dataclass(frozen=True)
class ScalingSignal:
    """One signal the model is scaled on: its recorded series and its target per pod.

    ``scope`` is the label that names what the series measures: the model (`model_name`), or the
    InferencePool (`pool`) for the router's signals.
    """

    name: str
    series: str
    target_per_pod: float
    external_name: str  # the series as prometheus-adapter names it (no colons)
    scope: str = c.MODEL


def autoscaling_group() -> RuleGroup:
    """The recording rules of the scaling signals: one series per (namespace, model_name), and per
    (namespace, pool) from the router's pool signals."""
    by_pool = f"{c.NAMESPACE}, {c.POOL}"
    ready = f"on ({by_pool}) {c.ROUTER_POOL_READY_ENDPOINTS}"
    return RuleGroup(
        AUTOSCALING_GROUP,
        (
            RecordingRule(c.MODEL_REQUESTS_WAITING, f"sum by ({_BY_MODEL}) ({c.VLLM_REQUESTS_WAITING})"),
            RecordingRule(c.MODEL_KV_CACHE_USAGE, f"sum by ({_BY_MODEL}) ({c.VLLM_KV_CACHE_USAGE})"),
            RecordingRule(c.MODEL_PODS, f"count by ({_BY_MODEL}) ({c.VLLM_REQUESTS_WAITING})"),
            RecordingRule(
                c.POOL_REQUESTS_WAITING,
                f"{c.ROUTER_POOL_QUEUE} * {ready}\n"
                f"+ on ({by_pool})\n"
                f"({c.ROUTER_FLOW_CONTROL_QUEUE} or {c.ROUTER_POOL_READY_ENDPOINTS} * 0)",
            ),
            RecordingRule(c.POOL_KV_CACHE_USAGE, f"{c.ROUTER_POOL_KV_CACHE_USAGE} * {ready}"),
        ),
    )


def signals(spec: WorkloadSpec) -> tuple[ScalingSignal, ...]:
    """Queue depth, then KV-cache pressure, with the configured targets per pod (the engines' or the router's)."""
    if spec.autoscaling.signals_from == "router":
        return (
            ScalingSignal(
                "waiting-requests",
                c.POOL_REQUESTS_WAITING,
                spec.autoscaling.waiting_requests_per_pod,
                "inferwatch_router_pool_requests_waiting",
                c.POOL,
            ),
            ScalingSignal(
                "kv-cache-usage",
                c.POOL_KV_CACHE_USAGE,
                spec.autoscaling.kv_cache_usage_ratio,
                "inferwatch_router_pool_kv_cache_usage",
                c.POOL,
            ),
        )
    return (
        ScalingSignal(
            "waiting-requests",
            c.MODEL_REQUESTS_WAITING,
            spec.autoscaling.waiting_requests_per_pod,
            "inferwatch_vllm_model_requests_waiting",
        ),
        ScalingSignal(
            "kv-cache-usage",
            c.MODEL_KV_CACHE_USAGE,
            spec.autoscaling.kv_cache_usage_ratio,
            "inferwatch_vllm_model_kv_cache_usage",
        ),
    )


def model_query(signal: ScalingSignal, namespace: str, name: str) -> str:
    """The signal of one model (or pool): exactly one series, or none when Prometheus has no data for it."""
    return selector(signal.series, {c.NAMESPACE: namespace, signal.scope: name})


def scaled_name(spec: WorkloadSpec, signal: ScalingSignal) -> str:
    """What ``signal`` is read for: the served model name, or the model's InferencePool."""
    return spec.served_model_name if signal.scope == c.MODEL else spec.autoscaling.inference_pool or spec.name


# prometheus-adapter fills in the series, the HPA's namespace and selector, and grouping labels.
ADAPTER_METRICS_QUERY = "sum by (<<.GroupBy>>) (<<.Series>>{<<.LabelMatchers>>})"


def adapter_rules(spec: WorkloadSpec) -> dict[str, Any]:
    """prometheus-adapter `rules.external` serving each signal as an external metric."""
    return {
        "external": [
            {
                "seriesQuery": selector(s.series) + f'{{namespace!="",{s.scope}!=""}}',
                "resources": {"overrides": {c.NAMESPACE: {"resource": "namespace"}}},
                "name": {"matches": f"^{s.series}$", "as": s.external_name},
                "metricsQuery": ADAPTER_METRICS_QUERY,
            }
            for s in signals(spec)
        ]
    }


def _quantity(value: float) -> str:
    """A target as a Kubernetes quantity: whole units, else milli-units (exact for the 0–1 ratios)."""
    milli = round(value * 1000)
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"


def _hpa_behavior(spec: WorkloadSpec) -> dict[str, Any]:
    # Scale up at once (a queue is users waiting); scale down one pod at a time after the window,
    # because a replica takes minutes to come back (weights, CUDA graphs).
    return {
        "scaleUp": {"stabilizationWindowSeconds": 0},
        "scaleDown": {
            "stabilizationWindowSeconds": spec.autoscaling.scale_down_window_s,
            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 120}],
        },
    }


def scaled_object(config: InferwatchConfig) -> dict[str, Any]:
    """KEDA ScaledObject of the plain vLLM Deployment on the model's signals."""
    spec = config.workload
    scaling = spec.autoscaling
    triggers = [
        {
            "type": "prometheus",
            "name": s.name,
            "metricType": "AverageValue",
            "metadata": {
                "serverAddress": scaling.prometheus_url,
                "query": model_query(s, spec.namespace, scaled_name(spec, s)),
                "threshold": format_number(s.target_per_pod),
                # No data is an error, not 0: with `true` a lost series would read as an idle
                # model and scale it to the minimum. Errors lead to the fallback below.
                "ignoreNullValues": "false",
            },
        }
        for s in signals(spec)
    ]
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": metadata(spec.name, spec, app_labels(spec, "autoscaling")),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": spec.name},
            "pollingInterval": scaling.polling_interval_s,
            "minReplicaCount": scaling.min_replicas,
            "maxReplicaCount": scaling.max_replicas,
            # While Prometheus does not answer, hold at least `replicas` (never fewer than now).
            "fallback": {
                "failureThreshold": scaling.failure_threshold,
                "replicas": scaling.fallback_replicas,
                "behavior": "currentReplicasIfHigher",
            },
            "advanced": {"horizontalPodAutoscalerConfig": {"behavior": _hpa_behavior(spec)}},
            "triggers": triggers,
        },
    }


def horizontal_pod_autoscaler(config: InferwatchConfig) -> dict[str, Any]:
    """An HPA on the same signals through prometheus-adapter's external metrics (clusters without KEDA)."""
    spec = config.workload
    scaling = spec.autoscaling
    metrics = [
        {
            "type": "External",
            "external": {
                "metric": {"name": s.external_name, "selector": {"matchLabels": {s.scope: scaled_name(spec, s)}}},
                "target": {"type": "AverageValue", "averageValue": _quantity(s.target_per_pod)},
            },
        }
        for s in signals(spec)
    ]
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(spec.name, spec, app_labels(spec, "autoscaling")),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": spec.name},
            "minReplicas": scaling.min_replicas,
            "maxReplicas": scaling.max_replicas,
            "metrics": metrics,
            "behavior": _hpa_behavior(spec),
        },
    }
