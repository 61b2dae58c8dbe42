"""Autoscaling on the llm-d router's per-pool signals (`workload.autoscaling.signals_from: router`).

promtool (both): the router's pool gauges, told in llm_d_epp_* names and in the Inference
Extension's, become the pool's waiting requests (per-endpoint average x ready endpoints, plus what
flow control holds) and KV cache in use, and the generated KEDA queries read exactly those values,
computed here from the inputs. The generated manifests select the pool, and kubeconform accepts them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from inferwatch.alerts.generate import rule_files
from inferwatch.app.validate.kubernetes import check_kubernetes
from inferwatch.config import InferwatchConfig
from inferwatch.conventions import normalized as c
from inferwatch.rules import RuleFile, dump_yaml, to_prometheus_yaml
from inferwatch.tools import Toolbox
from inferwatch.workloads.autoscaling import (
    adapter_rules,
    autoscaling_group,
    horizontal_pod_autoscaler,
    scaled_object,
    signals,
)
from tests.support.promtool import unit_test_doc

NAMESPACE = "llm"
POOL = "qwen-chat-pool"
# Per router generation: (average queue per endpoint, ready endpoints, average KV usage, held by flow control).
STATE = {"g2": (1.5, 4, 0.6, 3), "g1": (0.5, 2, 0.25, 0)}


def _config() -> InferwatchConfig:
    return InferwatchConfig.model_validate(
        {"workload": {"namespace": NAMESPACE, "autoscaling": {"signals_from": "router", "inference_pool": POOL}}}
    )


def _series(name: str, labels: dict[str, str], value: float) -> dict[str, str]:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{inner}}}", "values": f"{value}x10"}


def _router(generation: str, pool: str, instance: str) -> list[dict[str, str]]:
    queue, ready, kv, held = STATE[generation]
    target = {"namespace": NAMESPACE, "job": f"{pool}-epp", "instance": instance, "name": pool}
    prefix, ready_name, ext = (
        ("llm_d_epp", "llm_d_epp_ready_endpoints", "llm_d_epp")
        if generation == "g2"
        else ("inference_pool", "inference_pool_ready_pods", "inference_extension")
    )
    out = [
        _series(f"{prefix}_average_queue_size", target, queue),
        _series(ready_name, target, ready),
        _series(f"{prefix}_average_kv_cache_utilization", target, kv),
    ]
    if held:
        flow = {k: v for k, v in target.items() if k != "name"} | {"inference_pool": pool, "fairness_id": "t",
                                                                   "priority": "0", "model_name": "m",
                                                                   "target_model_name": "m"}  # fmt: skip
        out.append(_series(f"{ext}_flow_control_queue_size", flow, held))
    return out


def test_router_signals_select_the_pool() -> None:
    config = _config()
    assert [s.scope for s in signals(config.workload)] == [c.POOL, c.POOL]
    triggers = [t["metadata"]["query"] for t in scaled_object(config)["spec"]["triggers"]]
    assert triggers == [
        f'{c.POOL_REQUESTS_WAITING}{{namespace="{NAMESPACE}",pool="{POOL}"}}',
        f'{c.POOL_KV_CACHE_USAGE}{{namespace="{NAMESPACE}",pool="{POOL}"}}',
    ]
    metrics = horizontal_pod_autoscaler(config)["spec"]["metrics"]
    assert {m["external"]["metric"]["selector"]["matchLabels"]["pool"] for m in metrics} == {POOL}
    assert all('pool!=""' in r["seriesQuery"] for r in adapter_rules(config.workload)["external"])
    # Without inference_pool the pool is the workload's own name.
    default = InferwatchConfig.model_validate({"workload": {"autoscaling": {"signals_from": "router"}}})
    assert 'pool="qwen-chat"' in scaled_object(default)["spec"]["triggers"][0]["metadata"]["query"]


def test_router_scaling_manifests_are_strictly_valid(tools: Toolbox, tmp_path: Path) -> None:
    config = _config()
    for rel, doc in (("keda.yaml", scaled_object(config)), ("hpa.yaml", horizontal_pod_autoscaler(config))):
        (tmp_path / rel).write_text(dump_yaml(doc))
        results = check_kubernetes(tools, tmp_path, rel)
        output = "\n".join(r.output for r in results)
        assert all(r.ok for r in results) and "Valid: 1, Invalid: 0, Errors: 0, Skipped: 0" in output, output


@pytest.mark.parametrize("promtool", ["promtool", "promtool2"])
def test_pool_signals_from_either_router_generation(tools: Toolbox, tmp_path: Path, promtool: str) -> None:
    (tmp_path / "normalize.yaml").write_text(to_prometheus_yaml(rule_files(InferwatchConfig())["normalize"]))
    (tmp_path / "autoscaling.yaml").write_text(to_prometheus_yaml(RuleFile((autoscaling_group(),))))
    inputs = _router("g2", POOL, "10.0.0.5:9090") + _router("g1", "other-pool", "10.0.0.6:9090")
    triggers = {t["name"]: t["metadata"]["query"] for t in scaled_object(_config())["spec"]["triggers"]}
    queue, ready, kv, held = STATE["g2"]
    expected: dict[str, Any] = {"waiting-requests": queue * ready + held, "kv-cache-usage": kv * ready}
    queue1, ready1, kv1, _ = STATE["g1"]
    other = f'{{namespace="{NAMESPACE}",pool="other-pool"}}'
    test = {
        "interval": "1m",
        "input_series": inputs,
        "promql_expr_test": [
            {
                "expr": triggers[s.name],
                "eval_time": "5m",
                "exp_samples": [
                    {"labels": f'{s.series}{{namespace="{NAMESPACE}",pool="{POOL}"}}', "value": expected[s.name]}
                ],
            }
            for s in signals(_config().workload)
        ]
        + [
            {
                "expr": f"{c.POOL_REQUESTS_WAITING}{other}",
                "eval_time": "5m",
                "exp_samples": [{"labels": f"{c.POOL_REQUESTS_WAITING}{other}", "value": queue1 * ready1}],
            },
            {
                "expr": f"{c.POOL_KV_CACHE_USAGE}{other}",
                "eval_time": "5m",
                "exp_samples": [{"labels": f"{c.POOL_KV_CACHE_USAGE}{other}", "value": kv1 * ready1}],
            },
        ],
    }
    doc = unit_test_doc(tmp_path, ["normalize.yaml", "autoscaling.yaml"], [test])
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    proc = tools.run(promtool, "test", "rules", str(tmp_path / "test.yaml"))
    assert proc.returncode == 0, f"{promtool}:\n{proc.stdout}\n{proc.stderr}"
