"""The Inference dashboard: traffic, latency against the alert thresholds, load, routing, SLOs and cost per model.

Every engine panel covers vLLM and SGLang alike (they feed the same series); where an engine does
not report a series the panel says so per model (inferwatch.dashboards.engines).
"""

from __future__ import annotations

from inferwatch.config import InferwatchConfig
from inferwatch.conventions import cost as cc
from inferwatch.conventions import normalized as n
from inferwatch.conventions import slo as sc
from inferwatch.dashboards import links, variables
from inferwatch.dashboards.engines import NOT_REPORTED_TEXT, engines_table, marker
from inferwatch.dashboards.model import BAD, GOOD, NEUTRAL, WARN, ColumnLink, DashboardSpec, Panel, Query, Row, Step
from inferwatch.dashboards.routing import routing_row
from inferwatch.dashboards.units import TOKENS_PER_SECOND, currency_unit
from inferwatch.promql import format_number as num

F = variables.VLLM_FILTER
BY_MODEL = f"{n.NAMESPACE}, {n.MODEL}"
LEGEND_MODEL = "{{namespace}}/{{model_name}}"
MODEL_SEL = f'{n.NAMESPACE}=~"$namespace",{n.MODEL}=~"$model_name"'
TTFT_BUCKET = n.histogram_series("ttft", "bucket")


def _sum(series: str, by: str = BY_MODEL, extra: str = "") -> str:
    return f"sum by ({by}) ({series}{{{F}{extra}}})" if by else f"sum({series}{{{F}{extra}}})"


def _quantiles(kind: str) -> tuple[Query, ...]:
    bucket = n.histogram_series(kind, "bucket")
    return tuple(
        Query(f"histogram_quantile({q}, sum by ({n.LE}) ({bucket}{{{F}}}))", f"P{round(q * 100)}")
        for q in (0.5, 0.95, 0.99)
    )


def _latency(kind: str, title: str, what: str, alert: tuple[str, float] | None, slo: float | None) -> Panel:
    steps = [Step(None, GOOD)]
    said = []
    if slo is not None:
        steps.append(Step(slo, WARN))
        said.append(f"orange: the SLO threshold {num(slo)} s")
    if alert is not None:
        steps.append(Step(alert[1], BAD))
        said.append(f"red: {alert[0]} fires above {num(alert[1])} s")
    steps.sort(key=lambda s: -1.0 if s.value is None else s.value)
    lines = f" Lines: {'; '.join(said)}." if said else ""
    return Panel(
        "timeseries",
        title,
        f"{what} P50/P95/P99 over the selected pods (low is good), from `{n.histogram_series(kind, 'bucket')}`."
        f"{lines} Next: queue time and the prefill/decode split below, then KV-cache usage.",
        "s",
        _quantiles(kind),
        thresholds=tuple(steps),
        threshold_style="line" if len(steps) > 1 else "off",
    )


def _slo_thresholds(config: InferwatchConfig) -> dict[str, float]:
    """The tightest latency threshold of the configured SLOs, per SLI kind."""
    out: dict[str, float] = {}
    for s in config.slos:
        t = s.sli.threshold_seconds
        if t is not None:
            out[s.sli.kind] = min(t, out.get(s.sli.kind, t))
    return out


def _traffic(config: InferwatchConfig) -> Row:
    finished = n.VLLM_REQUESTS_FINISHED_RATE
    errors = f'{n.FINISHED_REASON}="error"'
    unit = currency_unit(config.pricing.currency)
    return Row(
        "Traffic",
        (
            Panel(
                "stat",
                "Requests/s",
                f"Finished requests per second of the selected models, from `{finished}`.",
                "reqps",
                (Query(_sum(finished, ""), "requests/s"),),
                width=6,
                height=4,
                thresholds=(Step(None, NEUTRAL),),
            ),
            Panel(
                "stat",
                "Error ratio",
                f"Share of finished requests that ended in error (low is good), from `{finished}` by "
                f"`{n.FINISHED_REASON}`. SGLang does not say which requests ended in error (its errors count "
                "as HTTP 5xx in the availability SLO). Next: the finish-reason panel and the engine logs.",
                "percentunit",
                (
                    Query(
                        f"({_sum(finished, '', ',' + errors)} or {_sum(finished, '')} * 0)"
                        f" / ({_sum(finished, '')} > 0)",
                        "errors",
                    ),
                ),
                width=6,
                height=4,
                thresholds=(Step(None, GOOD), Step(0.001, WARN), Step(0.01, BAD)),
            ),
            Panel(
                "stat",
                "Output tokens/s",
                f"Generated tokens per second, from `{n.VLLM_GENERATION_TOKENS_RATE}`.",
                TOKENS_PER_SECOND,
                (Query(_sum(n.VLLM_GENERATION_TOKENS_RATE, ""), "tokens/s"),),
                width=6,
                height=4,
                thresholds=(Step(None, NEUTRAL),),
            ),
            Panel(
                "stat",
                "Cost per 1M tokens",
                f"Allocation-based cost of one million tokens (prompt + generated) of the selected models, "
                f"from `{cc.MODEL_ALLOCATED_COST_RATE}` and the token rates. Next: the Cost dashboard.",
                unit,
                (
                    Query(
                        f"sum({cc.MODEL_ALLOCATED_COST_RATE}{{{MODEL_SEL}}}) "
                        f"/ (sum({cc.PROMPT_TOKENS_RATE}{{{MODEL_SEL}}}) "
                        f"+ sum({cc.GENERATION_TOKENS_RATE}{{{MODEL_SEL}}}) > 0) * 1e6",
                        "per 1M tokens",
                    ),
                ),
                width=6,
                height=4,
                thresholds=(Step(None, NEUTRAL),),
                links=(links.COST,),
            ),
            Panel(
                "timeseries",
                "Requests/s by model",
                f"Finished requests per second, from `{finished}`.",
                "reqps",
                (Query(_sum(finished), LEGEND_MODEL),),
            ),
            Panel(
                "timeseries",
                "Input and output tokens/s",
                f"Prompt and generated tokens per second, from `{n.VLLM_PROMPT_TOKENS_RATE}` and "
                f"`{n.VLLM_GENERATION_TOKENS_RATE}`. A jump in input tokens raises TTFT.",
                TOKENS_PER_SECOND,
                (
                    Query(_sum(n.VLLM_PROMPT_TOKENS_RATE), "input " + LEGEND_MODEL),
                    Query(_sum(n.VLLM_GENERATION_TOKENS_RATE), "output " + LEGEND_MODEL),
                ),
            ),
            Panel(
                "timeseries",
                "Finish reasons",
                f"Finished requests per second by reason (stop, length, abort, error), from `{finished}`. "
                "Many `length` finishes mean max_tokens cuts answers short. SGLang reports aborts only: its "
                f"other finished requests show as `{n.FINISHED_NOT_REPORTED}` ({NOT_REPORTED_TEXT}).",
                "reqps",
                (Query(_sum(finished, n.FINISHED_REASON), "{{finished_reason}}"),),
                stacked=True,
            ),
            engines_table(),
        ),
    )


def _latency_row(config: InferwatchConfig) -> Row:
    t = config.thresholds
    slo = _slo_thresholds(config)
    queue = [
        Query(
            f"{_sum(n.histogram_series(k, 'sum'), '')} / ({_sum(n.histogram_series(k, 'count'), '')} > 0)",
            label,
        )
        for k, label in (("queue", "queue"), ("prefill", "prefill"), ("decode", "decode"))
    ]
    # Last, so a marker's NaN never enters the stack of measured times.
    queue += [q for q in (marker("prefill and decode", "prefill", "decode"),) if q is not None]
    return Row(
        "Latency",
        (
            _latency(
                "ttft",
                "Time to first token",
                "Time to first token",
                ("VLLMTimeToFirstTokenHigh (P95)", t.ttft_p95_seconds),
                slo.get("ttft"),
            ),
            _latency(
                "itl",
                "Inter-token latency",
                "Time between output tokens",
                ("VLLMInterTokenLatencyHigh (P95)", t.itl_p95_seconds),
                None,
            ),
            _latency(
                "tpot",
                "Time per output token (per request)",
                "Each request's mean time per output token",
                None,
                slo.get("tpot"),
            ),
            _latency("e2e", "End-to-end latency", "Request latency from arrival to last token", None, slo.get("e2e")),
            Panel(
                "timeseries",
                "Queue, prefill and decode time (mean)",
                "Where a request's time goes: waiting in the queue, prefill (prompt) and decode "
                f"(generation), from `{n.histogram_series('queue', 'sum')}`, "
                f"`{n.histogram_series('prefill', 'sum')}` and `{n.histogram_series('decode', 'sum')}` "
                "over their counts. A growing queue share means too few replicas. SGLang reports no prefill or "
                f"decode time per request: its models are listed as {NOT_REPORTED_TEXT}.",
                "s",
                tuple(queue),
                stacked=True,
                width=16,
                nan_text=NOT_REPORTED_TEXT,
            ),
        ),
    )


def _load(config: InferwatchConfig) -> Row:
    t = config.thresholds
    hits, queries = n.VLLM_PREFIX_CACHE_HITS_RATE, n.VLLM_PREFIX_CACHE_QUERIES_RATE
    return Row(
        "Load and KV cache",
        (
            Panel(
                "timeseries",
                "Running and waiting requests",
                f"Requests in the running batch and in the queue per pod, from `{n.VLLM_REQUESTS_RUNNING}` and "
                f"`{n.VLLM_REQUESTS_WAITING}` (summed over engines). VLLMQueueGrowing opens a ticket above "
                f"{t.queue_waiting_requests} waiting.",
                "short",
                (
                    Query(_sum(n.VLLM_REQUESTS_RUNNING, f"{n.NAMESPACE}, {n.POD}"), "running {{namespace}}/{{pod}}"),
                    Query(_sum(n.VLLM_REQUESTS_WAITING, f"{n.NAMESPACE}, {n.POD}"), "waiting {{namespace}}/{{pod}}"),
                ),
                thresholds=(Step(None, GOOD), Step(float(t.queue_waiting_requests), BAD)),
                threshold_style="line",
            ),
            Panel(
                "timeseries",
                "KV-cache usage (max per pod)",
                f"The fullest engine's KV-cache usage per pod, from `{n.VLLM_KV_CACHE_USAGE}` (low is good). "
                f"Red line: VLLMKVCacheNearlyFull at {num(t.kv_cache_usage_ratio * 100)} %. "
                "Next: preemptions.",
                "percentunit",
                (Query(f"{n.VLLM_KV_CACHE_USAGE}{{{F}}}", "{{namespace}}/{{pod}}"),),
                thresholds=(Step(None, GOOD), Step(t.kv_cache_usage_ratio, BAD)),
                threshold_style="line",
                min=0,
                max=1,
            ),
            Panel(
                "timeseries",
                "Preemptions/s",
                f"Requests preempted for lack of KV-cache blocks per pod, from `{n.VLLM_PREEMPTIONS_RATE}` "
                f"(0 is good). Red line: the ticket threshold {num(t.preemptions_per_second)}/s.",
                "short",
                (Query(_sum(n.VLLM_PREEMPTIONS_RATE, f"{n.NAMESPACE}, {n.POD}"), "{{namespace}}/{{pod}}"),),
                thresholds=(Step(None, GOOD), Step(t.preemptions_per_second, BAD)),
                threshold_style="line",
            ),
            Panel(
                "timeseries",
                "Prefix-cache hit ratio",
                f"Prompt tokens served from the prefix cache over tokens looked up, from `{hits}` / `{queries}` "
                f"(high is good). Red line: the ticket threshold {num(t.prefix_cache_hit_ratio * 100)} %, judged "
                f"only above {num(t.prefix_cache_min_queries_per_second)} queried tokens/s.",
                "percentunit",
                (Query(f"{_sum(hits)} / ({_sum(queries)} > 0)", LEGEND_MODEL),),
                thresholds=(Step(None, BAD), Step(t.prefix_cache_hit_ratio, GOOD)),
                threshold_style="line",
                min=0,
                max=1,
                empty_when="no prefix-cache lookups (prefix caching off, or no traffic)",
            ),
        ),
    )


def _slo_cost(config: InferwatchConfig) -> Row:
    panels: list[Panel] = []
    for spec in config.slos:
        if spec.sli.kind not in ("ttft", "tpot"):
            continue
        objective = spec.objective / 100
        sel = f'{sc.SLO_LABEL}="{spec.name}",{n.NAMESPACE}=~"$namespace"'
        panels.append(
            Panel(
                "timeseries",
                f"SLO attainment: {spec.name}",
                f"Share of requests meeting {spec.sli.kind.upper()} <= {num(spec.sli.threshold_seconds or 0)} s over "
                f"5 minutes, from `{sc.GOOD_EVENTS}` / `{sc.TOTAL_EVENTS}` (high is good). Line: the objective "
                f"{num(spec.objective)} %. Next: the SLOs dashboard for budget and burn rates.",
                "percentunit",
                (Query(f"{sc.GOOD_EVENTS}{{{sel}}} / {sc.TOTAL_EVENTS}{{{sel}}}", "{{namespace}}"),),
                thresholds=(Step(None, BAD), Step(objective, GOOD)),
                threshold_style="line",
                max=1,
                links=(links.SLOS,),
                width=12,
            )
        )
    table = Panel(
        "table",
        "Models",
        f"One line per model: requests/s (`{n.VLLM_REQUESTS_FINISHED_RATE}`), output tokens/s, P95 TTFT and "
        f"the allocation-based cost per 1M tokens (`{cc.COST_PER_MTOK_ALLOCATED}`). Click a model for its "
        "SLOs or its cost.",
        "short",
        (
            Query(_sum(n.VLLM_REQUESTS_FINISHED_RATE), "requests/s"),
            Query(_sum(n.VLLM_GENERATION_TOKENS_RATE), "output tokens/s"),
            Query(
                f"histogram_quantile(0.95, sum by ({BY_MODEL}, {n.LE}) ({TTFT_BUCKET}{{{F}}}))",
                "P95 TTFT",
            ),
            Query(f"{cc.COST_PER_MTOK_ALLOCATED}{{{MODEL_SEL}}}", f"cost per 1M tokens ({config.pricing.currency})"),
        ),
        width=24,
        height=7,
        column_links=(
            ColumnLink(n.MODEL, "SLOs of this model", links.with_vars(links.SLOS_UID)),
            ColumnLink(n.NAMESPACE, "Cost of this namespace", links.with_vars(links.COST_UID)),
        ),
    )
    return Row("SLOs and cost", (*panels, table))


def dashboard(config: InferwatchConfig) -> DashboardSpec:
    """The Inference dashboard of ``config``."""
    return DashboardSpec(
        name=links.INFERENCE_UID,
        title="inferwatch / Inference",
        description="vLLM and SGLang serving: traffic, latency against the alert thresholds, KV cache, llm-d "
        "routing, SLOs and cost per model.",
        variables=variables.COMMON,
        rows=(_traffic(config), _latency_row(config), _load(config), routing_row(config), _slo_cost(config)),
    )
