"""The chart with its SLO controller on: the objects it adds, their least privilege, and rules identical to
the pre-built ones the chart ships without it."""

from __future__ import annotations

import yaml

from inferwatch.app.controller.objects import MANAGED_BY
from inferwatch.app.controller.reconciler import Reconciler
from inferwatch.config import InferwatchConfig
from inferwatch.tools import Toolbox
from tests.app.controller.fakes import FakeCluster, FakePrometheus
from tests.deploy.chart_support import CHART, KUBE_VERSION, NAMESPACE, find, helm_template, objects, one, pod_spec

ON = ("--set", "controller.enabled=true")


def test_off_by_default_and_on_adds_the_controller_without_prebuilt_rules(tools: Toolbox) -> None:
    off = objects(helm_template(tools))
    assert not find(off, "Deployment") and len(find(off, "PrometheusRule")) == 5
    on = objects(helm_template(tools, *ON))
    deployment = one(on, "Deployment", "-controller")
    spec = pod_spec(deployment)
    assert spec["serviceAccountName"] == "inferwatch-controller" and spec["automountServiceAccountToken"] is True
    args = spec["containers"][0]["args"]
    assert args[args.index("--config-map") + 1] == f"{NAMESPACE}/inferwatch-controller"
    assert spec["containers"][0]["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert not find(on, "PrometheusRule")  # the controller makes them


def test_rbac_is_least_privilege(tools: Toolbox) -> None:
    on = objects(helm_template(tools, *ON))
    cluster_rules = {
        (r["apiGroups"][0], r["resources"][0]): sorted(r["verbs"]) for r in one(on, "ClusterRole")["rules"]
    }
    assert cluster_rules == {
        ("inferwatch.io", "inferenceslos"): ["get", "list", "watch"],
        ("inferwatch.io", "inferenceslos/status"): ["patch"],
        ("monitoring.coreos.com", "prometheusrules"): ["create", "delete", "get", "patch"],
        ("", "events"): ["create"],
    }
    role = one(on, "Role", "-controller")
    by_name = [r for r in role["rules"] if r.get("resourceNames")]
    assert all(r["resourceNames"] == ["inferwatch-controller"] for r in by_name)
    assert [r for r in role["rules"] if not r.get("resourceNames")] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]}
    ]


def test_values_differing_from_the_build_are_fine_with_the_controller(tools: Toolbox) -> None:
    rendered = helm_template(tools, *ON, "--set-json", "inferwatch.thresholds.kv_cache_usage_ratio=0.8")
    cm = one(objects(rendered), "ConfigMap", "-controller")
    assert yaml.safe_load(cm["data"]["inferwatch.yaml"])["thresholds"]["kv_cache_usage_ratio"] == 0.8


def test_the_controller_needs_the_operator(tools: Toolbox) -> None:
    argv = ("template", "x", str(CHART), "--kube-version", KUBE_VERSION, *ON, "--set", "monitoring.operator=false")
    proc = tools.run("helm", *argv)
    assert proc.returncode != 0 and "controller.enabled needs monitoring.operator=true" in proc.stderr


def test_the_controller_makes_the_rules_the_chart_ships_without_it(tools: Toolbox) -> None:
    """Identical input (the chart's values), identical rules: names, specs and selector labels."""
    shipped = {o["metadata"]["name"]: o for o in find(objects(helm_template(tools)), "PrometheusRule")}
    cm = one(objects(helm_template(tools, *ON)), "ConfigMap", "-controller")
    cm["metadata"]["uid"] = "cm-uid"
    cluster = FakeCluster()
    Reconciler(cluster, FakePrometheus(), InferwatchConfig()).apply_config(cm)
    made = {k.split("/", 1)[1]: v for k, v in cluster.rules.items()}
    assert sorted(made) == sorted(shipped)
    for name, obj in made.items():
        assert obj["spec"] == shipped[name]["spec"], name
        labels = shipped[name]["metadata"]["labels"]
        selector = {k: v for k, v in labels.items() if k not in ("helm.sh/chart", "app.kubernetes.io/version")}
        selector.pop("app.kubernetes.io/managed-by")
        assert obj["metadata"]["labels"] == {**selector, **MANAGED_BY}
