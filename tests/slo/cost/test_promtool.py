"""promtool proof of the cost rules the weekly report prices: every SKU rule over one node's worth of GPUs.

Inputs are normalized series (what the normalization group records): an exclusive H100, an
over-subscribed time-sliced H100 (two pods asking 0.75 each pay half each), a 3/7 MIG slice of an
A100, an L4 nobody holds, a pod only kube-state-metrics knows (2 GPUs requested, model unknown),
a notebook pod with no vLLM, and an allocation of a GPU no exporter describes. Both promtools
must compute, per namespace (and model) and GPU model, the GPU-seconds held, busy and idle and
the joules, such that held + idle = the GPUs there are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from inferwatch.alerts.catalog import alert_groups
from inferwatch.config import Pricing, Thresholds
from inferwatch.conventions import cost as c
from inferwatch.conventions import normalized as n
from inferwatch.rules import RuleFile, to_prometheus_yaml
from inferwatch.slo.cost.queries import hourly_queries
from inferwatch.slo.cost.rules import cost_groups, cost_rule_file
from inferwatch.tools import Toolbox
from tests.support.promtool import unit_test_doc

H100, A100, L4 = "NVIDIA H100 80GB HBM3", "NVIDIA A100-SXM4-80GB", "NVIDIA L4"
MIG = 3 / 7


def _series(name: str, labels: dict[str, str], value: float) -> dict[str, str]:
    text = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{text}}}", "values": f"{value!r}x10"}


def _inputs() -> list[dict[str, str]]:
    gpus = {
        "GPU-A": (H100, 0.6, 300.0),
        "GPU-B": (H100, 0.4, 200.0),
        "GPU-M": (A100, 0.5, 100.0),
        "GPU-D": (L4, 0.0, 70.0),
    }
    out = []
    for uuid, (model, busy, watts) in gpus.items():
        out.append(_series(n.GPU_INFO, {"gpu_uuid": uuid, "gpu_model": model}, 1.0))
        out.append(_series(n.GPU_BUSY_RATE, {"gpu_uuid": uuid}, busy))
        out.append(_series(n.GPU_ENERGY_RATE, {"gpu_uuid": uuid}, watts))
    allocations = [
        ("GPU-A", "team-a", "a-0", 1.0),
        ("GPU-B", "team-a", "a-1", 0.75),  # over-subscribed time-slicing: scaled to 0.5
        ("GPU-B", "team-b", "notebook-0", 0.75),
        ("GPU-M", "team-m", "m-0", MIG),
        ("GPU-Z", "team-z", "z-0", 1.0),  # a GPU no exporter describes: no model, no price
    ]
    for uuid, ns, pod, ratio in allocations:
        out.append(
            _series(n.GPU_ALLOCATION, {"gpu_uuid": uuid, "namespace": ns, "pod": pod, "container": "vllm"}, ratio)
        )
    out.append(_series(n.GPU_REQUESTED, {"namespace": "team-r", "pod": "r-0", "container": "vllm"}, 2.0))
    for ns, pod, model in (
        ("team-a", "a-0", "llama"),
        ("team-a", "a-1", "qwen"),
        ("team-m", "m-0", "phi"),
        ("team-r", "r-0", "mix"),
    ):
        out.append(_series(n.VLLM_PROMPT_TOKENS_RATE, {"namespace": ns, "pod": pod, "model_name": model}, 100.0))
    return out


EXPECTED: dict[str, list[tuple[dict[str, str], float]]] = {
    c.SKU_ALLOCATED_GPU_SECONDS_RATE: [
        ({"namespace": "team-a", "gpu_model": H100}, 1.5),
        ({"namespace": "team-b", "gpu_model": H100}, 0.5),
        ({"namespace": "team-m", "gpu_model": A100}, MIG),
        ({"namespace": "team-r"}, 2.0),  # requested only: GPU model unknown, priced at the default
    ],
    c.SKU_BUSY_GPU_SECONDS_RATE: [
        ({"namespace": "team-a", "gpu_model": H100}, 1.0 * 0.6 + 0.5 * 0.4),
        ({"namespace": "team-b", "gpu_model": H100}, 0.5 * 0.4),
        ({"namespace": "team-m", "gpu_model": A100}, MIG * 0.5),
    ],
    c.SKU_ENERGY_JOULES_RATE: [
        ({"namespace": "team-a", "gpu_model": H100}, 300.0 + 0.5 * 200.0),
        ({"namespace": "team-b", "gpu_model": H100}, 0.5 * 200.0),
        ({"namespace": "team-m", "gpu_model": A100}, MIG * 100.0),
    ],
    c.SKU_MODEL_ALLOCATED_GPU_SECONDS_RATE: [
        ({"namespace": "team-a", "model_name": "llama", "gpu_model": H100}, 1.0),
        ({"namespace": "team-a", "model_name": "qwen", "gpu_model": H100}, 0.5),
        ({"namespace": "team-m", "model_name": "phi", "gpu_model": A100}, MIG),
        ({"namespace": "team-r", "model_name": "mix"}, 2.0),
    ],
    c.SKU_MODEL_BUSY_GPU_SECONDS_RATE: [
        ({"namespace": "team-a", "model_name": "llama", "gpu_model": H100}, 0.6),
        ({"namespace": "team-a", "model_name": "qwen", "gpu_model": H100}, 0.5 * 0.4),
        ({"namespace": "team-m", "model_name": "phi", "gpu_model": A100}, MIG * 0.5),
    ],
    # Both H100s are fully held; 4/7 of the A100's slices and the whole L4 are nobody's.
    c.SKU_IDLE_GPU_SECONDS_RATE: [({"gpu_model": H100}, 0.0), ({"gpu_model": A100}, 1 - MIG), ({"gpu_model": L4}, 1.0)],
}


def _tests(expected: dict[str, list[tuple[dict[str, str], float]]]) -> list[dict[str, Any]]:
    return [
        {
            "name": "the cost rules the report prices",
            "interval": "1m",
            "input_series": _inputs(),
            "promql_expr_test": [
                {
                    "expr": record,
                    "eval_time": "5m",
                    "exp_samples": [{"labels": _labels(record, labels), "value": value} for labels, value in samples],
                }
                for record, samples in expected.items()
            ],
        }
    ]


def _labels(record: str, labels: dict[str, str]) -> str:
    return record + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def _run(tools: Toolbox, promtool: str, tmp_path: Path, expected: dict[str, list[tuple[dict[str, str], float]]]) -> Any:
    (tmp_path / "cost.yaml").write_text(to_prometheus_yaml(cost_rule_file(Pricing())))
    path = tmp_path / f"cost-{promtool}.test.yaml"
    path.write_text(yaml.safe_dump(unit_test_doc(tmp_path, ["cost.yaml"], _tests(expected)), sort_keys=False))
    return tools.run(promtool, "test", "rules", str(path))


@pytest.mark.parametrize("promtool", ["promtool", "promtool2"])
def test_sku_rules_split_every_gpu_into_held_and_idle(tools: Toolbox, tmp_path: Path, promtool: str) -> None:
    proc = _run(tools, promtool, tmp_path, EXPECTED)
    assert proc.returncode == 0, f"{promtool} test rules failed:\n{proc.stdout}\n{proc.stderr}"
    # Held + idle per GPU model = the GPUs of that model (2 H100, 1 A100, 1 L4).
    held = {H100: 1.5 + 0.5, A100: MIG, L4: 0.0}
    idle = {labels["gpu_model"]: v for labels, v in EXPECTED[c.SKU_IDLE_GPU_SECONDS_RATE]}
    assert {m: held[m] + idle[m] for m in held} == pytest.approx({H100: 2.0, A100: 1.0, L4: 1.0})


@pytest.mark.parametrize("promtool", ["promtool", "promtool2"])
def test_a_wrong_expectation_fails(tools: Toolbox, tmp_path: Path, promtool: str) -> None:
    """The proof above can fail: a namespace charged the over-subscribed 0.75 instead of 0.5 is caught."""
    wrong = dict(EXPECTED)
    wrong[c.SKU_ALLOCATED_GPU_SECONDS_RATE] = [({"namespace": "team-b", "gpu_model": H100}, 0.75)]
    proc = _run(tools, promtool, tmp_path, wrong)
    assert proc.returncode != 0


@pytest.mark.parametrize("promtool", ["promtool", "promtool2"])
def test_every_cost_group_records_its_heartbeat_and_the_gap_alert_reads_it(
    tools: Toolbox, tmp_path: Path, promtool: str
) -> None:
    """Each group records the seconds an evaluation stands for (issue 27); whole, the alert stays quiet.

    The gap cases of InferwatchCostRecordingGap (heartbeats missing, a group stopped) are in
    tests/alerts/cases.py: promtool evaluates every group at every step, so only inputs can miss one.
    """
    pricing = Pricing(rule_interval_s=60)
    (tmp_path / "cost.yaml").write_text(to_prometheus_yaml(cost_rule_file(pricing)))
    alerts = RuleFile(alert_groups(Thresholds(), "https://runbooks.example"))
    (tmp_path / "alerts.yaml").write_text(to_prometheus_yaml(alerts))
    beats = [
        {"labels": _labels(c.RECORDING_HEARTBEAT, {c.RULE_GROUP_LABEL: g.name}), "value": 60}
        for g in cost_groups(pricing)
    ]
    tests = [
        {
            "interval": "1m",
            "input_series": _inputs(),
            "promql_expr_test": [{"expr": c.RECORDING_HEARTBEAT, "eval_time": "5m", "exp_samples": beats}],
            "alert_rule_test": [{"eval_time": "90m", "alertname": c.ALERT_RECORDING_GAP, "exp_alerts": []}],
        }
    ]
    path = tmp_path / f"heartbeat-{promtool}.test.yaml"
    doc = unit_test_doc(tmp_path, ["cost.yaml", "alerts.yaml"], tests)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    proc = tools.run(promtool, "test", "rules", str(path))
    assert proc.returncode == 0, f"{promtool} test rules failed:\n{proc.stdout}\n{proc.stderr}"


def _coverage_case(name: str, inputs: dict[str, str], evaluations: float | None) -> dict[str, Any]:
    """The report's coverage query over ``inputs`` (selector -> promtool values), an hour after the start."""
    expr = next(q.expr for q in hourly_queries(60.0, "cluster") if q.key == "coverage")
    samples = [] if evaluations is None else [{"labels": "{}", "value": evaluations}]
    return {
        "name": name,
        "interval": "1m",
        "input_series": [{"series": k, "values": v} for k, v in inputs.items()],
        # Half a minute past the hour: the window (0m30s, 60m30s] holds samples 1 to 60 for both promtools.
        "promql_expr_test": [{"expr": expr, "eval_time": "60m30s", "exp_samples": samples}],
    }


@pytest.mark.parametrize("promtool", ["promtool", "promtool2"])
def test_the_report_coverage_counts_the_evaluations_recorded(tools: Toolbox, tmp_path: Path, promtool: str) -> None:
    """An hour's coverage is the first level's evaluations in it, whatever was held (issue 27)."""
    beat = f'{c.RECORDING_HEARTBEAT}{{{c.RULE_GROUP_LABEL}="{c.PRICED_GROUP}"}}'
    idle = f'{c.SKU_IDLE_GPU_SECONDS_RATE}{{gpu_model="{L4}"}}'
    requested = f'{c.SKU_ALLOCATED_GPU_SECONDS_RATE}{{namespace="batch",gpu_model=""}}'
    tests = [
        # The rules ran all hour; GPUs (kube-state-metrics' requests only) were held its last 20 minutes.
        _coverage_case("whole hour, GPUs held for part of it", {beat: "60x60", requested: "_x40 1x20"}, 60),
        # Prometheus down 30 to 39 minutes: neither heartbeats nor cost series.
        _coverage_case("a 10-minute outage", {beat: "60x29 _x10 60x20", idle: "1x29 _x10 1x20"}, 50),
        # A history recorded before the heartbeat existed: the priced series' own samples.
        _coverage_case("no heartbeat: the priced series count", {idle: "1x29 _x10 1x20"}, 50),
        # The rules ran but had nothing to price (no GPU known): no hour with data.
        _coverage_case("nothing to price", {beat: "60x60"}, None),
    ]
    (tmp_path / "empty.yaml").write_text("groups: []\n")
    path = tmp_path / f"coverage-{promtool}.test.yaml"
    path.write_text(yaml.safe_dump(unit_test_doc(tmp_path, ["empty.yaml"], tests), sort_keys=False))
    proc = tools.run(promtool, "test", "rules", str(path))
    assert proc.returncode == 0, f"{promtool} test rules failed:\n{proc.stdout}\n{proc.stderr}"
