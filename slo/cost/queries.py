"""The PromQL the weekly cost report asks: one aggregated query per figure, over the cost rules.

Prometheus does the arithmetic: every figure is one query returning a handful of aggregated
series (per namespace, per namespace and model, per GPU, per pod, per day), keyed by the query's
``key`` (inferwatch.slo.cost.collection reads the answers by key into the model).

Figures are what was observed, never extrapolated: a recorded rate integrates as
``sum_over_time(rule[7d]) * rule interval``, so a week with two hours of data shows two hours'
cost, and the report says how many hours of the week had data (the coverage).
"""

from __future__ import annotations

from dataclasses import dataclass

from inferwatch.conventions import cost as c
from inferwatch.conventions import normalized as n

P95_TTFT_QUANTILE = 0.95
NODE_LABELS = ("node", "Hostname", "instance")  # where a GPU's node name is found, best first
WEEK = "7d"
HOUR = 1 / 3600

NS: tuple[str, ...] = (n.NAMESPACE,)
NS_MODEL: tuple[str, ...] = (n.NAMESPACE, n.MODEL)
NS_POD: tuple[str, ...] = (n.NAMESPACE, n.POD)
GPU: tuple[str, ...] = (n.GPU_UUID, n.GPU_MODEL)


@dataclass(frozen=True)
class Query:
    """One figure's query: its answer is keyed by ``key`` and its series by the labels ``by``."""

    key: str
    expr: str
    by: tuple[str, ...]
    daily: bool = False  # a range query, one point per day of the week
    at_end: bool = False  # evaluated at the week's end exactly (hour-aligned subqueries)


def integral(series: str, window: str, by: tuple[str, ...], interval_s: float, scale: float = 1.0) -> str:
    """The integral over ``window`` of a per-second recorded rate: Σ samples × rule interval.

    Only evaluations that happened count: a week with two hours of rule evaluations integrates
    to two hours, never to a week (no extrapolation).
    """
    grouping = f"by ({', '.join(by)}) " if by else ""
    return f"sum {grouping}(sum_over_time({series}[{window}])) * {interval_s * scale!r}"


def hours_with_data(inner: str) -> str:
    """Hours of the week in which ``inner`` (a count over ``[1h] offset 1ms``) had data.

    Evaluated at the week's end: the hour-aligned subquery steps are start+1h … end, and each
    step counts the samples of [step-1h, step) (the 1 ms offset keeps a sample at a boundary in
    the hour it starts).
    """
    return f"count_over_time(({inner})[7d:1h])"


def _in_hour(series: str, by: str = "") -> str:
    grouping = f" by ({by})" if by else ""
    return f"count{grouping} (count_over_time({series}[1h] offset 1ms))"


def _p95_ttft(window: str) -> str:
    ttft = n.histogram_series("ttft", "bucket")
    return f"histogram_quantile({P95_TTFT_QUANTILE}, sum by ({n.NAMESPACE}, {n.LE}) (sum_over_time({ttft}[{window}])))"


def _week_queries(interval_s: float) -> list[Query]:
    """The week's totals, per namespace and per model, and its coverage."""

    def weekly(series: str, by: tuple[str, ...], scale: float = 1.0) -> str:
        return integral(series, WEEK, by, interval_s, scale)

    return [
        Query("total_cost", weekly(c.GPU_COST_RATE, ()), ()),
        Query("total_gpu_hours", f"sum(count_over_time({c.GPU_COST_RATE}[{WEEK}])) * {interval_s * HOUR!r}", ()),
        Query("idle_cost", weekly(c.GPU_IDLE_COST_RATE, ()), ()),
        Query("idle_gpu_hours", weekly(c.GPU_IDLE_SECONDS_RATE, (), HOUR), ()),
        Query("allocated_cost", weekly(c.ALLOCATED_COST_RATE, NS), NS),
        Query("usage_cost", weekly(c.BUSY_COST_RATE, NS), NS),
        Query("allocated_gpu_hours", weekly(c.ALLOCATED_GPU_SECONDS_RATE, NS, HOUR), NS),
        Query("busy_gpu_hours", weekly(c.BUSY_GPU_SECONDS_RATE, NS, HOUR), NS),
        Query("energy_kwh", weekly(c.ENERGY_JOULES_RATE, NS, 1 / 3_600_000), NS),
        Query("energy_cost", weekly(c.ENERGY_COST_RATE, NS), NS),
        Query("p95_ttft", _p95_ttft(WEEK), NS),
        Query("m_allocated_cost", weekly(c.MODEL_ALLOCATED_COST_RATE, NS_MODEL), NS_MODEL),
        Query("m_usage_cost", weekly(c.MODEL_BUSY_COST_RATE, NS_MODEL), NS_MODEL),
        Query("m_input_cost", weekly(c.MODEL_INPUT_COST_RATE, NS_MODEL), NS_MODEL),
        Query("m_prompt_tokens", weekly(c.PROMPT_TOKENS_RATE, NS_MODEL), NS_MODEL),
        Query("m_generation_tokens", weekly(c.GENERATION_TOKENS_RATE, NS_MODEL), NS_MODEL),
        Query(
            "observed_hours",
            hours_with_data(f"{_in_hour(c.GPU_COST_RATE)} or {_in_hour(c.ALLOCATED_COST_RATE)}"),
            (),
            at_end=True,
        ),
        Query(
            "ns_observed_hours",
            hours_with_data(
                f"{_in_hour(c.ALLOCATED_COST_RATE, n.NAMESPACE)} or {_in_hour(c.PROMPT_TOKENS_RATE, n.NAMESPACE)}"
            ),
            NS,
            at_end=True,
        ),
    ]


def _savings_queries(interval_s: float) -> list[Query]:
    """Per GPU and per pod: the idle GPUs and the pods under the utilization threshold."""

    def weekly(series: str, by: tuple[str, ...], scale: float = 1.0) -> str:
        return integral(series, WEEK, by, interval_s, scale)

    node_labels = ", ".join(NODE_LABELS)
    return [
        Query("gpu_idle_cost", weekly(c.GPU_IDLE_COST_RATE, GPU), GPU),
        Query("gpu_idle_hours", weekly(c.GPU_IDLE_SECONDS_RATE, (n.GPU_UUID,), HOUR), (n.GPU_UUID,)),
        # The node of each GPU, from the exporters' info series (one row per GPU).
        Query(
            "gpu_node",
            f"group by ({n.GPU_UUID}, {node_labels}) (last_over_time(inferwatch_gpu_info[{WEEK}]))\n"
            f"or group by ({n.GPU_UUID}, {node_labels}) "
            f'(label_replace(last_over_time(DCGM_FI_DEV_GPU_UTIL[{WEEK}]), "{n.GPU_UUID}", "$1", "UUID", "(.+)"))',
            (n.GPU_UUID, *NODE_LABELS),
        ),
        Query("pod_cost", weekly(c.ALLOCATED_COST_RATE, NS_POD), NS_POD),
        Query("pod_gpu_hours", weekly(c.ALLOCATED_GPU_SECONDS_RATE, NS_POD, HOUR), NS_POD),
        Query("pod_busy_hours", weekly(c.BUSY_GPU_SECONDS_RATE, NS_POD, HOUR), NS_POD),
    ]


def _daily_queries(interval_s: float) -> list[Query]:
    """One point per day: cost, $/1M tokens, utilization and p95 TTFT (the report's charts)."""

    def daily(series: str, by: tuple[str, ...]) -> str:
        return integral(series, "1d", by, interval_s)

    day_tokens = f"({daily(c.PROMPT_TOKENS_RATE, NS_MODEL)} + on ({n.NAMESPACE}, {n.MODEL}) " + (
        f"{daily(c.GENERATION_TOKENS_RATE, NS_MODEL)} > 0)"
    )
    return [
        Query("d_cost", daily(c.ALLOCATED_COST_RATE, NS), NS, daily=True),
        Query(
            "d_per_mtok",
            f"{daily(c.MODEL_ALLOCATED_COST_RATE, NS_MODEL)}\n/ on ({n.NAMESPACE}, {n.MODEL}) {day_tokens} * 1000000",
            NS_MODEL,
            daily=True,
        ),
        Query(
            "d_utilization",
            f"{daily(c.BUSY_GPU_SECONDS_RATE, NS)}\n/ on ({n.NAMESPACE}) "
            f"({daily(c.ALLOCATED_GPU_SECONDS_RATE, NS)} > 0)",
            NS,
            daily=True,
        ),
        Query("d_p95_ttft", _p95_ttft("1d"), NS, daily=True),
    ]


def report_queries(interval_s: float, *, daily: bool, savings: bool) -> list[Query]:
    """The queries of one week's report: its totals, and the savings and daily series if asked.

    ``interval_s`` is the cost rules' evaluation interval (each recorded sample stands for that
    long). The previous week, only compared with, is asked without savings and daily series.
    """
    queries = _week_queries(interval_s)
    if savings:
        queries += _savings_queries(interval_s)
    if daily:
        queries += _daily_queries(interval_s)
    return queries


def query_count(with_previous: bool = True) -> int:
    """How many queries one report runs (for a progress bar)."""
    this_week = len(report_queries(60, daily=True, savings=True))
    return this_week + (len(report_queries(60, daily=False, savings=False)) if with_previous else 0)
