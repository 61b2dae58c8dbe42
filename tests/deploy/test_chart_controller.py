"""The chart with its SLO controller on: the objects it adds, their least privilege, and rules identical to
the pre-built ones the chart ships without it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from inferwatch.app.controller.objects import MANAGED_BY
from inferwatch.app.controller.reconciler import Reconciler
from inferwatch.config import InferwatchConfig, parse_config
from inferwatch.tools import Toolbox
from tests.app.controller.fakes import FakeCluster, FakePrometheus
from tests.deploy.chart_support import (
    CHART,
    KUBE_VERSION,
    NAMESPACE,
    assert_served,
    container,
    find,
    helm_template,
    mounted_volume,
    objects,
    one,
    pod_spec,
    prometheus_files,
)

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


def _mounted_config(objs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any], InferwatchConfig]:
    """The controller's Deployment, its container and the inferwatch.yaml its --config names, read from
    the ConfigMap volume mounted there."""
    deployment = one(objs, "Deployment", "-controller")
    ctr = container(deployment, "controller")
    args = ctr["args"]
    assert args.index("--config") < args.index("controller")  # the global option
    path = args[args.index("--config") + 1]
    volume = mounted_volume(deployment, ctr, path)
    assert_served(deployment, ctr, [path])
    cm = one(objs, "ConfigMap", volume["configMap"]["name"])
    return deployment, ctr, parse_config(yaml.safe_load(cm["data"][Path(path).name]), path)


@pytest.mark.parametrize("values", ["exporter-tls-values.yaml", "kube-rbac-proxy-values.yaml"])
def test_the_controller_reads_prometheus_the_way_the_cost_report_does(tools: Toolbox, values: str) -> None:
    """prometheusClient (a ServiceAccount token or basic auth, a CA, a tenant) reaches the controller's pod as
    it reaches the cost report's: the `prometheus:` settings of its mounted inferwatch.yaml, at
    controller.prometheusUrl, each file they name mounted; no credential in the ConfigMap or the args."""
    url = "https://prometheus.monitoring.svc:9091"
    sets = ("--set", f"controller.prometheusUrl={url}")
    objs = objects(helm_template(tools, "-f", str(CHART / "ci" / values), *ON, *sets))
    deployment, ctr, config = _mounted_config(objs)
    p = config.prometheus
    assert p.url == url and "--prometheus-url" not in ctr["args"]  # one source: the settings
    assert p.authorization is not None or p.basic_auth is not None
    assert p.tls_config.ca_file and p.http_headers["X-Scope-OrgID"].values
    assert_served(deployment, ctr, prometheus_files(p))
    assert not p.inline_secrets()
    report = parse_config(yaml.safe_load(one(objs, "ConfigMap", "-config")["data"]["inferwatch.yaml"]), "cm")
    assert p == report.prometheus.model_copy(update={"url": url})  # the same way in, at the controller's URL


def test_the_controllers_own_token_may_read_prometheus(tools: Toolbox) -> None:
    """The projected token in the controller's pod is its own ServiceAccount's: bound to the reader role too,
    also where no cost report runs."""
    objs = objects(helm_template(tools, "-f", str(CHART / "ci" / "exporter-tls-values.yaml"), *ON))
    deployment = one(objs, "Deployment", "-controller")
    assert "prometheus-token" in {v["name"] for v in pod_spec(deployment)["volumes"]}
    subjects = {s["name"] for s in one(objs, "ClusterRoleBinding", f"-prometheus-reader-{NAMESPACE}")["subjects"]}
    assert subjects == {"inferwatch", pod_spec(deployment)["serviceAccountName"]}
    alone = objects(
        helm_template(
            tools, "-f", str(CHART / "ci" / "exporter-tls-values.yaml"), *ON, "--set", "costReport.enabled=false"
        )
    )
    (subject,) = one(alone, "ClusterRoleBinding", f"-prometheus-reader-{NAMESPACE}")["subjects"]
    assert subject["name"] == "inferwatch-controller"


def test_without_prometheus_client_the_controller_reads_plain_http(tools: Toolbox) -> None:
    deployment, _, config = _mounted_config(objects(helm_template(tools, *ON)))
    assert config.prometheus.url == "http://kube-prometheus-stack-prometheus.monitoring.svc:9090"
    assert config.prometheus.authorization is None and config.prometheus.basic_auth is None
    assert [v["name"] for v in pod_spec(deployment)["volumes"]] == ["config"]


def test_a_new_way_into_prometheus_rolls_the_controller_and_a_threshold_does_not(tools: Toolbox) -> None:
    """The controller watches its ConfigMap for thresholds, but builds its Prometheus client once at start."""

    def checksum(*sets: str) -> str:
        deployment = one(objects(helm_template(tools, *ON, *sets)), "Deployment", "-controller")
        return str(deployment["spec"]["template"]["metadata"]["annotations"]["checksum/prometheus"])

    base = checksum()
    assert checksum("--set-json", "inferwatch.thresholds.kv_cache_usage_ratio=0.8") == base
    assert checksum("--set", "prometheusClient.tenant=team-b") != base
    assert checksum("--set", "prometheusClient.basicAuth.existingSecret=reader") != base
    assert checksum("--set", "controller.prometheusUrl=http://other:9090") != base
