"""The Kubernetes tier's fixtures: one real control plane per test session, shared by every module.

`kube_cluster` starts kine + kube-apiserver + kube-controller-manager (inferwatch.localstack.kube)
with the CRDs inferwatch depends on (the bundled prometheus-operator, KServe and KEDA ones, plus the
operator's own other kinds) Established; `prometheus_operator` adds prometheus-operator on first
use. Tests isolate themselves by namespace (`namespace`), not by cluster: a cluster costs ~30 s
(most of it the KServe CRDs), a namespace nothing. Everything is stopped at the session's end.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
from lightkube import Client
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

from inferwatch.localstack.kube import KubeCluster, cluster_crd_files
from inferwatch.localstack.processes import ManagedProcess, ProcessGroup
from inferwatch.tools import Toolbox

K8S_TOOLS = ("kine", "kube-apiserver", "kube-controller-manager", "prometheus-operator")

# pod-security.kubernetes.io/enforce=<level>, the labels docs/deploy.md tells users to set.
PSA = "pod-security.kubernetes.io/enforce"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this folder is of the k8s tier (`pytest -m k8s`), marked or not."""
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here):
            item.add_marker(pytest.mark.k8s)


@pytest.fixture(scope="session")
def k8s_tools(tools: Toolbox) -> Toolbox:
    """The toolchain with the Kubernetes tier's binaries (scripts/install-k8s-tools.sh); fails without."""
    missing = [t for t in K8S_TOOLS if not tools.find(t)]
    if missing:
        pytest.fail(f"missing {missing}: run `make k8s-tools` (scripts/install-k8s-tools.sh)")
    return tools


@pytest.fixture(scope="session")
def k8s_group(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessGroup]:
    """The session's process group for the control plane and everything the tests run against it."""
    with ProcessGroup(tmp_path_factory.mktemp("k8s-logs"), grace_s=10) as group:
        yield group


@pytest.fixture(scope="session")
def kube_cluster(k8s_tools: Toolbox, k8s_group: ProcessGroup, tmp_path_factory: pytest.TempPathFactory) -> KubeCluster:
    """kube-apiserver (on kine) + kube-controller-manager, with the CRDs we depend on, for the session."""
    cluster = KubeCluster.start(k8s_group, k8s_tools, tmp_path_factory.mktemp("kube"))
    cluster.install_crds(cluster_crd_files(k8s_tools))
    cluster.start_controller_manager()
    return cluster


@pytest.fixture(scope="session")
def kube(kube_cluster: KubeCluster) -> Client:
    """An admin lightkube client of the session's cluster."""
    return kube_cluster.client()


@pytest.fixture(scope="session")
def prometheus_operator(kube_cluster: KubeCluster) -> ManagedProcess:
    """prometheus-operator watching the session's cluster (all namespaces)."""
    return kube_cluster.start_prometheus_operator()


_names = itertools.count(1)

NamespaceMaker = Callable[..., str]


@pytest.fixture
def namespace(kube: Client, request: pytest.FixtureRequest) -> NamespaceMaker:
    """``namespace(prefix=?, psa=?, labels=?)`` creates a fresh namespace (a unique name from the test's),
    with ``pod-security.kubernetes.io/enforce=<psa>`` when given; returns its name."""

    def make(prefix: str = "", *, psa: str | None = None, labels: Mapping[str, str] | None = None) -> str:
        base = (prefix or request.node.name.removeprefix("test_")).lower()
        base = "".join(ch if ch.isalnum() else "-" for ch in base)[:40].strip("-")
        name = f"{base}-{next(_names)}"
        all_labels = dict(labels or {})
        if psa:
            all_labels[PSA] = psa
        kube.create(Namespace(metadata=ObjectMeta(name=name, labels=all_labels)))
        return name

    return make
