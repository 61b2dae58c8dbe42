"""Cost rules: generated from the rule model, read only normalized series, pass promtool, golden files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from inferwatch.config import InferwatchConfig, Pricing, load_config, parse_config
from inferwatch.conventions import cost as c
from inferwatch.errors import ConfigError
from inferwatch.rules import to_prometheus_yaml
from inferwatch.slo.cost.generate import PROMETHEUS_RULE_PATH, RULES_PATH, artifacts
from inferwatch.slo.cost.rules import cost_groups, cost_rule_file
from inferwatch.tools import Toolbox

RAW_METRIC = re.compile(r"(?<![\w:])(vllm:|DCGM_|inferwatch_|kube_)\w")
PRICING = Pricing(gpu_hour={"NVIDIA H100 80GB HBM3": 4.0, "NVIDIA L4": 0.8}, energy_kwh=0.2, pue=1.3)


def test_cost_rules_read_only_normalized_series() -> None:
    rules = cost_rule_file(PRICING).rules()
    assert len(rules) > 15
    for rule in rules:
        assert not RAW_METRIC.findall(rule.expr), f"{rule.to_dict()} names a raw metric"
        assert "scalar(" not in rule.expr  # a missing series would turn into NaN and poison a week


def test_one_rule_per_price_and_prices_are_data() -> None:
    rules = [r for r in cost_rule_file(PRICING).rules() if r.to_dict()["record"] == c.PRICE_GPU_HOUR]
    assert sorted((r.labels["gpu_model"], r.expr) for r in rules) == [
        ("NVIDIA H100 80GB HBM3", "vector(4.0)"),
        ("NVIDIA L4", "vector(0.8)"),
    ]
    energy = [r for r in cost_rule_file(PRICING).rules() if r.to_dict()["record"] == c.PRICE_ENERGY_KWH]
    assert len(energy) == 1 and energy[0].expr == f"vector({0.2 * 1.3!r})"
    no_energy = [r.to_dict()["record"] for r in cost_rule_file(Pricing()).rules()]
    assert c.PRICE_ENERGY_KWH not in no_energy and c.ENERGY_COST_RATE not in no_energy


def test_each_level_reads_only_earlier_levels() -> None:
    defined: set[str] = set()
    for group in cost_groups(PRICING):
        assert group.interval == f"{PRICING.rule_interval_s}s"
        names = {r.to_dict()["record"] for r in group.rules}
        for rule in group.rules:
            used = set(re.findall(r"inferwatch:cost_[a-z_]+:[a-z0-9_]+", rule.expr))
            assert used <= defined, f"{group.name}: {rule.to_dict()['record']} reads {used - defined} of its own level"
        defined |= names


@pytest.mark.parametrize("promtool", ["promtool", "promtool2"])
def test_promtool_accepts_the_rules(tools: Toolbox, tmp_path: Path, promtool: str) -> None:
    if not tools.find(promtool):
        pytest.fail(f"{promtool} is not installed")
    path = tmp_path / "cost.yaml"
    path.write_text(to_prometheus_yaml(cost_rule_file(PRICING)))
    result = tools.run(promtool, "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_committed_artifacts_match_the_generator(repo_root: Path) -> None:
    config = load_config(repo_root / "examples" / "inferwatch.yaml")
    arts = {a.path: a.content for a in artifacts(config)}
    assert set(arts) == {RULES_PATH, PROMETHEUS_RULE_PATH}
    for path, content in arts.items():
        assert (repo_root / path).read_text() == content, f"{path} differs; run `inferwatch build`"
    obj = yaml.safe_load(arts[PROMETHEUS_RULE_PATH])
    assert obj["kind"] == "PrometheusRule" and obj["spec"] == yaml.safe_load(arts[RULES_PATH])


def test_pricing_validation_names_the_field() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"pricing": {"gpu_hour": {"H100": -1}, "pue": 0.5, "idle_policy": "never"}}, "x.yaml")
    paths = {p.path for p in err.value.problems}
    assert {"pricing.gpu_hour.H100", "pricing.pue", "pricing.idle_policy"} <= paths
    env = parse_config({}, "x.yaml", {"INFERWATCH_PRICING__IDLE_POLICY": "share"})
    assert env.pricing.idle_policy == "share"
    assert InferwatchConfig().pricing.idle_policy == "separate"
