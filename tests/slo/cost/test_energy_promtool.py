"""Energy per 1,000 tokens on promtool 3 and 2: raw exporter and engine series through the normalization
and cost rules, each figure against the arithmetic done here from the inputs.

One H100 draws 300 W and is held whole by a vLLM pod; a second one draws 200 W and is time-sliced
(two replicas) between an SGLang pod and a pod that serves no model; a third pod's GPU is idle
and it has no traffic (no figure: no tokens to divide by).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from inferwatch.alerts.generate import rule_files
from inferwatch.config import InferwatchConfig, Pricing
from inferwatch.conventions import cost as c
from inferwatch.rules import to_prometheus_yaml
from inferwatch.slo.cost.rules import cost_rule_file
from inferwatch.tools import Toolbox
from tests.support.promtool import unit_test_doc

PRICING = Pricing(rule_interval_s=60)
# Watts per GPU, and the share of it each (namespace, pod) holds.
GPUS = {"GPU-a": 300.0, "GPU-b": 200.0}
HOLDS = {
    ("team-a", "vllm-0"): ("GPU-a", 1.0),
    ("team-b", "sglang-0"): ("GPU-b", 0.5),
    ("team-b", "batch-0"): ("GPU-b", 0.5),
}
# Tokens per second: (prompt, generated) by (namespace, pod, model), through each engine's own counters.
TOKENS = {("team-a", "vllm-0", "chat-a"): (100, 20), ("team-b", "sglang-0", "chat-b"): (30, 10)}


def _series(name: str, labels: dict[str, str], values: str) -> dict[str, str]:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{inner}}}", "values": values}


def _inputs() -> list[dict[str, str]]:
    exporter = {"job": "inferwatch-exporter", "instance": "10.0.0.9:9400"}
    out = []
    for gpu, watts in GPUS.items():
        labels = {"gpu_uuid": gpu, **exporter}
        out.append(_series("inferwatch_gpu_info", {**labels, "gpu_model": "NVIDIA H100 80GB HBM3"}, "1x30"))
        out.append(_series("inferwatch_gpu_energy_joules_total", labels, f"0+{watts * 60:g}x30"))
    for (ns, pod), (gpu, share) in HOLDS.items():
        held = {"gpu_uuid": gpu, "namespace": ns, "pod": pod, "container": "engine", "source": "kubelet", **exporter}
        out.append(_series("inferwatch_gpu_allocation_ratio", held, f"{share}x30"))
    (prompt_a, gen_a), (prompt_b, gen_b) = TOKENS.values()
    vllm = {"namespace": "team-a", "pod": "vllm-0", "model_name": "chat-a", "engine": "0", "job": "vllm"}
    out.append(_series("vllm:prompt_tokens_total", vllm, f"0+{prompt_a * 60}x30"))
    out.append(_series("vllm:generation_tokens_total", vllm, f"0+{gen_a * 60}x30"))
    sglang = {"namespace": "team-b", "pod": "sglang-0", "model_name": "chat-b", "engine_type": "unified",
              "is_streaming": "true", "job": "sglang"}  # fmt: skip
    out.append(_series("sglang:prompt_tokens_total", sglang, f"0+{prompt_b * 60}x30"))
    out.append(_series("sglang:generation_tokens_total", sglang, f"0+{gen_b * 60}x30"))
    return out


def _expected() -> list[tuple[str, list[tuple[str, float]]]]:
    energy, per_k = [], []
    for (ns, pod, model), (prompt, generated) in TOKENS.items():
        gpu, share = HOLDS[(ns, pod)]
        watts = GPUS[gpu] * share
        labels = f'{{namespace="{ns}",model_name="{model}"}}'
        energy.append((labels, watts))
        per_k.append((labels, watts / (prompt + generated) * 1000))
    return [(c.MODEL_ENERGY_JOULES_RATE, energy), (c.ENERGY_PER_THOUSAND_TOKENS, per_k)]


def test_the_expected_figures() -> None:
    """300 W over 120 tokens/s is 2.5 J a token; half of 200 W over 40 tokens/s is 2.5 J too."""
    assert dict(_expected()[1][1]) == {
        '{namespace="team-a",model_name="chat-a"}': 2500.0,
        '{namespace="team-b",model_name="chat-b"}': 2500.0,
    }


@pytest.mark.parametrize("promtool", ["promtool", "promtool2"])
def test_joules_per_thousand_tokens(tools: Toolbox, tmp_path: Path, promtool: str) -> None:
    (tmp_path / "normalize.yaml").write_text(to_prometheus_yaml(rule_files(InferwatchConfig())["normalize"]))
    (tmp_path / "cost.yaml").write_text(to_prometheus_yaml(cost_rule_file(PRICING)))
    test = {
        "name": "energy per 1,000 tokens",
        "interval": "1m",
        "input_series": _inputs(),
        "promql_expr_test": [
            {
                "expr": f"round({name}, 0.001)",
                "eval_time": "20m",
                "exp_samples": [{"labels": labels, "value": math.floor(v * 1000 + 0.5) / 1000} for labels, v in rows],
            }
            for name, rows in _expected()
        ],
    }
    doc = unit_test_doc(tmp_path, ["normalize.yaml", "cost.yaml"], [test])
    path = tmp_path / "energy.test.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    proc = tools.run(promtool, "test", "rules", str(path))
    assert proc.returncode == 0, f"{promtool}:\n{proc.stdout}\n{proc.stderr}"
