"""The cluster fixture itself: a real API server of the pinned version, our CRDs served, nothing left behind."""

from __future__ import annotations

import os
from pathlib import Path

from lightkube import Client
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.core_v1 import ServiceAccount

from inferwatch.localstack.kube import KubeCluster
from inferwatch.localstack.processes import ProcessGroup, wait_for
from inferwatch.tools import Toolbox
from tests.k8s.conftest import NamespaceMaker

KUBERNETES = "v1.37.2"


def _listening_sockets(pid: int) -> set[str]:
    """Local addresses pid's sockets listen on (from /proc/net/tcp*, matched by the socket inodes)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    out = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] == "0A" and cols[9] in inodes:  # 0A: LISTEN
                out.add(cols[1].split(":")[0])
    return out


def test_api_server_is_the_pinned_version_and_serves_our_crds(kube_cluster: KubeCluster, kube: Client) -> None:
    assert kube_cluster.version() == KUBERNETES
    names = {c.metadata.name for c in kube.list(CustomResourceDefinition) if c.metadata}
    for crd in (
        "servicemonitors.monitoring.coreos.com",
        "podmonitors.monitoring.coreos.com",
        "prometheusrules.monitoring.coreos.com",
        "prometheuses.monitoring.coreos.com",
        "inferenceservices.serving.kserve.io",
        "llminferenceservices.serving.kserve.io",
        "scaledobjects.keda.sh",
    ):
        assert crd in names


def test_controller_manager_gives_new_namespaces_their_default_service_account(
    kube: Client, namespace: NamespaceMaker
) -> None:
    ns = namespace()

    def has_default() -> bool:
        return any(sa.metadata and sa.metadata.name == "default" for sa in kube.list(ServiceAccount, namespace=ns))

    wait_for(has_default, "the default ServiceAccount", timeout=30)


def test_control_plane_listens_on_loopback_only(kube_cluster: KubeCluster, k8s_group: ProcessGroup) -> None:
    for mp in k8s_group.processes:
        if mp.name in ("kine", "kube-apiserver", "kube-controller-manager"):
            addresses = _listening_sockets(mp.proc.pid)
            assert addresses, mp.name
            # /proc/net/tcp writes 127.0.0.1 as 0100007F; 0.0.0.0 as 00000000
            assert addresses <= {"0100007F"}, (mp.name, addresses)


def test_a_stopped_cluster_leaves_nothing_running(k8s_tools: Toolbox, tmp_path: Path) -> None:
    with ProcessGroup(tmp_path / "logs", grace_s=10) as group:
        cluster = KubeCluster.start(group, k8s_tools, tmp_path / "kube")
        assert cluster.version() == KUBERNETES
        pids = group.pids()
        assert len(pids) == 2
    assert not [p for p in pids if Path(f"/proc/{p}").exists()]
