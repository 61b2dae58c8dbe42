"""The SLO controller on the real API server: the chart installs it, it runs with the chart's ServiceAccount
(a token from the TokenRequest API, so its RBAC is what is tested), InferenceSLOs become owned
PrometheusRules that promtool accepts, status fills in from a Prometheus with data, Events follow
state changes, and `helm upgrade --set` of a threshold changes the alert rule.

The Prometheus here scrapes a small exposition the test serves: the normalized TTFT histogram of the
team's model (its bucket boundaries are what the controller checks thresholds against) and the SLO
series the rules would record (budget and burn rates), which the test changes to make the state move.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from lightkube import ApiError, Client
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import ConfigMap, Event

from inferwatch.app.chart.package import CRD_PATH
from inferwatch.config import PrometheusSettings
from inferwatch.localstack.kube import KubeCluster
from inferwatch.localstack.launchers import start_prometheus
from inferwatch.localstack.ports import free_port
from inferwatch.localstack.processes import LocalStackError, ManagedProcess, ProcessGroup, wait_for
from inferwatch.prom import PrometheusReader
from inferwatch.slo.buckets import scraped_boundaries
from inferwatch.tools import Toolbox

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "inferwatch"
RELEASE = "iw"
CONTROLLER = f"{RELEASE}-inferwatch-controller"
CRD_API = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
InferenceSLO = create_namespaced_resource("inferwatch.io", "v1alpha1", "InferenceSLO", "inferenceslos")
PrometheusRule = create_namespaced_resource("monitoring.coreos.com", "v1", "PrometheusRule", "prometheusrules")
MODEL = "llama-3-8b"
BUCKETS = (0.5, 1.0, 2.5, 5.0)
TTFT = {"objective": 99, "window": "30d", "sli": {"kind": "ttft", "threshold_seconds": 2.5}, "group_by": ["model_name"]}


@dataclass
class Exposition:
    """What the test's metrics endpoint serves; ``slo`` maps an SLO name to (budget left, burn by window)."""

    namespace: str = "team-a"
    slo: dict[str, tuple[float, dict[str, float]]] = field(default_factory=dict)

    def text(self) -> str:
        lines = []
        for le in (*BUCKETS, "+Inf"):
            labels = f'namespace="{self.namespace}",model_name="{MODEL}",le="{le}"'
            lines.append(f"inferwatch:vllm_ttft_seconds_bucket:rate5m{{{labels}}} 1")
        for name, (budget, burns) in self.slo.items():
            lines.append(f'inferwatch:slo_error_budget_remaining:ratio{{slo="{name}",model_name="{MODEL}"}} {budget}')
            for window, value in burns.items():
                sel = f'slo="{name}",model_name="{MODEL}",window="{window}"'
                lines.append(f"inferwatch:slo_burn_rate:ratio{{{sel}}} {value}")
        return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def exposition() -> Iterator[tuple[Exposition, int]]:
    served = Exposition()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = served.text().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            with contextlib.suppress(BrokenPipeError):  # a scrape that timed out under load
                self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield served, server.server_address[1]
    server.shutdown()


@pytest.fixture(scope="module")
def prometheus(
    k8s_tools: Toolbox,
    k8s_group: ProcessGroup,
    exposition: tuple[Exposition, int],
    tmp_path_factory: pytest.TempPathFactory,
) -> ManagedProcess:
    work = tmp_path_factory.mktemp("slo-prom")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {"job_name": "data", "honor_labels": True, "static_configs": [{"targets": [f"127.0.0.1:{exposition[1]}"]}]}
        ],
    }
    (work / "prometheus.yml").write_text(yaml.safe_dump(config))
    return start_prometheus(
        k8s_group,
        k8s_tools,
        work / "prometheus.yml",
        work / "data",
        name="slo-prometheus",
        retention="40d",
        log_path=work / "prometheus.log",
    )


def helm(tools: Toolbox, cluster: KubeCluster, *args: str) -> str:
    proc = tools.run("helm", "--kubeconfig", str(cluster.kubeconfig), *args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def sa_kubeconfig(cluster: KubeCluster, namespace: str, account: str, path: Path) -> Path:
    """A kubeconfig holding a token of ``account`` (TokenRequest API), so calls carry only its RBAC."""
    resp = cluster.api(
        "POST",
        f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token",
        json.dumps({"spec": {"expirationSeconds": 3600}}).encode(),
    )
    assert resp.status_code == 201, resp.text
    token = resp.json()["status"]["token"]
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": admin["clusters"],
        "users": [{"name": account, "user": {"token": token}}],
        "contexts": [{"name": "sa", "context": {"cluster": admin["clusters"][0]["name"], "user": account}}],
        "current-context": "sa",
    }
    path.write_text(json.dumps(cfg))
    return path


@dataclass
class Installed:
    namespace: str
    kubeconfig: Path
    prometheus_url: str


@pytest.fixture(scope="module")
def installed(
    kube_cluster: KubeCluster,
    k8s_tools: Toolbox,
    kube: Client,
    prometheus: ManagedProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Installed:
    """The chart with the controller on, in its own namespace; the CRD from the chart's crds/ (helm installs
    it; it is created first here so the test waits until it is Established)."""
    resp = kube_cluster.api("POST", CRD_API, (REPO / CRD_PATH).read_bytes(), "application/yaml")
    assert resp.status_code in (201, 409), resp.text

    def established() -> bool:
        status = kube_cluster.api("GET", f"{CRD_API}/inferenceslos.inferwatch.io").json().get("status") or {}
        return any(c["type"] == "Established" and c["status"] == "True" for c in status.get("conditions") or [])

    wait_for(established, "the InferenceSLO CRD is Established", timeout=60)
    ns = "inferwatch-ctl"
    values = [
        "--set",
        "controller.enabled=true",
        "--set",
        "exporter.enabled=false",
        "--set",
        "costReport.enabled=false",
        "--set",
        "dashboards.enabled=false",
        "--set",
        f"controller.prometheusUrl={prometheus.url}",
    ]
    helm(
        k8s_tools, kube_cluster, "install", RELEASE, str(CHART), "-n", ns, "--create-namespace", *values, "--wait=false"
    )
    work = tmp_path_factory.mktemp("controller")
    return Installed(ns, sa_kubeconfig(kube_cluster, ns, CONTROLLER, work / "kubeconfig"), prometheus.url)


def start_controller(group: ProcessGroup, inst: Installed, name: str, log_dir: Path) -> ManagedProcess:
    argv = [
        sys.executable, "-m", "inferwatch", "controller", "run", "--kubeconfig", str(inst.kubeconfig),
        "--config-map", f"{inst.namespace}/{CONTROLLER}", "--lease", f"{inst.namespace}/{CONTROLLER}",
        "--prometheus-url", inst.prometheus_url, "--status-period", "5s",
        "--health-port", "0",  # two replicas run on this one host
    ]  # fmt: skip
    return group.spawn(name, argv, log_path=log_dir / f"{name}.log")


@pytest.fixture(scope="module")
def controller(
    k8s_group: ProcessGroup, installed: Installed, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ManagedProcess]:
    mp = start_controller(k8s_group, installed, "controller-1", tmp_path_factory.mktemp("controller-logs"))
    yield mp
    k8s_group.stop("controller-1")


def eventually(check: Callable[[], Any], what: str, mp: ManagedProcess, timeout: float = 90.0) -> Any:
    """Poll ``check`` until it returns something truthy (its value is returned); fail with the controller's log."""
    try:
        return wait_for(check, what, timeout=timeout, interval=0.5, watch=[mp])
    except LocalStackError:
        pytest.fail(f"{what} did not happen; controller log:\n{mp.log_tail(4000)}")


def get_or_none(kube: Client, res: Any, name: str, namespace: str) -> Any:
    try:
        return kube.get(res, name, namespace=namespace)
    except ApiError as err:
        if err.status.code == 404:
            return None
        raise


def ready(obj: Any) -> dict[str, Any]:
    conds = (obj.get("status") or {}).get("conditions") or [{}]
    return next((c for c in conds if c.get("type") == "Ready"), {})


def test_the_chart_installs_the_crd_and_the_controllers_global_rules(
    kube: Client, installed: Installed, controller: ManagedProcess
) -> None:
    def rules() -> list[str]:
        return sorted(r.metadata.name for r in kube.list(PrometheusRule, namespace=installed.namespace))

    names = eventually(
        lambda: len(rules()) == 5 and rules(), "the controller applies the 5 global rule objects", controller
    )
    assert names == [f"{RELEASE}-inferwatch-{n}" for n in ("alerts", "autoscaling", "cost", "normalize", "slo")]
    alerts = kube.get(PrometheusRule, f"{RELEASE}-inferwatch-alerts", namespace=installed.namespace)
    assert alerts.metadata.labels["release"] == "kube-prometheus-stack"
    owner = alerts.metadata.ownerReferences[0]
    assert owner.kind == "ConfigMap" and owner.name == CONTROLLER
    holder = kube.get(Lease, CONTROLLER, namespace=installed.namespace).spec.holderIdentity
    assert holder


def test_an_inference_slo_becomes_a_checked_owned_rule_and_its_status_fills_in(
    kube: Client, kube_cluster: KubeCluster, k8s_tools: Toolbox, installed: Installed, controller: ManagedProcess,
    exposition: tuple[Exposition, int], namespace: Callable[..., str], tmp_path: Path,
) -> None:  # fmt: skip
    served, _ = exposition
    ns = namespace("team-a")
    served.namespace = ns  # the served histogram is this team's
    slo_name = f"{ns}/chat-ttft"
    served.slo[slo_name] = (0.8, {"1h": 0.5, "5m": 0.4, "6h": 0.3, "30m": 0.2})
    reader = PrometheusReader(PrometheusSettings(url=installed.prometheus_url))
    wait_for(lambda: scraped_boundaries(reader, "ttft", matchers={"namespace": ns}), "the team's histogram is scraped")
    kube.apply(
        InferenceSLO.from_dict({"metadata": {"name": "chat-ttft", "namespace": ns}, "spec": TTFT}), field_manager="team"
    )

    obj = eventually(
        lambda: (
            (o := kube.get(InferenceSLO, "chat-ttft", namespace=ns))
            and o.get("status", {}).get("budgetRemaining")
            and o
        ),
        "status fills in",
        controller,
    )
    assert ready(obj)["status"] == "True", ready(obj)
    status = obj["status"]
    assert status["state"] == "ok" and status["budgetRemaining"] == "80.0%" and status["observedGeneration"] == 1
    assert status["sloName"] == slo_name and status["lastEvaluated"].endswith("Z")

    # `inferwatch slo status` shows it beside the config's SLOs (the same rows as the object's status).
    env = {**os.environ, "INFERWATCH_PROMETHEUS__URL": installed.prometheus_url}
    cli = [sys.executable, "-m", "inferwatch", "slo", "status", "--inference-slos", "-n", ns, "-o", "json"]
    proc = subprocess.run(
        [*cli, "--kubeconfig", str(kube_cluster.kubeconfig)], capture_output=True, text=True, env=env, check=False
    )
    rows = {r["slo"]: r for r in json.loads(proc.stdout)}
    assert rows[slo_name]["state"] == "ok" and rows[slo_name]["budget_remaining_percent"] == 80.0, proc.stderr

    rule = kube.get(PrometheusRule, "inferenceslo-chat-ttft", namespace=ns)
    ref = rule.metadata.ownerReferences[0]
    assert (ref.kind, ref.name, ref.uid, ref.controller) == ("InferenceSLO", "chat-ttft", obj.metadata.uid, True)
    assert rule.metadata.labels["release"] == "kube-prometheus-stack"
    rule_file = tmp_path / "rules.yaml"
    rule_file.write_text(yaml.safe_dump(rule["spec"]))
    check = k8s_tools.run("promtool", "check", "rules", str(rule_file))
    assert check.returncode == 0, check.stdout + check.stderr

    # A new objective: the rule follows.
    kube.apply(
        InferenceSLO.from_dict(
            {"metadata": {"name": "chat-ttft", "namespace": ns}, "spec": {**TTFT, "objective": 99.5}}
        ),
        field_manager="team",
    )
    eventually(
        lambda: "/ 0.005" in json.dumps(kube.get(PrometheusRule, "inferenceslo-chat-ttft", namespace=ns)["spec"]),
        "the rule takes the new objective",
        controller,
    )

    # The budget burns: state page, and an Event says so.
    served.slo[slo_name] = (0.1, {"1h": 20.0, "5m": 25.0, "6h": 2.0, "30m": 2.0})
    eventually(
        lambda: kube.get(InferenceSLO, "chat-ttft", namespace=ns)["status"]["state"] == "page", "state page", controller
    )
    reasons = eventually(
        lambda: (
            {e.reason for e in kube.list(Event, namespace=ns)} >= {"RuleApplied", "SLOStatePage"}
            and {e.reason for e in kube.list(Event, namespace=ns)}
        ),
        "Events",
        controller,
    )
    assert "SLOStatePage" in reasons

    # Off the scraped buckets (2.4 is none of 0.5, 1, 2.5, 5): refused with the field named; the rule stays.
    before = kube.get(PrometheusRule, "inferenceslo-chat-ttft", namespace=ns)["spec"]
    bad = {**TTFT, "objective": 99.5, "sli": {"kind": "ttft", "threshold_seconds": 2.4}}
    kube.apply(
        InferenceSLO.from_dict({"metadata": {"name": "chat-ttft", "namespace": ns}, "spec": bad}), field_manager="team"
    )
    cond = eventually(
        lambda: (
            (c := ready(kube.get(InferenceSLO, "chat-ttft", namespace=ns))).get("reason") == "ThresholdNotABucket" and c
        ),
        "refused",
        controller,
    )
    assert cond["message"].startswith(
        "spec.sli.threshold_seconds: 2.4 is not a bucket boundary of the ttft histogram Prometheus scraped"
    )
    assert kube.get(PrometheusRule, "inferenceslo-chat-ttft", namespace=ns)["spec"] == before

    # Deleted: its rule goes with it.
    kube.delete(InferenceSLO, "chat-ttft", namespace=ns)
    eventually(
        lambda: get_or_none(kube, PrometheusRule, "inferenceslo-chat-ttft", ns) is None, "the rule goes", controller
    )


def test_the_api_server_refuses_what_the_schema_and_cel_rules_can_see(
    kube_cluster: KubeCluster, installed: Installed, namespace: Callable[..., str]
) -> None:
    ns = namespace("schema")
    path = f"/apis/inferwatch.io/v1alpha1/namespaces/{ns}/inferenceslos"

    def create(name: str, spec: dict[str, Any], strict: bool = True) -> Any:
        body = {
            "apiVersion": "inferwatch.io/v1alpha1",
            "kind": "InferenceSLO",
            "metadata": {"name": name},
            "spec": spec,
        }
        return kube_cluster.api("POST", path + ("?fieldValidation=Strict" if strict else ""), json.dumps(body).encode())

    def refused(name: str, spec: dict[str, Any]) -> tuple[int, str]:
        resp = create(name, spec)
        return resp.status_code, str(resp.json().get("message", ""))

    code, message = refused("typo", {**TTFT, "objectiv": 99})
    assert code == 400 and 'unknown field "spec.objectiv"' in message
    code, message = refused("no-threshold", {"objective": 99, "sli": {"kind": "ttft"}})
    assert code == 422 and "spec.sli.threshold_seconds" in message and "required for a latency SLI" in message
    code, message = refused(
        "availability-threshold", {"objective": 99, "sli": {"kind": "availability", "threshold_seconds": 1}}
    )
    assert code == 422 and "applies to latency SLIs only" in message
    code, message = refused("range", {**TTFT, "objective": 100})
    assert code == 422 and "spec.objective" in message
    code, message = refused("window", {**TTFT, "window": "90d"})
    assert code == 422 and "spec.window" in message
    code, message = refused("matchers", {**TTFT, "matchers": {"pod_name": "x"}})
    assert code == 422 and "allowed keys: namespace, model_name, pod" in message
    code, message = refused("dotted.name", TTFT)
    assert code == 422 and "metadata.name is the SLO's name" in message
    code, message = refused("twice", {**TTFT, "group_by": ["model_name", "model_name"]})
    assert code == 422 and "spec.group_by" in message
    # Without strict field validation (what non-kubectl clients send) the typo is dropped with a warning.
    resp = create("typo-lenient", {**TTFT, "objectiv": 99}, strict=False)
    assert resp.status_code == 201 and "spec.objectiv" in resp.headers.get("warning", "")
    assert create("fine", TTFT).status_code == 201


def test_helm_upgrade_of_a_threshold_changes_the_alert_rule(
    kube: Client, kube_cluster: KubeCluster, k8s_tools: Toolbox, installed: Installed, controller: ManagedProcess
) -> None:
    name = f"{RELEASE}-inferwatch-alerts"
    eventually(lambda: get_or_none(kube, PrometheusRule, name, installed.namespace), "the alerts rule", controller)
    assert "0.77" not in json.dumps(kube.get(PrometheusRule, name, namespace=installed.namespace)["spec"])
    helm(
        k8s_tools,
        kube_cluster,
        "upgrade",
        RELEASE,
        str(CHART),
        "-n",
        installed.namespace,
        "--reuse-values",
        "--set-json",  # --set would send 0.77 as a string, which the values schema refuses
        "inferwatch.thresholds.kv_cache_usage_ratio=0.77",
    )
    cm = kube.get(ConfigMap, CONTROLLER, namespace=installed.namespace)
    assert "0.77" in cm.data["inferwatch.yaml"]
    eventually(
        lambda: "0.77" in json.dumps(kube.get(PrometheusRule, name, namespace=installed.namespace)["spec"]),
        "the alert takes the new threshold",
        controller,
    )


def test_a_thousand_inference_slos_at_once_with_bad_ones_among_them(
    kube: Client, installed: Installed, controller: ManagedProcess, namespace: Callable[..., str]
) -> None:
    ns = namespace("bulk")
    bad = {f"slo-{i}" for i in range(7, 1000, 100)}  # ten thresholds off vLLM's e2e buckets (none scraped here)
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        specs = [
            (name, {**TTFT, "sli": {"kind": "e2e", "threshold_seconds": 7.7 if name in bad else 5.0}})
            for name in (f"slo-{i}" for i in range(1000))
        ]

        def create(item: tuple[str, dict[str, Any]]) -> None:
            body = {"metadata": {"name": item[0], "namespace": ns}, "spec": item[1]}
            kube.create(InferenceSLO.from_dict(body))

        list(pool.map(create, specs))
    created = time.monotonic() - started

    def settled() -> dict[str, int] | None:
        counts: dict[str, int] = {}
        for obj in kube.list(InferenceSLO, namespace=ns):
            reason = ready(obj).get("reason", "pending")
            counts[reason] = counts.get(reason, 0) + 1
        return counts if counts.get("pending", 0) == 0 and sum(counts.values()) == 1000 else None

    counts = eventually(settled, "1,000 InferenceSLOs reconciled", controller, timeout=600)
    assert counts == {"RuleApplied": 990, "ThresholdNotABucket": 10}, counts
    assert len(list(kube.list(PrometheusRule, namespace=ns))) == 990
    total = time.monotonic() - started
    print(f"1,000 InferenceSLOs: created in {created:.0f}s, all reconciled {total:.0f}s after the first")


def test_two_replicas_one_leader_and_a_takeover(
    kube: Client, k8s_group: ProcessGroup, installed: Installed, controller: ManagedProcess, tmp_path: Path
) -> None:
    second = start_controller(k8s_group, installed, "controller-2", tmp_path)
    first_holder = eventually(
        lambda: kube.get(Lease, CONTROLLER, namespace=installed.namespace).spec.holderIdentity, "a holder", controller
    )
    time.sleep(4)
    assert kube.get(Lease, CONTROLLER, namespace=installed.namespace).spec.holderIdentity == first_holder
    assert "leading" not in second.log()
    k8s_group.stop("controller-1")  # SIGTERM: the leader releases the Lease
    eventually(lambda: "leading" in second.log(), "the second replica takes over", second, timeout=30)
    holder = kube.get(Lease, CONTROLLER, namespace=installed.namespace).spec.holderIdentity
    assert holder and holder != first_holder
    k8s_group.stop("controller-2")
