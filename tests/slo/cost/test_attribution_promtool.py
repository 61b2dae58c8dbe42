"""Cost per tenant and per LoRA adapter on promtool 3 and 2: raw router, vLLM and exporter series through
the normalization and cost rules, each figure against the arithmetic done here from the inputs.

team-a: one vLLM pod holds an H100 whole (3.60 an hour: 0.001 a second) and serves 120 tokens/s; its
router (llm_d_epp_*) saw tenant acme 60 tokens/s, a tenant with a hostile name 30, and 10 without the
header ("default-flow"): acme pays half, the hostile tenant a quarter, and what no tenant reported is the
rest (the default flow and the 20 tokens/s that did not pass through the router). The pod runs two LoRA
adapters: each pays half of it. team-r's router counted more tokens than its engine (whose counters
advance at a request's end): shares are of the router's count. team-q has no router and no adapters
(quiet: no tenant or adapter series, its whole cost unattributed).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from inferwatch.alerts.generate import rule_files
from inferwatch.config import InferwatchConfig, Pricing
from inferwatch.conventions import cost as c
from inferwatch.promql import escape_label_value
from inferwatch.rules import to_prometheus_yaml
from inferwatch.slo.cost.rules import cost_rule_file
from inferwatch.tools import Toolbox
from tests.support.promtool import unit_test_doc

PRICING = Pricing(rule_interval_s=60, default_gpu_hour=3.6)
PER_S = 3.6 / 3600
HOSTILE = 'ev"il\\}<b>|=1'
EXPORTER = {"job": "inferwatch-exporter", "instance": "10.0.0.9:9400"}
# (namespace, pod) -> (GPU, prompt and generated tokens per second of its vLLM)
PODS = {("team-a", "a-0"): ("GPU-a", 100, 20), ("team-r", "r-0"): ("GPU-r", 40, 10), ("team-q", "q-0"): ("GPU-q", 5, 5)}
# (namespace, fairness_id) -> (input, output) tokens per second the router saw
ROUTER = {
    ("team-a", "acme"): (50, 10),
    ("team-a", HOSTILE): (20, 10),
    ("team-a", "default-flow"): (10, 0),
    ("team-r", "initech"): (60, 20),
    ("team-r", "default-flow"): (15, 5),
}


def _series(name: str, labels: dict[str, str], values: str) -> dict[str, str]:
    inner = ",".join(f'{k}="{escape_label_value(v)}"' for k, v in labels.items())
    return {"series": f"{name}{{{inner}}}", "values": values}


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{escape_label_value(v)}"' for k, v in labels.items()) + "}"


def _inputs() -> list[dict[str, str]]:
    out = []
    for (ns, pod), (gpu, prompt, generated) in PODS.items():
        gpu_labels = {"gpu_uuid": gpu, **EXPORTER}
        out.append(_series("inferwatch_gpu_info", {**gpu_labels, "gpu_model": "NVIDIA H100 80GB HBM3"}, "1x30"))
        held = {"gpu_uuid": gpu, "namespace": ns, "pod": pod, "container": "vllm", "source": "kubelet", **EXPORTER}
        out.append(_series("inferwatch_gpu_allocation_ratio", held, "1x30"))
        vllm = {"namespace": ns, "pod": pod, "model_name": "base", "engine": "0", "job": "vllm"}
        out.append(_series("vllm:prompt_tokens_total", vllm, f"0+{prompt * 60}x30"))
        out.append(_series("vllm:generation_tokens_total", vllm, f"0+{generated * 60}x30"))
        out.append(_series("vllm:num_requests_running", vllm, "3x30"))
    lora = {"namespace": "team-a", "pod": "a-0", "job": "vllm", "max_lora": "4", "waiting_lora_adapters": ""}
    # The value is the time vLLM set the combination (seconds since the test's start).
    out.append(_series("vllm:lora_requests_info", {**lora, "running_lora_adapters": "sql,chat"}, "0+60x30"))
    out.append(_series("vllm:lora_requests_info", {**lora, "pod": "q-0", "namespace": "team-q",
                                                    "running_lora_adapters": ""}, "0+60x30"))  # fmt: skip
    for (ns, tenant), (tokens_in, tokens_out) in ROUTER.items():
        epp = {"namespace": ns, "job": "epp", "instance": f"{ns}-epp:9090", "model_name": "base",
               "target_model_name": "base", "fairness_id": tenant, "priority": "0"}  # fmt: skip
        out.append(_series("llm_d_epp_request_input_tokens_sum", epp, f"0+{tokens_in * 60}x30"))
        out.append(_series("llm_d_epp_request_output_tokens_sum", epp, f"0+{tokens_out * 60}x30"))
    return out


def _expected() -> dict[str, list[tuple[str, float]]]:
    """Every figure from the inputs: shares of the namespace's tokens (engine's, or the router's if more)."""
    tenants, shares, unattributed = [], [], []
    for ns in ("team-a", "team-r", "team-q"):
        _, prompt, generated = next(v for (n, _), v in PODS.items() if n == ns)
        routed = sum(i + o for (n, _), (i, o) in ROUTER.items() if n == ns)
        whole = max(prompt + generated, routed)
        named = {t: i + o for (n, t), (i, o) in ROUTER.items() if n == ns and t != "default-flow"}
        for tenant, tokens in named.items():
            shares.append((_labels(namespace=ns, fairness_id=tenant), tokens / whole))
            tenants.append((_labels(namespace=ns, fairness_id=tenant), PER_S * tokens / whole))
        unattributed.append((_labels(namespace=ns), PER_S * (1 - sum(named.values()) / whole)))
    adapters = [(_labels(namespace="team-a", model_name="base", lora_adapter=a), PER_S / 2) for a in ("chat", "sql")]
    return {
        c.TENANT_SHARE: shares,
        c.TENANT_ALLOCATED_COST_RATE: tenants,
        c.TENANT_UNATTRIBUTED_COST_RATE: unattributed,
        c.LORA_ALLOCATED_COST_RATE: adapters,
    }


def test_the_expected_figures() -> None:
    """acme: 60 of team-a's 120 engine tokens; initech: 80 of team-r's 100 router tokens (more than its engine's 50)."""
    got = {k: dict(v) for k, v in _expected().items()}
    assert got[c.TENANT_SHARE][_labels(namespace="team-a", fairness_id="acme")] == 0.5
    assert got[c.TENANT_SHARE][_labels(namespace="team-r", fairness_id="initech")] == 0.8
    assert got[c.TENANT_UNATTRIBUTED_COST_RATE][_labels(namespace="team-a")] == pytest.approx(PER_S / 4)
    assert got[c.TENANT_UNATTRIBUTED_COST_RATE][_labels(namespace="team-q")] == PER_S


def _round(v: float) -> float:
    return round(v * 1e6) / 1e6


@pytest.mark.parametrize("promtool", ["promtool", "promtool2"])
def test_cost_per_tenant_and_per_adapter(tools: Toolbox, tmp_path: Path, promtool: str) -> None:
    (tmp_path / "normalize.yaml").write_text(to_prometheus_yaml(rule_files(InferwatchConfig())["normalize"]))
    (tmp_path / "cost.yaml").write_text(to_prometheus_yaml(cost_rule_file(PRICING)))
    checks = [
        {
            "expr": f"round({name} * 1e6) / 1e6",
            "eval_time": "20m",
            "exp_samples": [{"labels": labels, "value": _round(v)} for labels, v in rows],
        }
        for name, rows in _expected().items()
    ]
    # Quiet: no router, no tenant; an empty running list, no adapter; the default flow is no tenant.
    for quiet in (
        f'{c.TENANT_ALLOCATED_COST_RATE}{{namespace="team-q"}}',
        f'{c.LORA_ALLOCATED_COST_RATE}{{namespace="team-q"}}',
        f'{c.TENANT_SHARE}{{fairness_id="default-flow"}}',
    ):
        checks.append({"expr": quiet, "eval_time": "20m", "exp_samples": []})
    test = {
        "name": "cost per tenant and adapter",
        "interval": "1m",
        "input_series": _inputs(),
        "promql_expr_test": checks,
    }
    doc = unit_test_doc(tmp_path, ["normalize.yaml", "cost.yaml"], [test])
    path = tmp_path / "attribution.test.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    proc = tools.run(promtool, "test", "rules", str(path))
    assert proc.returncode == 0, f"{promtool}:\n{proc.stdout}\n{proc.stderr}"
