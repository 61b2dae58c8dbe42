"""The chart installed for real with helm on the test API server: every CI values file, an upgrade path,
Pod Security Admission as docs/deploy.md tells users to set it, the ServiceAccount's RBAC, API errors."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from lightkube import ApiError, Client
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.authorization_v1 import NonResourceAttributes, ResourceAttributes, SubjectAccessReviewSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.apps_v1 import DaemonSet, Deployment
from lightkube.resources.authorization_v1 import SubjectAccessReview
from lightkube.resources.batch_v1 import CronJob
from lightkube.resources.core_v1 import ConfigMap, Namespace, Pod, Service
from lightkube.resources.node_v1 import RuntimeClass

from inferwatch.localstack.kube import KubeCluster
from inferwatch.localstack.processes import wait_for
from tests.k8s.conftest import PSA, NamespaceMaker
from tests.k8s.support import CHART, add_gpu_node, events, helm, helm_ok, messages

CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
RELEASE = "inferwatch"
ServiceMonitor = create_namespaced_resource("monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors")
PodMonitor = create_namespaced_resource("monitoring.coreos.com", "v1", "PodMonitor", "podmonitors")
PrometheusRule = create_namespaced_resource("monitoring.coreos.com", "v1", "PrometheusRule", "prometheusrules")
Certificate = create_namespaced_resource("cert-manager.io", "v1", "Certificate", "certificates")


@pytest.fixture(scope="module")
def gpu_node(kube: Client) -> str:
    """One fake GPU node, so that the DaemonSet controller makes an exporter pod (and PSA judges it),
    and the `nvidia` RuntimeClass the GPU Operator creates (a pod naming a missing one is refused)."""
    kube.create(RuntimeClass(metadata=ObjectMeta(name="nvidia"), handler="nvidia"))
    add_gpu_node(kube, "gpu-node-install")
    return "gpu-node-install"


def _install(cluster: KubeCluster, ns: str, *args: str, action: str = "install") -> str:
    return helm_ok(cluster, action, RELEASE, str(CHART), "-n", ns, *args)


def _exporter_pods(kube: Client, ns: str) -> list[Pod]:
    return list(kube.list(Pod, namespace=ns, labels={"app.kubernetes.io/component": "exporter"}))


def _wait_exporter_pod(kube: Client, ns: str) -> list[Pod]:
    return wait_for(lambda: _exporter_pods(kube, ns), f"an exporter pod in {ns}", timeout=60)


def _wait_failed_create(kube: Client, ns: str) -> str:
    found = wait_for(lambda: events(kube, ns, "FailedCreate"), f"a FailedCreate event in {ns}", timeout=60)
    return messages(found)


@dataclass(frozen=True)
class Installs:
    """What a CI values file must install, besides the exporter's DaemonSet and Service and the cost
    report's CronJob, which every one of them ships."""

    rules: int = 5  # pre-built PrometheusRule objects (files/prometheusrules/)
    service_monitors: int = 1
    pod_monitors: int = 1
    rules_config_map: bool = False  # the same rules as a ConfigMap, for a Prometheus without the operator
    certificate: bool = False  # cert-manager's Certificate for the exporter's TLS
    # The SLO controller: its Deployment, the InferenceSLO CRD and the ConfigMap of the values; it
    # generates the rule objects itself, so the chart ships none pre-built.
    controller: bool = False


EXPECTED = {
    "default": Installs(),
    "controller": Installs(rules=0, controller=True),
    "cost-webhook": Installs(),
    "exporter-tls": Installs(certificate=True),
    "kube-rbac-proxy": Installs(),
    "no-attribution": Installs(),
    "no-dashboards": Installs(pod_monitors=0),
    "plain-prometheus": Installs(rules=0, service_monitors=0, pod_monitors=0, rules_config_map=True),
}


def _ci_name(values: Path) -> str:
    return values.name.removesuffix("-values.yaml")


def test_every_ci_values_file_states_what_it_installs() -> None:
    """A new values file gets its row in EXPECTED: the install test below checks nothing it is not told."""
    assert sorted(_ci_name(v) for v in CI_VALUES) == sorted(EXPECTED)


def _absent(read: Callable[[], object]) -> bool:
    try:
        read()
    except ApiError as err:
        return err.status.code == 404
    return False


@pytest.mark.parametrize("values", CI_VALUES, ids=[_ci_name(v) for v in CI_VALUES])
def test_every_ci_values_file_installs(
    kube_cluster: KubeCluster, kube: Client, namespace: NamespaceMaker, gpu_node: str, values: Path
) -> None:
    expected = EXPECTED[_ci_name(values)]
    ns = namespace(_ci_name(values), psa="privileged")
    out = _install(kube_cluster, ns, "-f", str(values))
    assert "STATUS: deployed" in out
    assert kube.get(DaemonSet, f"{RELEASE}-exporter", namespace=ns)
    assert kube.get(Service, f"{RELEASE}-exporter", namespace=ns)
    assert kube.get(CronJob, f"{RELEASE}-cost-report", namespace=ns)
    assert len(list(kube.list(PrometheusRule, namespace=ns))) == expected.rules
    assert len(list(kube.list(ServiceMonitor, namespace=ns))) == expected.service_monitors
    assert len(list(kube.list(PodMonitor, namespace=ns))) == expected.pod_monitors
    rules_cm = functools.partial(kube.get, ConfigMap, f"{RELEASE}-rules", namespace=ns)
    assert _absent(rules_cm) != expected.rules_config_map
    certificate = functools.partial(kube.get, Certificate, f"{RELEASE}-exporter", namespace=ns)
    assert _absent(certificate) != expected.certificate
    controller = functools.partial(kube.get, Deployment, f"{RELEASE}-controller", namespace=ns)
    assert _absent(controller) != expected.controller
    if expected.controller:
        _assert_controller_installed(kube, ns, yaml.safe_load(values.read_text()))
    # the DaemonSet controller made the exporter's pod for the GPU node: admitted
    (pod,) = _wait_exporter_pod(kube, ns)
    assert pod.spec and pod.spec.affinity  # pinned to the node through node affinity
    assert not events(kube, ns, "FailedCreate")


def _assert_controller_installed(kube: Client, ns: str, values: dict[str, Any]) -> None:
    """The controller's Deployment (as many replicas as asked), the InferenceSLO CRD (from the chart's
    crds/) served, and the ConfigMap the controller reads the values' thresholds from."""
    deployment = kube.get(Deployment, f"{RELEASE}-controller", namespace=ns)
    assert deployment.spec and deployment.spec.replicas == values["controller"]["replicas"]
    crd = kube.get(CustomResourceDefinition, "inferenceslos.inferwatch.io")
    established = [c for c in (crd.status.conditions if crd.status else None) or [] if c.type == "Established"]
    assert established and established[0].status == "True"
    data = kube.get(ConfigMap, f"{RELEASE}-controller", namespace=ns).data or {}
    config = yaml.safe_load(data["inferwatch.yaml"])
    assert config["thresholds"]["kv_cache_usage_ratio"] == values["inferwatch"]["thresholds"]["kv_cache_usage_ratio"]
    assert yaml.safe_load(data["rules.yaml"])["prefix"] == RELEASE


def test_upgrade_from_one_values_file_to_another(
    kube_cluster: KubeCluster, kube: Client, namespace: NamespaceMaker
) -> None:
    ns = namespace("upgrade", psa="privileged")
    _install(kube_cluster, ns, "-f", str(CHART / "ci" / "default-values.yaml"))
    assert len(list(kube.list(PodMonitor, namespace=ns))) == 1
    _install(kube_cluster, ns, "-f", str(CHART / "ci" / "no-attribution-values.yaml"), action="upgrade")
    ds = kube.get(DaemonSet, f"{RELEASE}-exporter", namespace=ns)
    assert ds.spec and ds.spec.template.spec and ds.spec.template.spec.runtimeClassName == "nvidia"
    _install(kube_cluster, ns, "-f", str(CHART / "ci" / "plain-prometheus-values.yaml"), action="upgrade")
    assert not list(kube.list(PodMonitor, namespace=ns))
    assert not list(kube.list(PrometheusRule, namespace=ns))
    _install(kube_cluster, ns, "-f", str(CHART / "ci" / "no-dashboards-values.yaml"), action="upgrade")
    assert "REVISION: 4" in helm_ok(kube_cluster, "status", RELEASE, "-n", ns)
    assert len(list(kube.list(PrometheusRule, namespace=ns))) == 5


# ---- Pod Security Admission, as docs/deploy.md sets it --------------------------------------------


@pytest.mark.parametrize("level", ["baseline", "restricted"])
def test_exporter_with_attribution_fails_the_install_in_a_non_privileged_namespace(
    kube_cluster: KubeCluster, kube: Client, namespace: NamespaceMaker, gpu_node: str, level: str
) -> None:
    """What the user would otherwise see: "deployed", one warning, and no exporter pod ever (the
    DaemonSet's FailedCreate event). The chart refuses to install instead, and says what to do."""
    ns = namespace(f"psa-{level}", psa=level)
    proc = helm(kube_cluster, "install", RELEASE, str(CHART), "-n", ns)
    assert proc.returncode != 0, proc.stdout
    assert f'Pod Security level "{level}"' in proc.stderr
    assert f"kubectl label namespace {ns} pod-security.kubernetes.io/enforce=privileged --overwrite" in proc.stderr
    assert "exporter.attribution=false" in proc.stderr


def test_psa_refuses_the_attribution_pod_where_the_docs_say(
    kube_cluster: KubeCluster, kube: Client, namespace: NamespaceMaker, gpu_node: str
) -> None:
    """Past the chart's check (the namespace relabelled after the install), Pod Security Admission
    itself refuses the exporter's pod: the message `kubectl describe daemonset` shows."""
    ns = namespace("psa-relabel", psa="privileged")
    _install(kube_cluster, ns)
    (pod,) = _wait_exporter_pod(kube, ns)
    kube.patch(Namespace, ns, {"metadata": {"labels": {PSA: "baseline"}}})
    kube.delete(Pod, str(pod.metadata.name) if pod.metadata else "", namespace=ns)
    message = _wait_failed_create(kube, ns)
    assert 'violates PodSecurity "baseline:latest"' in message, message
    assert 'hostPath volumes (volume "pod-resources")' in message, message


def test_exporter_without_attribution_is_admitted_in_a_restricted_namespace(
    kube_cluster: KubeCluster, kube: Client, namespace: NamespaceMaker, gpu_node: str
) -> None:
    ns = namespace("restricted-noattr", psa="restricted")
    out = _install(kube_cluster, ns, "--set", "exporter.attribution=false")
    assert "STATUS: deployed" in out
    _wait_exporter_pod(kube, ns)
    assert not events(kube, ns, "FailedCreate")


# ---- RBAC -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rbac_release(kube_cluster: KubeCluster, kube: Client) -> str:
    """One release of the chart's defaults, whose ServiceAccount the RBAC tests review."""
    kube.create(Namespace(metadata=ObjectMeta(name="rbac", labels={PSA: "privileged"})))
    _install(kube_cluster, "rbac")
    return "rbac"


@pytest.mark.parametrize(
    ("verb", "resource", "group"),
    [
        ("get", "pods", ""),
        ("list", "pods", ""),
        ("list", "nodes", ""),
        ("get", "secrets", ""),
        ("get", "configmaps", ""),
        ("list", "daemonsets", "apps"),
        ("create", "podmonitors", "monitoring.coreos.com"),
        ("get", "nodes/proxy", ""),
    ],
)
def test_the_chart_service_account_can_do_nothing_with_the_api(
    kube: Client, rbac_release: str, verb: str, resource: str, group: str
) -> None:
    """The chart grants no Role: its ServiceAccount may do no more than any authenticated user."""
    ns = rbac_release
    name, _, sub = resource.partition("/")
    review = SubjectAccessReview(
        spec=SubjectAccessReviewSpec(
            user=f"system:serviceaccount:{ns}:{RELEASE}",
            groups=["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"],
            resourceAttributes=ResourceAttributes(
                namespace=ns, verb=verb, resource=name, subresource=sub or None, group=group
            ),
        )
    )
    result = kube.create(review)
    assert result.status and not result.status.allowed, (verb, resource)


def test_the_chart_service_account_may_discover_the_api_like_any_user(kube: Client, rbac_release: str) -> None:
    """The check above is not vacuous: the same review allows what every authenticated user may."""
    review = SubjectAccessReview(
        spec=SubjectAccessReviewSpec(
            user=f"system:serviceaccount:{rbac_release}:{RELEASE}",
            groups=["system:serviceaccounts", "system:authenticated"],
            nonResourceAttributes=NonResourceAttributes(path="/version", verb="get"),
        )
    )
    result = kube.create(review)
    assert result.status and result.status.allowed
