"""The router alerts: the llm-d router (endpoint picker) shedding a pool's requests.

Shed requests never reach a model server, so no engine series, SLO or HTTP status of the
engines sees them: the router's own count is the only signal. Thresholds come from the
`thresholds:` section (router_shed_ratio, router_shed_min_requests_per_second,
router_shed_for); the runbook prose is alerts/templates/InferencePoolSheddingRequests.md.j2.
"""

from __future__ import annotations

from inferwatch.alerts.definition import ALERT_GROUP_PREFIX, AlertDefinition, AlertGroup, held, hold, num, pct
from inferwatch.config.thresholds import Thresholds
from inferwatch.conventions import normalized as c

_BY_POOL = f"{c.NAMESPACE}, {c.POOL}"


def _per_pool(series: str) -> str:
    return f"sum by ({_BY_POOL}) ({series})"


def router_alerts(t: Thresholds) -> list[AlertDefinition]:
    """The router alerts, with the configured thresholds."""
    shed = _per_pool(c.ROUTER_SHED_RATE)
    # Requests a pool was asked for: scheduled ones plus shed ones (a shed request is never scheduled;
    # a pool that sheds everything has no scheduled-request series at all).
    asked = f"(({_per_pool(c.ROUTER_REQUESTS_RATE)} or {shed} * 0) + {shed})"
    return [
        AlertDefinition(
            name="InferencePoolSheddingRequests",
            severity="page",
            expr=(
                f"({shed} / {asked} > {num(t.router_shed_ratio)})\n"
                f"and on ({_BY_POOL})\n"
                f"({asked} >= {num(t.router_shed_min_requests_per_second)})"
            ),
            for_=hold(t.router_shed_for),
            summary="The llm-d router sheds requests of pool {{ $labels.pool }} in {{ $labels.namespace }}",
            description="{{ $value | humanizePercentage }} of the requests to InferencePool {{ $labels.pool }} in "
            "namespace {{ $labels.namespace }} are refused by the llm-d router (HTTP 429: the pool is saturated, "
            f"a flow-control queue is full or a request waited past its TTL) (threshold {pct(t.router_shed_ratio)}"
            f"{held(t.router_shed_for)}, judged at {num(t.router_shed_min_requests_per_second)} requests/s or more).",
            threshold=f"more than {pct(t.router_shed_ratio)} of a pool's requests shed by the router"
            f"{held(t.router_shed_for)}, judged at {num(t.router_shed_min_requests_per_second)} requests/s or more",
        ),
    ]


GROUP = AlertGroup(f"{ALERT_GROUP_PREFIX}-router", router_alerts)
