"""Two InferenceSLOs of one SLI kind in one namespace: the pods' counters are recorded once per SLO.

Each InferenceSLO's PrometheusRule holds its own copy of the normalized-counter group. Were the
copies identical, two rule groups would write the same series (Prometheus rejects the later
group's samples as duplicates or out of order, each evaluation); labelled with their SLO's name
they are two sets of series, each written once, and each SLO's checkpoints count its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from inferwatch.app.controller.model import InferenceSLO, compile_inference_slo
from inferwatch.app.controller.objects import RuleObjectSettings, slo_rule_object
from inferwatch.config import InferwatchConfig
from inferwatch.conventions import normalized as norm
from inferwatch.conventions import slo as c
from inferwatch.rules import dump_yaml
from inferwatch.tools import Toolbox
from tests.app.controller.fakes import FakeCluster

FAST = {"objective": 99, "window": "7d", "sli": {"kind": "ttft", "threshold_seconds": 2.5}}
STRICT = {"objective": 99.9, "window": "30d", "sli": {"kind": "ttft", "threshold_seconds": 1.0}}


def _rule_specs() -> dict[str, dict[str, Any]]:
    """The PrometheusRule spec of each of two InferenceSLOs in team-a (both TTFT), by SLO name."""
    cluster = FakeCluster()
    out = {}
    for name, spec in (("chat-fast", FAST), ("chat-strict", STRICT)):
        item = InferenceSLO.from_object(cluster.add_slo("team-a", name, spec))
        slo = compile_inference_slo(item).slo
        assert slo is not None
        out[slo.name] = slo_rule_object(item, slo, InferwatchConfig(), RuleObjectSettings())["spec"]
    return out


def _recorded(spec: dict[str, Any]) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    """Each series name a rule object records, with the labels its rules set."""
    return {
        (rule["record"], tuple(sorted(rule.get("labels", {}).items())))
        for group in spec["groups"]
        for rule in group["rules"]
        if "record" in rule
    }


def test_no_series_is_recorded_by_two_inference_slos_of_one_namespace() -> None:
    specs = _rule_specs()
    (_, spec_a), (_, spec_b) = specs.items()
    assert not _recorded(spec_a) & _recorded(spec_b)
    for name, spec in specs.items():
        (counters,) = [g for g in spec["groups"] if g["name"] == c.COUNTER_GROUP]
        assert counters["rules"] and all(r["labels"][c.SLO_LABEL] == name for r in counters["rules"])


def test_each_slo_counts_the_pods_counters_once(tools: Toolbox, tmp_path: Path) -> None:
    """Both objects' rules loaded in one Prometheus (promtool): each SLO's per-pod counters are the pod's
    own counts, read from its own copy (not the sum of both copies), and each copy exists once."""
    specs = _rule_specs()
    files = []
    for i, spec in enumerate(specs.values()):
        path = tmp_path / f"rules-{i}.yaml"
        path.write_text(dump_yaml({"groups": spec["groups"]}))
        files.append(path.name)
    # constant counters: the two objects' groups run in either order, and a sum of both copies shows as 200
    labels = 'namespace="team-a",pod="p1",model_name="m",engine="0"'
    raw = "vllm:time_to_first_token_seconds"
    inputs = [
        {"series": f"{raw}_count{{{labels}}}", "values": "100x20"},
        {"series": f'{raw}_bucket{{{labels},le="1.0"}}', "values": "90x20"},
        {"series": f'{raw}_bucket{{{labels},le="2.5"}}', "values": "95x20"},
    ]

    def one(record: str, slo: str, value: float) -> dict[str, Any]:
        sel = f'{record}{{{c.SLO_LABEL}="{slo}"}}'
        return {
            "expr": sel,
            "eval_time": "10m",
            "exp_samples": [
                {"labels": f'{record}{{namespace="team-a",pod="p1",{c.SLO_LABEL}="{slo}"}}', "value": value}
            ],
        }

    fast, strict = specs
    tests = [
        {
            "interval": "1m",
            "input_series": inputs,
            "promql_expr_test": [
                one(c.TOTAL_CHECKPOINT_FINE, fast, 100),
                one(c.GOOD_CHECKPOINT_FINE, fast, 95),
                one(c.TOTAL_CHECKPOINT_FINE, strict, 100),
                one(c.GOOD_CHECKPOINT_FINE, strict, 90),
                {
                    "expr": f"count by ({c.SLO_LABEL}) ({norm.counter_series('ttft', 'count')})",
                    "eval_time": "10m",
                    "exp_samples": [{"labels": f'{{{c.SLO_LABEL}="{s}"}}', "value": 1} for s in specs],
                },
            ],
        }
    ]
    doc = tmp_path / "tests.yaml"
    doc.write_text(yaml.safe_dump({"rule_files": files, "evaluation_interval": "1m", "tests": tests}))
    proc = tools.run("promtool", "test", "rules", str(doc), timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
