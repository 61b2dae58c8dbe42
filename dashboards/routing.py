"""The Inference dashboard's Routing row: the llm-d router (the InferencePool's endpoint picker).

Requests per pool and model (asked-for model to the target it was sent to, a LoRA adapter
after InferenceModelRewrite), the share the router sheds (HTTP 429, with InferencePoolSheddingRequests'
own threshold), failures by code, the queue and KV-cache signals the picker routes on, and the
picker's own latency. Router series carry the router's namespace and pool, not the model
servers' pods: the row filters on namespace only.
"""

from __future__ import annotations

from inferwatch.config import InferwatchConfig
from inferwatch.conventions import normalized as n
from inferwatch.dashboards.model import BAD, GOOD, NEUTRAL, Panel, Query, Row, Step
from inferwatch.promql import format_number as num

NS = f'{n.NAMESPACE}=~"$namespace"'
BY_POOL = f"{n.NAMESPACE}, {n.POOL}"
LEGEND_POOL = "{{namespace}}/{{pool}}"
NO_ROUTER = "no llm-d router (endpoint picker) is scraped in the selected namespaces"


def _per_pool(series: str) -> str:
    return f"sum by ({BY_POOL}) ({series}{{{NS}}})"


def _requests() -> Panel:
    return Panel(
        "timeseries",
        "Routed requests/s by pool and model",
        f"Requests the router scheduled per second, by InferencePool and by the model asked for → the model it "
        f"was sent to (a LoRA adapter after a rewrite), from `{n.ROUTER_REQUESTS_RATE}`. Shed requests are not "
        "scheduled: see the next panel.",
        "reqps",
        (
            Query(
                f"sum by ({', '.join(n.ROUTER_REQUEST_LABELS)}) ({n.ROUTER_REQUESTS_RATE}{{{NS}}})",
                "{{pool}}: {{model_name}} → {{target_model_name}}",
            ),
        ),
        stacked=True,
        empty_when=NO_ROUTER,
    )


def _shed(config: InferwatchConfig) -> Panel:
    t = config.thresholds
    shed = _per_pool(n.ROUTER_SHED_RATE)
    scheduled = _per_pool(n.ROUTER_REQUESTS_RATE)
    asked = f"(({scheduled} or {shed} * 0) + ({shed} or {scheduled} * 0))"
    return Panel(
        "timeseries",
        "Shed by the router",
        f"Share of each pool's requests the router refused (HTTP 429: saturated, a flow-control queue full or a "
        f"request past its TTL), from `{n.ROUTER_SHED_RATE}` over shed + scheduled (low is good). Red line: "
        f"InferencePoolSheddingRequests pages above {num(t.router_shed_ratio * 100)} %. Shed requests never reach a "
        "model server: no engine series or SLO counts them.",
        "percentunit",
        (Query(f"({shed} or {scheduled} * 0) / ({asked} > 0)", LEGEND_POOL),),
        thresholds=(Step(None, GOOD), Step(t.router_shed_ratio, BAD)),
        threshold_style="line",
        min=0,
        empty_when=NO_ROUTER,
    )


def _errors() -> Panel:
    return Panel(
        "timeseries",
        "Failed requests/s by code",
        f"Requests that failed at or behind the router per second, by pool and error code as the router spells "
        f"it (ResourceExhausted is shedding, ServiceUnavailable no endpoint, a number the model server's status), "
        f"from `{n.ROUTER_REQUEST_ERRORS_RATE}`.",
        "reqps",
        (
            Query(
                f"sum by ({BY_POOL}, {n.ERROR_CODE}) ({n.ROUTER_REQUEST_ERRORS_RATE}{{{NS}}})",
                "{{pool}} {{error_code}}",
            ),
        ),
        stacked=True,
        empty_when="no request failed at a router of the selected namespaces in the time range",
    )


def _queue() -> Panel:
    return Panel(
        "timeseries",
        "Pool queue (the picker's view)",
        f"What the picker routes on: requests waiting per ready endpoint (`{n.ROUTER_POOL_QUEUE}`), ready endpoints "
        f"(`{n.ROUTER_POOL_READY_ENDPOINTS}`) and requests held in the router's flow-control queues "
        f"(`{n.ROUTER_FLOW_CONTROL_QUEUE}`, with the flowControl feature gate). The autoscaler can scale on their "
        "product plus the held requests (docs/autoscaling.md).",
        "short",
        (
            Query(_per_pool(n.ROUTER_POOL_QUEUE), "waiting per endpoint " + LEGEND_POOL),
            Query(_per_pool(n.ROUTER_POOL_READY_ENDPOINTS), "ready endpoints " + LEGEND_POOL),
            Query(_per_pool(n.ROUTER_FLOW_CONTROL_QUEUE), "held by flow control " + LEGEND_POOL),
        ),
        thresholds=(Step(None, NEUTRAL),),
        width=12,
        empty_when=NO_ROUTER,
    )


def _kv_cache(config: InferwatchConfig) -> Panel:
    t = config.thresholds
    return Panel(
        "timeseries",
        "Pool KV-cache usage (the picker's view)",
        f"Average KV-cache usage of each pool's endpoints as the picker last read them, from "
        f"`{n.ROUTER_POOL_KV_CACHE_USAGE}` (low is good). Red line: VLLMKVCacheNearlyFull's "
        f"{num(t.kv_cache_usage_ratio * 100)} % per pod.",
        "percentunit",
        (Query(_per_pool(n.ROUTER_POOL_KV_CACHE_USAGE), LEGEND_POOL),),
        thresholds=(Step(None, GOOD), Step(t.kv_cache_usage_ratio, BAD)),
        threshold_style="line",
        min=0,
        max=1,
        width=6,
        empty_when=NO_ROUTER,
    )


def _picker_latency() -> Panel:
    bucket = n.router_scheduler_series("bucket")
    return Panel(
        "timeseries",
        "Picker latency",
        f"Time the endpoint picker takes to choose an endpoint for a request, P50/P95/P99 over the selected "
        f"namespaces' routers, from `{bucket}` (low is good; it adds to every request's time to first token).",
        "s",
        tuple(
            Query(f"histogram_quantile({q}, sum by ({n.LE}) ({bucket}{{{NS}}}))", f"P{round(q * 100)}")
            for q in (0.5, 0.95, 0.99)
        ),
        width=6,
        empty_when=NO_ROUTER,
    )


def routing_row(config: InferwatchConfig) -> Row:
    """The Routing row of the Inference dashboard."""
    return Row(
        "Routing (llm-d router)",
        (_requests(), _shed(config), _errors(), _queue(), _kv_cache(config), _picker_latency()),
    )
