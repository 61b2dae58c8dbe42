"""The line-based pass-through (issue 23) serves exactly what the full parse, repair and render served.

The reference is the path it replaces: prometheus_client's parser, `repair_families`,
`translate_families` and prometheus_client's renderers. Both outputs are parsed back, as
Prometheus reads them, in the text format and in OpenMetrics.
"""

from __future__ import annotations

import random

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import Metric
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families

from inferwatch.exporters.passthrough import EngineExposition, translate_text
from inferwatch.exporters.vllm import parse_exposition, repair_families, translate_families
from tests.exporters.test_vllm import BOTH, OLD_ONLY
from tests.support.engine_payloads import ROUTER_PAYLOAD, SGLANG_PAYLOAD


def vllm_like_payload(created: bool = False) -> str:
    """What vLLM's prometheus_client registry writes: gauges, counters and histograms per model and
    engine rank, plus the process's own families and an old name. vLLM turns the `_created` series
    off; `created` keeps them, as prometheus_client's default writes them (gauge families of their own)."""
    rng = random.Random(3)
    reg = CollectorRegistry()
    labels = ["engine", "model_name"]
    running = Gauge("vllm:num_requests_running", 'Requests in "RUNNING" state.', labels, registry=reg)
    old_kv = Gauge("vllm:gpu_cache_usage_perc", "GPU KV-cache usage (old name).", labels, registry=reg)
    prompt = Counter("vllm:prompt_tokens", "Prefill tokens processed.", labels, registry=reg)
    ttft = Histogram("vllm:time_to_first_token_seconds", "TTFT.", labels, buckets=(0.01, 0.1, 1, 10), registry=reg)
    tpot = Histogram("vllm:time_per_output_token_seconds", "TPOT (old).", labels, buckets=(0.01, 0.1), registry=reg)
    Counter("process_cpu_seconds", "The engine process's CPU.", registry=reg).inc(3)
    for model in ("meta-llama/Llama-3.1-8B", "Qwen/Qwen2.5-7B"):
        for engine in ("0", "1"):
            running.labels(engine, model).set(rng.randint(0, 64))
            old_kv.labels(engine, model).set(rng.random())
            prompt.labels(engine, model).inc(rng.randint(1, 10**9))
            for _ in range(20):
                ttft.labels(engine, model).observe(rng.lognormvariate(-2, 2))
                tpot.labels(engine, model).observe(rng.lognormvariate(-4, 1))
    text = generate_latest(reg).decode()
    if created:
        return text
    blocks = text.replace("\n# HELP ", "\n\0# HELP ").split("\0")
    return "".join(b for b in blocks if "_created " not in b.split("\n", 1)[0])


PAYLOADS = {
    "vllm-like": vllm_like_payload(),
    "vllm-like with _created": vllm_like_payload(created=True),
    "old names only": OLD_ONLY,
    "old and current names": BOTH,
    "sglang": SGLANG_PAYLOAD.read_text(),
    "llm-d router (Go client)": ROUTER_PAYLOAD.read_text(),
    "no engine family": "# TYPE process_open_fds gauge\nprocess_open_fds 12\n",
    "stray samples": 'vllm:a 1\nvllm:b{x="1"} 2\n# HELP vllm:c C.\n# TYPE vllm:c gauge\nvllm:c 3\nvllm:c_extra 4\n',
}


def _reference(text: str) -> EngineExposition:
    families, repairs = repair_families(parse_exposition(text))
    assert not repairs
    return EngineExposition.of_families(translate_families(families))


def _served(exposition: EngineExposition) -> tuple[list[Metric], list[Metric] | bytes]:
    """What Prometheus reads of it: the text format and OpenMetrics, parsed (OpenMetrics as bytes when it
    holds a counter's `_created` as a gauge family, which the strict OpenMetrics parser refuses)."""
    text = list(text_string_to_metric_families(exposition.render(False).decode()))
    om = exposition.render(True)
    if b"_created gauge" in om:
        return text, om
    return text, list(openmetrics_families(om.decode() + "# EOF\n"))  # type: ignore[no-untyped-call]


@pytest.mark.parametrize("name", PAYLOADS)
def test_the_line_reader_serves_what_the_full_parse_served(name: str) -> None:
    text = PAYLOADS[name]
    by_line = translate_text(text)
    assert by_line is not None, "the line reader should have read this answer"
    reference = _reference(text)
    assert _served(by_line) == _served(reference)
    assert by_line.families() == reference.families()
    assert len(by_line) == len(reference.families())


def test_old_names_are_renamed_and_the_current_name_wins() -> None:
    served = {f.name: f for f in translate_text(PAYLOADS["vllm-like"]).families()}  # type: ignore[union-attr]
    assert "vllm:kv_cache_usage_perc" in served and "vllm:gpu_cache_usage_perc" not in served
    itl = served["vllm:inter_token_latency_seconds"]
    suffixes = ("_bucket", "_sum", "_count")
    assert {s.name for s in itl.samples} == {f"vllm:inter_token_latency_seconds{s}" for s in suffixes}
    assert not any(name.startswith("process_") for name in served)
    both = translate_text(BOTH)
    assert both is not None and [f.name for f in both.families()] == ["vllm:kv_cache_usage_perc"]


def test_openmetrics_names_counters_without_total_and_escapes_quotes_in_help() -> None:
    om = translate_text(PAYLOADS["vllm-like"]).render(True).decode()  # type: ignore[union-attr]
    assert "# TYPE vllm:prompt_tokens counter\n" in om and "\nvllm:prompt_tokens_total{" in om
    assert '# HELP vllm:num_requests_running Requests in \\"RUNNING\\" state.\n' in om


GOOD = '# HELP vllm:g G.\n# TYPE vllm:g gauge\nvllm:g{engine="0",model_name="m"} 1\n'


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(GOOD + GOOD, id="a repeated family block"),
        pytest.param(GOOD + 'vllm:g{engine="0",model_name="m"} 2\n', id="a series twice"),
        pytest.param(GOOD + 'vllm:g{model_name="m",engine="0"} 2\n', id="a series twice, labels reordered"),
        pytest.param(GOOD.replace("} 1", "} 1 1700000000000"), id="a timestamp"),
        pytest.param(GOOD.replace('"m"', '"a\\"b"'), id="an escape"),
        pytest.param("# a comment\n" + GOOD, id="another comment"),
        pytest.param("# TYPE vllm:c counter\nvllm:c 1\n", id="a counter declared without _total"),
        pytest.param(GOOD.replace('"m"}', '"m",}'), id="a trailing comma"),
        pytest.param(GOOD.replace('engine="0"', 'engine="0",engine="1"'), id="a label twice"),
        pytest.param(GOOD.replace("} 1", "}  1"), id="two spaces"),
        pytest.param("# TYPE vllm:i info\n", id="a type the text format lacks"),
        pytest.param("vllm:g{engine=0} 1\n", id="garbage"),
        pytest.param("\n \n", id="no family"),
    ],
)
def test_what_the_line_reader_cannot_prove_goes_to_the_full_parse(answer: str) -> None:
    assert translate_text(answer) is None
