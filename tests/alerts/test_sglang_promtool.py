"""promtool proof on both promtools: SGLang feeds the same normalized series as vLLM, and every engine
alert fires and stays quiet on SGLang's series as it does on vLLM's.

The SGLang history is the payload fixture (tests/data/engines/sglang-0.5.23.txt, SGLang 0.5.23's
names, labels and buckets); what each normalized series must read is computed from the payload
apart from the rules (tests/alerts/engine_inputs.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from inferwatch.conventions import normalized as n
from inferwatch.tools import Toolbox
from tests.alerts.cases import FIRING, QUIET, series
from tests.alerts.engine_inputs import expected_sglang, history, rounded_test, samples, sglang_case
from tests.alerts.test_promtool import PROMTOOLS, VLLM_EXPECTED, V, _alert_test, _expr_test, _run_tests, _vllm_inputs
from tests.support.engine_payloads import MODEL, SGLANG_PAYLOAD

TARGET = {"namespace": "ns2", "pod": "sglang-0", "job": "sglang", "instance": "10.0.0.2:30000"}
POD = {"namespace": "ns2", "model_name": MODEL, "pod": "sglang-0"}


def _payload() -> str:
    return SGLANG_PAYLOAD.read_text()


def test_the_payload_has_what_the_normalization_reads() -> None:
    """The fixture is worth testing against: two data-parallel ranks, both kinds of requests, an abort."""
    names = {name for _, name, _, _ in samples(_payload())}
    ranks = {labels.get("dp_rank") for _, name, labels, _ in samples(_payload()) if name == "sglang:num_running_reqs"}
    assert ranks == {"0", "1"}
    assert {"sglang:num_aborted_requests_total", "sglang:http_responses_total", "sglang:token_usage"} <= names
    streaming = {labels.get("is_streaming") for _, name, labels, _ in samples(_payload()) if "prompt_tokens" in name}
    assert streaming == {"true", "false"}


@pytest.mark.parametrize("promtool", PROMTOOLS)
def test_the_sglang_payload_feeds_every_engine_series(tools: Toolbox, rules_dir: Path, promtool: str) -> None:
    expected = expected_sglang(_payload(), POD)
    assert {name for name, _ in expected} >= {n.VLLM_PROMPT_TOKENS_RATE, n.VLLM_KV_CACHE_USAGE, n.SERVING_ENGINE_INFO}
    inputs = history(_payload(), TARGET)
    # What the other copies of a series look like: the sidecar's pass-through of the same scrape, and
    # a second tensor-parallel rank's view of the scheduler (--enable-metrics-for-all-schedulers).
    sidecar = [
        series(s["series"].replace('job="sglang"', 'job="inferwatch-sidecar"').replace(":30000", ":9400"), s["values"])
        for s in inputs
    ]
    tp1 = [
        series(s["series"].replace('tp_rank="0"', 'tp_rank="1"'), s["values"])
        for s in inputs
        if 'tp_rank="0"' in s["series"]
    ]
    assert len(tp1) > 20
    tests = [
        rounded_test("SGLang 0.5.23 payload", inputs, expected),
        rounded_test("scraped twice, every scheduler rank recording", inputs + sidecar + tp1, expected),
    ]
    _run_tests(tools, promtool, rules_dir, tests, "sglang-payload")


@pytest.mark.parametrize("promtool", PROMTOOLS)
def test_a_vllm_pod_and_an_sglang_pod_side_by_side(tools: Toolbox, rules_dir: Path, promtool: str) -> None:
    """One expression per series serves both engines: each pod keeps its own values and engine."""
    inputs = [
        *_vllm_inputs(current=True),
        *history(_payload(), TARGET),
        series(f'vllm:num_requests_running{{{V},engine="0",job="vllm"}}', "1x10"),
    ]
    expected = []
    for expr, samples_ in VLLM_EXPECTED:
        base, _, selector = expr.partition("{")
        expected.append((f'{base}{{pod="vllm-0",{selector}' if selector else f'{base}{{pod="vllm-0"}}', samples_))
    expected.append((f'{n.SERVING_ENGINE_INFO}{{pod="vllm-0"}}', [(f'{{{V},serving_engine="vllm"}}', 1.0)]))
    sglang = [(f'{name}{{pod="sglang-0"}}', samples_) for name, samples_ in expected_sglang(_payload(), POD)]
    tests = [_expr_test("vllm beside sglang", inputs, expected), rounded_test("sglang beside vllm", inputs, sglang)]
    _run_tests(tools, promtool, rules_dir, tests, "sglang-beside-vllm")


@pytest.mark.parametrize("promtool", PROMTOOLS)
def test_priority_breakdowns_and_older_names(tools: Toolbox, rules_dir: Path, promtool: str) -> None:
    """With priority scheduling the queue gauges carry the total under priority="" and a breakdown beside
    it (read: the total); SGLang 0.5.6 counts retractions in a histogram and cached tokens apart."""
    tok = 'namespace="ns2",pod="sglang-0",model_name="m",job="sglang",engine_type="unified"'
    lab = f'{tok},tp_rank="0",pp_rank="0",moe_ep_rank="0"'
    inputs = [
        series(f'sglang:num_running_reqs{{{lab},priority=""}}', "7x10"),
        series(f'sglang:num_running_reqs{{{lab},priority="0"}}', "4x10"),
        series(f'sglang:num_running_reqs{{{lab},priority="1"}}', "3x10"),
        series(f'sglang:num_queue_reqs{{{lab},priority=""}}', "2x10"),
        series(f'sglang:num_queue_reqs{{{lab},priority="1"}}', "2x10"),
        series(f"sglang:num_retractions_sum{{{lab}}}", "0+120x10"),
        series(f"sglang:cached_tokens_total{{{tok}}}", "0+600x10"),
        series(f"sglang:prompt_tokens_total{{{tok}}}", "0+2400x10"),
    ]
    where = '{namespace="ns2",model_name="m",pod="sglang-0"}'
    expected = [
        (n.VLLM_REQUESTS_RUNNING, [(where, 7.0)]),
        (n.VLLM_REQUESTS_WAITING, [(where, 2.0)]),
        (n.VLLM_PREEMPTIONS_RATE, [(where, 2.0)]),
        (n.VLLM_PREFIX_CACHE_HITS_RATE, [(where, 10.0)]),
        (n.VLLM_PREFIX_CACHE_QUERIES_RATE, [(where, 40.0)]),
    ]
    _run_tests(tools, promtool, rules_dir, [_expr_test("priority and 0.5.6", inputs, expected)], "sglang-old")


def test_every_engine_alert_has_an_sglang_history() -> None:
    """Each case over engine series is proven on SGLang's names too (VLLMMetricsAbsent fires on no
    engine series at all, so only its quiet case has an SGLang history)."""
    engine_cases = [c for c in FIRING + QUIET if any("vllm:" in s["series"] for s in c.inputs)]
    assert all(sglang_case(c) is not None for c in engine_cases)
    firing = {c.alert for c in FIRING if sglang_case(c)}
    quiet = {c.alert for c in QUIET if sglang_case(c)}
    assert len(firing & quiet) >= 8 and quiet - firing == {"VLLMMetricsAbsent"}, (firing, quiet)


@pytest.mark.parametrize("promtool", PROMTOOLS)
def test_every_engine_alert_fires_and_stays_quiet_on_sglang(tools: Toolbox, rules_dir: Path, promtool: str) -> None:
    cases = [t for c in FIRING + QUIET if (t := sglang_case(c)) is not None]
    tests = [_alert_test(c) for c in cases]
    for i, t in enumerate(tests):
        t["name"] = f"{i}: {t['name']} (SGLang)"
    _run_tests(tools, promtool, rules_dir, tests, "sglang-alerts")
