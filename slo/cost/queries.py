"""The PromQL the weekly cost report asks: a few aggregated queries per week, over the cost rules.

What is priced is asked hour by hour: one range query per quantity over the week at a 1-hour
step, each point the integral of a recorded rate over that clock hour
(``sum_over_time(rule[1h]) x rule interval``), grouped by cluster, namespace, model and GPU
model. The week is the sum of its hours, a day the sum of its 24, and the week over week
comparison the sum of the hours both weeks have data for: one set of answers gives them all.
Figures that are not added up (P95 TTFT, the prefill share, namespace labels, the per-GPU and
per-pod savings detail) are asked once for the week.

Every query groups by the cluster label too: a Prometheus that holds several clusters' series
(Thanos, Mimir, federation, remote write, with the cluster as an external label) gives one
report across clusters; a single cluster's Prometheus answers without the label.

Figures are what was observed, never extrapolated: an hour without rule evaluations has no
point, so a week with two hours of data shows two hours' cost (and a coverage of 2 hours). The
coverage counts evaluations, not hours touched: an hour the cost rules recorded for 50 of its 60
minutes (Prometheus restarted) is 50/60 of an hour recorded, the GPU time of its 10 minutes
missing (no counter holds it), and the report names it as resting on a gap.
"""

from __future__ import annotations

from dataclasses import dataclass

from inferwatch.conventions import cost as c
from inferwatch.conventions import normalized as n
from inferwatch.promql import selector

P95_TTFT_QUANTILE = 0.95
NODE_LABELS = ("node", "Hostname", "instance")  # where a GPU's node name is found, best first
WEEK = "7d"
HOUR = 1 / 3600
KWH = 1 / 3_600_000
NAMESPACE_LABELS = "kube_namespace_labels"  # kube-state-metrics: label_<key> per allowed namespace label


@dataclass(frozen=True)
class Query:
    """One figure's query: its answer is keyed by ``key`` and its series by the labels ``by``."""

    key: str
    expr: str
    by: tuple[str, ...]
    step: str = ""  # "hour" or "day": a range query over the week; "": an instant query at its end
    all_labels: bool = False  # keep every label of the answer (namespace labels)


def _by(labels: tuple[str, ...]) -> str:
    return ", ".join(labels)


def integral(series: str, window: str, by: tuple[str, ...], interval_s: float, scale: float = 1.0) -> str:
    """The integral over ``window`` of a per-second recorded rate: Σ samples × rule interval.

    Only evaluations that happened count: an hour with ten minutes of rule evaluations
    integrates to ten minutes, never to an hour (no extrapolation).
    """
    return f"sum by ({_by(by)}) (sum_over_time({series}[{window}])) * {interval_s * scale!r}"


def coverage_expr(cluster: str, seen: str) -> str:
    """Per cluster and hour with priced series (``seen``), the evaluations the cost rules recorded in it.

    The first level's heartbeats count its evaluations (inferwatch.slo.cost.rules), so an hour the rules
    ran through counts whole even when GPUs were held for only part of it. A history recorded before the
    heartbeat existed falls back to the most samples any priced series holds in the hour (each is
    recorded at every evaluation while its inputs exist, and idle exists for every GPU model with a
    GPU). `recorded_share` turns the count into the share of the hour.
    """
    beat = selector(c.RECORDING_HEARTBEAT, {c.RULE_GROUP_LABEL: c.PRICED_GROUP})
    with_data = f"max by ({cluster}) ({seen})"
    return f"max by ({cluster}) (count_over_time({beat}[1h]))\nand on ({cluster})\n{with_data}\nor\n{with_data}"


def evaluations_per_hour(interval_s: float) -> int:
    """The evaluations every clock hour holds at ``interval_s`` (at least; one more when it does not divide an hour)."""
    return max(1, int(3600 // interval_s))


def recorded_share(evaluations: float, interval_s: float) -> float:
    """The share of an hour the cost rules recorded, from the evaluations that recorded in it (at most 1)."""
    return min(1.0, max(0.0, evaluations) / evaluations_per_hour(interval_s))


def _p95_ttft(window: str, by: tuple[str, ...]) -> str:
    ttft = n.histogram_series("ttft", "bucket")
    return f"histogram_quantile({P95_TTFT_QUANTILE}, sum by ({_by(by)}, {n.LE}) (sum_over_time({ttft}[{window}])))"


def hourly_queries(interval_s: float, cluster: str) -> list[Query]:
    """The quantities the ledger prices, hour by hour, and the hours each cluster has data for."""
    ns_gpu = (cluster, n.NAMESPACE, n.GPU_MODEL)
    ns_model_gpu = (cluster, n.NAMESPACE, n.MODEL, n.GPU_MODEL)
    ns_model = (cluster, n.NAMESPACE, n.MODEL)

    def hourly(key: str, series: str, by: tuple[str, ...], scale: float) -> Query:
        return Query(key, integral(series, "1h", by, interval_s, scale), by, step="hour")

    seen = (
        f"count_over_time({c.SKU_ALLOCATED_GPU_SECONDS_RATE}[1h]) or count_over_time({c.SKU_IDLE_GPU_SECONDS_RATE}[1h])"
    )
    return [
        Query("coverage", coverage_expr(cluster, seen), (cluster,), step="hour"),
        hourly("held", c.SKU_ALLOCATED_GPU_SECONDS_RATE, ns_gpu, HOUR),
        hourly("busy", c.SKU_BUSY_GPU_SECONDS_RATE, ns_gpu, HOUR),
        hourly("energy", c.SKU_ENERGY_JOULES_RATE, ns_gpu, KWH),
        hourly("model_held", c.SKU_MODEL_ALLOCATED_GPU_SECONDS_RATE, ns_model_gpu, HOUR),
        hourly("model_busy", c.SKU_MODEL_BUSY_GPU_SECONDS_RATE, ns_model_gpu, HOUR),
        hourly("idle", c.SKU_IDLE_GPU_SECONDS_RATE, (cluster, n.GPU_MODEL), HOUR),
        hourly("prompt", c.PROMPT_TOKENS_RATE, ns_model, 1.0),
        hourly("generation", c.GENERATION_TOKENS_RATE, ns_model, 1.0),
    ]


def week_queries(interval_s: float, cluster: str) -> list[Query]:
    """Asked once for the week: latency, prefill share, tenants, adapters, energy, labels, savings, a price check."""
    ns = (cluster, n.NAMESPACE)
    ns_model = (cluster, n.NAMESPACE, n.MODEL)
    ns_pod = (cluster, n.NAMESPACE, n.POD)
    gpu = (cluster, n.GPU_UUID)
    ns_tenant = (cluster, n.NAMESPACE, n.FAIRNESS_ID)
    ns_adapter = (cluster, n.NAMESPACE, n.MODEL, n.LORA_ADAPTER)

    def weekly(series: str, by: tuple[str, ...], scale: float = 1.0) -> str:
        return integral(series, WEEK, by, interval_s, scale)

    node_labels = ", ".join(NODE_LABELS)
    labels_seen = f"last_over_time(timestamp({NAMESPACE_LABELS})[{WEEK}:1h])"
    # Pods that held GPUs all week and never reported a vLLM model: why cost is not attributed to one.
    silent = (
        f"{weekly(c.ALLOCATED_GPU_SECONDS_RATE, ns_pod, HOUR)}\n"
        f"unless on ({_by(ns_pod)})\n"
        f"count by ({_by(ns_pod)}) (count_over_time({n.VLLM_PROMPT_TOKENS_RATE}[{WEEK}]))"
    )
    return [
        Query("p95_ttft", _p95_ttft(WEEK, ns), ns),
        Query("model_p95_ttft", _p95_ttft(WEEK, ns_model), ns_model),
        Query("input_cost", weekly(c.MODEL_INPUT_COST_RATE, ns_model), ns_model),
        Query("model_cost", weekly(c.MODEL_ALLOCATED_COST_RATE, ns_model), ns_model),
        Query("recorded_gpu_cost", weekly(c.GPU_COST_RATE, (cluster,)), (cluster,)),
        # Tenants and LoRA adapters: the recorded split of held cost, the weights of the ledger's split.
        Query("tenant_cost", weekly(c.TENANT_ALLOCATED_COST_RATE, ns_tenant), ns_tenant),
        Query("tenant_unattributed", weekly(c.TENANT_UNATTRIBUTED_COST_RATE, ns), ns),
        Query("tenant_tokens", weekly(c.TENANT_TOKENS_RATE, ns_tenant), ns_tenant),
        Query("adapter_cost", weekly(c.LORA_ALLOCATED_COST_RATE, ns_adapter), ns_adapter),
        # The energy of the pods serving each model (the dashboards' energy per 1,000 tokens rule), in joules.
        Query("model_energy", weekly(c.MODEL_ENERGY_JOULES_RATE, ns_model), ns_model),
        # The label set each namespace had last (kube-state-metrics exposes allowed labels as label_<key>).
        Query("namespace_labels", f"topk by ({_by(ns)}) (1, {labels_seen})", ns, all_labels=True),
        Query("gpu_idle_hours", weekly(c.GPU_IDLE_SECONDS_RATE, gpu, HOUR), gpu),
        Query(
            "gpu_model",
            f"group by ({_by(gpu)}, {n.GPU_MODEL}) (last_over_time({n.GPU_INFO}[{WEEK}]))",
            (*gpu, n.GPU_MODEL),
        ),
        # The node of each GPU, from the exporters' info series (one row per GPU).
        Query(
            "gpu_node",
            f"group by ({_by(gpu)}, {node_labels}) (last_over_time(inferwatch_gpu_info[{WEEK}]))\n"
            f"or group by ({_by(gpu)}, {node_labels}) "
            f'(label_replace(last_over_time(DCGM_FI_DEV_GPU_UTIL[{WEEK}]), "{n.GPU_UUID}", "$1", "UUID", "(.+)"))',
            (*gpu, *NODE_LABELS),
        ),
        Query("pod_cost", weekly(c.ALLOCATED_COST_RATE, ns_pod), ns_pod),
        Query("pod_gpu_hours", weekly(c.ALLOCATED_GPU_SECONDS_RATE, ns_pod, HOUR), ns_pod),
        Query("pod_busy_hours", weekly(c.BUSY_GPU_SECONDS_RATE, ns_pod, HOUR), ns_pod),
        Query("silent_pods", silent, ns_pod),
        Query("d_p95_ttft", _p95_ttft("1d", ns), ns, step="day"),
    ]


def report_queries(interval_s: float, cluster: str = "cluster", *, previous: bool = False) -> list[Query]:
    """The queries of one week's report; the previous week, only compared with, is asked its hours only.

    ``interval_s`` is the cost rules' evaluation interval (each recorded sample stands for that
    long); ``cluster`` the label naming the cluster.
    """
    queries = hourly_queries(interval_s, cluster)
    return queries if previous else queries + week_queries(interval_s, cluster)


def query_count(with_previous: bool = True) -> int:
    """How many queries one report runs (for a progress bar)."""
    return len(report_queries(60)) + (len(report_queries(60, previous=True)) if with_previous else 0)
