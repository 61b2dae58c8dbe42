"""The llm-d router's series: the Gateway API Inference Extension endpoint picker (EPP), three generations.

The picker's metrics were renamed twice (docs/engines.md has the sources and dates):

- G2 `llm_d_epp_*`: llm-d-router v0.9.0 on (June 2026), dual-emitted with G1 through v0.10.0;
  the legacy names left llm-d-router's main branch in September 2026;
- G1 `inference_objective_*` (requests), `inference_pool_*` (pool gauges) and
  `inference_extension_*` (scheduler, flow control): Gateway API Inference Extension v1.1.0 to
  v1.5.0 and llm-d-inference-scheduler up to v0.8.0;
- G0 `inference_model_*` for the request series: the Inference Extension v1.0.

Per router target (`namespace, job, instance`) the newest generation it serves wins
(`or on (…)`), so a dual-emitting router is counted once although its generations carry
different labels (only G2 has `fairness_id`). Request and token series carry no pool label: a
router serves one InferencePool, whose name its pool gauges carry as `name`, so the pool is
joined in per target (a router whose pool gauges are not there yet keeps `pool=""`). Routers
are Go programs: integer `le` values come as "1", spelled "1.0" here like every bucket series.
"""

from __future__ import annotations

from inferwatch.alerts.normalize.expressions import first_on, float_le, rate
from inferwatch.conventions import normalized as c
from inferwatch.rules import RecordingRule

# One router target: the newest generation is chosen per target, and the pool joined per target.
TARGET = f"{c.NAMESPACE}, job, instance"
# The error code of a shed request (HTTP 429): llm-d-router v0.9.0 on, and the older spelling.
SHED_CODES = ("ResourceExhausted", "InferencePoolResourceExhausted")
_REQUEST_BY = ", ".join(c.ROUTER_REQUEST_LABELS)
_POOL_BY = ", ".join(c.ROUTER_LABELS)

# Request-level families by generation, newest first (None: that generation has no such family).
REQUEST_FAMILIES: dict[str, tuple[str, ...]] = {
    "requests": ("llm_d_epp_request_total", "inference_objective_request_total", "inference_model_request_total"),
    "errors": (
        "llm_d_epp_request_error_total",
        "inference_objective_request_error_total",
        "inference_model_request_error_total",
    ),
    "input_tokens": (
        "llm_d_epp_request_input_tokens_sum",
        "inference_objective_input_tokens_sum",
        "inference_model_input_tokens_sum",
    ),
    "output_tokens": (
        "llm_d_epp_request_output_tokens_sum",
        "inference_objective_output_tokens_sum",
        "inference_model_output_tokens_sum",
    ),
}
# Pool gauges (label `name`): G2, then G1 (which G0 shares).
POOL_GAUGES: dict[str, tuple[str, ...]] = {
    c.ROUTER_POOL_QUEUE: ("llm_d_epp_average_queue_size", "inference_pool_average_queue_size"),
    c.ROUTER_POOL_KV_CACHE_USAGE: (
        "llm_d_epp_average_kv_cache_utilization",
        "inference_pool_average_kv_cache_utilization",
    ),
    c.ROUTER_POOL_READY_ENDPOINTS: ("llm_d_epp_ready_endpoints", "inference_pool_ready_pods"),
}
FLOW_CONTROL_QUEUE = ("llm_d_epp_flow_control_queue_size", "inference_extension_flow_control_queue_size")
SCHEDULER = ("llm_d_epp_scheduler_e2e_duration_seconds", "inference_extension_scheduler_e2e_duration_seconds")


def _pool_from(expr: str, label: str) -> str:
    return f'label_replace({expr}, "{c.POOL}", "$1", "{label}", "(.*)")'


def pool_of_target() -> str:
    """The InferencePool of each router target: `namespace, job, instance, pool`."""
    ready = POOL_GAUGES[c.ROUTER_POOL_READY_ENDPOINTS]
    return f"group by ({TARGET}, {c.POOL}) ({_pool_from(first_on(TARGET, list(ready)), 'name')})"


def _with_pool(raw: str) -> str:
    """``raw`` (per router target) with its target's pool, or `pool=""` where none is known yet."""
    return f"(\n{raw}\n) * on ({TARGET}) group_left ({c.POOL})\n{pool_of_target()}\nor on ({TARGET})\n(\n{raw}\n)"


def _requests(kind: str, selector: str = "") -> str:
    return first_on(TARGET, [rate(f, selector) for f in REQUEST_FAMILIES[kind]])


def _request_rules() -> list[RecordingRule]:
    shed = f'{c.ERROR_CODE}=~"{"|".join(SHED_CODES)}"'
    tokens_by = f"{_REQUEST_BY}, {c.FAIRNESS_ID}"
    return [
        RecordingRule(c.ROUTER_REQUESTS_RATE, f"sum by ({_REQUEST_BY}) (\n{_with_pool(_requests('requests'))}\n)"),
        RecordingRule(
            c.ROUTER_REQUEST_ERRORS_RATE,
            f"sum by ({_REQUEST_BY}, {c.ERROR_CODE}) (\n{_with_pool(_requests('errors'))}\n)",
        ),
        RecordingRule(c.ROUTER_SHED_RATE, f"sum by ({_REQUEST_BY}) (\n{_with_pool(_requests('errors', shed))}\n)"),
        RecordingRule(
            c.ROUTER_INPUT_TOKENS_RATE, f"sum by ({tokens_by}) (\n{_with_pool(_requests('input_tokens'))}\n)"
        ),
        RecordingRule(
            c.ROUTER_OUTPUT_TOKENS_RATE, f"sum by ({tokens_by}) (\n{_with_pool(_requests('output_tokens'))}\n)"
        ),
    ]


def _pool_rules() -> list[RecordingRule]:
    # Router replicas read the same endpoints: their pool gauges agree, so max folds them; flow-control
    # queues are each replica's own, so they add up.
    rules = [
        RecordingRule(record, f"max by ({_POOL_BY}) ({_pool_from(first_on(TARGET, list(families)), 'name')})")
        for record, families in POOL_GAUGES.items()
    ]
    queue = _pool_from(first_on(TARGET, list(FLOW_CONTROL_QUEUE)), "inference_pool")
    rules.append(RecordingRule(c.ROUTER_FLOW_CONTROL_QUEUE, f"sum by ({_POOL_BY}) ({queue})"))
    return rules


def _scheduler_rules() -> list[RecordingRule]:
    rules = []
    for part in ("bucket", "count", "sum"):
        raw = first_on(TARGET, [rate(f"{f}_{part}") for f in SCHEDULER])
        by = f"{_POOL_BY}, {c.LE}" if part == "bucket" else _POOL_BY
        body = _with_pool(float_le(raw) if part == "bucket" else raw)
        rules.append(RecordingRule(c.router_scheduler_series(part), f"sum by ({by}) (\n{body}\n)"))
    return rules


def router_rules() -> list[RecordingRule]:
    """Every router series: requests, errors, shed requests and tokens per model; pool signals; picker latency."""
    return _request_rules() + _pool_rules() + _scheduler_rules()
