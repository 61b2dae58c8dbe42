"""promtool proof on both promtools: every generation of the llm-d router's names feeds the same router series.

The history is a router payload (tests/data/engines/llm-d-router-v0.10.0.txt: llm-d-router
v0.10.0, which serves `llm_d_epp_*` and the Inference Extension's names side by side), and the
same traffic told by a router of one generation only; what each normalized series must read is
computed from the payload apart from the rules.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from inferwatch.conventions import normalized as n
from inferwatch.localstack.router import RouterMetrics
from inferwatch.tools import Toolbox
from tests.alerts.cases import series
from tests.alerts.engine_inputs import history, rounded_test, samples
from tests.alerts.test_promtool import PROMTOOLS, _run_tests
from tests.support.engine_payloads import POOL, ROUTER_PAYLOAD, router_payload

TARGET = {"namespace": "llm", "pod": "qwen-chat-epp-0", "job": "qwen-chat-epp", "instance": "10.0.0.5:9090"}
SHED_CODES = ("ResourceExhausted", "InferencePoolResourceExhausted")


def _g2(payload: str, name: str, by: tuple[str, ...], **match: str) -> dict[tuple[str, ...], float]:
    out: dict[tuple[str, ...], float] = defaultdict(float)
    for _, sample, labels, value in samples(payload):
        if sample == name and all(labels.get(k) in v.split("|") for k, v in match.items()):
            out[tuple(labels.get(k, "") for k in by)] += round(value)
    return dict(out)


def _labels(names: tuple[str, ...], values: tuple[str, ...], pool: str = POOL) -> str:
    pairs = [("namespace", "llm"), ("pool", pool), *zip(names, values, strict=True)]
    return "{" + ",".join(f'{k}="{v}"' for k, v in pairs if v) + "}"


def expected_router(payload: str, prefix: str, *, fairness: bool, pool: str = POOL) -> list[tuple[str, list]]:
    """What each router series reads for one router target serving ``payload`` under ``prefix`` names."""
    model = ("model_name", "target_model_name")
    names = {
        "llm_d_epp": ("llm_d_epp_request_total", "llm_d_epp_request_error_total", "llm_d_epp_request_input_tokens_sum",
                      "llm_d_epp_request_output_tokens_sum"),
        "inference_objective": ("inference_objective_request_total", "inference_objective_request_error_total",
                                "inference_objective_input_tokens_sum", "inference_objective_output_tokens_sum"),
        "inference_model": ("inference_model_request_total", "inference_model_request_error_total",
                            "inference_model_input_tokens_sum", "inference_model_output_tokens_sum"),
    }[prefix]  # fmt: skip
    total, errors, inputs, outputs = names
    tokens_by = (*model, "fairness_id") if fairness else model

    def rows(found: dict[tuple[str, ...], float], by: tuple[str, ...]) -> list[tuple[str, float]]:
        return [(_labels(by, key, pool), v) for key, v in sorted(found.items())]

    pool_prefix = "llm_d_epp" if prefix == "llm_d_epp" else "inference_pool"
    ready = "llm_d_epp_ready_endpoints" if prefix == "llm_d_epp" else "inference_pool_ready_pods"
    ext = "llm_d_epp" if prefix == "llm_d_epp" else "inference_extension"
    gauge = {name: v for _, name, _, v in samples(payload)}
    sched = _g2(payload, f"{ext}_scheduler_e2e_duration_seconds_bucket", ("le",))
    count = "scheduler_e2e_duration_seconds_count"
    out = [
        (n.ROUTER_REQUESTS_RATE, rows(_g2(payload, total, model), model)),
        (n.ROUTER_REQUEST_ERRORS_RATE, rows(_g2(payload, errors, (*model, "error_code")), (*model, "error_code"))),
        (n.ROUTER_SHED_RATE, rows(_g2(payload, errors, model, error_code="|".join(SHED_CODES)), model)),
        (n.ROUTER_INPUT_TOKENS_RATE, rows(_g2(payload, inputs, tokens_by), tokens_by)),
        (n.ROUTER_OUTPUT_TOKENS_RATE, rows(_g2(payload, outputs, tokens_by), tokens_by)),
        (n.ROUTER_POOL_QUEUE, [(_labels((), (), pool), gauge[f"{pool_prefix}_average_queue_size"])]),
        (n.ROUTER_POOL_KV_CACHE_USAGE, [(_labels((), (), pool), gauge[f"{pool_prefix}_average_kv_cache_utilization"])]),
        (n.ROUTER_POOL_READY_ENDPOINTS, [(_labels((), (), pool), gauge[ready])]),
        (
            n.router_scheduler_series("bucket"),
            [
                (_labels(("le",), (le if "." in le or le == "+Inf" else f"{le}.0",), pool), v)
                for (le,), v in sorted(sched.items())
            ],
        ),
        (
            n.router_scheduler_series("count"),
            [(_labels((), (), pool), sum(_g2(payload, f"{ext}_{count}", ()).values()))],
        ),
    ]
    if prefix != "inference_model":
        queue = sum(v for _, name, _, v in samples(payload) if name == f"{ext}_flow_control_queue_size")
        out.append((n.ROUTER_FLOW_CONTROL_QUEUE, [(_labels((), (), pool), queue)]))
    return out


def _one_generation(generation: str) -> str:
    """The fixture's traffic told by a router of one generation (the Inference Extension's shed code)."""
    return router_payload(RouterMetrics(POOL, generations=(generation,), shed_code="InferencePoolResourceExhausted"))


@pytest.mark.parametrize("promtool", PROMTOOLS)
def test_every_router_generation_feeds_the_same_series(tools: Toolbox, rules_dir: Path, promtool: str) -> None:
    dual = ROUTER_PAYLOAD.read_text()
    assert "llm_d_epp_request_total" in dual and "inference_objective_request_total" in dual
    g1, g0 = _one_generation("g1"), _one_generation("g0")
    tests = [
        # llm-d-router v0.10.0: both generations at once, counted once, fairness ids from llm_d_epp_*.
        rounded_test(
            "llm-d-router v0.10.0 (llm_d_epp_* and inference_objective_*)",
            history(dual, TARGET),
            expected_router(dual, "llm_d_epp", fairness=True),
        ),
        rounded_test(
            "llm-d-router, legacy names removed",
            history(_g2_only(dual), TARGET),
            expected_router(dual, "llm_d_epp", fairness=True),
        ),
        rounded_test(
            "Inference Extension v1.1 to v1.5",
            history(g1, TARGET),
            expected_router(g1, "inference_objective", fairness=False),
        ),
        rounded_test(
            "Inference Extension v1.0", history(g0, TARGET), expected_router(g0, "inference_model", fairness=False)
        ),
    ]
    _run_tests(tools, promtool, rules_dir, tests, "router-generations")


def _g2_only(payload: str) -> str:
    """The payload as a router after llm-d-router#2675/#2826 serves it: `llm_d_epp_*` only."""
    legacy = ("inference_", "# HELP inference_", "# TYPE inference_")
    return "".join(line + "\n" for line in payload.splitlines() if not line.startswith(legacy))


@pytest.mark.parametrize("promtool", PROMTOOLS)
def test_replicas_add_up_and_a_router_without_pool_gauges_keeps_its_requests(
    tools: Toolbox, rules_dir: Path, promtool: str
) -> None:
    """Two replicas of one router: requests and flow-control queues add up, pool gauges (the same
    endpoints read twice) do not. A router whose pool gauges are missing still counts, under pool=""."""
    lab = 'namespace="llm",job="epp",model_name="m",target_model_name="m",fairness_id="t",priority="0"'
    replica = [
        ("10.0.0.5:9090", "0+60x10", "3x10"),
        ("10.0.0.6:9090", "0+120x10", "1x10"),
    ]
    inputs = []
    for instance, requests, queued in replica:
        inputs += [
            series(f'llm_d_epp_request_total{{{lab},instance="{instance}"}}', requests),
            series(f'llm_d_epp_ready_endpoints{{namespace="llm",job="epp",instance="{instance}",name="p"}}', "2x10"),
            series(
                f'llm_d_epp_average_queue_size{{namespace="llm",job="epp",instance="{instance}",name="p"}}', "1.5x10"
            ),
            series(
                f'llm_d_epp_flow_control_queue_size{{namespace="llm",job="epp",instance="{instance}",fairness_id="t",'
                f'priority="0",inference_pool="p",model_name="m",target_model_name="m"}}',
                queued,
            ),
        ]
    inputs.append(series('llm_d_epp_request_total{namespace="other",job="epp2",instance="10.0.1.1:9090",'
                         'model_name="m",target_model_name="m",fairness_id="t",priority="0"}', "0+30x10"))  # fmt: skip
    expected = [
        (
            n.ROUTER_REQUESTS_RATE,
            [
                ('{namespace="llm",pool="p",model_name="m",target_model_name="m"}', 3.0),
                ('{namespace="other",model_name="m",target_model_name="m"}', 0.5),
            ],
        ),
        (n.ROUTER_POOL_READY_ENDPOINTS, [('{namespace="llm",pool="p"}', 2.0)]),
        (n.ROUTER_POOL_QUEUE, [('{namespace="llm",pool="p"}', 1.5)]),
        (n.ROUTER_FLOW_CONTROL_QUEUE, [('{namespace="llm",pool="p"}', 4.0)]),
    ]
    _run_tests(tools, promtool, rules_dir, [rounded_test("replicas", inputs, expected)], "router-replicas")
