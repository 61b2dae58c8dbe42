"""A real Prometheus scraping the sidecar exporter while vLLM answers with a series twice.

Served as it came, the duplicate makes Prometheus count a duplicate sample and keep one value
at random (issue 17); the exporter serves the first value once and counts the repair.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from inferwatch import contract
from inferwatch.localstack import prometheus_config
from inferwatch.localstack.processes import wait_for
from tests.conftest import Starter
from tests.exporters.fake_vllm import fake_vllm
from tests.support.exporter import exporter_process

DUPLICATED = (
    "# HELP vllm:num_requests_running Number of requests running.\n"
    "# TYPE vllm:num_requests_running gauge\n"
    'vllm:num_requests_running{engine="0",model_name="m"} 3.0\n'
    'vllm:num_requests_running{engine="0",model_name="m"} 4.0\n'
)


def _value(prometheus_url: str, expr: str) -> float | None:
    r = httpx.get(prometheus_url + "/api/v1/query", params={"query": expr}, timeout=10)
    r.raise_for_status()
    result = r.json()["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def _own_counter(prometheus_url: str, name: str) -> float:
    text = httpx.get(prometheus_url + "/metrics", timeout=10).text
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == name)


def test_prometheus_ingests_a_duplicated_vllm_series_once(tmp_path: Path, prometheus_factory: Starter) -> None:
    with fake_vllm() as vllm:
        vllm.serve(DUPLICATED)
        args = ["--mode", "sidecar", "--gpu-backend", "simulated", "--vllm-url", vllm.url]
        with exporter_process(tmp_path / "exp", args) as exp:
            job = next(t for t in prometheus_config.DEFAULT_LOCAL_STACK.targets if t.job == "inferwatch-exporter")
            target = dataclasses.replace(job, address=exp.url.removeprefix("http://"))
            stack = prometheus_config.LocalStack(targets=(target,), scrape_interval="1s", evaluation_interval="1s")
            config = tmp_path / "prometheus.yml"
            config.write_text(prometheus_config.render_yaml(stack))
            prom = prometheus_factory(config, tmp_path / "prom")

            repairs = f'{contract.VLLM_SCRAPE_REPAIRS.name}{{reason="duplicate_series"}}'
            wait_for(lambda: (_value(prom.url, repairs) or 0) >= 1, "the repair counted in Prometheus", timeout=30)
            wait_for(
                lambda: (
                    _own_counter(prom.url, "prometheus_target_scrapes_total") >= 0
                    and (_value(prom.url, "count_over_time(up[1m])") or 0) >= 3
                ),
                "three scrapes",
                timeout=30,
            )
            assert _value(prom.url, contract.VLLM_UP.name) == 1
            assert _value(prom.url, 'vllm:num_requests_running{model_name="m"}') == 3.0
            assert _own_counter(prom.url, "prometheus_target_scrapes_sample_duplicate_timestamp_total") == 0
