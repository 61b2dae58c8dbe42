"""The chart installed for real with helm on the test API server: every CI values file, an upgrade path,
Pod Security Admission as docs/deploy.md tells users to set it, the ServiceAccount's RBAC, API errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from lightkube import Client
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.authorization_v1 import NonResourceAttributes, ResourceAttributes, SubjectAccessReviewSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import DaemonSet
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


@pytest.mark.parametrize("values", CI_VALUES, ids=[v.name.removesuffix("-values.yaml") for v in CI_VALUES])
def test_every_ci_values_file_installs(
    kube_cluster: KubeCluster, kube: Client, namespace: NamespaceMaker, gpu_node: str, values: Path
) -> None:
    ns = namespace(values.name.removesuffix("-values.yaml"), psa="privileged")
    out = _install(kube_cluster, ns, "-f", str(values))
    assert "STATUS: deployed" in out
    settings = yaml.safe_load(values.read_text()) or {}
    operator = settings.get("monitoring", {}).get("operator", True)
    assert kube.get(DaemonSet, f"{RELEASE}-exporter", namespace=ns)
    assert kube.get(Service, f"{RELEASE}-exporter", namespace=ns)
    assert kube.get(CronJob, f"{RELEASE}-cost-report", namespace=ns)
    rules = list(kube.list(PrometheusRule, namespace=ns))
    monitors = list(kube.list(ServiceMonitor, namespace=ns))
    if operator:
        assert len(rules) == 5 and len(monitors) == 1
    else:
        assert not rules and not monitors
        assert kube.get(ConfigMap, f"{RELEASE}-rules", namespace=ns)
    # the DaemonSet controller made the exporter's pod for the GPU node: admitted
    (pod,) = _wait_exporter_pod(kube, ns)
    assert pod.spec and pod.spec.affinity  # pinned to the node through node affinity
    assert not events(kube, ns, "FailedCreate")


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
    kube.delete(Pod, pod.metadata.name if pod.metadata else "", namespace=ns)
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
