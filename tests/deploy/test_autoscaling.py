"""The autoscaling queries on a real Prometheus holding simulator data: one value per model, the right one.

Three llm-d-inference-sim "pods" serve two models (chat-a on two pods, chat-b on one), each behind
an inferwatch sidecar that Prometheus scrapes with Kubernetes-style target labels. The simulators
run one request at a time and take a minute per request, so the queues hold still: chat-a has
2 + 1 requests waiting, chat-b none. Prometheus evaluates the generated normalization and
autoscaling rules; the queries of the generated KEDA ScaledObject and of the prometheus-adapter
rules (rendered as the adapter renders them) must each return exactly one value per model.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml

from inferwatch.alerts.generate import rule_files
from inferwatch.config import InferwatchConfig, PrometheusSettings
from inferwatch.conventions import normalized as c
from inferwatch.localstack.processes import wait_for
from inferwatch.localstack.prometheus_config import LocalStack, ScrapeTarget, render_yaml
from inferwatch.prom import PrometheusReader
from inferwatch.rules import RuleFile, to_prometheus_yaml
from inferwatch.tools import Toolbox
from inferwatch.workloads.autoscaling import (
    ADAPTER_METRICS_QUERY,
    adapter_rules,
    autoscaling_group,
    model_query,
    scaled_object,
    signals,
)
from tests.conftest import Starter
from tests.support.exporter import exporter_process
from tests.support.promtool import unit_test_doc

NAMESPACE = "demo"
# pod -> (model, requests sent); one request runs, the rest wait.
PODS = {"chat-a-0": ("chat-a", 3), "chat-a-1": ("chat-a", 2), "chat-b-0": ("chat-b", 1)}
EXPECTED_WAITING = {"chat-a": 3.0, "chat-b": 0.0}
EXPECTED_PODS = {"chat-a": 2.0, "chat-b": 1.0}


def _config(model: str) -> InferwatchConfig:
    return InferwatchConfig.model_validate({"workload": {"namespace": NAMESPACE, "served_model_name": model}})


def adapter_query(series: str, labels: dict[str, str]) -> str:
    """ADAPTER_METRICS_QUERY as prometheus-adapter renders it for an HPA's external metric."""
    matchers = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return (
        ADAPTER_METRICS_QUERY.replace("<<.Series>>", series)
        .replace("<<.LabelMatchers>>", matchers)
        .replace("<<.GroupBy>>", "")
    )


def _request(url: str, model: str) -> None:
    # Ends when the simulator answers or is stopped at the end of the test.
    body = {"model": model, "prompt": "hello", "max_tokens": 2}
    with contextlib.suppress(httpx.HTTPError):
        httpx.post(f"{url}/v1/completions", json=body, timeout=httpx.Timeout(5, read=150))


def _queue_requests(sims: dict[str, str]) -> None:
    """Send every pod its requests in the background: the first runs, the others wait."""
    for pod, (model, n) in PODS.items():
        for _ in range(n):
            threading.Thread(target=_request, args=(sims[pod], model), daemon=True).start()
            time.sleep(0.2)


@pytest.mark.slow
def test_autoscaling_queries_give_one_value_per_model(
    tmp_path: Path, inference_sim_factory: Starter, prometheus_factory: Starter
) -> None:
    sims = {
        pod: inference_sim_factory(
            tmp_path / pod,
            model=model,
            extra_args=["--max-num-seqs", "1", "--time-to-first-token", "90s"],
        ).url
        for pod, (model, _) in PODS.items()
    }
    env = {
        "INFERWATCH_EXPORTER__VLLM_SCRAPE_INTERVAL_S": "0.5",
        "INFERWATCH_EXPORTER__SIMULATED_NVML_LATENCIES": "false",
    }
    with contextlib.ExitStack() as stack:
        exporters = {
            pod: stack.enter_context(
                exporter_process(
                    tmp_path / f"exp-{pod}",
                    ["--mode", "sidecar", "--gpu-backend", "simulated", "--vllm-url", f"{url}/metrics"],
                    env,
                )
            )
            for pod, url in sims.items()
        }
        rules = {
            "normalize.yaml": rule_files(InferwatchConfig())["normalize"],
            "autoscaling.yaml": RuleFile((autoscaling_group(),)),
        }
        for name, rule_file in rules.items():
            (tmp_path / name).write_text(to_prometheus_yaml(rule_file))
        stack_config = LocalStack(
            targets=tuple(
                ScrapeTarget("inferwatch-sidecar", e.url.removeprefix("http://"), {"namespace": NAMESPACE, "pod": pod})
                for pod, e in exporters.items()
            ),
            rule_files=tuple(str(tmp_path / n) for n in rules),
            scrape_interval="1s",
            evaluation_interval="1s",
        )
        (tmp_path / "prometheus.yml").write_text(render_yaml(stack_config))
        prom = prometheus_factory(tmp_path / "prometheus.yml", tmp_path / "prom")
        reader = PrometheusReader(PrometheusSettings(url=prom.url))
        _queue_requests(sims)

        def settled() -> bool:
            got = {s.labels[c.MODEL]: s.value for s in reader.query(c.MODEL_REQUESTS_WAITING)}
            return got == EXPECTED_WAITING

        wait_for(settled, "the queues in the recorded series", timeout=90, interval=1)
        at = datetime.now(UTC)

        # The recorded series: exactly one per model, pods counted and queues summed per model.
        pods = {s.labels[c.MODEL]: s.value for s in reader.query(c.MODEL_PODS, at=at)}
        assert pods == EXPECTED_PODS
        for series in (c.MODEL_REQUESTS_WAITING, c.MODEL_KV_CACHE_USAGE):
            samples = reader.query(series, at=at)
            assert sorted(s.labels[c.MODEL] for s in samples) == ["chat-a", "chat-b"], series
            assert all(set(s.labels) == {"__name__", c.NAMESPACE, c.MODEL} for s in samples), samples

        for model, waiting in EXPECTED_WAITING.items():
            config = _config(model)
            triggers = {t["name"]: t["metadata"] for t in scaled_object(config)["spec"]["triggers"]}
            for signal in signals(config.workload):
                keda = reader.query(triggers[signal.name]["query"], at=at)
                assert len(keda) == 1, (signal.name, model, keda)
                assert triggers[signal.name]["query"] == model_query(signal, NAMESPACE, model)
                # The HPA path: the adapter's rule finds the series and its query gives the same value.
                rule = next(
                    r for r in adapter_rules(config.workload)["external"] if r["name"]["as"] == signal.external_name
                )
                assert re.fullmatch(rule["name"]["matches"], signal.series)
                discovered = {s.labels[c.MODEL] for s in reader.query(rule["seriesQuery"], at=at)}
                assert discovered == {"chat-a", "chat-b"}
                adapter = reader.query(adapter_query(signal.series, {c.NAMESPACE: NAMESPACE, c.MODEL: model}), at=at)
                assert [s.value for s in adapter] == [keda[0].value]
                if signal.series == c.MODEL_REQUESTS_WAITING:
                    assert keda[0].value == waiting
                else:
                    assert 0 <= keda[0].value <= EXPECTED_PODS[model]
        # No data is no value, never 0: KEDA (ignoreNullValues false) then errs and falls back.
        for signal in signals(_config("chat-a").workload):
            assert reader.query(model_query(signal, NAMESPACE, "no-such-model"), at=at) == []


def test_engine_ranks_are_summed_and_scrape_copies_counted_once(tools: Toolbox, tmp_path: Path) -> None:
    """promtool: two data-parallel ranks of one pod add up; the same series scraped twice does not."""
    (tmp_path / "normalize.yaml").write_text(to_prometheus_yaml(rule_files(InferwatchConfig())["normalize"]))
    (tmp_path / "autoscaling.yaml").write_text(to_prometheus_yaml(RuleFile((autoscaling_group(),))))
    pod = {"namespace": NAMESPACE, "model_name": "m"}

    def series(name: str, labels: dict[str, str], value: float) -> dict[str, str]:
        inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
        return {"series": f"{name}{{{inner}}}", "values": f"{value}x10"}

    waiting, kv = "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc"
    input_series = [
        # pod p1: ranks 0 and 1, each scraped through the sidecar and directly (a copy).
        *(
            series(name, {**pod, "pod": "p1", "engine": e, "job": job}, v)
            for job in ("sidecar", "direct")
            for name, e, v in ((waiting, "0", 2), (waiting, "1", 3), (kv, "0", 0.5), (kv, "1", 0.7))
        ),
        series(waiting, {**pod, "pod": "p2", "engine": "0", "job": "sidecar"}, 1),
        series(kv, {**pod, "pod": "p2", "engine": "0", "job": "sidecar"}, 0.2),
        series(waiting, {"namespace": NAMESPACE, "model_name": "other", "pod": "p3", "job": "sidecar"}, 4),
    ]
    config = _config("m")
    triggers = {t["name"]: t["metadata"]["query"] for t in scaled_object(config)["spec"]["triggers"]}
    expected = {"waiting-requests": 2 + 3 + 1, "kv-cache-usage": 0.7 + 0.2}
    tests = [
        {
            "interval": "1m",
            "input_series": input_series,
            "promql_expr_test": [
                {
                    "expr": triggers[s.name],
                    "eval_time": "5m",
                    "exp_samples": [
                        {"labels": f'{s.series}{{model_name="m",namespace="{NAMESPACE}"}}', "value": expected[s.name]}
                    ],
                }
                for s in signals(config.workload)
            ]
            + [
                {
                    "expr": c.MODEL_PODS,
                    "eval_time": "5m",
                    "exp_samples": [
                        {"labels": f'{c.MODEL_PODS}{{model_name="m",namespace="{NAMESPACE}"}}', "value": 2},
                        {"labels": f'{c.MODEL_PODS}{{model_name="other",namespace="{NAMESPACE}"}}', "value": 1},
                    ],
                }
            ],
        }
    ]
    doc = unit_test_doc(tmp_path, ["normalize.yaml", "autoscaling.yaml"], tests)
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    for promtool in ("promtool", "promtool2"):
        proc = tools.run(promtool, "test", "rules", str(tmp_path / "test.yaml"))
        assert proc.returncode == 0, f"{promtool}:\n{proc.stdout}\n{proc.stderr}"
