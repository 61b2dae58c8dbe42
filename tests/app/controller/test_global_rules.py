"""The chart's values in the controller's ConfigMap give the same rules as `inferwatch build` from the same file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from inferwatch.app.chart.package import RULES_FILES_DIR
from inferwatch.app.controller.objects import MANAGED_BY
from inferwatch.app.controller.reconciler import CONFIG_KEY, RULES_KEY, Reconciler
from inferwatch.app.pipeline import generate_all
from inferwatch.config import InferwatchConfig, load_config
from tests.app.controller.fakes import FakeCluster, FakePrometheus

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "inferwatch.yaml"
LABELS = {"release": "kube-prometheus-stack", "app.kubernetes.io/instance": "iw"}


def configmap(config_text: str, disabled: tuple[str, ...] = ()) -> dict[str, Any]:
    rules = {"prefix": "iw-inferwatch", "labels": LABELS, "disabled": list(disabled)}
    return {
        "metadata": {"namespace": "monitoring", "name": "iw-inferwatch-controller", "uid": "cm-uid"},
        "data": {CONFIG_KEY: config_text, RULES_KEY: yaml.safe_dump(rules)},
    }


def built_specs(config: InferwatchConfig) -> dict[str, Any]:
    """``spec`` of every PrometheusRule the chart built by `inferwatch build` ships, by short name."""
    out = {}
    for art in generate_all(config, only=("chart",)):
        if art.path.startswith(RULES_FILES_DIR):
            obj = yaml.safe_load(art.content)
            out[obj["metadata"]["name"].removeprefix("inferwatch-")] = obj["spec"]
    return out


def test_the_controller_and_build_make_identical_rules_from_identical_input() -> None:
    cluster = FakeCluster()
    rec = Reconciler(cluster, FakePrometheus(), InferwatchConfig())
    assert rec.apply_config(configmap(EXAMPLE.read_text()))
    expected = built_specs(load_config(EXAMPLE))
    applied = {k.removeprefix("monitoring/iw-inferwatch-"): v for k, v in cluster.rules.items()}
    assert sorted(applied) == sorted(expected) == ["alerts", "autoscaling", "cost", "normalize", "slo"]
    for short, spec in expected.items():
        obj = applied[short]
        assert obj["spec"] == spec, short
        # Same text too: what Prometheus loads is byte for byte what the build's rule file holds.
        assert yaml.safe_dump(obj["spec"]) == yaml.safe_dump(spec)
        assert obj["metadata"]["labels"] == {**LABELS, **MANAGED_BY}
        assert obj["metadata"]["ownerReferences"][0]["uid"] == "cm-uid"


def test_a_threshold_change_in_the_configmap_changes_the_alert_rule() -> None:
    cluster = FakeCluster()
    rec = Reconciler(cluster, FakePrometheus(), InferwatchConfig())
    text = EXAMPLE.read_text()
    rec.apply_config(configmap(text))
    before = cluster.rules["monitoring/iw-inferwatch-alerts"]["spec"]
    data = yaml.safe_load(text)
    data.setdefault("thresholds", {})["kv_cache_usage_ratio"] = 0.77
    assert rec.apply_config(configmap(yaml.safe_dump(data)))
    after = cluster.rules["monitoring/iw-inferwatch-alerts"]["spec"]
    assert after != before and "0.77" in yaml.safe_dump(after)
    assert after == built_specs(InferwatchConfig.model_validate(data))["alerts"]


def test_a_bad_configmap_is_refused_with_an_event_and_the_last_good_config_stays() -> None:
    cluster = FakeCluster()
    rec = Reconciler(cluster, FakePrometheus(), InferwatchConfig())
    rec.apply_config(configmap(EXAMPLE.read_text()))
    rules = dict(cluster.rules)
    assert not rec.apply_config(configmap("thresholds: {kv_cache_usage_rati: 0.9}\n"))
    assert cluster.rules == rules
    (event,) = [e for e in cluster.events if e[2] == "ConfigInvalid"]
    assert event[0] == "monitoring/iw-inferwatch-controller" and "thresholds.kv_cache_usage_rati" in event[3]


def test_a_disabled_rule_object_is_removed() -> None:
    cluster = FakeCluster()
    rec = Reconciler(cluster, FakePrometheus(), InferwatchConfig())
    rec.apply_config(configmap(EXAMPLE.read_text()))
    rec.apply_config(configmap(EXAMPLE.read_text(), disabled=("autoscaling",)))
    assert "monitoring/iw-inferwatch-autoscaling" not in cluster.rules
    assert "monitoring/iw-inferwatch-alerts" in cluster.rules
