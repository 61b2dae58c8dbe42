"""On a GKE-like API server, which keeps the system-* priority classes to kube-system: the exporter's
pods (priorityClassName system-node-critical) are admitted in the release's namespace only through
the ResourceQuota the chart renders for them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from lightkube import Client
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace, Pod

from inferwatch.localstack.kube import GKE_LIKE_ADMISSION, KubeCluster
from inferwatch.localstack.processes import ProcessGroup, wait_for
from inferwatch.tools import Toolbox
from tests.k8s.conftest import PSA
from tests.k8s.support import CHART, add_gpu_node, events, helm_ok, messages

# No operator: this cluster has no CRDs (they cost ~25 s to load, and the point here is the pods).
PLAIN = ("--set", "monitoring.operator=false")


@pytest.fixture(scope="module")
def gke_like(k8s_tools: Toolbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KubeCluster, Client]]:
    workdir = tmp_path_factory.mktemp("gke-like")
    with ProcessGroup(workdir / "logs", grace_s=10) as group:
        cluster = KubeCluster.start(group, k8s_tools, workdir, admission_config=GKE_LIKE_ADMISSION)
        cluster.start_controller_manager()
        kube = cluster.client()
        add_gpu_node(kube, "gpu-node-gke")
        yield cluster, kube


def _namespace(kube: Client, name: str) -> str:
    kube.create(Namespace(metadata=ObjectMeta(name=name, labels={PSA: "privileged"})))
    return name


def test_without_the_quota_no_exporter_pod_is_ever_admitted(gke_like: tuple[KubeCluster, Client]) -> None:
    """The finding, as a user on GKE met it: helm says deployed, the DaemonSet makes no pod."""
    cluster, kube = gke_like
    ns = _namespace(kube, "no-quota")
    out = helm_ok(cluster, "install", "inferwatch", str(CHART), "-n", ns, *PLAIN,
                  "--set", "exporter.priorityClassQuota=false")  # fmt: skip
    assert "STATUS: deployed" in out
    found = wait_for(lambda: events(kube, ns, "FailedCreate"), "FailedCreate", timeout=60)
    assert "insufficient quota to match these scopes" in messages(found)
    assert not list(kube.list(Pod, namespace=ns))


def test_the_charts_quota_admits_the_exporter(gke_like: tuple[KubeCluster, Client]) -> None:
    cluster, kube = gke_like
    ns = _namespace(kube, "with-quota")
    helm_ok(cluster, "install", "inferwatch", str(CHART), "-n", ns, *PLAIN)
    pods = wait_for(lambda: list(kube.list(Pod, namespace=ns)), "the exporter pod", timeout=60)
    assert pods[0].spec and pods[0].spec.priorityClassName == "system-node-critical"
